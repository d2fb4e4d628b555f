# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a machine needs to reach registries from a corporate network, as files in its OS: the CA
certificates it trusts, the proxy podman and its containers use, registry mirrors and settings.

Pure: the options checked (each refusal names the field and the fix, and never shows a key or a
password), the host's address as the machine reaches it, and each file's content per OS family.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError

if TYPE_CHECKING:
    from typing import Any


class SettingsError(MachinistError):
    """An option of podman_machine_network that cannot be placed as given."""


# Every file the collection places starts with this name: what it placed is what it may change or remove.
PREFIX = 'machinist-podman-'

# Where each OS family takes trust anchors, and the program that rebuilds its bundle from them.
# Fedora CoreOS, podman's machine-os and the WSL Fedora image are the fedora family; the images
# built from Debian packages (and Ubuntu) the debian one.
FAMILIES = {
    'debian': {'ca_dir': '/usr/local/share/ca-certificates', 'ca_suffix': '.crt',
               'ca_update': 'update-ca-certificates'},
    'fedora': {'ca_dir': '/etc/pki/ca-trust/source/anchors', 'ca_suffix': '.pem', 'ca_update': 'update-ca-trust'},
}
_FEDORA_IDS = ('fedora', 'rhel', 'centos', 'rocky', 'almalinux')

# podman (and the service that answers its API) reads its proxy from containers.conf's [engine] env,
# and hands it to the containers it starts ([containers] http_proxy, true by default). The units that
# run podman's API get it too, for what runs before podman reads its configuration.
PROXY_CONF = '/etc/containers/containers.conf.d/50-%sproxy.conf' % PREFIX
PROXY_UNITS = ('/etc/systemd/system/podman.service.d/50-%sproxy.conf' % PREFIX,
               '/etc/systemd/user/podman.service.d/50-%sproxy.conf' % PREFIX)
REGISTRIES_CONF = '/etc/containers/registries.conf.d/50-%sregistries.conf' % PREFIX

# The files of each setting, as globs the probe lists (the CA ones depend on the family).
KINDS = ('ca_certificates', 'proxy', 'registries')

# Where the machine reaches the host that runs it: gvproxy's gateway for every provider that networks
# through gvproxy (and WSL with user_mode_networking); a WSL machine's own default route otherwise.
GVPROXY_HOST = '192.168.127.254'
_LOOPBACK_NAMES = ('localhost', 'localhost.localdomain', 'ip6-localhost', '::1')

# Certificates and settings travel in one SSH command line: a bound, well under Linux's 128 KiB per argument.
MAX_CONTENT = 96 * 1024

_PEM_BLOCK = re.compile(r'-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----', re.S)
_REGISTRY = re.compile(r'^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[A-Za-z0-9._/-]+)?$')


def family_of(os_release: dict[str, str]) -> str:
    """'debian' or 'fedora', from /etc/os-release's ID and ID_LIKE."""
    ids = [os_release.get('ID', '')] + os_release.get('ID_LIKE', '').split()
    if any(i in ('debian', 'ubuntu') for i in ids):
        return 'debian'
    if any(i in _FEDORA_IDS for i in ids):
        return 'fedora'
    raise SettingsError('the machine runs %s, whose way to trust CA certificates this module does not know: it places '
                        'files on Fedora CoreOS, machine-os and Fedora (update-ca-trust) and on Debian-based images '
                        '(update-ca-certificates)' % (os_release.get('PRETTY_NAME') or os_release.get('ID') or 'an OS '
                                                      'without /etc/os-release'))


def parse_os_release(text: str) -> dict[str, str]:
    out = {}
    for line in (text or '').splitlines():
        key, sep, value = line.partition('=')
        if sep and re.match(r'^[A-Z_]+$', key):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'':
                value = value[1:-1]
            out[key] = value
    return out


# -- CA certificates ---------------------------------------------------------------------------------

def certificates(field: str, text: str) -> list[dict[str, str]]:
    """The certificates of one PEM text ({'pem', 'fingerprint'}, each normalised), or a refusal that names
    `field` and never shows the text (it may be a private key)."""
    blocks = _PEM_BLOCK.findall(text or '')
    if not blocks:
        raise SettingsError('%s is not PEM: no -----BEGIN CERTIFICATE----- block. Give the CA certificate in PEM form '
                            '(its text, or the path of a .pem or .crt file on the host that runs podman)' % field)
    out = []
    for label, body in blocks:
        if label != 'CERTIFICATE':
            what = 'a private key' if 'PRIVATE KEY' in label else 'a %s' % label.lower()
            raise SettingsError('%s holds %s, not a certificate: give the CA certificate only (-----BEGIN CERTIFICATE'
                                '-----). Nothing of it is shown here' % (field, what))
        try:
            der = base64.b64decode(re.sub(r'\s+', '', body), validate=True)
        except (binascii.Error, ValueError):
            der = b''
        # A certificate is a DER SEQUENCE.
        if len(der) < 64 or der[0] != 0x30:
            raise SettingsError('%s: a CERTIFICATE block whose content is not a DER certificate (damaged or cut '
                                'short?). Give the CA certificate as its issuer sent it' % field)
        b64 = base64.b64encode(der).decode('ascii')
        pem = '-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n' % '\n'.join(
            b64[i:i + 64] for i in range(0, len(b64), 64))
        out.append({'pem': pem, 'fingerprint': hashlib.sha256(der).hexdigest()})
    return out


def looks_like_pem(value: str) -> bool:
    return '-----BEGIN ' in value


def ca_files(certs: list[dict[str, str]], family: str) -> dict[str, str]:
    """{path: PEM} for the certificates, one file each, named by its SHA-256 fingerprint."""
    fam = FAMILIES[family]
    files = {}
    for cert in certs:
        files['%s/%s%s%s' % (fam['ca_dir'], PREFIX, cert['fingerprint'][:16], fam['ca_suffix'])] = cert['pem']
    return files


def ca_glob(family: str) -> str:
    fam = FAMILIES[family]
    return '%s/%s*%s' % (fam['ca_dir'], PREFIX, fam['ca_suffix'])


# -- proxy ---------------------------------------------------------------------------------------------

def host_address(provider: str | None, user_mode_networking: bool | None, gateway: str | None) -> str | None:
    """The address at which the machine reaches the host that runs podman."""
    if provider == 'wsl' and not user_mode_networking:
        return gateway or None
    return GVPROXY_HOST


def is_loopback(host: str) -> bool:
    return host.lower() in _LOOPBACK_NAMES or re.match(r'^127\.\d+\.\d+\.\d+$', host) is not None


def rewrite_loopback(url_or_host: str, address: str | None) -> str:
    """A URL (or HOST[:PORT][/PATH]) whose host is this host's loopback, pointed at `address`, the host as the
    machine reaches it: inside the machine, 127.0.0.1 is the machine itself. Anything else as it is."""
    has_scheme = '://' in url_or_host
    parts = urlsplit(url_or_host if has_scheme else '//' + url_or_host)
    host = parts.hostname or ''
    if not address or not is_loopback(host):
        return url_or_host
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition('@')
    port = ':%d' % parts.port if parts.port is not None else ''
    new_host = '[%s]' % address if ':' in address else address
    netloc = '%s%s%s%s' % (userinfo, at, new_host, port)
    rebuilt = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return rebuilt if has_scheme else rebuilt[2:]


def redact(url: str) -> str:
    """The URL with any password replaced: what every output shows of a proxy URL."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    hostport = parts.netloc.rpartition('@')[2]
    user = parts.username or ''
    netloc = '%s:********@%s' % (user, hostport) if parts.password is not None else '%s@%s' % (user, hostport)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def check_proxy_url(field: str, url: str) -> str:
    url = (url or '').strip()
    if not url:
        raise SettingsError('%s is empty: give the proxy as http://HOST:PORT, or leave the field out' % field)
    shown = redact(url) if '://' in url else '(a value without scheme)'
    if not re.match(r'^[A-Za-z][A-Za-z0-9+.-]*://', url):
        raise SettingsError('%s has no scheme: write it as http://HOST:PORT (or https://, socks5://), as podman and '
                            'curl read it' % field)
    scheme = url.split('://', 1)[0].lower()
    if scheme not in ('http', 'https', 'socks5', 'socks5h'):
        raise SettingsError('%s=%s: the scheme %s is not one podman takes for a proxy; use http, https, socks5 or '
                            'socks5h' % (field, shown, scheme))
    if re.search(r'[\s"\'\\`$]', url):
        raise SettingsError('%s=%s holds a space, a quote, a backslash, a backtick or a dollar sign: percent-encode '
                            'them (a password with @ is written %%40)' % (field, shown))
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise SettingsError('%s=%s: the port is not a number from 1 to 65535' % (field, shown))
    if not parts.hostname:
        raise SettingsError('%s=%s names no host: write it as %s://HOST:PORT' % (field, shown, scheme))
    return url


def check_proxy(proxy: dict[str, Any]) -> dict[str, Any]:
    """proxy as given, checked: {'http', 'https', 'no_proxy': [..]}; {} removes the proxy."""
    known = ('http', 'https', 'no_proxy')
    unknown = sorted(set(proxy) - set(known))
    if unknown:
        raise SettingsError('proxy.%s is not a field: the fields are http, https and no_proxy' % unknown[0])
    out: dict[str, Any] = {}
    for key in ('http', 'https'):
        if proxy.get(key) not in (None, ''):
            out[key] = check_proxy_url('proxy.%s' % key, proxy[key])
    no_proxy = proxy.get('no_proxy') or []
    if isinstance(no_proxy, str):
        no_proxy = [h for h in re.split(r'[,\s]+', no_proxy) if h]
    for i, host in enumerate(no_proxy):
        if not isinstance(host, str) or not re.match(r'^[A-Za-z0-9.*:/_\[\]-]+$', host):
            raise SettingsError('proxy.no_proxy[%d]=%r is not a host, a domain (.example.com), an address or a CIDR '
                                'range' % (i, host))
    if no_proxy and not out:
        raise SettingsError('proxy.no_proxy is set but neither proxy.http nor proxy.https: give the proxy too, or '
                            'leave proxy empty to remove it')
    if out:
        out['no_proxy'] = list(no_proxy)
    return out


def proxy_environment(proxy: dict[str, Any], address: str | None) -> list[tuple[str, str]]:
    """The variables, in both cases (tools read one or the other), with loopback rewritten."""
    env = []
    for key in ('http', 'https'):
        if key in proxy:
            value = rewrite_loopback(proxy[key], address)
            env += [('%s_proxy' % key, value), ('%s_PROXY' % key.upper(), value)]
    if proxy.get('no_proxy'):
        value = ','.join(proxy['no_proxy'])
        env += [('no_proxy', value), ('NO_PROXY', value)]
    return env


def _toml_string(value: str) -> str:
    return '"%s"' % value.replace('\\', '\\\\').replace('"', '\\"')


def proxy_files(proxy: dict[str, Any], address: str | None) -> dict[str, str]:
    if not proxy:
        return {}
    env = proxy_environment(proxy, address)
    head = '# Placed by machinist.podman (podman_machine_network): the proxy of podman and its containers.\n'
    conf = head + '[engine]\nenv = [\n%s]\n' % ''.join('  %s,\n' % _toml_string('%s=%s' % kv) for kv in env)
    # systemd: a % is a specifier (%% is one %); the URL was refused if it held a quote or a backslash.
    unit = head + '[Service]\n%s' % ''.join('Environment="%s=%s"\n' % (k, v.replace('%', '%%')) for k, v in env)
    files = {PROXY_CONF: conf}
    files.update((path, unit) for path in PROXY_UNITS)
    return files


# -- registries ----------------------------------------------------------------------------------------

def _check_registry(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError('%s is empty: give a registry as HOST[:PORT][/PATH]' % field)
    value = value.strip()
    if '://' in value:
        raise SettingsError('%s=%s: give HOST[:PORT][/PATH] without a scheme (registries.conf has none; TLS or not '
                            'is said by insecure)' % (field, value))
    if not _REGISTRY.match(value):
        raise SettingsError('%s=%s is not a registry name: give HOST[:PORT][/PATH] (a leading *. for every '
                            'subdomain)' % (field, value))
    return value


def check_registries(registries: dict[str, Any]) -> dict[str, Any]:
    """registries as given, checked: {'mirrors': {prefix: [{'location', 'insecure'}]}, 'insecure': [..],
    'blocked': [..], 'search': [..]}; {} removes the drop-in."""
    known = ('mirrors', 'insecure', 'blocked', 'search')
    unknown = sorted(set(registries) - set(known))
    if unknown:
        raise SettingsError('registries.%s is not a field: the fields are mirrors, insecure, blocked and search'
                            % unknown[0])
    mirrors = registries.get('mirrors') or {}
    if not isinstance(mirrors, dict):
        raise SettingsError('registries.mirrors must map a registry to its mirrors, as {"docker.io": '
                            '["mirror.example.com:5000"]}')
    out: dict[str, Any] = {'mirrors': {}}
    for prefix in sorted(mirrors):
        name = _check_registry('registries.mirrors key', prefix)
        given = mirrors[prefix]
        if isinstance(given, (str, dict)):
            given = [given]
        if not given:
            raise SettingsError('registries.mirrors[%s] lists no mirror: give at least one location, or leave the '
                                'registry out' % prefix)
        entries = []
        for i, m in enumerate(given):
            where = 'registries.mirrors[%s][%d]' % (prefix, i)
            if isinstance(m, dict):
                extra = sorted(set(m) - {'location', 'insecure'})
                if extra:
                    raise SettingsError('%s.%s is not a field: a mirror has location and insecure' % (where, extra[0]))
                if not m.get('location'):
                    raise SettingsError('%s: a mirror needs a location (HOST[:PORT][/PATH])' % where)
                entries.append({'location': _check_registry(where + '.location', m['location']),
                                'insecure': bool(m.get('insecure', False))})
            else:
                entries.append({'location': _check_registry(where, m), 'insecure': False})
        out['mirrors'][name] = entries
    for key in ('insecure', 'blocked', 'search'):
        values = registries.get(key) or []
        if isinstance(values, str):
            values = [values]
        out[key] = [_check_registry('registries.%s[%d]' % (key, i), v) for i, v in enumerate(values)]
    for name in out['search']:
        if name.startswith('*.') or '/' in name:
            raise SettingsError('registries.search: %s is not a registry host; search registries are HOST[:PORT]'
                                % name)
    if not any(out[k] for k in known):
        return {}
    return out


def registries_files(registries: dict[str, Any], address: str | None) -> dict[str, str]:
    if not registries:
        return {}
    lines = ['# Placed by machinist.podman (podman_machine_network): registry mirrors and settings.']
    if registries['search']:
        lines.append('unqualified-search-registries = [%s]' % ', '.join(_toml_string(s) for s in registries['search']))
    prefixes = sorted(set(registries['mirrors']) | set(registries['insecure']) | set(registries['blocked']))
    for prefix in prefixes:
        lines += ['', '[[registry]]', 'prefix = %s' % _toml_string(prefix)]
        # containers/image refuses a [[registry]] without location unless its prefix is a *.domain wildcard
        # (seen with podman 6.1.1: "invalid condition: location is unset and prefix is not in the format").
        if not prefix.startswith('*.'):
            lines.append('location = %s' % _toml_string(prefix))
        if prefix in registries['insecure']:
            lines.append('insecure = true')
        if prefix in registries['blocked']:
            lines.append('blocked = true')
        for m in registries['mirrors'].get(prefix, []):
            lines += ['', '[[registry.mirror]]', 'location = %s' % _toml_string(rewrite_loopback(m['location'], address))]
            if m['insecure']:
                lines.append('insecure = true')
    return {REGISTRIES_CONF: '\n'.join(lines) + '\n'}


# -- all of it -----------------------------------------------------------------------------------------

def managed_globs(family: str) -> dict[str, list[str]]:
    """{kind: [paths or globs]}: what the collection may have placed for each setting."""
    return {'ca_certificates': [ca_glob(family)], 'proxy': [PROXY_CONF] + list(PROXY_UNITS),
            'registries': [REGISTRIES_CONF]}


def kind_of(path: str, family: str) -> str | None:
    fam = FAMILIES[family]
    if path.startswith(fam['ca_dir'] + '/' + PREFIX) and path.endswith(fam['ca_suffix']):
        return 'ca_certificates'
    if path == PROXY_CONF or path in PROXY_UNITS:
        return 'proxy'
    if path == REGISTRIES_CONF:
        return 'registries'
    return None


def wanted_files(settings: dict[str, Any], family: str, address: str | None) -> dict[str, dict[str, str]]:
    """{kind: {path: content}} for each declared setting (an undeclared one is left as it is)."""
    out: dict[str, dict[str, str]] = {}
    if settings.get('ca_certificates') is not None:
        out['ca_certificates'] = ca_files(settings['ca_certificates'], family)
    if settings.get('proxy') is not None:
        out['proxy'] = proxy_files(settings['proxy'], address)
    if settings.get('registries') is not None:
        out['registries'] = registries_files(settings['registries'], address)
    size = sum(len(c) for files in out.values() for c in files.values())
    if size > MAX_CONTENT:
        raise SettingsError('ca_certificates, proxy and registries come to %d bytes, more than the %d this module sends '
                            'to a machine in one go: give only the CA certificates the machine needs'
                            % (size, MAX_CONTENT))
    return out


def shown(path: str, content: str | None) -> str | None:
    """A file's content as outputs show it: proxy passwords replaced."""
    if content is None or (path != PROXY_CONF and path not in PROXY_UNITS):
        return content
    return re.sub(r'(://[^:/@\s"]*):[^@\s"]*@', r'\1:********@', content)

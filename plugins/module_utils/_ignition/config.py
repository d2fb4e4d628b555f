# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ignition configs (spec 3.0.0 to 3.5.0) from Ansible-friendly options: checked, encoded, and
merged over a base config such as the one `podman machine init` generated.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

- Every option is checked before anything is built, and each error names the field
  (`files[2].mode`) and the fix.
- A field the chosen spec lacks is refused with the spec that has it (FIELD_SPECS). Unset
  `spec_version` picks the lowest spec that has every field used, and never lower than 3.2.0
  (what podman generates) or than the base config's.
- Contents become data URLs: the shortest of percent-encoded, base64, and gzip+base64 (with
  `compression: gzip`), as Butane does.
- Merging over a base keeps everything of the base that the options do not name: podman's users
  and SSH keys, its ready unit, its socket links. Users of the same name get the union of SSH
  keys and groups; a file, directory, link or unit of the same path or name is replaced.
- What is returned or shown in a diff has every password hash and the credentials of each proxy URL
  masked (masked, mask_text), wherever they came from: the options, the base config, or the old
  file at dest.
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
import re

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    from urllib import quote

MASK = '********'

SPECS = ('3.0.0', '3.1.0', '3.2.0', '3.3.0', '3.4.0', '3.5.0')
FLOOR = '3.2.0'

# The first spec with each field this module can write (ignition docs/migrating-configs.md).
FIELD_SPECS = {
    'proxy': '3.1.0',
    'sha256 hashes': '3.1.0',
    'http_headers': '3.1.0',
    'compressed merge, replace and tls_cas sources': '3.1.0',
    'should_exist': '3.2.0',
    'gs:// sources': '3.2.0',
    'kernel_arguments': '3.3.0',
    'arn: sources': '3.4.0',
}

SCHEMES = {'http': '3.0.0', 'https': '3.0.0', 'tftp': '3.0.0', 's3': '3.0.0', 'data': '3.0.0', 'gs': '3.2.0',
           'arn': '3.4.0'}


class IgnitionError(MachinistError, ValueError):
    pass


def _v(version):
    return tuple(int(p) for p in version.split('.'))


def _need(needs, feature, field):
    needs.append((FIELD_SPECS[feature], '%s (%s)' % (field, feature)))


def _path(value, field):
    if not isinstance(value, str) or not value.startswith('/'):
        raise IgnitionError('%s: %r must be an absolute path' % (field, value))
    if '//' in value or '/../' in value or value.endswith('/..') or '/./' in value:
        raise IgnitionError('%s: %r must be a clean absolute path (no //, . or .. parts)' % (field, value))
    return value.rstrip('/') or '/'


def _mode(value, field, default):
    if value is None:
        return default
    if not isinstance(value, str):
        raise IgnitionError('%s: %r must be an octal string such as "0644" or "0755": quote it in YAML, where an '
                            'unquoted 0644 is read as the number 420' % (field, value))
    text = value
    if not re.fullmatch(r'0?[0-7]{3,4}', text):
        raise IgnitionError('%s: %r must be an octal string such as "0644" or "0755" (quote it in YAML, or it is '
                            'read as a decimal number)' % (field, value))
    mode = int(text, 8)
    if mode > 0o7777:
        raise IgnitionError('%s: %s is out of range (0000-7777)' % (field, text))
    return mode


def _owner(value, field):
    if value is None:
        return None
    if isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r'[0-9]+', value)):
        return {'id': int(value)}
    if not isinstance(value, str) or not re.fullmatch(r'[a-z_][a-z0-9_.-]*\$?', value):
        raise IgnitionError('%s: %r is neither a user/group name nor a numeric id' % (field, value))
    return {'name': value}


def _hash(value, field, needs):
    if value is None:
        return None
    m = re.fullmatch(r'(sha512|sha256)-([0-9a-f]+)', str(value))
    if not m or len(m.group(2)) != {'sha512': 128, 'sha256': 64}[m.group(1)]:
        raise IgnitionError('%s: %r must be sha512-<128 hex digits> or sha256-<64 hex digits>' % (field, value))
    if m.group(1) == 'sha256':
        _need(needs, 'sha256 hashes', field)
    return value


def _source(url, field, needs):
    scheme = url.split(':', 1)[0] if ':' in url else ''
    if scheme not in SCHEMES:
        raise IgnitionError('%s: %r has no scheme Ignition fetches (%s)' % (field, url, ', '.join(sorted(SCHEMES))))
    if SCHEMES[scheme] == '3.2.0':
        _need(needs, 'gs:// sources', field)
    elif SCHEMES[scheme] == '3.4.0':
        _need(needs, 'arn: sources', field)
    return url


def data_url(content):
    """(source, compression) for bytes: the shortest of percent-encoding, base64, gzip+base64."""
    plain = 'data:,' + quote(content, safe="!$&'()*+,;=:@/?-._~")
    b64 = 'data:;base64,' + base64.b64encode(content).decode('ascii')
    best, compression = (plain, None) if len(plain) <= len(b64) else (b64, None)
    if len(content) > 512:
        gz = 'data:;base64,' + base64.b64encode(gzip.compress(content, mtime=0)).decode('ascii')
        if len(gz) < len(best):
            best, compression = gz, 'gzip'
    return best, compression


def _inline_bytes(item):
    return (item['content'].encode('utf-8') if item.get('content') is not None
            else base64.b64decode(item['content_base64']))


def secret_sources(params):
    """The data URLs the files' inline contents (content, content_base64) become: the encoded form of
    values that are no_log, which the caller masks as it masks the values themselves. An empty content
    is no secret (and its 'data:,' would mask the start of every other data URL)."""
    return [data_url(_inline_bytes(item))[0] for item in params.get('files') or []
            if item.get('content') or item.get('content_base64')]


def _resource(item, field, needs, allow_content=True):
    """contents/append resources: inline content (text or base64 bytes) or a URL with a hash."""
    have = [k for k in ('content', 'content_base64', 'url') if item.get(k) is not None]
    if len(have) > 1:
        names = [{'content_base64': 'src'}.get(k, k) for k in have]
        raise IgnitionError('%s: give one of content, src and url, not %s' % (field, ' and '.join(names)))
    if not have:
        return None
    if item.get('content') is not None or item.get('content_base64') is not None:
        if not allow_content:
            raise IgnitionError('%s: only url here' % field)
        source, compression = data_url(_inline_bytes(item))
        out = {'source': source}
        if compression:
            out['compression'] = compression
        return out
    out = {'source': _source(item['url'], field + '.url', needs)}
    if item.get('hash'):
        out['verification'] = {'hash': _hash(item['hash'], field + '.hash', needs)}
    elif not item['url'].startswith('data:'):
        raise IgnitionError('%s.hash: a url needs the hash of its content (sha512-... or sha256-...), so the machine '
                            'can check what it fetched' % field)
    if item.get('compression'):
        if item['compression'] != 'gzip':
            raise IgnitionError('%s.compression: %r must be gzip (or unset)' % (field, item['compression']))
        out['compression'] = item['compression']
    return out


def _unit_text(text, field):
    """The checks Ignition makes of unit and drop-in contents: sections, then KEY=VALUE lines."""
    section = None
    pending = ''
    for number, raw in enumerate((text or '').split('\n'), 1):
        line = (pending + raw).strip() if pending else raw.strip()
        pending = ''
        if line.endswith('\\') and not line.startswith(('#', ';')):
            pending = line[:-1] + ' '
            continue
        if not line or line.startswith(('#', ';')):
            continue
        if line.startswith('['):
            if not line.endswith(']') or len(line) < 3:
                raise IgnitionError('%s: line %d, %r, opens a section without closing it: write [Section]' % (field, number, raw))
            section = line
            continue
        if section is None:
            raise IgnitionError('%s: line %d, %r, comes before any [Section] header' % (field, number, raw))
        if '=' not in line or not line.split('=', 1)[0].strip():
            raise IgnitionError('%s: line %d, %r, is not KEY=VALUE' % (field, number, raw))
    if pending:
        raise IgnitionError('%s: the last line ends with a backslash that continues nothing' % field)
    return text


def _ownership(entry, item, field):
    """owner, group and overwrite, the same for files, directories and links."""
    for key, opt in (('user', 'owner'), ('group', 'group')):
        owner = _owner(item.get(opt), '%s.%s' % (field, opt))
        if owner:
            entry[key] = owner
    if item.get('overwrite') is not None:
        entry['overwrite'] = item['overwrite']
    return entry


def _no_repeats(values, field):
    """Ignition refuses a list with the same entry twice."""
    seen = set()
    for i, v in enumerate(values):
        if v in seen:
            raise IgnitionError('%s[%d]: %r is listed twice' % (field, i, v))
        seen.add(v)
    return list(values)


def _unique(items, key, field):
    seen = set()
    for i, item in enumerate(items):
        if item[key] in seen:
            raise IgnitionError('%s[%d].%s: %r is declared twice' % (field, i, key, item[key]))
        seen.add(item[key])


def build(params):
    """(config without ignition.version, needs) from the options; needs = [(spec, field)]."""
    needs = []
    out = {}
    users = []
    for i, u in enumerate(params.get('users') or []):
        f = 'users[%d]' % i
        if not u.get('name'):
            raise IgnitionError('%s.name is required' % f)
        user = {'name': u['name']}
        for src, dst in (('password_hash', 'passwordHash'), ('uid', 'uid'), ('gecos', 'gecos'), ('home_dir', 'homeDir'),
                         ('shell', 'shell'), ('primary_group', 'primaryGroup'), ('system', 'system'),
                         ('no_create_home', 'noCreateHome')):
            if u.get(src) is not None:
                user[dst] = u[src]
        if u.get('password_hash') is not None and not str(u['password_hash']).startswith('$'):
            raise IgnitionError('%s.password_hash: give a crypt(3) hash such as "$6$..." (mkpasswd -m sha-512), never '
                                'a clear-text password' % f)
        if u.get('ssh_authorized_keys'):
            for k, key in enumerate(u['ssh_authorized_keys']):
                if not re.match(r'^(ssh-|ecdsa-|sk-)', str(key).strip()):
                    raise IgnitionError('%s.ssh_authorized_keys[%d]: not an OpenSSH public key line' % (f, k))
            user['sshAuthorizedKeys'] = _no_repeats([str(k).strip() for k in u['ssh_authorized_keys']],
                                                    f + '.ssh_authorized_keys')
        if u.get('groups'):
            user['groups'] = _no_repeats(u['groups'], f + '.groups')
        if u.get('should_exist') is not None:
            _need(needs, 'should_exist', f + '.should_exist')
            user['shouldExist'] = u['should_exist']
        users.append(user)
    _unique(users, 'name', 'users')
    groups = []
    for i, g in enumerate(params.get('groups') or []):
        f = 'groups[%d]' % i
        if not g.get('name'):
            raise IgnitionError('%s.name is required' % f)
        group = {'name': g['name']}
        if g.get('gid') is not None:
            group['gid'] = g['gid']
        if g.get('system') is not None:
            group['system'] = g['system']
        if g.get('should_exist') is not None:
            _need(needs, 'should_exist', f + '.should_exist')
            group['shouldExist'] = g['should_exist']
        groups.append(group)
    _unique(groups, 'name', 'groups')
    if users or groups:
        out['passwd'] = {}
        if users:
            out['passwd']['users'] = users
        if groups:
            out['passwd']['groups'] = groups

    storage = {}
    paths = {}

    def claim(path, field):
        if path in paths:
            raise IgnitionError('%s: path %s is already declared by %s; files, directories and links share one '
                                'namespace' % (field, path, paths[path]))
        paths[path] = field

    files = []
    for i, item in enumerate(params.get('files') or []):
        f = 'files[%d]' % i
        path = _path(item.get('path'), f + '.path')
        claim(path, f)
        entry = {'path': path, 'mode': _mode(item.get('mode'), f + '.mode', 0o644)}
        res = _resource(item, f, needs)
        if item.get('append'):
            if res is None:
                raise IgnitionError('%s.append: give the content (or url) to append' % f)
            entry['append'] = [res]
        else:
            entry['contents'] = res or {'source': 'data:,'}
        files.append(_ownership(entry, item, f))
    dirs = []
    for i, item in enumerate(params.get('directories') or []):
        f = 'directories[%d]' % i
        path = _path(item.get('path'), f + '.path')
        claim(path, f)
        dirs.append(_ownership({'path': path, 'mode': _mode(item.get('mode'), f + '.mode', 0o755)}, item, f))
    links = []
    for i, item in enumerate(params.get('links') or []):
        f = 'links[%d]' % i
        path = _path(item.get('path'), f + '.path')
        claim(path, f)
        if not item.get('target'):
            raise IgnitionError('%s.target is required' % f)
        entry = {'path': path, 'target': item['target']}
        if item.get('hard'):
            entry['hard'] = True
            _path(item['target'], f + '.target')
        _ownership(entry, item, f)
        links.append(entry)
    for name, items in (('files', files), ('directories', dirs), ('links', links)):
        if items:
            storage[name] = items
    if storage:
        out['storage'] = storage

    units = []
    for i, item in enumerate(params.get('units') or []):
        f = 'units[%d]' % i
        name = item.get('name') or ''
        if not re.match(r'^[A-Za-z0-9:_.\\@-]+\.(service|socket|target|timer|path|mount|automount|swap|slice|scope|device)$',
                        name):
            raise IgnitionError('%s.name: %r must be a systemd unit name with its suffix, such as "web.service"' % (f, name))
        unit = {'name': name}
        if item.get('contents') is not None:
            unit['contents'] = _unit_text(item['contents'], f + '.contents')
        if item.get('enabled') is not None:
            unit['enabled'] = item['enabled']
        if item.get('mask') is not None:
            unit['mask'] = item['mask']
        dropins = []
        for k, d in enumerate(item.get('dropins') or []):
            if not str(d.get('name', '')).endswith('.conf'):
                raise IgnitionError('%s.dropins[%d].name: %r must end in .conf' % (f, k, d.get('name')))
            dropins.append({'name': d['name'],
                            'contents': _unit_text(d.get('contents', ''), '%s.dropins[%d].contents' % (f, k))})
        _unique(dropins, 'name', f + '.dropins')
        if dropins:
            unit['dropins'] = dropins
        units.append(unit)
    _unique(units, 'name', 'units')
    if units:
        out['systemd'] = {'units': units}

    ka = params.get('kernel_arguments') or {}
    if ka.get('should_exist') or ka.get('should_not_exist'):
        _need(needs, 'kernel_arguments', 'kernel_arguments')
        both = set(ka.get('should_exist') or []) & set(ka.get('should_not_exist') or [])
        if both:
            raise IgnitionError('kernel_arguments: %s both should and should not exist' % ', '.join(sorted(both)))
        pairs = (('shouldExist', ka.get('should_exist')), ('shouldNotExist', ka.get('should_not_exist')))
        out['kernelArguments'] = dict((k, _no_repeats(v, 'kernel_arguments')) for k, v in pairs if v)

    ign = {}
    config = {}
    merge = [_resource(dict(m, content=None), 'merge[%d]' % i, needs) for i, m in enumerate(params.get('merge') or [])]
    if merge:
        config['merge'] = merge
    if params.get('replace'):
        if merge:
            raise IgnitionError('replace: a config cannot both merge and be replaced')
        config['replace'] = _resource(dict(params['replace'], content=None), 'replace', needs)
    for name, res in [('merge[%d]' % i, m) for i, m in enumerate(merge)] + [('replace', config.get('replace'))]:
        if res and res.get('compression'):
            _need(needs, 'compressed merge, replace and tls_cas sources', name + '.compression')
    if config:
        ign['config'] = config
    cas = [_resource(ca, 'tls_cas[%d]' % i, needs) for i, ca in enumerate(params.get('tls_cas') or [])]
    for i, ca in enumerate(cas):
        if ca and ca.get('compression'):
            _need(needs, 'compressed merge, replace and tls_cas sources', 'tls_cas[%d]' % i)
    if cas:
        ign['security'] = {'tls': {'certificateAuthorities': cas}}
    proxy = params.get('proxy') or {}
    if any(proxy.get(k) for k in ('http_proxy', 'https_proxy', 'no_proxy')):
        _need(needs, 'proxy', 'proxy')
        names = (('http_proxy', 'httpProxy'), ('https_proxy', 'httpsProxy'), ('no_proxy', 'noProxy'))
        ign['proxy'] = dict((dst, proxy[src]) for src, dst in names if proxy.get(src))
    if ign:
        out['ignition'] = ign
    return out, needs


def _keyed_merge(base, ours, key):
    """base's entries not named in ours, then ours (a list keyed by `key`)."""
    named = set(e[key] for e in ours)
    return [e for e in base if e.get(key) not in named] + ours


def merge_over(base, ours):
    """Our config over a base one (podman's): keyed lists merged, users' keys and groups united."""
    result = copy.deepcopy(base)
    replaced = []
    bp, op = base.get('passwd', {}), ours.get('passwd', {})
    if op:
        users = []
        by_name = dict((u['name'], u) for u in bp.get('users', []))
        for u in op.get('users', []):
            old = by_name.get(u['name'])
            if old:
                merged = dict(old, **u)
                for k in ('sshAuthorizedKeys', 'groups'):
                    if old.get(k) or u.get(k):
                        merged[k] = list(old.get(k) or []) + [x for x in u.get(k) or [] if x not in (old.get(k) or [])]
                users.append(merged)
            else:
                users.append(u)
        result.setdefault('passwd', {})
        if op.get('users'):
            result['passwd']['users'] = _keyed_merge(bp.get('users', []), users, 'name')
        if op.get('groups'):
            result['passwd']['groups'] = _keyed_merge(bp.get('groups', []), op['groups'], 'name')
    bs, osto = base.get('storage', {}), ours.get('storage', {})
    if osto:
        ours_paths = set(e['path'] for k in ('files', 'directories', 'links') for e in osto.get(k, []))
        result.setdefault('storage', {})
        for k in ('files', 'directories', 'links'):
            kept = []
            for e in bs.get(k, []):
                if e['path'] in ours_paths:
                    replaced.append(e['path'])
                else:
                    kept.append(e)
            if kept or osto.get(k):
                result['storage'][k] = kept + osto.get(k, [])
    if ours.get('systemd'):
        base_units = base.get('systemd', {}).get('units', [])
        replaced.extend(u['name'] for u in base_units if u['name'] in set(x['name'] for x in ours['systemd']['units']))
        result['systemd'] = {'units': _keyed_merge(base_units, ours['systemd']['units'], 'name')}
    if ours.get('kernelArguments'):
        ka = result.setdefault('kernelArguments', {})
        for k, v in ours['kernelArguments'].items():
            ka[k] = list(ka.get(k, [])) + [x for x in v if x not in ka.get(k, [])]
    if ours.get('ignition'):
        ign = result.setdefault('ignition', {})
        for k, v in ours['ignition'].items():
            ign[k] = v
    return result, replaced


def assemble(params, base=None):
    """The full config and the chosen version. Raises IgnitionError naming the field."""
    config, needs = build(params)
    asked = params.get('spec_version')
    if asked is not None and asked not in SPECS:
        raise IgnitionError('spec_version: %r must be one of %s' % (asked, ', '.join(SPECS)))
    floor = FLOOR
    replaced = []
    if base is not None:
        bv = ((base.get('ignition') or {}).get('version') or '')
        if bv not in SPECS:
            raise IgnitionError('base: its ignition.version %r is not a 3.x spec this module knows (%s)' % (bv, ', '.join(SPECS)))
        if asked is not None and _v(asked) < _v(bv):
            raise IgnitionError('spec_version: %s is older than the base config\'s %s; a config cannot be moved to an '
                                'older spec' % (asked, bv))
        floor = max(floor, bv, key=_v)
        config, replaced = merge_over(base, config)
    if asked is not None:
        too_new = [(spec, field) for spec, field in needs if _v(spec) > _v(asked)]
        if too_new:
            spec, field = max(too_new, key=lambda n: _v(n[0]))
            raise IgnitionError('%s needs Ignition spec %s or later, but spec_version is %s: raise spec_version, or '
                                'drop the field' % (field, spec, asked))
        version = asked
    else:
        version = max([floor] + [spec for spec, _field in needs], key=_v)
    config.setdefault('ignition', {})['version'] = version
    return config, version, replaced


def render(config):
    """Canonical JSON text: the same config always gives the same bytes."""
    return json.dumps(config, indent=2, sort_keys=True) + '\n'


def sha512(text):
    return 'sha512-' + hashlib.sha512(text.encode('utf-8')).hexdigest()


def mask_url(url):
    """A URL with its userinfo (the user:password@ before the host) as MASK; the rest as it was."""
    start = url.find('://') + 3 if '://' in url else 0
    authority = re.match(r'[^/?#]*', url[start:]).group(0)
    if '@' not in authority:
        return url
    return url[:start] + MASK + url[start + authority.rindex('@'):]


def masked(config):
    """A copy of a config to return: each user's passwordHash is MASK, and so is the userinfo of each
    proxy URL. The config itself is unchanged."""
    out = copy.deepcopy(config)
    if not isinstance(out, dict):
        return out
    passwd = out.get('passwd')
    for user in (passwd.get('users') or []) if isinstance(passwd, dict) else []:
        if isinstance(user, dict) and user.get('passwordHash') is not None:
            user['passwordHash'] = MASK
    proxy = out.get('ignition').get('proxy') if isinstance(out.get('ignition'), dict) else None
    for key in ('httpProxy', 'httpsProxy') if isinstance(proxy, dict) else ():
        if isinstance(proxy.get(key), str):
            proxy[key] = mask_url(proxy[key])
    return out


_SECRET_FIELD = re.compile(r'("(passwordHash|httpProxy|httpsProxy)"\s*:\s*)("(?:[^"\\]|\\.)*")')


def _mask_field(match):
    if match.group(2) == 'passwordHash':
        return match.group(1) + json.dumps(MASK)
    return match.group(1) + json.dumps(mask_url(json.loads(match.group(3))))


def mask_text(text):
    """The text of a config (such as the old file at dest, for a diff) with its hashes and proxy
    credentials masked and its layout kept. A key written with escapes, which the pattern misses, makes it the rendered masked
    config; a text that is not JSON is masked by the pattern alone."""
    out = _SECRET_FIELD.sub(_mask_field, text)
    try:
        parsed = json.loads(out)
    except ValueError:
        return out
    if masked(parsed) != parsed:
        return render(masked(parsed))
    return out

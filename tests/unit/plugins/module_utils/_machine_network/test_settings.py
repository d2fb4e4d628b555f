# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The corporate-network settings: options checked, the loopback rewrite, each file's content per OS family.
Certificates and keys are made here with the cryptography library (real DER, real PEM); the TOML the module
writes is read back with Python's own TOML parser."""

from __future__ import annotations

import datetime
import hashlib

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._machine_network import settings as s

try:
    import tomllib
except ImportError:  # Python before 3.11
    tomllib = None

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_ca(name='Corp Root CA'):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return pem, key_pem, hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def test_a_certificate_is_normalised_and_named_by_its_fingerprint():
    pem, _key, fingerprint = make_ca()
    messy = 'subject=CN = Corp Root CA\r\n' + pem.replace('\n', '\r\n')
    [cert] = s.certificates('ca_certificates[0]', messy)
    assert cert['fingerprint'] == fingerprint
    assert cert['pem'].startswith('-----BEGIN CERTIFICATE-----\n') and '\r' not in cert['pem']
    assert s.certificates('x', cert['pem']) == [cert]
    files = s.ca_files([cert], 'debian')
    assert list(files) == ['/usr/local/share/ca-certificates/machinist-podman-%s.crt' % fingerprint[:16]]
    assert list(s.ca_files([cert], 'fedora')) == ['/etc/pki/ca-trust/source/anchors/machinist-podman-%s.pem'
                                                  % fingerprint[:16]]


def test_a_bundle_gives_one_file_per_certificate():
    a, _k, fa = make_ca('A')
    b, _k, fb = make_ca('B')
    certs = s.certificates('ca_certificates[0]', a + b)
    assert [c['fingerprint'] for c in certs] == [fa, fb]
    assert len(s.ca_files(certs, 'debian')) == 2


def test_a_private_key_is_refused_without_being_shown():
    pem, key_pem, _f = make_ca()
    with pytest.raises(s.SettingsError, match=r'^ca_certificates\[1\] holds a private key, not a certificate') as e:
        s.certificates('ca_certificates[1]', pem + key_pem)
    body = key_pem.splitlines()[1]
    assert body not in str(e.value) and body[:20] not in str(e.value)


@pytest.mark.parametrize('text, message', [
    ('just some text', r'^ca_certificates\[0\] is not PEM: no -----BEGIN CERTIFICATE----- block'),
    ('-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n',
     r'^ca_certificates\[0\]: a CERTIFICATE block whose content is not a DER certificate'),
    ('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
     r'^ca_certificates\[0\]: a CERTIFICATE block whose content is not a DER certificate'),
])
def test_what_is_not_a_certificate_is_refused(text, message):
    with pytest.raises(s.SettingsError, match=message):
        s.certificates('ca_certificates[0]', text)


@pytest.mark.parametrize('given, address, expected', [
    ('http://127.0.0.1:3128', '192.168.127.254', 'http://192.168.127.254:3128'),
    ('http://localhost:3128/', '192.168.127.254', 'http://192.168.127.254:3128/'),
    ('http://user:p%40ss@127.0.0.2:3128', '192.168.127.254', 'http://user:p%40ss@192.168.127.254:3128'),
    ('http://[::1]:3128', '192.168.127.254', 'http://192.168.127.254:3128'),
    ('http://proxy.corp.example:8080', '192.168.127.254', 'http://proxy.corp.example:8080'),
    ('http://127.0.0.1:3128', None, 'http://127.0.0.1:3128'),
    ('127.0.0.1:5000', '192.168.127.254', '192.168.127.254:5000'),
    ('localhost:5000/mirror/path', '172.20.0.1', '172.20.0.1:5000/mirror/path'),
    ('mirror.corp:5000', '172.20.0.1', 'mirror.corp:5000'),
])
def test_the_hosts_loopback_is_rewritten_to_the_address_the_machine_reaches_it_at(given, address, expected):
    assert s.rewrite_loopback(given, address) == expected


def test_the_host_address_per_provider():
    assert s.host_address('qemu', None, '172.20.0.1') == s.GVPROXY_HOST
    assert s.host_address('applehv', None, None) == s.GVPROXY_HOST
    assert s.host_address('wsl', True, '172.20.0.1') == s.GVPROXY_HOST
    assert s.host_address('wsl', False, '172.20.0.1') == '172.20.0.1'


@pytest.mark.parametrize('url, message', [
    ('proxy.corp:8080', r'^proxy\.http has no scheme: write it as http://HOST:PORT'),
    ('ftp://proxy.corp:21', r'^proxy\.http=ftp://proxy\.corp:21: the scheme ftp is not one podman takes'),
    ('http://proxy.corp:99999', r'^proxy\.http=http://proxy\.corp:99999: the port is not a number'),
    ('http://:3128', r'^proxy\.http=http://:3128 names no host'),
    ('http://u:se"cret@proxy:3128', r'^proxy\.http=http://u:\*{8}@proxy:3128 holds a space, a quote'),
])
def test_a_bad_proxy_url_is_refused_naming_the_field(url, message):
    with pytest.raises(s.SettingsError, match=message) as e:
        s.check_proxy({'http': url})
    assert 'se"cret' not in str(e.value)


def test_proxy_fields_are_checked():
    with pytest.raises(s.SettingsError, match=r'^proxy\.ftp is not a field'):
        s.check_proxy({'ftp': 'http://p:1'})
    with pytest.raises(s.SettingsError, match=r'^proxy\.no_proxy is set but neither proxy\.http nor proxy\.https'):
        s.check_proxy({'no_proxy': ['.corp']})
    assert s.check_proxy({}) == {}
    assert s.check_proxy({'https': 'http://p:1', 'no_proxy': '.corp, 10.0.0.0/8'}) == {
        'https': 'http://p:1', 'no_proxy': ['.corp', '10.0.0.0/8']}


def test_the_proxy_files_podman_and_its_units_read():
    proxy = s.check_proxy({'http': 'http://bob:p%40ss@127.0.0.1:3128', 'https': 'http://proxy.corp:8080',
                           'no_proxy': ['.corp', 'registry.local']})
    files = s.proxy_files(proxy, '192.168.127.254')
    assert sorted(files) == sorted([s.PROXY_CONF] + list(s.PROXY_UNITS))
    if tomllib is not None:
        env = tomllib.loads(files[s.PROXY_CONF])['engine']['env']
        assert env == ['http_proxy=http://bob:p%40ss@192.168.127.254:3128',
                       'HTTP_PROXY=http://bob:p%40ss@192.168.127.254:3128',
                       'https_proxy=http://proxy.corp:8080', 'HTTPS_PROXY=http://proxy.corp:8080',
                       'no_proxy=.corp,registry.local', 'NO_PROXY=.corp,registry.local']
    unit = files[s.PROXY_UNITS[0]]
    assert '[Service]\n' in unit
    # systemd reads % as a specifier: the password's %40 is written %%40.
    assert 'Environment="http_proxy=http://bob:p%%40ss@192.168.127.254:3128"\n' in unit
    assert 'p%40ss' not in s.shown(s.PROXY_CONF, files[s.PROXY_CONF])
    assert 'bob:********@192.168.127.254' in s.shown(s.PROXY_CONF, files[s.PROXY_CONF])
    assert s.proxy_files({}, '192.168.127.254') == {}


def test_registries_checked_and_written_as_registries_conf_reads_them():
    reg = s.check_registries({'mirrors': {'docker.io': ['127.0.0.1:5000', {'location': 'mirror.corp/dockerhub',
                                                                           'insecure': True}]},
                              'insecure': ['registry.lab:5000'], 'blocked': ['quay.io'], 'search': ['docker.io']})
    files = s.registries_files(reg, '192.168.127.254')
    assert list(files) == [s.REGISTRIES_CONF]
    if tomllib is not None:
        conf = tomllib.loads(files[s.REGISTRIES_CONF])
        assert conf['unqualified-search-registries'] == ['docker.io']
        by_prefix = dict((r['prefix'], r) for r in conf['registry'])
        assert by_prefix['docker.io']['mirror'] == [{'location': '192.168.127.254:5000'},
                                                    {'location': 'mirror.corp/dockerhub', 'insecure': True}]
        assert by_prefix['registry.lab:5000'] == {'prefix': 'registry.lab:5000', 'location': 'registry.lab:5000',
                                                  'insecure': True}
        assert by_prefix['quay.io'] == {'prefix': 'quay.io', 'location': 'quay.io', 'blocked': True}
        assert by_prefix['docker.io']['location'] == 'docker.io'
    # A wildcard prefix takes no location (containers/image refuses one).
    wild = s.registries_files(s.check_registries({'blocked': ['*.example.com']}), None)[s.REGISTRIES_CONF]
    assert 'prefix = "*.example.com"\nblocked = true' in wild and 'location' not in wild
    assert s.check_registries({}) == {}
    assert s.check_registries({'mirrors': {}, 'search': []}) == {}


@pytest.mark.parametrize('given, message', [
    ({'mirrors': {'docker.io': [{'insecure': True}]}},
     r'^registries\.mirrors\[docker\.io\]\[0\]: a mirror needs a location'),
    ({'mirrors': {'docker.io': []}}, r'^registries\.mirrors\[docker\.io\] lists no mirror'),
    ({'mirrors': {'docker.io': ['https://mirror.corp']}},
     r'^registries\.mirrors\[docker\.io\]\[0\]=https://mirror\.corp: give HOST\[:PORT\]\[/PATH\] without a scheme'),
    ({'mirrors': ['docker.io']}, r'^registries\.mirrors must map a registry to its mirrors'),
    ({'insecure': ['bad host']}, r'^registries\.insecure\[0\]=bad host is not a registry name'),
    ({'search': ['*.corp']}, r'^registries\.search: \*\.corp is not a registry host'),
    ({'mirror': {}}, r'^registries\.mirror is not a field'),
])
def test_bad_registries_are_refused_naming_the_field(given, message):
    with pytest.raises(s.SettingsError, match=message):
        s.check_registries(given)


@pytest.mark.parametrize('os_release, family', [
    ('ID=debian\nVERSION_ID="12"\n', 'debian'),
    ('ID=ubuntu\nID_LIKE=debian\n', 'debian'),
    ('NAME="Fedora Linux"\nID=fedora\nVARIANT_ID=coreos\n', 'fedora'),
    ('ID="rhel"\nID_LIKE="fedora"\n', 'fedora'),
])
def test_the_os_family(os_release, family):
    assert s.family_of(s.parse_os_release(os_release)) == family


def test_an_unknown_os_is_named():
    with pytest.raises(s.SettingsError, match=r'^the machine runs Alpine Linux v3\.20, whose way to trust CA'):
        s.family_of(s.parse_os_release('ID=alpine\nPRETTY_NAME="Alpine Linux v3.20"\n'))


def test_only_declared_settings_are_managed_and_the_size_is_bounded(monkeypatch):
    pem, _k, _f = make_ca()
    certs = s.certificates('ca_certificates[0]', pem)
    wanted = s.wanted_files({'ca_certificates': certs, 'proxy': None, 'registries': {}}, 'debian', s.GVPROXY_HOST)
    assert sorted(wanted) == ['ca_certificates', 'registries'] and wanted['registries'] == {}
    for path in wanted['ca_certificates']:
        assert s.kind_of(path, 'debian') == 'ca_certificates'
    assert s.kind_of('/usr/local/share/ca-certificates/other.crt', 'debian') is None
    with pytest.raises(s.SettingsError, match=r'^ca_certificates, proxy and registries come to \d+ bytes, more than'):
        monkeypatch.setattr(s, 'MAX_CONTENT', 100)
        s.wanted_files({'ca_certificates': certs}, 'debian', s.GVPROXY_HOST)

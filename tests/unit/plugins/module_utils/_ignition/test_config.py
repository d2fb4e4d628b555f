# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""ignition_config's logic. Every config built here is also checked by the real ignition-validate
(Debian's ignition package, 2.14, which knows specs up to 3.3.0) when it is installed, as
scripts/setup.sh does; configs for 3.4.0 and 3.5.0 are checked as 3.3.0 after our own field table
says they use nothing newer."""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import subprocess
import tempfile

try:
    from urllib.parse import unquote_to_bytes
except ImportError:  # pragma: no cover
    pass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.machinist.podman.plugins.module_utils._ignition import config as I

VALIDATOR = shutil.which('ignition-validate')
REQUIRE_VALIDATOR = os.environ.get('MACHINIST_REQUIRE_IGNITION_VALIDATE') == '1'


def validate(config):
    """Runs the real validator; returns its complaints ('' when valid)."""
    if VALIDATOR is None:
        if REQUIRE_VALIDATOR:
            pytest.fail('ignition-validate is not installed, but MACHINIST_REQUIRE_IGNITION_VALIDATE=1')
        return ''
    check = json.loads(json.dumps(config))
    if I._v(check['ignition']['version']) > I._v('3.3.0'):
        check['ignition']['version'] = '3.3.0'
    with tempfile.NamedTemporaryFile('w', suffix='.ign', delete=False) as f:
        json.dump(check, f)
    try:
        res = subprocess.run([VALIDATOR, f.name], capture_output=True, text=True, check=False)
    finally:
        os.unlink(f.name)
    return (res.stdout + res.stderr).strip() if res.returncode else ''


def decode(source, compression=None):
    if source.startswith('data:;base64,'):
        raw = base64.b64decode(source[len('data:;base64,'):])
    else:
        raw = unquote_to_bytes(source[len('data:,'):])
    return gzip.decompress(raw) if compression == 'gzip' else raw


FULL = {
    'users': [{'name': 'ops', 'groups': ['wheel'], 'ssh_authorized_keys': ['ssh-ed25519 AAAAC3Nza ops@example'],
               'password_hash': '$6$salt$hash', 'shell': '/bin/bash'}],
    'groups': [{'name': 'ops', 'gid': 1500}],
    'files': [{'path': '/etc/motd', 'content': 'hello\n', 'mode': '0644', 'owner': 'root', 'group': '0'},
              {'path': '/var/lib/big', 'content': 'x' * 4000},
              {'path': '/etc/hosts', 'content': '10.0.0.1 db\n', 'append': True},
              {'path': '/opt/tool', 'url': 'https://example.com/tool', 'hash': 'sha512-' + 'a' * 128, 'mode': '0755'}],
    'directories': [{'path': '/srv/data', 'mode': '0750', 'owner': 'ops'}],
    'links': [{'path': '/usr/local/bin/docker', 'target': '/usr/bin/podman'}],
    'units': [{'name': 'web.service', 'enabled': True, 'contents': '[Service]\nExecStart=/bin/true\n',
               'dropins': [{'name': '10-env.conf', 'contents': '[Service]\nEnvironment=A=1\n'}]},
              {'name': 'zincati.service', 'enabled': False}],
}


def test_a_full_config_validates_at_the_floor():
    config, version, replaced = I.assemble(FULL)
    assert version == '3.2.0' and replaced == []
    assert validate(config) == ''
    files = dict((f['path'], f) for f in config['storage']['files'])
    assert files['/etc/motd']['mode'] == 0o644 and files['/etc/motd']['user'] == {'name': 'root'}
    assert files['/etc/motd']['group'] == {'id': 0}
    assert decode(files['/etc/motd']['contents']['source']) == b'hello\n'
    big = files['/var/lib/big']['contents']
    assert big['compression'] == 'gzip' and decode(big['source'], 'gzip') == b'x' * 4000
    assert decode(files['/etc/hosts']['append'][0]['source']) == b'10.0.0.1 db\n'
    assert files['/opt/tool']['contents']['verification']['hash'].startswith('sha512-')


@pytest.mark.parametrize('extra, version', [
    ({'proxy': {'https_proxy': 'http://proxy:3128'}}, '3.2.0'),
    ({'kernel_arguments': {'should_exist': ['mitigations=off']}}, '3.3.0'),
    ({'files': [{'path': '/x', 'url': 'arn:aws:s3:us-east-1:123:accesspoint/a/object/x', 'hash': 'sha256-' + 'b' * 64}]},
     '3.4.0'),
])
def test_the_version_follows_the_fields(extra, version):
    config, got, _x = I.assemble(extra)
    assert got == version
    if I._v(version) <= I._v('3.3.0'):  # the validator here knows nothing newer
        assert validate(config) == ''


@pytest.mark.parametrize('params, says', [
    ({'spec_version': '3.2.0', 'kernel_arguments': {'should_exist': ['a']}},
     'kernel_arguments (kernel_arguments) needs Ignition spec 3.3.0 or later, but spec_version is 3.2.0'),
    ({'spec_version': '3.0.0', 'proxy': {'http_proxy': 'http://p'}}, 'proxy (proxy) needs Ignition spec 3.1.0'),
    ({'spec_version': '3.0.0', 'files': [{'path': '/a', 'url': 'https://x/a', 'hash': 'sha256-' + 'c' * 64}]},
     'files[0].hash (sha256 hashes) needs Ignition spec 3.1.0'),
    ({'spec_version': '3.1.0', 'users': [{'name': 'core', 'should_exist': False}]},
     'users[0].should_exist (should_exist) needs Ignition spec 3.2.0'),
    ({'files': [{'path': 'etc/motd', 'content': ''}]}, "files[0].path: 'etc/motd' must be an absolute path"),
    ({'files': [{'path': '/a/../b', 'content': ''}]}, 'files[0].path: \'/a/../b\' must be a clean absolute path'),
    ({'files': [{'path': '/a', 'content': '', 'mode': '644'}], 'directories': [{'path': '/a'}]},
     'directories[0]: path /a is already declared by files[0]'),
    ({'links': [{'path': '/a', 'target': 'b'}, {'path': '/a', 'target': 'c'}]}, 'links[1]: path /a is already declared by links[0]'),
    ({'files': [{'path': '/a', 'content': '', 'mode': 420}]}, "files[0].mode: 420 must be an octal string"),
    ({'files': [{'path': '/a', 'content': '', 'mode': '0999'}]}, "files[0].mode: '0999' must be an octal string"),
    ({'files': [{'path': '/a', 'content': '', 'url': 'https://x'}]}, 'files[0]: give one of content, src and url'),
    ({'files': [{'path': '/a', 'url': 'https://x/a'}]}, 'files[0].hash: a url needs the hash'),
    ({'files': [{'path': '/a', 'url': 'ftp://x/a', 'hash': 'sha512-' + 'a' * 128}]}, "files[0].url: 'ftp://x/a' has no scheme"),
    ({'files': [{'path': '/a', 'url': 'https://x/a', 'hash': 'md5-abc'}]}, 'files[0].hash: \'md5-abc\' must be sha512-'),
    ({'users': [{'name': 'a', 'password_hash': 'secret'}]}, 'users[0].password_hash: give a crypt(3) hash'),
    ({'users': [{'name': 'a', 'ssh_authorized_keys': ['AAAA']}]}, 'users[0].ssh_authorized_keys[0]: not an OpenSSH'),
    ({'users': [{'name': 'a'}, {'name': 'a'}]}, "users[1].name: 'a' is declared twice"),
    ({'units': [{'name': 'web'}]}, "units[0].name: 'web' must be a systemd unit name with its suffix"),
    ({'units': [{'name': 'a.service', 'dropins': [{'name': 'x', 'contents': ''}]}]}, "units[0].dropins[0].name: 'x' must end in .conf"),
    ({'kernel_arguments': {'should_exist': ['a'], 'should_not_exist': ['a']}}, 'kernel_arguments: a both should'),
    ({'merge': [{'url': 'https://x/a.ign', 'hash': 'sha512-' + 'a' * 128}], 'replace': {'url': 'https://x/b.ign', 'hash': 'sha512-' + 'a' * 128}},
     'replace: a config cannot both merge and be replaced'),
    ({'spec_version': '2.3.0'}, "spec_version: '2.3.0' must be one of"),
    ({'units': [{'name': 'a.service', 'contents': '['}]}, "units[0].contents: line 1, '[', opens a section"),
    ({'units': [{'name': 'a.service', 'contents': 'ExecStart=/bin/true'}]}, 'comes before any [Section] header'),
    ({'units': [{'name': 'a.service', 'contents': '[Service]\nExecStart'}]}, "line 2, 'ExecStart', is not KEY=VALUE"),
    ({'units': [{'name': 'a.service', 'dropins': [{'name': 'a.conf', 'contents': 'x'}]}]}, 'units[0].dropins[0].contents: line 1'),
])
def test_refusals_name_the_field(params, says):
    with pytest.raises(I.IgnitionError) as err:
        I.assemble(params)
    assert says in str(err.value)


PODMAN_BASE = {
    'ignition': {'version': '3.2.0'},
    'passwd': {'users': [{'name': 'core', 'sshAuthorizedKeys': ['ssh-ed25519 AAAAmachine'], 'uid': 1001},
                         {'name': 'root', 'sshAuthorizedKeys': ['ssh-ed25519 AAAAmachine']}]},
    'storage': {'files': [{'path': '/etc/containers/podman-machine', 'contents': {'source': 'data:,qemu%0A'}, 'mode': 420}],
                'links': [{'path': '/etc/systemd/user/sockets.target.wants/podman.socket',
                           'target': '/usr/lib/systemd/user/podman.socket'}]},
    'systemd': {'units': [{'name': 'ready.service', 'enabled': True, 'contents': '[Service]\nExecStart=/bin/true\n'}]},
}


def test_extending_podmans_config_keeps_what_makes_the_machine_work():
    ours = {'users': [{'name': 'core', 'ssh_authorized_keys': ['ssh-ed25519 AAAAmine me@laptop'], 'groups': ['wheel']}],
            'files': [{'path': '/etc/motd', 'content': 'hi\n'}],
            'units': [{'name': 'web.service', 'enabled': True, 'contents': '[Service]\nExecStart=/bin/true\n'}]}
    config, version, replaced = I.assemble(ours, base=PODMAN_BASE)
    assert version == '3.2.0' and replaced == []
    core = [u for u in config['passwd']['users'] if u['name'] == 'core'][0]
    assert core['sshAuthorizedKeys'] == ['ssh-ed25519 AAAAmachine', 'ssh-ed25519 AAAAmine me@laptop']
    assert core['uid'] == 1001 and core['groups'] == ['wheel']
    assert [u['name'] for u in config['passwd']['users']] == ['root', 'core']
    assert sorted(u['name'] for u in config['systemd']['units']) == ['ready.service', 'web.service']
    paths = [f['path'] for f in config['storage']['files']]
    assert paths == ['/etc/containers/podman-machine', '/etc/motd']
    assert config['storage']['links'] == PODMAN_BASE['storage']['links']
    assert validate(config) == ''


def test_a_replaced_base_entry_is_reported():
    _c, _v, replaced = I.assemble({'files': [{'path': '/etc/containers/podman-machine', 'content': 'applehv\n'}]},
                                  base=PODMAN_BASE)
    assert replaced == ['/etc/containers/podman-machine']


def test_a_base_newer_than_asked():
    with pytest.raises(I.IgnitionError, match="spec_version: 3.2.0 is older than the base config's 3.3.0"):
        I.assemble({'spec_version': '3.2.0'}, base={'ignition': {'version': '3.3.0'}})


def test_rendering_is_stable():
    a = I.render(I.assemble(FULL)[0])
    b = I.render(I.assemble(json.loads(json.dumps(FULL)))[0])
    assert a == b and a.endswith('\n')


# -- masking: what the module returns and shows in a diff ---------------------------------------
BASE_WITH_HASH = {'ignition': {'version': '3.2.0'},
                  'passwd': {'users': [{'name': 'core', 'passwordHash': '$6$base$BaseHash', 'uid': 1001}]}}


def test_masked_hides_every_password_hash_and_changes_nothing_else():
    config, _v, _r = I.assemble(FULL, base=BASE_WITH_HASH)
    before = json.loads(json.dumps(config))
    out = I.masked(config)
    assert config == before  # a copy: the config that is written keeps its hashes
    assert [u.get('passwordHash') for u in out['passwd']['users']] == ['********', '********']
    for u in out['passwd']['users']:
        u['passwordHash'] = dict((x['name'], x) for x in config['passwd']['users'])[u['name']]['passwordHash']
    assert out == config
    assert '$6$' not in I.render(I.masked(config))


def test_masked_leaves_a_config_without_hashes_as_it_is():
    config, _v, _r = I.assemble({'users': [{'name': 'ops'}], 'files': FULL['files']})
    assert I.masked(config) == config


def test_mask_text_keeps_the_layout_of_podmans_one_line_config():
    text = '{"ignition":{"version":"3.2.0"},"passwd":{"users":[{"name":"core","passwordHash":"$6$a$b\\/c"}]}}'
    assert I.mask_text(text) == '{"ignition":{"version":"3.2.0"},"passwd":{"users":[{"name":"core","passwordHash":"********"}]}}'


def test_mask_text_of_a_rendered_config_is_the_rendered_masked_config():
    config, _v, _r = I.assemble(FULL, base=BASE_WITH_HASH)
    assert I.mask_text(I.render(config)) == I.render(I.masked(config))


def test_mask_text_finds_a_hash_whose_key_is_escaped():
    text = '{"ignition":{"version":"3.2.0"},"passwd":{"users":[{"name":"core","password\\u0048ash":"$6$a$b"}]}}'
    assert json.loads(text)['passwd']['users'][0]['passwordHash'] == '$6$a$b'
    out = I.mask_text(text)
    assert '$6$a$b' not in out and json.loads(out)['passwd']['users'][0]['passwordHash'] == '********'


def test_mask_text_of_a_file_that_is_not_json():
    text = 'left by hand { "passwordHash": "$6$a$b", "name": "core"'
    assert I.mask_text(text) == 'left by hand { "passwordHash": "********", "name": "core"'


@pytest.mark.parametrize('url, shown', [
    ('http://alice:s3cret@proxy.example:3128', 'http://********@proxy.example:3128'),
    ('https://alice:s3cret@proxy.example:3128/path?q=a@b', 'https://********@proxy.example:3128/path?q=a@b'),
    ('http://al@ice:s3@cret@proxy.example', 'http://********@proxy.example'),
    ('http://token@proxy.example', 'http://********@proxy.example'),
    ('alice:s3cret@proxy.example:3128', '********@proxy.example:3128'),
    ('http://proxy.example:3128', 'http://proxy.example:3128'),
    ('http://proxy.example/a@b', 'http://proxy.example/a@b'),
    ('', ''),
])
def test_mask_url_hides_the_userinfo_only(url, shown):
    assert I.mask_url(url) == shown


def test_masked_and_mask_text_hide_proxy_credentials():
    config, _v, _r = I.assemble({'proxy': {'http_proxy': 'http://alice:s3cret@proxy.example:3128',
                                           'https_proxy': 'https://proxy.example:3129',
                                           'no_proxy': ['localhost']}})
    out = I.masked(config)
    assert out['ignition']['proxy'] == {'httpProxy': 'http://********@proxy.example:3128',
                                        'httpsProxy': 'https://proxy.example:3129', 'noProxy': ['localhost']}
    assert config['ignition']['proxy']['httpProxy'] == 'http://alice:s3cret@proxy.example:3128'
    assert I.mask_text(I.render(config)) == I.render(out)
    one_line = '{"ignition":{"version":"3.2.0","proxy":{"httpsProxy":"http:\\/\\/bob:pw@p:1"}}}'
    assert I.mask_text(one_line) == '{"ignition":{"version":"3.2.0","proxy":{"httpsProxy":"http://********@p:1"}}}'


def test_secret_sources_are_the_data_urls_of_the_inline_contents():
    params = {'files': [{'path': '/a', 'content': 'a b\n'}, {'path': '/b', 'content_base64': 'AAEC'},
                        {'path': '/c', 'url': 'https://example.com/c', 'hash': 'sha512-' + 'a' * 128},
                        {'path': '/d', 'content': 'x' * 4000, 'append': True}]}
    config, _v, _r = I.assemble(params)
    sources = [c['source'] for f in config['storage']['files'] for c in f.get('append', [f.get('contents')])]
    assert I.secret_sources(params) == [sources[0], sources[1], sources[3]]
    assert sources[3].startswith('data:;base64,')  # the gzip form, as written
    assert I.secret_sources({}) == [] and I.secret_sources({'files': None}) == []


def test_an_empty_content_is_no_secret_source():
    # 'data:,' would mask the start of every other data URL in the result.
    assert I.secret_sources({'files': [{'path': '/a', 'content': ''}, {'path': '/b', 'content_base64': ''}]}) == []


# -- properties: any accepted input yields a config that validates and round-trips -----------
_names = st.from_regex(r'[a-z][a-z0-9_-]{0,10}', fullmatch=True)
_paths = st.lists(st.from_regex(r'[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,8}', fullmatch=True).filter(lambda s: s not in ('.', '..')),
                  min_size=1, max_size=4).map(lambda parts: '/' + '/'.join(parts))
_modes = st.integers(min_value=0, max_value=0o777).map(lambda m: '0%03o' % m)
_content = st.one_of(st.text(max_size=300), st.text(alphabet='ab', min_size=600, max_size=3000))

_file = st.fixed_dictionaries({'path': _paths, 'content': _content}, optional={'mode': _modes, 'owner': _names})
_dir = st.fixed_dictionaries({'path': _paths}, optional={'mode': _modes})
_unit_lines = st.lists(st.one_of(st.just('[Service]'), st.just('[Unit]'), st.just(''), st.just('# note'),
                                 st.tuples(st.from_regex(r'[A-Za-z][A-Za-z0-9]{0,8}', fullmatch=True),
                                           st.text(alphabet=st.characters(blacklist_characters='\n\r\\'), max_size=20))
                                 .map('='.join), st.text(max_size=15)), max_size=6).map('\n'.join)
_unit = st.fixed_dictionaries({'name': _names.map(lambda n: n + '.service')},
                              optional={'enabled': st.booleans(), 'contents': _unit_lines})
_user = st.fixed_dictionaries({'name': _names}, optional={'groups': st.lists(_names, max_size=3), 'uid': st.integers(1000, 60000)})


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(_file, max_size=4), dirs=st.lists(_dir, max_size=3), units=st.lists(_unit, max_size=3),
       users=st.lists(_user, max_size=3), version=st.sampled_from(I.SPECS[2:]))
def test_any_accepted_input_validates_and_round_trips(files, dirs, units, users, version):
    params = {'files': files, 'directories': dirs, 'units': units, 'users': users, 'spec_version': version}
    try:
        config, got, _r = I.assemble(params)
    except I.IgnitionError:
        return  # refused with a message (duplicates and the like): nothing to validate
    assert got == version
    assert validate(config) == ''
    rendered = {f['path']: f for f in config.get('storage', {}).get('files', [])}
    for f in files:
        c = rendered[f['path'].rstrip('/') or '/']['contents']
        assert decode(c['source'], c.get('compression')) == f['content'].encode('utf-8')
        assert rendered[f['path']]['mode'] == int(f.get('mode', '0644'), 8)
    assert json.loads(I.render(config)) == config


@pytest.mark.parametrize('check, value', [
    ('_mode', '0644\n'), ('_owner', 'core\n'), ('_owner', '\u0661\u0662'), ('_hash', 'sha256-' + 'a' * 64 + '\n'),
])
def test_values_with_a_trailing_newline_or_other_scripts_digits_are_refused(check, value):
    """Whole-value, ASCII-only checks: `$` lets a trailing newline through and isdigit() takes any script's digits."""
    fn = getattr(I, check)
    with pytest.raises(I.IgnitionError, match='f.x'):
        fn(value, 'f.x', *({'_mode': (None,), '_hash': ([],)}.get(check, ())))

# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ignition_config module as Ansible runs it (its JSON output): no password hash, proxy
credential or file content given as a secret is anywhere in it, whether it came from the options,
the base file, or the old file at dest."""

from __future__ import annotations

import base64
import json
import os

try:
    from urllib.parse import quote, unquote
except ImportError:  # pragma: no cover
    pass

import pytest
from ansible.module_utils.common.parameters import PASS_VARS

from ansible_collections.machinist.podman.plugins.module_utils._ignition import config as I
from ansible_collections.machinist.podman.plugins.modules import ignition_config
from ansible_collections.machinist.podman.tests.unit.conftest import module_args

OPTION_HASH = '$6$optsalt$OptionHashFromTheVault'
BASE_HASH = '$6$basesalt$HashThatPodmanOrAUserPutInTheBase'
OLD_HASH = '$6$oldsalt$HashOfTheConfigWrittenLastTime'
PROXY_PASSWORD = 'Pr0xyPa55'
PROXY = 'http://alice:%s@proxy.example:3128' % PROXY_PASSWORD
BASE_PROXY_PASSWORD = 'BaseProxyPa55'
CONTENT = 'registry-token-Zq8vK2'


# The invocation is in the result as the controller asks for it: ansible-core 2.20 and later add it only when
# asked (_ansible_inject_invocation, which 2.19 and earlier do not know and refuse).
INVOCATION = {'_ansible_inject_invocation': True} if 'inject_invocation' in PASS_VARS else {}


def run(capsys, args, diff=False, check=False):
    args = dict(args, _ansible_diff=diff, _ansible_check_mode=check, **INVOCATION)
    with module_args(args):
        with pytest.raises(SystemExit):
            ignition_config.main()
    out = capsys.readouterr().out
    return out, json.loads(out)


def write(path, config):
    with open(path, 'w') as fh:
        json.dump(config, fh)


def base_config(version='3.2.0'):
    return {'ignition': {'version': version,
                         'proxy': {'httpsProxy': 'https://bob:%s@proxy.example:3129' % BASE_PROXY_PASSWORD}},
            'passwd': {'users': [{'name': 'core', 'passwordHash': BASE_HASH,
                                  'sshAuthorizedKeys': ['ssh-ed25519 AAAAC3Nza core@host']}]}}


def test_diff_masks_the_old_and_the_new_hash(tmp_path, capsys):
    dest = str(tmp_path / 'one.ign')
    write(dest, {'ignition': {'version': '3.2.0'}, 'passwd': {'users': [{'name': 'ops', 'passwordHash': OLD_HASH}]}})
    out, result = run(capsys, {'dest': dest, 'users': [{'name': 'ops', 'password_hash': OPTION_HASH}]}, diff=True)
    assert result['changed'] is True
    assert OLD_HASH not in out and OPTION_HASH not in out
    assert json.loads(result['diff']['before'])['passwd']['users'][0]['passwordHash'] == '********'
    assert json.loads(result['diff']['after'])['passwd']['users'][0]['passwordHash'] == '********'
    with open(dest) as fh:
        assert json.load(fh)['passwd']['users'][0]['passwordHash'] == OPTION_HASH


def test_diff_keeps_the_old_texts_layout_and_masks_its_hash(tmp_path, capsys):
    """podman writes its config on one line: the before is that text, only the hash masked."""
    dest = str(tmp_path / 'podman.ign')
    old = '{"ignition":{"version":"3.2.0"},"passwd":{"users":[{"name":"core","passwordHash":"%s"}]}}' % OLD_HASH
    with open(dest, 'w') as fh:
        fh.write(old)
    out, result = run(capsys, {'dest': dest, 'units': [{'name': 'x.service', 'enabled': True}]}, diff=True)
    assert OLD_HASH not in out
    assert result['diff']['before'] == old.replace(OLD_HASH, '********')


def test_hashes_read_from_the_base_are_masked_in_the_returned_config(tmp_path, capsys):
    base, dest = str(tmp_path / 'base.ign'), str(tmp_path / 'out.ign')
    write(base, base_config())
    out, result = run(capsys, {'base': base, 'dest': dest, 'users': [{'name': 'ops', 'password_hash': OPTION_HASH}]},
                      diff=True)
    assert BASE_HASH not in out and OPTION_HASH not in out
    users = dict((u['name'], u) for u in result['config']['passwd']['users'])
    assert users['core']['passwordHash'] == '********'
    assert users['core']['sshAuthorizedKeys'] == ['ssh-ed25519 AAAAC3Nza core@host']
    with open(dest) as fh:
        written = dict((u['name'], u) for u in json.load(fh)['passwd']['users'])
    assert written['core']['passwordHash'] == BASE_HASH and written['ops']['passwordHash'] == OPTION_HASH


def test_the_base_as_dest_has_its_hash_masked_in_config_and_diff(tmp_path, capsys):
    """The machine role extends podman's file in place: base and dest are one file."""
    dest = str(tmp_path / 'podman.ign')
    write(dest, base_config())
    out, result = run(capsys, {'base': dest, 'dest': dest, 'units': [{'name': 'x.service', 'enabled': True}]},
                      diff=True)
    assert result['changed'] is True and BASE_HASH not in out
    assert result['config']['passwd']['users'][0]['passwordHash'] == '********'
    with open(dest) as fh:
        assert json.load(fh)['passwd']['users'][0]['passwordHash'] == BASE_HASH


def test_only_returned_not_written_the_base_hash_is_masked_too(tmp_path, capsys):
    base = str(tmp_path / 'base.ign')
    write(base, base_config())
    out, result = run(capsys, {'base': base})
    assert BASE_HASH not in out
    assert result['config']['passwd']['users'][0]['passwordHash'] == '********'


def test_a_failing_run_shows_no_proxy_credentials_and_no_content(tmp_path, capsys):
    out, result = run(capsys, {'dest': str(tmp_path / 'bad.ign'), 'spec_version': '3.0.0',
                               'users': [{'name': 'ops', 'password_hash': OPTION_HASH}],
                               'files': [{'path': '/etc/token', 'content': CONTENT},
                                         {'path': '/etc/token.bin', 'content_base64': 'c2VjcmV0LWJ5dGVz'}],
                               'proxy': {'https_proxy': PROXY}})
    assert result['failed'] is True and 'needs Ignition spec 3.1.0' in result['msg']
    for secret in (OPTION_HASH, PROXY_PASSWORD, CONTENT, 'c2VjcmV0LWJ5dGVz'):
        assert secret not in out
    assert not os.path.exists(str(tmp_path / 'bad.ign'))


def test_an_unknown_proxy_field_is_refused(tmp_path, capsys):
    out, result = run(capsys, {'proxy': {'http_proxy': PROXY, 'htps_proxy': PROXY}})
    assert result['failed'] is True and 'htps_proxy' in result['msg']
    assert PROXY_PASSWORD not in out


def test_proxy_credentials_are_not_in_the_result_but_in_the_file(tmp_path, capsys):
    dest = str(tmp_path / 'out.ign')
    out, result = run(capsys, {'dest': dest, 'proxy': {'http_proxy': PROXY, 'no_proxy': ['localhost', '.example.com']}},
                      diff=True)
    assert result['changed'] is True and PROXY_PASSWORD not in out
    assert result['config']['ignition']['proxy']['noProxy'] == ['localhost', '.example.com']
    assert 'alice' not in json.dumps(result['invocation']) and 'alice' not in result['diff']['after']
    with open(dest) as fh:
        assert json.load(fh)['ignition']['proxy'] == {'httpProxy': PROXY, 'noProxy': ['localhost', '.example.com']}


def test_proxy_credentials_read_from_the_base_are_masked(tmp_path, capsys):
    base, dest = str(tmp_path / 'base.ign'), str(tmp_path / 'out.ign')
    write(base, base_config('3.1.0'))
    write(dest, base_config('3.1.0'))
    out, result = run(capsys, {'base': base, 'dest': dest, 'units': [{'name': 'x.service', 'enabled': True}]},
                      diff=True)
    assert result['changed'] is True and BASE_PROXY_PASSWORD not in out
    assert result['config']['ignition']['proxy'] == {'httpsProxy': 'https://********@proxy.example:3129'}
    assert '"httpsProxy": "https://********@proxy.example:3129"' in result['diff']['before']
    assert '"httpsProxy": "https://********@proxy.example:3129"' in result['diff']['after']
    with open(dest) as fh:
        written = json.load(fh)['ignition']['proxy']
    assert written == {'httpsProxy': 'https://bob:%s@proxy.example:3129' % BASE_PROXY_PASSWORD}


def test_a_files_secret_content_is_not_in_the_result_even_encoded(tmp_path, capsys):
    """A content is no_log, and so is the data URL it becomes: the config and the diff show neither."""
    dest = str(tmp_path / 'out.ign')
    text = 'auth token = %s\n' % CONTENT  # percent-encoded, this differs from the text itself
    raw = b'\x00binary ' + CONTENT.encode()  # as the action plugin sends a files[].src
    encoded = base64.b64encode(raw).decode()
    out, result = run(capsys, {'dest': dest, 'files': [{'path': '/etc/token', 'content': text},
                                                       {'path': '/etc/token.bin', 'content_base64': encoded}]},
                      diff=True)
    assert result['changed'] is True
    for shown in (CONTENT, quote(text), encoded, base64.b64encode(raw[1:]).decode()):
        assert shown not in out
    with open(dest) as fh:
        written = dict((f['path'], f['contents']['source']) for f in json.load(fh)['storage']['files'])
    assert written == {'/etc/token': I.data_url(text.encode())[0], '/etc/token.bin': I.data_url(raw)[0]}
    assert CONTENT in unquote(written['/etc/token']) and CONTENT in unquote(written['/etc/token.bin'])
    assert set(f['contents']['source'] for f in result['config']['storage']['files']) == set(
        ['VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'])


def test_an_empty_file_masks_nothing_else(tmp_path, capsys):
    out, result = run(capsys, {'files': [{'path': '/etc/empty', 'content': ''}],
                               'tls_cas': [{'content': 'public CA'}]})
    assert result['config']['ignition']['security']['tls']['certificateAuthorities'] == [{'source': 'data:,public%20CA'}]
    assert result['config']['storage']['files'][0]['contents'] == {'source': 'data:,'}

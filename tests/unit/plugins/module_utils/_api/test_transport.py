# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SSH transport's host key checks against a real SSH server (paramiko's server side) with keys
that OpenSSH's ssh-keygen made, and known_hosts files as OpenSSH writes them."""

from __future__ import annotations

import subprocess

import paramiko
import pytest

from ansible_collections.machinist.podman.plugins.module_utils._api.transport import SSHSession, SSHTarget, TransportError  # noqa: E402
from ansible_collections.machinist.podman.plugins.module_utils._host.state import StateStore  # noqa: E402
from ansible_collections.machinist.podman.tests.unit.ssh_server import SSHServer, keygen  # noqa: E402


class _AnyKey(paramiko.ServerInterface):
    def get_allowed_auths(self, username):
        return 'publickey'

    def check_auth_publickey(self, username, key):
        return paramiko.AUTH_SUCCESSFUL


def _public(path):
    with open(path + '.pub') as f:
        return ' '.join(f.read().split()[:2])


@pytest.fixture
def server(tmp_path):
    s = SSHServer(keygen(tmp_path / 'host'), interface=_AnyKey)
    s.public = _public(str(tmp_path / 'host'))
    yield s
    s.close()


def _connect(server, tmp_path, known_hosts, checking='accept-new'):
    target = SSHTarget('127.0.0.1', server.port, 'core', identity=keygen(tmp_path / ('id%d' % len(server.transports))),
                       known_hosts=str(known_hosts), host_key_checking=checking, timeout=10)
    session = SSHSession(target)
    try:
        session.connect()
        return session.recorded_host_key
    finally:
        session.close()


def test_a_key_recorded_on_first_use_goes_on_its_own_line_after_a_last_line_without_newline(tmp_path, server):
    known = tmp_path / 'known_hosts'
    other = 'other.example ' + _public(keygen(tmp_path / 'other'))
    known.write_text(other)  # as a user's editor may leave it
    assert _connect(server, tmp_path, known).startswith('ssh-ed25519 SHA256:')
    assert known.read_text().splitlines() == [other, '[127.0.0.1]:%d %s' % (server.port, server.public)]
    assert _connect(server, tmp_path, known) is None  # known now: nothing recorded


def test_a_hashed_line_that_openssh_wrote_is_checked_and_forgotten(tmp_path, server):
    known = tmp_path / 'state' / 'known_hosts'
    known.parent.mkdir()
    old = _public(keygen(tmp_path / 'old'))
    known.write_text('[127.0.0.1]:%d %s\n' % (server.port, old))
    subprocess.run(['ssh-keygen', '-H', '-f', str(known)], check=True, capture_output=True)
    assert known.read_text().startswith('|1|')
    with pytest.raises(TransportError, match='REFUSED: ssh://core@127.0.0.1:%d now answers with host key' % server.port):
        _connect(server, tmp_path, known)
    assert StateStore(base=str(known.parent)).forget_host_key(server.port) is True
    assert _connect(server, tmp_path, known).startswith('ssh-ed25519 ')


def test_strict_refuses_an_unknown_machine_and_records_nothing(tmp_path, server):
    known = tmp_path / 'known_hosts'
    with pytest.raises(TransportError, match=r'\[127.0.0.1\]:%d is not in ' % server.port):
        _connect(server, tmp_path, known, checking='strict')
    assert not known.exists()

# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SSH transport's host key checks against a real SSH server (paramiko's server side) with keys
that OpenSSH's ssh-keygen made, and known_hosts files as OpenSSH writes them."""

from __future__ import annotations

import subprocess
import threading
import time

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


class _Shell(_AnyKey):
    """Runs each exec request in /bin/sh here, its stdin, stdout, stderr and exit status on the channel."""

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == 'session' else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel, command):
        def serve():
            proc = subprocess.Popen(['/bin/sh', '-c', command.decode()], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            self.procs.append(proc)
            data = b''
            while True:
                chunk = channel.recv(65536)
                if not chunk:
                    break
                data += chunk
            out, err = proc.communicate(data)
            try:
                channel.sendall(out)
                channel.sendall_stderr(err)
                channel.send_exit_status(proc.returncode if proc.returncode >= 0 else 128 - proc.returncode)
                channel.close()
            except (OSError, EOFError, paramiko.SSHException):
                pass  # the client closed the channel: a command it stopped
        threading.Thread(target=serve, daemon=True).start()
        return True


@pytest.fixture
def shell(tmp_path):
    _Shell.procs = []
    s = SSHServer(keygen(tmp_path / 'host'), interface=_Shell)
    target = SSHTarget('127.0.0.1', s.port, 'core', identity=keygen(tmp_path / 'id'),
                       known_hosts=str(tmp_path / 'known_hosts'), host_key_checking='accept-new', timeout=10)
    session = SSHSession(target)
    yield session
    session.close()
    for proc in _Shell.procs:
        proc.kill()
    s.close()


def test_a_command_gets_its_stdin_and_gives_its_output_and_status(shell):
    assert shell.run('sh -s', stdin=b'echo out; echo err >&2; exit 3\n') == (3, 'out\n', 'err\n')


def test_a_command_past_its_deadline_is_stopped(shell):
    start = time.time()
    with pytest.raises(TransportError, match=r'was still running after 1 seconds; it was stopped'):
        shell.run('sleep 30', timeout=1)
    assert time.time() - start < 10


def test_a_command_that_prints_too_much_is_stopped(shell):
    with pytest.raises(TransportError, match=r'printed more than 1000 bytes; it was stopped'):
        shell.run('head -c 5000 /dev/zero', limit=1000)

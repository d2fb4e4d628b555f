# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SSH transport's host key checks, commands and channels against a real SSH server (paramiko's server side)
with keys that OpenSSH's ssh-keygen made, and known_hosts files as OpenSSH writes them: each test once with each SSH
client a session can use (paramiko, and the host's OpenSSH client through openssh.OpenSSHSession)."""

from __future__ import annotations

import http.server
import socket
import socketserver
import subprocess
import threading
import time

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._api import openssh  # noqa: E402
from ansible_collections.machinist.podman.plugins.module_utils._api.openssh import OpenSSHSession, session_for  # noqa: E402
from ansible_collections.machinist.podman.plugins.module_utils._api.transport import Endpoint, SSHSession, SSHTarget, TransportError  # noqa: E402
from ansible_collections.machinist.podman.plugins.module_utils._host.state import StateStore  # noqa: E402
from ansible_collections.machinist.podman.plugins.plugin_utils._local import run_command  # noqa: E402
from ansible_collections.machinist.podman.tests.unit.ssh_server import AnyKey, Shell, SSHServer, keygen  # noqa: E402


@pytest.fixture(params=['paramiko', 'openssh'])
def client(request):
    return request.param


def _public(path):
    with open(path + '.pub') as f:
        return ' '.join(f.read().split()[:2])


@pytest.fixture
def server(tmp_path):
    s = SSHServer(keygen(tmp_path / 'host'), interface=AnyKey)
    s.public = _public(str(tmp_path / 'host'))
    yield s
    s.close()


def _connect(server, tmp_path, known_hosts, checking='accept-new', client='paramiko'):
    target = SSHTarget('127.0.0.1', server.port, 'core', identity=keygen(tmp_path / ('id%d' % len(server.transports))),
                       known_hosts=str(known_hosts), host_key_checking=checking, timeout=10, client=client)
    session = session_for(target, run_command)
    assert isinstance(session, SSHSession if client == 'paramiko' else OpenSSHSession)
    try:
        session.connect()
        return session.recorded_host_key
    finally:
        session.close()


def test_a_key_recorded_on_first_use_goes_on_its_own_line_after_a_last_line_without_newline(tmp_path, server, client):
    known = tmp_path / 'known_hosts'
    other = 'other.example ' + _public(keygen(tmp_path / 'other'))
    known.write_text(other)  # as a user's editor may leave it
    assert _connect(server, tmp_path, known, client=client).startswith('ssh-ed25519 SHA256:')
    assert known.read_text().splitlines() == [other, '[127.0.0.1]:%d %s' % (server.port, server.public)]
    assert _connect(server, tmp_path, known, client=client) is None  # known now: nothing recorded


def test_a_hashed_line_that_openssh_wrote_is_checked_and_forgotten(tmp_path, server, client):
    known = tmp_path / 'state' / 'known_hosts'
    known.parent.mkdir()
    old = _public(keygen(tmp_path / 'old'))
    known.write_text('[127.0.0.1]:%d %s\n' % (server.port, old))
    subprocess.run(['ssh-keygen', '-H', '-f', str(known)], check=True, capture_output=True)
    assert known.read_text().startswith('|1|')
    with pytest.raises(TransportError, match='REFUSED: ssh://core@127.0.0.1:%d now answers with host key' % server.port):
        _connect(server, tmp_path, known, client=client)
    assert StateStore(base=str(known.parent)).forget_host_key(server.port) is True
    assert _connect(server, tmp_path, known, client=client).startswith('ssh-ed25519 ')


def test_strict_refuses_an_unknown_machine_and_records_nothing(tmp_path, server, client):
    known = tmp_path / 'known_hosts'
    with pytest.raises(TransportError, match=r'\[127.0.0.1\]:%d is not in .* \(its key is ssh-ed25519 SHA256:' % server.port):
        _connect(server, tmp_path, known, checking='strict', client=client)
    assert not known.exists()


@pytest.fixture
def shell(tmp_path, client):
    Shell.procs = []
    Shell.cwd = str(tmp_path)
    Shell.unix_path = str(tmp_path / 'api.sock')
    s = SSHServer(keygen(tmp_path / 'host'), interface=Shell)
    target = SSHTarget('127.0.0.1', s.port, 'core', identity=keygen(tmp_path / 'id'),
                       known_hosts=str(tmp_path / 'known_hosts'), host_key_checking='accept-new', timeout=10,
                       client=client)
    session = session_for(target, run_command)
    yield session
    session.close()
    for proc in Shell.procs:
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


class _Hello(http.server.BaseHTTPRequestHandler):
    """HTTP/1.0: the server closes the connection after each answer. Its body comes a moment after its head, when
    http.client has already closed the connection on its side (as it does for an answer that ends the connection)."""

    def do_GET(self):
        body = ('hello %s' % self.path).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.flush()
        time.sleep(0.2)
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _addr = super().get_request()
        return request, ('local', 0)


@pytest.fixture
def services(tmp_path):
    """An HTTP server on a TCP port of 127.0.0.1 and one on the unix socket the SSH server forwards to."""
    tcp = socketserver.ThreadingTCPServer(('127.0.0.1', 0), _Hello)
    unix = _UnixHTTPServer(str(tmp_path / 'api.sock'), _Hello)
    for srv in (tcp, unix):
        # A short poll, so that shutdown() below returns at once (the default waits up to half a second).
        threading.Thread(target=srv.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True).start()
    yield tcp.server_address[1]
    for srv in (tcp, unix):
        srv.shutdown()
        srv.server_close()


def test_http_over_a_channel_to_a_tcp_port_and_to_a_unix_socket(shell, services, tmp_path):
    for endpoint in (Endpoint(session=shell, remote_tcp=('127.0.0.1', services)),
                     Endpoint(session=shell, remote_path=str(tmp_path / 'api.sock'))):
        for path in ('/one', '/two'):  # the second request reuses the session (and OpenSSH's forward)
            status, _headers, body = endpoint.request('GET', path)
            assert (status, body) == (200, ('hello %s' % path).encode())


def test_a_channel_the_server_refuses_is_named(shell, tmp_path):
    closed = socket.socket()
    closed.bind(('127.0.0.1', 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(TransportError, match=r'could not connect to 127.0.0.1:%d for us' % port):
        Endpoint(session=shell, remote_tcp=('127.0.0.1', port)).request('GET', '/')
    with pytest.raises(TransportError, match=r'would not connect us to its unix socket .*api.sock'):
        Endpoint(session=shell, remote_path=str(tmp_path / 'api.sock')).request('GET', '/')


def test_no_ssh_client_at_all_is_named_with_both_fixes(tmp_path, monkeypatch):
    target = SSHTarget('127.0.0.1', 22, 'core', client='openssh')
    with pytest.raises(TransportError, match=r'ssh_client=openssh: .* needs the OpenSSH client \(ssh\)'):
        session_for(target, run_command, search=lambda name: None)
    monkeypatch.setattr(openssh, '_has_paramiko', lambda: False)
    target = SSHTarget('127.0.0.1', 22, 'core')
    with pytest.raises(TransportError, match=r'needs an SSH client .* OpenSSH client .* paramiko'):
        session_for(target, run_command, search=lambda name: None)
    assert isinstance(session_for(target, run_command), OpenSSHSession)  # auto without paramiko: the host's ssh


def test_an_unknown_client_is_refused_naming_the_field():
    with pytest.raises(TransportError, match=r"ssh_client must be one of auto, paramiko, openssh, got 'putty'"):
        SSHTarget('127.0.0.1', 22, 'core', client='putty')

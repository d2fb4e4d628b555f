# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""port_forward's logic: declared forwards in gvproxy's terms, the plan, and the boot script."""

from __future__ import annotations

import json
import subprocess
import threading

try:
    from http.server import BaseHTTPRequestHandler, HTTPServer
except ImportError:  # pragma: no cover
    pass

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._forward import gvproxy


def fwd(local, remote, protocol='tcp'):
    return {'local': local, 'remote': remote, 'protocol': protocol}


@pytest.mark.parametrize('spec, expected', [
    ({'host_port': 9090}, fwd('127.0.0.1:9090', '192.168.127.2:9090')),
    ({'host_port': 15432, 'guest_port': 5432, 'host_ip': '0.0.0.0'}, fwd(':15432', '192.168.127.2:5432')),
    ({'host_port': 53, 'protocol': 'udp', 'host_ip': ''}, fwd(':53', '192.168.127.2:53', 'udp')),
    ({'host_socket': '/tmp/api.sock', 'guest_port': 2375}, fwd('/tmp/api.sock', 'tcp://192.168.127.2:2375', 'unix')),
    ({'host_port': 80, 'guest_ip': '192.168.127.254'}, fwd('127.0.0.1:80', '192.168.127.254:80')),
])
def test_normalise(spec, expected):
    assert gvproxy.normalise(spec, 0) == expected


@pytest.mark.parametrize('spec, says', [
    ({'host_port': 0}, 'forwards[3].host_port: 0 is out of range'),
    ({}, "forwards[3].host_port: None is not a port number"),
    ({'host_port': 1, 'guest_ip': '::1'}, "forwards[3].guest_ip: '::1' is not an IPv4 address"),
    ({'host_port': 1, 'host_ip': '300.1.1.1'}, "forwards[3].host_ip: '300.1.1.1' is not an IPv4"),
    ({'host_port': 1, 'protocol': 'sctp'}, "forwards[3].protocol: 'sctp' must be tcp, udp or unix"),
    ({'host_socket': 'rel.sock', 'guest_port': 1}, 'forwards[3].host_socket: a unix forward needs an absolute'),
    ({'host_socket': "/tmp/a'b.sock", 'guest_port': 1}, 'forwards[3].host_socket'),
    ({'host_socket': '/tmp/a.sock', 'guest_port': 1, 'host_port': 2}, 'host_socket and host_port/host_ip exclude'),
    ({'host_port': 1, 'hostport': 2}, 'forwards[3]: unknown key(s) hostport'),
    # validation sees the whole value, ASCII digits only (issue 12, item 17)
    ({'host_port': 1, 'host_ip': '127.0.0.1\n'}, "forwards[3].host_ip: '127.0.0.1\\n' is not an IPv4 address"),
    ({'host_port': 1, 'guest_ip': '192.168.127.2\n'}, "forwards[3].guest_ip: '192.168.127.2\\n' is not an IPv4"),
    ({'host_port': 1, 'host_ip': '127.0.0.\u0661'}, "forwards[3].host_ip: '127.0.0.\u0661' is not an IPv4 address"),
    ({'host_port': 1, 'host_ip': '127.0.0.01'}, "forwards[3].host_ip: '127.0.0.01' is not an IPv4 address"),
    ({'host_socket': '/srv/a.sock\n', 'guest_port': 1}, "forwards[3].host_socket: a unix forward needs an absolute"),
    ({'host_port': '\u0668\u0660'}, "forwards[3].host_port: '\u0668\u0660' is not a port number"),
    ({'host_port': '80\n'}, "forwards[3].host_port: '80\\n' is not a port number"),
    ({'host_port': True}, 'forwards[3].host_port: True is not a port number'),
])
def test_normalise_refuses(spec, says):
    with pytest.raises(gvproxy.ForwardError) as err:
        gvproxy.normalise(spec, 3)
    assert says in str(err.value)


A = fwd('127.0.0.1:9090', '192.168.127.2:9090')
A2 = fwd('127.0.0.1:9090', '192.168.127.2:80')
PODMANS = fwd(':8080', '192.168.127.2:8080')
SSH = fwd('127.0.0.1:40022', '192.168.127.2:22')


def test_nothing_to_do_when_gvproxy_has_it():
    unexpose, expose, record, clashes = gvproxy.plan([A], [A, SSH], set(), 'present')
    assert (unexpose, expose, clashes) == ([], [], [])
    assert record == {gvproxy.key(A)}


def test_a_new_forward_is_exposed():
    unexpose, expose, record, clashes = gvproxy.plan([A], [SSH], set(), 'present')
    assert expose == [A] and unexpose == [] and clashes == []


def test_our_forward_with_another_remote_is_replaced():
    unexpose, expose, _x, clashes = gvproxy.plan([A2], [A], {gvproxy.key(A)}, 'present')
    assert unexpose == [A] and expose == [A2] and clashes == []


def test_someone_elses_forward_on_the_same_key_is_a_clash():
    def owner(forward):
        return 'container web'

    _x, expose, _x, clashes = gvproxy.plan([A2], [A], set(), 'present', owner_of=owner)
    assert expose == []
    assert clashes and 'container web' in clashes[0] and 'this task wants it forwarded to 192.168.127.2:80' in clashes[0]


def test_all_interfaces_overlaps_one_address():
    ours = fwd('127.0.0.1:8080', '192.168.127.2:9000')
    _x, expose, _x, clashes = gvproxy.plan([ours], [PODMANS], set(), 'present')
    assert expose == [] and len(clashes) == 1 and 'already forwards :8080' in clashes[0]


def test_other_protocol_or_port_does_not_overlap():
    udp = fwd(':8080', '192.168.127.2:8080', 'udp')
    _x, expose, _x, clashes = gvproxy.plan([udp, A], [PODMANS], set(), 'present')
    assert expose == [udp, A] and clashes == []


def test_absent_removes_only_ours():
    unexpose, _x, record, clashes = gvproxy.plan([A, PODMANS], [A, PODMANS], {gvproxy.key(A)}, 'absent')
    assert unexpose == [A] and record == set()
    assert len(clashes) == 1 and 'it is left alone' in clashes[0]


def test_exclusive_drops_our_undeclared_forwards_only():
    old = fwd('127.0.0.1:7000', '192.168.127.2:7000')
    unexpose, expose, record, clashes = gvproxy.plan([A], [A, old, PODMANS, SSH], {gvproxy.key(A), gvproxy.key(old)}, 'present',
                                                     exclusive=True)
    assert unexpose == [old] and expose == [] and record == {gvproxy.key(A)} and clashes == []


class _Recorder(BaseHTTPRequestHandler):
    bodies = []
    answers = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        length = int(self.headers['Content-Length'])
        self.bodies.append((self.path, json.loads(self.rfile.read(length))))
        code, text = self.answers.pop(0) if self.answers else (200, '')
        self.send_response(code)
        self.end_headers()
        self.wfile.write(text.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    _Recorder.bodies = []
    _Recorder.answers = []
    server = HTTPServer(('127.0.0.1', 0), _Recorder)
    # A short poll, so that shutdown() below returns at once (the default waits up to half a second).
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    yield server.server_address
    server.shutdown()


def test_the_boot_script_posts_each_forward_with_bash_alone(gateway, tmp_path):
    unix = fwd('/tmp/it\'s.sock', 'tcp://192.168.127.2:2375', 'unix')
    script = tmp_path / 'apply.sh'
    script.write_text(gvproxy.boot_script([A, unix], gateway=gateway))
    _Recorder.answers = [(200, ''), (500, 'proxy already running')]
    res = subprocess.run(['bash', str(script)], capture_output=True, text=True, timeout=30, env={'PATH': '/usr/bin:/bin'},
                         check=False)
    assert res.returncode == 0, res.stderr
    assert [b for _x, b in _Recorder.bodies] == [A, unix]
    assert all(path == '/services/forwarder/expose' for path, _x in _Recorder.bodies)
    assert 'gvproxy kept an earlier forward' in res.stdout


def test_the_boot_script_fails_when_gvproxy_refuses(gateway, tmp_path):
    script = tmp_path / 'apply.sh'
    script.write_text(gvproxy.boot_script([A], gateway=gateway).replace('seq 1 90', 'seq 1 2'))
    _Recorder.answers = [(400, 'bad'), (400, 'bad')]
    res = subprocess.run(['bash', str(script)], capture_output=True, text=True, timeout=30, check=False)
    assert res.returncode == 1
    assert 'gvproxy did not take' in res.stderr


class FakeForwarder:
    """Stands in for gvproxy's list/expose/unexpose in memory (the real one runs in the integration tests)."""

    def __init__(self, current, fail_on=None):
        self.current = list(current)
        self.fail_on = fail_on

    def list(self):
        return list(self.current)

    def expose(self, f):
        if self.fail_on == f['local']:
            raise gvproxy.ForwardError('gvproxy refused')
        self.current.append(f)

    def unexpose(self, f):
        self.current = [c for c in self.current if gvproxy.key(c) != gvproxy.key(f)]


class MemoryRecord:
    def __init__(self, forwards=()):
        self.forwards = list(forwards)

    def load(self):
        return list(self.forwards)

    def save(self, forwards):
        self.forwards = list(forwards)
        return False


def test_a_failure_midway_keeps_the_record_true():
    b = fwd('127.0.0.1:9091', '192.168.127.2:9091')
    gv, record = FakeForwarder([SSH], fail_on=b['local']), MemoryRecord()
    with pytest.raises(gvproxy.ForwardError) as err:
        gvproxy.converge_forwards(gv, record, [A, b], 'present')
    assert err.value.changed is True
    assert err.value.extra['done'] == ['expose tcp/127.0.0.1:9090']
    assert record.forwards == [A]


def test_check_mode_changes_nothing():
    gv, record = FakeForwarder([SSH]), MemoryRecord()
    out = gvproxy.converge_forwards(gv, record, [A], 'present', check_mode=True)
    assert out['changed'] and out['forwards'] == [SSH, A]
    assert gv.current == [SSH] and record.forwards == []


def test_a_machines_host_record_is_in_one_place_whatever_the_working_directory(tmp_path, monkeypatch):
    from ansible_collections.machinist.podman.plugins.module_utils._host.state import StateStore
    monkeypatch.setenv('XDG_STATE_HOME', str(tmp_path / 'state'))
    for d in ('a', 'b'):
        (tmp_path / d).mkdir()
    monkeypatch.chdir(tmp_path / 'a')
    gvproxy.HostRecord(StateStore(), machine='dev').save([A])
    monkeypatch.chdir(tmp_path / 'b')
    assert gvproxy.HostRecord(StateStore(), machine='dev').load() == [A]
    assert len(list((tmp_path / 'state' / 'machinist.podman' / 'forwards').iterdir())) == 1


def test_a_sockets_host_record_is_keyed_by_the_sockets_real_path(tmp_path, monkeypatch):
    from ansible_collections.machinist.podman.plugins.module_utils._host.state import StateStore
    monkeypatch.setenv('XDG_STATE_HOME', str(tmp_path / 'state'))
    monkeypatch.chdir(tmp_path)
    gvproxy.HostRecord(StateStore(), socket_path='gv.sock').save([A])
    assert gvproxy.HostRecord(StateStore(), socket_path=str(tmp_path / 'gv.sock')).load() == [A]
    assert gvproxy.HostRecord(StateStore(), machine=str(tmp_path / 'gv.sock')).load() == []
    with pytest.raises(ValueError, match='give one of socket_path and machine'):
        gvproxy.HostRecord(StateStore())

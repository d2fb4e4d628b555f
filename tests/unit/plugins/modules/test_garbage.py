# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every module, run as Ansible runs it (a process reading its arguments file), and the machine tasks on
the controller-side path, against a podman that prints garbage and against a service that answers garbage:
a clean failure naming what went wrong, never a traceback.

The garbage podman is a two-line sh script (a fault injected where a real podman cannot be made to print
nonsense on demand); the garbage services are real sockets on loopback and in a temporary folder."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading

import pytest

from ansible_collections.machinist.podman.tests.unit.plugins.plugin_utils.test_controller_side import Task

MODULES = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'plugins', 'modules')


def run_module(name, args, tmp_path):
    path = tmp_path / ('args-%s.json' % name)
    path.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
    env = dict(os.environ, HOME=str(tmp_path), XDG_STATE_HOME=str(tmp_path / 'state'), XDG_CACHE_HOME=str(tmp_path / 'cache'))
    proc = subprocess.run([sys.executable, os.path.join(MODULES, name + '.py'), str(path)], capture_output=True, text=True,
                          timeout=120, env=env, check=False)
    assert 'Traceback' not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert proc.returncode == 1 and result['failed'] is True, result
    assert result['msg'] and 'Traceback' not in result['msg']
    return result


@pytest.fixture(params=['no version', 'garbage after the version'])
def garbage_podman(request, tmp_path):
    """A podman whose every answer is garbage, or whose --version is right and every other answer garbage."""
    script = tmp_path / 'podman'
    version = 'printf "podman version 5.4.2\\n"; exit 0' if request.param != 'no version' else 'true'
    script.write_text('#!/bin/sh\n[ "$1" = --version ] && { %s; }\nprintf "garbage \\001 {[\\n"\n' % version)
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize('name, args', [
    ('podman_machine', {'name': 'garbage-a', 'state': 'started'}),
    ('podman_machine_info', {'name': 'garbage-a'}),
    ('podman_machine_os', {'name': 'garbage-a', 'packages': ['htop']}),
    ('port_forward', {'machine': 'garbage-a', 'forwards': [{'host_port': 18080}]}),
    ('container', {'machine': 'garbage-a', 'name': 'web', 'image': 'busybox'}),
    ('container_image', {'machine': 'garbage-a', 'name': 'busybox'}),
])
def test_a_podman_printing_garbage_fails_the_task_cleanly(name, args, garbage_podman, tmp_path):
    result = run_module(name, dict(args, executable=garbage_podman), tmp_path)
    assert garbage_podman in result['msg'] or 'podman machine' in result['msg'], result['msg']


@pytest.fixture
def garbage_server(tmp_path):
    """A unix socket and a TCP port on 127.0.0.1 whose server answers every connection with garbage bytes."""
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(tmp_path / 'garbage.sock'))
    tcp = socket.socket()
    tcp.bind(('127.0.0.1', 0))
    stop = []

    def serve(listener):
        listener.listen(8)
        listener.settimeout(0.2)
        while not stop:
            try:
                conn = listener.accept()[0]
            except OSError:
                continue
            with conn:
                try:
                    conn.settimeout(2)
                    conn.recv(65536)
                    conn.sendall(b'\x00garbage {[ not HTTP at all\r\n\r\n')
                except OSError:
                    pass

    threads = [threading.Thread(target=serve, args=(s,), daemon=True) for s in (unix, tcp)]
    for t in threads:
        t.start()
    yield {'unix': str(tmp_path / 'garbage.sock'), 'port': tcp.getsockname()[1]}
    stop.append(True)
    for t in threads:
        t.join(2)
    unix.close()
    tcp.close()


@pytest.mark.parametrize('name, args', [
    ('container', {'name': 'web', 'image': 'busybox'}),
    ('container_image', {'name': 'busybox'}),
])
def test_an_api_answering_garbage_fails_the_task_cleanly(name, args, garbage_server, tmp_path):
    result = run_module(name, dict(args, api_url='unix://' + garbage_server['unix']), tmp_path)
    assert garbage_server['unix'] in result['msg'] or 'API' in result['msg'], result['msg']


def test_gvproxy_answering_garbage_fails_the_task_cleanly(garbage_server, tmp_path):
    result = run_module('port_forward', {'gvproxy_socket': garbage_server['unix'], 'forwards': [{'host_port': 18080}]},
                        tmp_path)
    assert 'gvproxy' in result['msg'] or garbage_server['unix'] in result['msg'], result['msg']


def test_an_image_server_answering_garbage_fails_the_task_cleanly(garbage_server, tmp_path):
    url = 'http://127.0.0.1:%d/disk.qcow2.xz' % garbage_server['port']
    result = run_module('podman_machine_image', {'source': url, 'checksum': 'a' * 64, 'cache_dir': str(tmp_path / 'c')},
                        tmp_path)
    assert url in result['msg'] or '127.0.0.1' in result['msg'], result['msg']
    assert result['source'], result


def test_a_base_config_of_garbage_fails_the_task_cleanly(tmp_path):
    base = tmp_path / 'base.ign'
    base.write_bytes(b'\x00garbage {[')
    result = run_module('ignition_config', {'base': str(base)}, tmp_path)
    assert result['msg'].startswith('base: %s is not JSON' % base), result['msg']


# -- the controller-side path: the same tasks on the controller, each call a real sh script ------------
class _Shell:
    SHELLFAMILY = 'sh'


class _Connection:
    _shell = _Shell()


class _ShAction:
    """What the controller-side path uses of an action plugin: its task, and a connection whose commands
    run here with /bin/sh (as the local connection runs them)."""
    _connection = _Connection()

    def __init__(self, args, env):
        self._task = Task(args)
        self.env = env

    def _compute_environment_string(self, raw_environment_out=None):
        return ''  # a task without an environment

    def _low_level_execute_command(self, cmd, sudoable=True, in_data=None):
        proc = subprocess.run(['/bin/sh', '-c', cmd], input=in_data, capture_output=True, timeout=120, env=self.env,
                              check=False)
        return {'rc': proc.returncode, 'stdout': proc.stdout, 'stderr': proc.stderr}


@pytest.mark.parametrize('task, args', [
    ('machine_task', {'name': 'garbage-a', 'state': 'started'}),
    ('info_task', {'name': ['garbage-a']}),
    ('os_task', {'name': 'garbage-a', 'packages': ['htop']}),
])
def test_the_controller_side_path_fails_cleanly_too(task, args, garbage_podman, tmp_path, monkeypatch):
    from ansible.plugins.action import ActionBase

    from ansible_collections.machinist.podman.plugins.module_utils._tasks import machine, machine_os
    from ansible_collections.machinist.podman.plugins.plugin_utils import _controller_side as controller
    monkeypatch.setattr(ActionBase, 'run', lambda self, tmp=None, task_vars=None: {})
    specs = {'machine_task': (machine.MACHINE_ARGS, machine.machine_task), 'info_task': (machine.INFO_ARGS, machine.info_task),
             'os_task': (machine_os.OS_ARGS, machine_os.os_task)}
    spec, function = specs[task]
    env = dict(os.environ, HOME=str(tmp_path), XDG_STATE_HOME=str(tmp_path / 'state'))
    result = controller.run_task(_ShAction(dict(args, executable=garbage_podman), env), {}, spec, function)
    assert result['failed'] is True and result['controller_side'] is True, result
    assert garbage_podman in result['msg'] or 'podman machine' in result['msg'], result['msg']
    assert result['commands'], result

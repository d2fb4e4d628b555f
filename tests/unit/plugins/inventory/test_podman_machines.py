# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The inventory plugin's connection variables: what OpenSSH is told about a machine."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from ansible_collections.machinist.podman.plugins.inventory.podman_machines import connection_vars
from ansible_collections.machinist.podman.plugins.module_utils._host.state import StateStore
from ansible_collections.machinist.podman.tests.unit.ssh_server import SSHServer, keygen

FACTS = {'name': 'dev', 'ssh': {'port': 41234, 'user': 'core', 'identity_path': '/home/u/.ssh/dev'}}


def test_a_machine_is_reached_on_loopback_with_its_key_and_checked_host_key():
    v = connection_vars(FACTS, '/home/u/.local/state/machinist.podman/known_hosts')
    assert (v['ansible_host'], v['ansible_port'], v['ansible_user']) == ('127.0.0.1', 41234, 'core')
    assert v['ansible_ssh_private_key_file'] == '/home/u/.ssh/dev'
    args = shlex.split(v['ansible_ssh_common_args'])
    assert args == ['-o', 'UserKnownHostsFile=/home/u/.local/state/machinist.podman/known_hosts',
                    '-o', 'StrictHostKeyChecking=accept-new', '-o', 'IdentitiesOnly=yes']


def test_a_known_hosts_path_with_spaces_stays_one_argument():
    v = connection_vars(FACTS, '/Users/Jane Doe/Library/machinist podman/known_hosts')
    assert shlex.split(v['ansible_ssh_common_args'])[1] == \
        'UserKnownHostsFile=/Users/Jane Doe/Library/machinist podman/known_hosts'


def test_root_and_a_machine_without_ssh():
    assert connection_vars(FACTS, '/k', as_root=True)['ansible_user'] == 'root'
    assert connection_vars({'name': 'wsl', 'ssh': {}}, '/k') == {}


def test_every_machine_host_turns_host_key_checking_on_for_the_ssh_connection():
    # ANSIBLE_HOST_KEY_CHECKING=False would otherwise put StrictHostKeyChecking=no before our
    # accept-new, and OpenSSH keeps the first value it is given.
    v = connection_vars(FACTS, '/k')
    assert v['ansible_host_key_checking'] is True
    assert v['ansible_ssh_host_key_checking'] is True


def _ssh_command(hostvars):
    """The command line ansible-core's own ssh connection plugin builds for a host with these vars."""
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader
    conn = connection_loader.get('ssh', PlayContext(), None)
    conn.set_options(var_options=hostvars)
    conn.host = hostvars['ansible_host']
    return [a.decode('utf-8') for a in conn._build_command('ssh', 'ssh', conn.host, 'true')]


def _first_strict_host_key_checking(argv):
    values = [argv[i + 1].split('=', 1)[1] for i, a in enumerate(argv[:-1])
              if a == '-o' and argv[i + 1].lower().startswith('stricthostkeychecking=')]
    return values[0] if values else None


def test_host_key_checking_false_in_the_environment_does_not_switch_off_the_machines_check(monkeypatch):
    monkeypatch.setenv('ANSIBLE_HOST_KEY_CHECKING', 'False')
    monkeypatch.setenv('ANSIBLE_SSH_ARGS', '')
    plain = {'ansible_host': '127.0.0.1', 'ansible_port': 41234, 'ansible_user': 'core'}
    # The environment does reach the plugin: without the machine's variables, ssh is told "no".
    assert _first_strict_host_key_checking(_ssh_command(plain)) == 'no'
    argv = _ssh_command(connection_vars(FACTS, '/home/u/.local/state/machinist.podman/known_hosts'))
    assert _first_strict_host_key_checking(argv) == 'accept-new'
    assert 'UserKnownHostsFile=/home/u/.local/state/machinist.podman/known_hosts' in argv


def test_openssh_itself_reads_accept_new_from_that_command_line(monkeypatch):
    monkeypatch.setenv('ANSIBLE_HOST_KEY_CHECKING', 'False')
    argv = _ssh_command(connection_vars(FACTS, '/k'))
    # ssh -G prints the options it would use and connects nowhere.
    out = subprocess.run([argv[0], '-G'] + argv[1:-1], capture_output=True, text=True, check=True).stdout
    settings = dict(line.split(' ', 1) for line in out.splitlines() if ' ' in line)
    assert settings['stricthostkeychecking'] == 'accept-new'
    assert settings['userknownhostsfile'] == '/k'


def test_strict_checking_never_records_a_key(monkeypatch):
    v = connection_vars(FACTS, '/k', checking='strict')
    assert shlex.split(v['ansible_ssh_common_args'])[2:4] == ['-o', 'StrictHostKeyChecking=yes']
    monkeypatch.setenv('ANSIBLE_HOST_KEY_CHECKING', 'False')
    assert _first_strict_host_key_checking(_ssh_command(v)) == 'yes'


def test_an_unknown_checking_mode_is_refused_naming_the_option():
    with pytest.raises(ValueError, match="ssh_host_key_checking must be accept-new or strict, got 'no'"):
        connection_vars(FACTS, '/k', checking='no')


def _run_ansibles_ssh(hostvars):
    argv = _ssh_command(hostvars)
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, check=False)


def test_through_real_openssh_a_changed_machine_key_is_refused_under_host_key_checking_false(tmp_path, monkeypatch):
    monkeypatch.setenv('ANSIBLE_HOST_KEY_CHECKING', 'False')
    monkeypatch.setenv('ANSIBLE_SSH_ARGS', '')  # no ControlMaster: each run is a new connection
    known = tmp_path / 'known_hosts'
    first = SSHServer(keygen(tmp_path / 'host1'))
    port = first.port
    facts = {'name': 'dev', 'ssh': {'port': port, 'user': 'core', 'identity_path': keygen(tmp_path / 'id')}}
    try:
        _run_ansibles_ssh(connection_vars(facts, str(known)))
    finally:
        first.close()
    # accept-new recorded the first key (hashed, where ssh_config says HashKnownHosts yes, as Debian's does)...
    assert _recorded_keys(known, port) == [(tmp_path / 'host1.pub').read_text().split()[1]]
    # ...and refuses another one on the same port, which StrictHostKeyChecking=no would have let through.
    second = SSHServer(keygen(tmp_path / 'host2'), port=port)
    try:
        out = _run_ansibles_ssh(connection_vars(facts, str(known)))
        assert out.returncode == 255
        assert 'REMOTE HOST IDENTIFICATION HAS CHANGED' in out.stderr and 'Host key verification failed.' in out.stderr
        # What podman_machine does for a removed or recreated machine: the line ssh wrote is forgotten,
        # and the new machine's key is then recorded.
        assert StateStore(base=str(tmp_path)).forget_host_key(port) is True
        _run_ansibles_ssh(connection_vars(facts, str(known)))
    finally:
        second.close()
    assert _recorded_keys(known, port) == [(tmp_path / 'host2.pub').read_text().split()[1]]


def _recorded_keys(known, port):
    """The keys OpenSSH itself finds for the machine's port in a known_hosts file (ssh-keygen -F)."""
    out = subprocess.run(['ssh-keygen', '-F', '[127.0.0.1]:%d' % port, '-f', str(known)], capture_output=True, text=True,
                         check=False)
    return [line.split()[2] for line in out.stdout.splitlines() if line and not line.startswith('#')]


def test_through_real_openssh_strict_refuses_a_machine_whose_key_is_not_known(tmp_path, monkeypatch):
    monkeypatch.setenv('ANSIBLE_HOST_KEY_CHECKING', 'False')
    monkeypatch.setenv('ANSIBLE_SSH_ARGS', '')
    known = tmp_path / 'known_hosts'
    server = SSHServer(keygen(tmp_path / 'host'))
    facts = {'name': 'dev', 'ssh': {'port': server.port, 'user': 'core', 'identity_path': keygen(tmp_path / 'id')}}
    try:
        out = _run_ansibles_ssh(connection_vars(facts, str(known), checking='strict'))
    finally:
        server.close()
    assert out.returncode == 255 and 'Host key verification failed.' in out.stderr
    assert not known.exists() or known.read_text() == ''

# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The inventory plugin's connection variables: what OpenSSH is told about a machine."""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest

from ansible_collections.machinist.podman.plugins.inventory.podman_machines import connection_vars


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


@pytest.mark.skipif(not shutil.which('ssh'), reason='needs the OpenSSH client')
def test_openssh_itself_reads_accept_new_from_that_command_line(monkeypatch):
    monkeypatch.setenv('ANSIBLE_HOST_KEY_CHECKING', 'False')
    argv = _ssh_command(connection_vars(FACTS, '/k'))
    # ssh -G prints the options it would use and connects nowhere.
    out = subprocess.run([argv[0], '-G'] + argv[1:-1], capture_output=True, text=True, check=True).stdout
    settings = dict(line.split(' ', 1) for line in out.splitlines() if ' ' in line)
    assert settings['stricthostkeychecking'] == 'accept-new'
    assert settings['userknownhostsfile'] == '/k'

# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The inventory plugin's connection variables: what OpenSSH is told about a machine."""

from __future__ import annotations

import shlex

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

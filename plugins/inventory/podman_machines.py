# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: podman_machines
short_description: This host's Podman machines as Ansible hosts, reached over SSH
version_added: 0.1.0
description:
  - Lists the Podman machines of the user running Ansible (one C(podman machine list) and one C(podman machine inspect)
    per provider, the same facts as M(machinist.podman.podman_machine_info)) and makes each an Ansible host that
    the C(ssh) connection reaches at C(127.0.0.1) on the machine's SSH port, as the machine's user, with its key.
  - So a play can target a machine's own OS, and a role author can point Molecule at a machine.
  - "Host keys are checked: C(ansible_ssh_common_args) points OpenSSH at the collection's own known_hosts file
    (the one the API modules use), with C(StrictHostKeyChecking=accept-new) (C(yes) with
    O(ssh_host_key_checking=strict)). A machine's first key is recorded; a changed key is refused.
    M(machinist.podman.podman_machine) forgets a machine's key when it removes or
    creates the machine, so a new machine on a reused port is not refused."
  - "This holds under C(host_key_checking=False) (C(ANSIBLE_HOST_KEY_CHECKING=False), C(ansible.cfg)) too: each
    machine host gets C(ansible_host_key_checking=true) and C(ansible_ssh_host_key_checking=true). Without them the
    C(ssh) connection would put C(-o StrictHostKeyChecking=no) before the plugin's arguments, and OpenSSH keeps the
    first value it is given. To switch the check off for machines anyway, set those variables for them yourself
    (O(compose), C(host_vars) or extra vars); do not put C(StrictHostKeyChecking) into C(ssh_args) either, as
    those come first too."
  - "Trust on first use: a key is recorded without any check whenever the collection's known_hosts has no line for
    the machine's port, that is at the first connection to a new machine and at the first after
    M(machinist.podman.podman_machine) forgot the key (when it removed or created a machine). Podman itself never
    checks a machine's key. In that window, whatever listens on C(127.0.0.1) at that port (a program of any local
    user, while the machine is stopped or gone) is recorded as the machine and trusted from then on."
  - "Where that matters, set O(ssh_host_key_checking=strict) and put each machine's key into the collection's
    known_hosts (C($XDG_STATE_HOME/machinist.podman/known_hosts), a line C([127.0.0.1]:PORT KEYTYPE BASE64)) from
    a source that is not the machine's SSH port: a host key you provisioned with Ignition
    (M(machinist.podman.ignition_config)), or on WSL C(wsl -d DISTRIBUTION cat /etc/ssh/ssh_host_ed25519_key.pub) through WSL rather than SSH.
    C(podman machine ssh) is no such source: it does not check the key either. Otherwise connect right after the
    machine is created and started, so the window is short."
  - "Groups: C(podman_machines) (all), C(podman_machines_<provider>), C(podman_machines_<state>) (running, stopped,
    ...), C(podman_machines_rootful) and C(podman_machines_rootless); more with O(keyed_groups) and O(groups)."
  - "Host variables: the C(ansible_*) connection variables and C(podman_machine), the machine's facts."
  - The file must be named C(*.podman_machines.yml) or C(*.podman_machines.yaml).
author:
  - machinist.podman contributors (@machinist-podman)
extends_documentation_fragment:
  - constructed
options:
  plugin:
    description: The name of this plugin.
    type: str
    required: true
    choices: [machinist.podman.podman_machines]
  executable:
    description: The podman program, a name on E(PATH) or a path.
    type: str
    default: podman
  provider:
    description: The provider whose machines to list; unset means podman's default.
    type: str
    choices: [qemu, applehv, libkrun, wsl, hyperv]
  all_providers:
    description: List the machines of every provider (Podman 5.3 to 5.x).
    type: bool
    default: false
  names:
    description: Machine names or shell-style patterns; unset lists every machine.
    type: list
    elements: str
  running_only:
    description: Only machines that are running (the others cannot be reached).
    type: bool
    default: false
  root:
    description:
      - Connect as C(root) rather than the machine's user. Podman puts the machine's key in root's
        C(authorized_keys) too.
    type: bool
    default: false
  ssh_host_key_checking:
    description:
      - V(accept-new) records a machine's key on first use when the collection's known_hosts has none for its port
        (OpenSSH's C(StrictHostKeyChecking=accept-new)); V(strict) (C(StrictHostKeyChecking=yes)) refuses such a
        machine, so every key must have been put into that file beforehand. Both refuse a key that changed.
      - Use V(strict) where the trust-on-first-use window described above is not acceptable.
    type: str
    choices: [accept-new, strict]
    default: accept-new
"""

EXAMPLES = r"""
# machines.podman_machines.yml
plugin: machinist.podman.podman_machines
running_only: true
keyed_groups:
  - key: podman_machine.podman_version
    prefix: podman

# ansible-inventory -i machines.podman_machines.yml --graph
# ansible -i machines.podman_machines.yml podman_machines_running -m ansible.builtin.raw -a 'uname -m'
"""

import re
import shlex

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalRunner, find_program, no_such_program
from ansible_collections.machinist.podman.plugins.module_utils._machine.client import MachineError, client_for
from ansible_collections.machinist.podman.plugins.module_utils._machine.facts import ssh_login
from ansible_collections.machinist.podman.plugins.module_utils._machine.info import gather
from ansible_collections.machinist.podman.plugins.plugin_utils._local import run_command


def _group_part(text):
    return re.sub(r'[^A-Za-z0-9_]', '_', str(text or 'unknown'))


_CHECKING = {'accept-new': 'accept-new', 'strict': 'yes'}


def connection_vars(facts, known_hosts, as_root=False, checking='accept-new'):
    """The ansible_* variables that reach a machine over SSH, with its host key checked."""
    if checking not in _CHECKING:
        raise ValueError('ssh_host_key_checking must be accept-new or strict, got %r' % (checking,))
    login = ssh_login(facts, as_root)
    if not login:
        return {}
    return {
        'ansible_connection': 'ssh',
        'ansible_host': login['host'],
        'ansible_port': login['port'],
        'ansible_user': login['user'],
        'ansible_ssh_private_key_file': login['identity'],
        # Under host_key_checking=False the ssh connection adds -o StrictHostKeyChecking=no before
        # ansible_ssh_common_args, and OpenSSH takes the first value. Both names, since the plugin
        # reads the last one it finds and a group's value of either must not switch it off.
        'ansible_host_key_checking': True,
        'ansible_ssh_host_key_checking': True,
        'ansible_ssh_common_args': ' '.join([
            '-o', shlex.quote('UserKnownHostsFile=%s' % known_hosts),
            '-o', 'StrictHostKeyChecking=' + _CHECKING[checking],
            '-o', 'IdentitiesOnly=yes',
        ]),
    }


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = 'machinist.podman.podman_machines'

    def verify_file(self, path):
        return super().verify_file(path) and \
            path.endswith(('.podman_machines.yml', '.podman_machines.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        executable = self.get_option('executable')
        found = find_program(executable)
        if not found:
            raise AnsibleParserError(no_such_program(executable))
        client = client_for(LocalRunner(found, run_command))
        try:
            machines, warnings = gather(client, self.get_option('names'), self.get_option('provider'),
                                        self.get_option('all_providers'))
        except MachineError as e:
            raise AnsibleParserError('podman machine: %s' % e)
        for w in warnings:
            self.display.warning(w)
        strict = self.get_option('strict')
        top = self.inventory.add_group('podman_machines')
        for facts in machines:
            if self.get_option('running_only') and facts.get('state') != 'running':
                continue
            name = facts['name']
            self.inventory.add_host(name, group=top)
            facts = client.describe(facts)
            for key, value in connection_vars(facts, client.store.known_hosts(), self.get_option('root'),
                                              self.get_option('ssh_host_key_checking')).items():
                self.inventory.set_variable(name, key, value)
            self.inventory.set_variable(name, 'podman_machine', facts)
            for part in ('provider_' + _group_part(facts.get('provider')), _group_part(facts.get('state')),
                         'rootful' if facts.get('rootful') else 'rootless'):
                group = self.inventory.add_group('podman_machines_' + part.replace('provider_', ''))
                self.inventory.add_child(group, name)
            hostvars = self.inventory.get_host(name).get_vars()
            self._set_composite_vars(self.get_option('compose'), hostvars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), hostvars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), hostvars, name, strict=strict)

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: port_forward
short_description: Host-to-machine port forwards through gvproxy, kept across restarts
version_added: 0.2.0
description:
  - Makes host ports (or host unix sockets) forward to ports inside a Podman machine, for services that are not
    published containers (Cockpit, a database, an SSH server in the VM), through the machine's gvproxy.
  - gvproxy's forwarder API answers only inside the machine, at the gateway V(192.168.127.1:80). The module reaches it
    over SSH into the machine (the machine's port, user and key, the host key checked) through a channel to the
    gateway. It never opens gvproxy's API on the host network (that was CVE-2021-4024).
  - gvproxy keeps forwards only in memory, so with O(persist=true) the module also writes, inside the machine, a
    script and a user unit that re-apply the declared forwards at every boot, whoever restarts the machine.
  - A forward that this collection did not declare (podman makes one for each port a container publishes, and one
    for the machine's SSH port) is never taken over or removed. A clash with one fails the task and names both
    owners, this task and the container (or podman) that holds the port.
  - For setups that start gvproxy themselves with an API socket (C(gvproxy -listen unix://...)), O(gvproxy_socket)
    talks to that socket directly.
author:
  - machinist.podman contributors (@machinist-podman)
extends_documentation_fragment:
  - machinist.podman._api.SSH
  - machinist.podman._attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads gvproxy's forwards and reports what would be exposed and unexposed.
  diff_mode:
    support: full
    details:
      - Returns gvproxy's forward list before and after.
  idempotent:
    support: full
options:
  machine:
    description:
      - The running Podman machine whose gvproxy to drive. Exactly one of O(machine) and O(gvproxy_socket) is required.
    type: str
  gvproxy_socket:
    description:
      - The unix socket of a gvproxy started with C(-listen unix://PATH) (or C(-services)). Podman never starts
        gvproxy with one, so this is for setups of your own and for tests.
    type: path
  forwards:
    description: The forwards to make present or absent.
    type: list
    elements: dict
    required: true
    suboptions:
      host_port:
        description: The port gvproxy binds on the host. Required for tcp and udp.
        type: int
      host_ip:
        description:
          - The host address gvproxy binds. V(0.0.0.0) (or an empty string) binds every interface, as podman does for
            published ports; the default keeps the service private to this host.
        type: str
        default: 127.0.0.1
      host_socket:
        description: For O(forwards[].protocol=unix), the unix socket path gvproxy creates on the host.
        type: str
      guest_ip:
        description: The address inside the virtual network to forward to; the machine itself is V(192.168.127.2).
        type: str
        default: 192.168.127.2
      guest_port:
        description: The port in the machine. Defaults to O(forwards[].host_port).
        type: int
      protocol:
        description:
          - V(unix) forwards a host socket to a TCP port in the machine.
          - Defaults to V(unix) when O(forwards[].host_socket) is given, else V(tcp).
        type: str
        choices: [tcp, udp, unix]
  state:
    description: Make the forwards present or absent.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - Also remove the forwards this collection declared earlier for this machine and that O(forwards) no longer
        lists. Forwards made by others are never removed.
    type: bool
    default: false
  persist:
    description:
      - With O(machine), keep the declared forwards in the machine (C(~/.config/machinist-podman/)) with a user unit,
        C(machinist-podman-forwards.service), that re-applies them at every boot.
      - With V(false), forwards last until the machine stops, and the list of the forwards this collection declared is
        kept on the host that runs the module, in C($XDG_STATE_HOME/machinist.podman/forwards/) (the same file from
        any working directory).
    type: bool
    default: true
requirements:
  - With O(machine), the OpenSSH client or paramiko on the host that runs the module (O(ssh_client)).
notes:
  - WSL machines without user-mode networking have no gvproxy; the module says so.
"""

EXAMPLES = r"""
- name: Cockpit in the default machine at https://localhost:9090, kept across restarts
  machinist.podman.port_forward:
    machine: podman-machine-default
    forwards:
      - host_port: 9090

- name: PostgreSQL in the VM on host port 15432, for the whole LAN, and a host socket for a Docker-API service
  machinist.podman.port_forward:
    machine: podman-machine-default
    forwards:
      - {host_ip: 0.0.0.0, host_port: 15432, guest_port: 5432}
      - {protocol: unix, host_socket: /tmp/dev-api.sock, guest_port: 2375}
    exclusive: true

- name: Drop one
  machinist.podman.port_forward:
    machine: podman-machine-default
    forwards:
      - host_port: 9090
    state: absent
"""

RETURN = r"""
forwards:
  description: gvproxy's forwards after the task (predicted in check mode), each with local, remote and protocol.
  returned: success
  type: list
  elements: dict
  sample: [{"local": "127.0.0.1:9090", "remote": "192.168.127.2:9090", "protocol": "tcp"}]
exposed:
  description: The forwards added (or that would be).
  returned: success
  type: list
  elements: dict
unexposed:
  description: The forwards removed (or that would be).
  returned: success
  type: list
  elements: dict
clashes:
  description: On failure, each clash with a forward another owner made, naming both owners.
  returned: failure
  type: list
  elements: str
ssh_client:
  description: The SSH client that reached the machine (V(paramiko) or V(openssh), see O(ssh_client)).
  returned: with O(machine)
  type: str
  sample: openssh
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.machinist.podman.plugins.module_utils._tasks.api import run_api_module
from ansible_collections.machinist.podman.plugins.module_utils._tasks.forward import FORWARD_ARGS, FORWARD_RULES, forward_task


def main():
    module = AnsibleModule(argument_spec=FORWARD_ARGS, supports_check_mode=True, **FORWARD_RULES)
    run_api_module(module, forward_task)


if __name__ == '__main__':
    main()

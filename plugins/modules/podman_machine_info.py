#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: podman_machine_info
short_description: Facts about Podman machines, the same on every Podman version
version_added: 0.1.0
description:
  - Lists Podman machines (all, one by name, or those matching shell-style patterns) with the facts that
    M(machinist.podman.podman_machine) returns, normalised across Podman 4.x, 5.x and 6.x.
  - Uses one C(podman machine list) and one C(podman machine inspect) per provider.
author:
  - machinist.podman contributors (@machinist-podman)
extends_documentation_fragment:
  - machinist.podman._common
  - machinist.podman._attributes
  - machinist.podman._attributes.INFO_MODULE
  - machinist.podman._attributes.ACTIONGROUP_MACHINE
  - machinist.podman._attributes.CONTROLLER_SIDE
options:
  name:
    description:
      - Machine names or shell-style patterns (V(dev-*)). Unset lists every machine.
      - A plain name that matches no machine gives an empty list, not an error.
    type: list
    elements: str
  all_providers:
    description:
      - List the machines of every provider on the host, not only the current provider's. Needs Podman 5.3 to 5.x;
        on other versions only the current provider's machines are listed and a warning says so.
    type: bool
    default: false
  command_timeout:
    description: Seconds each podman command (inspect, list) may run before it is stopped and the task fails.
    type: int
    default: 300
"""

EXAMPLES = r"""
- name: All machines
  machinist.podman.podman_machine_info:
  register: all_machines

- name: The running ones
  ansible.builtin.debug:
    msg: "{{ all_machines.machines | selectattr('state', 'equalto', 'running') | map(attribute='name') | list }}"

- name: Machines whose names start with ci-, across providers
  machinist.podman.podman_machine_info:
    name: ci-*
    all_providers: true
  register: ci_machines
"""

RETURN = r"""
machines:
  description:
    - One dict per machine, sorted by name, with the keys of the C(machine) result of
      M(machinist.podman.podman_machine) plus C(default) (whether it is podman's default connection) and
      C(swap_mib) (Podman 5.6 and later).
  returned: always
  type: list
  elements: dict
podman_version:
  description: The version of the podman that was run.
  returned: always
  type: str
  sample: 5.8.6
commands:
  description: Every podman command line that ran.
  returned: always
  type: list
  elements: list
controller_side:
  description:
    - Present and true when the task ran on the controller and reached podman through the connection (a Windows
      target, a local connection unless C(machinist_podman_controller_side=false), or
      C(machinist_podman_controller_side=true)).
  returned: on the controller-side path
  type: bool
  sample: true
"""


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.machinist.podman.plugins.module_utils._tasks.common import run_in_module
from ansible_collections.machinist.podman.plugins.module_utils._tasks.machine import INFO_ARGS, info_task


def main():
    run_in_module(AnsibleModule(argument_spec=INFO_ARGS, supports_check_mode=True), info_task)


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: podman_machine_health
short_description: Checks a Podman machine for the failures its users hit, and repairs what is safe to repair
version_added: 0.3.0
description:
  - Checks one machine and returns its findings, each with an C(id) (the check), a C(severity) (V(error),
    V(warning) or V(info)), what was C(seen), the C(fix), and how it is repaired (C(repair)), V(repair) by this
    module with O(repair=true), V(restart) only with O(allow_restart=true) as well, V(manual) by a person.
  - C(process) - the VM and its network helper (gvproxy) run when podman says the machine runs; a stale
    C(Starting) (a start that was killed) is named.
  - C(reachability) - SSH answers with the pinned host key, and the host-side API socket answers C(_ping).
  - C(clock) - the skew between the host's clock and the guest's (measured over one SSH round trip, with its
    uncertainty). Repair steps the guest's clock to the host's (C(date -s), as root).
  - C(disk) - free space in the guest (O(min_free_percent)), and the space the disk image takes on the host
    against what the guest's files use (O(reclaim_threshold)). Repair runs C(fstrim) in the guest and reports the
    image's allocated size before and after. When the VM does not pass discards through to the image (podman's
    qemu is started without C(discard=unmap) on Linux), the finding says so and nothing is trimmed.
  - C(forwards) - every forward declared with M(machinist.podman.port_forward) is in gvproxy. Repair exposes the
    missing ones again.
  - C(default_connection) - the default system connection is not the machine's other socket (the rootful one for a
    rootless machine, or the other way round), and is the machine's own when O(default_connection=true). Repair makes
    the machine's connection the default.
  - C(version) - the guest's podman against the client's (a different major version is an error, a different minor
    one a warning), with the way to upgrade (M(machinist.podman.podman_machine_os)).
  - C(dns) - the guest resolves the host's names that gvproxy's DNS serves (C(host.containers.internal),
    C(host.docker.internal)).
  - A repair that disturbs running containers (a restart, for a dead gvproxy or VM) happens only with
    O(allow_restart=true); the others need only O(repair=true). After repairing, the machine is checked again and
    the findings returned are those that remain (the first ones are in RV(found)).
  - A machine that is not running is reported as such (an V(info) finding); this module does not start it.
  - Reaches the machine over its own SSH (host key checked against the collection's known_hosts, as the API
    modules do), with the OpenSSH client or paramiko on the host that runs the task (O(ssh_client)).
author:
  - machinist.podman contributors (@machinist-podman)
extends_documentation_fragment:
  - machinist.podman._api.SSH
  - machinist.podman._attributes
attributes:
  check_mode:
    support: full
    details:
      - Checks, and with O(repair=true) returns in RV(repaired) what the repair would do, without doing it.
  diff_mode:
    support: full
    details:
      - The ids of the findings before and after the repair.
  idempotent:
    support: full
    details:
      - A healthy machine gives no findings and C(changed=false); a repair changes the machine only for a finding.
options:
  machine:
    description: The Podman machine to check.
    type: str
    required: true
  checks:
    description: The checks to run (all by default).
    type: list
    elements: str
    choices: [process, reachability, clock, disk, forwards, default_connection, version, dns]
    default: [process, reachability, clock, disk, forwards, default_connection, version, dns]
  repair:
    description: Repair what this module can repair safely, then check again.
    type: bool
    default: false
  allow_restart:
    description:
      - With O(repair=true), restart a machine whose VM, gvproxy or DNS is gone (its containers stop, and start
        again only if a restart policy says so).
    type: bool
    default: false
  max_clock_skew:
    description: Seconds the guest's clock may differ from the host's (beyond the measurement's uncertainty).
    type: float
    default: 2.0
  min_free_percent:
    description: The free space, in percent, under which the guest's largest file system is reported.
    type: float
    default: 10.0
  reclaim_threshold:
    description: MiB the disk image may take on the host beyond what the guest's files use before it is reported.
    type: int
    default: 2048
  default_connection:
    description:
      - V(true) - the machine's connection must be the default (as M(machinist.podman.podman_machine)'s
        C(default_connection)). Unset or V(false) - only a default pointing at the machine's other socket is wrong.
    type: bool
  timeout:
    description: Seconds each command in the machine (and a restart) may take.
    type: int
    default: 300
  executable:
    description: The podman that runs the machine.
    type: str
    default: podman
notes:
  - Tested for real in booted machines (podman 4.3.1, 5.4.2 and 6.1.1 with Debian guests) with each fault injected,
    the guest clock set back three hours, 512 MiB written and deleted, a forward removed from gvproxy, the default
    connection switched to the other socket, gvproxy killed.
"""

EXAMPLES = r"""
- name: Check the machine, report only
  machinist.podman.podman_machine_health:
    machine: podman-machine-default
  register: health

- name: Show what is wrong
  ansible.builtin.debug:
    msg: "{{ health.findings | map(attribute='seen') | list }}"
  when: not health.healthy

- name: Repair what is safe (clock, trim, forwards, default connection), not a restart
  machinist.podman.podman_machine_health:
    machine: podman-machine-default
    repair: true

- name: Repair everything, restarting the machine when its gvproxy died
  machinist.podman.podman_machine_health:
    machine: podman-machine-default
    repair: true
    allow_restart: true
"""

RETURN = r"""
healthy:
  description: No finding of severity error or warning remains.
  returned: success
  type: bool
findings:
  description: What remains wrong (after the repair, with O(repair=true)), each with id, severity, seen, fix and repair.
  returned: success
  type: list
  elements: dict
  sample:
    - id: clock
      severity: error
      seen: machine podman-machine-default's clock is 10800.2 s behind the host's (more than max_clock_skew=2.0)
      fix: "repair: true steps the guest's clock to the host's"
      repair: repair
      skew_seconds: -10800.2
found:
  description: The findings of the first check, before any repair.
  returned: success
  type: list
  elements: dict
repaired:
  description: The repairs done (or, in check mode, that would be), in order, with what each measured.
  returned: success
  type: list
  elements: dict
  sample:
    - repair: disk
      image: /home/me/.local/share/containers/podman/machine/qemu/podman-machine-default-amd64.qcow2
      allocated_before: 2147483648
      allocated_after: 1610612736
not_repaired:
  description: Findings that repair left alone, and why.
  returned: when a restart was needed and not allowed
  type: list
  elements: str
measurements:
  description: What the checks measured (clock skew, disk sizes, DNS answers, the guest's podman, the forwards).
  returned: success
  type: dict
commands:
  description: What was run in the machine and asked of gvproxy, in order, then what was run on the host (C(host:)), in order.
  returned: always
  type: list
  elements: str
ssh_client:
  description: The SSH client that reached the machine (V(paramiko) or V(openssh), see O(ssh_client)).
  returned: when the machine was reached over SSH
  type: str
  sample: openssh
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.machinist.podman.plugins.module_utils._tasks.api import run_api_module
from ansible_collections.machinist.podman.plugins.module_utils._tasks.machine_health import HEALTH_ARGS, health_task


def main():
    module = AnsibleModule(argument_spec=HEALTH_ARGS, supports_check_mode=True)
    run_api_module(module, health_task)


if __name__ == '__main__':
    main()

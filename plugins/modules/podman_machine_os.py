#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: podman_machine_os
short_description: Packages present in a Podman machine's own OS, installed the way that OS supports
version_added: 0.1.0
description:
  - Makes packages (such as C(qemu-user-static)) present in the OS of a running Podman machine, and can bring that OS
    up to date. It runs on the host that owns the machine and reaches the guest with C(podman machine ssh).
  - One probe reads the guest's C(/etc/os-release), C(rpm-ostree status --json) and its package database. Packages
    already there change nothing.
  - "The way is chosen per machine (O(method=auto)):"
  - "C(os_apply): an image-based machine OS (Podman 5 and later, C(quay.io/podman/machine-os)). A derived image is built
    in the machine C(FROM) the image it runs, with the packages added by C(rpm-ostree install), and applied with
    C(podman machine os apply --restart). This is upstream's supported way; layering on the booted system is not."
  - "C(rpm_ostree): Fedora CoreOS machines of Podman 4. C(rpm-ostree install --idempotent --allow-inactive), then a
    restart of the machine to boot the new deployment. A deployment already pending with the packages is booted
    instead of made again."
  - "C(dnf): Fedora without ostree, such as the WSL machine image. C(apt): Debian-based images."
  - After any change the probe runs again, and the task fails unless every package is installed.
author:
  - machinist.podman contributors (@machinist-podman)
extends_documentation_fragment:
  - machinist.podman._common
  - machinist.podman._attributes
  - machinist.podman._attributes.ACTIONGROUP_MACHINE
  - machinist.podman._attributes.CONTROLLER_SIDE
attributes:
  check_mode:
    support: full
    details:
      - Probes the guest (read only) and returns the steps it would take.
  diff_mode:
    support: full
    details:
      - C(before) and C(after) list the requested packages that are installed.
  idempotent:
    support: full
    details:
      - With O(upgrade=true), a second run changes nothing once the OS is current.
options:
  name:
    description: The machine. It must exist and be running.
    type: str
    default: podman-machine-default
  packages:
    description:
      - Package names that must be present in the machine OS. Names only, no versions.
      - On machine-os images, packages the image already ships (C(qemu-user-static) since Podman 5.2) are found by the
        probe and change nothing.
    type: list
    elements: str
    default: []
  upgrade:
    description:
      - Also bring the machine OS up to date the way its version supports. C(rpm-ostree upgrade) on Fedora CoreOS
        (then a restart if there was an update); on Podman 5, C(podman machine os apply --restart) of
        C(quay.io/podman/machine-os:<podman major.minor>) when the machine runs another stream, else C(rpm-ostree
        upgrade); on Podman 6, C(podman machine os upgrade --restart); C(apt-get upgrade) or C(dnf upgrade)
        otherwise.
    type: bool
    default: false
  method:
    description:
      - The way to change the OS. V(auto) picks it from the probe, as described above; the others force it and fail
        if the machine OS cannot use it.
    type: str
    choices: [auto, os_apply, rpm_ostree, dnf, apt]
    default: auto
  base_image:
    description:
      - For O(method=os_apply), the image to build the derived image C(FROM). Unset means the image the machine runs,
        as C(rpm-ostree status) names it. Needed when that is not a registry image (an image applied from a local
        directory, say).
      - An image reference, V([REGISTRY[:PORT]/]NAME[:TAG][@DIGEST]) with a lowercase name; anything else (a space, a
        newline, a shell character) is refused, since it becomes the C(FROM) line of the derived image's Containerfile.
    type: str
  timeout:
    description: Seconds each step may take (a package install, a build, a restart), and each podman command.
    type: int
    default: 1800
notes:
  - The guest needs network access to its package repositories (or registry, for C(os_apply)).
  - Packages are installed with C(sudo) in the guest, as the user C(podman machine ssh) logs in as.
seealso:
  - module: machinist.podman.podman_machine
  - name: podman-machine-os-apply(1)
    description: How Podman applies a derived OS image to a machine.
    link: https://docs.podman.io/en/latest/markdown/podman-machine-os-apply.1.html
"""

EXAMPLES = r"""
- name: Run amd64 images on an Apple Silicon machine (and arm64 images on an x86_64 one)
  machinist.podman.podman_machine_os:
    name: podman-machine-default
    packages: [qemu-user-static]
  register: os_result

- name: Say whether the machine restarted
  ansible.builtin.debug:
    msg: "{{ os_result.method }}: restarted {{ os_result.restarted }}"

- name: Keep a fleet's machines current
  machinist.podman.podman_machine_os:
    upgrade: true
"""

RETURN = r"""
method:
  description: The way that was chosen (V(os_apply), V(rpm_ostree), V(dnf) or V(apt)).
  returned: always
  type: str
  sample: apt
restarted:
  description: Whether the machine was restarted (to boot a new deployment or an applied image).
  returned: always
  type: bool
packages:
  description: The requested packages that are installed (after the change; in check mode, before it).
  returned: always
  type: list
  elements: str
present_before:
  description: The requested packages that were already installed.
  returned: always
  type: list
  elements: str
os:
  description: The machine OS as the probe read it (after the change).
  returned: always
  type: dict
  sample:
    id: fedora
    version_id: "42"
    variant_id: coreos
    arch: x86_64
    ostree:
      version: 42.20250901.3.0
      image_reference: ostree-unverified-registry:quay.io/podman/machine-os:5.6
      layered_packages: []
      pending_deployment: false
actions:
  description: The steps taken (in check mode, the steps that would be taken), each with its reason.
  returned: always
  type: list
  elements: dict
commands:
  description: Every podman command line that ran.
  returned: always
  type: list
  elements: list
controller_side:
  description:
    - Present and true when the task ran on the controller and reached podman through the connection (a Windows
      target, or C(machinist_podman_controller_side=true)).
  returned: on the controller-side path
  type: bool
  sample: true
"""


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.machinist.podman.plugins.module_utils._tasks.common import run_in_module
from ansible_collections.machinist.podman.plugins.module_utils._tasks.machine_os import OS_ARGS, os_task


def main():
    run_in_module(AnsibleModule(argument_spec=OS_ARGS, supports_check_mode=True), os_task)


if __name__ == '__main__':
    main()

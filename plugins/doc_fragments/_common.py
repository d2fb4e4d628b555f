# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Options every module that runs `podman machine` shares. Set them once for a play with
    # module_defaults: {group/machinist.podman.machine: {executable: ...}}.
    DOCUMENTATION = r"""
options:
  executable:
    description:
      - The podman program to run, as a name looked up on E(PATH) or as a path.
      - V(podman machine) refuses to run as root, so the task must run as the user who owns the machines,
        without O(ignore:become).
    type: str
    default: podman
  provider:
    description:
      - The virtualisation provider, passed to podman as E(CONTAINERS_MACHINE_PROVIDER).
      - Unset means podman's own choice (containers.conf, else the host's default, V(qemu) on Linux,
        V(applehv) on macOS, V(wsl) on Windows).
      - Podman before 4.6 cannot choose a provider; asking it for another than the default fails.
    type: str
    choices: [qemu, applehv, libkrun, wsl, hyperv]
requirements:
  - podman 4.0 or later on the host that runs the machines (tested with 4.3.1, 5.4.2 and 5.8.6)
notes:
  - The module remembers, under C($XDG_STATE_HOME/machinist.podman), the podman version of each executable
    (so a run that changes nothing makes one podman call) and the options only C(podman machine init) applies
    (so a changed O(machinist.podman.podman_machine#module:image) is noticed). It never writes into podman's folders.
"""

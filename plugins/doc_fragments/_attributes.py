# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The attributes every module of the collection documents.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
"""

    ACTIONGROUP_MACHINE = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/machinist.podman.machine) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - machinist.podman.machine
"""

    ACTIONGROUP_API = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/machinist.podman.api) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - machinist.podman.api
"""

    # The machine modules that also run for Windows targets (plugins/plugin_utils/_controller_side.py).
    CONTROLLER_SIDE = r"""
options: {}
attributes:
  platform:
    description: Target operating systems this module can manage Podman machines on.
    support: full
    platforms: [posix, windows]
    details:
      - On a POSIX target (Linux, macOS) the module runs there, as any module.
      - On a Windows target (a connection with the PowerShell shell, over WinRM, PSRP or SSH) the same code runs on
        the controller and sends each C(podman.exe) command through the connection as a PowerShell script. No Python
        is needed on the target.
  async:
    description: Supports being used with the C(async) keyword.
    support: partial
    details:
      - Only on POSIX targets. On the controller-side path (Windows targets) the task is refused with C(async).
notes:
  - On a Windows target the controller builds each command. Program and arguments go to C(Start-Process) as one
    Windows command line quoted by the C runtime's rules inside a single-quoted PowerShell string, so spaces,
    quotes, C($), backticks and non-ASCII characters in paths arrive unchanged. Output goes through temporary files
    and C(timeout) stops the whole process tree.
  - On Windows, C(executable=podman) means C(podman.exe) on the target's C(PATH); C(~) and C(%USERPROFILE%) at the
    start of a path option are the target user's profile folder. The collection's state (init records, versions)
    is kept in C(%USERPROFILE%\.local\state\machinist.podman).
  - Hyper-V machines need an elevated session; a change to one from a user without the administrator token is
    refused before podman is asked, with that reason. WSL machines cannot change cpus, memory or disk_size.
  - The variable C(machinist_podman_controller_side=true) takes the controller-side path on a POSIX target too
    (POSIX sh scripts through the connection), for targets without Python.
"""

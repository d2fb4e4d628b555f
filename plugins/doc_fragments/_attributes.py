# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
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

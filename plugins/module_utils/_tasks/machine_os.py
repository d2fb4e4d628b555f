# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What podman_machine_os does with its options, over any runner.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._machine.client import client_for
from ansible_collections.machinist.podman.plugins.module_utils._machine_os.converge import MachineOSConverger
from ansible_collections.machinist.podman.plugins.module_utils._machine_os.plan import METHODS
from ansible_collections.machinist.podman.plugins.module_utils._tasks.common import COMMON_ARGS, finished, set_deadline

if TYPE_CHECKING:
    from typing import Any

    from ansible_collections.machinist.podman.plugins.module_utils._host.runner import Runner

OS_ARGS = dict(
    name=dict(type='str', default='podman-machine-default'),
    packages=dict(type='list', elements='str', default=[]),
    upgrade=dict(type='bool', default=False),
    method=dict(type='str', default='auto', choices=['auto'] + list(METHODS)),
    base_image=dict(type='str'),
    timeout=dict(type='int', default=1800),
    **COMMON_ARGS
)


def os_task(params: dict[str, Any], runner: Runner, check_mode: bool = False, diff: bool = False) -> dict[str, Any]:
    """podman_machine_os: packages (and updates) in the machine's own OS, over `podman machine ssh`."""
    set_deadline(runner, params, 'timeout')
    client = client_for(runner)
    conv = MachineOSConverger(client, check_mode=check_mode, timeout=params['timeout'])
    out = conv.converge(params['name'], params['packages'], provider=params['provider'], method=params['method'],
                        upgrade=params['upgrade'], base_image=params['base_image'])
    return finished(out, runner, diff)

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What podman_machine, podman_machine_info and podman_machine_os do with their options, over any runner.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

Two callers share these functions, so both paths behave alike by construction:
- the modules (plugins/modules/podman_machine*.py), which run on a POSIX target with a LocalRunner;
- the action plugins' controller-side path (plugins/plugin_utils/_controller_side.py), taken for
  Windows targets, which runs this on the controller with a RemoteRunner over the connection.

A task returns the module result (with `warnings` as a list) or raises a MachinistError (TASK_ERRORS);
_common/errors.py failure() turns those into the failed result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._machine.client import client_for
from ansible_collections.machinist.podman.plugins.module_utils._machine.converge import Converger
from ansible_collections.machinist.podman.plugins.module_utils._machine.info import gather
from ansible_collections.machinist.podman.plugins.module_utils._machine.plan import STATES
from ansible_collections.machinist.podman.plugins.module_utils._machine.spec import SpecError, desired_from_params
from ansible_collections.machinist.podman.plugins.module_utils._tasks.common import COMMON_ARGS, finished, set_deadline

if TYPE_CHECKING:
    from typing import Any

    from ansible_collections.machinist.podman.plugins.module_utils._host.runner import Runner

MACHINE_ARGS = dict(
    name=dict(type='str', default='podman-machine-default'),
    state=dict(type='str', default='present', choices=list(STATES)),
    cpus=dict(type='int'),
    memory=dict(type='str'),
    disk_size=dict(type='str'),
    swap=dict(type='str'),
    image=dict(type='str'),
    rootful=dict(type='bool'),
    user_mode_networking=dict(type='bool'),
    volumes=dict(type='list', elements='str'),
    timezone=dict(type='str'),
    username=dict(type='str'),
    ignition_path=dict(type='path'),
    playbook=dict(type='path'),
    usb=dict(type='list', elements='str'),
    rosetta=dict(type='bool'),
    default_connection=dict(type='bool'),
    import_native_ca=dict(type='bool'),
    recreate=dict(type='bool', default=False),
    timeout=dict(type='int', default=600),
    command_timeout=dict(type='int', default=1800),
    pin_host_key=dict(type='bool', default=True),
    **COMMON_ARGS
)

INFO_ARGS = dict(
    name=dict(type='list', elements='str'),
    all_providers=dict(type='bool', default=False),
    command_timeout=dict(type='int', default=300),
    **COMMON_ARGS
)


def machine_task(params: dict[str, Any], runner: Runner, check_mode: bool = False, diff: bool = False) -> dict[str, Any]:
    desired = desired_from_params(params)
    if params['timeout'] <= 0:
        raise SpecError('timeout must be a positive number of seconds')
    set_deadline(runner, params, 'command_timeout')
    client = client_for(runner)
    converger = Converger(client, check_mode=check_mode, start_timeout=params['timeout'],
                          path_exists=runner.path_exists, pin_host_key=params['pin_host_key'])
    return finished(converger.converge(desired, params['state'], recreate=params['recreate']), runner, diff)


def info_task(params: dict[str, Any], runner: Runner, check_mode: bool = False, diff: bool = False) -> dict[str, Any]:
    set_deadline(runner, params, 'command_timeout')
    client = client_for(runner)
    machines, warnings = gather(client, params['name'], params['provider'], params['all_providers'])
    return {'changed': False, 'machines': machines, 'podman_version': str(client.caps.version),
            'commands': runner.commands(), 'warnings': warnings}

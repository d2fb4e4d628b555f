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

A task returns the module result (with `warnings` as a list) or raises one of TASK_ERRORS;
_module_glue.failure() turns those into the failed result.
"""

from __future__ import annotations

from ansible_collections.machinist.podman.plugins.module_utils._machine_converge import Converger, MachineError
from ansible_collections.machinist.podman.plugins.module_utils._machine_facts import FactsError
from ansible_collections.machinist.podman.plugins.module_utils._machine_info import gather
from ansible_collections.machinist.podman.plugins.module_utils._machine_os import MachineOSError
from ansible_collections.machinist.podman.plugins.module_utils._machine_os_converge import MachineOSConverger
from ansible_collections.machinist.podman.plugins.module_utils._machine_spec import SpecError, desired_from_params
from ansible_collections.machinist.podman.plugins.module_utils._module_glue import (
    COMMON_ARGS, fail, make_client, make_runner)
from ansible_collections.machinist.podman.plugins.module_utils._shells import ShellError

TASK_ERRORS = (SpecError, MachineError, MachineOSError, ShellError, FactsError)

MACHINE_ARGS = dict(
    name=dict(type='str', default='podman-machine-default'),
    state=dict(type='str', default='present', choices=['present', 'started', 'stopped', 'restarted', 'absent']),
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
    recreate=dict(type='bool', default=False),
    timeout=dict(type='int', default=600),
    command_timeout=dict(type='int', default=1800),
    pin_host_key=dict(type='bool', default=True),
    **COMMON_ARGS
)

OS_ARGS = dict(
    name=dict(type='str', default='podman-machine-default'),
    packages=dict(type='list', elements='str', default=[]),
    upgrade=dict(type='bool', default=False),
    method=dict(type='str', default='auto', choices=['auto', 'os_apply', 'rpm_ostree', 'dnf', 'apt']),
    base_image=dict(type='str'),
    timeout=dict(type='int', default=1800),
    **COMMON_ARGS
)

INFO_ARGS = dict(
    name=dict(type='list', elements='str'),
    all_providers=dict(type='bool', default=False),
    command_timeout=dict(type='int', default=300),
    **COMMON_ARGS
)


def _finished(result, runner, diff):
    """A converger's result as the task returns it: the commands that ran, the diff only in diff mode."""
    result['commands'] = runner.commands()
    if not diff:
        result.pop('diff', None)
    result.setdefault('warnings', [])
    return result


def _deadline(runner, params, field):
    """Every podman call of the task gets a deadline: its own, or the option's."""
    if params[field] <= 0:
        raise SpecError('%s must be a positive number of seconds, not %d' % (field, params[field]))
    runner.default_timeout = params[field]


def machine_task(params, runner, check_mode=False, diff=False):
    desired = desired_from_params(params)
    if params['timeout'] <= 0:
        raise SpecError('timeout must be a positive number of seconds')
    _deadline(runner, params, 'command_timeout')
    client = make_client(runner)
    converger = Converger(client, check_mode=check_mode, start_timeout=params['timeout'],
                          path_exists=runner.path_exists, pin_host_key=params['pin_host_key'])
    return _finished(converger.converge(desired, params['state'], recreate=params['recreate']), runner, diff)


def os_task(params, runner, check_mode=False, diff=False):
    """podman_machine_os: packages (and updates) in the machine's own OS, over `podman machine ssh`."""
    _deadline(runner, params, 'timeout')
    client = make_client(runner)
    conv = MachineOSConverger(client, check_mode=check_mode, timeout=params['timeout'])
    return _finished(conv.converge(params['name'], params['packages'], provider=params['provider'],
                                   method=params['method'], upgrade=params['upgrade'], base_image=params['base_image']),
                     runner, diff)


def info_task(params, runner, check_mode=False, diff=False):
    _deadline(runner, params, 'command_timeout')
    client = make_client(runner)
    machines, warnings = gather(client, params['name'], params['provider'], params['all_providers'])
    return {'changed': False, 'machines': machines, 'podman_version': str(client.caps.version),
            'commands': runner.commands(), 'warnings': warnings}


def run_in_module(module, task):
    """The module path: a LocalRunner on this host, the task, and the module's exit."""
    runner = make_runner(module)
    try:
        result = task(module.params, runner, check_mode=module.check_mode, diff=module._diff)
    except TASK_ERRORS as e:
        fail(module, runner, e)
    for w in result.pop('warnings'):
        module.warn(w)
    module.exit_json(**result)

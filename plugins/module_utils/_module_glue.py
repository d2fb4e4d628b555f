# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the machine modules share on the Ansible side: options, runner, failure reporting.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import os

from ansible_collections.machinist.podman.plugins.module_utils._runner import LocalRunner, no_such_program
from ansible_collections.machinist.podman.plugins.module_utils._state_store import StateStore

# Options documented in the machinist.podman._common doc fragment.
COMMON_ARGS = dict(
    executable=dict(type='str', default='podman'),
    provider=dict(type='str', choices=['qemu', 'applehv', 'libkrun', 'wsl', 'hyperv']),
)


def make_runner(module):
    executable = module.params['executable']
    if '/' in executable or '\\' in executable:
        path = executable if os.access(executable, os.X_OK) and not os.path.isdir(executable) else None
    else:
        path = module.get_bin_path(executable, required=False)
    if not path:
        module.fail_json(msg=no_such_program(executable), commands=[])
    return LocalRunner(path)


def make_store(runner):
    """The state store on the host that runs podman (this one, or a target through the runner)."""
    return StateStore(base=runner.host().get('state_base'), executable=runner.executable, files=runner)


def make_client(runner):
    """The machine client every module uses: the podman host's OS and architecture, the state store."""
    from ansible_collections.machinist.podman.plugins.module_utils._machine_converge import MachineClient
    return MachineClient(runner, make_store(runner), runner.host())


def failure(runner, error):
    """The failed result: the error's message, podman's output and every command that ran."""
    extra = {'commands': runner.commands() if runner is not None else []}
    result = getattr(error, 'result', None)
    if result is not None:
        extra.update({'rc': result.rc, 'stdout': result.stdout, 'stderr': result.stderr})
    extra['changed'] = False
    for key, value in (getattr(error, 'extra', None) or {}).items():
        if key == 'plan':
            extra['actions'] = value.summary()
        else:
            extra[key] = value
    extra['msg'] = str(error)
    return extra


def fail(module, runner, error):
    """Fail the task with failure()'s result."""
    module.fail_json(**failure(runner, error))

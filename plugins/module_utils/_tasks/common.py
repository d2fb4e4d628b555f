# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the tasks that run podman share: the common options, the runner made from them on this host,
the deadline of each podman call, and the result of a finished task.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

run_in_module() is the module path of such a task (around _tasks/module.py's run_module), and
plugin_utils/_controller_side.py the controller-side path. Both fail through _common/errors.py's failure().
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError
from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalRunner, find_program, no_such_program
from ansible_collections.machinist.podman.plugins.module_utils._machine.providers import PROVIDERS
from ansible_collections.machinist.podman.plugins.module_utils._tasks.module import fail, run_module

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    from ansible_collections.machinist.podman.plugins.module_utils._host.runner import Runner

# `module` below is an AnsibleModule, hinted Any: module_utils imports nothing from Ansible.

# Options documented in the machinist.podman._common doc fragment; the provider choices are the
# provider table's.
COMMON_ARGS = dict(
    executable=dict(type='str', default='podman'),
    provider=dict(type='str', choices=list(PROVIDERS)),
)


def make_runner(module: Any) -> LocalRunner:
    executable = module.params['executable']
    path = find_program(executable, search=lambda name: module.get_bin_path(name, required=False))
    if not path:
        fail(module, MachinistError(no_such_program(executable)), commands=[])
    return LocalRunner(path, module.run_command)


def finished(result: dict[str, Any], runner: Runner, diff: bool) -> dict[str, Any]:
    """A converger's result as the task returns it: the commands that ran, the diff only in diff mode."""
    result['commands'] = runner.commands()
    if not diff:
        result.pop('diff', None)
    result.setdefault('warnings', [])
    return result


def set_deadline(runner: Runner, params: dict[str, Any], field: str) -> None:
    """Every podman call of the task gets a deadline: its own, or the option's."""
    if params[field] <= 0:
        raise MachinistError('%s must be a positive number of seconds, not %d' % (field, params[field]))
    runner.default_timeout = params[field]


def run_in_module(module: Any, task: Callable[..., dict[str, Any]]) -> NoReturn:
    """The module path of a task that runs podman: the task with a LocalRunner on this host."""
    run_module(module, task, make_runner(module))

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every task shares on the Ansible side: the common options, the runner and client made from
them, the result of a finished task, and the one way to fail one.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

A task function (machine_task, image_module_task, ...) takes the validated options and a runner and
returns the module result, or raises a MachinistError; run_in_module() is the module path around it,
and plugin_utils/_controller_side.py the controller-side path. Both fail through failure().
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError, failure
from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalRunner, find_program, no_such_program
from ansible_collections.machinist.podman.plugins.module_utils._machine.providers import PROVIDERS

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalFiles, Runner

# `module` below is an AnsibleModule, hinted Any: module_utils imports nothing from Ansible.

# What a task may raise: every error the collection names. Anything else is a bug, and shows its traceback.
TASK_ERRORS = (MachinistError,)

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
    return LocalRunner(path)


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


def fail(module: Any, error: BaseException, commands: list[Any] | None = None, **context: Any) -> NoReturn:
    """Fails the module's task with failure()'s result."""
    module.fail_json(**failure(error, commands, **context))


def run_in_module(module: Any, task: Callable[..., dict[str, Any]], runner: Runner | LocalFiles | None = None) -> NoReturn:
    """The module path: the task with a LocalRunner on this host (or `runner`), and the module's exit."""
    runner = runner or make_runner(module)
    try:
        result = task(module.params, runner, check_mode=module.check_mode, diff=module._diff)
    except TASK_ERRORS as e:
        fail(module, e, runner.commands() if hasattr(runner, 'commands') else None)
    # Values the task found secret (from the options, beyond their no_log): masked wherever they appear.
    module.no_log_values.update(result.pop('no_log_values', ()))
    for w in result.pop('warnings'):
        module.warn(w)
    module.exit_json(**result)

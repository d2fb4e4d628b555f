# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module path around any task: the task run with the module's options, its result as the module's exit,
and the one way a module fails (a MachinistError through failure()).

Note that this module util is PRIVATE to the collection: its interface may change at any time.

A task function takes the validated options and a runner (or, for a task that runs no program, what
the module gives it: the files of this host, or nothing) and returns the module result, or raises a
MachinistError. This file carries nothing else, so a module that runs no podman (ignition_config)
ships no more than it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError, failure

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

# `module` below is an AnsibleModule, hinted Any: module_utils imports nothing from Ansible.

# What a task may raise: every error the collection names. Anything else is a bug, and shows its traceback.
TASK_ERRORS = (MachinistError,)


def fail(module: Any, error: BaseException, commands: list[Any] | None = None, **context: Any) -> NoReturn:
    """Fails the module's task with failure()'s result."""
    module.fail_json(**failure(error, commands, **context))


def run_module(module: Any, task: Callable[..., dict[str, Any]], runner: Any = None) -> NoReturn:
    """Runs task(params, runner, check_mode, diff) and exits the module with its result, or fails it."""
    try:
        result = task(module.params, runner, check_mode=module.check_mode, diff=module._diff)
    except TASK_ERRORS as e:
        fail(module, e, runner.commands() if hasattr(runner, 'commands') else None)
    # Values the task found secret (from the options, beyond their no_log): masked wherever they appear.
    module.no_log_values.update(result.pop('no_log_values', ()))
    for w in result.pop('warnings'):
        module.warn(w)
    module.exit_json(**result)

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller-side path of the machine modules, shared by their action plugins.

A Windows target runs no Python module: Ansible would look for a PowerShell one. So when the
target's shell is PowerShell, the action plugin runs the module's own task function
(module_utils/_tasks/) here on the controller, with a RemoteRunner that sends each
podman command, as a PowerShell script, through the connection. Everything else (planning, check
mode, diff, errors) is the same code as the module's.

The result is scrubbed of the no_log options' values as AnsibleModule.exit_json scrubs a module's:
Ansible does not scrub what an action plugin returns.

The variable `machinist_podman_controller_side: true` takes this path on a POSIX target as well,
with POSIX sh scripts: that is how the tests run it for real against the real podman, and how a
target without Python can be managed. Where the variable is unset, the modules built with
`on_local=True` take it on a local connection too (see `on_the_controller`): there it runs the same podman
as the same user with the task's environment, and sends no Python module, which is most of a no-op's time.
`machinist_podman_controller_side: false` keeps the module.

Note that this plugin util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.module_utils.errors import UnsupportedError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.plugins.action.normal import ActionModule as ModuleAction

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError, failure
from ansible_collections.machinist.podman.plugins.module_utils._tasks.module import TASK_ERRORS
from ansible_collections.machinist.podman.plugins.plugin_utils._remote_runner import RemoteRunner
from ansible_collections.machinist.podman.plugins.plugin_utils._shells import for_family

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from ansible.plugins.connection import ConnectionBase

CONTROLLER_SIDE_VAR = 'machinist_podman_controller_side'


def shell_family(connection: ConnectionBase) -> str:
    shell = getattr(connection, '_shell', None)
    if getattr(shell, '_IS_WINDOWS', False) or getattr(shell, 'SHELLFAMILY', '') == 'powershell':
        return 'powershell'
    return 'sh'


def on_the_controller(action: ActionBase) -> bool:
    """A local connection, without become, waited for: the target is the controller itself and the
    controller-side path runs podman as the same user the module would. become would run the module as
    another user (this path is never sudoable) and async needs a module; both keep the module."""
    return (getattr(action._connection, 'transport', None) == 'local' and not action._play_context.become
            and not action._task.async_val)


def wanted(action: ActionBase, task_vars: dict[str, Any] | None, on_local: bool = False) -> bool:
    """Whether this task takes the controller-side path: always on Windows; else as the variable says;
    unset, on a local connection (on_the_controller) for the modules built with on_local."""
    if shell_family(action._connection) == 'powershell':
        return True
    value = (task_vars or {}).get(CONTROLLER_SIDE_VAR)
    if isinstance(value, str):
        value = action._templar.template(value)
    if value is None or value == '':
        return on_local and on_the_controller(action)
    return boolean(value, strict=False)


def remote_runner(action: ActionBase, executable: str) -> RemoteRunner:
    family = shell_family(action._connection)
    shell = for_family(family)
    if family == 'powershell' and executable == 'podman':
        executable = 'podman.exe'
    # The task's environment, as the module would have it: set at the top of every script, so that podman,
    # the host probe ($HOME, the XDG folders) and the file operations all see it.
    env: dict[str, Any] = {}
    action._compute_environment_string(env)
    exports = shell.environment(dict((name, to_text(value)) for name, value in env.items()))

    def transport(script: str, stdin: str | None = None) -> tuple[int | None, str, str]:
        script = exports + script
        if family == 'powershell':
            # The same encoding Ansible's own PowerShell commands get: UTF-16LE base64, one command.
            script = action._connection._shell._encode_script(script, strict_mode=False, preserve_rc=False)
        # Not sudoable: podman machine refuses root, and a TTY would mix stderr into stdout. Secrets go
        # on stdin, which Ansible does not print at any verbosity.
        # Connections take in_data as bytes (the local one passes it to a binary pipe).
        res = action._low_level_execute_command(script, sudoable=False,
                                                in_data=to_bytes(stdin) if stdin is not None else None)
        return res.get('rc'), to_text(res.get('stdout', '')), to_text(res.get('stderr', ''))

    return RemoteRunner(executable, shell, transport)


def action_class(argument_spec: dict[str, dict[str, Any]], task: Callable[..., dict[str, Any]], path_options: Sequence[str] = (),
                 required_together: Sequence[Sequence[str]] | None = None, executable: str | None = 'podman',
                 on_local: bool = False) -> type[ActionBase]:
    """The ActionModule of a machine module: the module itself on a POSIX target, else run_task.
    on_local: take run_task on a local connection too, unless the variable says otherwise."""
    class ActionModule(ModuleAction):
        def run(self, tmp=None, task_vars=None):
            if not wanted(self, task_vars, on_local):
                return super().run(tmp, task_vars)
            return run_task(self, task_vars, argument_spec, task, path_options, required_together, executable)
    return ActionModule


def run_task(action: ActionBase, task_vars: dict[str, Any] | None, argument_spec: dict[str, dict[str, Any]],
             task: Callable[..., dict[str, Any]], path_options: Sequence[str] = (),
             required_together: Sequence[Sequence[str]] | None = None, executable: str | None = 'podman') -> dict[str, Any]:
    """The module's result, made on the controller: validation, the task, the failure shape.
    executable=None: the task runs no podman (its runner still reaches the target's files and programs)."""
    result = ActionBase.run(action, None, task_vars)
    result.update(_task_result(action, argument_spec, task, path_options, required_together, executable))
    return result


def scrub(result: dict[str, Any], no_log_values: set[str]) -> dict[str, Any]:
    """The result without the no_log values, as AnsibleModule.exit_json leaves a module's: each value
    masked wherever it appears, booleans and None of the top level kept as they were."""
    if not no_log_values:
        return result
    kept = dict((k, v) for k, v in result.items() if v is None or isinstance(v, bool))
    scrubbed = remove_values(result, no_log_values)
    scrubbed.update(kept)
    return scrubbed


def _task_result(action, argument_spec, task, path_options, required_together, executable):
    if action._task.async_val:
        return failure(MachinistError('async: this task runs on the controller (a Windows target, or %s), which waits '
                                      'for it; remove async and poll from the task' % CONTROLLER_SIDE_VAR),
                       controller_side=True)
    spec = dict((k, dict(v)) for k, v in argument_spec.items())
    for key in path_options:
        # 'path' would expand ~ on the controller; the target's home is what counts.
        spec[key]['type'] = 'str'
    validated = ArgumentSpecValidator(spec, required_together=required_together).validate(dict(action._task.args))
    return scrub(_validated_result(action, validated, task, path_options, executable), validated._no_log_values)


def _validated_result(action, validated, task, path_options, executable):
    if validated.error_messages:
        # The message AnsibleModule gives for the same mistake.
        msg = validated.errors.msg
        if isinstance(validated.errors[0], UnsupportedError):
            msg = 'Unsupported parameters for (%s) module: %s' % (action._task.action, msg)
        return failure(MachinistError(msg), controller_side=True)
    params = validated.validated_parameters
    runner = remote_runner(action, params['executable'] if executable else '')
    try:
        for key in path_options:
            if params.get(key):
                params[key] = runner.expand(params[key])
        result = task(params, runner, check_mode=bool(action._task.check_mode), diff=bool(action._task.diff))
    except TASK_ERRORS as e:
        result = failure(e, runner.commands())
    result['controller_side'] = True
    return result

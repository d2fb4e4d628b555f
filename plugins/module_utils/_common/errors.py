# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one way a task of the collection fails: every error it names is a MachinistError, and
failure() turns one into the failed result, the same on the module path and the controller-side path.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any


class MachinistError(Exception):
    """A failure the collection names. Its message says what happened and the fix, naming the option
    (or the command) at fault. `result` is the command whose output explains it, if any; `changed`
    says whether the task had already changed something; `extra` goes into the failed result."""

    # `result` is a CommandResult (_host/runner.py), or anything with rc, stdout and stderr: _common is the
    # layer below _host and does not import it, hence the plain object.
    result: object = None
    changed: bool = False
    extra: dict[str, Any] | None = None
    shown: tuple[str, ...] | None = None  # the names of the extra fields a failed result shows; None: all of them

    def __init__(self, message: str = '', result: object = None, *, changed: bool = False, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.result = result
        self.changed = changed
        self.extra = extra


def failure(error: BaseException, commands: list[Any] | None = None, **context: Any) -> dict[str, Any]:
    """The failed result for `error`: msg, changed, the commands (or requests) run so far, the output of
    the command at fault, the error's own extra fields, then `context` (where the task ran)."""
    out = {'failed': True, 'changed': bool(getattr(error, 'changed', False))}
    if commands is not None:
        out['commands'] = commands
    result = getattr(error, 'result', None)
    if result is not None:
        out.update({'rc': result.rc, 'stdout': result.stdout, 'stderr': result.stderr})
    shown = getattr(error, 'shown', None)
    for key, value in (getattr(error, 'extra', None) or {}).items():
        if shown is not None and key not in shown:
            continue
        if key == 'plan':
            out['actions'] = value.summary()
        else:
            out[key] = value
    out.update(context)
    out['msg'] = str(error)
    return out

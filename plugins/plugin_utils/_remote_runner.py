# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The runner of the controller-side path: podman and file calls on a target, each sent as one
script of the target's shell (see _shells.py) over the task's connection.

Note that this plugin util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._host.runner import CommandResult, Runner
from ansible_collections.machinist.podman.plugins.plugin_utils._shells import ShellError, host_facts, parse_answer, unb64

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ansible_collections.machinist.podman.plugins.plugin_utils._shells import PosixShell, PowerShell


class RemoteRunner(Runner):
    """Runs podman on a target through a connection, from the controller.

    `transport(script)` runs one script of `shell` on the target and returns (rc, stdout, stderr)
    of the connection; each answer is the @@machinist line of _shells.py. `host` is probed once.
    """

    def __init__(self, executable: str, shell: PosixShell | PowerShell, transport: Callable[..., tuple[int | None, str, str]],
                 env: dict[str, str] | None = None) -> None:
        super().__init__(executable, env)
        self.shell = shell
        self.path = shell.path
        self.transport = transport
        self._host: dict[str, Any] | None = None

    def _ask(self, script: str, stdin: str | None = None) -> tuple[int | None, dict[str, str] | None, str]:
        rc, stdout, stderr = self.transport(script, stdin) if stdin is not None else self.transport(script)
        return rc, parse_answer(stdout), stderr

    def ask(self, op: str, *args: Any, **kwargs: Any) -> dict[str, str] | None:
        """The answer fields of one shell operation (digest, size, move, mkdir...), or None."""
        return self._ask(getattr(self.shell, op)(*args), stdin=kwargs.get('stdin'))[1]

    def _execute(self, argv: list[str], env: dict[str, str], timeout: float | None) -> CommandResult:
        start = time.time()
        rc, fields, stderr = self._ask(self.shell.run(argv, env, timeout))
        if fields is None or 'rc' not in fields:
            return CommandResult(argv, rc or 1, '', 'the target did not run the command (connection rc=%s): %s'
                                 % (rc, (stderr or '').strip() or 'no output'), time.time() - start)
        return CommandResult(argv, int(fields['rc']), unb64(fields.get('out')), unb64(fields.get('err')),
                             time.time() - start, fields.get('timed_out') == '1')

    def read_text(self, path: str) -> str | None:
        rc, fields, dummy = self._ask(self.shell.read(path))
        if not fields or fields.get('found') != '1':
            return None
        return unb64(fields.get('data'))

    def write_text(self, path: str, text: str) -> bool:
        rc, fields, dummy = self._ask(self.shell.write(path, text))
        return bool(fields and fields.get('written') == '1')

    def remove(self, path: str) -> None:
        self._ask(self.shell.remove(path))

    def path_exists(self, path: str, file: bool = False) -> bool:
        rc, fields, dummy = self._ask(self.shell.exists(path))
        return bool(fields and fields.get('file' if file else 'exists') == '1')

    def resolve(self, path: str) -> str:
        return path

    def file_identity(self, path: str) -> str | None:
        # The host probe reads the identity of this runner's program; other files are not asked about.
        return self.host().get('program_identity') if path == self.executable else None

    def host(self) -> dict[str, Any]:
        if self._host is None:
            rc, fields, stderr = self._ask(self.shell.host(self.executable))
            if fields is None:
                raise ShellError('the target did not answer the host probe (connection rc=%s): %s'
                                 % (rc, (stderr or '').strip() or 'no output'))
            self._host = host_facts(self.shell, fields)
        return self._host

    def expand(self, path: str) -> str:
        """~ (and on Windows %USERPROFILE%) against the target's home."""
        return self.shell.expand(path, self.host().get('home'))

    def lease_take(self, path: str, token: str, hold: float) -> bool:
        return (self.ask('lease_take', path, token, hold) or {}).get('got') == '1'

    def lease_drop(self, path: str, token: str) -> None:
        self.ask('lease_drop', path, token)

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Programs started on the controller itself, where no module runs (the inventory plugin).

Note that this plugin util is PRIVATE to the collection: its interface may change at any time.

A LocalRunner starts programs through a `run_command` with AnsibleModule.run_command's interface; in a
module that is the module's own. This is the same call for controller code. Output goes to files, not
pipes, so a program that leaves another running (`podman machine start` leaves qemu and gvproxy) is done
when it exits, not when they do.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def run_command(args: list[str], environ_update: dict[str, str] | None = None, expand_user_and_vars: bool = True,
                handle_exceptions: bool = True, before_communicate_callback: Callable[[Any], None] | None = None,
                encoding: str | None = 'utf-8', errors: str = 'strict', data: bytes | str | None = None,
                binary_data: bool = False) -> tuple[int, Any, Any]:
    """(rc, stdout, stderr) of `args`, with AnsibleModule.run_command's meaning for the arguments a
    LocalRunner and the OpenSSH session pass: `data` written to its stdin (a newline added unless
    binary_data), else no stdin; bytes back when `encoding` is None. An OSError (no such program) is
    raised, as run_command's handle_exceptions=False."""
    if expand_user_and_vars:
        args = [os.path.expanduser(os.path.expandvars(a)) for a in args]
    env = dict(os.environ)
    env.update(environ_update or {})
    if isinstance(data, str):
        data = data.encode('utf-8')
    if data and not binary_data:
        data += b'\n'
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdin=subprocess.PIPE if data else subprocess.DEVNULL, stdout=out, stderr=err,
                                env=env)
        if before_communicate_callback is not None:
            before_communicate_callback(proc)
        if data:
            try:
                proc.stdin.write(data)
            except BrokenPipeError:
                pass  # the program ended (or was ended) without reading it all
            finally:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
        rc = proc.wait()
        out.seek(0)
        err.seek(0)
        if encoding is None:
            return rc, out.read(), err.read()
        return rc, out.read().decode(encoding, errors), err.read().decode(encoding, errors)

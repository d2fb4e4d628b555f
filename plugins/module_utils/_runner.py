# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Running podman: one interface, so the same logic can run in a module on the target or, for
Windows targets, on the controller through the connection.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

A runner runs `executable + args` with extra environment variables and an optional time limit,
and reads small files on the machine podman runs on. Every call is recorded in `calls`, which
the modules return as `commands` so a user (and the benchmark) can see exactly what ran.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time


class CommandResult(object):
    def __init__(self, argv, rc, stdout, stderr, duration, timed_out=False):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.duration = duration
        self.timed_out = timed_out

    @property
    def ok(self):
        return self.rc == 0 and not self.timed_out

    def as_dict(self):
        return {'argv': self.argv, 'rc': self.rc, 'stdout': self.stdout, 'stderr': self.stderr,
                'duration': round(self.duration, 3), 'timed_out': self.timed_out}


class Runner(object):
    """The interface. Subclasses implement _execute and read_text."""

    def __init__(self, executable, env=None):
        self.executable = executable
        self.env = dict(env or {})
        self.calls = []

    def run(self, args, env=None, timeout=None):
        merged = dict(self.env)
        merged.update(env or {})
        # podman's messages are what we classify: keep them in English.
        merged.setdefault('LC_ALL', 'C')
        result = self._execute([self.executable] + list(args), merged, timeout)
        self.calls.append(result)
        return result

    def _execute(self, argv, env, timeout):
        raise NotImplementedError

    def read_text(self, path):
        """The content of a small file on the podman host, or None if it cannot be read."""
        raise NotImplementedError

    def commands(self):
        return [c.argv for c in self.calls]


class LocalRunner(Runner):
    """Runs podman on this host, as this user."""

    def _execute(self, argv, env, timeout):
        full_env = dict(os.environ)
        full_env.update(env)
        start = time.time()
        # stdout and stderr go to files, not pipes: `podman machine start` leaves qemu and gvproxy
        # running, and a pipe they inherited would keep us waiting until the machine stops.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=full_env,
                                        start_new_session=True)
            except OSError as e:
                return CommandResult(argv, 127, '', 'cannot run %s: %s\n' % (argv[0], e), time.time() - start)
            timed_out = False
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                self._terminate(proc)
                rc = proc.returncode if proc.returncode is not None else -signal.SIGKILL
            out.seek(0)
            err.seek(0)
            return CommandResult(argv, rc, out.read().decode('utf-8', 'replace'),
                                 err.read().decode('utf-8', 'replace'), time.time() - start, timed_out)

    @staticmethod
    def _terminate(proc):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()

    def read_text(self, path):
        try:
            with open(path, 'r') as f:
                return f.read(1024 * 1024)
        except (IOError, OSError):
            return None

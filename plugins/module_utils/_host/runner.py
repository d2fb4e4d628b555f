# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Running podman: one interface, so the same logic can run in a module on the target or, for
Windows targets, on the controller through the connection.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

A runner runs `executable + args` with extra environment variables and an optional time limit,
and reads and writes small files on the machine podman runs on (the "files" half: podman's
configs, the collection's state store). Every podman call is recorded in `calls`, which the
modules return as `commands` so a user (and the benchmark) can see exactly what ran.

- LocalRunner: this host (the module on the target). It starts programs through a `run_command`: the
  module's own (AnsibleModule.run_command) on the module path, plugin_utils/_local.py's on the controller.
- RemoteRunner: a target reached through a connection, from the controller (the action plugins,
  for Windows targets): the same calls, each turned into one script by a shell of plugin_utils/_shells.py (plugin_utils/_remote_runner.py).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import platform
import shutil
import signal
import sys
import threading
import time
import uuid
from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError
from ansible_collections.machinist.podman.plugins.module_utils._common.files import replacing
from ansible_collections.machinist.podman.plugins.module_utils._host.folders import local_folders

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Sequence
    from contextlib import AbstractContextManager
    from typing import Any


def no_such_program(executable: str) -> str:
    """The failure message when the podman program is not there (one wording for both paths)."""
    return ('executable=%s: no such program (looked for it as given and on PATH). Install podman, or give the full '
            'path of the podman program in executable' % executable)


def find_program(executable: str, search: Callable[[str], str | None] = shutil.which) -> str | None:
    """The full path of the program `executable`: as given when it names a folder, else found by `search`
    (on PATH); None when there is none, or it is a folder or not executable."""
    if '/' in executable or '\\' in executable:
        return executable if os.access(executable, os.X_OK) and not os.path.isdir(executable) else None
    return search(executable)


def _owner(lease: str) -> list[str]:
    """[token, expiry] of a lease folder's holder; [] while it is being taken or when unreadable."""
    try:
        with open(os.path.join(lease, 'owner')) as f:
            return f.read().split()
    except OSError:
        return []


class LockTimeout(MachinistError):
    """held_lock waited `timeout` seconds for another holder."""


@contextlib.contextmanager
def held_lock(path: str, timeout: float, mode: int = 0o644) -> Generator[None, None, None]:
    """An exclusive flock on `path` (created if missing), waited for up to `timeout` seconds.
    Closing the file releases it, also when the process dies."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
    try:
        deadline = time.time() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.time() > deadline:
                    raise LockTimeout('%s: held by another run for over %d s' % (path, timeout))
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)


class CommandResult:
    def __init__(self, argv: list[str], rc: int, stdout: str, stderr: str, duration: float, timed_out: bool = False) -> None:
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.duration = duration
        self.timed_out = timed_out

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out

    def as_dict(self) -> dict[str, Any]:
        return {'argv': self.argv, 'rc': self.rc, 'stdout': self.stdout, 'stderr': self.stderr,
                'duration': round(self.duration, 3), 'timed_out': self.timed_out}


def host_cpus() -> int | None:
    """The CPUs this process may run on (what Go's runtime.NumCPU, and so podman, counts)."""
    if hasattr(os, 'sched_getaffinity'):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


class LocalFiles:
    """Small files on this host."""

    path = os.path

    def read_text(self, path: str) -> str | None:
        """The content of a small file, or None if it cannot be read."""
        try:
            with open(path) as f:
                return f.read(1024 * 1024)
        except (OSError, UnicodeDecodeError):
            return None

    def write_text(self, path: str, text: str) -> bool:
        """Writes atomically (a temporary file, then a rename), making the folder private if new.
        False when it could not."""
        folder = os.path.dirname(path)
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            with replacing(path) as f:
                f.write(text)
        except OSError:
            return False
        return True

    def remove(self, path: str) -> None:
        try:
            os.unlink(path)
        except OSError:
            pass

    def path_exists(self, path: str, file: bool = False) -> bool:
        """Whether `path` exists; with file=True, whether it is a regular file (or a link to one)."""
        return os.path.isfile(path) if file else os.path.exists(path)

    def resolve(self, path: str) -> str:
        return os.path.realpath(path)

    def file_identity(self, path: str) -> str | None:
        """Path, size, mtime and inode of a file: what tells that a program was replaced. None if unknown."""
        try:
            real = os.path.realpath(path)
            st = os.stat(real)
        except OSError:
            return None
        return '%s:%d:%d:%d' % (real, st.st_size, st.st_mtime_ns, st.st_ino)

    def expand(self, path: str) -> str:
        return os.path.expanduser(path) if path else path

    def lease_take(self, path: str, token: str, hold: float) -> bool:
        """The lease `path` (a folder: mkdir is atomic, here and through a connection alike), taken for `hold`
        seconds; a lease whose holder's time ran out (it died) is broken. True when taken."""
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        except OSError:
            return True  # no folder for the lock: run unlocked rather than not at all (nothing to drop)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            owner = _owner(path)
            try:
                expired = int(owner[1]) < time.time() if len(owner) >= 2 else os.stat(path).st_mtime < time.time() - 60
            except (ValueError, OSError):
                expired = False
            if expired:
                shutil.rmtree(path, ignore_errors=True)
            return False
        except OSError:
            return True  # as above
        with open(os.path.join(path, 'owner'), 'w') as f:
            f.write('%s %d\n' % (token, int(time.time() + hold)))
        return True

    def lease_drop(self, path: str, token: str) -> None:
        owner = _owner(path)
        if owner and owner[0] == token:
            shutil.rmtree(path, ignore_errors=True)

    def host(self) -> dict[str, Any]:
        home = os.path.expanduser('~')
        return dict(local_folders(), os=platform.system().lower(), arch=platform.machine(), home=home,
                    admin=hasattr(os, 'geteuid') and os.geteuid() == 0, cpus=host_cpus())


class Runner:
    """The interface. Subclasses implement _execute and the files half (see LocalFiles)."""

    path = os.path  # the path flavour of the podman host

    # How long a holder may keep a lease before a waiter takes it for dead; a holder's every podman call
    # has a deadline (default_timeout), so this is bounded too.
    LEASE_HOLD = 3600

    @contextlib.contextmanager
    def lease(self, path: str, timeout: float, hold: float | None = None) -> Generator[None, None, None]:
        """Holds the lease `path` (see lease_take) for the block, waiting up to `timeout` seconds for
        another holder. The same mechanism on this host and on a target through a connection, so tasks of
        either path exclude each other."""
        token = uuid.uuid4().hex
        hold = hold or self.LEASE_HOLD
        deadline = time.monotonic() + timeout
        while not self.lease_take(path, token, hold):
            if time.monotonic() > deadline:
                raise LockTimeout('%s: held by another run for over %d s' % (path, timeout))
            time.sleep(0.5)
        try:
            yield
        finally:
            self.lease_drop(path, token)

    def config_lock(self, timeout: float = 300) -> AbstractContextManager[None]:
        """This user's lock on podman's client config, while a command rewrites it.

        Podman 4 rewrites containers.conf (its connections) at init, rm and set without a lock of its own:
        two at once, from tasks of several inventory hosts that are this one user, corrupted it. The lock is
        keyed on the file it protects and lies beside it. (Podman 5 and later lock their own connections
        file, podman-connections.json.lock, so the converger asks for this lock on Podman 4 only.)"""
        config = self.path.join(self.host()['config_base'], 'containers')
        return self.lease(self.path.join(config, 'containers.conf.machinist-lock'), timeout,
                          hold=self.default_timeout + 120 if self.default_timeout else None)

    def machine_lock(self, name: str, timeout: float = 300) -> AbstractContextManager[None]:
        """The lock on one machine's name, held across the inspect, init and clean-up of its creation, so a
        failed init never removes a machine another task made meanwhile; other machines are not held up."""
        folder = self.path.join(self.host()['state_base'], 'locks')
        return self.lease(self.path.join(folder, 'machine-%s' % name), timeout,
                          hold=3 * self.default_timeout + 120 if self.default_timeout else None)

    # The deadline of a podman call made without one of its own (set from command_timeout).
    default_timeout: float | None = None

    def __init__(self, executable: str, env: dict[str, str] | None = None) -> None:
        self.executable = executable
        self.env = dict(env or {})
        self.calls: list[CommandResult] = []

    def run(self, args: Sequence[str], env: dict[str, str] | None = None, timeout: float | None = None) -> CommandResult:
        """Runs podman with args."""
        return self.run_program([self.executable] + list(args), env, timeout)

    def run_program(self, argv: Sequence[str], env: dict[str, str] | None = None, timeout: float | None = None) -> CommandResult:
        """Runs any program on the podman host (recorded like podman's calls)."""
        merged = dict(self.env)
        merged.update(env or {})
        # podman's messages are what we classify: keep them in English.
        merged.setdefault('LC_ALL', 'C')
        result = self._execute(list(argv), merged, timeout or self.default_timeout)
        self.calls.append(result)
        return result

    def _execute(self, argv: list[str], env: dict[str, str], timeout: float | None) -> CommandResult:
        raise NotImplementedError

    def commands(self) -> list[list[str]]:
        return [c.argv for c in self.calls]

    if TYPE_CHECKING:
        # The files half every runner has (LocalRunner's from LocalFiles): declared for the hints only, so that
        # `runner: Runner` names the whole interface. Nothing here exists at run time.

        def read_text(self, path: str) -> str | None:
            ...

        def write_text(self, path: str, text: str) -> bool:
            ...

        def remove(self, path: str) -> None:
            ...

        def path_exists(self, path: str, file: bool = False) -> bool:
            ...

        def resolve(self, path: str) -> str:
            ...

        def file_identity(self, path: str) -> str | None:
            ...

        def expand(self, path: str) -> str:
            ...

        def lease_take(self, path: str, token: str, hold: float) -> bool:
            ...

        def lease_drop(self, path: str, token: str) -> None:
            ...

        def host(self) -> dict[str, Any]:
            ...


# What a LocalRunner starts first: a small Python (the interpreter running this code) that reads nothing,
# puts itself in a session of its own and becomes the command. The session is what a deadline stops, so
# that what the command left running dies with it (qemu and gvproxy under a `podman machine start` cut
# short). The same interpreter, so nothing else needs to be installed; -I -S keep its start short.
SESSION_SHIM = (
    'import os, sys\n'
    'os.setsid()\n'
    'null = os.open(os.devnull, os.O_RDONLY)\n'
    'os.dup2(null, 0)\n'
    'try:\n'
    '    os.execvp(sys.argv[1], sys.argv[1:])\n'
    'except OSError as e:\n'
    '    sys.stderr.write("cannot run %s: %s\\n" % (sys.argv[1], e.strerror or e))\n'
    '    os._exit(127)\n'
)


def in_own_session(argv: list[str]) -> list[str]:
    """`argv` started through SESSION_SHIM."""
    return [sys.executable or 'python3', '-I', '-S', '-c', SESSION_SHIM] + argv


def stop_session(proc: Any, grace: float = 15) -> None:
    """SIGTERM to the session `proc` leads, SIGKILL after `grace` seconds if it is still there."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + grace
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


class Deadline:
    """A time limit on one started process: `start` is given the process as run_command starts it (its
    before_communicate_callback); when the time runs out while the process still runs, `stop` ends it: by
    default its whole session (stop_session). A process that ended in time is never signalled, whatever it
    left running."""

    def __init__(self, timeout: float | None, stop: Callable[[Any], None] = stop_session) -> None:
        self.timeout = timeout
        self.expired = False
        self._stop = stop
        self._timer: threading.Timer | None = None

    def start(self, proc: Any) -> None:
        if self.timeout:
            self._timer = threading.Timer(self.timeout, self._expire, (proc,))
            self._timer.daemon = True
            self._timer.start()

    def _expire(self, proc: Any) -> None:
        if proc.poll() is None:
            self.expired = True
            self._stop(proc)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class LocalRunner(LocalFiles, Runner):
    """Runs podman on this host, as this user, through `run_command`: AnsibleModule.run_command, or one
    with the same interface (plugin_utils/_local.py's, for controller code)."""

    def __init__(self, executable: str, run_command: Callable[..., tuple[int, str, str]],
                 env: dict[str, str] | None = None) -> None:
        super().__init__(executable, env)
        self.run_command = run_command

    def _execute(self, argv: list[str], env: dict[str, str], timeout: float | None) -> CommandResult:
        start = time.time()
        deadline = Deadline(timeout)
        try:
            # Arguments reach the program as they are (no ~ or $ expanded); a program that cannot be
            # started is the shim's exit 127, as a shell's.
            rc, out, err = self.run_command(in_own_session(argv), environ_update=env, expand_user_and_vars=False,
                                            handle_exceptions=False, before_communicate_callback=deadline.start,
                                            encoding='utf-8', errors='replace')
        except OSError as e:
            return CommandResult(argv, 127, '', 'cannot run %s: %s\n' % (argv[0], e), time.time() - start)
        finally:
            deadline.cancel()
        if deadline.expired and rc == 0:
            rc = -signal.SIGKILL
        return CommandResult(argv, rc, out, err, time.time() - start, deadline.expired)

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the collection remembers between runs, in the user's state folder, never in podman's.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

- init records: the options only `podman machine init` applies (image, volumes, timezone...),
  as this collection passed them, with the machine's creation time. Podman does not report
  most of them back, so without the record a changed `image` could not be noticed. A record
  whose creation time differs from the machine's is about another machine and is ignored.
- the podman version per executable, keyed by the file's identity (path, size, mtime, inode),
  so a run that changes nothing makes a single podman call.

Files go to $XDG_STATE_HOME/machinist.podman (default ~/.local/state/machinist.podman; a relative
XDG_STATE_HOME is ignored), written atomically. Podman's own folders are never touched: podman 5 reads every *.json in them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import os
import stat
from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._common.files import replacing
from ansible_collections.machinist.podman.plugins.module_utils._host.folders import default_base
from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalFiles

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable
    from typing import Any

    from ansible_collections.machinist.podman.plugins.module_utils._host.runner import Runner


def machine_host_names(port: int | str) -> tuple[str, str]:
    """The names a machine's SSH port has in known_hosts: paramiko writes 127.0.0.1, OpenSSH
    may have been pointed at localhost. Port 22 is written without brackets."""
    port = int(port)
    if port == 22:
        return ('127.0.0.1', 'localhost')
    return ('[127.0.0.1]:%d' % port, '[localhost]:%d' % port)


def _hashed_name_matches(pattern, name):
    """OpenSSH's hashed name, |1|base64(salt)|base64(HMAC-SHA1(salt, name))."""
    parts = pattern[3:].split(b'|')
    if len(parts) != 2:
        return False
    try:
        salt, digest = base64.b64decode(parts[0], validate=True), base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(hmac.new(salt, name.encode('ascii'), hashlib.sha1).digest(), digest)


def names_host(line: bytes, names: Collection[str]) -> bool:
    """Whether a known_hosts line (bytes) is a key of one of the names, plain or hashed.

    Comments, @cert-authority and @revoked lines (ssh-keygen -R keeps those too), wildcards and
    negations never match: they are not one machine's recorded key."""
    fields = line.split(None, 1)
    if not fields or fields[0].startswith((b'#', b'@')):
        return False
    wanted = set(n.encode('ascii') for n in names)
    for pattern in fields[0].split(b','):
        if pattern.startswith(b'|1|'):
            if any(_hashed_name_matches(pattern, n) for n in names):
                return True
        elif pattern.lower() in wanted:
            return True
    return False


def _drop_lines_atomically(path, drop):
    """Rewrites a local file without the lines drop() picks: the whole file read, the rest kept byte
    for byte in a new file of the same mode in the same folder, synced, then renamed over it.
    False (and the file untouched) when no line is dropped or there is no file."""
    try:
        with open(path, 'rb') as f:
            lines = io.BytesIO(f.read()).readlines()  # split at LF only, as OpenSSH reads it
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
    except FileNotFoundError:
        return False
    kept = [line for line in lines if not drop(line)]
    if len(kept) == len(lines):
        return False
    folder = os.path.dirname(path) or '.'
    with replacing(path, binary=True, mode=mode, durable=True) as f:
        f.write(b''.join(kept))
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass  # the rename is done; a folder that cannot be synced (some filesystems) is no failure
    return True


class StateStore:
    def __init__(self, base: str | None = None, executable: str = '', files: LocalFiles | Runner | None = None) -> None:
        # files: where the state lives, the host that runs podman (a runner's files half).
        self.files = files or LocalFiles()
        self.path = self.files.path
        self.base = base or default_base()
        # Records are per podman program too: two podmans (a distribution's and one in a toolbox or
        # chroot) can show machines at the same path strings that are different machines.
        self.executable = self.files.resolve(executable) if executable else ''

    # -- files ---------------------------------------------------------------------------
    def _read(self, path):
        text = self.files.read_text(path)
        try:
            return json.loads(text) if text else None
        except ValueError:
            return None

    def _write(self, path, data):
        # Remembering is a convenience; failing to is never an error of the task.
        return self.files.write_text(path, json.dumps(data, indent=1, sort_keys=True))

    # -- other records, by path under the state folder ------------------------------------
    def read_json(self, *parts: str) -> Any:
        return self._read(self.path.join(self.base, *parts))

    def write_json(self, data: object, *parts: str) -> bool:
        return self._write(self.path.join(self.base, *parts), data)

    # -- SSH host keys of machines ------------------------------------------------------
    def known_hosts(self) -> str:
        """The known_hosts file the API modules check machines' host keys against."""
        return self.path.join(self.base, 'known_hosts')

    def forget_host_key(self, port: int | str | None) -> bool:
        """Drops the lines of a machine's SSH port: the machine is gone or new, and a new machine on a
        reused port must not read as an attack. True when a line was dropped.

        Plain names and hashed ones (HashKnownHosts) of 127.0.0.1 and localhost at that port match;
        every other line is kept byte for byte, and the whole file is rewritten atomically."""
        if not port:
            return False
        names = machine_host_names(port)
        path = self.known_hosts()
        if isinstance(self.files, LocalFiles):
            try:
                return _drop_lines_atomically(self.files.resolve(path), lambda line: names_host(line, names))
            except OSError:
                return False  # as for any record: the next connection's refusal names the line to remove
        # Through a connection the files half reads and writes whole files as text.
        text = self.files.read_text(path)
        if text is None:
            return False
        lines = text.splitlines(True)
        kept = [line for line in lines if not names_host(line.encode('utf-8', 'surrogateescape'), names)]
        if len(kept) == len(lines):
            return False
        return self.files.write_text(path, ''.join(kept))

    def pin_host_key(self, port: int | str, key: str) -> bool:
        """Records `key` ('ssh-ed25519 AAAA...') as the machine's at `port`, in place of any line it had."""
        self.forget_host_key(port)
        path = self.known_hosts()
        text = self.files.read_text(path) or ''
        if text and not text.endswith('\n'):
            text += '\n'
        return self.files.write_text(path, text + ''.join('%s %s\n' % (name, key) for name in machine_host_names(port)))

    # -- init records --------------------------------------------------------------------
    def _record_path(self, config_dir, name):
        key = hashlib.sha256(('%s\0%s\0%s' % (self.executable, config_dir, name)).encode('utf-8')).hexdigest()[:24]
        return self.path.join(self.base, 'machines', key + '.json')

    def load_record(self, facts: dict[str, Any] | None) -> dict[str, Any] | None:
        if not facts or not facts.get('config_dir'):
            return None
        return self._read(self._record_path(facts['config_dir'], facts['name']))

    def save_record(self, facts: dict[str, Any], desired: dict[str, Any], init_only: Iterable[str]) -> bool:
        options = dict((k, desired.get(k)) for k in init_only if desired.get(k) is not None)
        record = {'name': facts['name'], 'created': facts.get('created'), 'options': options}
        return self._write(self._record_path(facts['config_dir'], facts['name']), record)

    def delete_record(self, facts: dict[str, Any] | None) -> None:
        if facts and facts.get('config_dir'):
            self.files.remove(self._record_path(facts['config_dir'], facts['name']))

    # -- copies of machines' own files ------------------------------------------------------
    def machine_file_copies(self) -> str:
        return self.path.join(self.base, 'machine-files')

    def keep_machine_file(self, facts: dict[str, Any] | None, text: str) -> None:
        """A copy of a machine's own JSON file, taken before a podman command that rewrites it."""
        if facts and facts.get('config_dir'):
            key = self.path.basename(self._record_path(facts['config_dir'], facts['name']))
            self.files.write_text(self.path.join(self.machine_file_copies(), '%s-%s' % (facts['name'], key)), text)

    # -- podman versions -----------------------------------------------------------------
    def cached_version(self, executable: str) -> str | None:
        ident = self.files.file_identity(executable)
        if ident is None:
            return None
        return (self._read(self.path.join(self.base, 'versions.json')) or {}).get(ident)

    def remember_version(self, executable: str, version: str) -> None:
        ident = self.files.file_identity(executable)
        if ident is None:
            return
        path = self.path.join(self.base, 'versions.json')
        known = self._read(path) or {}
        if known.get(ident) != version:
            # Keep only the current identity of each path, so the file does not grow with upgrades.
            prefix = ident.rsplit(':', 3)[0] + ':'
            known = dict((k, v) for k, v in known.items() if not k.startswith(prefix))
            known[ident] = version
            self._write(path, known)

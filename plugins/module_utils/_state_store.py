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

Files go to $XDG_STATE_HOME/machinist.podman (default ~/.local/state/machinist.podman), written
atomically. Podman's own folders are never touched: podman 5 reads every *.json in them.
"""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.machinist.podman.plugins.module_utils._runner import LocalFiles


def default_base():
    base = os.environ.get('XDG_STATE_HOME') or os.path.join(os.path.expanduser('~'), '.local', 'state')
    return os.path.join(base, 'machinist.podman')


class StateStore(object):
    def __init__(self, base=None, executable='', files=None):
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
    def read_json(self, *parts):
        return self._read(self.path.join(self.base, *parts))

    def write_json(self, data, *parts):
        return self._write(self.path.join(self.base, *parts), data)

    # -- SSH host keys of machines ------------------------------------------------------
    def known_hosts(self):
        """The known_hosts file the API modules check machines' host keys against."""
        return self.path.join(self.base, 'known_hosts')

    def forget_host_key(self, port):
        """Drops the lines of a machine's SSH port: the machine is gone or new, and a new machine on a
        reused port must not read as an attack. True when a line was dropped."""
        if not port:
            return False
        path = self.known_hosts()
        text = self.files.read_text(path)
        if text is None:
            return False
        lines = text.splitlines(True)
        tag = '[127.0.0.1]:%d ' % int(port)
        kept = [line for line in lines if not line.startswith(tag)]
        if len(kept) == len(lines):
            return False
        return self.files.write_text(path, ''.join(kept))

    # -- init records --------------------------------------------------------------------
    def _record_path(self, config_dir, name):
        key = hashlib.sha256(('%s\0%s\0%s' % (self.executable, config_dir, name)).encode('utf-8')).hexdigest()[:24]
        return self.path.join(self.base, 'machines', key + '.json')

    def load_record(self, facts):
        if not facts or not facts.get('config_dir'):
            return None
        return self._read(self._record_path(facts['config_dir'], facts['name']))

    def save_record(self, facts, desired, init_only):
        options = dict((k, desired.get(k)) for k in init_only if desired.get(k) is not None)
        record = {'name': facts['name'], 'created': facts.get('created'), 'options': options}
        return self._write(self._record_path(facts['config_dir'], facts['name']), record)

    def delete_record(self, facts):
        if facts and facts.get('config_dir'):
            self.files.remove(self._record_path(facts['config_dir'], facts['name']))

    # -- podman versions -----------------------------------------------------------------
    def cached_version(self, executable):
        ident = self.files.file_identity(executable)
        if ident is None:
            return None
        return (self._read(self.path.join(self.base, 'versions.json')) or {}).get(ident)

    def remember_version(self, executable, version):
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

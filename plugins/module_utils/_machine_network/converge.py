# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The corporate-network settings converged in a running machine, over its own SSH (host key checked):
one probe reads the OS and every file the collection placed, the files that differ are written (or
removed) in one root script, the trust store and the units are rebuilt only when theirs changed, and a
second probe proves the result.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import base64
import shlex
from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._machine_network import settings as s

if TYPE_CHECKING:
    from typing import Any

    from ansible_collections.machinist.podman.plugins.module_utils._api.transport import SSHSession


class NetworkSettingsError(s.SettingsError):
    """The machine did not take the settings (or could not be read)."""


def probe_script(family: str | None = None) -> str:
    """Prints the OS, the default route's gateway and every file the collection may have placed (base64)."""
    globs = []
    for fam in ([family] if family else sorted(s.FAMILIES)):
        for paths in s.managed_globs(fam).values():
            globs += [p for p in paths if p not in globs]
    return ('printf "os %%s\\n" "$(base64 -w0 /etc/os-release 2>/dev/null)"\n'
            'printf "gateway %%s\\n" "$(ip route show default 2>/dev/null | awk \'/^default/ {print $3; exit}\')"\n'
            'printf "uid %%s\\n" "$(id -u)"\n'
            'for f in %s; do\n'
            '  if [ -f "$f" ]; then printf "file %%s %%s\\n" "$f" "$(base64 -w0 "$f")"; fi\n'
            'done\n' % ' '.join(globs))


def parse_probe(stdout: str) -> dict[str, Any]:
    out: dict[str, Any] = {'os_release': {}, 'gateway': None, 'uid': None, 'files': {}}
    for line in (stdout or '').splitlines():
        word, _sep, rest = line.partition(' ')
        if word == 'os':
            out['os_release'] = s.parse_os_release(base64.b64decode(rest).decode('utf-8', 'replace'))
        elif word == 'gateway':
            out['gateway'] = rest.strip() or None
        elif word == 'uid':
            out['uid'] = rest.strip()
        elif word == 'file':
            path, _sep, data = rest.partition(' ')
            out['files'][path] = base64.b64decode(data).decode('utf-8', 'replace')
    return out


def changes(wanted: dict[str, dict[str, str]], present: dict[str, str], family: str) -> tuple[dict[str, str], list[str]]:
    """(files to write, files to remove) for the declared settings: a file is written when its content differs,
    and a file the collection placed for a declared setting that no longer wants it is removed."""
    write = {}
    remove = []
    for kind, files in wanted.items():
        for path, content in files.items():
            if present.get(path) != content:
                write[path] = content
        remove += sorted(p for p in present if s.kind_of(p, family) == kind and p not in files)
    return write, remove


def apply_script(write: dict[str, str], remove: list[str], family: str) -> str:
    """As root: each file written whole under a temporary name and renamed, the stale ones removed, then the
    trust store rebuilt if a certificate changed and systemd told if a unit did."""
    lines = ['set -eu', 'umask 022',
             'put() { mkdir -p "$(dirname "$1")"; printf %s "$2" | base64 -d > "$1.machinist-new"; '
             'chmod 0644 "$1.machinist-new"; mv -f "$1.machinist-new" "$1"; }']
    for path in sorted(write):
        lines.append('put %s %s' % (shlex.quote(path), shlex.quote(base64.b64encode(write[path].encode()).decode())))
    for path in remove:
        lines.append('rm -f %s' % shlex.quote(path))
    touched = set(write) | set(remove)
    if any(s.kind_of(p, family) == 'ca_certificates' for p in touched):
        lines.append('%s >/dev/null' % s.FAMILIES[family]['ca_update'])
    if any(p in s.PROXY_UNITS for p in touched):
        lines.append('systemctl daemon-reload')
    # podman's service reads its configuration when it starts: a running one is restarted (try-restart leaves a
    # stopped one stopped; socket activation starts it again with the new files).
    lines.append('systemctl try-restart podman.service 2>/dev/null || true')
    return '\n'.join(lines) + '\n'


# As the login user: the user's own systemd reads the user units' drop-ins, and runs the rootless API service.
USER_RELOAD = ('systemctl --user daemon-reload 2>/dev/null || true\n'
               'systemctl --user try-restart podman.service 2>/dev/null || true\n')


class NetworkConverger:
    def __init__(self, session: SSHSession, facts: dict[str, Any], check_mode: bool = False, timeout: int = 300) -> None:
        self.session = session
        self.facts = facts
        self.check_mode = check_mode
        self.timeout = timeout
        self.commands: list[str] = []

    def _run(self, what: str, script: str, as_root: bool = False) -> str:
        command = 'sh -s' if not as_root else 'sudo -n sh -s'
        self.commands.append(what)
        rc, out, err = self.session.run(command, stdin=script.encode(), timeout=self.timeout)
        if rc != 0:
            said = (err.strip() or out.strip())[-1500:]
            raise NetworkSettingsError('%s in machine %s failed (exit %d).%s' % (
                what, self.facts.get('name'), rc, (' It said: %s' % said) if said else ''))
        return out

    def probe(self, family: str | None = None) -> dict[str, Any]:
        return parse_probe(self._run('reading the OS and the files placed', probe_script(family)))

    def converge(self, settings: dict[str, Any]) -> dict[str, Any]:
        before = self.probe()
        family = s.family_of(before['os_release'])
        address = s.host_address(self.facts.get('provider'), self.facts.get('user_mode_networking'), before['gateway'])
        wanted = s.wanted_files(settings, family, address)
        present = dict((p, c) for p, c in before['files'].items() if s.kind_of(p, family))
        write, remove = changes(wanted, present, family)
        declared = [p for p in present if s.kind_of(p, family) in wanted]
        result: dict[str, Any] = {
            'changed': bool(write or remove), 'os_family': family, 'host_address': address,
            'written': sorted(write), 'removed': remove,
            'diff': {'before': {'files': dict((p, s.shown(p, present[p])) for p in sorted(declared))},
                     'after': {'files': dict((p, s.shown(p, c)) for files in wanted.values()
                                             for p, c in sorted(files.items()))}},
        }
        if self.check_mode or not (write or remove):
            return result
        self._run('placing %s' % ', '.join(sorted(write) + ['removing ' + p for p in remove]),
                  apply_script(write, remove, family), as_root=before['uid'] != '0')
        if before['uid'] != '0':
            self._run('reloading the user units', USER_RELOAD)
        after = self.probe(family)
        wrong = [p for files in wanted.values() for p, c in files.items() if after['files'].get(p) != c]
        wrong += [p for p in remove if p in after['files']]
        if wrong:
            raise NetworkSettingsError('machine %s does not hold what was placed in %s after the change (a file system '
                                       'that is read-only, or a process that rewrites it?)'
                                       % (self.facts.get('name'), ', '.join(sorted(wrong))), changed=True)
        return result

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A machine checked, repaired where that is safe, and checked again: what each check reads (the host's
processes, one SSH session and one probe script in the guest, gvproxy's forwards, the API socket, the
system connections) and what each repair does.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._api.client import PodmanAPI
from ansible_collections.machinist.podman.plugins.module_utils._api.transport import Endpoint
from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError
from ansible_collections.machinist.podman.plugins.module_utils._forward import gvproxy
from ansible_collections.machinist.podman.plugins.module_utils._host.state import StateStore
from ansible_collections.machinist.podman.plugins.module_utils._machine import commands as cmds
from ansible_collections.machinist.podman.plugins.module_utils._machine_health import checks as c

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ansible_collections.machinist.podman.plugins.module_utils._api.transport import SSHSession
    from ansible_collections.machinist.podman.plugins.module_utils._machine.client import MachineClient

PS_ARGV = ['ps', '-axww', '-o', 'pid=,args=']


def seen_by(path: str | None, pid: int | None) -> str | None:
    """A path as the process `pid` sees it, from this host: itself, or through /proc/PID/root on Linux when that
    process runs in another root (a podman run in a container, a chroot or a Flatpak names its own paths)."""
    if not path or os.path.exists(path) or not pid:
        return path
    inside = '/proc/%d/root%s' % (pid, path)
    return inside if os.path.exists(inside) else path


def allocated_bytes(path: str | None) -> int | None:
    """What a disk image takes on the host (its allocated blocks, not its apparent size)."""
    try:
        return os.stat(path).st_blocks * 512 if path else None
    except (OSError, AttributeError):
        return None


class HealthChecker:
    """options: checks (names), max_clock_skew, min_free_percent, reclaim_threshold (MiB), default_connection
    (declared, or None), timeout (seconds per command in the machine)."""

    def __init__(self, client: MachineClient, facts: dict[str, Any], open_session: Callable[[dict[str, Any]], SSHSession],
                 options: dict[str, Any], restart: Callable[[str], dict[str, Any]] | None = None,
                 now: Callable[[], float] = time.time) -> None:
        self.client = client
        self.facts = facts
        self.open_session = open_session
        self.options = options
        self.restart = restart
        self.now = now
        self.commands: list[str] = []
        self._session: SSHSession | None = None

    # -- reading ------------------------------------------------------------------------------------------
    def _guest(self, what: str, command: str) -> str:
        if self._session is None:
            raise c.HealthError('%s in machine %s: it does not answer on SSH' % (what, self.facts.get('name')))
        self.commands.append(what)
        rc, out, err = self._session.run(command, timeout=self.options['timeout'], limit=256 * 1024)
        if rc != 0:
            said = (err.strip() or out.strip())[-1000:]
            raise c.HealthError('%s in machine %s failed (exit %d): %s' % (what, self.facts.get('name'), rc, said))
        return out

    def _processes(self) -> dict[str, Any] | None:
        if self.client.host.get('os') == 'windows':
            return None
        result = self.client.runner.run_program(PS_ARGV, timeout=30)
        if not result.ok:
            return None
        return c.find_processes(c.parse_ps(result.stdout), self.facts['name'], (self.facts.get('ssh') or {}).get('port'))

    def _ping(self, procs: dict[str, Any] | None) -> str | None:
        """Why the host-side API socket does not answer, or None. A socket this host cannot see (a Windows pipe, or
        none) is not checked: the machine's own socket is then reached over SSH, which the SSH check covers."""
        path = seen_by(self.facts.get('api_socket'), ((procs or {}).get('gvproxy') or {}).get('pid'))
        if not path or not os.path.exists(path):
            return None
        endpoint = Endpoint(unix_path=path, timeout=10)
        try:
            PodmanAPI(endpoint, timeout=10).ping()
        except MachinistError as exc:
            return str(exc)
        finally:
            endpoint.close()
        return None

    def _connect(self) -> str | None:
        """Opens the session (the host key checked); the reason when it cannot be opened."""
        if self._session is None:
            try:
                self._session = self.open_session(self.facts)
                self.commands.append('ssh: connect')
                self._session.connect()
            except MachinistError as exc:
                self._session = None
                return str(exc)
        return None

    def check(self) -> dict[str, Any]:
        """The findings and the measurements, and what a repair needs (in `_need`)."""
        want = set(self.options['checks'])
        name = self.facts['name']
        found: list[dict[str, Any]] = []
        seen: dict[str, Any] = {'state': self.facts.get('state')}
        need: dict[str, Any] = {}
        if self.facts.get('state') not in ('running', 'starting'):
            procs = self._processes() if 'process' in want else None
            orphan = c.check_orphan(self.facts, procs)
            if orphan:
                seen['processes'] = {'vm': {'pid': procs['vm']['pid'], 'program': procs['vm']['program']}}
                need['orphan_pid'] = procs['vm']['pid']
                return {'findings': orphan, 'measurements': seen, '_need': need}
            found.append(c.finding('process', 'info', 'machine %s is %s: nothing inside it was checked'
                                   % (name, self.facts.get('state')),
                                   'start it (machinist.podman.podman_machine with state: started) to check it', 'manual'))
            return {'findings': found, 'measurements': seen, '_need': need}
        procs = self._processes() if want & {'process', 'reachability', 'disk'} else None
        if 'process' in want:
            found += c.check_process(self.facts, procs)
            if procs is not None:
                seen['processes'] = dict((k, v and {'pid': v['pid'], 'program': v['program']}) for k, v in procs.items())
        ssh_error = self._connect() if want - {'process', 'default_connection'} else None
        if 'reachability' in want:
            found += c.check_reachability(name, ssh_error, self._ping(procs))
        guest = None
        if self._session is not None and want & {'disk', 'dns', 'version', 'forwards'}:
            guest = c.parse_guest_probe(self._guest('the guest probe', c.GUEST_PROBE))
        if self._session is not None and 'clock' in want:
            before = self.now()
            out = self._guest('the clock', c.CLOCK_COMMAND)
            clock = c.clock_skew(before, out, self.now())
            seen['clock'] = clock
            found += c.check_clock(name, clock, self.options['max_clock_skew'])
        if guest is not None and 'disk' in want and guest['disk']:
            vm = (procs or {}).get('vm') or {}
            drive = c.drive_discards(vm.get('drives') or [])
            image = seen_by(drive['file'] or self.facts.get('image_path'), vm.get('pid'))
            disk = dict(guest['disk'], image=image, allocated_bytes=allocated_bytes(image), discard=drive['discard'],
                        discard_reason=c.discard_reason(self.facts.get('provider'), drive, guest['discard']))
            seen['disk'] = disk
            found += c.check_disk(name, guest, self.options['min_free_percent'])
            found += c.check_reclaim(name, disk, self.options['reclaim_threshold'])
        if guest is not None and 'dns' in want:
            seen['dns'] = guest['dns']
            found += c.check_dns(name, self.facts, guest)
        if guest is not None and 'version' in want:
            seen['guest_podman'] = guest['podman']
            found += c.check_version(name, self.client.caps.version, guest['podman'])
        if guest is not None and 'forwards' in want and self.facts.get('provider') != 'wsl':
            forwarder = gvproxy.Forwarder(Endpoint(session=self._session, remote_tcp=gvproxy.GATEWAY), timeout=30)
            # The record port_forward keeps in the machine came with the probe; one it keeps on the host is read here.
            declared = guest['forward_record'] + gvproxy.HostRecord(StateStore(), machine=name).load()
            self.commands.append('gvproxy: the forwards')
            present = forwarder.list()
            seen['forwards'] = {'declared': sorted(c.forward_key(f) for f in declared),
                                'present': sorted(c.forward_key(f) for f in present)}
            more, missing = c.check_forwards(name, declared, present)
            found += more
            need['forwarder'], need['missing'] = forwarder, missing
        if 'default_connection' in want:
            more, mine = c.check_default_connection(self.facts, self.client.connections(), self.options['default_connection'])
            found += more
            need['connection'] = mine
        return {'findings': found, 'measurements': seen, '_need': need}

    # -- repairing -------------------------------------------------------------------------------------------
    def repairs(self, report: dict[str, Any], allow_restart: bool) -> list[dict[str, Any]]:
        """What repair would do for these findings, in order: a restart first (allowed or not, it ends the session),
        then the rest."""
        todo = []
        restart = sorted(set(f['id'] for f in report['findings'] if f['repair'] == 'restart'))
        if restart and allow_restart:
            todo.append({'repair': 'restart', 'why': restart})
        return todo + self._small_repairs(report)

    def _small_repairs(self, report: dict[str, Any]) -> list[dict[str, Any]]:
        todo = []
        for f in report['findings']:
            if f['repair'] != 'repair':
                continue
            if f['id'] == 'clock':
                todo.append({'repair': 'clock', 'skew_seconds': f['skew_seconds']})
            elif f['id'] == 'disk':
                todo.append({'repair': 'disk', 'image': report['measurements']['disk']['image']})
            elif f['id'] == 'forwards':
                todo.append({'repair': 'forwards', 'expose': f['missing']})
            elif f['id'] == 'default_connection':
                todo.append({'repair': 'default_connection', 'connection': f['wanted']})
        return todo

    def repair(self, report: dict[str, Any], todo: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done = []
        for item in todo:
            kind = item['repair']
            if kind == 'restart':
                self.close()
                if self.restart is None:
                    raise c.HealthError('machine %s needs a restart, and this check was given no way to restart it'
                                        % self.facts.get('name'))
                orphan = report['_need'].get('orphan_pid')
                if orphan:
                    self._end_process(orphan)
                    item = dict(item, ended_vm=orphan)
                self.facts = self.restart('started' if orphan else 'restarted')
                done.append(dict(item, state=self.facts.get('state')))
                # The boot re-applies the declared forwards; what else is still wrong is read again.
                after = self.check()
                return done + self.repair(after, self._small_repairs(after))
            if kind == 'clock':
                self._guest('stepping the clock', c.clock_step_command(self.now()))
            elif kind == 'disk':
                before = allocated_bytes(item['image'])
                out = self._guest('fstrim', c.FSTRIM_COMMAND)
                item = dict(item, allocated_before=before, allocated_after=allocated_bytes(item['image']),
                            fstrim=out.strip()[-500:])
            elif kind == 'forwards':
                need = report['_need']
                for f in [f for f in need['missing'] if c.forward_key(f) in item['expose']]:
                    self.commands.append('gvproxy: expose %s' % c.forward_key(f))
                    need['forwarder'].expose(f)
            elif kind == 'default_connection':
                result = self.client.runner.run(cmds.connection_default_argv(item['connection']))
                if not result.ok:
                    raise c.HealthError('podman system connection default %s failed: %s'
                                        % (item['connection'], (result.stderr or result.stdout).strip()[-500:]), result)
            done.append(item)
        return done

    def _end_process(self, pid: int, grace: float = 30) -> None:
        """An orphaned VM ended: SIGTERM (qemu shuts down), then SIGKILL after `grace` seconds."""
        runner = self.client.runner
        runner.run_program(['kill', '-TERM', str(pid)], timeout=10)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not runner.run_program(['kill', '-0', str(pid)], timeout=10).ok:
                return
            time.sleep(0.5)
        runner.run_program(['kill', '-KILL', str(pid)], timeout=10)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

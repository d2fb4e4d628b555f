# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What each health check sees, from what it read (pure): the host's processes, the guest's probe, the
system connections, gvproxy's forwards. Each check returns its measurements and its findings; a finding
names what was seen and the fix, and whether the module can repair it.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import base64
import json
import re
from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError
from ansible_collections.machinist.podman.plugins.module_utils._forward.gvproxy import RECORD_FILE as FORWARD_RECORD
from ansible_collections.machinist.podman.plugins.module_utils._machine.versions import PodmanVersion

if TYPE_CHECKING:
    from typing import Any

CHECKS = ('process', 'reachability', 'clock', 'disk', 'forwards', 'default_connection', 'version', 'dns')
SEVERITIES = ('error', 'warning', 'info')
# How a finding is repaired: by the module (repair: true), only with allow_restart: true, or by hand.
REPAIRS = ('repair', 'restart', 'manual')

# The names gvproxy's DNS serves inside the machine for the host (gvisor-tap-vsock's default zones).
HOST_NAMES = ('host.containers.internal', 'host.docker.internal')
VM_PROGRAMS = ('qemu-system-', 'vfkit', 'krunkit')


class HealthError(MachinistError):
    """A health option that cannot be taken, or a machine that cannot be checked at all."""


def finding(check: str, severity: str, seen: str, fix: str, repair: str = 'manual', **data: Any) -> dict[str, Any]:
    out = {'id': check, 'severity': severity, 'seen': seen, 'fix': fix, 'repair': repair}
    out.update(data)
    return out


# -- process ------------------------------------------------------------------------------------------
def parse_ps(stdout: str) -> list[tuple[int, list[str]]]:
    """`ps -axww -o pid=,args=`: (pid, argv split on blanks) per process."""
    out = []
    for line in (stdout or '').splitlines():
        pid, _sep, args = line.strip().partition(' ')
        if pid.isdigit():
            out.append((int(pid), args.split()))
    return out


def _names_machine(argv: list[str], name: str) -> bool:
    """A VM program's arguments name the machine's own files: its Ignition config (NAME.ign), its QMP socket
    (qmp_NAME.sock), its pid file (NAME_vm.pid), its network socket (NAME-gvproxy.sock), its log (NAME.log).
    A disk image's name is not enough: it may be any file the user gave."""
    pattern = re.compile(r'(^|[/=,:])(qmp_)?%s(_vm\.pid|_ready\.sock|\.sock|-gvproxy\.sock|\.ign|\.log)(,|$)'
                         % re.escape(name))
    return any(pattern.search(a) for a in argv[1:])


def find_processes(processes: list[tuple[int, list[str]]], name: str, ssh_port: Any) -> dict[str, Any]:
    """The machine's VM (its program named and its drive) and its gvproxy (found by the SSH port it forwards)."""
    vm = gv = None
    for pid, argv in processes:
        if not argv:
            continue
        prog = argv[0].rsplit('/', 1)[-1]
        if gv is None and prog.startswith('gvproxy') and ssh_port and str(ssh_port) in \
                [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ('-ssh-port', '--ssh-port')]:
            gv = {'pid': pid, 'program': prog}
        elif vm is None and any(prog.startswith(p) for p in VM_PROGRAMS) and _names_machine(argv, name):
            vm = {'pid': pid, 'program': prog, 'drives': [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == '-drive']}
    return {'vm': vm, 'gvproxy': gv}


def check_process(facts: dict[str, Any], procs: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A machine podman calls running (or starting) whose VM or gvproxy is gone; a stale Starting."""
    name = facts.get('name')
    state = facts.get('state')
    if procs is None:
        return []
    found = []
    if state == 'starting' and procs['vm'] is None:
        found.append(finding('process', 'error', 'podman says machine %s is starting, but no VM process runs for it: a '
                             'stale Starting left by a start that was killed' % name,
                             'restart it (allow_restart: true), or podman machine stop %s then start' % name, 'restart'))
    elif state == 'running':
        if procs['vm'] is None:
            found.append(finding('process', 'error', 'podman says machine %s is running, but no VM process runs for it'
                                 % name, 'restart it (allow_restart: true), or podman machine stop %s then start' % name,
                                 'restart'))
        if procs['gvproxy'] is None and facts.get('provider') != 'wsl':
            found.append(finding('process', 'error', 'the network helper (gvproxy) of machine %s does not run: SSH, the '
                                 'API socket and every forward are gone with it' % name,
                                 'restart the machine (allow_restart: true: its containers stop), or podman machine stop '
                                 '%s then start' % name, 'restart'))
    return found


def check_orphan(facts: dict[str, Any], procs: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A machine podman calls stopped whose VM still runs: Podman 4 reads a qemu machine's state through the socket
    gvproxy shares with it, so when gvproxy dies the machine looks stopped and a start waits forever on a disk the old
    VM still holds."""
    if not procs or procs['vm'] is None:
        return []
    name = facts.get('name')
    return [finding('process', 'error', 'podman says machine %s is %s, but its VM still runs (%s, pid %d): its network '
                    'helper (gvproxy) died, and a start would wait forever on the disk that VM holds'
                    % (name, facts.get('state'), procs['vm']['program'], procs['vm']['pid']),
                    'allow_restart: true ends that VM and starts the machine again (its containers stop), or kill %d '
                    'then podman machine start %s' % (procs['vm']['pid'], name), 'restart', pid=procs['vm']['pid'])]


# -- reachability ------------------------------------------------------------------------------------------
def check_reachability(name: str, ssh_error: str | None, api_error: str | None) -> list[dict[str, Any]]:
    found = []
    if ssh_error is not None:
        found.append(finding('reachability', 'error', 'machine %s does not answer on SSH: %s' % (name, ssh_error),
                             'if gvproxy or the VM is gone, restart the machine (allow_restart: true); if the host key '
                             'changed, the machine was re-created: remove its old key from the known_hosts file',
                             'restart'))
    if api_error is not None:
        found.append(finding('reachability', 'error', "machine %s's API socket does not answer _ping: %s" % (name, api_error),
                             'restart the machine (allow_restart: true), or podman machine stop %s then start' % name,
                             'restart'))
    return found


# -- the guest's probe ---------------------------------------------------------------------------------------
GUEST_PROBE = (
    "df -Pk 2>/dev/null | awk '$1 ~ \"^/dev/\" {print \"df\", $1, $2, $3, $4, $6}'\n"
    'for d in /sys/block/vd* /sys/block/sd* /sys/block/nvme*; do\n'
    "  [ -r \"$d/queue/discard_max_bytes\" ] && printf 'discard %s %s\\n' \"${d##*/}\" \"$(cat \"$d/queue/discard_max_bytes\")\"\n"
    'done\n'
    "for h in " + ' '.join(HOST_NAMES) + "; do\n"
    "  printf 'dns %s %s\\n' \"$h\" \"$(getent hosts \"$h\" 2>/dev/null | awk '{print $1; exit}')\"\n"
    'done\n'
    "printf 'podman %s\\n' \"$(podman --version 2>/dev/null)\"\n"
    "printf 'os %s\\n' \"$(. /etc/os-release 2>/dev/null; echo \"${ID:-}\")\"\n"
    # the forwards port_forward declared, as it keeps them in the machine (_forward/gvproxy.py's GuestRecord)
    "printf 'record %s\\n' \"$(base64 -w0 \"$HOME/" + FORWARD_RECORD + "\" 2>/dev/null)\"\n"
)


def _record(text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(base64.b64decode(text).decode('utf-8')) if text else []
    except ValueError:
        return []
    return [f for f in data if isinstance(f, dict) and f.get('local')] if isinstance(data, list) else []


def parse_guest_probe(stdout: str) -> dict[str, Any]:
    out: dict[str, Any] = {'forward_record': [], 'filesystems': {}, 'discard': {}, 'dns': {}, 'podman': None, 'os': None}
    for line in (stdout or '').splitlines():
        word, _sep, rest = line.partition(' ')
        fields = rest.split()
        if word == 'df' and len(fields) >= 5 and all(f.isdigit() for f in fields[1:4]):
            out['filesystems'][fields[0]] = {'size_bytes': int(fields[1]) * 1024, 'used_bytes': int(fields[2]) * 1024,
                                             'free_bytes': int(fields[3]) * 1024, 'mount': fields[4]}
        elif word == 'discard' and len(fields) == 2 and fields[1].isdigit():
            out['discard'][fields[0]] = int(fields[1])
        elif word == 'dns' and fields:
            out['dns'][fields[0]] = fields[1] if len(fields) > 1 else None
        elif word == 'podman':
            m = re.search(r'version\s+(\S+)', rest)
            out['podman'] = m.group(1) if m else None
        elif word == 'os':
            out['os'] = rest.strip() or None
        elif word == 'record':
            out['forward_record'] = _record(rest.strip())
    if out['filesystems']:
        # The largest file system holds podman's storage (/ or /var); all of them take the disk's blocks.
        main = max(out['filesystems'].values(), key=lambda f: f['size_bytes'])
        out['disk'] = dict(main, used_total_bytes=sum(f['used_bytes'] for f in out['filesystems'].values()))
    else:
        out['disk'] = None
    return out


CLOCK_COMMAND = 'date -u +%s.%N'


def clock_skew(host_before: float, guest_text: str, host_after: float) -> dict[str, float]:
    """The guest's clock minus the host's at the moment the guest read it (the middle of the round trip), and how
    far off that can be (half the round trip)."""
    try:
        guest = float(guest_text.strip())
    except ValueError:
        raise HealthError('the machine printed %r for %s, not a time' % (guest_text.strip()[:100], CLOCK_COMMAND))
    middle = (host_before + host_after) / 2
    return {'skew_seconds': round(guest - middle, 3), 'uncertainty_seconds': round((host_after - host_before) / 2, 3)}


def check_clock(name: str, clock: dict[str, float], max_skew: float) -> list[dict[str, Any]]:
    skew = clock['skew_seconds']
    if abs(skew) <= max_skew + clock['uncertainty_seconds']:
        return []
    seen = ("machine %s's clock is %.1f s %s the host's (more than max_clock_skew=%s): TLS certificates look not yet "
            'valid or expired, and builds see wrong times' % (name, abs(skew), 'behind' if skew < 0 else 'ahead of', max_skew))
    return [finding('clock', 'error' if abs(skew) > 60 else 'warning', seen,
                    "repair: true steps the guest's clock to the host's. When it recurs after the host sleeps, the "
                    "guest's time service does not resync: enable chronyd's makestep (or systemd-timesyncd) in the "
                    'machine', 'repair', skew_seconds=skew)]


def clock_step_command(epoch: float) -> str:
    return 'sudo -n date -u -s @%.3f >/dev/null' % epoch


# -- disk -------------------------------------------------------------------------------------------------------
def drive_discards(drives: list[str]) -> dict[str, Any]:
    """From the VM's -drive options (qemu): the disk file and whether qemu passes the guest's discards to it."""
    for drive in drives:
        opts = dict(o.partition('=')[::2] for o in drive.split(','))
        if opts.get('file') and opts.get('media') != 'cdrom':
            return {'file': opts['file'], 'discard': opts.get('discard', 'ignore')}
    return {'file': None, 'discard': None}


def check_disk(name: str, guest: dict[str, Any], min_free_percent: float) -> list[dict[str, Any]]:
    disk = guest.get('disk')
    if not disk or not disk['size_bytes']:
        return []
    free = 100.0 * disk['free_bytes'] / disk['size_bytes']
    if free >= min_free_percent:
        return []
    return [finding('disk', 'error' if free < 5 else 'warning',
                    "machine %s's %s has %.1f%% free (%d MiB of %d MiB), under min_free_percent=%s"
                    % (name, disk['mount'], free, disk['free_bytes'] // 1048576, disk['size_bytes'] // 1048576,
                       min_free_percent),
                    'remove what the machine no longer needs (podman system prune in the machine), or grow its disk '
                    '(podman_machine disk_size, which needs a stop)', 'manual', free_percent=round(free, 1))]


def discard_reason(provider: str | None, drive: dict[str, Any], guest_discard: dict[str, int]) -> str | None:
    """Why a trim in the guest cannot give space back to the host, or None when it can."""
    if guest_discard and not any(guest_discard.values()):
        return ('the guest sees no discard support on its disk (discard_max_bytes is 0 for %s): the VM does not pass '
                'discards through' % ', '.join(sorted(guest_discard)))
    if provider == 'qemu' and drive.get('file') and drive.get('discard') in ('ignore', 'off'):
        return ('podman starts qemu with -drive file=%s without discard=unmap, so qemu ignores the guest\'s discards '
                "(qemu's default, discard=ignore): the guest reuses its freed blocks, but the disk image on the host "
                'does not shrink' % drive['file'])
    return None


def check_reclaim(name: str, disk: dict[str, Any], threshold_mib: int) -> list[dict[str, Any]]:
    """The disk image holds more on the host than the guest's files use: what a trim could give back."""
    allocated = disk.get('allocated_bytes')
    used = disk.get('used_total_bytes')
    if allocated is None or used is None:
        return []
    reclaimable = allocated - used
    if reclaimable <= threshold_mib * 1048576:
        return []
    seen = ("machine %s's disk image %s takes %d MiB on the host while the guest's files use %d MiB (%d MiB more than "
            'reclaim_threshold=%d MiB)' % (name, disk.get('image'), allocated // 1048576, used // 1048576,
                                           reclaimable // 1048576, threshold_mib))
    if disk.get('discard_reason'):
        return [finding('disk', 'info', seen + ': ' + disk['discard_reason'],
                        'a trim cannot shrink it; stop the machine and compact the image (qemu-img convert -O qcow2 '
                        'IMAGE NEW, then move NEW over IMAGE), or remove unused images and volumes in the machine so '
                        'that the guest reuses the space', 'manual', reclaimable_bytes=reclaimable)]
    return [finding('disk', 'warning', seen, 'repair: true runs fstrim in the machine, which gives the freed blocks back '
                    'to the host', 'repair', reclaimable_bytes=reclaimable)]


FSTRIM_COMMAND = 'sudo -n fstrim -av 2>&1'


# -- default connection ---------------------------------------------------------------------------------------
def check_default_connection(facts: dict[str, Any], connections: list[dict[str, Any]],
                             declared: bool | None) -> tuple[list[dict[str, Any]], str | None]:
    """The machine's connection that should be the default, when one should be: (findings, that connection)."""
    name = facts.get('name')
    mine = name + ('-root' if facts.get('rootful') else '')
    other = name if facts.get('rootful') else name + '-root'
    names = [c.get('Name') for c in connections]
    defaults = [c.get('Name') for c in connections if c.get('Default')]
    if mine not in names:
        if declared:
            return [finding('default_connection', 'warning', 'machine %s has no system connection %s to make the default '
                            '(a machine made with ignition_path gets none)' % (name, mine),
                            'add it: podman system connection add %s --identity KEY ssh://USER@127.0.0.1:PORT/SOCKET' % mine,
                            'manual')], None
        return [], None
    current = defaults[0] if defaults else None
    if current == other:
        return [finding('default_connection', 'error', 'the default connection is %s, %s socket, but machine %s is %s: '
                        "podman commands go to the socket of the other user's podman, whose containers and images are not "
                        'the ones expected' % (other, 'the rootful' if other.endswith('-root') else 'the rootless', name,
                                               'rootful' if facts.get('rootful') else 'rootless'),
                        'repair: true makes %s the default (podman system connection default %s)' % (mine, mine),
                        'repair', current=current, wanted=mine)], mine
    if declared and current != mine:
        return [finding('default_connection', 'warning', 'the default connection is %s, not %s as declared (default_connection: '
                        'true)' % (current or 'none', mine),
                        'repair: true makes %s the default (podman system connection default %s)' % (mine, mine),
                        'repair', current=current, wanted=mine)], mine
    return [], None


# -- version ------------------------------------------------------------------------------------------------------
def check_version(name: str, client: PodmanVersion, guest_text: str | None) -> list[dict[str, Any]]:
    if not guest_text:
        return [finding('version', 'warning', 'podman --version printed nothing in machine %s: the guest has no podman on '
                        'its PATH' % name, "re-create the machine from an image with podman, or repair the guest's OS",
                        'manual')]
    try:
        guest = PodmanVersion.parse(guest_text)
    except ValueError:
        return []
    if (guest.major, guest.minor) == (client.major, client.minor):
        return []
    behind = guest.tuple < client.tuple
    severity = 'error' if guest.major != client.major else 'warning'
    return [finding('version', severity, 'the podman in machine %s is %s, the client on the host %s: %s' % (
        name, guest, client, 'a different major version, whose API the client may not speak' if severity == 'error'
        else 'the guest is %s the client' % ('behind' if behind else 'ahead of')),
        'upgrade the guest with machinist.podman.podman_machine_os (or re-create the machine from an image of the '
        "client's version)" if behind else "upgrade the host's podman to the guest's version", 'manual',
        guest_version=str(guest), client_version=str(client))]


# -- DNS -------------------------------------------------------------------------------------------------------------
def check_dns(name: str, facts: dict[str, Any], guest: dict[str, Any]) -> list[dict[str, Any]]:
    if facts.get('provider') == 'wsl' and not facts.get('user_mode_networking'):
        return []
    answers = dict((h, a) for h, a in guest.get('dns', {}).items() if a)
    if answers or not guest.get('dns'):
        return []
    return [finding('dns', 'error', 'machine %s resolves none of %s, which gvproxy\'s DNS serves for the host: the '
                    "guest's resolver does not reach gvproxy (192.168.127.1)" % (name, ', '.join(HOST_NAMES)),
                    "check /etc/resolv.conf in the machine (nameserver 192.168.127.1); a VPN on the host can take it: "
                    'restart the machine (allow_restart: true)', 'restart')]


# -- forwards ----------------------------------------------------------------------------------------------------------
def forward_key(f: dict[str, Any]) -> str:
    return '%s/%s' % (f.get('protocol', 'tcp'), f.get('local'))


def check_forwards(name: str, declared: list[dict[str, Any]], present: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(findings, the declared forwards gvproxy lacks)."""
    now = dict((forward_key(f), f) for f in present)
    missing = [f for f in declared if forward_key(f) not in now]
    moved = [f for f in declared if forward_key(f) in now and now[forward_key(f)].get('remote') != f.get('remote')]
    found = []
    if missing:
        found.append(finding('forwards', 'error', 'gvproxy of machine %s lacks %d forward(s) declared with port_forward: %s'
                             % (name, len(missing), ', '.join('%s -> %s' % (forward_key(f), f.get('remote')) for f in missing)),
                             'repair: true exposes them again', 'repair',
                             missing=[forward_key(f) for f in missing]))
    for f in moved:
        found.append(finding('forwards', 'error', 'gvproxy of machine %s forwards %s to %s, not to %s as declared'
                             % (name, forward_key(f), now[forward_key(f)].get('remote'), f.get('remote')),
                             'something else took that host port (a container publishing it?): choose another host port '
                             'in port_forward, or stop that owner', 'manual'))
    return found, missing

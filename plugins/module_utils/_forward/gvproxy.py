# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host-to-machine port forwards through gvproxy's forwarder API: the declared forwards in
gvproxy's terms, the plan against what gvproxy has, the API client, and the boot-time script
that re-applies them inside the machine.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

gvproxy keys a forward by protocol and `local` (the host address it binds: "ip:port", ":port"
for every interface, or a socket path), and keeps forwards only in memory: they vanish when
the machine stops. podman inside the machine makes forwards of the same kind for containers'
published ports, so a forward that this collection did not declare has another owner, and it
is never taken over or removed: the clash is reported with both owners named.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex

from ansible_collections.machinist.podman.plugins.module_utils._api.transport import TransportError
from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError

GUEST_IP = '192.168.127.2'
GATEWAY = ('192.168.127.1', 80)
PROTOCOLS = ('tcp', 'udp', 'unix')


class ForwardError(MachinistError):
    """A forward refused or not applied; `extra` names the forwards at fault (conflicts, owners)."""


def _port(value, field):
    # int() would take ' 80\n', True and other scripts' digits: only an int or ASCII digits are a port.
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and _DIGITS.fullmatch(value))):
        raise ForwardError('%s: %r is not a port number' % (field, value))
    number = int(value)
    if not 1 <= number <= 65535:
        raise ForwardError('%s: %d is out of range (1-65535)' % (field, number))
    return number


# Validation matches whole values (fullmatch: "$" lets a trailing newline through) with ASCII
# classes ("\d" takes other scripts' digits). No leading zeros: Go's net.ParseIP, gvproxy's, refuses them.
_DIGITS = re.compile(r'[0-9]+')
_IPV4 = re.compile(r'(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})')
_SOCKET_PATH = re.compile(r'/[A-Za-z0-9_./@+-]*')


def _ipv4(value, field):
    m = _IPV4.fullmatch(value) if isinstance(value, str) else None
    if not m or any(int(g) > 255 for g in m.groups()):
        raise ForwardError('%s: %r is not an IPv4 address (gvproxy forwards IPv4 only)' % (field, value))
    return value


def normalise(spec, index):
    """One declared forward -> {local, remote, protocol, ...} in gvproxy's terms."""
    field = 'forwards[%d]' % index
    unknown = set(spec) - {'host_ip', 'host_port', 'host_socket', 'guest_ip', 'guest_port', 'protocol'}
    if unknown:
        raise ForwardError('%s: unknown key(s) %s; known: host_ip, host_port, host_socket, guest_ip, guest_port, protocol'
                           % (field, ', '.join(sorted(unknown))))
    protocol = spec.get('protocol') or ('unix' if spec.get('host_socket') else 'tcp')
    if protocol not in PROTOCOLS:
        raise ForwardError('%s.protocol: %r must be tcp, udp or unix' % (field, protocol))
    guest_ip = _ipv4(spec.get('guest_ip') or GUEST_IP, field + '.guest_ip')
    if protocol == 'unix':
        path = spec.get('host_socket')
        if not isinstance(path, str) or not _SOCKET_PATH.fullmatch(path):
            raise ForwardError('%s.host_socket: a unix forward needs an absolute socket path on the host (letters, digits, '
                               '_ . / @ + -), got %r' % (field, path))
        if spec.get('host_port') or spec.get('host_ip'):
            raise ForwardError('%s: host_socket and host_port/host_ip exclude each other' % field)
        guest_port = _port(spec.get('guest_port'), field + '.guest_port')
        return {'local': path, 'remote': 'tcp://%s:%d' % (guest_ip, guest_port), 'protocol': 'unix'}
    if spec.get('host_socket'):
        raise ForwardError('%s.host_socket: only with protocol unix' % field)
    host_port = _port(spec.get('host_port'), field + '.host_port')
    guest_port = _port(spec.get('guest_port') or host_port, field + '.guest_port')
    host_ip = spec.get('host_ip', '127.0.0.1')
    if host_ip in ('', '0.0.0.0', '*'):
        local = ':%d' % host_port
    else:
        local = '%s:%d' % (_ipv4(host_ip, field + '.host_ip'), host_port)
    return {'local': local, 'remote': '%s:%d' % (guest_ip, guest_port), 'protocol': protocol}


def key(forward):
    return '%s/%s' % (forward.get('protocol') or 'tcp', forward['local'])


def _binds_overlap(a, b):
    """Two forwards that cannot both bind: same protocol and port, and one on every interface or same IP."""
    if (a.get('protocol') or 'tcp') != (b.get('protocol') or 'tcp'):
        return False
    if a['protocol'] == 'unix':
        return a['local'] == b['local']
    ip_a, _sep, port_a = a['local'].rpartition(':')
    ip_b, _sep, port_b = b['local'].rpartition(':')
    return port_a == port_b and (ip_a == ip_b or not ip_a or not ip_b)


def _same(a, b):
    return key(a) == key(b) and a['remote'] == b['remote']


def plan(desired, current, owned, state, exclusive=False, owner_of=None):
    """What to unexpose and expose so that the declared forwards hold.

    desired: normalised forwards; current: gvproxy's list; owned: keys this collection declared
    earlier (its record); owner_of(forward) names who made a forward that is not ours.
    Returns (unexpose, expose, record, clashes): record is the owned set after the change.
    """
    owner_of = owner_of or (lambda f: 'something other than this collection')
    current = [dict(c, protocol=c.get('protocol') or 'tcp') for c in current]
    by_key = dict((key(c), c) for c in current)
    owned = set(owned)
    unexpose, expose, clashes = [], [], []
    record = set(owned)
    if state == 'absent':
        for d in desired:
            have = by_key.get(key(d))
            if have is None:
                record.discard(key(d))
            elif key(d) in owned:
                unexpose.append(have)
                record.discard(key(d))
            else:
                clashes.append('%s %s (to %s) was made by %s, not by this collection; it is left alone'
                               % (d['protocol'], d['local'], have['remote'], owner_of(have)))
        return unexpose, expose, record, clashes

    wanted = set(key(d) for d in desired)
    for d in desired:
        have = by_key.get(key(d))
        if have is not None and _same(have, d):
            record.add(key(d))
            continue
        # Our own overlapping forwards are replaced below; anyone else's is a clash.
        others = [c for c in current if _binds_overlap(c, d) and key(c) not in owned]
        if others:
            for c in others:
                clashes.append('host %s %s: this task wants it forwarded to %s, but gvproxy already forwards %s to %s for '
                               '%s. Choose another host port, or stop that owner first'
                               % (d['protocol'], d['local'], d['remote'], c['local'], c['remote'], owner_of(c)))
            continue
        for c in current:
            if key(c) in owned and _binds_overlap(c, d) and c not in unexpose:
                unexpose.append(c)
                record.discard(key(c))
        expose.append(d)
        record.add(key(d))
    if exclusive:
        for c in current:
            if key(c) in owned and key(c) not in wanted and c not in unexpose:
                unexpose.append(c)
                record.discard(key(c))
    return unexpose, expose, record, clashes


class Forwarder:
    """gvproxy's forwarder API over any endpoint of _api_transport."""

    def __init__(self, endpoint, timeout=30):
        self.endpoint = endpoint
        self.timeout = timeout
        self.requests = []

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode('utf-8') if body is not None else None
        try:
            status, _headers, text = self.endpoint.request(method, path, body=data, timeout=self.timeout,
                                                           service='gvproxy',
                                                           headers={'Content-Type': 'application/json'} if data else {})
        except TransportError as exc:
            raise ForwardError(str(exc))  # a ForwardError, so a change cut half-way still saves its record
        self.requests.append({'method': method, 'path': path, 'status': status})
        return status, text.decode('utf-8', 'replace').strip()

    def list(self):
        status, text = self._call('GET', '/services/forwarder/all')
        if status != 200:
            raise ForwardError('gvproxy at %s could not list its forwards (%s): %s' % (self.endpoint.describe(), status, text))
        try:
            data = json.loads(text or '[]')
        except ValueError:
            raise ForwardError('gvproxy at %s answered its forward list with something that is not JSON: %r'
                               % (self.endpoint.describe(), text[:200]))
        return data or []

    def expose(self, f):
        status, text = self._call('POST', '/services/forwarder/expose',
                                  {'local': f['local'], 'remote': f['remote'], 'protocol': f['protocol']})
        if status != 200:
            hint = ''
            if 'address already in use' in text:
                hint = ' Another program on the host already listens there: choose another host port.'
            raise ForwardError('gvproxy refused to forward host %s %s to %s (%s): %s.%s'
                               % (f['protocol'], f['local'], f['remote'], status, text, hint))

    def unexpose(self, f):
        status, text = self._call('POST', '/services/forwarder/unexpose', {'local': f['local'], 'protocol': f['protocol']})
        if status != 200 and 'not found' not in text:
            raise ForwardError('gvproxy refused to drop the forward of host %s %s (%s): %s'
                               % (f['protocol'], f['local'], status, text))


# -- inside the machine: the record and the boot-time script ------------------------------
RECORD_DIR = '.config/machinist-podman'
RECORD_FILE = RECORD_DIR + '/forwards.json'
SCRIPT_FILE = RECORD_DIR + '/apply-forwards.sh'
UNIT_NAME = 'machinist-podman-forwards.service'
UNIT_FILE = '.config/systemd/user/' + UNIT_NAME
UNIT_LINK = '.config/systemd/user/default.target.wants/' + UNIT_NAME

UNIT_TEXT = """[Unit]
Description=Port forwards declared with machinist.podman.port_forward, re-applied through gvproxy at boot

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/bash %h/{script}

[Install]
WantedBy=default.target
""".format(script=SCRIPT_FILE)


def boot_script(forwards, gateway=GATEWAY):
    """A bash script (no curl needed) that POSTs each forward to gvproxy at the gateway, retrying
    while the network comes up. "proxy already running" means it is already there."""
    lines = [
        '#!/bin/bash',
        '# Written by machinist.podman.port_forward; rewritten on every change. Do not edit.',
        'expose() {',
        '    local body=$1 status i',
        '    for i in $(seq 1 90); do',
        '        if exec 3<>/dev/tcp/%s/%d; then' % tuple(gateway),
        '            printf "POST /services/forwarder/expose HTTP/1.0\\r\\nHost: gateway\\r\\nContent-Type: application/json\\r\\n'
        'Content-Length: %d\\r\\n\\r\\n%s" "${#body}" "$body" >&3',
        '            read -r _ status _ <&3',
        '            exec 3<&- 3>&-',
        '            case $status in',
        '                200) return 0 ;;',
        '                500) echo "gvproxy kept an earlier forward: $body"; return 0 ;;',
        '            esac',
        '        fi 2>/dev/null',
        '        sleep 1',
        '    done',
        '    echo "gvproxy did not take $body" >&2',
        '    return 1',
        '}',
        'rc=0',
    ]
    for f in sorted(forwards, key=key):
        body = json.dumps({'local': f['local'], 'remote': f['remote'], 'protocol': f['protocol']}, sort_keys=True,
                          separators=(',', ':'))
        lines.append('expose %s || rc=1' % shlex.quote(body))
    lines.append('exit $rc')
    return '\n'.join(lines) + '\n'


def save_script(files, link, target):
    """A POSIX sh script (coreutils only: the guest may have no SFTP server) that writes each (path, text, mode)
    whose content differs, whole, then renamed into place, makes the symlink `link` to `target` when missing, and
    prints "wrote PATH" for each. Paths are relative to the login user's home, where the script starts."""
    lines = [
        'set -e',
        'umask 022',
        'put() {',
        '    tmp="$1.tmp"',
        '    printf %s "$3" | base64 -d >"$tmp"',
        '    if [ -f "$1" ] && [ "$(sha256sum <"$1")" = "$(sha256sum <"$tmp")" ]; then rm -f "$tmp"; return 0; fi',
        '    chmod "$2" "$tmp"',
        '    mv -f "$tmp" "$1"',
        '    echo "wrote $1"',
        '}',
    ]
    folders = sorted(set(os.path.dirname(path) for path, _text, _mode in files) | {os.path.dirname(link)})
    lines.append('mkdir -p %s' % ' '.join(shlex.quote(f) for f in folders))
    for path, text, mode in files:
        lines.append('put %s %o %s' % (shlex.quote(path), mode, base64.b64encode(text.encode('utf-8')).decode('ascii')))
    quoted = shlex.quote(link)
    lines.append('[ -L %s ] || { ln -sfn %s %s; echo wrote %s; }' % (quoted, shlex.quote(target), quoted, quoted))
    return '\n'.join(lines) + '\n'


class GuestRecord:
    """The forwards this collection declared for a machine, kept inside it (with the boot script
    and the user unit that runs it), so they are re-applied at every boot of the machine. Read and
    written with commands over the session, which both SSH clients run the same way."""

    def __init__(self, session, timeout=60):
        self.session = session
        self.timeout = timeout

    def load(self):
        rc, out, _err = self.session.run('cat %s' % shlex.quote(RECORD_FILE), timeout=self.timeout, limit=1024 * 1024)
        if rc != 0 or not out.strip():
            return []
        try:
            return json.loads(out)
        except ValueError:
            return []

    def save(self, forwards):
        """Writes what differs; True when something was written."""
        files = [
            (RECORD_FILE, json.dumps(sorted(forwards, key=key), indent=1, sort_keys=True) + '\n', 0o600),
            (SCRIPT_FILE, boot_script(forwards), 0o700),
            (UNIT_FILE, UNIT_TEXT, 0o644),
        ]
        script = save_script(files, UNIT_LINK, '../' + UNIT_NAME)
        rc, out, err = self.session.run('sh -s', stdin=script.encode('utf-8'), timeout=self.timeout)
        if rc != 0:
            raise ForwardError('could not write the record of the forwards in the machine (exit %d): %s'
                               % (rc, (err or out).strip()[-2000:]))
        return any(line.startswith('wrote ') for line in out.splitlines())


class HostRecord:
    """The declared forwards in the collection's state folder, for a gvproxy reached at an explicit
    API socket (keyed by the socket's real path) or a machine's with persist=false (keyed by the
    machine's name). Nothing re-applies them: whoever runs that gvproxy does."""

    def __init__(self, store, socket_path=None, machine=None):
        if (socket_path is None) == (machine is None):
            raise ValueError('HostRecord: give one of socket_path and machine')
        # A machine's name is no path: resolved against the working directory it would name
        # another record in each folder the task ran from.
        ident = os.path.realpath(socket_path) if socket_path is not None else 'machine:' + machine
        self.store = store
        self.name = hashlib.sha256(ident.encode('utf-8')).hexdigest()[:24] + '.json'

    def load(self):
        return (self.store.read_json('forwards', self.name) or {}).get('forwards') or []

    def save(self, forwards):
        data = {'forwards': sorted(forwards, key=key)}
        if self.store.read_json('forwards', self.name) != data:
            self.store.write_json(data, 'forwards', self.name)
        return False  # bookkeeping on the controller side is not a change of the target


def converge_forwards(forwarder, record, desired, state, exclusive=False, check_mode=False, owner_of=None):
    """Returns {changed, exposed, unexposed, forwards (gvproxy's list after), before, after}."""
    current = forwarder.list()
    owned_forwards = record.load()
    owned = set(key(f) for f in owned_forwards)
    unexpose, expose, record_keys, clashes = plan(desired, current, owned, state, exclusive, owner_of)
    if clashes:
        raise ForwardError('; '.join(clashes), clashes=clashes, forwards=current)
    merged = dict((key(f), f) for f in owned_forwards)
    merged.update((key(f), f) for f in desired)
    new_record = [merged[k] for k in sorted(record_keys)]
    changed = bool(unexpose or expose)
    done = []
    if not check_mode:
        try:
            for f in unexpose:
                forwarder.unexpose(f)
                done.append('unexpose %s' % key(f))
            for f in expose:
                forwarder.expose(f)
                done.append('expose %s' % key(f))
        except ForwardError as exc:
            exc.changed = bool(done)
            exc.extra['done'] = done
            # Keep the record true to what now is, so the next run starts from the facts.
            after = dict((key(f), f) for f in owned_forwards)
            for f in unexpose[:len([d for d in done if d.startswith('unexpose')])]:
                after.pop(key(f), None)
            for f in expose[:len([d for d in done if d.startswith('expose')])]:
                after[key(f)] = f
            record.save(list(after.values()))
            raise
        if record.save(new_record):
            changed = True
        after = forwarder.list()
    else:
        after = [c for c in current if c not in unexpose] + expose
    return {'changed': changed, 'exposed': expose, 'unexposed': unexpose, 'forwards': after,
            'before': {'forwards': sorted(current, key=key)}, 'after': {'forwards': sorted(after, key=key)}}

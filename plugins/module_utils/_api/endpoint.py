# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where the API modules' connection options become an endpoint: a machine (looked up with
`podman machine inspect`), or an explicit unix:// or ssh:// URL.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

For a machine, SSH host keys are recorded on first use in the collection's own known_hosts file
($XDG_STATE_HOME/machinist.podman/known_hosts) and checked on every later connection. podman
itself never checks a machine's key (it passes UserKnownHostsFile=/dev/null), so this is the
first check anyone makes; `podman_machine` forgets a machine's line when it removes or creates
a machine, so a recreated machine on a reused port is not mistaken for an attack.

That leaves a trust-on-first-use window (documented in the _api doc fragment): with no line for
the port, whatever answers there first is recorded. Neither podman's Ignition nor the machine's
files on the host carry the guest's host key (sshd makes it at first boot), so the module cannot
pin it by itself; ssh_host_key, or strict with a line the user wrote, closes the window.
"""

from __future__ import annotations

import os
import re

from ansible_collections.machinist.podman.plugins.module_utils._api.openssh import session_for
from ansible_collections.machinist.podman.plugins.module_utils._api.transport import Endpoint, SSHTarget, TransportError
from ansible_collections.machinist.podman.plugins.module_utils._host.state import StateStore
from ansible_collections.machinist.podman.plugins.module_utils._machine.facts import ssh_login

# Matched whole (fullmatch), ASCII digits only: "$" would let a trailing newline through, and "\d"
# takes other scripts' digits, which int() then reads as a port. No spaces or control characters.
_SSH_URL = re.compile(r'ssh://(?P<user>[^@/\[\]\s\x00-\x1f\x7f]+)@(?P<host>\[[0-9A-Za-z:.%]+\]|[^:/@\[\]\s\x00-\x1f\x7f]+)'
                      r'(?::(?P<port>[0-9]+))?(?P<path>/[^\x00-\x1f\x7f]*)')
_UNIX_URL = re.compile(r'unix://(?P<path>/[^\x00-\x1f\x7f]*)')
_URL_FORMS = 'give unix:///path/to/podman.sock or ssh://user@host[:port]/path/to/podman.sock (no spaces or control characters)'


def machine_known_hosts():
    return StateStore().known_hosts()


def guest_socket(facts, host_uid=None):
    """The API socket inside a machine: rootful machines serve root's, others the user's.

    Podman creates the machine's user with the host user's UID (Linux and macOS)."""
    if facts.get('rootful'):
        return '/run/podman/podman.sock'
    return '/run/user/%d/podman/podman.sock' % (os.getuid() if host_uid is None else host_uid)


def machine_ssh_target(params, facts, as_root=False):
    """SSH to a machine as podman does: its user, or root (for a rootful machine's API socket)."""
    login = ssh_login(facts, as_root)
    if not login or not login['identity']:
        raise TransportError('machine=%s: podman reports no SSH port or identity for this machine' % facts.get('name'))
    return SSHTarget(login['host'], login['port'], login['user'], identity=params.get('ssh_identity') or login['identity'],
                     known_hosts=params.get('ssh_known_hosts') or machine_known_hosts(),
                     host_key=params.get('ssh_host_key'),
                     host_key_checking=params.get('ssh_host_key_checking') or 'accept-new',
                     timeout=min(params.get('api_timeout') or 60, 60), client=params.get('ssh_client') or 'auto')


def endpoint_from_url(params, run_command=None):
    url = params['api_url']
    timeout = params.get('api_timeout') or 120
    m = _UNIX_URL.fullmatch(url)
    if m:
        return Endpoint(unix_path=m.group('path'), timeout=timeout)
    m = _SSH_URL.fullmatch(url)
    if not m:
        raise TransportError('api_url=%r: %s' % (url, _URL_FORMS))
    port = int(m.group('port') or 22)
    if not 1 <= port <= 65535:
        raise TransportError('api_url: port %d is out of range (1-65535) in %r' % (port, url))
    target = SSHTarget(m.group('host').strip('[]'), port, m.group('user'),
                       identity=params.get('ssh_identity'),
                       known_hosts=params.get('ssh_known_hosts') or os.path.expanduser('~/.ssh/known_hosts'),
                       host_key=params.get('ssh_host_key'),
                       host_key_checking=params.get('ssh_host_key_checking') or 'strict',
                       timeout=min(timeout, 60), client=params.get('ssh_client') or 'auto')
    return Endpoint(session=session_for(target, run_command), remote_path=m.group('path'), timeout=timeout)


def endpoint_for_machine(params, facts, run_command=None):
    """The host-side socket gvproxy forwards (when it is there), else SSH to the guest's socket."""
    name = facts.get('name')
    if facts.get('state') != 'running':
        raise TransportError('machine=%s is %s: its API answers only while it runs. Start it first (podman_machine '
                             'with state: started)' % (name, facts.get('state')))
    transport = params.get('api_transport') or 'auto'
    sock = facts.get('api_socket')
    if transport in ('auto', 'socket') and sock and os.path.exists(sock):
        return Endpoint(unix_path=sock, timeout=params.get('api_timeout') or 120)
    if transport == 'socket':
        raise TransportError('machine=%s: its host-side API socket %s does not exist (this podman or provider does '
                             'not forward one); use api_transport: ssh' % (name, sock or '(none reported)'))
    target = machine_ssh_target(params, facts, as_root=bool(facts.get('rootful')))
    return Endpoint(session=session_for(target, run_command), remote_path=guest_socket(facts),
                    timeout=params.get('api_timeout') or 120)

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What port_forward does with its options: the forwards checked, gvproxy reached (through the
machine's SSH, or its socket on this host), the forwards converged and kept.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._api.client import PodmanAPI
from ansible_collections.machinist.podman.plugins.module_utils._api.endpoint import guest_socket, machine_ssh_target
from ansible_collections.machinist.podman.plugins.module_utils._api.transport import Endpoint
from ansible_collections.machinist.podman.plugins.module_utils._forward import gvproxy
from ansible_collections.machinist.podman.plugins.module_utils._host.state import StateStore
from ansible_collections.machinist.podman.plugins.module_utils._tasks.api import API_ARGS
from ansible_collections.machinist.podman.plugins.module_utils._tasks.module import TASK_ERRORS

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ansible_collections.machinist.podman.plugins.module_utils._api.transport import SSHSession
    from ansible_collections.machinist.podman.plugins.module_utils._tasks.api import APIContext

# The SSH options are the API modules' (the machinist.podman._api doc fragment), with their defaults.
FORWARD_ARGS = dict(
    machine=dict(type='str'),
    gvproxy_socket=dict(type='path'),
    forwards=dict(type='list', elements='dict', required=True, options=dict(
        host_port=dict(type='int'),
        host_ip=dict(type='str', default='127.0.0.1'),
        host_socket=dict(type='str'),
        guest_ip=dict(type='str', default=gvproxy.GUEST_IP),
        guest_port=dict(type='int'),
        protocol=dict(type='str', choices=list(gvproxy.PROTOCOLS)),
    )),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    exclusive=dict(type='bool', default=False),
    persist=dict(type='bool', default=True),
    **dict((k, API_ARGS[k]) for k in ('executable', 'ssh_identity', 'ssh_known_hosts', 'ssh_host_key',
                                      'ssh_host_key_checking', 'ssh_client'))
)
FORWARD_RULES = dict(mutually_exclusive=[('machine', 'gvproxy_socket')], required_one_of=[('machine', 'gvproxy_socket')])


def owner_namer(facts: dict[str, Any] | None, session: SSHSession | None) -> Callable[[dict[str, Any]], str]:
    """Names who made a forward: podman for the machine's SSH port, else the container publishing it."""
    cache = {}

    def containers():
        if 'list' not in cache:
            cache['list'] = []
            if session is not None and not facts.get('rootful'):
                try:
                    api = PodmanAPI(Endpoint(session=session, remote_path=guest_socket(facts)), timeout=30)
                    cache['list'] = api.container_list(all=False)
                except TASK_ERRORS:
                    pass
        return cache['list']

    def owner_of(forward):
        port = forward['local'].rpartition(':')[2]
        if facts and str((facts.get('ssh') or {}).get('port')) == port and forward['remote'].endswith(':22'):
            return 'podman itself (the SSH port of machine %s)' % facts.get('name')
        names = []
        for c in containers():
            for p in c.get('Ports') or []:
                if str(p.get('host_port')) == port and (p.get('protocol') or 'tcp') == forward.get('protocol', 'tcp'):
                    names.extend(c.get('Names') or [c.get('Id', '')[:12]])
        if names:
            return 'container %s (podman forwards the ports containers publish)' % ', '.join(sorted(set(names)))
        return 'another owner (not declared by this collection; podman makes such forwards for published container ports)'

    return owner_of


def desired_forwards(forwards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The declared forwards, normalised; the same host address twice is refused."""
    desired = [gvproxy.normalise(dict((k, v) for k, v in f.items() if v is not None and not (k == 'host_ip' and f.get('host_socket'))), i)
               for i, f in enumerate(forwards)]
    keys = [gvproxy.key(f) for f in desired]
    if len(keys) != len(set(keys)):
        raise gvproxy.ForwardError('forwards: the same host address is declared twice: %s'
                                   % ', '.join(sorted(set(k for k in keys if keys.count(k) > 1))))
    return desired


def forward_task(params: dict[str, Any], ctx: APIContext, check_mode: bool = False) -> dict[str, Any]:
    p = params
    desired = desired_forwards(p['forwards'])
    try:
        out = _converge(p, ctx, desired, check_mode)
    except OSError as exc:
        # As the module always said: a file of the record, or a socket, that the system refused.
        raise gvproxy.ForwardError('could not keep the forwards in machine %s: %s' % (p['machine'], exc))
    return dict(changed=out['changed'], forwards=out['forwards'], exposed=out['exposed'], unexposed=out['unexposed'],
                before=out['before'], after=out['after'])


def _converge(p: dict[str, Any], ctx: APIContext, desired: list[dict[str, Any]], check_mode: bool) -> dict[str, Any]:
    session = None
    facts = None
    if p['machine']:
        facts = ctx.machine_facts(p['machine'])
        if facts.get('provider') == 'wsl' and not facts.get('user_mode_networking'):
            raise gvproxy.ForwardError('machine=%s is a WSL machine without user-mode networking: it has no gvproxy to '
                                       'forward ports. Recreate it with user_mode_networking: true' % p['machine'])
        if facts.get('state') != 'running':
            raise gvproxy.ForwardError('machine=%s is %s: gvproxy runs only while the machine runs. Start it first '
                                       '(podman_machine with state: started)' % (p['machine'], facts.get('state')))
        session = ctx.session(machine_ssh_target(dict(p, api_timeout=60), facts))
        forwarder = gvproxy.Forwarder(Endpoint(session=session, remote_tcp=gvproxy.GATEWAY))
        record = gvproxy.GuestRecord(session) if p['persist'] else gvproxy.HostRecord(StateStore(), machine=p['machine'])
    else:
        forwarder = gvproxy.Forwarder(Endpoint(unix_path=p['gvproxy_socket']))
        record = gvproxy.HostRecord(StateStore(), socket_path=p['gvproxy_socket'])
    return gvproxy.converge_forwards(forwarder, record, desired, p['state'], exclusive=p['exclusive'],
                                     check_mode=check_mode, owner_of=owner_namer(facts, session))

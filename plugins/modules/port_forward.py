#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: port_forward
short_description: Host-to-machine port forwards through gvproxy, kept across restarts
version_added: 0.2.0
description:
  - Makes host ports (or host unix sockets) forward to ports inside a Podman machine, for services that are not
    published containers (Cockpit, a database, an SSH server in the VM), through the machine's gvproxy.
  - gvproxy's forwarder API answers only inside the machine, at the gateway V(192.168.127.1:80). The module reaches it
    over SSH into the machine (the machine's port, user and key, the host key checked) through a channel to the
    gateway. It never opens gvproxy's API on the host network (that was CVE-2021-4024).
  - gvproxy keeps forwards only in memory, so with O(persist=true) the module also writes, inside the machine, a
    script and a user unit that re-apply the declared forwards at every boot, whoever restarts the machine.
  - A forward that this collection did not declare (podman makes one for each port a container publishes, and one
    for the machine's SSH port) is never taken over or removed. A clash with one fails the task and names both
    owners, this task and the container (or podman) that holds the port.
  - For setups that start gvproxy themselves with an API socket (C(gvproxy -listen unix://...)), O(gvproxy_socket)
    talks to that socket directly.
author:
  - machinist.podman contributors (@machinist-podman)
extends_documentation_fragment:
  - machinist.podman._attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads gvproxy's forwards and reports what would be exposed and unexposed.
  diff_mode:
    support: full
    details:
      - Returns gvproxy's forward list before and after.
  idempotent:
    support: full
options:
  machine:
    description:
      - The running Podman machine whose gvproxy to drive. Exactly one of O(machine) and O(gvproxy_socket) is required.
    type: str
  gvproxy_socket:
    description:
      - The unix socket of a gvproxy started with C(-listen unix://PATH) (or C(-services)). Podman never starts
        gvproxy with one, so this is for setups of your own and for tests.
    type: path
  forwards:
    description: The forwards to make present or absent.
    type: list
    elements: dict
    required: true
    suboptions:
      host_port:
        description: The port gvproxy binds on the host. Required for tcp and udp.
        type: int
      host_ip:
        description:
          - The host address gvproxy binds. V(0.0.0.0) (or an empty string) binds every interface, as podman does for
            published ports; the default keeps the service private to this host.
        type: str
        default: 127.0.0.1
      host_socket:
        description: For O(forwards[].protocol=unix), the unix socket path gvproxy creates on the host.
        type: str
      guest_ip:
        description: The address inside the virtual network to forward to; the machine itself is V(192.168.127.2).
        type: str
        default: 192.168.127.2
      guest_port:
        description: The port in the machine. Defaults to O(forwards[].host_port).
        type: int
      protocol:
        description:
          - V(unix) forwards a host socket to a TCP port in the machine.
          - Defaults to V(unix) when O(forwards[].host_socket) is given, else V(tcp).
        type: str
        choices: [tcp, udp, unix]
  state:
    description: Make the forwards present or absent.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - Also remove the forwards this collection declared earlier for this machine and that O(forwards) no longer
        lists. Forwards made by others are never removed.
    type: bool
    default: false
  persist:
    description:
      - With O(machine), keep the declared forwards in the machine (C(~/.config/machinist-podman/)) with a user unit,
        C(machinist-podman-forwards.service), that re-applies them at every boot.
      - With V(false), forwards last until the machine stops, and the list of the forwards this collection declared is
        kept on the host that runs the module, in C($XDG_STATE_HOME/machinist.podman/forwards/) (the same file from
        any working directory).
    type: bool
    default: true
  executable:
    description: The podman program used to look up O(machine).
    type: str
    default: podman
  ssh_identity:
    description: The private key for SSH into the machine. Defaults to the machine's own key from C(inspect).
    type: path
  ssh_known_hosts:
    description:
      - The known_hosts file the machine's SSH host key is checked against, recorded there on first use.
        Defaults to the collection's own C($XDG_STATE_HOME/machinist.podman/known_hosts).
    type: path
  ssh_host_key:
    description:
      - Pin the machine's SSH host key (an OpenSSH public key line) instead of using a known_hosts file.
      - Recommended where the trust-on-first-use window of V(accept-new) is not acceptable; where to take the key
        from is in the C(ssh_host_key) option of M(machinist.podman.container).
    type: str
  ssh_host_key_checking:
    description:
      - V(accept-new) records an unknown machine's key on first use; V(strict) refuses it.
      - "With V(accept-new), the first connection to a new machine, and the first after
        M(machinist.podman.podman_machine) forgot its key (it removed or created the machine), records whatever
        answers on C(127.0.0.1) at the machine's port, unchecked. Pin O(ssh_host_key), or use V(strict) with a
        known_hosts line you wrote, to close that window."
    type: str
    choices: [strict, accept-new]
    default: accept-new
requirements:
  - paramiko on the host that runs the module, with O(machine).
notes:
  - WSL machines without user-mode networking have no gvproxy; the module says so.
"""

EXAMPLES = r"""
- name: Cockpit in the default machine at https://localhost:9090, kept across restarts
  machinist.podman.port_forward:
    machine: podman-machine-default
    forwards:
      - host_port: 9090

- name: PostgreSQL in the VM on host port 15432, for the whole LAN, and a host socket for a Docker-API service
  machinist.podman.port_forward:
    machine: podman-machine-default
    forwards:
      - {host_ip: 0.0.0.0, host_port: 15432, guest_port: 5432}
      - {protocol: unix, host_socket: /tmp/dev-api.sock, guest_port: 2375}
    exclusive: true

- name: Drop one
  machinist.podman.port_forward:
    machine: podman-machine-default
    forwards:
      - host_port: 9090
    state: absent
"""

RETURN = r"""
forwards:
  description: gvproxy's forwards after the task (predicted in check mode), each with local, remote and protocol.
  returned: success
  type: list
  elements: dict
  sample: [{"local": "127.0.0.1:9090", "remote": "192.168.127.2:9090", "protocol": "tcp"}]
exposed:
  description: The forwards added (or that would be).
  returned: success
  type: list
  elements: dict
unexposed:
  description: The forwards removed (or that would be).
  returned: success
  type: list
  elements: dict
clashes:
  description: On failure, each clash with a forward another owner made, naming both owners.
  returned: failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.machinist.podman.plugins.module_utils import _gvproxy as G
from ansible_collections.machinist.podman.plugins.module_utils._api_glue import (
    guest_socket, machine_facts, machine_ssh_target)
from ansible_collections.machinist.podman.plugins.module_utils._api_transport import (
    Endpoint, SSHSession, TransportError)
from ansible_collections.machinist.podman.plugins.module_utils._machine_converge import MachineError
from ansible_collections.machinist.podman.plugins.module_utils._podman_api import APIError, PodmanAPI
from ansible_collections.machinist.podman.plugins.module_utils._state_store import StateStore


def owner_namer(facts, session):
    """Names who made a forward: podman for the machine's SSH port, else the container publishing it."""
    cache = {}

    def containers():
        if 'list' not in cache:
            cache['list'] = []
            if session is not None and not facts.get('rootful'):
                try:
                    api = PodmanAPI(Endpoint(session=session, remote_path=guest_socket(facts)), timeout=30)
                    cache['list'] = api.container_list(all=False)
                except (APIError, TransportError):
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


def main():
    module = AnsibleModule(
        argument_spec=dict(
            machine=dict(type='str'),
            gvproxy_socket=dict(type='path'),
            forwards=dict(type='list', elements='dict', required=True, options=dict(
                host_port=dict(type='int'),
                host_ip=dict(type='str', default='127.0.0.1'),
                host_socket=dict(type='str'),
                guest_ip=dict(type='str', default=G.GUEST_IP),
                guest_port=dict(type='int'),
                protocol=dict(type='str', choices=['tcp', 'udp', 'unix']),
            )),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            exclusive=dict(type='bool', default=False),
            persist=dict(type='bool', default=True),
            executable=dict(type='str', default='podman'),
            ssh_identity=dict(type='path'),
            ssh_known_hosts=dict(type='path'),
            ssh_host_key=dict(type='str', no_log=False),
            ssh_host_key_checking=dict(type='str', default='accept-new', choices=['strict', 'accept-new']),
        ),
        mutually_exclusive=[('machine', 'gvproxy_socket')],
        required_one_of=[('machine', 'gvproxy_socket')],
        supports_check_mode=True,
    )
    p = module.params
    try:
        desired = [G.normalise(dict((k, v) for k, v in f.items() if v is not None and not (k == 'host_ip' and f.get('host_socket'))), i)
                   for i, f in enumerate(p['forwards'])]
    except G.ForwardError as exc:
        module.fail_json(msg=str(exc), changed=False)
    keys = [G.key(f) for f in desired]
    if len(keys) != len(set(keys)):
        module.fail_json(msg='forwards: the same host address is declared twice: %s'
                         % ', '.join(sorted(set(k for k in keys if keys.count(k) > 1))), changed=False)

    session = None
    facts = None
    try:
        if p['machine']:
            facts = machine_facts(module, p['machine'])
            if facts.get('provider') == 'wsl' and not facts.get('user_mode_networking'):
                module.fail_json(msg='machine=%s is a WSL machine without user-mode networking: it has no gvproxy to '
                                     'forward ports. Recreate it with user_mode_networking: true' % p['machine'], changed=False)
            if facts.get('state') != 'running':
                module.fail_json(msg='machine=%s is %s: gvproxy runs only while the machine runs. Start it first '
                                     '(podman_machine with state: started)' % (p['machine'], facts.get('state')), changed=False)
            session = SSHSession(machine_ssh_target(dict(p, api_timeout=60), facts))
            forwarder = G.Forwarder(Endpoint(session=session, remote_tcp=G.GATEWAY))
            record = G.GuestRecord(session) if p['persist'] else G.HostRecord(StateStore(), machine=p['machine'])
        else:
            forwarder = G.Forwarder(Endpoint(unix_path=p['gvproxy_socket']))
            record = G.HostRecord(StateStore(), socket_path=p['gvproxy_socket'])
        out = G.converge_forwards(forwarder, record, desired, p['state'], exclusive=p['exclusive'],
                                  check_mode=module.check_mode, owner_of=owner_namer(facts, session))
    except G.ForwardError as exc:
        module.fail_json(msg=str(exc), changed=exc.changed, **exc.extra)
    except (TransportError, MachineError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    except IOError as exc:
        module.fail_json(msg='could not keep the forwards in machine %s: %s' % (p['machine'], exc), changed=False)
    finally:
        if session is not None:
            session.close()
    result = dict(changed=out['changed'], forwards=out['forwards'], exposed=out['exposed'], unexposed=out['unexposed'])
    if module._diff:
        result['diff'] = {'before': out['before'], 'after': out['after']}
    module.exit_json(**result)


if __name__ == '__main__':
    main()

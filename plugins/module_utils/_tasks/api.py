# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the API modules (container, container_image, port_forward) do with their connection options:
the endpoint opened, the task run, its result or its failure, with the requests made and where.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._api.client import PodmanAPI
from ansible_collections.machinist.podman.plugins.module_utils._api.endpoint import endpoint_for_machine, endpoint_from_url
from ansible_collections.machinist.podman.plugins.module_utils._api.openssh import session_for
from ansible_collections.machinist.podman.plugins.module_utils._api.transport import HOST_KEY_CHECKING, SSH_CLIENTS, TransportError
from ansible_collections.machinist.podman.plugins.module_utils._machine.client import client_for
from ansible_collections.machinist.podman.plugins.module_utils._tasks.common import make_runner
from ansible_collections.machinist.podman.plugins.module_utils._tasks.module import TASK_ERRORS, fail

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    from ansible_collections.machinist.podman.plugins.module_utils._api.openssh import OpenSSHSession
    from ansible_collections.machinist.podman.plugins.module_utils._api.transport import Endpoint, SSHSession, SSHTarget

# Options documented in the machinist.podman._api doc fragment.
API_ARGS = dict(
    machine=dict(type='str'),
    api_url=dict(type='str'),
    api_transport=dict(type='str', default='auto', choices=['auto', 'socket', 'ssh']),
    api_timeout=dict(type='int', default=120),
    ssh_identity=dict(type='path'),
    ssh_known_hosts=dict(type='path'),
    ssh_host_key=dict(type='str', no_log=False),
    ssh_host_key_checking=dict(type='str', choices=list(HOST_KEY_CHECKING)),
    ssh_client=dict(type='str', default='auto', choices=list(SSH_CLIENTS)),
    executable=dict(type='str', default='podman'),
)
API_EXCLUSIVE = [('machine', 'api_url')]
API_ONE_OF = [('machine', 'api_url')]


class APIContext:
    """What an API task reaches through its module: a machine's facts, the Podman API, SSH sessions.
    Whatever it opened is closed at the end; context() says where the requests went."""

    def __init__(self, module: Any) -> None:
        self.module = module  # the AnsibleModule (hinted Any: module_utils imports nothing from Ansible)
        self.api: PodmanAPI | None = None
        self.ssh_client: str | None = None  # the SSH client a session used: paramiko or openssh
        self._open: list[Endpoint | SSHSession | OpenSSHSession] = []

    def machine_facts(self, name: str) -> dict[str, Any]:
        """`podman machine inspect NAME` through the machine modules' own client."""
        client = client_for(make_runner(self.module))
        facts = client.inspect([name]).get(name)
        if facts is None:
            raise TransportError('machine=%s: no such machine (podman machine inspect does not know it). Create it '
                                 'with machinist.podman.podman_machine first' % name)
        return facts

    def open_api(self) -> PodmanAPI:
        """The PodmanAPI for the module's connection options, once it answers _ping."""
        params = self.module.params
        if params.get('machine'):
            endpoint = endpoint_for_machine(params, self.machine_facts(params['machine']), self.module.run_command)
        else:
            endpoint = endpoint_from_url(params, self.module.run_command)
        self._open.append(endpoint)
        if endpoint.session is not None:
            self.ssh_client = endpoint.session.client
        api = PodmanAPI(endpoint, timeout=params.get('api_timeout') or 120)
        api.ping()
        self.api = api
        return api

    def session(self, target: SSHTarget) -> SSHSession | OpenSSHSession:
        """An SSH session to `target` (with its client), closed with the context."""
        session = session_for(target, self.module.run_command)
        self.ssh_client = session.client
        self._open.append(session)
        return session

    def context(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.api is not None:
            out.update(requests=self.api.requests, api_url=self.api.endpoint.describe())
        if self.ssh_client:
            out['ssh_client'] = self.ssh_client
        return out

    def close(self) -> None:
        while self._open:
            self._open.pop().close()


def run_api_module(module: Any, task: Callable[..., dict[str, Any]]) -> NoReturn:
    """The API modules' path: task(params, context, check_mode) returns changed, actions, the before and
    after states, ...; the module exits with that result (before and after as the diff, in diff mode) and
    the requests made and where, or fails with the same context."""
    ctx = APIContext(module)
    try:
        out = task(module.params, ctx, check_mode=module.check_mode)
    except TASK_ERRORS as exc:
        ctx.close()
        fail(module, exc, **ctx.context())
    ctx.close()
    result = dict((k, v) for k, v in out.items() if k not in ('before', 'after'))
    result.update(ctx.context())
    if module._diff and 'before' in out:
        result['diff'] = {'before': out['before'], 'after': out['after']}
    module.exit_json(**result)

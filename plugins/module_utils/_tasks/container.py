# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the container, containers and container_image modules do with their options, through the Podman API.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._api.client import registry_auth_header
from ansible_collections.machinist.podman.plugins.module_utils._api.transport import TransportError
from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError
from ansible_collections.machinist.podman.plugins.module_utils._container.converge import ContainerError, Turn, converge_container
from ansible_collections.machinist.podman.plugins.module_utils._container.image import ImageError, archive_image, converge_image
from ansible_collections.machinist.podman.plugins.module_utils._container.spec import NETWORK_MODES, RESTART_POLICIES, ContainerSpecError, desired_from_params
from ansible_collections.machinist.podman.plugins.module_utils._tasks.api import API_ARGS, API_EXCLUSIVE, API_ONE_OF

if TYPE_CHECKING:
    from typing import Any

    from ansible_collections.machinist.podman.plugins.module_utils._tasks.api import APIContext

# One container's own options: the container module's, and each item of the containers module's list.
CONTAINER_OPTIONS = dict(
    name=dict(type='str', required=True),
    state=dict(type='str', default='started', choices=['present', 'started', 'stopped', 'absent']),
    image=dict(type='str'),
    pull=dict(type='str', default='missing', choices=['missing', 'always', 'never']),
    command=dict(type='list', elements='str'),
    env=dict(type='dict'),
    labels=dict(type='dict'),
    ports=dict(type='list', elements='str'),
    volumes=dict(type='list', elements='str'),
    network=dict(type='str', choices=list(NETWORK_MODES)),
    restart_policy=dict(type='str', choices=list(RESTART_POLICIES)),
    restart_retries=dict(type='int'),
    recreate=dict(type='bool', default=False),
    stop_timeout=dict(type='int', default=10),
)
CONTAINER_REQUIRED_IF = [('state', 'present', ['image']), ('state', 'started', ['image']), ('state', 'stopped', ['image'])]
CONTAINER_ARGS = dict(CONTAINER_OPTIONS, **API_ARGS)
CONTAINER_RULES = dict(mutually_exclusive=API_EXCLUSIVE, required_one_of=API_ONE_OF, required_if=CONTAINER_REQUIRED_IF)


def container_task(params: dict[str, Any], ctx: APIContext, check_mode: bool = False) -> dict[str, Any]:
    p = params
    # The options are checked before anything is reached.
    desired = desired_from_params(p) if p['state'] != 'absent' else None
    api = ctx.open_api()
    return converge_container(api, desired, p['name'], p['state'], recreate=p['recreate'], pull=p['pull'],
                              stop_timeout=p['stop_timeout'], check_mode=check_mode)


CONTAINERS_ARGS = dict(
    containers=dict(type='list', elements='dict', required=True, options=CONTAINER_OPTIONS,
                    required_if=CONTAINER_REQUIRED_IF),
    **API_ARGS
)
CONTAINERS_RULES = dict(mutually_exclusive=API_EXCLUSIVE, required_one_of=API_ONE_OF)


def containers_task(params: dict[str, Any], ctx: APIContext, check_mode: bool = False) -> dict[str, Any]:
    """Each container of the list converged as the container module converges one, over one API connection. Every
    spec is checked before anything is reached. Two containers are worked on at a time: creations and every other
    change are made in the list's order, except that a new container's start may overlap the start of the one before
    it (see converge.Turn), since podman's create and start are most of the time. A container that fails does not
    stop the others (a lost connection does: those not begun are reported as not reached); the task then fails naming
    each failure, with every container's result."""
    items = params['containers']
    desired = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if item['name'] in seen:
            raise ContainerSpecError('containers[%d]: the name %s is already given to containers[%d]; declare each '
                                     'container once' % (i, item['name'], seen[item['name']]))
        seen[item['name']] = i
        try:
            desired.append(desired_from_params(item) if item['state'] != 'absent' else None)
        except ContainerSpecError as exc:
            raise ContainerSpecError('containers[%d] (%s): %s' % (i, item['name'], exc))
    if not items:
        return {'changed': False, 'containers': [], 'before': {}, 'after': {}}
    api = ctx.open_api()
    turns: list[Turn] = []
    for _item in items:
        turns.append(Turn(turns[-1] if turns else None))
    lost: list[str] = []

    def converge_one(index: int) -> dict[str, Any]:
        item, name = items[index], items[index]['name']
        try:
            if lost:
                return {'name': name, 'changed': False, 'failed': True, 'msg': 'not reached: %s' % lost[0],
                        'reached': False}
            try:
                out = converge_container(api, desired[index], name, item['state'], recreate=item['recreate'],
                                         pull=item['pull'], stop_timeout=item['stop_timeout'], check_mode=check_mode,
                                         turn=turns[index])
            except MachinistError as exc:
                if isinstance(exc, TransportError):
                    lost.append(str(exc))
                return {'name': name, 'changed': bool(exc.changed), 'failed': True, 'msg': str(exc)}
            return dict(out, name=name)
        finally:
            turns[index].done()

    # Two at a time, taken in the list's order: the one whose turn it is, and the next, ahead of its turn (Turn).
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(converge_one, range(len(items))))
    results: list[dict[str, Any]] = []
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    failed: list[str] = []
    for out in outcomes:
        if out.pop('reached', True) is False:
            results.append(out)
            continue
        if out.get('failed'):
            failed.append('%s: %s' % (out['name'], out['msg']))
            results.append(out)
            continue
        before[out['name']], after[out['name']] = out['before'], out['after']
        results.append({'name': out['name'], 'changed': out['changed'], 'actions': out['actions'],
                        'container': out['container'], 'differences': out['differences']})
    changed = any(r['changed'] for r in results)
    if failed:
        raise ContainerError('containers: %d of %d failed (the others were converged; see containers): %s'
                             % (len(failed), len(items), '; '.join(failed)), changed=changed, containers=results)
    return {'changed': changed, 'containers': results, 'before': before, 'after': after}


CONTAINER_IMAGE_ARGS = dict(
    name=dict(type='str', required=True),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    load_path=dict(type='path'),
    pull=dict(type='str', default='missing', choices=['missing', 'always']),
    username=dict(type='str'),
    password=dict(type='str', no_log=True),
    tls_verify=dict(type='bool'),
    force=dict(type='bool', default=False),
    **API_ARGS
)
CONTAINER_IMAGE_RULES = dict(mutually_exclusive=API_EXCLUSIVE + [('load_path', 'username')], required_one_of=API_ONE_OF,
                             required_together=[('username', 'password')])


def container_image_task(params: dict[str, Any], ctx: APIContext, check_mode: bool = False) -> dict[str, Any]:
    p = params
    if p['load_path']:
        if not os.path.isfile(p['load_path']):
            raise ImageError('load_path=%s: no such file on the host that runs this task' % p['load_path'])
        archive_image(p['load_path'])
    auth = registry_auth_header(p['username'], p['password']) if p['username'] else None
    api = ctx.open_api()
    return converge_image(api, p['name'], p['state'], load_path=p['load_path'], pull=p['pull'], auth=auth,
                          tls_verify=p['tls_verify'], force=p['force'], check_mode=check_mode,
                          pull_timeout=max(p['api_timeout'], 600))

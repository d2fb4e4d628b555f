# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the container and container_image modules do with their options, through the Podman API.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._api.client import registry_auth_header
from ansible_collections.machinist.podman.plugins.module_utils._container.converge import converge_container
from ansible_collections.machinist.podman.plugins.module_utils._container.image import ImageError, archive_image, converge_image
from ansible_collections.machinist.podman.plugins.module_utils._container.spec import NETWORK_MODES, RESTART_POLICIES, desired_from_params
from ansible_collections.machinist.podman.plugins.module_utils._tasks.api import API_ARGS, API_EXCLUSIVE, API_ONE_OF

if TYPE_CHECKING:
    from typing import Any

    from ansible_collections.machinist.podman.plugins.module_utils._tasks.api import APIContext

CONTAINER_ARGS = dict(
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
    **API_ARGS
)
CONTAINER_RULES = dict(mutually_exclusive=API_EXCLUSIVE, required_one_of=API_ONE_OF,
                       required_if=[('state', 'present', ['image']), ('state', 'started', ['image']),
                                    ('state', 'stopped', ['image'])])


def container_task(params: dict[str, Any], ctx: APIContext, check_mode: bool = False) -> dict[str, Any]:
    p = params
    # The options are checked before anything is reached.
    desired = desired_from_params(p) if p['state'] != 'absent' else None
    api = ctx.open_api()
    return converge_container(api, desired, p['name'], p['state'], recreate=p['recreate'], pull=p['pull'],
                              stop_timeout=p['stop_timeout'], check_mode=check_mode)


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

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What podman_machine_network does with its options: each setting checked before the machine is reached,
the certificates read (text, or files on this host), then the files converged over the machine's SSH.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._api.endpoint import machine_ssh_target
from ansible_collections.machinist.podman.plugins.module_utils._machine_network import settings as s
from ansible_collections.machinist.podman.plugins.module_utils._machine_network.converge import NetworkConverger
from ansible_collections.machinist.podman.plugins.module_utils._tasks.api import API_ARGS

if TYPE_CHECKING:
    from typing import Any

    from ansible_collections.machinist.podman.plugins.module_utils._tasks.api import APIContext

# The SSH options are the API modules' (the machinist.podman._api doc fragment), with their defaults.
NETWORK_ARGS = dict(
    machine=dict(type='str', required=True),
    ca_certificates=dict(type='list', elements='str'),
    # A proxy URL may hold a password: never shown, in results (redacted) or in the task's arguments.
    proxy=dict(type='dict', options=dict(
        http=dict(type='str', no_log=True),
        https=dict(type='str', no_log=True),
        no_proxy=dict(type='list', elements='str'),
    )),
    registries=dict(type='dict', options=dict(
        mirrors=dict(type='dict'),
        insecure=dict(type='list', elements='str'),
        blocked=dict(type='list', elements='str'),
        search=dict(type='list', elements='str'),
    )),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    timeout=dict(type='int', default=300),
    **dict((k, API_ARGS[k]) for k in ('executable', 'ssh_identity', 'ssh_known_hosts', 'ssh_host_key',
                                      'ssh_host_key_checking', 'ssh_client'))
)


def read_certificates(items: list[str]) -> list[dict[str, str]]:
    """Each item is PEM text or the path of a PEM file on this host (a bundle gives each of its certificates)."""
    certs: list[dict[str, str]] = []
    for i, item in enumerate(items):
        field = 'ca_certificates[%d]' % i
        text = item
        if not s.looks_like_pem(item):
            path = os.path.expanduser(item.strip())
            if not os.path.isfile(path):
                raise s.SettingsError('%s=%s is neither PEM text nor a file on the host that runs this task: give the '
                                      "certificate's text (-----BEGIN CERTIFICATE-----...), or the path of its file"
                                      % (field, item if len(item) < 200 else item[:200] + '...'))
            if os.path.getsize(path) > s.MAX_CONTENT:
                raise s.SettingsError('%s=%s is larger than %d bytes: give the CA certificates the machine needs, not a '
                                      'whole trust store' % (field, item, s.MAX_CONTENT))
            with open(path, 'rb') as f:
                text = f.read().decode('utf-8', 'replace')
            field = '%s (%s)' % (field, item)
        for cert in s.certificates(field, text):
            if cert['fingerprint'] not in [c['fingerprint'] for c in certs]:
                certs.append(cert)
    return certs


def checked_settings(params: dict[str, Any]) -> dict[str, Any]:
    """The settings to converge, all checked: None for one not declared (left as it is), empty to remove it."""
    if params['state'] == 'absent':
        return {'ca_certificates': [], 'proxy': {}, 'registries': {}}
    out: dict[str, Any] = {'ca_certificates': None, 'proxy': None, 'registries': None}
    if params['ca_certificates'] is not None:
        out['ca_certificates'] = read_certificates(params['ca_certificates'])
    if params['proxy'] is not None:
        out['proxy'] = s.check_proxy(dict((k, v) for k, v in params['proxy'].items() if v is not None))
    if params['registries'] is not None:
        out['registries'] = s.check_registries(dict((k, v) for k, v in params['registries'].items() if v is not None))
    if all(v is None for v in out.values()):
        raise s.SettingsError('declare at least one of ca_certificates, proxy and registries (an empty one removes what '
                              'this module placed for it), or state: absent to remove them all')
    return out


def network_task(params: dict[str, Any], ctx: APIContext, check_mode: bool = False) -> dict[str, Any]:
    if params['timeout'] <= 0:
        raise s.SettingsError('timeout must be a positive number of seconds, not %d' % params['timeout'])
    settings = checked_settings(params)  # refused before the machine is reached
    facts = ctx.machine_facts(params['machine'])
    if facts.get('state') != 'running':
        raise s.SettingsError('machine=%s is %s: its files can be placed only while it runs. Start it first '
                              '(machinist.podman.podman_machine with state: started)' % (params['machine'], facts.get('state')))
    session = ctx.session(machine_ssh_target(dict(params, api_timeout=60), facts))
    conv = NetworkConverger(session, facts, check_mode=check_mode, timeout=params['timeout'])
    try:
        out = conv.converge(settings)
    except s.SettingsError as exc:
        exc.extra = dict(exc.extra or {}, commands=conv.commands)
        raise
    out['commands'] = conv.commands
    out['ca_certificates'] = [c['fingerprint'] for c in settings['ca_certificates'] or []]
    proxy = settings['proxy']
    if proxy:
        out['proxy'] = dict(proxy, **dict((k, s.redact(proxy[k])) for k in ('http', 'https') if k in proxy))
    diff = out.pop('diff')
    out['before'], out['after'] = diff['before'], diff['after']
    return out

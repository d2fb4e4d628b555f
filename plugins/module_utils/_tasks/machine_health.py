# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What podman_machine_health does with its options: the options checked, the machine checked, the
repairs chosen (a restart only with allow_restart), done, and the machine checked again.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._api.endpoint import machine_ssh_target
from ansible_collections.machinist.podman.plugins.module_utils._machine.client import client_for
from ansible_collections.machinist.podman.plugins.module_utils._machine.converge import Converger
from ansible_collections.machinist.podman.plugins.module_utils._machine.spec import desired_from_params
from ansible_collections.machinist.podman.plugins.module_utils._machine_health import checks as c
from ansible_collections.machinist.podman.plugins.module_utils._machine_health.health import HealthChecker
from ansible_collections.machinist.podman.plugins.module_utils._tasks.api import API_ARGS
from ansible_collections.machinist.podman.plugins.module_utils._tasks.common import make_runner

if TYPE_CHECKING:
    from typing import Any

    from ansible_collections.machinist.podman.plugins.module_utils._tasks.api import APIContext

# The SSH options are the API modules' (the machinist.podman._api doc fragment), with their defaults.
HEALTH_ARGS = dict(
    machine=dict(type='str', required=True),
    checks=dict(type='list', elements='str', choices=list(c.CHECKS), default=list(c.CHECKS)),
    repair=dict(type='bool', default=False),
    allow_restart=dict(type='bool', default=False),
    max_clock_skew=dict(type='float', default=2.0),
    min_free_percent=dict(type='float', default=10.0),
    reclaim_threshold=dict(type='int', default=2048),
    default_connection=dict(type='bool'),
    timeout=dict(type='int', default=300),
    **dict((k, API_ARGS[k]) for k in ('executable', 'ssh_identity', 'ssh_known_hosts', 'ssh_host_key',
                                      'ssh_host_key_checking', 'ssh_client'))
)


def checked_options(params: dict[str, Any]) -> dict[str, Any]:
    unknown = [x for x in params['checks'] if x not in c.CHECKS]
    if unknown:
        raise c.HealthError('checks: %s %s not a check; choose among %s' % (
            ', '.join(unknown), 'is' if len(unknown) == 1 else 'are', ', '.join(c.CHECKS)))
    for field, low in (('max_clock_skew', 0), ('min_free_percent', 0), ('reclaim_threshold', 0), ('timeout', 1)):
        if params[field] < low:
            raise c.HealthError('%s=%s: give a number of at least %s' % (field, params[field], low))
    if params['min_free_percent'] > 100:
        raise c.HealthError('min_free_percent=%s: a percentage is at most 100' % params['min_free_percent'])
    return dict((k, params[k]) for k in ('checks', 'max_clock_skew', 'min_free_percent', 'reclaim_threshold',
                                         'default_connection', 'timeout'))


def summary(report: dict[str, Any]) -> dict[str, Any]:
    return {'findings': report['findings'], 'measurements': report['measurements'],
            'healthy': not any(f['severity'] in ('error', 'warning') for f in report['findings'])}


def health_task(params: dict[str, Any], ctx: APIContext, check_mode: bool = False) -> dict[str, Any]:
    options = checked_options(params)  # refused before the machine is reached
    runner = make_runner(ctx.module)
    client = client_for(runner)
    facts = ctx.machine_facts(params['machine'])

    def restart(state: str) -> dict[str, Any]:
        converger = Converger(client, start_timeout=params['timeout'], path_exists=runner.path_exists)
        converger.converge(desired_from_params({'name': params['machine']}), state)
        return ctx.machine_facts(params['machine'])

    checker = HealthChecker(client, facts, lambda f: ctx.session(machine_ssh_target(dict(params, api_timeout=60), f)),
                            options, restart=restart)
    try:
        first = checker.check()
        result: dict[str, Any] = dict(summary(first), changed=False, found=first['findings'], repaired=[])
        if params['repair']:
            todo = checker.repairs(first, params['allow_restart'])
            waiting = sorted(set(f['id'] for f in first['findings'] if f['repair'] == 'restart'))
            if waiting and not params['allow_restart']:
                result['not_repaired'] = ['%s: needs a restart of the machine, which stops its containers: set '
                                          'allow_restart: true' % x for x in waiting]
            if todo and check_mode:
                result.update(changed=True, repaired=todo)
            elif todo:
                result.update(changed=True, repaired=checker.repair(first, todo))
                result.update(summary(checker.check()))
    except c.HealthError as exc:
        exc.extra = dict(exc.extra or {}, commands=checker.commands)
        raise
    finally:
        checker.close()
    result['commands'] = checker.commands + ['host: %s' % ' '.join(a) for a in runner.commands()]
    result['before'] = {'findings': [f['id'] for f in first['findings']]}
    result['after'] = {'findings': [f['id'] for f in result['findings']] if not check_mode else
                       [f['id'] for f in first['findings'] if f['id'] not in set(r['repair'] for r in result['repaired'])]}
    return result

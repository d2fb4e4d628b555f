# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Carrying out a machine OS plan: probe, steps, restart, probe again to verify.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

from ansible_collections.machinist.podman.plugins.module_utils._machine import commands as cmds
from ansible_collections.machinist.podman.plugins.module_utils._machine.client import MachineError
from ansible_collections.machinist.podman.plugins.module_utils._machine.converge import Converger
from ansible_collections.machinist.podman.plugins.module_utils._machine_os import plan as os_plan

# rpm-ostree upgrade --unchanged-exit-77: nothing new.
UNCHANGED = 77


def _said(res):
    text = (res.stderr or '').strip() or (res.stdout or '').strip()
    return (' It said: %s' % text[-1500:]) if text else ''


class MachineOSConverger:
    def __init__(self, client, check_mode=False, timeout=None):
        self.client = client
        self.runner = client.runner
        self.check_mode = check_mode
        self.timeout = timeout

    def _ssh(self, name, script, env, doing):
        res = self.runner.run(os_plan.ssh_argv(name, script), env=env, timeout=self.timeout)
        if res.rc == os_plan.WRONG_MACHINE:
            # podman ran the command in its default machine (NAME is no machine now); the guard refused it.
            raise MachineError('machine %s is gone or was renamed while this task ran (podman machine ssh sent the %s '
                               'to its default machine instead, where nothing was run). Check that %s exists and run '
                               'again.%s' % (name, doing, name, _said(res)), res)
        return res

    def probe(self, name, packages, env):
        res = self._ssh(name, os_plan.probe_script(packages), env, 'probe')
        if not res.ok:
            raise MachineError('could not read the OS of machine %s over podman machine ssh (is it running?).%s'
                               % (name, _said(res)), res)
        return os_plan.parse_probe(res.stdout)

    def _restart(self, name, provider):
        conv = Converger(self.client, start_timeout=self.timeout)
        return conv.converge({'name': name, 'provider': provider}, 'restarted')

    def converge(self, name, packages, provider=None, method='auto', upgrade=False, base_image=None):
        packages = os_plan.check_packages(packages)
        if base_image is not None:
            os_plan.check_base_image(base_image)  # refused before anything reaches the machine
        self.client.check_provider(provider)
        env = cmds.provider_env(provider)
        facts = self.client.inspect([name], env=env).get(name)
        if facts is None:
            raise MachineError('machine %s does not exist: create it first (machinist.podman.podman_machine '
                               'state=started)' % name)
        if facts.get('state') != 'running':
            raise MachineError('machine %s is %s: its OS can be read and changed only while it runs. Start it first '
                               '(machinist.podman.podman_machine state=started)' % (name, facts.get('state')))
        version = self.client.caps.version
        before = self.probe(name, packages, env)
        chosen = os_plan.choose_method(before, version.major, provider or facts.get('provider'), method)
        steps = os_plan.plan(before, packages, chosen, version.major, version.minor, upgrade=upgrade, base_image=base_image)
        result = {'method': chosen, 'os': before.facts(), 'restarted': False,
                  'present_before': before.present(packages, chosen),
                  'actions': [{'action': s['action'], 'reason': s['reason']} for s in steps],
                  'diff': {'before': {'packages': sorted(before.present(packages, chosen))},
                           'after': {'packages': sorted(packages)}}}
        result['changed'] = bool(steps)
        if self.check_mode or not steps:
            result['packages'] = before.present(packages, chosen) if not steps else []
            if not steps:
                result['changed'] = False
            return result

        changed = False
        restart_needed = False
        for step in steps:
            if step['where'] == 'guest':
                res = self._ssh(name, step['script'], env, step['action'])
                if step['action'] == 'upgrade' and res.rc == UNCHANGED:
                    step['unchanged'] = True
                    continue
                if not res.ok:
                    raise MachineError('%s in machine %s failed (%s).%s' % (step['action'], name, step['reason'], _said(res)),
                                       res, changed=changed)
                if step['action'] == 'upgrade' and not os_plan.upgrade_changed(chosen, res.stdout):
                    step['unchanged'] = True
                    continue
                changed = True
                if step['action'] == 'upgrade' and chosen in ('rpm_ostree', 'os_apply'):
                    restart_needed = True  # rpm-ostree upgrade stages a deployment
            elif step['action'] == 'restart':
                restart_needed = True
            else:
                argv = ['machine'] + step['argv'] + [name]
                res = self.runner.run(argv, env=env, timeout=self.timeout)
                if not res.ok:
                    raise MachineError('podman machine %s failed for %s (%s).%s'
                                       % (' '.join(step['argv'][:2]), name, step['reason'], _said(res)),
                                       res, changed=changed)
                changed = True
                result['restarted'] = result['restarted'] or step['restarts']
        if restart_needed:
            self._restart(name, provider)
            result['restarted'] = True
            changed = True
        after = self.probe(name, packages, env)
        present = after.present(packages, chosen)
        absent = [p for p in packages if p not in present]
        result.update({'changed': changed, 'os': after.facts(), 'packages': present})
        if absent:
            raise MachineError('machine %s still lacks %s after %s; the %s database does not list it as installed'
                               % (name, ', '.join(absent), ', '.join(s['action'] for s in steps),
                                  'dpkg' if chosen == 'apt' else 'rpm'), **result)
        if upgrade and chosen in ('rpm_ostree', 'os_apply') and before.ostree and after.ostree \
                and before.ostree.checksum == after.ostree.checksum and not any(
                    s['action'] != 'upgrade' for s in steps):
            result['changed'] = False  # the upgrade found nothing newer
        return result

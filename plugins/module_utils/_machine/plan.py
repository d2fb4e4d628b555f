# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Desired machine + current facts + version + provider rules -> ordered actions, or a refusal.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

A pure function: it runs nothing. Check mode returns its plan, diff mode its before/after, and
the converger carries it out. It refuses, rather than destroys, whenever the only way to reach
the desired machine is to remove it and `recreate` is not set.
"""

from __future__ import annotations

import os
import posixpath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ansible_collections.machinist.podman.plugins.module_utils._image.names import image_kind, strip_suffix
from ansible_collections.machinist.podman.plugins.module_utils._machine import commands as cmds
from ansible_collections.machinist.podman.plugins.module_utils._machine.facts import canonical_usb, managed_view, volumes_lost_note
from ansible_collections.machinist.podman.plugins.module_utils._machine.providers import (
    APPLE_SILICON,
    PROVIDERS,
    can_set,
    default_provider,
    provider_refusal,
    stop_to_set,
)
from ansible_collections.machinist.podman.plugins.module_utils._machine.spec import INIT_ONLY, volume_target

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from ansible_collections.machinist.podman.plugins.module_utils._machine.versions import Capabilities

STATES = ('present', 'started', 'stopped', 'restarted', 'absent')
RECREATE_HINT = ('set recreate: true to remove and re-create the machine (this destroys its containers, images '
                 'and volumes)')

# desired key -> facts key, for the settings `podman machine set` can change.
_SETTABLE_FACTS = (('cpus', 'cpus'), ('memory', 'memory_mib'), ('disk_size', 'disk_gib'), ('rootful', 'rootful'),
                   ('user_mode_networking', 'user_mode_networking'), ('usb', 'usb'),
                   ('import_native_ca', 'import_native_ca'))
_UNITS = {'memory': ' MiB', 'disk_size': ' GiB', 'swap': ' MiB'}


class Plan:
    def __init__(self) -> None:
        # Each action: {'action', 'argv', 'reason', 'env', 'files'}, in the order they run.
        self.actions: list[dict[str, Any]] = []
        self.changes: dict[str, dict[str, Any]] = {}
        self.refusal: str | None = None
        self.warnings: list[str] = []
        self.provider: str | None = None
        self.before: dict[str, Any] | None = None
        self.after: dict[str, Any] | None = None

    def add(self, action: str, argv: list[str], reason: str, env: dict[str, str] | None = None,
            files: dict[str, str] | None = None) -> None:
        # files: {path: text} written on the podman host just before the command runs.
        self.actions.append({'action': action, 'argv': argv, 'reason': reason, 'env': env or {},
                             'files': files or {}})

    def refuse(self, message: str) -> Plan:
        if self.refusal is None:
            self.refusal = message
        return self

    @property
    def changed(self) -> bool:
        return bool(self.actions)

    def summary(self) -> list[dict[str, Any]]:
        return [{'action': a['action'], 'reason': a['reason'], 'command': a['argv']} for a in self.actions]


def _fmt(field, value):
    return '%s%s' % (value, _UNITS.get(field, ''))


def _check_versions(plan, desired, caps, provider, creating, host):
    """Options this podman or this provider cannot take at all.

    The version gates are the flag tables' own: init's for a new machine and for init-only options,
    set's for changes to an existing machine.
    """
    for table, applies in ((cmds.INIT_FLAGS, lambda name: creating or name in INIT_ONLY),
                           (cmds.SET_FLAGS, lambda name: not creating)):
        for name, _kind, _flag, feature in table:
            if feature and desired.get(name) is not None and applies(name) and not caps.has(feature):
                return plan.refuse('%s: remove the option or use a newer podman' % caps.missing(feature))
    if desired.get('usb') and not PROVIDERS[provider]['usb']:
        return plan.refuse('usb: USB passthrough is only available on qemu machines; this machine uses provider=%s'
                           % provider)
    if desired.get('user_mode_networking') is False and provider != 'wsl':
        return plan.refuse('user_mode_networking=false: only WSL machines can turn user-mode networking off; %s '
                           'machines always use it (gvproxy). Remove the option or set it to true' % provider)
    if desired.get('volumes') and not PROVIDERS[provider]['volumes']:
        plan.warnings.append('volumes are ignored by %s machines: the host drives are already under /mnt' % provider)
    if desired.get('rosetta') is not None:
        if creating and not caps.has('init_rosetta'):
            return plan.refuse('%s: remove the option or use a newer podman' % caps.missing('init_rosetta'))
        if provider != 'applehv' or host.get('os') != 'darwin' or host.get('arch') not in APPLE_SILICON:
            return plan.refuse('rosetta: only applehv machines on an Apple Silicon Mac run x86_64 programs through '
                               'Rosetta; this machine is provider=%s on a %s %s host. Remove the option'
                               % (provider, host.get('os'), host.get('arch')))
    return None


def _more_cpus_than_the_host(desired, facts, host):
    """cpus above the host's count, refused before podman is asked on every version (Podman 6 refuses it at
    init, containers/podman#28322, and no VM runs faster for it). A machine that already has them is left be."""
    want, have = desired.get('cpus'), host.get('cpus')
    if want is None or not have or want <= have or (facts and facts.get('cpus') == want):
        return None
    return ('cpus=%d is more than the %d CPUs of the host that runs podman: a machine gets no faster with more '
            'virtual CPUs than the host has, and Podman 6 refuses it. Give cpus %d or fewer' % (want, have, have))


def _init_values(desired, provider):
    values = dict(desired)
    # Only WSL has a choice; elsewhere podman warns about the flag and ignores it.
    if provider != 'wsl':
        values['user_mode_networking'] = None
    return values


def _disk_basename(image):
    """The name 4.4 and older give the disk of a local file or an http(s) URL: the file's own name, or the
    last part of the URL's path (percent-decoded, query and fragment ignored). None for other images."""
    kind = image_kind(image)
    if kind == 'file':
        return os.path.basename(image.replace('\\', '/'))
    if kind == 'url':
        return posixpath.basename(unquote(urlsplit(image).path))
    return None


def _shared_disk(desired, others):
    """4.4 and older name the disk of a local or URL image after its file: two machines would share one disk.

    Those versions keep the compression suffix in the disk's name (disk.qcow2.xz holds the decompressed
    disk); names are compared without it on both sides, so neither way of naming slips through.
    """
    base = _disk_basename(desired.get('image'))
    if not base:
        return None
    base = strip_suffix(base)
    for other in others or ():
        path = other.get('image_path') or ''
        theirs = strip_suffix(os.path.basename(path.replace('\\', '/')))
        if theirs == base and other.get('name') != desired['name']:
            return other
    return None


def _init_only_drift(desired, facts, record):
    """(field, before, after) for init-only options that differ; and the fields we could not verify."""
    drift, unverified = [], []
    recorded = None
    if record and record.get('created') == facts.get('created'):
        recorded = record.get('options') or {}
    for field in INIT_ONLY:
        want = desired.get(field)
        if want is None:
            continue
        if field == 'username':
            have = (facts.get('ssh') or {}).get('user')
        elif field == 'rosetta' and facts.get('rosetta') is not None:
            have = facts['rosetta']  # 5.x inspect says it
        elif recorded is not None and field in recorded:
            have = recorded[field]
        else:
            unverified.append(field)
            continue
        if field == 'volumes':
            want, have = sorted(want), sorted(have or [])
        if want != have:
            drift.append((field, have, want))
    return drift, unverified


def plan_machine(desired: dict[str, Any], state: str, facts: dict[str, Any] | None, caps: Capabilities, host: dict[str, Any],
                 record: dict[str, Any] | None = None, recreate: bool = False, others: Sequence[dict[str, Any]] | None = None,
                 connections: Sequence[dict[str, Any]] | None = None) -> Plan:
    """The plan that takes the machine from `facts` (None: it does not exist) to `desired` in `state`.
    `connections`: podman's system connections (`system connection list --format json`), read when the task
    declares default_connection."""
    plan = _plan_machine(desired, state, facts, caps, host, record, recreate, others)
    if plan.refusal is None and state != 'absent' and desired.get('default_connection') is not None:
        _plan_default_connection(plan, desired, caps, connections or [])
    # Hyper-V refuses every change to a machine from a session that is not elevated; say so first.
    if (plan.refusal is None and plan.actions and PROVIDERS.get(plan.provider, {}).get('needs_admin')
            and host.get('os') == 'windows' and host.get('admin') is False):
        plan.refuse('provider=%s: %s machine %s needs an elevated session (a member of Administrators with its '
                    'admin token), and this connection\'s user has none. Connect as an administrator (over WinRM or '
                    'SSH a local administrator gets the full token), or use provider=wsl'
                    % (plan.provider, ' and '.join(sorted(set(a['action'] for a in plan.actions))), desired['name']))
    return plan


def _plan_machine(desired, state, facts, caps, host, record, recreate, others):
    plan = Plan()
    if state not in STATES:
        return plan.refuse('state=%r is not one of %s' % (state, ', '.join(STATES)))
    name = desired['name']
    major = caps.version.major
    plan.before = managed_view(facts)
    provider = desired.get('provider') or (facts or {}).get('provider') or default_provider(host['os'], major)
    plan.provider = provider
    env = cmds.provider_env(desired.get('provider'))

    if desired.get('provider'):
        why = provider_refusal(provider, host['os'], major, host.get('arch'))
        if why:
            return plan.refuse(why)
        if not caps.has('provider_env') and provider != default_provider(host['os'], major):
            return plan.refuse('provider=%s: Podman %s cannot choose a provider (that came in 4.6) and would '
                               'silently use %s; remove the option or use a newer podman'
                               % (provider, caps.version, default_provider(host['os'], major)))
        if facts and facts.get('provider') and facts['provider'] != provider:
            return plan.refuse('provider=%s, but machine %s exists with provider %s; podman cannot move a machine '
                               'between providers: remove it (state: absent) and create it again'
                               % (provider, name, facts['provider']))

    if state == 'absent':
        plan.after = managed_view(None)
        if facts:
            plan.add('rm', cmds.rm_argv(name), 'the machine exists and state is absent', env)
            plan.changes['exists'] = {'before': True, 'after': False}
        return plan

    creating = facts is None
    if _check_versions(plan, desired, caps, provider, creating, host):
        return plan
    too_many = _more_cpus_than_the_host(desired, facts, host)
    if too_many:
        return plan.refuse(too_many)

    if creating:
        if not caps.has('disk_named_per_machine'):
            other = _shared_disk(desired, others)
            if other:
                if image_kind(desired['image']) == 'url':
                    way_out = ('For a URL: fetch it with machinist.podman.podman_machine_image and give each machine '
                               'a file of its own name, or use a URL whose file name differs')
                else:
                    way_out = 'Give the image file a name of its own for this machine (copy or rename it)'
                return plan.refuse(
                    'image: Podman %s would copy %s to the disk file %s, which machine %s already uses; removing '
                    'either machine would then delete the other\'s disk (containers/podman#17784). %s'
                    % (caps.version, desired['image'], other['image_path'], other['name'], way_out))
        _plan_init(plan, desired, state, caps, provider, env, 'the machine does not exist', host)
        return plan

    # The machine exists: what differs?
    set_changes, refusals = {}, []
    for key, fact_key in _SETTABLE_FACTS:
        want = desired.get(key)
        if want is None:
            continue
        have = facts.get(fact_key)
        if key == 'usb':
            want = sorted(canonical_usb(u) for u in want)
            have = sorted(have or [])
        if want == have:
            continue
        if key == 'user_mode_networking' and provider != 'wsl':
            continue  # always on outside WSL; refused above when false
        if key == 'disk_size' and have is not None and want < have:
            refusals.append('disk_size=%d GiB is smaller than the machine\'s disk (%d GiB) and podman can only grow '
                            'a disk: keep disk_size at %d or more, or %s' % (want, have, have, RECREATE_HINT))
            continue
        if not can_set(provider, key):
            refusals.append('%s: %s machines cannot change it after creation (now %s, wanted %s); %s'
                            % (key, provider, _fmt(key, have), _fmt(key, want), RECREATE_HINT))
            continue
        set_changes[key] = want
        plan.changes[key] = {'before': have, 'after': want}

    drift, unverified = _init_only_drift(desired, facts, record)
    for field, have, want in drift:
        refusals.append('%s: only podman machine init sets it, and machine %s was created with %r, not %r; %s'
                        % (field, name, have, want, RECREATE_HINT))
    if unverified and not recreate:
        plan.warnings.append('%s: only used when a machine is created; machine %s was not created by this module, so '
                             'its value cannot be compared' % (', '.join(unverified), name))
    unmounted = facts.get('volumes_unmounted') or []
    if unmounted:
        lost = volumes_lost_note(name, caps.version, provider, unmounted)
        declared = {volume_target(v) for v in desired.get('volumes') or []}
        if declared & set(unmounted):
            refusals.append('volumes: ' + lost + '; ' + RECREATE_HINT)
        elif not recreate:
            plan.warnings.append(lost + '. To get them back, declare the volumes and ' + RECREATE_HINT)

    if refusals:
        if not recreate:
            return plan.refuse(refusals[0] if len(refusals) == 1 else '; and '.join(refusals))
        plan.add('rm', cmds.rm_argv(name), 'recreate: ' + refusals[0].split(';')[0], env)
        plan.changes['recreated'] = {'before': False, 'after': True}
        _plan_init(plan, desired, state, caps, provider, env, 'recreate', host)
        return plan

    # A machine marked "starting" may be half-started or stuck: stopping it is right, and so is asking
    # podman to start it (the converger answers "already running" and a stale "starting").
    running = facts.get('state') == 'running'
    active = facts.get('state') in ('running', 'starting')
    want_running = {'present': active, 'started': True, 'stopped': False, 'restarted': True}[state]
    stopped_for_set = False
    if set_changes:
        reason = 'changed: ' + ', '.join('%s %s -> %s' % (k, _fmt(k, plan.changes[k]['before']), _fmt(k, v))
                                         for k, v in sorted(set_changes.items()))
        if active and stop_to_set(provider, major):
            plan.add('stop', cmds.stop_argv(name), 'podman machine set needs the machine stopped', env)
            stopped_for_set = True
        plan.add('set', cmds.set_argv(name, set_changes), reason, env)
    restarted = False
    if state == 'restarted' and running and not stopped_for_set and caps.has('restart'):
        plan.add('restart', cmds.restart_argv(name), 'state is restarted', env)
        restarted = True
    elif state == 'restarted' and active and not stopped_for_set:
        plan.add('stop', cmds.stop_argv(name), 'state is restarted', env)
        stopped_for_set = True
    is_running = (running and not stopped_for_set) or restarted
    if want_running and not is_running:
        why = {'present': 'start it again after the change', 'restarted': 'state is restarted'}.get(
            state, 'state is started' if not stopped_for_set else 'start it again after the change')
        plan.add('start', cmds.start_argv(name, caps, desired.get('default_connection')), why, env)
    elif not want_running and active and not stopped_for_set:
        plan.add('stop', cmds.stop_argv(name), 'state is stopped', env)
    if facts.get('state') != ('running' if want_running else 'stopped'):
        plan.changes['state'] = {'before': facts.get('state'), 'after': 'running' if want_running else 'stopped'}

    after = dict(plan.before)
    for key, fact_key in _SETTABLE_FACTS:
        if key in set_changes:
            after[fact_key] = set_changes[key]
    after['state'] = 'running' if want_running else 'stopped'
    plan.after = after
    return plan


def _plan_default_connection(plan, desired, caps, connections):
    """default_connection: true makes the machine's connection (NAME, or NAME-root when rootful) the default and
    keeps it so; false makes no change to the default, and on Podman 6 tells init and start not to make one."""
    name = desired['name']
    mine = name + ('-root' if (plan.after or {}).get('rootful') else '')
    defaults = [c.get('Name') for c in connections if c.get('Default')]
    creating = any(a['action'] == 'init' for a in plan.actions)
    is_default = defaults == [mine] and not creating
    if plan.before.get('exists'):
        plan.before['default_connection'] = is_default
    if desired['default_connection']:
        plan.after['default_connection'] = True
        if not is_default:
            plan.add('default_connection', cmds.connection_default_argv(mine),
                     'default_connection is true and the default connection is %s' % (defaults[0] if defaults else 'none'))
            plan.changes['default_connection'] = {'before': defaults[0] if defaults else None, 'after': mine}
        return
    plan.after['default_connection'] = is_default
    if creating and not defaults and not caps.has('update_connection'):
        plan.warnings.append('default_connection=false: Podman %s makes the first machine the default connection at init '
                             'and cannot be told not to (Podman 6 can); %s will be the default connection'
                             % (caps.version, mine))


def _conf_override(desired, host):
    """Settings init reads only from containers.conf, as a file for CONTAINERS_CONF_OVERRIDE: (env, files)."""
    if desired.get('rosetta') is None:
        return {}, {}
    path = posixpath.join(host.get('state_base') or '.', 'containers-machine-rosetta-%s.conf'
                          % str(desired['rosetta']).lower())
    return {'CONTAINERS_CONF_OVERRIDE': path}, {path: '[machine]\nrosetta = %s\n' % str(desired['rosetta']).lower()}


def _plan_init(plan, desired, state, caps, provider, env, reason, host):
    name = desired['name']
    extra_env, files = _conf_override(desired, host)
    plan.add('init', cmds.init_argv(_init_values(desired, provider), caps), reason, dict(env, **extra_env), files)
    if not plan.before.get('exists'):
        plan.changes['exists'] = {'before': False, 'after': True}
    if state in ('started', 'restarted'):
        plan.add('start', cmds.start_argv(name, caps, desired.get('default_connection')), 'state is %s' % state, env)
    after = {'exists': True, 'provider': provider, 'state': 'running' if state in ('started', 'restarted') else 'stopped',
             'cpus': desired.get('cpus'), 'memory_mib': desired.get('memory'), 'disk_gib': desired.get('disk_size'),
             'rootful': bool(desired.get('rootful')), 'user_mode_networking': desired.get('user_mode_networking'),
             'usb': desired.get('usb'), 'username': desired.get('username')}
    if desired.get('import_native_ca') is not None:
        after['import_native_ca'] = desired['import_native_ca']
    plan.after = after

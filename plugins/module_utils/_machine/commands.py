# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every `podman machine` command line, built in one place from one table of flags.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

# option -> (kind, flag, feature that gates it or None). Kinds: value, bool, list, bool_eq.
INIT_FLAGS = (
    ('cpus', 'value', '--cpus', None),
    ('memory', 'value', '--memory', None),
    ('disk_size', 'value', '--disk-size', None),
    ('swap', 'value', '--swap', 'init_swap'),
    ('timezone', 'value', '--timezone', None),
    ('username', 'value', '--username', None),
    ('ignition_path', 'value', '--ignition-path', None),
    ('playbook', 'value', '--playbook', 'init_playbook'),
    ('rootful', 'bool', '--rootful', None),
    ('import_native_ca', 'bool', '--import-native-ca', 'init_import_native_ca'),
    ('user_mode_networking', 'bool_eq', '--user-mode-networking', 'init_user_mode_networking'),
    ('volumes', 'list', '--volume', None),
    ('usb', 'list', '--usb', 'init_usb'),
)
SET_FLAGS = (
    ('cpus', 'value', '--cpus', None),
    ('memory', 'value', '--memory', None),
    ('disk_size', 'value', '--disk-size', None),
    ('rootful', 'bool_eq', '--rootful', None),
    ('user_mode_networking', 'bool_eq', '--user-mode-networking', 'set_user_mode_networking'),
    ('usb', 'list', '--usb', 'set_usb'),
    ('import_native_ca', 'bool_eq', '--import-native-ca', 'set_import_native_ca'),
)


def _flags(values, table):
    argv = []
    for name, kind, flag, _feature in table:
        value = values.get(name)
        if value is None:
            continue
        if kind == 'value':
            argv += [flag, str(value)]
        elif kind == 'bool':
            if value:
                argv.append(flag)
        elif kind == 'bool_eq':
            argv.append('%s=%s' % (flag, 'true' if value else 'false'))
        elif kind == 'list':
            if not value and name == 'usb':
                # `set --usb ""` clears the devices
                argv += [flag, '']
            for item in value:
                argv += [flag, item]
    return argv


def _update_connection(caps, default_connection):
    """--update-connection=BOOL where podman has it (6.x) and the task says: podman then neither asks nor guesses."""
    if default_connection is None or not caps.has('update_connection'):
        return []
    return ['--update-connection=%s' % ('true' if default_connection else 'false')]


def init_argv(desired, caps):
    """`podman machine init` for the desired machine. Options left None are podman's defaults."""
    argv = ['machine', 'init'] + _flags(desired, INIT_FLAGS) + _update_connection(caps, desired.get('default_connection'))
    if desired.get('image') is not None:
        argv += ['--image' if caps.has('init_image') else '--image-path', desired['image']]
    return argv + [desired['name']]


def set_argv(name, changes):
    return ['machine', 'set'] + _flags(changes, SET_FLAGS) + [name]


def start_argv(name, caps, default_connection=None):
    quiet = ['--no-info'] if caps.has('start_no_info') else []
    return ['machine', 'start'] + quiet + _update_connection(caps, default_connection) + [name]


def restart_argv(name):
    """`podman machine restart` (Podman 6.1 and later): stop and start in one command."""
    return ['machine', 'restart', '--no-info', name]


def stop_argv(name):
    return ['machine', 'stop', name]


def rm_argv(name):
    # Without -f podman asks on stdin; -f also stops a running machine first.
    return ['machine', 'rm', '-f', name]


def inspect_argv(names):
    return ['machine', 'inspect'] + list(names)


def list_argv(caps, all_providers=False):
    argv = ['machine', 'list', '--format', 'json']
    if all_providers and caps.has('list_all_providers'):
        argv.insert(2, '--all-providers')
    return argv


def connection_list_argv():
    return ['system', 'connection', 'list', '--format', 'json']


def connection_default_argv(connection):
    return ['system', 'connection', 'default', connection]


def provider_env(provider):
    """Podman chooses the provider from the environment; 6.x also takes init --provider."""
    return {'CONTAINERS_MACHINE_PROVIDER': provider} if provider else {}

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What each virtualisation provider allows: the one table the planner consults.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

Sources: podman's provider stubbers (pkg/machine/{qemu,apple,applehv,libkrun,hyperv,wsl}) at
v4.9.5 and v5.8.2, summarised in the project's reference notes. Where the documentation and the
code disagree (the set man page says cpus/memory/disk are QEMU-only), the code wins.
"""

from __future__ import annotations

# Apple Silicon: macOS names it arm64; aarch64 is the same architecture's Linux name.
APPLE_SILICON = ('arm64', 'aarch64')

# settable: what `podman machine set` can change on a stopped machine (import_native_ca from Podman 6).
# hosts: host OS -> the podman majors on which the provider exists there.
# exclusive: only one machine of such providers may run at a time.
# stop_to_set: `set` needs the machine stopped (per podman major).
PROVIDERS = {
    'qemu': {
        'hosts': {'linux': (4, 5, 6), 'freebsd': (4, 5, 6), 'darwin': (4,)},
        'settable': ('cpus', 'memory', 'disk_size', 'rootful', 'usb', 'import_native_ca'),
        'exclusive': True,
        'stop_to_set': {4: True, 5: True, 6: True},
        'usb': True,
        'volumes': True,
        'needs_admin': False,
    },
    'applehv': {
        'hosts': {'darwin': (4, 5, 6)},
        'settable': ('cpus', 'memory', 'disk_size', 'rootful', 'import_native_ca'),
        'exclusive': True,
        'stop_to_set': {4: True, 5: True, 6: True},
        'usb': False,
        'volumes': True,
        'needs_admin': False,
    },
    'libkrun': {
        'hosts': {'darwin': (5, 6)},
        'arch': APPLE_SILICON,
        'settable': ('cpus', 'memory', 'disk_size', 'rootful', 'import_native_ca'),
        'exclusive': True,
        'stop_to_set': {5: True, 6: True},
        'usb': False,
        'volumes': True,
        'needs_admin': False,
    },
    'hyperv': {
        'hosts': {'windows': (4, 5, 6)},
        'settable': ('cpus', 'memory', 'disk_size', 'rootful', 'import_native_ca'),
        'exclusive': True,
        'stop_to_set': {4: True, 5: True, 6: True},
        'usb': False,
        'volumes': True,
        'needs_admin': True,
    },
    'wsl': {
        'hosts': {'windows': (4, 5, 6)},
        'settable': ('rootful', 'user_mode_networking', 'import_native_ca'),
        'exclusive': False,
        # 4.x WSL changes rootful on a running machine (and asks for a restart); 5.x refuses.
        'stop_to_set': {4: False, 5: True, 6: True},
        'usb': False,
        # WSL ignores --volume: the Windows drives already appear under /mnt.
        'volumes': False,
        'needs_admin': False,
    },
}

DEFAULT_PROVIDER = {'linux': 'qemu', 'freebsd': 'qemu', 'windows': 'wsl', 'darwin': {4: 'qemu', 5: 'applehv', 6: 'applehv'}}


def default_provider(host_os, major):
    d = DEFAULT_PROVIDER.get(host_os, 'qemu')
    return d.get(min(major, 6), 'applehv') if isinstance(d, dict) else d


def providers_on(host_os, major):
    return sorted(p for p, rule in PROVIDERS.items() if min(major, 6) in rule['hosts'].get(host_os, ()))


def provider_refusal(provider, host_os, major, arch=None):
    """Why `provider` cannot be used on this host with this podman major, or None."""
    rule = PROVIDERS[provider]
    if min(major, 6) not in rule['hosts'].get(host_os, ()):
        offered = providers_on(host_os, major) or ['none']
        return ('provider=%s is not available with Podman %d on %s hosts; there podman offers: %s'
                % (provider, major, host_os, ', '.join(offered)))
    if arch and rule.get('arch') and arch not in rule['arch']:
        return 'provider=%s needs an Apple Silicon (arm64) Mac; this host is %s: use applehv' % (provider, arch)
    return None


def can_set(provider, field):
    return field in PROVIDERS[provider]['settable']


def stop_to_set(provider, major):
    return PROVIDERS[provider]['stop_to_set'].get(min(major, 6), True)

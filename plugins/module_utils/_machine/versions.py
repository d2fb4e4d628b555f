# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Podman versions and what each can do.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

Every version-dependent difference of `podman machine` lives in FEATURES, one row per feature
with the first release that has it (and the last, where it went away). The command builder and
the planner ask `caps.has(feature)`; no other file compares version numbers.
"""

from __future__ import annotations

import re

# feature -> (first version that has it, first version that no longer has it or None)
FEATURES = {
    # podman machine init
    'init_image': ((5, 0, 0), None),                # --image; 4.x has --image-path
    'init_user_mode_networking': ((4, 6, 0), None),
    'init_usb': ((4, 8, 0), None),
    'init_playbook': ((5, 4, 0), None),
    'init_swap': ((5, 6, 0), None),
    # [machine] rosetta in containers.conf, read by init for applehv machines on arm64 Macs
    'init_rosetta': ((5, 1, 0), None),
    # init and set --import-native-ca: the host's trust anchors imported into the VM at every boot; the value is
    # kept in the machine's JSON, not shown by inspect (seen on 6.1.1: ImportNativeCA)
    'init_import_native_ca': ((6, 0, 0), None),
    'set_import_native_ca': ((6, 0, 0), None),
    # CONTAINERS_MACHINE_PROVIDER selects the provider (4.3 ignores it). init reads it on every later version,
    # 6.x included (seen on 6.1.1: an unknown value is refused there), and from 6.0 the other subcommands find
    # a machine by name whatever its provider, so it is the one mechanism we use (6.0's init --provider is not
    # needed). list is the exception: 6.x lists every provider and ignores it (list_every_provider).
    'provider_env': ((4, 6, 0), None),
    # a qemu machine's volumes mounted by systemd units that init writes into its Ignition config; 5.x mounted
    # them over SSH at every start, so a machine 5.x made has no units and 6.x mounts none of its volumes
    # (seen with 5.8.6 and 6.1.1)
    'volume_mount_units': ((6, 0, 0), None),
    # podman machine set
    'set_user_mode_networking': ((4, 6, 0), None),
    'set_usb': ((4, 8, 0), None),
    # podman machine start
    'start_no_info': ((4, 4, 0), None),             # --no-info
    # init and start --update-connection[=bool]: without it, 6.x asks on a terminal whether the machine becomes the
    # default connection (and without a terminal makes the first machine the default, as 4.x and 5.x do)
    'update_connection': ((6, 0, 0), None),
    # podman machine restart (with --no-info): one command for stop and start (containers/podman#28366)
    'restart': ((6, 1, 0), None),
    # podman machine list
    'list_all_providers': ((5, 3, 0), (6, 0, 0)),
    # 6.0 and later list every provider's machines, always, and read no CONTAINERS_MACHINE_PROVIDER there
    # (seen on 6.1.1: an unknown provider in it lists with rc 0)
    'list_every_provider': ((6, 0, 0), None),
    # disk images named <machine>_<file> (4.x) or <machine>-<arch>.<ext> (5.x): before this a
    # local image's basename is the disk's name, so two machines made from one file share a disk
    # and removing one deletes the other's (containers/podman#17784, seen on 4.3.1)
    'disk_named_per_machine': ((4, 5, 0), None),
}

# Human names of the features, for refusals ("--swap needs Podman 5.6 or later").
FEATURE_FLAGS = {
    'init_user_mode_networking': 'user_mode_networking',
    'init_usb': 'usb',
    'init_playbook': 'playbook',
    'init_swap': 'swap',
    'init_rosetta': 'rosetta',
    'init_import_native_ca': 'import_native_ca',
    'set_import_native_ca': 'import_native_ca',
    'set_user_mode_networking': 'user_mode_networking',
    'set_usb': 'usb',
}

# ASCII digits only: \d would take other scripts' digits, which int() then reads as numbers.
_VERSION_RE = re.compile(r'([0-9]+)\.([0-9]+)(?:\.([0-9]+))?(?:[-~+]?([0-9A-Za-z.~+-]*))?', re.ASCII)


class PodmanVersion:
    """A parsed Podman version such as 4.3.1, 5.8.6 or 6.0.0-dev."""

    def __init__(self, major, minor, patch=0, suffix=''):
        self.major = int(major)
        self.minor = int(minor)
        self.patch = int(patch or 0)
        self.suffix = suffix or ''

    @classmethod
    def parse(cls, text):
        """Parse `podman --version` output ("podman version 5.4.2") or a bare version string."""
        text = (text or '').strip()
        m = re.search(r'version\s+' + _VERSION_RE.pattern, text, re.ASCII) or _VERSION_RE.search(text)
        if not m:
            raise ValueError('cannot read a Podman version from %r' % text[:200])
        return cls(m.group(1), m.group(2), m.group(3), m.group(4))

    @property
    def tuple(self):
        return (self.major, self.minor, self.patch)

    def __str__(self):
        base = '%d.%d.%d' % self.tuple
        return base + ('-' + self.suffix if self.suffix else '')

    def __repr__(self):
        return 'PodmanVersion(%s)' % self

    def __eq__(self, other):
        return isinstance(other, PodmanVersion) and self.tuple == other.tuple

    def __hash__(self):
        return hash(self.tuple)


class Capabilities:
    """What one Podman version's `podman machine` supports, read from FEATURES."""

    def __init__(self, version):
        self.version = version

    def has(self, feature):
        first, gone = FEATURES[feature]
        v = self.version.tuple
        return v >= first and (gone is None or v < gone)

    def missing(self, feature):
        """A sentence for a feature this version lacks, or None when it has it."""
        if self.has(feature):
            return None
        first, gone = FEATURES[feature]
        name = FEATURE_FLAGS.get(feature, feature)
        if gone is not None and self.version.tuple >= gone:
            return '%s is not available since Podman %d.%d; this is Podman %s' % (name, gone[0], gone[1], self.version)
        return '%s needs Podman %d.%d or later; this is Podman %s' % (name, first[0], first[1], self.version)

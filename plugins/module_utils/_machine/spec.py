# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The desired machine: module parameters checked and normalised, before any podman call.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

Every error names the parameter and says what would be accepted, so a playbook author can fix
it without reading code. The rules are the strictest of the Podman versions we support (the
5.x name rules, the 5.x volume target rules), so one playbook behaves the same everywhere.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError
from ansible_collections.machinist.podman.plugins.module_utils._machine.providers import PROVIDERS

# Every pattern here is matched whole (fullmatch: a trailing newline is not let through, as `$` would)
# and ASCII only (re.ASCII: no other script's digits or spaces).
NAME_RE = re.compile(r'[a-zA-Z0-9][a-zA-Z0-9_.-]*', re.ASCII)
NAME_MAX = 30
DEFAULT_NAME = 'podman-machine-default'

# Where a size without a unit is counted in, and the bounds we accept.
MIB = 1024 * 1024
GIB = 1024 * MIB
_UNITS = {'': None, 'b': 1, 'k': 1024, 'm': MIB, 'g': GIB, 't': 1024 * GIB}
# Digits of a size's whole or fractional part beyond which no bound here can be met (and past which
# int() and float() fail or give inf).
_MAX_SIZE_DIGITS = 20
_SIZE_RE = re.compile(r'[ \t]*([0-9]+(?:\.[0-9]+)?)[ \t]*([kmgtb]?)(?:i?b)?[ \t]*', re.IGNORECASE | re.ASCII)

# Podman 5.x refuses these as volume targets; we refuse them on every version.
RESERVED_TARGETS = ('/bin', '/boot', '/dev', '/etc', '/home', '/proc', '/root', '/run', '/sbin', '/sys',
                    '/tmp', '/usr', '/var')
_USB_RE = re.compile(r'bus=[0-9]+,devnum=[0-9]+|vendor=[0-9a-fA-F]{1,4},product=[0-9a-fA-F]{1,4}', re.ASCII)
_VOLUME_OPTIONS = re.compile(r'ro|rw|security_model=[a-z-]+', re.ASCII)
_TIMEZONE_RE = re.compile(r'local|[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*', re.ASCII)
_CONTROL = re.compile(r'[\x00-\x1f\x7f]')

# Options that only `podman machine init` can apply.
INIT_ONLY = ('image', 'volumes', 'timezone', 'username', 'ignition_path', 'playbook', 'swap', 'rosetta')


class SpecError(MachinistError, ValueError):
    """Bad input. The message names the parameter and the fix."""


def _shown(value):
    """repr() of a value for a message, cut short when it is long."""
    text = repr(value)
    return text if len(text) <= 42 else repr(str(value)[:40]) + '...'


def parse_size(value, field, unit, unit_name, minimum, maximum):
    """Turn 4096, '4096', '4GiB', '4g' or '512M' into a whole number of `unit` bytes.

    A bare number is already in `unit_name`. Suffixes are binary (K, M, G, T with optional
    'i' and 'B'), as podman, docker and the Linux tools read them. The arithmetic is exact
    (no float), and a number longer than any bound here is refused before it is converted.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise SpecError('%s must be a size such as 4096 or "4GiB", not a boolean' % field)
    too_big = ('%s=%s is more than %d %s, which no machine can have: check the unit'
               % (field, _shown(value), maximum, unit_name))
    if isinstance(value, int):
        number, factor = value, unit
    else:
        m = _SIZE_RE.fullmatch(str(value))
        if not m:
            raise SpecError('%s=%s is not a size: use a whole number of %s (e.g. %d) or a number with a '
                            'unit such as "4GiB", "512MiB"' % (field, _shown(value), unit_name, minimum))
        whole, _dot, fraction = m.group(1).partition('.')
        fraction = fraction.rstrip('0')
        if len(whole.lstrip('0')) > _MAX_SIZE_DIGITS:
            raise SpecError(too_big)
        if len(fraction) > _MAX_SIZE_DIGITS:
            raise SpecError('%s=%s is not a whole number of %s: podman takes %s, so round it'
                            % (field, _shown(value), unit_name, unit_name))
        number = Fraction(int(whole + fraction), 10 ** len(fraction))
        factor = _UNITS[m.group(2).lower()] or unit
    total = number * factor
    if total <= 0:
        raise SpecError('%s must be greater than zero, got %s' % (field, _shown(value)))
    if total % unit:
        raise SpecError('%s=%s is not a whole number of %s: podman takes %s, so round it (e.g. %d)'
                        % (field, _shown(value), unit_name, unit_name, max(1, int(total // unit))))
    result = int(total // unit)
    if result < minimum:
        raise SpecError('%s=%s is too small: the least podman can run is %d %s'
                        % (field, _shown(value), minimum, unit_name))
    if result > maximum:
        raise SpecError(too_big)
    return result


def check_name(name, field='name'):
    if not name:
        raise SpecError('%s must not be empty' % field)
    if len(name) > NAME_MAX:
        raise SpecError('%s=%r is %d characters long; podman allows at most %d' % (field, name, len(name), NAME_MAX))
    if not NAME_RE.fullmatch(name):
        raise SpecError('%s=%r is not a valid machine name: start with a letter or digit and use only letters, '
                        'digits, "_", "." and "-"' % (field, name))
    if field == 'name' and name.lower() in PROVIDERS:
        raise SpecError('name=%r is a provider name, which podman refuses as a machine name: choose another' % name)
    return name


def _volume_parts(volume):
    parts = volume.split(':')
    # A Windows source such as C:\Users:/mnt/c (or C:/Users:/mnt/c) keeps its drive colon.
    if len(parts) >= 3 and len(parts[0]) == 1 and parts[0].isalpha() and parts[1].startswith(('\\', '/')):
        parts = [parts[0] + ':' + parts[1]] + parts[2:]
    return parts


def volume_target(volume: str) -> str:
    """The target inside the machine of a volume that check_volume accepted."""
    return _volume_parts(volume)[1]


def check_volume(volume):
    if _CONTROL.search(volume):
        raise SpecError('volumes entry %r: control characters (a newline, a tab) cannot be in a volume; write it as '
                        'SOURCE:TARGET or SOURCE:TARGET:OPTIONS on one line' % volume)
    parts = _volume_parts(volume)
    if len(parts) < 2 or len(parts) > 3 or not parts[0] or not parts[1]:
        raise SpecError('volumes entry %r must be SOURCE:TARGET or SOURCE:TARGET:OPTIONS' % volume)
    source, target = parts[0], parts[1]
    if not target.startswith('/'):
        raise SpecError('volumes entry %r: the target %r must be an absolute path inside the machine' % (volume, target))
    clean = '/' + target.strip('/')
    for reserved in RESERVED_TARGETS:
        if clean == reserved:
            raise SpecError('volumes entry %r: %s is a system directory of the machine and cannot be a mount '
                            'target; mount below another path such as /mnt' % (volume, reserved))
    if len(parts) == 3:
        for opt in parts[2].split(','):
            if not _VOLUME_OPTIONS.fullmatch(opt):
                raise SpecError('volumes entry %r: unknown option %r (use ro, rw or security_model=...)' % (volume, opt))
    return '%s:%s' % (source, target) + (':' + parts[2] if len(parts) == 3 else '')


def check_usb(device):
    if not _USB_RE.fullmatch(device):
        raise SpecError('usb entry %r must be "bus=N,devnum=M" or "vendor=HEX,product=HEX"' % device)
    return device


def desired_from_params(params):
    """Check module parameters and return the desired machine as a plain dict.

    Keys not given by the user are None (podman's or the existing machine's value stands).
    """
    d = {
        'name': check_name(params.get('name') or DEFAULT_NAME),
        'cpus': params.get('cpus'),
        'memory': parse_size(params.get('memory'), 'memory', MIB, 'MiB', 128, 16 * 1024 * 1024),
        'disk_size': parse_size(params.get('disk_size'), 'disk_size', GIB, 'GiB', 1, 64 * 1024),
        'swap': parse_size(params.get('swap'), 'swap', MIB, 'MiB', 1, 16 * 1024 * 1024),
        'rootful': params.get('rootful'),
        'user_mode_networking': params.get('user_mode_networking'),
        'image': params.get('image') or None,
        'timezone': params.get('timezone') or None,
        'username': params.get('username') or None,
        'ignition_path': params.get('ignition_path') or None,
        'playbook': params.get('playbook') or None,
        'provider': params.get('provider') or None,
        'rosetta': params.get('rosetta'),
        'default_connection': params.get('default_connection'),
        'import_native_ca': params.get('import_native_ca'),
        'volumes': None,
        'usb': None,
    }
    if d['cpus'] is not None and not 1 <= d['cpus'] <= 1024:
        raise SpecError('cpus=%r must be between 1 and 1024' % d['cpus'])
    if d['username'] is not None:
        check_name(d['username'], 'username')
    if d['provider'] is not None and d['provider'] not in PROVIDERS:
        raise SpecError('provider=%r is unknown: use one of %s' % (d['provider'], ', '.join(sorted(PROVIDERS))))
    if params.get('volumes') is not None:
        d['volumes'] = [check_volume(v) for v in params['volumes']]
    if params.get('usb') is not None:
        d['usb'] = [check_usb(u) for u in params['usb']]
    if d['timezone'] is not None and not _TIMEZONE_RE.fullmatch(d['timezone']):
        raise SpecError('timezone=%r is not a time zone name: use an IANA name such as "UTC" or '
                        '"Europe/Berlin", or "local"' % d['timezone'])
    return d

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`podman machine inspect` and `list` JSON, whatever the version, turned into one facts dict.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

One normaliser per JSON shape:
  4.x inspect: ConfigPath (a file), Image{...}, State "" for a machine never started (4.3),
               no Rootful before 4.7 (read from the machine's config file instead), no
               UserModeNetworking before 4.6
  5.x inspect: ConfigDir (a folder), no Image block, Rootful, UserModeNetworking, Rosetta
  list:        sizes as strings of bytes, VMType, Default, Starting, Swap (5.6+)
The shape is told by the JSON itself, never by a version probe.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError

if TYPE_CHECKING:
    from typing import Any

MIB = 1024 * 1024
GIB = 1024 * MIB
_ZERO_TIME = '0001-01-01T00:00:00Z'
_STATES = ('running', 'stopped', 'starting', 'unknown', 'error')
_BYTES = re.compile(r'[0-9]{1,20}', re.ASCII)


class FactsError(MachinistError, ValueError):
    """Podman printed JSON we cannot read."""


def parse_json_array(text: str | None, what: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text or '[]')
    except ValueError as e:
        raise FactsError('podman %s printed something that is not JSON (%s): %r' % (what, e, (text or '')[:300]))
    if data is None:
        return []
    if not isinstance(data, list):
        raise FactsError('podman %s printed JSON that is not a list: %r' % (what, (text or '')[:300]))
    if not all(isinstance(entry, dict) for entry in data):
        raise FactsError('podman %s printed JSON that is not a list of objects: %r' % (what, (text or '')[:300]))
    return data


def _path(block):
    return block.get('Path') if isinstance(block, dict) else None


def _last_dir(path):
    """The last folder name of a POSIX or Windows path."""
    if not path:
        return None
    return path.replace('\\', '/').rstrip('/').split('/')[-1] or None


def shape_of(entry: dict[str, Any]) -> str:
    if 'ConfigDir' in entry:
        return '5'
    if 'ConfigPath' in entry:
        return '4'
    raise FactsError('podman machine inspect printed an entry of a shape this collection does not know: keys %s'
                     % ', '.join(sorted(entry)))


def canonical_usb(device: str | dict[str, Any]) -> str:
    """'vendor=1D6B,product=0002' and inspect's {Vendor: 7531, Product: 2} -> 'vendor=1d6b,product=0002'."""
    try:
        return _canonical_usb(device)
    except (AttributeError, KeyError, TypeError, ValueError):
        raise FactsError('podman printed a USB device this collection cannot read: %r' % (device,))


def _canonical_usb(device):
    if isinstance(device, dict):
        if device.get('Vendor'):
            return 'vendor=%04x,product=%04x' % (int(device['Vendor']), int(device.get('Product') or 0))
        return 'bus=%s,devnum=%s' % (device.get('Bus', ''), device.get('DevNumber', ''))
    fields = dict(part.split('=', 1) for part in device.split(','))
    if 'vendor' in fields:
        return 'vendor=%04x,product=%04x' % (int(fields['vendor'], 16), int(fields['product'], 16))
    return 'bus=%s,devnum=%s' % (fields['bus'], fields['devnum'])


def _state(raw):
    state = (raw or '').lower()
    # 4.3 prints "" for a machine that is not running.
    if state == '':
        return 'stopped'
    return state if state in _STATES else 'unknown'


def _common(entry, provider):
    res = entry.get('Resources') or {}
    ssh = entry.get('SSHConfig') or {}
    conn = entry.get('ConnectionInfo') or {}
    last_up = entry.get('LastUp')
    usbs = res.get('USBs')
    return {
        'name': entry.get('Name'),
        'exists': True,
        'state': _state(entry.get('State')),
        'provider': provider,
        'cpus': res.get('CPUs'),
        'memory_mib': res.get('Memory'),
        'disk_gib': res.get('DiskSize'),
        'usb': sorted(canonical_usb(u) for u in usbs) if usbs is not None else None,
        'ssh': {
            'port': ssh.get('Port'),
            'user': ssh.get('RemoteUsername'),
            'identity_path': ssh.get('IdentityPath'),
        },
        'api_socket': _path(conn.get('PodmanSocket')),
        'api_pipe': _path(conn.get('PodmanPipe')),
        'created': entry.get('Created'),
        'last_up': None if last_up in (None, '', _ZERO_TIME) else last_up,
        'rootful': entry.get('Rootful'),
        'user_mode_networking': entry.get('UserModeNetworking'),
    }


def from_inspect_v4(entry: dict[str, Any], machine_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """4.x shape. `machine_config` is the machine's own JSON config, read only where inspect lacks a field."""
    config_path = _path(entry.get('ConfigPath'))
    config_dir = config_path.replace('\\', '/').rsplit('/', 1)[0] if config_path else None
    facts = _common(entry, _last_dir(config_dir))
    image = entry.get('Image') or {}
    facts.update({
        'json_shape': '4',
        'config_dir': config_dir,
        'config_file': config_path,
        'image_path': _path(image.get('ImagePath')),
        'image_stream': image.get('ImageStream'),
        'ignition_file': _path(image.get('IgnitionFilePath')),
    })
    if facts['rootful'] is None and machine_config is not None:
        facts['rootful'] = bool(machine_config.get('Rootful', False))
    if facts['user_mode_networking'] is None and machine_config is not None and 'UserModeNetworking' in machine_config:
        facts['user_mode_networking'] = bool(machine_config['UserModeNetworking'])
    if machine_config is not None and machine_config.get('Starting') and facts['state'] != 'running':
        facts['state'] = 'starting'
    return facts


def from_inspect_v5(entry: dict[str, Any]) -> dict[str, Any]:
    """5.x (and 6.x) shape."""
    config_dir = _path(entry.get('ConfigDir'))
    facts = _common(entry, _last_dir(config_dir))
    facts.update({
        'json_shape': '5',
        'config_dir': config_dir,
        'config_file': (config_dir.rstrip('/\\') + '/' + entry.get('Name', '') + '.json') if config_dir else None,
        'image_path': None,
        'image_stream': None,
        # Podman 5 writes the config it generated beside the machine's JSON and reads it at first boot.
        'ignition_file': (config_dir.rstrip('/\\') + '/' + entry.get('Name', '') + '.ign') if config_dir else None,
        'rosetta': entry.get('Rosetta'),
    })
    # No look at the config's Starting flag here: 5.x's State already says "starting" while a VM
    # boots, and the flag outlives a start that was killed (see merge_list).
    return facts


def needs_machine_config(entry: dict[str, Any]) -> bool:
    """Whether inspect leaves out something that only the machine's config file says (4.3 to 4.6)."""
    return shape_of(entry) == '4' and ('Rootful' not in entry or 'UserModeNetworking' not in entry)


def from_inspect(entry: dict[str, Any], machine_config: dict[str, Any] | None = None) -> dict[str, Any]:
    if shape_of(entry) == '5':
        return from_inspect_v5(entry)
    return from_inspect_v4(entry, machine_config)


def from_list(entry: dict[str, Any]) -> dict[str, Any]:
    """One entry of `podman machine list --format json` (any version)."""
    def number(key):
        value = entry.get(key)
        if value in (None, ''):
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        if isinstance(value, str) and _BYTES.fullmatch(value):
            return int(value)
        shown = repr(value) if len(repr(value)) <= 62 else repr(str(value)[:60]) + '...'
        raise FactsError('podman machine list printed %s=%s for machine %s, which is not a number of bytes'
                         % (key, shown, entry.get('Name')))

    def mib(key):
        value = number(key)
        return value // MIB if value is not None else None

    def gib(key):
        value = number(key)
        return value // GIB if value is not None else None

    last_up = entry.get('LastUp')
    return {
        'name': entry.get('Name'),
        'exists': True,
        'state': 'running' if entry.get('Running') else ('starting' if entry.get('Starting') else 'stopped'),
        'provider': (entry.get('VMType') or '').lower() or None,
        'default': entry.get('Default'),
        'cpus': entry.get('CPUs'),
        'memory_mib': mib('Memory'),
        'disk_gib': gib('DiskSize'),
        'swap_mib': mib('Swap'),
        'ssh': {
            'port': entry.get('Port'),
            'user': entry.get('RemoteUsername'),
            'identity_path': entry.get('IdentityPath'),
        },
        'user_mode_networking': entry.get('UserModeNetworking'),
        'created': entry.get('Created'),
        'last_up': None if last_up in (None, '', _ZERO_TIME) else last_up,
    }


def merge_list(facts: dict[str, Any], listed: dict[str, Any]) -> dict[str, Any]:
    """Add what only `list` says (default connection, swap, the starting flag) to inspect's facts."""
    merged = dict(facts)
    merged['default'] = listed.get('default')
    merged['swap_mib'] = listed.get('swap_mib')
    # 4.x's inspect can leave out a start in progress; its list says it. 5.x's list copies the
    # config's Starting flag, which a killed start leaves set (its stop does not clear it when the
    # VM is already gone), while its inspect asks the provider: there, inspect is the truth.
    if listed.get('state') == 'starting' and merged.get('state') != 'running' and merged.get('json_shape') != '5':
        merged['state'] = 'starting'
    if not merged.get('provider'):
        merged['provider'] = listed.get('provider')
    return merged


# The fields a user can ask for, as they appear in the facts: what diff mode compares.
MANAGED = ('state', 'cpus', 'memory_mib', 'disk_gib', 'rootful', 'user_mode_networking', 'usb', 'username')


def managed_view(facts: dict[str, Any] | None) -> dict[str, Any]:
    """The part of the facts that the module manages, for diff mode's before/after."""
    if not facts:
        return {'exists': False, 'state': 'absent'}
    view = {'exists': True}
    for key in MANAGED:
        if key == 'username':
            view[key] = (facts.get('ssh') or {}).get('user')
        else:
            view[key] = facts.get(key)
    view['provider'] = facts.get('provider')
    if 'import_native_ca' in facts:  # read from the machine's JSON only when a task declares it
        view['import_native_ca'] = facts['import_native_ca']
    return view


def ssh_login(facts: dict[str, Any], as_root: bool = False) -> dict[str, Any] | None:
    """How to SSH into a machine as podman does: 127.0.0.1 at its port, as its user (or root), with its key.
    None when podman reports no SSH port for it."""
    ssh = facts.get('ssh') or {}
    if not ssh.get('port'):
        return None
    return {'host': '127.0.0.1', 'port': ssh['port'], 'user': 'root' if as_root else (ssh.get('user') or 'core'),
            'identity': ssh.get('identity_path')}


def volumes_without_mount_units(machine_config: Any, ignition: Any) -> list[str]:
    """The targets of a machine's volumes (its own JSON's Mounts) that its Ignition config mounts with no systemd
    unit. Podman 6 mounts a qemu machine's volumes only with `.mount` units it writes into the Ignition config at
    init (What= the mount's tag); Podman 5 wrote none and mounted them over SSH at every start. So under 6.x a
    machine made by 5.x keeps its Mounts but gets none of them (seen with 5.8.6 and 6.1.1). [] when either file
    is missing or not JSON, or every volume has its unit."""
    mounts = machine_config.get('Mounts') if isinstance(machine_config, dict) else None
    if not isinstance(mounts, list) or not mounts or not isinstance(ignition, dict):
        return []
    units = (ignition.get('systemd') or {}).get('units') or []
    mounted = set()
    for unit in units:
        if isinstance(unit, dict) and str(unit.get('name', '')).endswith('.mount'):
            for line in str(unit.get('contents') or '').splitlines():
                if line.startswith('What='):
                    mounted.add(line[len('What='):].strip())
    return [m.get('Target') for m in mounts
            if isinstance(m, dict) and m.get('Target') and m.get('Tag') not in mounted]


def volumes_lost_note(name: str, version: Any, provider: str, targets: list[str]) -> str:
    """What volumes_without_mount_units found, said: which machine, why, which volumes."""
    return ('machine %s was made by Podman 5 or older: Podman %s mounts a %s machine\'s volumes with systemd units that '
            'it writes into the machine\'s Ignition config when it creates it, and this machine has none, so %s %s '
            'not mounted in it' % (name, version, provider, ', '.join(targets), 'is' if len(targets) == 1 else 'are'))

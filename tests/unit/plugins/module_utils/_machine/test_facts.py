# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._machine import facts as machine_facts
from ansible_collections.machinist.podman.tests.unit.conftest import VERSIONS, recorded, set_cpus


def inspected(version, scenario):
    return machine_facts.parse_json_array(recorded(version, scenario)['stdout'], 'machine inspect')


def test_stopped_machine_normalises_the_same_on_every_version(version):
    entry = inspected(version, 'inspect_stopped')[0]
    facts = machine_facts.from_inspect(entry, {'Rootful': False} if machine_facts.needs_machine_config(entry) else None)
    assert facts['name'] == 'rec-a'
    assert facts['state'] == 'stopped'  # 4.3.1 prints "" here
    assert facts['provider'] == 'qemu'
    assert (facts['cpus'], facts['memory_mib'], facts['disk_gib']) == (2, 1024, 5)
    assert facts['rootful'] is False
    assert facts['ssh']['user'] == 'core'
    assert facts['ssh']['port'] > 1024
    assert facts['ssh']['identity_path']
    assert facts['api_socket'].endswith('.sock')
    assert facts['last_up'] is None or version.startswith('4.')
    assert facts['json_shape'] == min(version[0], '5')  # Podman 6.1.1 prints 5's fields (recorded)


def test_shape_is_told_by_the_json(version):
    entry = inspected(version, 'inspect_stopped')[0]
    assert machine_facts.shape_of(entry) == ('4' if version.startswith('4.') else '5')
    # 4.3 has neither Rootful nor UserModeNetworking in inspect: they come from the config file.
    assert machine_facts.needs_machine_config(entry) is version.startswith('4.3')


def test_rootful_after_set(version):
    entry = inspected(version, 'inspect_after_set')[0]
    facts = machine_facts.from_inspect(entry, {'Rootful': True} if machine_facts.needs_machine_config(entry) else None)
    assert facts['rootful'] is True
    assert (facts['cpus'], facts['memory_mib'], facts['disk_gib']) == (set_cpus(version), 2048, 6)


def test_list_sizes_are_bytes_turned_into_mib_and_gib(version):
    listed = [machine_facts.from_list(e) for e in json.loads(recorded(version, 'list_two')['stdout'])]
    by_name = dict((m['name'], m) for m in listed)
    assert by_name['rec-a']['memory_mib'] == 2048
    assert by_name['rec-a']['disk_gib'] == 6
    assert by_name['rec-b']['provider'] == 'qemu'
    assert by_name['rec-b']['state'] == 'stopped'
    assert by_name['rec-a']['swap_mib'] == (0 if version >= '5.6' else None)


def test_merge_list_adds_default_and_the_starting_flag_only_where_inspect_lacks_it(version):
    entry = inspected(version, 'inspect_stopped')[0]
    facts = machine_facts.from_inspect(entry, {} if machine_facts.needs_machine_config(entry) else None)
    merged = machine_facts.merge_list(facts, {'default': True, 'swap_mib': 512, 'state': 'starting'})
    assert merged['default'] is True and merged['swap_mib'] == 512
    # 5.x's list copies a Starting flag that a killed start leaves behind; its inspect asks the VM.
    assert merged['state'] == ('starting' if version.startswith('4.') else 'stopped')


@pytest.mark.parametrize('version5', [v for v in VERSIONS if not v.startswith('4.')])
def test_5x_inspect_says_starting_itself(version5):
    entry = dict(inspected(version5, 'inspect_stopped')[0], State='starting')
    merged = machine_facts.merge_list(machine_facts.from_inspect(entry), {'default': False, 'state': 'starting'})
    assert merged['state'] == 'starting'


def test_empty_and_missing(version):
    assert machine_facts.parse_json_array(recorded(version, 'inspect_missing')['stdout'], 'x') == []
    assert machine_facts.parse_json_array(recorded(version, 'list_empty')['stdout'], 'x') == []


def test_6x_windows_entry_keeps_pipe_and_provider():
    # Shape of a 5.x/6.x inspect on Windows (ConfigDir with backslashes, a named pipe).
    entry = {'ConfigDir': {'Path': 'C:\\Users\\me\\.config\\containers\\podman\\machine\\wsl'},
             'ConnectionInfo': {'PodmanSocket': None, 'PodmanPipe': {'Path': '\\\\.\\pipe\\podman-dev'}},
             'Name': 'dev', 'Resources': {'CPUs': 4, 'Memory': 4096, 'DiskSize': 100, 'USBs': []},
             'SSHConfig': {'Port': 50000, 'RemoteUsername': 'user', 'IdentityPath': 'C:\\k'},
             'State': 'running', 'UserModeNetworking': False, 'Rootful': True, 'LastUp': '2026-01-01T00:00:00Z'}
    facts = machine_facts.from_inspect(entry)
    assert facts['provider'] == 'wsl'
    assert facts['api_pipe'] == '\\\\.\\pipe\\podman-dev'
    assert facts['api_socket'] is None
    assert facts['user_mode_networking'] is False


def test_unknown_shape_is_refused_by_name():
    with pytest.raises(machine_facts.FactsError, match='keys Name, Something'):
        machine_facts.shape_of({'Name': 'x', 'Something': 1})


def test_not_json_is_reported():
    with pytest.raises(machine_facts.FactsError, match='not JSON'):
        machine_facts.parse_json_array('Error: boom', 'machine inspect')


@pytest.mark.parametrize('text', ['["rec-a"]', '[1, 2]', '[null]', '[{"Name": "a"}, []]'])
def test_json_that_is_not_a_list_of_objects_is_reported(text):
    with pytest.raises(machine_facts.FactsError, match='podman machine list printed JSON that is not a list of objects'):
        machine_facts.parse_json_array(text, 'machine list')


@pytest.mark.parametrize('entry,field', [
    ({'Name': 'a', 'Memory': 'lots'}, 'Memory'),
    ({'Name': 'a', 'DiskSize': '9' * 5000}, 'DiskSize'),
    ({'Name': 'a', 'Swap': [1]}, 'Swap'),
    ({'Name': 'a', 'Memory': '1\u0661'}, 'Memory'),
])
def test_list_sizes_that_are_not_numbers_are_reported(entry, field):
    with pytest.raises(machine_facts.FactsError) as err:
        machine_facts.from_list(entry)
    assert str(err.value).startswith('podman machine list printed %s=' % field)
    assert 'for machine a' in str(err.value)


@pytest.mark.parametrize('usb', [{'Vendor': 'zz', 'Product': 1}, {'Vendor': 1, 'Product': 'x'}, 'vendor=zz,product=1',
                                 'bus=1', 7])
def test_usb_devices_that_cannot_be_read_are_reported(usb):
    entry = dict(inspected('5.8.6', 'inspect_stopped')[0])
    entry['Resources'] = dict(entry['Resources'], USBs=[usb])
    with pytest.raises(machine_facts.FactsError, match='USB device'):
        machine_facts.from_inspect(entry)


@pytest.mark.parametrize('given,canonical', [
    ('vendor=1D6B,product=2', 'vendor=1d6b,product=0002'),
    ({'Vendor': 7531, 'Product': 2}, 'vendor=1d6b,product=0002'),
    ('bus=1,devnum=3', 'bus=1,devnum=3'),
    ({'Bus': '1', 'DevNumber': '3'}, 'bus=1,devnum=3'),
])
def test_usb_canonical_form(given, canonical):
    assert machine_facts.canonical_usb(given) == canonical


# Fields of InspectInfo and ListReporter in podman 6.0.0-dev (containers/podman main c6580b4a,
# pkg/machine/config.go and pkg/domain/entities/machine.go). No 6.x binary is packaged for Debian yet, so
# this pins the claim that the 5.x normaliser reads 6.x: the 5.8.6 recordings carry exactly these keys.
INSPECT_6 = {'ConfigDir', 'ConnectionInfo', 'Created', 'LastUp', 'Name', 'Resources', 'SSHConfig', 'State',
             'UserModeNetworking', 'Rootful', 'Rosetta'}
LIST_6 = {'Name', 'Default', 'Created', 'Running', 'Starting', 'LastUp', 'Stream', 'VMType', 'CPUs', 'Memory', 'Swap',
          'DiskSize', 'Port', 'RemoteUsername', 'IdentityPath', 'UserModeNetworking'}


def test_6x_shapes_are_the_5_8_shapes():
    assert set(machine_facts.parse_json_array(recorded('5.8.6', 'inspect_stopped')['stdout'], 'x')[0]) == INSPECT_6
    assert set(json.loads(recorded('5.8.6', 'list_two')['stdout'])[0]) == LIST_6


@pytest.mark.parametrize('maker, lost', [('5.8.6', ['/mnt/share']), ('6.1.1', [])])
def test_volumes_without_mount_units(maker, lost):
    """Recorded: 6.1.1 writes var-mnt-share.mount (What= the mount's tag) into the Ignition config; 5.8.6 does not."""
    def files(version):
        return {k: json.loads(v['content']) for k, v in recorded(version, 'machine_files_volume')['files'].items()}
    assert machine_facts.volumes_without_mount_units(files('6.1.1')['json'], files(maker)['ign']) == lost
    assert machine_facts.volumes_without_mount_units(files('6.1.1')['json'], None) == []
    assert machine_facts.volumes_without_mount_units({'Mounts': []}, files('5.8.6')['ign']) == []
    assert machine_facts.volumes_without_mount_units('not a dict', files('5.8.6')['ign']) == []

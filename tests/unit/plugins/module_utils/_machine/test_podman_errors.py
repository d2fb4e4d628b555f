# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._host.runner import CommandResult
from ansible_collections.machinist.podman.plugins.module_utils._machine import podman_errors
from ansible_collections.machinist.podman.tests.unit.conftest import VERSIONS, recorded


def result(stderr):
    return CommandResult(['podman'], 125, '', stderr, 0.1)


def classify_recorded(version, scenario):
    r = recorded(version, scenario)
    return podman_errors.classify(CommandResult(r['argv'], r['rc'], r['stdout'], r['stderr'], 0))


@pytest.mark.parametrize('scenario,condition', [
    ('inspect_missing', podman_errors.NOT_FOUND),
    ('set_missing', podman_errors.NOT_FOUND),
    ('start_missing', podman_errors.NOT_FOUND),
    ('stop_missing', podman_errors.NOT_FOUND),
    ('rm_missing', podman_errors.NOT_FOUND),
    ('init_exists', podman_errors.ALREADY_EXISTS),
    ('init_missing_image', podman_errors.NO_SUCH_FILE),
    ('set_shrink_disk', podman_errors.DISK_NOT_LARGER),
])
def test_recorded_errors(version, scenario, condition):
    err = classify_recorded(version, scenario)
    assert err.condition == condition
    if condition == podman_errors.NOT_FOUND:
        assert err.details['name'] == 'rec-missing'


@pytest.mark.parametrize('version', [v for v in VERSIONS if not v.startswith('4.')])
def test_recorded_5x_only_errors(version):
    assert classify_recorded(version, 'set_equal_disk').condition == podman_errors.DISK_NOT_LARGER
    assert classify_recorded(version, 'set_equal_disk').details['current'] == '5'
    assert classify_recorded(version, 'init_bad_name').condition == podman_errors.INVALID_NAME
    assert classify_recorded(version, 'init_exists').details == {'name': 'rec-a'}
    if version.startswith('5.'):
        assert classify_recorded(version, 'provider_unknown').details == {'provider': 'nosuch'}
        assert classify_recorded(version, 'provider_unsupported').condition == podman_errors.UNSUPPORTED_PROVIDER


@pytest.mark.parametrize('version', [v for v in VERSIONS if int(v.split('.')[0]) >= 6])
def test_recorded_6x_facts(version):
    # list shows every provider and no longer reads CONTAINERS_MACHINE_PROVIDER: an unknown one is no error.
    assert recorded(version, 'provider_unknown')['rc'] == 0 and recorded(version, 'provider_unsupported')['rc'] == 0
    # More CPUs than the host has, refused at init and at set.
    for scenario in ('init_too_many_cpus', 'set_too_many_cpus'):
        err = classify_recorded(version, scenario)
        assert err.condition == podman_errors.TOO_MANY_CPUS and int(err.details['wanted']) > int(err.details['host'])
    assert classify_recorded(version, 'restart_missing').details == {'name': 'rec-missing'}
    # The first machine made with no terminal on stdin is the default connection, as on 5.x.
    import json
    connections = json.loads(recorded(version, 'connections_after_init')['stdout'])
    assert [c['Name'] for c in connections if c['Default']] == ['rec-a']


# Messages from podman's sources that these tests cannot provoke without a running VM; each line names
# the podman version and file it comes from.
@pytest.mark.parametrize('stderr,condition,details', [
    # podman v4.9.5 pkg/machine/qemu/machine.go
    ('Error: cannot start VM b. VM a is currently running or starting: only one VM can be active at a time',
     podman_errors.EXCLUSIVE, {'name': 'b', 'other': 'a'}),
    # podman v5.8.2 pkg/machine/shim/host.go checkExclusiveActiveVM, same provider
    ('Error: unable to start "b": a already starting or running: only one VM can be active at a time',
     podman_errors.EXCLUSIVE, {'name': 'b', 'other': 'a'}),
    # ... other provider
    ('Error: unable to start: a already starting or running on the applehv provider: only one VM can be active at a time',
     podman_errors.EXCLUSIVE, {'other': 'a', 'other_provider': 'applehv'}),
    ('Error: cannot start VM dev: VM already running or starting', podman_errors.ALREADY_RUNNING, {}),
    ('Error: unable to start "dev": already running', podman_errors.ALREADY_RUNNING, {}),
    ('Error: cannot start VM "dev": starting state indicates that a previous start has failed: please stop and '
     'restart the VM', podman_errors.STALE_STARTING, {}),
    ('Error: incompatible machine config "/home/u/.config/containers/podman/machine/qemu/dev.json" (dev) for this '
     'version of Podman', podman_errors.INCOMPATIBLE_CONFIG, {'path': '/home/u/.config/containers/podman/machine/qemu/dev.json',
                                                              'name': 'dev'}),
    ('Error: running vm "dev" cannot be destroyed', podman_errors.RUNNING_CANNOT_DESTROY, {'name': 'dev'}),
    ('Error: unable to change settings unless vm is stopped', podman_errors.MUST_STOP, {}),
    ("Error: cannot change settings while the vm is running, run 'podman machine stop dev' first", podman_errors.MUST_STOP, {}),
    ('Error: changing CPUs not supported for WSL machines', podman_errors.NOT_SUPPORTED, {'what': 'CPUs', 'provider': 'WSL'}),
    ('Error: cannot run command "podman machine list" as root', podman_errors.ROOT_REFUSED, {}),
    ('Error: system connection "dev" already exists. consider a different machine name',
     podman_errors.CONNECTION_EXISTS, {'connection': 'dev'}),
    ('Error: something nobody has seen', podman_errors.UNKNOWN, {}),
])
def test_source_messages(stderr, condition, details):
    err = podman_errors.classify(result(stderr))
    assert err.condition == condition
    assert err.details == details


def test_text_is_podmans_last_error_line():
    err = podman_errors.classify(result('failed to resize disk: x\nError: failed to resize disk: new disk size must be larger '
                                        'than current disk size: 5GB\n'))
    assert err.text == 'failed to resize disk: new disk size must be larger than current disk size: 5GB'
    assert err.details == {'current': '5'}

# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each health check from what a real running machine gave (tests/unit/fixtures/record_health.py: the host's
processes, the guest probe, the guest's clock, the system connections), and from those outputs changed the
way each fault changes them."""

from __future__ import annotations

import base64
import copy
import json
import os

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._machine import facts as machine_facts
from ansible_collections.machinist.podman.plugins.module_utils._machine.versions import PodmanVersion
from ansible_collections.machinist.podman.plugins.module_utils._machine_health import checks as c
from ansible_collections.machinist.podman.plugins.module_utils._tasks.machine_health import HEALTH_ARGS, checked_options
from ansible_collections.machinist.podman.tests.unit.conftest import FIXTURES, recorded

HEALTH_VERSIONS = sorted(d[len('podman-'):] for d in os.listdir(FIXTURES)
                         if os.path.exists(os.path.join(FIXTURES, d, 'health_running.json')))


def test_recorded_for_the_host_podman_at_least():
    assert '4.3.1' in HEALTH_VERSIONS


@pytest.fixture(params=HEALTH_VERSIONS)
def run(request):
    data = recorded(request.param, 'health_running')
    entry = json.loads(data['inspect'])[0]
    data['facts'] = machine_facts.from_inspect(entry)
    return data


def test_process_finds_the_vm_and_gvproxy(run):
    procs = c.find_processes(c.parse_ps(run['ps']), run['machine'], run['facts']['ssh']['port'])
    assert procs['vm'] and procs['vm']['program'].startswith('qemu-system-')
    assert procs['gvproxy'] and procs['gvproxy']['program'] == 'gvproxy'
    assert c.check_process(dict(run['facts'], state='running'), procs) == []


def test_process_of_another_machine_is_not_taken(run):
    procs = c.find_processes(c.parse_ps(run['ps']), 'other', 1)
    assert procs == {'vm': None, 'gvproxy': None}
    # a name that ends, or begins, the recorded machine's name is another machine
    for name in (run['machine'][1:], run['machine'] + '-2', 'x' + run['machine']):
        assert c.find_processes(c.parse_ps(run['ps']), name, 1)['vm'] is None, name


def test_gvproxy_gone_is_named(run):
    ps = '\n'.join(line for line in run['ps'].splitlines() if '/gvproxy' not in line.split(' -')[0])
    procs = c.find_processes(c.parse_ps(ps), run['machine'], run['facts']['ssh']['port'])
    assert procs['gvproxy'] is None and procs['vm'] is not None
    found = c.check_process(dict(run['facts'], state='running'), procs)
    assert [f['id'] for f in found] == ['process']
    assert 'gvproxy' in found[0]['seen'] and found[0]['repair'] == 'restart'


def test_stale_starting_is_named():
    found = c.check_process({'name': 'm', 'state': 'starting'}, {'vm': None, 'gvproxy': None})
    assert 'stale Starting' in found[0]['seen']


def test_qemu_drive_without_discard_is_the_reason(run):
    procs = c.find_processes(c.parse_ps(run['ps']), run['machine'], run['facts']['ssh']['port'])
    drive = c.drive_discards(procs['vm']['drives'])
    assert drive['file'] and drive['file'].endswith(('.qcow2', '.raw'))
    assert drive['discard'] == 'ignore'
    guest = c.parse_guest_probe(run['probe'])
    reason = c.discard_reason('qemu', drive, guest['discard'])
    assert 'discard=unmap' in reason and drive['file'] in reason
    assert c.discard_reason('qemu', dict(drive, discard='unmap'), guest['discard']) is None
    assert 'no discard support' in c.discard_reason('qemu', dict(drive, discard='unmap'), {'vda': 0})


def test_guest_probe(run):
    guest = c.parse_guest_probe(run['probe'])
    assert guest['disk']['size_bytes'] > guest['disk']['free_bytes'] > 0
    assert guest['disk']['used_total_bytes'] >= guest['disk']['used_bytes']
    assert guest['podman'] == run['version']
    assert guest['dns']['host.containers.internal'] == '192.168.127.254'
    assert c.check_dns(run['machine'], run['facts'], guest) == []
    assert c.check_disk(run['machine'], guest, 10) == []
    assert c.check_version(run['machine'], PodmanVersion.parse(run['version']), guest['podman']) == []


def test_dns_that_answers_nothing_is_named(run):
    guest = c.parse_guest_probe(run['probe'].replace('192.168.127.254', ''))
    found = c.check_dns(run['machine'], run['facts'], guest)
    assert [f['id'] for f in found] == ['dns'] and '192.168.127.1' in found[0]['seen']


def test_full_disk_is_named(run):
    guest = c.parse_guest_probe(run['probe'])
    guest['disk']['free_bytes'] = guest['disk']['size_bytes'] // 50
    found = c.check_disk(run['machine'], guest, 10)
    assert found[0]['severity'] == 'error' and found[0]['free_percent'] == 2.0


def test_reclaim():
    disk = {'image': '/i.qcow2', 'allocated_bytes': 1500 * 1048576, 'used_total_bytes': 500 * 1048576, 'discard_reason': None}
    assert c.check_reclaim('m', disk, 1024) == []
    found = c.check_reclaim('m', disk, 512)
    assert found[0]['repair'] == 'repair' and found[0]['reclaimable_bytes'] == 1000 * 1048576
    found = c.check_reclaim('m', dict(disk, discard_reason='no discards'), 512)
    assert found[0]['repair'] == 'manual' and found[0]['severity'] == 'info' and 'no discards' in found[0]['seen']


def test_clock(run):
    guest = float(run['date'])
    clock = c.clock_skew(guest - 0.1, run['date'], guest + 0.1)
    assert clock == {'skew_seconds': 0.0, 'uncertainty_seconds': 0.1}
    assert c.check_clock('m', clock, 2) == []
    behind = c.clock_skew(guest + 10800 - 0.2, run['date'], guest + 10800 + 0.2)
    assert behind['skew_seconds'] == pytest.approx(-10800, abs=0.01)
    found = c.check_clock('m', behind, 2)
    assert found[0]['severity'] == 'error' and 'behind' in found[0]['seen'] and found[0]['repair'] == 'repair'
    with pytest.raises(c.HealthError, match='not a time'):
        c.clock_skew(0, 'date: invalid', 1)
    assert c.clock_step_command(1796472638.3051) == 'sudo -n date -u -s @1796472638.305 >/dev/null'


def test_default_connection(run):
    conns = json.loads(run['connections'])
    facts = dict(run['facts'], name=run['machine'], rootful=False)
    mine = [x for x in conns if x['Name'] == run['machine']]
    assert mine, 'the recorded machine has its connection'
    for x in conns:
        x['Default'] = x['Name'] == run['machine']
    assert c.check_default_connection(facts, conns, None) == ([], None)
    assert c.check_default_connection(facts, conns, True) == ([], None)
    switched = copy.deepcopy(conns)
    for x in switched:
        x['Default'] = x['Name'] == run['machine'] + '-root'
    found, wanted = c.check_default_connection(facts, switched, None)
    assert wanted == run['machine'] and found[0]['severity'] == 'error' and 'rootful' in found[0]['seen']
    # rootful: the rootless one is the wrong default
    found, wanted = c.check_default_connection(dict(facts, rootful=True), conns, None)
    assert wanted == run['machine'] + '-root' and found[0]['current'] == run['machine']
    # another machine's default is wrong only when this one is declared the default
    other = [dict(x, Default=False) for x in conns] + [{'Name': 'other', 'Default': True}]
    assert c.check_default_connection(facts, other, None) == ([], None)
    assert c.check_default_connection(facts, other, True)[0][0]['severity'] == 'warning'


def test_version_skew():
    found = c.check_version('m', PodmanVersion.parse('5.4.2'), '4.3.1')
    assert found[0]['severity'] == 'error' and 'podman_machine_os' in found[0]['fix']
    found = c.check_version('m', PodmanVersion.parse('5.8.6'), '5.4.2')
    assert found[0]['severity'] == 'warning' and 'behind' in found[0]['seen']
    assert c.check_version('m', PodmanVersion.parse('5.4.1'), '5.4.2') == []
    assert c.check_version('m', PodmanVersion.parse('5.4.1'), None)[0]['seen'].startswith('podman --version printed nothing')


def test_forwards():
    declared = [{'local': '127.0.0.1:18090', 'remote': '192.168.127.2:8090', 'protocol': 'tcp'},
                {'local': '127.0.0.1:18091', 'remote': '192.168.127.2:8091', 'protocol': 'tcp'}]
    present = [dict(declared[0]), {'local': ':18080', 'remote': '192.168.127.2:18080', 'protocol': 'tcp'}]
    found, missing = c.check_forwards('m', declared, present)
    assert missing == [declared[1]] and found[0]['missing'] == ['tcp/127.0.0.1:18091']
    assert c.check_forwards('m', declared[:1], present) == ([], [])
    moved = [dict(declared[0], remote='192.168.127.2:9999')]
    found, missing = c.check_forwards('m', declared[:1], moved)
    assert missing == [] and found[0]['repair'] == 'manual'


def params(**kw):
    out = dict((k, v.get('default')) for k, v in HEALTH_ARGS.items())
    out.update(machine='m', **kw)
    return out


def test_options_refused_by_name():
    assert checked_options(params())['checks'] == list(c.CHECKS)
    with pytest.raises(c.HealthError, match='checks: clocks is not a check'):
        checked_options(params(checks=['clocks']))
    with pytest.raises(c.HealthError, match='max_clock_skew=-1'):
        checked_options(params(max_clock_skew=-1))
    with pytest.raises(c.HealthError, match='min_free_percent=101'):
        checked_options(params(min_free_percent=101))
    with pytest.raises(c.HealthError, match='timeout=0'):
        checked_options(params(timeout=0))


def test_orphaned_vm_is_named(run):
    # what Podman 4.3.1 showed when the machine's gvproxy was killed: State "" (stopped), its qemu still running
    procs = c.find_processes(c.parse_ps(run['ps']), run['machine'], run['facts']['ssh']['port'])
    found = c.check_orphan(dict(run['facts'], state='stopped'), dict(procs, gvproxy=None))
    assert found[0]['repair'] == 'restart' and found[0]['pid'] == procs['vm']['pid']
    assert 'still runs' in found[0]['seen']
    assert c.check_orphan(dict(run['facts'], state='stopped'), {'vm': None, 'gvproxy': None}) == []


def test_forward_record_comes_with_the_probe(run):
    record = [{'local': '127.0.0.1:18090', 'remote': '192.168.127.2:8090', 'protocol': 'tcp'}]
    line = 'record %s\n' % base64.b64encode(json.dumps(record).encode()).decode()
    assert c.parse_guest_probe(run['probe'] + line)['forward_record'] == record
    assert c.parse_guest_probe(run['probe'] + 'record \n')['forward_record'] == []
    assert c.parse_guest_probe(run['probe'] + 'record bm90IGpzb24=\n')['forward_record'] == []
    assert '.config/machinist-podman/forwards.json' in c.GUEST_PROBE

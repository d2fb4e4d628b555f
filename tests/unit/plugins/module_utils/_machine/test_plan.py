# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The planner, table-driven: facts come from recorded inspect output of each podman version."""
from __future__ import annotations

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._machine import facts as machine_facts
from ansible_collections.machinist.podman.plugins.module_utils._machine.plan import plan_machine
from ansible_collections.machinist.podman.plugins.module_utils._machine.spec import desired_from_params
from ansible_collections.machinist.podman.plugins.module_utils._machine.versions import Capabilities, PodmanVersion
from ansible_collections.machinist.podman.tests.unit.conftest import recorded

LINUX = {'os': 'linux', 'arch': 'x86_64'}


def facts_of(version, state='stopped', **override):
    entry = machine_facts.parse_json_array(recorded(version, 'inspect_stopped')['stdout'], 'x')[0]
    facts = machine_facts.from_inspect(entry, {'Rootful': False} if machine_facts.needs_machine_config(entry) else None)
    facts['state'] = state
    facts.update(override)
    return facts


def desired(**kw):
    params = dict(name='rec-a')
    params.update(kw)
    return desired_from_params(params)


def caps(version):
    return Capabilities(PodmanVersion.parse(version))


def actions(plan):
    return [a['action'] for a in plan.actions]


def test_same_settings_is_a_no_op(version):
    plan = plan_machine(desired(cpus=2, memory='1GiB', disk_size=5), 'present', facts_of(version), caps(version), LINUX)
    assert plan.refusal is None
    assert plan.actions == []
    assert not plan.changed


def test_absent_machine_is_created_with_the_right_image_flag(version):
    plan = plan_machine(desired(image='/i.qcow2', cpus=2), 'present', None, caps(version), LINUX)
    assert actions(plan) == ['init']
    argv = plan.actions[0]['argv']
    assert argv[argv.index('/i.qcow2') - 1] == ('--image-path' if version.startswith('4.') else '--image')
    assert argv[-1] == 'rec-a'
    assert plan.before == {'exists': False, 'state': 'absent'}
    assert plan.after['cpus'] == 2


def test_started_creates_then_starts(version):
    plan = plan_machine(desired(), 'started', None, caps(version), LINUX)
    assert actions(plan) == ['init', 'start']


@pytest.mark.parametrize('state,run_state,expected', [
    ('present', 'stopped', ['set']),
    ('present', 'running', ['stop', 'set', 'start']),
    ('started', 'stopped', ['set', 'start']),
    ('started', 'running', ['stop', 'set', 'start']),
    ('stopped', 'running', ['stop', 'set']),
    ('stopped', 'stopped', ['set']),
    ('restarted', 'running', ['stop', 'set', 'start']),
    ('restarted', 'stopped', ['set', 'start']),
])
def test_settable_change_converges_in_place(version, state, run_state, expected):
    plan = plan_machine(desired(cpus=4, memory=4096), state, facts_of(version, run_state), caps(version), LINUX)
    assert actions(plan) == expected
    set_argv = [a for a in plan.actions if a['action'] == 'set'][0]['argv']
    assert set_argv == ['machine', 'set', '--cpus', '4', '--memory', '4096', 'rec-a']
    assert plan.changes['cpus'] == {'before': 2, 'after': 4}


@pytest.mark.parametrize('state,run_state,expected', [
    ('started', 'running', []),
    ('started', 'stopped', ['start']),
    ('started', 'starting', ['start']),
    ('stopped', 'running', ['stop']),
    ('stopped', 'stopped', []),
    ('restarted', 'running', ['stop', 'start']),
    ('restarted', 'stopped', ['start']),
    ('absent', 'running', ['rm']),
])
def test_run_state(version, state, run_state, expected):
    if (state, run_state) == ('restarted', 'running') and not version.startswith(('4.', '5.')):
        expected = ['restart']  # one command since Podman 6.1
    plan = plan_machine(desired(), state, facts_of(version, run_state), caps(version), LINUX)
    assert actions(plan) == expected


@pytest.mark.parametrize('release, expected', [('6.0.1', ['stop', 'start']), ('6.1.0', ['restart']),
                                               ('6.1.1', ['restart']), ('5.8.6', ['stop', 'start'])])
def test_a_running_machine_restarts_with_one_command_from_podman_6_1(release, expected):
    plan = plan_machine(desired(), 'restarted', facts_of('5.8.6', 'running'), caps(release), LINUX)
    assert actions(plan) == expected
    if expected == ['restart']:
        assert plan.actions[0]['argv'] == ['machine', 'restart', '--no-info', 'rec-a']
        assert plan.changed and plan.after['state'] == 'running'


def test_a_change_that_stops_the_machine_starts_it_rather_than_restarting_it():
    plan = plan_machine(desired(cpus=4), 'restarted', facts_of('5.8.6', 'running'), caps('6.1.1'), LINUX)
    assert actions(plan) == ['stop', 'set', 'start']


def test_absent_when_absent_is_a_no_op(version):
    assert plan_machine(desired(), 'absent', None, caps(version), LINUX).actions == []


def test_start_uses_no_info_where_podman_has_it(version):
    plan = plan_machine(desired(), 'started', facts_of(version), caps(version), LINUX)
    expected = ['machine', 'start', 'rec-a'] if version < '4.4' else ['machine', 'start', '--no-info', 'rec-a']
    assert plan.actions[0]['argv'] == expected


def test_smaller_disk_is_refused_and_recreate_is_the_way_out(version):
    plan = plan_machine(desired(disk_size=4), 'present', facts_of(version), caps(version), LINUX)
    assert 'disk_size=4 GiB is smaller than the machine\'s disk (5 GiB)' in plan.refusal
    assert 'recreate: true' in plan.refusal
    assert plan.actions == []
    recreate = plan_machine(desired(disk_size=4, image='/i.qcow2'), 'present', facts_of(version), caps(version), LINUX,
                            recreate=True)
    assert actions(recreate) == ['rm', 'init']
    assert 'exists' not in recreate.changes and recreate.changes['recreated'] == {'before': False, 'after': True}


def test_equal_disk_is_not_sent(version):
    # 5.x errors on an equal size, so it must never reach podman.
    assert plan_machine(desired(disk_size=5), 'present', facts_of(version), caps(version), LINUX).actions == []


def test_init_only_change_is_refused_when_recorded(version):
    facts = facts_of(version)
    record = {'created': facts['created'], 'options': {'image': '/old.qcow2', 'timezone': 'UTC'}}
    plan = plan_machine(desired(image='/new.qcow2'), 'present', facts, caps(version), LINUX, record=record)
    assert plan.refusal.startswith("image: only podman machine init sets it, and machine rec-a was created with "
                                   "'/old.qcow2', not '/new.qcow2'")
    same = plan_machine(desired(image='/old.qcow2', timezone='UTC'), 'present', facts, caps(version), LINUX,
                        record=record)
    assert same.refusal is None and same.actions == []


def test_a_stale_record_is_ignored_with_a_warning(version):
    facts = facts_of(version)
    record = {'created': 'another time', 'options': {'image': '/old.qcow2'}}
    plan = plan_machine(desired(image='/new.qcow2'), 'present', facts, caps(version), LINUX, record=record)
    assert plan.refusal is None
    assert 'image: only used when a machine is created' in plan.warnings[0]


def test_username_is_compared_from_the_facts(version):
    plan = plan_machine(desired(username='alice'), 'present', facts_of(version), caps(version), LINUX)
    assert plan.refusal.startswith("username: only podman machine init sets it")


@pytest.mark.parametrize('field,value', [('cpus', 8), ('memory', 8192), ('disk_size', 200)])
def test_wsl_cannot_change_resources(field, value):
    facts = facts_of('5.8.6', provider='wsl')
    plan = plan_machine(desired(**{field: value}), 'present', facts, caps('5.8.6'), {'os': 'windows'})
    assert plan.refusal.startswith('%s: wsl machines cannot change it after creation' % field)


def test_wsl_can_change_rootful_while_running_on_4x_only():
    facts = facts_of('4.3.1', state='running', provider='wsl')
    assert actions(plan_machine(desired(rootful=True), 'present', facts, caps('4.9.5'), {'os': 'windows'})) == ['set']
    facts5 = facts_of('5.8.6', state='running', provider='wsl')
    assert actions(plan_machine(desired(rootful=True), 'present', facts5, caps('5.8.6'), {'os': 'windows'})) == \
        ['stop', 'set', 'start']


@pytest.mark.parametrize('provider,host,major,message', [
    ('applehv', 'linux', '5.8.6', 'provider=applehv is not available with Podman 5 on linux hosts; there podman '
                                  'offers: qemu'),
    ('qemu', 'darwin', '5.8.6', 'provider=qemu is not available with Podman 5 on darwin hosts'),
    ('hyperv', 'darwin', '4.9.5', 'offers: applehv, qemu'),
])
def test_provider_rules(provider, host, major, message):
    plan = plan_machine(desired(provider=provider), 'present', None, caps(major), {'os': host, 'arch': 'x86_64'})
    assert message in plan.refusal


def test_libkrun_needs_apple_silicon():
    plan = plan_machine(desired(provider='libkrun'), 'present', None, caps('5.8.6'), {'os': 'darwin', 'arch': 'x86_64'})
    assert 'needs an Apple Silicon' in plan.refusal
    ok = plan_machine(desired(provider='libkrun'), 'present', None, caps('5.8.6'), {'os': 'darwin', 'arch': 'arm64'})
    assert ok.refusal is None
    assert ok.actions[0]['env'] == {'CONTAINERS_MACHINE_PROVIDER': 'libkrun'}


def test_provider_choice_before_4_6_is_refused():
    plan = plan_machine(desired(provider='applehv'), 'present', None, caps('4.5.0'), {'os': 'darwin'})
    assert 'cannot choose a provider (that came in 4.6)' in plan.refusal


def test_provider_of_an_existing_machine_cannot_change(version):
    plan = plan_machine(desired(provider='qemu'), 'present', facts_of(version, provider='applehv'), caps(version),
                        {'os': 'darwin', 'arch': 'arm64'})
    assert plan.refusal is not None


@pytest.mark.parametrize('option,value,needs', [
    ('swap', 512, '5.6'), ('playbook', '/p.yml', '5.4'), ('usb', ['bus=1,devnum=2'], '4.8'),
])
def test_options_too_new_for_this_podman(option, value, needs):
    plan = plan_machine(desired(**{option: value}), 'present', None, caps('4.3.1'), LINUX)
    assert plan.refusal.startswith('%s needs Podman %s or later; this is Podman 4.3.1' % (option, needs))


def test_user_mode_networking_only_wsl_can_turn_off():
    plan = plan_machine(desired(user_mode_networking=False), 'present', None, caps('5.8.6'), LINUX)
    assert 'only WSL machines can turn user-mode networking off' in plan.refusal
    on = plan_machine(desired(user_mode_networking=True), 'present', None, caps('5.8.6'), LINUX)
    assert '--user-mode-networking=true' not in on.actions[0]['argv']


def test_usb_only_on_qemu():
    plan = plan_machine(desired(usb=['bus=1,devnum=2']), 'present', None, caps('5.8.6'), {'os': 'darwin', 'arch': 'arm64'})
    assert 'USB passthrough is only available on qemu' in plan.refusal


def test_usb_compared_in_canonical_form():
    facts = facts_of('5.8.6', usb=['vendor=1d6b,product=0002'])
    assert plan_machine(desired(usb=['vendor=1D6B,product=2']), 'present', facts, caps('5.8.6'), LINUX).actions == []
    cleared = plan_machine(desired(usb=[]), 'present', facts, caps('5.8.6'), LINUX)
    assert cleared.actions[0]['argv'] == ['machine', 'set', '--usb', '', 'rec-a']


def test_shared_disk_guard_before_4_5():
    other = {'name': 'first', 'image_path': '/home/u/.local/share/containers/podman/machine/qemu/disk.qcow2'}
    plan = plan_machine(desired(image='/srv/disk.qcow2.xz'), 'present', None, caps('4.3.1'), LINUX, others=[other])
    assert 'which machine first already uses' in plan.refusal
    fine = plan_machine(desired(image='/srv/disk.qcow2.xz'), 'present', None, caps('4.9.5'), LINUX, others=[other])
    assert fine.refusal is None


@pytest.mark.parametrize('url', [
    'https://example.org/images/disk.qcow2.xz',
    'http://example.org/disk.qcow2?token=abc',
    'HTTPS://example.org/a/b/disk.qcow2.gz#part',
    'https://example.org/d%69sk.qcow2.zst',
])
def test_shared_disk_guard_before_4_5_for_a_url(url):
    # 4.3.1 stores a URL image under the last part of the URL's path (percent-decoded, query ignored), without
    # its compression suffix: the same disk file as another machine made from a URL or file of that name.
    other = {'name': 'first', 'image_path': '/home/u/.local/share/containers/podman/machine/qemu/disk.qcow2'}
    plan = plan_machine(desired(image=url), 'present', None, caps('4.3.1'), LINUX, others=[other])
    assert plan.refusal is not None, url
    assert 'which machine first already uses' in plan.refusal
    assert 'podman_machine_image' in plan.refusal and 'URL' in plan.refusal
    assert plan.actions == []
    fine = plan_machine(desired(image=url), 'present', None, caps('4.9.5'), LINUX, others=[other])
    assert fine.refusal is None


@pytest.mark.parametrize('image', ['/srv/disk.qcow2.xz', 'https://example.org/disk.qcow2.xz'])
def test_shared_disk_guard_when_the_disk_kept_the_compression_suffix(image):
    # 4.3.1 and 4.4 write the decompressed disk under the file's whole name (pkg/machine/pull.go there:
    # LocalUncompressedFile = dataDir/imageName), so a machine made from disk.qcow2.xz has a disk named so.
    other = {'name': 'first', 'image_path': '/home/u/.local/share/containers/podman/machine/qemu/disk.qcow2.xz'}
    plan = plan_machine(desired(image=image), 'present', None, caps('4.3.1'), LINUX, others=[other])
    assert plan.refusal is not None and 'which machine first already uses' in plan.refusal
    plain = plan_machine(desired(image='/srv/disk.qcow2'), 'present', None, caps('4.3.1'), LINUX, others=[other])
    assert plain.refusal is not None and 'which machine first already uses' in plain.refusal


def test_shared_disk_guard_lets_a_url_of_another_name_through():
    other = {'name': 'first', 'image_path': '/home/u/.local/share/containers/podman/machine/qemu/disk.qcow2'}
    for url in ('https://example.org/disk.qcow2/other.qcow2', 'https://example.org/?f=disk.qcow2',
                'https://disk.qcow2/'):
        plan = plan_machine(desired(image=url), 'present', None, caps('4.3.1'), LINUX, others=[other])
        assert plan.refusal is None, url
        assert [a['action'] for a in plan.actions] == ['init']


def test_diff_views(version):
    plan = plan_machine(desired(cpus=3, rootful=True), 'present', facts_of(version), caps(version), LINUX)
    assert plan.before['cpus'] == 2 and plan.after['cpus'] == 3
    assert plan.before['rootful'] is False and plan.after['rootful'] is True
    assert plan.after['state'] == 'stopped'


MAC = {'os': 'darwin', 'arch': 'arm64', 'state_base': '/Users/jane/.local/state/machinist.podman'}


def test_rosetta_goes_to_init_through_a_containers_conf_override():
    plan = plan_machine(desired(provider='applehv', rosetta=False), 'present', None, caps('5.8.6'), MAC)
    assert plan.refusal is None
    init = plan.actions[0]
    path = '/Users/jane/.local/state/machinist.podman/containers-machine-rosetta-false.conf'
    assert init['env'] == {'CONTAINERS_MACHINE_PROVIDER': 'applehv', 'CONTAINERS_CONF_OVERRIDE': path}
    assert init['files'] == {path: '[machine]\nrosetta = false\n'}
    assert '--rosetta' not in ' '.join(init['argv'])


@pytest.mark.parametrize('provider,host,version,message', [
    ('libkrun', MAC, '5.8.6', 'rosetta: only applehv machines on an Apple Silicon Mac'),
    ('applehv', dict(MAC, arch='x86_64'), '5.8.6', 'this machine is provider=applehv on a darwin x86_64 host'),
    ('qemu', LINUX, '5.8.6', 'provider=qemu on a linux x86_64 host'),
    ('applehv', MAC, '5.0.3', 'rosetta needs Podman 5.1 or later'),
])
def test_rosetta_is_refused_where_it_cannot_be(provider, host, version, message):
    plan = plan_machine(desired(provider=provider, rosetta=True), 'present', None, caps(version), host)
    assert message in (plan.refusal or ''), plan.refusal
    assert plan.actions == [] or plan.refusal


def test_rosetta_of_an_existing_machine_is_read_from_inspect():
    facts = facts_of('5.8.6', provider='applehv', rosetta=True)
    same = plan_machine(desired(provider='applehv', rosetta=True), 'present', facts, caps('5.8.6'), MAC)
    assert same.refusal is None and same.actions == []
    other = plan_machine(desired(provider='applehv', rosetta=False), 'present', facts, caps('5.8.6'), MAC)
    assert 'rosetta: only podman machine init sets it' in other.refusal
    redo = plan_machine(desired(provider='applehv', rosetta=False), 'present', facts, caps('5.8.6'), MAC, recreate=True)
    assert [a['action'] for a in redo.actions] == ['rm', 'init']
    assert redo.actions[1]['files']


# Issue 14: more CPUs than the host has is refused before podman is asked, on every version.
@pytest.mark.parametrize('facts_state', [None, 'stopped', 'running'])
def test_more_cpus_than_the_host_has_is_refused_with_the_count(version, facts_state):
    facts = facts_of(version, facts_state) if facts_state else None
    plan = plan_machine(desired(cpus=9, image='/i.qcow2'), 'started', facts, caps(version), dict(LINUX, cpus=8))
    assert plan.refusal == ('cpus=9 is more than the 8 CPUs of the host that runs podman: a machine gets no faster '
                            'with more virtual CPUs than the host has, and Podman 6 refuses it. Give cpus 8 or fewer')
    assert plan.actions == []


def test_as_many_cpus_as_the_host_has_or_an_unknown_count_pass(version):
    assert plan_machine(desired(cpus=8, image='/i.qcow2'), 'present', None, caps(version), dict(LINUX, cpus=8)).refusal is None
    assert plan_machine(desired(cpus=64, image='/i.qcow2'), 'present', None, caps(version), LINUX).refusal is None


def test_a_machine_that_already_has_more_cpus_than_the_host_is_left_be(version):
    facts = facts_of(version, 'stopped', cpus=16)
    plan = plan_machine(desired(cpus=16), 'present', facts, caps(version), dict(LINUX, cpus=8))
    assert plan.refusal is None and plan.actions == []


# Issue 14: default_connection, with --update-connection where podman has it (6.x) and one
# `system connection default` whenever the default is not the machine's.
def conns(*names, default=None):
    return [{'Name': n, 'Default': n == default} for n in names]


@pytest.mark.parametrize('release', ['4.3.1', '5.8.6', '6.1.1'])
def test_a_new_machine_becomes_the_default_connection_when_asked(release):
    plan = plan_machine(desired(default_connection=True, image='/i.qcow2'), 'started', None, caps(release), LINUX,
                        connections=conns('other', 'other-root', default='other'))
    assert actions(plan) == ['init', 'start', 'default_connection']
    assert plan.actions[-1]['argv'] == ['system', 'connection', 'default', 'rec-a']
    flag = '--update-connection=true'
    assert (flag in plan.actions[0]['argv'] and flag in plan.actions[1]['argv']) is release.startswith('6.')
    assert plan.changes['default_connection'] == {'before': 'other', 'after': 'rec-a'}
    assert plan.after['default_connection'] is True


def test_the_rootful_connection_is_the_default_of_a_rootful_machine(version):
    plan = plan_machine(desired(default_connection=True), 'present', facts_of(version, rootful=True), caps(version),
                        LINUX, connections=conns('rec-a', 'rec-a-root', default='rec-a'))
    assert [a['argv'] for a in plan.actions] == [['system', 'connection', 'default', 'rec-a-root']]
    assert plan.before['default_connection'] is False and plan.after['default_connection'] is True


def test_a_machine_that_is_the_default_already_changes_nothing(version):
    plan = plan_machine(desired(default_connection=True), 'started', facts_of(version, 'running'), caps(version), LINUX,
                        connections=conns('rec-a', 'rec-a-root', default='rec-a'))
    assert plan.actions == [] and not plan.changed
    assert plan.before['default_connection'] is True and plan.after['default_connection'] is True


def test_false_tells_podman_6_not_to_and_warns_where_podman_cannot_be_told(version):
    plan = plan_machine(desired(default_connection=False, image='/i.qcow2'), 'started', None, caps(version), LINUX,
                        connections=[])
    assert actions(plan) == ['init', 'start']
    told = all('--update-connection=false' in a['argv'] for a in plan.actions)
    assert told is (not version.startswith(('4.', '5.')))
    assert any('cannot be told not to' in w for w in plan.warnings) is (not told)


def test_false_leaves_an_existing_default_alone(version):
    plan = plan_machine(desired(default_connection=False), 'present', facts_of(version), caps(version), LINUX,
                        connections=conns('rec-a', default='rec-a'))
    assert plan.actions == [] and plan.after['default_connection'] is True


def test_unset_reads_nothing_and_passes_nothing(version):
    plan = plan_machine(desired(image='/i.qcow2'), 'started', None, caps(version), LINUX)
    assert not any(a.startswith('--update-connection') for action in plan.actions for a in action['argv'])
    assert 'default_connection' not in plan.after


# Issue 14: import_native_ca (Podman 6.0 and later), at init and through set, read from the machine's JSON.
def test_import_native_ca_goes_to_init_on_podman_6():
    plan = plan_machine(desired(import_native_ca=True, image='/i.qcow2'), 'present', None, caps('6.1.1'), LINUX)
    assert '--import-native-ca' in plan.actions[0]['argv'] and plan.after['import_native_ca'] is True


@pytest.mark.parametrize('state, expected', [('stopped', ['set']), ('running', ['stop', 'set', 'start'])])
def test_import_native_ca_converges_through_set(state, expected):
    facts = facts_of('6.1.1', state, import_native_ca=False)
    plan = plan_machine(desired(import_native_ca=True), 'present', facts, caps('6.1.1'), LINUX)
    assert actions(plan) == expected
    assert [a['argv'] for a in plan.actions if a['action'] == 'set'] == [
        ['machine', 'set', '--import-native-ca=true', 'rec-a']]
    assert plan.before['import_native_ca'] is False and plan.after['import_native_ca'] is True
    same = plan_machine(desired(import_native_ca=False), 'present', facts, caps('6.1.1'), LINUX)
    assert same.actions == []


@pytest.mark.parametrize('release', ['4.3.1', '5.4.2', '5.8.6'])
@pytest.mark.parametrize('exists', [False, True])
def test_import_native_ca_is_refused_by_name_before_podman_6(release, exists):
    facts = facts_of(release, import_native_ca=False) if exists else None
    plan = plan_machine(desired(import_native_ca=True, image='/i.qcow2'), 'present', facts, caps(release), LINUX)
    assert plan.refusal == ('import_native_ca needs Podman 6.0 or later; this is Podman %s: remove the option or use '
                            'a newer podman' % release)

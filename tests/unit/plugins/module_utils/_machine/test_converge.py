# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The converger against a runner that answers with recorded podman output."""
from __future__ import annotations

import json
import re

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._host.runner import CommandResult, LocalFiles, Runner
from ansible_collections.machinist.podman.plugins.module_utils._host.state import StateStore
from ansible_collections.machinist.podman.plugins.module_utils._machine.client import MachineClient, MachineError
from ansible_collections.machinist.podman.plugins.module_utils._machine.converge import Converger
from ansible_collections.machinist.podman.plugins.module_utils._machine.info import gather
from ansible_collections.machinist.podman.plugins.module_utils._machine.spec import desired_from_params
from ansible_collections.machinist.podman.plugins.plugin_utils._local import run_command
from ansible_collections.machinist.podman.tests.unit.conftest import recorded, set_cpus


class ReplayRunner(Runner):
    """Answers each command with a recorded result, by the first matching argv prefix."""

    def __init__(self, version, answers, config=None):
        Runner.__init__(self, '/usr/bin/podman')
        self.version = version
        self.answers = answers
        self.config = config

    def _execute(self, argv, env, timeout):
        args = argv[1:]
        for prefix, scenario in self.answers:
            if args[:len(prefix)] == prefix:
                if isinstance(scenario, CommandResult):
                    return CommandResult(argv, scenario.rc, scenario.stdout, scenario.stderr, 0, scenario.timed_out)
                r = recorded(self.version, scenario)
                return CommandResult(argv, r['rc'], r['stdout'], r['stderr'], 0)
        raise AssertionError('unexpected podman call %r' % (args,))

    def read_text(self, path):
        return self.config

    # The host and its leases (the locks of the converger), recorded: their exclusion is tested in test_shells.
    leases = None

    def host(self):
        return {'os': 'linux', 'arch': 'x86_64', 'home': '/home/u', 'state_base': '/home/u/.local/state/machinist.podman',
                'config_base': '/home/u/.config'}

    def lease_take(self, path, token, hold):
        self.leases = (self.leases or []) + [path]
        return True

    def lease_drop(self, path, token):
        pass


def client(version, answers, tmp_path, cached=True):
    store = StateStore(base=str(tmp_path))
    if cached:
        store.remember_version('/usr/bin/podman', version)
    runner = ReplayRunner(version, answers, config='{"Rootful": false}')
    return MachineClient(runner, store, {'os': 'linux', 'arch': 'x86_64'}), runner


def inspect_in_turn(runner, version, scenarios):
    """Answer successive `machine inspect` calls with the given recordings, in order."""
    answers = iter(scenarios)
    original = runner._execute

    def execute(argv, env, timeout):
        if argv[1:3] == ['machine', 'inspect']:
            r = recorded(version, next(answers))
            return CommandResult(argv, r['rc'], r['stdout'], r['stderr'], 0)
        return original(argv, env, timeout)
    runner._execute = execute


def test_no_op_is_one_podman_call(version, tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client(version, [(['machine', 'inspect'], 'inspect_stopped')], tmp_path)
    result = Converger(c).converge(desired_from_params({'name': 'rec-a', 'cpus': 2}), 'present')
    assert result['changed'] is False
    assert runner.commands() == [['/usr/bin/podman', 'machine', 'inspect', 'rec-a']]
    assert result['machine']['podman_version'] == version


def test_cold_cache_asks_the_version_once(version, tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client(version, [(['machine', 'inspect'], 'inspect_stopped'), (['--version'], 'version')], tmp_path,
                       cached=False)
    Converger(c).converge(desired_from_params({'name': 'rec-a'}), 'present')
    c2, runner2 = client(version, [(['machine', 'inspect'], 'inspect_stopped')], tmp_path, cached=False)
    Converger(c2).converge(desired_from_params({'name': 'rec-a'}), 'present')
    assert [a[1] for a in runner.commands()] == ['machine', '--version']
    assert len(runner2.commands()) == 1


def test_check_mode_runs_only_reads(version, tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client(version, [(['machine', 'inspect'], 'inspect_stopped')], tmp_path)
    result = Converger(c, check_mode=True).converge(desired_from_params({'name': 'rec-a', 'cpus': 3}), 'started')
    assert result['changed'] is True
    assert [a['action'] for a in result['actions']] == ['set', 'start']
    assert all(cmd[1:3] == ['machine', 'inspect'] for cmd in runner.commands())


def test_change_then_reads_back(version, tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client(version, [(['machine', 'set'], 'set_resources')], tmp_path)
    inspect_in_turn(runner, version, ['inspect_stopped', 'inspect_after_set'])
    runner.config = '{"Rootful": true}'
    cpus = set_cpus(version)
    result = Converger(c).converge(desired_from_params({'name': 'rec-a', 'cpus': cpus, 'memory': 2048, 'disk_size': 6,
                                                       'rootful': True}), 'present')
    assert result['changed']
    assert result['machine']['cpus'] == cpus and result['machine']['rootful'] is True
    assert result['diff']['after']['disk_gib'] == 6


def test_missing_image_is_refused_before_init(version, tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client(version, [(['machine', 'inspect'], 'inspect_missing'), (['machine', 'list'], 'list_empty')],
                       tmp_path)
    conv = Converger(c, path_exists=lambda p, file=False: False)
    with pytest.raises(MachineError, match='image=/nope.qcow2: no such file'):
        conv.converge(desired_from_params({'name': 'rec-c', 'image': '/nope.qcow2'}), 'present')
    assert not any(cmd[2] == 'init' for cmd in runner.commands())


def test_failed_init_removes_the_half_made_machine(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('4.3.1', [(['machine', 'init'], CommandResult([], 125, 'Image resized.\n', 'Error: exit status 1\n', 0)),
                                 (['machine', 'rm'], 'rm')], tmp_path)
    inspect_in_turn(runner, '4.3.1', ['inspect_missing', 'inspect_missing', 'inspect_stopped'])
    with pytest.raises(MachineError) as e:
        Converger(c).converge(desired_from_params({'name': 'rec-a', 'image': 'docker://x/y:1'}), 'present')
    assert 'set timezone (for example UTC)' in e.value.message
    assert 'The half-created machine was removed again' in e.value.message
    assert runner.commands()[-1][1:] == ['machine', 'rm', '-f', 'rec-a']


@pytest.mark.parametrize('stderr,expected', [
    ('Error: unable to start "rec-a": other already starting or running: only one VM can be active at a time',
     'machine other is running, and this provider runs one machine at a time'),
    ('Error: cannot start VM rec-a. VM other is currently running or starting: only one VM can be active at a time',
     re.escape('Stop it first (podman_machine name=other state=stopped)')),
])
def test_another_running_machine_is_named(stderr, expected, tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('5.8.6', [(['machine', 'inspect'], 'inspect_stopped'),
                                 (['machine', 'start'], CommandResult([], 125, '', stderr, 0))], tmp_path)
    with pytest.raises(MachineError, match=expected) as e:
        Converger(c).converge(desired_from_params({'name': 'rec-a'}), 'started')
    assert e.value.extra['blocking_machine'] == 'other'
    assert e.value.extra['changed'] is False and e.value.extra['applied'] == []


def test_a_failure_after_init_reports_the_created_machine(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('4.3.1', [(['machine', 'inspect'], 'inspect_missing'), (['machine', 'init'], 'init'),
                                 (['machine', 'start'], CommandResult([], 125, '', 'Error: cannot start VM rec-a. VM '
                                  'other is currently running or starting: only one VM can be active at a time\n', 0))],
                       tmp_path)
    with pytest.raises(MachineError) as e:
        Converger(c).converge(desired_from_params({'name': 'rec-a', 'image': 'docker://x/y:1'}), 'started')
    assert e.value.extra['changed'] is True
    assert [a['action'] for a in e.value.extra['applied']] == ['init']


def test_already_running_is_success(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('5.8.6', [(['machine', 'inspect'], 'inspect_stopped'),
                                 (['machine', 'start'], CommandResult([], 125, '', 'Error: unable to start "rec-a": '
                                                                      'already running\n', 0))], tmp_path)
    assert Converger(c).converge(desired_from_params({'name': 'rec-a'}), 'started')['changed'] is True


def test_stale_starting_is_stopped_and_started_again(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    starts = iter([CommandResult([], 125, '', 'Error: cannot start VM "rec-a": starting state indicates that a '
                                 'previous start has failed: please stop and restart the VM\n', 0),
                   CommandResult([], 0, 'Machine "rec-a" started successfully\n', '', 0)])
    c, runner = client('4.3.1', [(['machine', 'inspect'], 'inspect_stopped'), (['machine', 'stop'], 'stop_stopped')],
                       tmp_path)
    original = runner._execute

    def execute(argv, env, timeout):
        if argv[1:3] == ['machine', 'start']:
            canned = next(starts)
            return CommandResult(argv, canned.rc, canned.stdout, canned.stderr, 0)
        return original(argv, env, timeout)
    runner._execute = execute
    Converger(c).converge(desired_from_params({'name': 'rec-a'}), 'started')
    assert [cmd[2] for cmd in runner.commands()] == ['inspect', 'start', 'stop', 'start', 'inspect']


def test_start_timeout_points_at_the_console_log(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('5.8.6', [(['machine', 'inspect'], 'inspect_stopped'),
                                 (['machine', 'start'], CommandResult([], -9, '', '', 5, timed_out=True)),
                                 (['machine', 'stop'], 'stop_stopped')], tmp_path)
    with pytest.raises(MachineError, match=r'did not become ready within timeout=5s.*Its console log is '
                                           r'/var/tmp/machinist/run-sid/podman/rec-a.log') as err:
        Converger(c, start_timeout=5).converge(desired_from_params({'name': 'rec-a'}), 'started')
    # podman still marks a killed start as starting, which blocks every next start: its stop clears it.
    assert [cmd[2] for cmd in runner.commands()][:3] == ['inspect', 'start', 'stop']
    assert err.value.extra['stop']['argv'][-2:] == ['stop', 'rec-a']


def test_root_is_refused_with_advice(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('5.8.6', [(['machine', 'inspect'], CommandResult(
        [], 125, '', 'Error: cannot run command "podman machine inspect" as root\n', 0))], tmp_path)
    with pytest.raises(MachineError, match='do not use become'):
        Converger(c).converge(desired_from_params({'name': 'rec-a'}), 'present')


def test_podman_4_machine_under_podman_5(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('5.8.6', [(['machine', 'inspect'], CommandResult(
        [], 125, '[]\n', 'Error: incompatible machine config "/h/.config/containers/podman/machine/qemu/old.json" '
        '(old) for this version of Podman\n', 0))], tmp_path)
    with pytest.raises(MachineError, match='podman machine reset'):
        Converger(c).converge(desired_from_params({'name': 'old'}), 'present')


def test_info_warns_about_podman_4_machines_that_list_skips(tmp_path, monkeypatch):
    # What podman 5.4.2 printed here for a machine made by 4.3.1: exit 0, an empty list, a log line.
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    stderr = ('time="2026-11-23T16:49:01Z" level=error msg="incompatible machine config '
              '\\"/home/u/.config/containers/podman/machine/qemu/old4.json\\" (old4) for this version of Podman"\n')
    c, runner = client('5.4.2', [(['machine', 'list'], CommandResult([], 0, '[]', stderr, 0))], tmp_path)
    machines, warnings = gather(c)
    assert machines == []
    assert warnings == ['machine old4 (/home/u/.config/containers/podman/machine/qemu/old4.json) was created by '
                        'Podman 4 and this podman cannot use it; it is not listed. Remove it with "podman machine '
                        'reset", or delete that file, and create it again']


def test_rm_that_errors_but_removed_the_machine_is_success(tmp_path, monkeypatch):
    # podman 5.4.2, a machine made with --ignition-path (so without connections), seen here:
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('5.4.2', [(['machine', 'rm'], CommandResult(
        [], 125, '', 'Error: failed to remove machines files: unable to find connection named "rec-a"\n', 0))],
        tmp_path)
    inspect_in_turn(runner, '5.4.2', ['inspect_stopped', 'inspect_missing'])
    result = Converger(c).converge(desired_from_params({'name': 'rec-a'}), 'absent')
    assert result['changed'] is True
    assert result['warnings'] == ['podman reported an error while removing machine rec-a, but the machine is gone: '
                                  'failed to remove machines files: unable to find connection named "rec-a"']


def test_a_url_image_whose_disk_name_another_machine_uses_is_refused_on_4_3(tmp_path, monkeypatch):
    """Podman 4.3 names a URL image's disk after the URL's file too: the other machines are read for URLs as well."""
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('4.3.1', [(['machine', 'list'], 'list_two')], tmp_path)
    inspect_in_turn(runner, '4.3.1', ['inspect_missing', 'inspect_two'])
    with pytest.raises(MachineError, match='which machine rec-a already uses'):
        Converger(c).converge(desired_from_params({'name': 'rec-c', 'image': 'https://example.invalid/rec-a.qcow2.xz'}),
                              'present')
    assert not any(cmd[2] == 'init' for cmd in runner.commands())


def running_inspect(version):
    """The recorded inspect of a stopped machine, with its State as podman prints it for a running one."""
    r = recorded(version, 'inspect_stopped')
    entries = json.loads(r['stdout'])
    entries[0]['State'] = 'running'
    return CommandResult([], r['rc'], json.dumps(entries), r['stderr'], 0)


@pytest.mark.parametrize('start_rc, says', [
    (0, 'it was started again'),
    (125, 'starting it again failed too'),
])
def test_a_failed_set_starts_the_machine_it_stopped_again(start_rc, says, tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('5.8.6', [(['machine', 'inspect'], running_inspect('5.8.6')),
                                 (['machine', 'stop'], CommandResult([], 0, '', '', 0)),
                                 (['machine', 'set'], 'set_equal_disk'),
                                 (['machine', 'start'], CommandResult([], start_rc, '', 'Error: boom\n', 0))], tmp_path)
    with pytest.raises(MachineError) as e:
        Converger(c).converge(desired_from_params({'name': 'rec-a', 'cpus': 4}), 'present')
    assert [cmd[2] for cmd in runner.commands()] == ['inspect', 'stop', 'set', 'start']
    assert 'was running before this task stopped it' in e.value.message and says in e.value.message
    assert e.value.extra['restarted'] is (start_rc == 0)


def test_a_failed_set_of_a_machine_meant_to_stop_leaves_it_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('5.8.6', [(['machine', 'inspect'], running_inspect('5.8.6')),
                                 (['machine', 'stop'], CommandResult([], 0, '', '', 0)),
                                 (['machine', 'set'], 'set_equal_disk')], tmp_path)
    with pytest.raises(MachineError):
        Converger(c).converge(desired_from_params({'name': 'rec-a', 'cpus': 4}), 'stopped')
    assert [cmd[2] for cmd in runner.commands()] == ['inspect', 'stop', 'set']


STAND_IN = r'''#!%(python)s
# A podman stand-in for one scenario of podman 4.3.1: inspect answers with the recorded inspect of a
# stopped machine (its ConfigPath pointing at this test's file); start empties the machine file, as a
# podman 4 rewriting it in place does, and hangs until it is killed. With the file empty, inspect and
# stop fail as 4.3.1 does (seen in the booted suite: the stop after a killed start).
import json, os, sys, time
args = sys.argv[1:]
config = %(config)r
if args[:2] in (['machine', 'inspect'], ['machine', 'stop']) and os.path.getsize(config) == 0:
    sys.stdout.write('Migrating machine "rec-a"\n')
    sys.stderr.write('Error: unexpected end of JSON input\n')
    sys.exit(125)
if args[:2] == ['machine', 'inspect']:
    sys.stdout.write(%(inspect)r)
elif args[:2] == ['machine', 'start']:
    open(config, 'w').close()
    time.sleep(60)
elif args[:2] == ['machine', 'stop']:
    pass
else:
    sys.exit('unexpected: %%r' %% args)
'''


def test_a_start_stopped_at_its_time_limit_never_leaves_the_machine_file_empty(tmp_path, monkeypatch):
    import os
    import sys

    from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalRunner
    config = tmp_path / 'rec-a.json'
    original = '{"Name": "rec-a", "Rootful": false}'
    config.write_text(original)
    entries = json.loads(recorded('4.3.1', 'inspect_stopped')['stdout'])
    entries[0]['ConfigPath']['Path'] = str(config)
    podman = tmp_path / 'podman'
    podman.write_text(STAND_IN % {'python': sys.executable, 'inspect': json.dumps(entries), 'config': str(config)})
    os.chmod(str(podman), 0o755)
    store = StateStore(base=str(tmp_path / 'state'))
    store.remember_version(str(podman), '4.3.1')
    runner = LocalRunner(str(podman), run_command)
    client = MachineClient(runner, store, {'os': 'linux', 'arch': 'x86_64'})
    with pytest.raises(MachineError, match='did not become ready within timeout=1s') as e:
        Converger(client, start_timeout=1).converge(desired_from_params({'name': 'rec-a'}), 'started')
    assert config.read_text() == original
    # Mended before the stop that clears podman's starting mark, and before the hint reads the machine.
    assert e.value.extra['stop']['rc'] == 0
    assert 'Podman 4 keeps no console log' in e.value.message
    assert any('the copy taken before the command was put back' in w for w in client.warnings)
    copies = os.listdir(store.machine_file_copies())
    assert len(copies) == 1 and open(os.path.join(store.machine_file_copies(), copies[0])).read() == original


@pytest.mark.parametrize('scenario, doing', [('list_damaged_file', 'list machines'),
                                             ('inspect_damaged_file', 'inspect machine rec-b')])
def test_an_empty_machine_file_is_named_with_the_way_out(scenario, doing, tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('4.3.1', [(['machine', 'list'], scenario), (['machine', 'inspect'], scenario)], tmp_path)
    with pytest.raises(MachineError) as e:
        if scenario.startswith('list'):
            c.list()
        else:
            c.inspect(['rec-b'])
    assert e.value.message.startswith('podman could not %s: one of its machine files' % doing)
    assert 'is empty or damaged' in e.value.message and 'put back its copy' in e.value.message
    assert str(tmp_path / 'machine-files') in e.value.message


def test_a_program_that_prints_no_version_is_a_clean_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('5.8.6', [(['--version'], CommandResult([], 0, 'hello\n', '', 0))], tmp_path, cached=False)
    with pytest.raises(MachineError, match=r"--version printed no version \('hello\\n'\): is it podman\?"):
        c.caps


def test_a_folder_given_as_image_is_refused_before_init(tmp_path, monkeypatch):
    """Podman 4.3.1 takes a folder as --image-path and leaves a 0-byte disk behind."""
    from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalFiles as Files
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('4.3.1', [(['machine', 'inspect'], 'inspect_missing'), (['machine', 'list'], 'list_empty')],
                       tmp_path)
    conv = Converger(c, path_exists=Files().path_exists)
    with pytest.raises(MachineError, match='image=%s is not a regular file' % re.escape(str(tmp_path))):
        conv.converge(desired_from_params({'name': 'rec-c', 'image': str(tmp_path)}), 'present')
    assert not any(cmd[2] == 'init' for cmd in runner.commands())


def test_a_machine_made_by_another_task_meanwhile_is_neither_made_again_nor_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('5.8.6', [], tmp_path)
    inspect_in_turn(runner, '5.8.6', ['inspect_missing', 'inspect_stopped'])
    with pytest.raises(MachineError, match='machine rec-a was created by another task while this one was planning'):
        Converger(c).converge(desired_from_params({'name': 'rec-a', 'image': 'docker://x/y:1'}), 'present')
    assert [cmd[2] for cmd in runner.commands()] == ['inspect', 'inspect']
    assert runner.leases == ['/home/u/.local/state/machinist.podman/locks/machine-rec-a']


@pytest.mark.parametrize('version, locked', [('4.3.1', True), ('5.4.2', False), ('5.8.6', False)])
def test_the_config_lock_is_taken_where_podman_takes_none(version, locked, tmp_path, monkeypatch):
    """Podman 4 rewrites containers.conf unlocked; 5 and later lock podman-connections.json themselves (seen on
    5.4.2: podman-connections.json.lock), so no task waits there for another's image download."""
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client(version, [(['machine', 'set'], 'set_resources')], tmp_path)
    inspect_in_turn(runner, version, ['inspect_stopped', 'inspect_after_set'])
    Converger(c).converge(desired_from_params({'name': 'rec-a', 'cpus': 3}), 'present')
    config = '/home/u/.config/containers/containers.conf.machinist-lock'
    assert runner.leases == ([config] if locked else None)


def test_every_podman_call_of_a_task_has_a_deadline(tmp_path, monkeypatch):
    """init, set, stop and rm had none: a hung podman held the task (and the config lock) for ever."""
    from ansible_collections.machinist.podman.plugins.module_utils._tasks.machine import MACHINE_ARGS, machine_task
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    seen = []
    c, runner = client('5.8.6', [(['machine', 'set'], 'set_resources')], tmp_path)
    inspect_in_turn(runner, '5.8.6', ['inspect_stopped', 'inspect_after_set'])
    original = runner._execute
    runner._execute = lambda argv, env, timeout: seen.append(timeout) or original(argv, env, timeout)
    runner.path_exists = lambda path, file=False: True
    monkeypatch.setattr('ansible_collections.machinist.podman.plugins.module_utils._tasks.machine.client_for',
                        lambda r: c)
    params = dict((k, v.get('default')) for k, v in MACHINE_ARGS.items())
    params.update(name='rec-a', cpus=3, command_timeout=77)
    machine_task(params, runner)
    assert seen == [77, 77, 77]
    params['command_timeout'] = 0
    with pytest.raises(Exception, match='command_timeout must be a positive number of seconds, not 0'):
        machine_task(params, runner)


@pytest.mark.parametrize('kind, says', [('set', 'podman machine set of rec-a did not finish within command_timeout=9s'),
                                        ('init', 'It did not finish within command_timeout=9s')])
def test_a_podman_call_stopped_at_its_deadline_is_named(kind, says, tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    hung = CommandResult([], -9, '', '', 9, timed_out=True)
    c, runner = client('5.8.6', [(['machine', kind], hung), (['machine', 'rm'], 'rm')], tmp_path)
    runner.default_timeout = 9
    if kind == 'set':
        inspect_in_turn(runner, '5.8.6', ['inspect_stopped'])
        desired = {'name': 'rec-a', 'cpus': 3}
    else:
        inspect_in_turn(runner, '5.8.6', ['inspect_missing', 'inspect_missing', 'inspect_missing'])
        desired = {'name': 'rec-a', 'image': 'docker://x/y:1'}
    with pytest.raises(MachineError, match=re.escape(says)):
        Converger(c).converge(desired_from_params(desired), 'present')


CREATING_STAND_IN = r'''#!%(python)s
# A podman stand-in for a creation on podman 4.3.1: inspect answers as the recorded 4.3.1 does for a
# missing machine until init ran, then with the recorded inspect of the new machine, whose Ignition
# file is this test's copy of the one podman 4.3.1 generated.
import os, sys
args = sys.argv[1:]
made = %(made)r
if args[:2] == ['machine', 'inspect']:
    if os.path.exists(made):
        sys.stdout.write(%(inspect)r)
    else:
        sys.stdout.write('[]\n')
        sys.stderr.write('Error: rec-a: VM does not exist\n')
        sys.exit(125)
elif args[:2] == ['machine', 'init']:
    open(made, 'w').close()
elif args[:2] == ['machine', 'list']:
    sys.stdout.write('[]\n')
else:
    sys.exit('unexpected: %%r' %% args)
'''


def test_a_new_machine_gets_a_host_key_placed_through_ignition_and_pinned(tmp_path, monkeypatch):
    import os
    import shutil
    import subprocess
    import sys

    from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalRunner
    from ansible_collections.machinist.podman.plugins.module_utils._host.state import machine_host_names
    from ansible_collections.machinist.podman.tests.unit.conftest import FIXTURES
    from ansible_collections.machinist.podman.tests.unit.plugins.module_utils._ignition.test_config import validate
    monkeypatch.setenv('XDG_STATE_HOME', str(tmp_path / 'state'))
    ign = tmp_path / 'rec-a.ign'
    shutil.copy(os.path.join(FIXTURES, 'podman-4.3.1', 'machine.ign'), str(ign))
    entries = json.loads(recorded('4.3.1', 'inspect_stopped')['stdout'])
    entries[0]['Image']['IgnitionFilePath']['Path'] = str(ign)
    (tmp_path / 'qemu').mkdir()  # podman 4's config folder is named after the provider
    entries[0]['ConfigPath']['Path'] = str(tmp_path / 'qemu' / 'rec-a.json')
    (tmp_path / 'qemu' / 'rec-a.json').write_text('{"Name": "rec-a"}')
    podman = tmp_path / 'podman'
    podman.write_text(CREATING_STAND_IN % {'python': sys.executable, 'inspect': json.dumps(entries),
                                           'made': str(tmp_path / 'made')})
    os.chmod(str(podman), 0o755)
    store = StateStore(base=str(tmp_path / 'state' / 'machinist.podman'))
    store.remember_version(str(podman), '4.3.1')
    runner = LocalRunner(str(podman), run_command)
    client = MachineClient(runner, store, {'os': 'linux', 'arch': 'x86_64'})
    result = Converger(client, pin_host_key=True).converge(
        desired_from_params({'name': 'rec-a', 'image': str(ign)}), 'present')
    assert result['host_key_pinned'] is True
    config = json.loads(ign.read_text())
    placed = dict((f['path'], f) for f in config['storage']['files'])
    assert placed['/etc/ssh/ssh_host_ed25519_key']['mode'] == 0o600
    assert placed['/etc/ssh/ssh_host_ed25519_key']['overwrite'] is True
    assert validate(config) == ''
    # The public key recorded for the machine's port is the half of the private key placed in the guest.
    import base64
    import urllib.parse
    source = placed['/etc/ssh/ssh_host_ed25519_key']['contents']['source']
    private = (base64.b64decode(source.split(',', 1)[1]) if ';base64,' in source
               else urllib.parse.unquote(source.split(',', 1)[1]).encode())
    keyfile = tmp_path / 'placed'
    keyfile.write_bytes(private)
    os.chmod(str(keyfile), 0o600)
    public = subprocess.run(['ssh-keygen', '-y', '-f', str(keyfile)], capture_output=True, text=True,
                            check=True).stdout.split()[:2]
    known = open(store.known_hosts()).read().splitlines()
    port = entries[0]['SSHConfig']['Port']
    assert sorted(known) == sorted('%s %s' % (n, ' '.join(public)) for n in machine_host_names(port))
    assert not os.listdir(str(tmp_path / 'state' / 'machinist.podman' / 'keys'))  # no private key left on the host


def test_podmans_own_refusal_of_more_cpus_than_the_host_has_is_named(tmp_path, monkeypatch):
    """Where the host's count is unknown to the plan, Podman 6's refusal (recorded from 6.1.1) says the same."""
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('6.1.1', [(['machine', 'set'], 'set_too_many_cpus')], tmp_path)
    inspect_in_turn(runner, '6.1.1', ['inspect_stopped'])
    with pytest.raises(MachineError, match=r'^cpus=3 is more than the 2 CPUs of the host that runs podman, which '
                                           r'Podman 6 refuses: give cpus 2 or fewer') as e:
        Converger(c).converge(desired_from_params({'name': 'rec-a', 'cpus': 3}), 'present')
    assert e.value.extra['condition'] == 'too_many_cpus'


@pytest.mark.parametrize('config, changed', [('{"ImportNativeCA": false}', True), ('{"ImportNativeCA": true}', False)])
def test_import_native_ca_is_read_from_the_machines_own_file(config, changed, tmp_path, monkeypatch):
    """Podman 6 keeps it in the machine's JSON (seen on 6.1.1), not in inspect: read only when declared."""
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('6.1.1', [(['machine', 'inspect'], 'inspect_stopped')], tmp_path)
    runner.config = config
    wanted = desired_from_params({'name': 'rec-a', 'import_native_ca': True})
    result = Converger(c, check_mode=True).converge(wanted, 'present')
    assert result['changed'] is changed
    assert result['diff']['before']['import_native_ca'] is (not changed)
    plain = Converger(c, check_mode=True).converge(desired_from_params({'name': 'rec-a'}), 'present')
    assert 'import_native_ca' not in plain['diff']['before']


def listed_with_a_second_provider(version):
    """The recorded list of two machines, the second made to say it is libkrun's (as a Mac's list shows)."""
    entries = json.loads(recorded(version, 'list_two')['stdout'])
    entries[1]['VMType'] = 'libkrun'
    return CommandResult([], 0, json.dumps(entries), '', 0)


@pytest.mark.parametrize('all_providers', [False, True])
def test_podman_6_lists_every_provider_and_info_keeps_what_was_asked(all_providers, tmp_path, monkeypatch):
    """6.x's list shows every provider's machines with or without a flag (--all-providers is gone): no warning,
    and without all_providers only the current provider's machines, as 5.x lists them."""
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('6.1.1', [(['machine', 'list'], listed_with_a_second_provider('6.1.1')),
                                 (['machine', 'inspect'], 'inspect_two')], tmp_path)
    machines, warnings = gather(c, all_providers=all_providers)
    assert warnings == []
    assert [m['name'] for m in machines] == (['rec-a', 'rec-b'] if all_providers else ['rec-a'])
    assert all('--all-providers' not in argv for argv in runner.commands())


def test_all_providers_before_5_3_warns_and_lists_the_current_one(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('4.3.1', [(['machine', 'list'], 'list_two'), (['machine', 'inspect'], 'inspect_two')], tmp_path)
    machines, warnings = gather(c, all_providers=True)
    assert [m['name'] for m in machines] == ['rec-a', 'rec-b']
    assert warnings and warnings[0].startswith('all_providers: list_all_providers needs Podman 5.3')


def machine_files(version):
    """What podman `version` wrote for a machine made with the volume /mnt/share: {suffix: content}."""
    return {k: v['content'] for k, v in recorded(version, 'machine_files_volume')['files'].items()}


def made_by(maker, tmp_path):
    """A client of podman 6.1.1 whose machine rec-a has the JSON 6.1.1 writes for a machine with a volume and the
    Ignition config that podman `maker` wrote when it made it."""
    c, runner = client('6.1.1', [(['machine', 'inspect'], 'inspect_stopped'), (['machine', 'rm'], 'rm'),
                                 (['machine', 'init'], 'init')], tmp_path)
    files = {'json': machine_files('6.1.1')['json'], 'ign': machine_files(maker)['ign']}
    runner.read_text = lambda path: files[path.rsplit('.', 1)[1]]
    return c


def test_volumes_a_podman_5_machine_loses_under_podman_6_are_named(tmp_path, monkeypatch):
    """Podman 6 mounts a qemu machine's volumes only through units in its Ignition config, which 5.x did not write
    (recorded from 5.8.6 and 6.1.1): the machine keeps its Mounts and gets none. Said, with the way out."""
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    result = Converger(made_by('5.8.6', tmp_path), check_mode=True).converge(
        desired_from_params({'name': 'rec-a'}), 'present')
    assert result['changed'] is False
    assert len(result['warnings']) == 1
    assert re.match(r"machine rec-a was made by Podman 5 or older: Podman 6\.1\.1 mounts a qemu machine's volumes "
                    r"with systemd units .* /mnt/share is not mounted in it\. To get them back, declare the volumes "
                    r"and set recreate: true", result['warnings'][0])
    again = Converger(made_by('6.1.1', tmp_path / 'b'), check_mode=True).converge(
        desired_from_params({'name': 'rec-a'}), 'present')
    assert again['warnings'] == []


def test_declared_volumes_a_podman_5_machine_lost_are_refused_or_recreated(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    wanted = desired_from_params({'name': 'rec-a', 'volumes': ['/srv/share:/mnt/share']})
    with pytest.raises(MachineError, match=r'^volumes: machine rec-a was made by Podman 5 or older: .* /mnt/share is '
                                           r'not mounted in it; set recreate: true to remove and re-create'):
        Converger(made_by('5.8.6', tmp_path), check_mode=True).converge(wanted, 'present')
    result = Converger(made_by('5.8.6', tmp_path / 'b'), check_mode=True).converge(wanted, 'present', recreate=True)
    assert [a['action'] for a in result['actions']] == ['rm', 'init']
    # Under 5.x the same files mean nothing: 5.x mounts over SSH at every start.
    c, runner = client('5.8.6', [(['machine', 'inspect'], 'inspect_stopped')], tmp_path / 'c')
    runner.read_text = lambda path: machine_files('5.8.6')[path.rsplit('.', 1)[1]]
    assert Converger(c, check_mode=True).converge(desired_from_params({'name': 'rec-a'}), 'present')['warnings'] == []


def test_the_machines_own_json_is_read_once_per_run(tmp_path, monkeypatch):
    """import_native_ca and the volumes 6.x leaves unmounted both come from the machine's JSON: one read of it."""
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c = made_by('6.1.1', tmp_path)
    files, reads = c.runner.read_text, []
    c.runner.read_text = lambda path: reads.append(path.rsplit('.', 1)[1]) or files(path)
    result = Converger(c, check_mode=True).converge(
        desired_from_params({'name': 'rec-a', 'import_native_ca': False}), 'present')
    assert result['changed'] is False and result['warnings'] == []
    assert sorted(reads) == ['ign', 'json']


def test_info_names_the_volumes_a_podman_5_machine_lost(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c = made_by('5.8.6', tmp_path)
    c.runner.answers.append((['machine', 'list'], 'list_two'))
    machines, warnings = gather(c, patterns=['rec-a'])
    assert [m['name'] for m in machines] == ['rec-a']
    assert 'volumes_unmounted' not in machines[0]
    assert len(warnings) == 1 and '/mnt/share is not mounted in it. To get them back, remove it' in warnings[0]


def test_a_podman_6_start_of_a_machine_without_connection_says_how_to_add_it(tmp_path, monkeypatch):
    """init adds no connection for a machine made with ignition_path, and 6.x's start fails without one (recorded
    from 6.1.1; 5.x starts it): named, with the command that adds it."""
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('6.1.1', [(['machine', 'inspect'], 'inspect_stopped'),
                                 (['machine', 'start'], 'start_no_connection')], tmp_path)
    with pytest.raises(MachineError, match=r'^cannot start machine rec-a: Podman 6\.1\.1 starts a machine through its '
                                           r'system connection rec-i, and there is none: .* ignition_path\. Add it, '
                                           r'then start again: podman system connection add rec-i --identity '
                                           r'\S+/machine ssh://core@127\.0\.0\.1:\d+/run/user/UID/podman/podman\.sock') as e:
        Converger(c).converge(desired_from_params({'name': 'rec-a'}), 'started')
    assert e.value.extra['condition'] == 'no_connection'

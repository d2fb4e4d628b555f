# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The machine task on a Windows target: the PowerShell scripts the controller sends, read back.

The transport stands where the connection would be. It reads each script with ps_reader (the
program and arguments Start-Process gets, the environment it sets) and answers with what podman
5.8.6 printed for that command (recorded on Linux: Windows' podman prints the same JSON fields;
paths differ). So the test shows the exact podman.exe commands a play against a Windows host
issues, and that the planner's Windows rules (Hyper-V needs an elevated session, WSL cannot change
CPUs) hold on this path.
"""
from __future__ import annotations

import re

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import failure
from ansible_collections.machinist.podman.plugins.module_utils._tasks.machine import MACHINE_ARGS, info_task, machine_task
from ansible_collections.machinist.podman.plugins.module_utils._tasks.module import TASK_ERRORS
from ansible_collections.machinist.podman.plugins.plugin_utils import _shells as shells
from ansible_collections.machinist.podman.plugins.plugin_utils._remote_runner import RemoteRunner
from ansible_collections.machinist.podman.tests.unit.conftest import recorded
from ansible_collections.machinist.podman.tests.unit.ps_reader import ps_unquote, start_process_argv

VERSION = '5.8.6'
HOME = "C:\\Users\\Jane O'Brien"


class WindowsTarget:
    """Answers the scripts of _shells.PowerShell the way the target would."""

    def __init__(self, answers, admin=True, files=()):
        self.answers = answers  # [(args prefix, scenario or callable)], first match wins
        self.admin = admin
        self.files = set(files)
        self.scripts = []
        self.runs = []  # (argv, env) of every podman.exe start
        self.written = {}
        self.leases = []

    def __call__(self, script):
        self.scripts.append(script)
        if 'WindowsPrincipal' in script:
            return 0, '@@machinist os=windows arch=AMD64 admin=%d home=%s\r\n' % (self.admin, shells.b64(HOME)), ''
        if 'Start-Process' in script:
            return 0, self._run(script), ''
        if "Join-Path" in script and 'owner' in script:  # a lease: taken at once, as by a target nobody else uses
            where = re.search(r"New-Item -ItemType Directory -Path ('(?:[^']|'')*')$|Remove-Item -LiteralPath "
                              r"('(?:[^']|'')*') -Recurse", script, re.M)
            self.leases.append(ps_unquote(where.group(1) or where.group(2)))
            return 0, ('@@machinist got=1\r\n' if 'New-Item -ItemType Directory -Path' in script
                       else '@@machinist dropped=1\r\n'), ''
        literal = re.search(r"-LiteralPath ('(?:[^']|'')*')", script)
        path = ps_unquote(literal.group(1)) if literal else None
        if 'Move-Item' in script:
            dest = ps_unquote(re.search(r"-Destination ('(?:[^']|'')*')", script).group(1))
            self.written[dest] = shells.unb64(re.search(r"FromBase64String\('([^']*)'\)", script).group(1))
            return 0, '@@machinist written=1\r\n', ''
        if 'exists=' in script:
            return 0, '@@machinist exists=%d file=%d\r\n' % (int(path in self.files), int(path in self.files)), ''
        if '-PathType Leaf' in script:
            if path in self.written:
                return 0, '@@machinist found=1 data=%s\r\n' % shells.b64(self.written[path]), ''
            return 0, '@@machinist found=0\r\n', ''
        if 'Remove-Item' in script:
            return 0, '@@machinist removed=1\r\n', ''
        raise AssertionError('unexpected script:\n' + script)

    def _run(self, script):
        argv = start_process_argv(script)
        env = dict((m.group(1), ps_unquote(m.group(2)))
                   for m in re.finditer(r"^\$env:(\w+) = ('(?:[^']|'')*')$", script, re.M))
        self.runs.append((argv, env))
        for prefix, scenario in self.answers:
            if argv[1:1 + len(prefix)] == prefix:
                r = scenario() if callable(scenario) else recorded(VERSION, scenario)
                return '@@machinist rc=%d timed_out=0 out=%s err=%s\r\n' % (
                    r['rc'], shells.b64(r['stdout']), shells.b64(r['stderr']))
        raise AssertionError('unexpected podman.exe call %r' % (argv,))


def in_turn(*scenarios):
    it = iter(scenarios)
    return lambda: recorded(VERSION, next(it))


def params(**kw):
    p = dict((k, v.get('default')) for k, v in MACHINE_ARGS.items())
    p.update(kw)
    return p


def run(target, task=machine_task, check_mode=False, **kw):
    runner = RemoteRunner('podman.exe', shells.PowerShell(), target)
    try:
        return task(params(**kw) if task is machine_task else kw, runner, check_mode=check_mode)
    except TASK_ERRORS as e:
        return failure(e, runner.commands())


def test_create_on_hyperv_sends_what_an_operator_would_type():
    target = WindowsTarget([
        (['--version'], 'version'),
        (['machine', 'inspect'], in_turn('inspect_missing', 'inspect_missing', 'inspect_stopped')),
        (['machine', 'init'], 'init'),
    ], admin=True, files={HOME + '\\images\\machine.vhdx'})
    result = run(target, name='rec-a', provider='hyperv', cpus=2, memory='1024', disk_size='5',
                 image=HOME + '\\images\\machine.vhdx', volumes=[HOME + '\\src:/mnt/src'])
    assert not result.get('failed'), result
    # The creation held the machine's name on the target (taken, then dropped); podman 5 needs no config lock.
    assert target.leases == [HOME + '\\.local\\state\\machinist.podman\\locks\\machine-rec-a'] * 2
    assert result['changed']
    init = [(argv, env) for argv, env in target.runs if argv[1:3] == ['machine', 'init']]
    assert len(init) == 1
    argv, env = init[0]
    assert argv[0] == 'podman.exe'
    assert env['CONTAINERS_MACHINE_PROVIDER'] == 'hyperv'
    assert env['LC_ALL'] == 'C'
    # Each value arrives whole: the apostrophe and the spaces of the home folder included.
    assert argv[argv.index('--image') + 1] == HOME + '\\images\\machine.vhdx'
    assert argv[argv.index('--volume') + 1] == HOME + '\\src:/mnt/src'
    assert argv[-1] == 'rec-a'
    assert ['--cpus', '2'] == argv[argv.index('--cpus'):argv.index('--cpus') + 2]
    # The command line PowerShell hands over is the one a careful operator types.
    script = [s for s in target.scripts if 'machine init' in s][0]
    assert ("-ArgumentList 'machine init" in script
            and '--image \"C:\\Users\\Jane O\'\'Brien\\images\\machine.vhdx\"' in script), script
    # The state store lives in the target's profile.
    assert any(p.startswith(HOME + '\\.local\\state\\machinist.podman\\machines\\') for p in target.written)


def test_hyperv_without_elevation_is_refused_before_podman_changes_anything():
    target = WindowsTarget([
        (['--version'], 'version'),
        (['machine', 'inspect'], 'inspect_missing'),
    ], admin=False)
    result = run(target, name='rec-a', provider='hyperv', cpus=2)
    assert result['failed']
    assert 'provider=hyperv: init machine rec-a needs an elevated session' in result['msg']
    assert 'or use provider=wsl' in result['msg']
    assert [argv[1:3] for argv, env in target.runs if argv[1:2] == ['machine']] == [['machine', 'inspect']]


def test_wsl_cannot_change_cpus_and_says_so():
    stopped = recorded(VERSION, 'inspect_stopped')
    wsl = dict(stopped, stdout=stopped['stdout'].replace('/qemu"', '/wsl"'))
    target = WindowsTarget([
        (['--version'], 'version'),
        (['machine', 'inspect'], lambda: wsl),
    ], admin=False)
    result = run(target, name='rec-a', cpus=4)
    assert result['failed']
    assert 'cpus: wsl machines cannot change it after creation' in result['msg']
    assert not [argv for argv, env in target.runs if argv[1:3] == ['machine', 'set']]


def test_missing_podman_exe_names_the_fix():
    def not_found():
        return {'rc': 127, 'stdout': '', 'stderr': 'This command cannot be run due to the error: The system cannot '
                                                   'find the file specified.'}
    target = WindowsTarget([([], not_found)])
    result = run(target, name='rec-a')
    assert result['failed']
    assert result['msg'].startswith('executable=podman.exe: no such program')


def test_info_over_powershell():
    target = WindowsTarget([
        (['--version'], 'version'),
        (['machine', 'list'], 'list_two'),
        (['machine', 'inspect'], 'inspect_two'),
    ])
    result = run(target, task=info_task, name=None, provider=None, all_providers=False, command_timeout=300)
    assert [m['name'] for m in result['machines']] == ['rec-a', 'rec-b']
    assert [argv[1:3] for argv, env in target.runs] == [['--version'], ['machine', 'list'], ['machine', 'inspect']]


class FetchingTarget(WindowsTarget):
    """Also answers the image operations: curl.exe, digests, moves; remembers what came on stdin."""

    def __init__(self, sha, size):
        WindowsTarget.__init__(self, [])
        self.sha, self.size = sha, size
        self.stdin = []
        self.moved = []

    def __call__(self, script, stdin=None):
        if stdin is not None:
            self.stdin.append(stdin)
        if 'Get-FileHash' in script:
            self.scripts.append(script)
            if not self.runs:  # nothing downloaded yet
                return 0, '@@machinist sha256= size=\r\n', ''
            return 0, '@@machinist sha256=%s size=%d\r\n' % (self.sha, self.size), ''
        if 'Move-Item -LiteralPath' in script and '$tmp' not in script:
            self.scripts.append(script)
            self.moved.append(re.findall(r"'((?:[^']|'')*)'", script))
            return 0, '@@machinist moved=1\r\n', ''
        if 'ReadToEnd()' in script:
            self.scripts.append(script)
            return 0, '@@machinist written=1\r\n', ''
        if 'New-Item -ItemType Directory' in script and 'Move-Item' not in script:
            self.scripts.append(script)
            return 0, '@@machinist made=1\r\n', ''
        return WindowsTarget.__call__(self, script)

    def _run(self, script):
        argv = start_process_argv(script)
        self.runs.append((argv, {}))
        return '@@machinist rc=0 timed_out=0 out= err=\r\n'


def test_image_fetch_on_windows_downloads_there_and_keeps_the_token_off_every_script():
    from ansible_collections.machinist.podman.plugins.module_utils._image import sources
    from ansible_collections.machinist.podman.plugins.plugin_utils._target_image import ensure_on_target
    sha = 'ab' * 32
    art = sources.Artifact('podman-machine.x86_64.hyperv.vhdx', 'zst', url='https://quay.io/v2/podman/machine-os/blobs/x',
                           sha256=sha, release='5.8', source='oci docker://quay.io/podman/machine-os:5.8')

    art.registry = sources.Registry('quay.io')
    art.registry._auth = 'Bearer s3cr3t-t0ken'  # as a token exchange on the controller leaves it
    target = FetchingTarget(sha, 1234)
    runner = RemoteRunner('', shells.PowerShell(), target)
    cache = HOME + '\\.cache\\machinist.podman\\images'
    out = ensure_on_target(runner, cache, art, 'record', False)
    assert out['changed'] and out['path'] == cache + '\\%s-podman-machine.x86_64.hyperv.vhdx.zst' % art.key()
    curl = [argv for argv, env in target.runs if argv[0] == 'curl.exe']
    assert len(curl) == 1
    argv = curl[0]
    assert argv[argv.index('-o') + 1] == cache + '\\.partial\\%s.download' % art.key()
    assert argv[argv.index('-H') + 1] == '@' + cache + '\\.partial\\%s.headers' % art.key()
    assert argv[-1] == art.url
    # The token travels on stdin only: no script, no command line holds it.
    assert target.stdin == ['Authorization: Bearer s3cr3t-t0ken\n']
    assert not [s for s in target.scripts if 's3cr3t' in s]
    assert not [a for a in runner.commands() if 's3cr3t' in ' '.join(a)]
    record = target.written[out['path'] + '.json']
    assert '"sha256": "%s"' % sha in record and '"compressed": true' in record


def test_through_ansibles_powershell_shell_plugin():
    """The controller's transport, with Ansible's own PowerShell shell plugin doing the encoding: what
    reaches the target decodes to the scripts above, unchanged by the encoder's line stripping."""
    import base64

    from ansible.plugins.loader import shell_loader

    from ansible_collections.machinist.podman.plugins.plugin_utils import _controller_side as controller

    target = WindowsTarget([
        (['--version'], 'version'),
        (['machine', 'inspect'], in_turn('inspect_missing', 'inspect_missing', 'inspect_stopped')),
        (['machine', 'init'], 'init'),
    ], admin=False, files={HOME + '\\m.vhdx'})
    sent = []

    class Connection:
        _shell = shell_loader.get('powershell')

    class Action:
        _connection = Connection()

        def _compute_environment_string(self, raw_environment_out=None):
            return ''  # a task without an environment

        def _low_level_execute_command(self, cmd, sudoable=True, in_data=None):
            sent.append(cmd)
            assert sudoable is False
            encoded = cmd.split('-EncodedCommand ', 1)[1].split()[0]
            rc, out, err = target(base64.b64decode(encoded).decode('utf-16-le'))
            return {'rc': rc, 'stdout': out, 'stderr': err}

    assert controller.shell_family(Action._connection) == 'powershell'
    runner = controller.remote_runner(Action(), 'podman')
    result = machine_task(params(name='rec-a', provider='wsl', image=HOME + '\\m.vhdx'), runner)
    assert result['changed']
    assert all(c.split()[0].lower().startswith('powershell') for c in sent)
    init = [argv for argv, env in target.runs if argv[1:3] == ['machine', 'init']][0]
    assert init[0] == 'podman.exe' and init[init.index('--image') + 1] == HOME + '\\m.vhdx'

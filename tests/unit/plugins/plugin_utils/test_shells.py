# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The target shells of the controller-side path.

PowerShell cannot run here, so its quoting is checked with the readers of ps_reader.py, written
from the documented rules. The POSIX shell runs for real: a RemoteRunner over `sh -c`, as the
action plugin's local or SSH connection does.
"""
from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalRunner
from ansible_collections.machinist.podman.plugins.plugin_utils import _shells as S
from ansible_collections.machinist.podman.plugins.plugin_utils._local import run_command
from ansible_collections.machinist.podman.plugins.plugin_utils._remote_runner import RemoteRunner
from ansible_collections.machinist.podman.tests.unit.ps_reader import HARD, PS_QUOTES, ps_unquote, start_process_argv, windows_argv


@pytest.mark.parametrize('value', HARD + list(PS_QUOTES))
def test_powershell_literal_reads_back(value):
    literal = S.ps_quote(value)
    assert ps_unquote(literal) == value
    # Nothing in it is expanded: no double quotes around it, so $ and backticks are plain text.
    assert literal[0] == "'" and literal[-1] == "'"


def test_line_breaks_go_in_as_base64():
    value = 'first\nsecond\r\nthird\u2028'
    expr = S.ps_string(value)
    assert '\n' not in expr and '\r' not in expr and '\u2028' not in expr
    encoded = re.search(r"FromBase64String\('([A-Za-z0-9+/=]+)'\)", expr).group(1)
    assert S.unb64(encoded) == value


@pytest.mark.parametrize('value', HARD)
def test_windows_argument_reads_back(value):
    assert windows_argv(S.win_arg(value)) == [value]


def test_windows_command_line_keeps_every_argument():
    assert windows_argv(S.win_command_line(HARD)) == HARD


def test_simple_arguments_stay_as_an_operator_types_them():
    assert S.win_command_line(['machine', 'init', '--cpus', '4', 'dev']) == 'machine init --cpus 4 dev'
    assert S.win_arg('C:\\Users\\Jane Doe\\x.ign') == '"C:\\Users\\Jane Doe\\x.ign"'
    assert S.win_arg('C:\\dir with space\\') == '"C:\\dir with space\\\\"'


def test_powershell_run_script_is_what_a_careful_operator_writes():
    argv = ['C:\\Program Files\\RedHat\\Podman\\podman.exe', 'machine', 'init', '--volume',
            'C:\\Users\\Jane O\'Brien:/mnt/jane', '--cpus', '4', 'dev $1']
    script = S.PowerShell().run(argv, {'CONTAINERS_MACHINE_PROVIDER': 'hyperv', 'LC_ALL': 'C'}, 600)
    assert start_process_argv(script) == argv
    lines = script.splitlines()
    assert lines[0] == "$ErrorActionPreference = 'Stop'"
    assert "$env:CONTAINERS_MACHINE_PROVIDER = 'hyperv'" in lines
    assert "$env:LC_ALL = 'C'" in lines
    assert any(line.startswith('$p = Start-Process -FilePath \'C:\\Program Files\\RedHat\\Podman\\podman.exe\' '
                               '-ArgumentList \'machine init --volume "C:\\Users\\Jane O\'\'Brien:/mnt/jane" --cpus 4 '
                               '"dev $1"\' -NoNewWindow -PassThru') for line in lines), script
    # Bounded: 600 s, then the whole process tree goes.
    assert any('WaitForExit(600000)' in line and '& cmd.exe /c "taskkill /T /F /PID $($p.Id) >nul 2>&1"' in line
               for line in lines)
    # Output through files, and one ASCII answer line.
    assert '-RedirectStandardOutput $o -RedirectStandardError $e' in script
    assert lines[-1].startswith("Write-Output ('@@machinist rc={0} timed_out={1} out={2} err={3}'")
    # Ansible's encoder strips every line: nothing may depend on leading or trailing blanks.
    assert all(line == line.strip() for line in lines)


def test_powershell_env_names_are_checked():
    with pytest.raises(S.ShellError):
        S.PowerShell().run(['podman.exe'], {'X; Remove-Item C:\\': '1'}, None)


def test_powershell_file_scripts_quote_their_paths():
    path = "C:\\Users\\Jane O'Brien\\.local\\state\\machinist.podman\\versions.json"
    write = S.PowerShell().write(path, '{"a": "ü"}')
    assert "Move-Item -LiteralPath $tmp -Destination %s -Force" % S.ps_quote(path) in write
    assert "New-Item -ItemType Directory -Force -Path 'C:\\Users\\Jane O''Brien\\.local\\state\\machinist.podman'" in write
    assert S.b64('{"a": "ü"}') in write
    assert "Test-Path -LiteralPath %s -PathType Leaf" % S.ps_quote(path) in S.PowerShell().read(path)


@pytest.mark.parametrize('path,expanded', [
    ('~\\m.ign', 'C:\\Users\\Jane Doe\\m.ign'),
    ('~/m.ign', 'C:\\Users\\Jane Doe\\m.ign'),
    ('%USERPROFILE%\\a\\b.ign', 'C:\\Users\\Jane Doe\\a\\b.ign'),
    ('%userprofile%/a/b.ign', 'C:\\Users\\Jane Doe\\a\\b.ign'),
    ('$env:USERPROFILE\\x', 'C:\\Users\\Jane Doe\\x'),
    ('~', 'C:\\Users\\Jane Doe'),
    ('D:\\images\\m.ign', 'D:\\images\\m.ign'),
    ('~other\\x', '~other\\x'),
])
def test_windows_home_expansion(path, expanded):
    assert S.expand_windows_path(path, 'C:\\Users\\Jane Doe') == expanded


def test_windows_host_answer():
    fields = S.parse_answer('noise\r\n@@machinist os=windows arch=ARM64 admin=0 home=%s program=%s config=%s cpus=12\r\n'
                            % (S.b64('C:\\Users\\Jäne'), S.b64('C:\\Program Files\\podman.exe:1024:42:0'),
                               S.b64('D:\\Roaming')))
    host = S.host_facts(S.PowerShell(), fields)
    assert host == {'os': 'windows', 'arch': 'arm64', 'admin': False, 'home': 'C:\\Users\\Jäne',
                    'state_base': 'C:\\Users\\Jäne\\.local\\state\\machinist.podman',
                    'cache_base': 'C:\\Users\\Jäne\\.cache\\machinist.podman',
                    'config_base': 'D:\\Roaming',
                    'program_identity': 'C:\\Program Files\\podman.exe:1024:42:0', 'cpus': 12}
    # An older answer, or a count that is no count, leaves the CPUs unknown (and unchecked).
    assert S.host_facts(S.PowerShell(), dict(fields, cpus='0'))['cpus'] is None
    assert S.host_facts(S.PowerShell(), {k: v for k, v in fields.items() if k != 'cpus'})['cpus'] is None


def test_no_answer_is_none():
    assert S.parse_answer('#< CLIXML\r\n<Objs/>') is None


# -- POSIX sh, for real -----------------------------------------------------------------------

def sh_transport(script):
    p = subprocess.run(['/bin/sh', '-c', script], capture_output=True, text=True, check=False)
    return p.returncode, p.stdout, p.stderr


def test_posix_runner_passes_arguments_and_environment_exactly():
    runner = RemoteRunner('/bin/sh', S.PosixShell(), sh_transport)
    res = runner.run(['-c', 'printf "%s|" "$@"; printf "%s" "$X" >&2; exit 3', 'sh'] + HARD[:12],
                     env={'X': 'a \'b\' $c `d` ü'})
    assert res.rc == 3 and not res.timed_out
    assert res.stdout == '|'.join(HARD[:12]) + '|'
    assert res.stderr == 'a \'b\' $c `d` ü'
    assert runner.commands()[0][0] == '/bin/sh'


def test_posix_runner_bounds_the_time_and_kills_the_group():
    runner = RemoteRunner('/bin/sh', S.PosixShell(), sh_transport)
    start = time.time()
    res = runner.run(['-c', 'sleep 60 & sleep 60; echo never'], timeout=1)
    assert res.timed_out and not res.ok
    assert time.time() - start < 20
    assert 'never' not in res.stdout


def test_posix_runner_missing_program():
    res = RemoteRunner('/nonexistent/podman', S.PosixShell(), sh_transport).run(['--version'])
    assert res.rc == 127


def test_posix_files_round_trip(tmp_path):
    runner = RemoteRunner('/bin/sh', S.PosixShell(), sh_transport)
    path = os.path.join(str(tmp_path), 'dir with \'quote\' $x', 'state ü.json')
    assert runner.read_text(path) is None
    assert not runner.path_exists(path)
    assert runner.write_text(path, '{"k": "välue"}\n')
    assert runner.read_text(path) == '{"k": "välue"}\n'
    assert runner.path_exists(path)
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o600)
    runner.remove(path)
    assert not os.path.exists(path)


def test_posix_host_probe():
    runner = RemoteRunner('sh', S.PosixShell(), sh_transport)
    host = runner.host()
    real = os.path.realpath(subprocess.run(['sh', '-c', 'command -v sh'], capture_output=True, text=True,
                                           check=True).stdout.strip())
    st = os.stat(real)
    assert host['program_identity'] == '%s:%d:%d:%d' % (real, st.st_size, int(st.st_mtime), st.st_ino)
    assert runner.file_identity('sh') == host['program_identity']
    assert runner.file_identity('/etc/passwd') is None
    assert RemoteRunner('no-such-program', S.PosixShell(), sh_transport).host()['program_identity'] is None
    assert host['os'] == os.uname().sysname.lower()
    assert host['arch'] == os.uname().machine
    assert host['home'] == os.path.expanduser('~')
    assert host['state_base'].endswith('/machinist.podman')
    assert host['cpus'] == os.cpu_count() == LocalRunner('sh', run_command).host()['cpus'] > 0


def test_no_answer_is_a_clear_failure():
    res = RemoteRunner('podman', S.PosixShell(), lambda script: (255, '', 'ssh: connect refused')).run(['--version'])
    assert res.rc == 255 and 'ssh: connect refused' in res.stderr


def lease_holders():
    """A local runner and a runner through a real sh on this host: the two paths' leases, on one folder."""
    from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalRunner
    return [LocalRunner('/bin/true', run_command), RemoteRunner('/bin/true', S.PosixShell(), sh_transport)]


@pytest.mark.parametrize('first, second', [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_a_lease_excludes_across_both_paths(first, second, tmp_path):
    """Podman 4 rewrites containers.conf unlocked: init, rm and set run under this user's lease, which the
    module path and the controller-side path take the same way (a folder made with mkdir)."""
    from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LockTimeout
    a, b = lease_holders()[first], lease_holders()[second]
    path = str(tmp_path / 'config' / 'containers' / 'containers.conf.machinist-lock')
    with a.lease(path, 5):
        assert os.path.isdir(path)
        with pytest.raises(LockTimeout, match='containers.conf.machinist-lock: held by another run for over 1 s'):
            with b.lease(path, 1):
                pass
        assert os.path.isdir(path)  # the waiter left the holder's lease alone
    assert not os.path.exists(path)  # released when the block ends
    with b.lease(path, 1):
        pass


@pytest.mark.parametrize('which', [0, 1])
def test_a_lease_whose_holder_died_is_broken_once_its_time_ran_out(which, tmp_path):
    runner = lease_holders()[which]
    path = str(tmp_path / 'lease')
    os.makedirs(path)
    with open(os.path.join(path, 'owner'), 'w') as f:
        f.write('deadbeef %d\n' % (time.time() - 5))  # a holder whose hold ended 5 s ago
    start = time.time()
    with runner.lease(path, 10):
        with open(os.path.join(path, 'owner')) as f:
            assert f.read().split()[0] != 'deadbeef'
    assert time.time() - start < 5


@pytest.mark.parametrize('which', [0, 1])
def test_a_lease_still_held_is_not_broken(which, tmp_path):
    from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LockTimeout
    runner = lease_holders()[which]
    path = str(tmp_path / 'lease')
    os.makedirs(path)
    with open(os.path.join(path, 'owner'), 'w') as f:
        f.write('alive %d\n' % (time.time() + 600))
    with pytest.raises(LockTimeout):
        with runner.lease(path, 1):
            pass
    assert open(os.path.join(path, 'owner')).read().startswith('alive ')


def test_the_config_lock_lies_beside_the_config_it_protects(tmp_path, monkeypatch):
    from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalRunner
    monkeypatch.setenv('XDG_CONFIG_HOME', str(tmp_path / 'cfg'))
    with LocalRunner('/bin/true', run_command).config_lock():
        assert os.path.isdir(str(tmp_path / 'cfg' / 'containers' / 'containers.conf.machinist-lock'))

    def transport(script):
        return sh_transport('XDG_CONFIG_HOME=%s; export XDG_CONFIG_HOME; %s' % (tmp_path / 'r', script))
    remote = RemoteRunner('/bin/true', S.PosixShell(), transport)
    with remote.config_lock():
        assert os.path.isdir(str(tmp_path / 'r' / 'containers' / 'containers.conf.machinist-lock'))


def test_powershell_lease_scripts_quote_their_paths():
    path = "C:\\Users\\Jane O'Brien\\.local\\state\\machinist.podman\\locks\\machine-a"
    take = S.PowerShell().lease_take(path, 'tok', 60)
    assert 'New-Item -ItemType Directory -Path %s' % S.ps_quote(path) in take
    assert "'tok'" in take and '+ 60' in take
    assert 'Remove-Item -LiteralPath %s -Recurse -Force' % S.ps_quote(path) in S.PowerShell().lease_drop(path, 'tok')


def test_posix_file_operations_take_paths_that_look_like_options(tmp_path, monkeypatch):
    """A relative path such as -rf or --help is a path to rm, mv, mkdir and mktemp, never an option."""
    monkeypatch.chdir(str(tmp_path))
    runner = RemoteRunner('/bin/sh', S.PosixShell(), sh_transport)
    (tmp_path / '-victim').write_text('x')
    runner.remove('-victim')
    assert not (tmp_path / '-victim').exists()
    (tmp_path / '-src').write_text('moved')
    assert runner.ask('move', '-src', '-dst') == {'moved': '1'}
    assert (tmp_path / '-dst').read_text() == 'moved'
    assert runner.ask('mkdir', '-m777') == {'made': '1'}
    assert (tmp_path / '-m777').is_dir()
    assert runner.write_text('-w/--help', 'text')
    assert (tmp_path / '-w' / '--help').read_text() == 'text'
    assert runner.ask('stdin_to_file', '-s/-f') is not None
    assert (tmp_path / '-s').is_dir()


def test_posix_exists_tells_a_file_from_a_folder(tmp_path):
    runner = RemoteRunner('/bin/sh', S.PosixShell(), sh_transport)
    (tmp_path / 'f').write_text('x')
    assert runner.path_exists(str(tmp_path / 'f'), file=True) and runner.path_exists(str(tmp_path / 'f'))
    assert runner.path_exists(str(tmp_path)) and not runner.path_exists(str(tmp_path), file=True)
    assert not runner.path_exists(str(tmp_path / 'none')) and not runner.path_exists(str(tmp_path / 'none'), file=True)


def test_env_names_are_whole_ascii_names():
    for bad in ('X\n', 'X Y', '\u0661X', 'É'):
        with pytest.raises(S.ShellError, match='is not a plain name'):
            S.check_env({bad: '1'})
    S.check_env({'CONTAINERS_MACHINE_PROVIDER': 'qemu'})


@pytest.mark.parametrize('which', [0, 1])
def test_a_lease_that_cannot_be_made_runs_the_block_unlocked_as_before(which, tmp_path):
    """Where the lock's folder cannot be made (its parent is a file, say), the command runs unlocked rather
    than not at all, as the flock it replaced did: never a traceback, nor a wait for a holder that is not there."""
    (tmp_path / 'file').write_text('x')
    ran = []
    start = time.time()
    with lease_holders()[which].lease(str(tmp_path / 'file' / 'sub' / 'lease'), 5):
        ran.append(True)
    assert time.time() - start < 4
    assert ran == [True]

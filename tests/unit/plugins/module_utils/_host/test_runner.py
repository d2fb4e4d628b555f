# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""LocalRunner starts real programs through both of its run_commands: a real AnsibleModule's (the
module path) and plugin_utils/_local.py's (controller code). The same promises hold for both:
arguments and environment exact, nothing read from standard input, a deadline that stops the whole
session, and nothing signalled that ended in time."""

from __future__ import annotations

import os
import signal
import time

import pytest
from ansible.module_utils import basic

from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalRunner
from ansible_collections.machinist.podman.plugins.plugin_utils import _local
from ansible_collections.machinist.podman.tests.unit.conftest import module_args

ODD = ['plain', 'with space', "it's", '$HOME', '~', '~/x', '`id`', '$(id)', 'ü', '*', '-n', '']


@pytest.fixture(params=['module', 'controller'])
def run_command(request):
    if request.param == 'controller':
        return _local.run_command
    with module_args({}):
        return basic.AnsibleModule(argument_spec={}).run_command


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open('/proc/%d/stat' % pid) as f:  # a zombie is gone for our purpose
        return f.read().rsplit(')', 1)[1].split()[0] != 'Z'


def test_arguments_and_environment_reach_the_program_exactly(run_command):
    runner = LocalRunner('/bin/sh', run_command)
    res = runner.run(['-c', 'printf "%s|" "$@"; printf "%s" "$X" >&2; exit 3', 'sh'] + ODD,
                     env={'X': 'a \'b\' $c `d` ü'})
    assert (res.rc, res.timed_out) == (3, False)
    assert res.stdout == '|'.join(ODD) + '|'
    assert res.stderr == 'a \'b\' $c `d` ü'
    assert runner.commands() == [['/bin/sh', '-c', 'printf "%s|" "$@"; printf "%s" "$X" >&2; exit 3', 'sh'] + ODD]


def test_the_program_reads_nothing_and_leads_a_session_of_its_own(run_command):
    res = LocalRunner('/bin/sh', run_command).run(['-c', 'cat; ps -o sid= -o pid= -p $$'])
    assert res.rc == 0
    sid, pid = res.stdout.split()
    assert sid == pid


def test_a_program_that_cannot_be_started_is_exit_127_named(run_command, tmp_path):
    res = LocalRunner(str(tmp_path / 'no-podman'), run_command).run(['--version'])
    assert res.rc == 127 and not res.ok
    assert res.stderr.startswith('cannot run %s: ' % (tmp_path / 'no-podman'))


def test_the_deadline_stops_the_program_and_what_it_started(run_command, tmp_path):
    pids = tmp_path / 'pids'
    start = time.monotonic()
    res = LocalRunner('/bin/sh', run_command).run(['-c', 'sleep 300 & echo $! > %s; sleep 300; echo never' % pids],
                                                  timeout=1)
    assert res.timed_out and not res.ok and res.rc == -signal.SIGTERM
    assert time.monotonic() - start < 20
    assert 'never' not in res.stdout
    child = int(pids.read_text())
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child)


def test_what_a_program_leaves_running_is_not_stopped_when_it_ended_in_time(run_command, tmp_path):
    # As `podman machine start` leaves qemu and gvproxy: the call is done when podman is, and its deadline
    # passing later signals nothing.
    pids = tmp_path / 'pids'
    start = time.monotonic()
    res = LocalRunner('/bin/sh', run_command).run(['-c', 'sleep 30 & echo $! > %s; echo started' % pids], timeout=2)
    took = time.monotonic() - start
    child = int(pids.read_text())
    try:
        assert (res.rc, res.stdout, res.timed_out) == (0, 'started\n', False)
        assert took < 2
        time.sleep(2.5)
        assert alive(child)
    finally:
        os.kill(child, signal.SIGKILL)

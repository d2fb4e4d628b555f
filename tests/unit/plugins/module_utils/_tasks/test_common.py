# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the podman tasks share: the deadline of every call, and the result of a finished task."""
from __future__ import annotations

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError
from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalRunner
from ansible_collections.machinist.podman.plugins.module_utils._machine.providers import PROVIDERS
from ansible_collections.machinist.podman.plugins.module_utils._tasks import common
from ansible_collections.machinist.podman.plugins.plugin_utils._local import run_command


def test_every_podman_call_gets_the_options_deadline():
    runner = LocalRunner('/bin/true', run_command)
    common.set_deadline(runner, {'command_timeout': 42}, 'command_timeout')
    assert runner.default_timeout == 42


@pytest.mark.parametrize('value', [0, -5])
def test_a_deadline_that_is_no_time_is_refused_by_name(value):
    with pytest.raises(MachinistError, match='command_timeout must be a positive number of seconds, not %d' % value):
        common.set_deadline(LocalRunner('/bin/true', run_command), {'command_timeout': value}, 'command_timeout')


def test_a_finished_result_has_the_commands_and_the_diff_only_in_diff_mode():
    runner = LocalRunner('/bin/true', run_command)
    runner.run(['--version'])
    out = common.finished({'changed': False, 'diff': {'before': 1, 'after': 1}}, runner, diff=False)
    assert out == {'changed': False, 'commands': [['/bin/true', '--version']], 'warnings': []}
    assert 'diff' in common.finished({'changed': False, 'diff': {}}, runner, diff=True)


def test_the_provider_choices_are_the_provider_table():
    assert common.COMMON_ARGS['provider']['choices'] == list(PROVIDERS)

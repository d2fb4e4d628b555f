# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Failures as the modules report them: podman output that is not JSON is a message, not a traceback."""
from __future__ import annotations

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import failure
from ansible_collections.machinist.podman.plugins.module_utils._machine import facts as machine_facts
from ansible_collections.machinist.podman.plugins.module_utils._tasks.module import TASK_ERRORS


class Ran:
    """A runner as failure() sees it: only the commands it ran."""

    def commands(self):
        return [{'argv': ['podman', 'machine', 'inspect', 'rec-a'], 'rc': 0}]


def not_json():
    with pytest.raises(machine_facts.FactsError) as err:
        machine_facts.parse_json_array('time="2026-01-01" level=warning msg="something"\n[', 'machine inspect')
    return err.value


def test_output_that_is_not_json_is_a_facts_error_naming_the_command():
    error = not_json()
    assert str(error).startswith('podman machine inspect printed something that is not JSON')
    assert 'level=warning' in str(error)


def test_failure_gives_a_clean_message_for_it():
    result = failure(not_json(), Ran().commands())
    assert result['msg'].startswith('podman machine inspect printed something that is not JSON')
    assert 'Traceback' not in result['msg']
    assert result['changed'] is False
    assert result['commands'] == Ran().commands()
    assert result['failed'] is True
    assert 'commands' not in failure(not_json())


def test_facts_error_is_one_of_the_task_errors():
    # The modules and the controller-side path turn only TASK_ERRORS into a failed result.
    assert any(issubclass(machine_facts.FactsError, kind) for kind in TASK_ERRORS)

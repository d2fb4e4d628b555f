# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs the podman_machine_os module on the target as any module runs; for Windows targets (PowerShell),
runs the same task on the controller through the connection (plugins/plugin_utils/_controller_side.py)."""

from __future__ import annotations

from ansible.plugins.action.normal import ActionModule as ModuleAction

from ansible_collections.machinist.podman.plugins.module_utils._machine_tasks import OS_ARGS, os_task
from ansible_collections.machinist.podman.plugins.plugin_utils import _controller_side as controller


class ActionModule(ModuleAction):
    def run(self, tmp=None, task_vars=None):
        if not controller.wanted(self, task_vars):
            return super(ActionModule, self).run(tmp, task_vars)
        return controller.run_task(self, task_vars, OS_ARGS, os_task, path_options=())

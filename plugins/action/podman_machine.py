# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs the podman_machine module on the target as any module runs; for Windows targets (PowerShell),
runs the same task on the controller through the connection (plugins/plugin_utils/_controller_side.py)."""

from __future__ import annotations

from ansible_collections.machinist.podman.plugins.module_utils._tasks.machine import MACHINE_ARGS, machine_task
from ansible_collections.machinist.podman.plugins.plugin_utils._controller_side import action_class

ActionModule = action_class(MACHINE_ARGS, machine_task, path_options=('ignition_path', 'playbook'), on_local=True)

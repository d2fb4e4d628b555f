# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs the podman_machine_image module on the target as any module runs; for Windows targets
(PowerShell), resolves the source on the controller and has the target download and verify the
image (module_utils/_image_tasks.py, plugins/plugin_utils/_controller_side.py)."""

from __future__ import annotations

from ansible_collections.machinist.podman.plugins.module_utils._image_tasks import (
    IMAGE_ARGS, IMAGE_REQUIRED_TOGETHER, image_task)
from ansible_collections.machinist.podman.plugins.plugin_utils._controller_side import action_class

ActionModule = action_class(IMAGE_ARGS, image_task, path_options=('cache_dir', 'progress_file'),
                            required_together=IMAGE_REQUIRED_TOGETHER, executable=None)

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs the podman_machine_image module on the target as any module runs; for Windows targets
(PowerShell), resolves the source on the controller and has the target download and verify the
image (plugins/plugin_utils/_target_image.py, through plugins/plugin_utils/_controller_side.py)."""

from __future__ import annotations

from ansible_collections.machinist.podman.plugins.module_utils._tasks.image import IMAGE_ARGS, IMAGE_REQUIRED_TOGETHER
from ansible_collections.machinist.podman.plugins.plugin_utils._controller_side import action_class
from ansible_collections.machinist.podman.plugins.plugin_utils._target_image import image_task

ActionModule = action_class(IMAGE_ARGS, image_task, path_options=('cache_dir', 'progress_file'),
                            required_together=IMAGE_REQUIRED_TOGETHER, executable=None)

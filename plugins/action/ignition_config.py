# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reads each files[].src on the controller (as ansible.builtin.copy finds its src) and passes the
bytes to the module as base64; everything else is the module's."""

from __future__ import annotations

import base64

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError, failure


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        files = []
        for i, item in enumerate(args.get('files') or []):
            item = dict(item)
            if item.get('src'):
                try:
                    path = self._find_needle('files', item['src'])
                    with open(path, 'rb') as fh:
                        item['content_base64'] = base64.b64encode(fh.read()).decode('ascii')
                except (AnsibleError, OSError) as exc:
                    result.update(failure(MachinistError('files[%d].src: %s' % (i, exc))))
                    return result
            files.append(item)
        if files:
            args['files'] = files
        result.update(self._execute_module(module_name='machinist.podman.ignition_config', module_args=args,
                                           task_vars=task_vars))
        return result

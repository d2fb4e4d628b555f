# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared helpers: recorded podman outputs, by version and scenario."""

from __future__ import annotations

import contextlib
import json
import os
from unittest import mock

import pytest
from ansible.module_utils import basic

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
VERSIONS = sorted(d[len('podman-'):] for d in os.listdir(FIXTURES) if d.startswith('podman-'))


def recorded(version, scenario):
    with open(os.path.join(FIXTURES, 'podman-' + version, scenario + '.json')) as f:
        return json.load(f)


@pytest.fixture(params=VERSIONS)
def version(request):
    return request.param


def set_cpus(version):
    """The CPUs the recorded `machine set` asked for: 3, or 1 where Podman 6 on a host with fewer than three
    refuses 3 (record.py)."""
    argv = recorded(version, 'set_resources')['argv']
    return int(argv[argv.index('--cpus') + 1])


@contextlib.contextmanager
def module_args(args=None):
    """Module arguments for the AnsibleModule made in the block, on every ansible-core the collection supports:
    ansible.module_utils.testing.patch_module_args where it exists (2.19 and later), else what it does there."""
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # ansible-core 2.17 and 2.18
        with mock.patch.object(basic, '_ANSIBLE_ARGS', json.dumps({'ANSIBLE_MODULE_ARGS': args or {}}).encode()):
            yield
        return
    with patch_module_args(args):
        yield

# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared helpers: recorded podman outputs, by version and scenario."""

from __future__ import annotations

import json
import os

import pytest

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

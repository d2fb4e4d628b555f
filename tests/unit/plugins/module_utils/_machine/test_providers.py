# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The provider table against the documented behaviour (the project's reference notes, section
"Providers, selection, defaults", and the `podman machine set` support table), row by row."""
from __future__ import annotations

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._machine import providers

# host, podman major, providers podman offers there (default first)
OFFERED = [
    ('linux', 4, ['qemu']),
    ('linux', 5, ['qemu']),
    ('darwin', 4, ['qemu', 'applehv']),
    ('darwin', 5, ['applehv', 'libkrun']),   # qemu left macOS in 5.0
    ('windows', 4, ['wsl', 'hyperv']),
    ('windows', 5, ['wsl', 'hyperv']),
    ('windows', 6, ['wsl', 'hyperv']),
]


@pytest.mark.parametrize('host,major,offered', OFFERED)
def test_offered_and_default(host, major, offered):
    assert providers.providers_on(host, major) == sorted(offered)
    assert providers.default_provider(host, major) == offered[0]
    for provider in providers.PROVIDERS:
        refusal = providers.provider_refusal(provider, host, major, 'arm64')
        assert (refusal is None) == (provider in offered), (provider, refusal)


@pytest.mark.parametrize('arch,allowed', [('arm64', True), ('aarch64', True), ('x86_64', False)])
def test_libkrun_only_on_apple_silicon(arch, allowed):
    refusal = providers.provider_refusal('libkrun', 'darwin', 5, arch)
    assert (refusal is None) is allowed
    if not allowed:
        assert 'Apple Silicon' in refusal and 'use applehv' in refusal


# provider -> (fields `podman machine set` changes, exclusive, needs admin)
RULES = {
    'qemu': ({'cpus', 'memory', 'disk_size', 'rootful', 'usb'}, True, False),
    'applehv': ({'cpus', 'memory', 'disk_size', 'rootful'}, True, False),
    'libkrun': ({'cpus', 'memory', 'disk_size', 'rootful'}, True, False),
    'hyperv': ({'cpus', 'memory', 'disk_size', 'rootful'}, True, True),
    # WSL: "changing CPUs/memory/disk size not supported for WSL machines"; several may run at once.
    'wsl': ({'rootful', 'user_mode_networking'}, False, False),
}


@pytest.mark.parametrize('provider', sorted(RULES))
def test_set_exclusive_admin(provider):
    settable, exclusive, admin = RULES[provider]
    for field in ('cpus', 'memory', 'disk_size', 'rootful', 'usb', 'user_mode_networking'):
        assert providers.can_set(provider, field) is (field in settable), field
    assert providers.PROVIDERS[provider]['exclusive'] is exclusive
    assert providers.PROVIDERS[provider]['needs_admin'] is admin


def test_wsl_4_changes_rootful_running_5_needs_a_stop():
    assert providers.stop_to_set('wsl', 4) is False
    assert providers.stop_to_set('wsl', 5) is True
    assert all(providers.stop_to_set(p, m) for p in ('qemu', 'applehv', 'hyperv') for m in (4, 5, 6))


def test_volumes_ignored_only_on_wsl():
    assert [p for p in sorted(providers.PROVIDERS) if not providers.PROVIDERS[p]['volumes']] == ['wsl']

# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._machine.versions import Capabilities, PodmanVersion
from ansible_collections.machinist.podman.tests.unit.conftest import recorded


def test_parses_recorded_version_output(version):
    out = recorded(version, 'version')
    assert str(PodmanVersion.parse(out['stdout'])) == version


@pytest.mark.parametrize('text,expected', [
    ('podman version 6.0.0-dev', (6, 0, 0)),
    ('podman.exe version 5.3.1', (5, 3, 1)),
    ('5.8', (5, 8, 0)),
])
def test_parses_other_forms(text, expected):
    assert PodmanVersion.parse(text).tuple == expected


def test_unparsable_version_says_what_it_read():
    with pytest.raises(ValueError, match='cannot read a Podman version'):
        PodmanVersion.parse('command not found')


@pytest.mark.parametrize('version,feature,has', [
    ('4.3.1', 'init_image', False),
    ('4.3.1', 'provider_env', False),
    ('4.6.0', 'provider_env', True),
    ('5.4.2', 'init_playbook', True),
    ('5.4.2', 'init_swap', False),
    ('5.8.6', 'init_swap', True),
    ('5.8.6', 'list_all_providers', True),
    ('6.0.0', 'list_all_providers', False),
    ('4.4.0', 'disk_named_per_machine', False),
    ('4.5.0', 'disk_named_per_machine', True),
    ('4.5.9', 'set_usb', False),
])
def test_feature_table(version, feature, has):
    assert Capabilities(PodmanVersion.parse(version)).has(feature) is has


def test_missing_feature_sentences():
    caps = Capabilities(PodmanVersion.parse('4.3.1'))
    assert caps.missing('init_swap') == 'swap needs Podman 5.6 or later; this is Podman 4.3.1'
    assert Capabilities(PodmanVersion.parse('6.0.0')).missing('list_all_providers').startswith(
        'list_all_providers is not available since Podman 6.0')
    assert Capabilities(PodmanVersion.parse('5.8.6')).missing('init_swap') is None


@pytest.mark.parametrize('text', ['podman version \u0665.\u0664.\u0662', '\u0665.\u0668', 'podman version\u00a0\u0665.\u0664'])
def test_only_ascii_digits_are_a_version(text):
    with pytest.raises(ValueError, match='cannot read a Podman version'):
        PodmanVersion.parse(text)


def test_a_version_line_with_its_newline_still_parses():
    assert PodmanVersion.parse('podman version 5.4.2\n').tuple == (5, 4, 2)

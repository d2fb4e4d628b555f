# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where the state, the cache and podman's config live: one rule for this host and for a probed target."""
from __future__ import annotations

import os

from ansible_collections.machinist.podman.plugins.module_utils._host import folders
from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalFiles


def test_posix_defaults_under_the_home():
    assert folders.folders(False, '/home/jane') == {
        'state_base': '/home/jane/.local/state/machinist.podman',
        'cache_base': '/home/jane/.cache/machinist.podman',
        'config_base': '/home/jane/.config',
    }


def test_posix_xdg_variables_win_when_absolute():
    got = folders.folders(False, '/home/jane', '/srv/state', '/srv/cache', '/srv/config')
    assert got == {'state_base': '/srv/state/machinist.podman', 'cache_base': '/srv/cache/machinist.podman',
                   'config_base': '/srv/config'}


def test_a_relative_xdg_variable_is_ignored_as_the_spec_says():
    assert folders.folders(False, '/home/jane', 'state', 'cache', 'cfg') == folders.folders(False, '/home/jane')


def test_windows_state_and_cache_under_the_profile_config_in_appdata():
    got = folders.folders(True, 'C:\\Users\\jane', config='C:\\Users\\jane\\AppData\\Roaming')
    assert got == {'state_base': 'C:\\Users\\jane\\.local\\state\\machinist.podman',
                   'cache_base': 'C:\\Users\\jane\\.cache\\machinist.podman',
                   'config_base': 'C:\\Users\\jane\\AppData\\Roaming'}
    assert folders.folders(True, 'C:\\Users\\jane')['config_base'] == 'C:\\Users\\jane\\AppData\\Roaming'


def test_this_host_follows_the_same_rule(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.setenv('XDG_STATE_HOME', str(tmp_path / 's'))
    monkeypatch.setenv('XDG_CACHE_HOME', 'relative')
    monkeypatch.delenv('XDG_CONFIG_HOME', raising=False)
    host = LocalFiles().host()
    assert host['state_base'] == os.path.join(str(tmp_path), 's', 'machinist.podman') == folders.default_base()
    assert host['cache_base'] == os.path.join(str(tmp_path), '.cache', 'machinist.podman')
    assert host['config_base'] == os.path.join(str(tmp_path), '.config')

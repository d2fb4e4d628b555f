# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where things live on the host that runs podman: the collection's state and cache folders, and
podman's client config folder. One rule for this host (the module path) and for a target probed
through a connection (the controller-side path), POSIX or Windows.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import ntpath
import os
import posixpath


def folders(windows: bool, home: str, state: str = '', cache: str = '', config: str = '') -> dict[str, str]:
    """{'state_base', 'cache_base', 'config_base'} of a host, from its home and its variables: on POSIX
    XDG_STATE_HOME, XDG_CACHE_HOME and XDG_CONFIG_HOME, where a relative value is ignored, as the XDG Base
    Directory spec says; on Windows, which has no XDG variables, the state and cache sit under the profile as
    podman's own do, and the config is %APPDATA% (Go's os.UserConfigDir, where podman keeps it)."""
    path = ntpath if windows else posixpath

    def given(value: str) -> str:
        return value if value and path.isabs(value) else ''

    return {
        'state_base': path.join(given(state) or path.join(home, '.local', 'state'), 'machinist.podman'),
        'cache_base': path.join(given(cache) or path.join(home, '.cache'), 'machinist.podman'),
        'config_base': given(config) or (path.join(home, 'AppData', 'Roaming') if windows else path.join(home, '.config')),
    }


def local_folders() -> dict[str, str]:
    """folders() of this host, as this user; the state folder an absolute path whatever the working directory."""
    env = os.environ
    if os.name == 'nt':
        found = folders(True, os.path.expanduser('~'), config=env.get('APPDATA', ''))
    else:
        found = folders(False, os.path.expanduser('~'), env.get('XDG_STATE_HOME', ''), env.get('XDG_CACHE_HOME', ''),
                        env.get('XDG_CONFIG_HOME', ''))
    found['state_base'] = os.path.abspath(found['state_base'])
    return found


def default_base() -> str:
    """This host's state folder."""
    return local_folders()['state_base']

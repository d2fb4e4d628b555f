# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Replacing a file: the old one or the new one, never half of either, and nothing left behind."""
from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._common.files import replacing


def test_the_new_content_replaces_the_old_in_one_rename(tmp_path):
    path = tmp_path / 'record.json'
    path.write_text('old')
    with replacing(str(path)) as f:
        f.write('new')
        assert path.read_text() == 'old'  # a reader sees the old file until the block ends
    assert path.read_text() == 'new'
    assert sorted(os.listdir(str(tmp_path))) == ['record.json']


def test_a_failure_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / 'record.json'
    path.write_text('old')
    with pytest.raises(RuntimeError):
        with replacing(str(path)) as f:
            f.write('half')
            raise RuntimeError('interrupted')
    assert path.read_text() == 'old'
    assert sorted(os.listdir(str(tmp_path))) == ['record.json']


def test_the_file_is_private_unless_a_mode_is_given(tmp_path):
    with replacing(str(tmp_path / 'a')) as f:
        f.write('x')
    with replacing(str(tmp_path / 'b'), binary=True, mode=0o644, durable=True) as f:
        f.write(b'x')
    assert stat.S_IMODE(os.stat(str(tmp_path / 'a')).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(tmp_path / 'b')).st_mode) == 0o644


def test_a_link_planted_at_the_name_is_replaced_not_followed(tmp_path):
    victim = tmp_path / 'victim'
    victim.write_text('keep')
    path = tmp_path / 'record.json'
    os.symlink(str(victim), str(path))
    with replacing(str(path)) as f:
        f.write('new')
    assert victim.read_text() == 'keep'
    assert not os.path.islink(str(path)) and path.read_text() == 'new'

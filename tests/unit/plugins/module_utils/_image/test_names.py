# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What an image source's name says, the one rule for podman_machine's image and podman_machine_image's source."""
from __future__ import annotations

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._image import names as image_names


@pytest.mark.parametrize('source, kind', [
    (None, None),
    ('docker://quay.io/podman/machine-os:5.4', 'oci'),
    ('DOCKER://quay.io/podman/machine-os:5.4', 'oci'),
    ('https://example.invalid/disk.qcow2.xz', 'url'),
    ('HTTP://example.invalid/disk.qcow2', 'url'),
    ('stable', 'stream'), ('testing', 'stream'), ('next', 'stream'),
    ('Stable', 'file'),  # stream names are exact, as podman takes them
    ('/var/lib/images/disk.qcow2', 'file'), ('~/disk.raw.zst', 'file'), ('C:\\images\\disk.vhdx', 'file'),
])
def test_the_kind_of_a_source(source, kind):
    assert image_names.image_kind(source) == kind


@pytest.mark.parametrize('name, stripped, compression', [
    ('disk.qcow2.xz', 'disk.qcow2', 'xz'), ('disk.raw.zst', 'disk.raw', 'zst'), ('disk.tar.gz', 'disk.tar', 'gz'),
    ('disk.vhdx.zip', 'disk.vhdx', 'zip'), ('disk.img.bz2', 'disk.img', 'bz2'), ('disk.qcow2', 'disk.qcow2', None),
    ('disk.qcow2.xz.gz', 'disk.qcow2.xz', 'gz'),  # one suffix: the one podman decompresses
])
def test_the_compression_suffix(name, stripped, compression):
    assert image_names.strip_suffix(name) == stripped
    assert image_names.compression_by_name(name) == compression

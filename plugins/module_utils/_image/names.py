# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What an image source's name says: its kind (a stream, an OCI reference, a URL, a file) and its
compression. One rule for podman_machine's image option and podman_machine_image's source.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

# The Fedora CoreOS streams, which podman 4 takes by name as a machine image.
FCOS_STREAMS = ('stable', 'testing', 'next')
# What a source can be.
KINDS = ('stream', 'oci', 'url', 'file')
# File name suffix -> compression; podman decompresses these at machine init.
SUFFIXES = {'.xz': 'xz', '.gz': 'gz', '.bz2': 'bz2', '.zst': 'zst', '.zip': 'zip'}


def image_kind(source):
    """'oci' for docker:// references, 'url' for http:// and https://, 'stream' for a stream's name, else
    'file'; None for None. The scheme is matched in any case, as podman matches it."""
    if source is None:
        return None
    low = source.lower()
    if low.startswith('docker://'):
        return 'oci'
    if low.startswith(('http://', 'https://')):
        return 'url'
    if source in FCOS_STREAMS:
        return 'stream'
    return 'file'


def compression_by_name(name):
    """The compression its suffix names, or None."""
    for suffix, kind in SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    return None


def strip_suffix(name):
    """The name without its compression suffix."""
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What podman_machine_image does with its options: the source resolved, the image fetched into the cache.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

The module (a POSIX target) resolves and fetches there, decompressing in one streaming pass
(_image/sources.py ensure). On the controller-side path (plugin_utils/_target_image.py) the controller resolves
the source (stream metadata, a registry index, with its credentials) and the target downloads
the artifact with curl, hashes it and keeps it under its cache, still compressed: podman
decompresses a local compressed image itself at `machine init`. So nothing big crosses the
connection, and no decompressor is needed on Windows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._image import fetch, sources
from ansible_collections.machinist.podman.plugins.module_utils._image import names as image_names
from ansible_collections.machinist.podman.plugins.module_utils._machine.providers import PROVIDERS

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalRunner

IMAGE_ARGS = dict(
    source=dict(type='str', required=True),
    source_type=dict(type='str', default='auto', choices=['auto'] + list(image_names.KINDS)),
    provider=dict(type='str', default='qemu', choices=list(PROVIDERS)),
    arch=dict(type='str', choices=['x86_64', 'aarch64']),
    checksum=dict(type='str'),
    uncompressed_checksum=dict(type='str'),
    mirrors=dict(type='list', elements='str', default=[]),
    artifact_query=dict(type='str'),
    username=dict(type='str'),
    password=dict(type='str', no_log=True),
    insecure=dict(type='bool', default=False),
    cache_dir=dict(type='path'),
    verify=dict(type='str', default='record', choices=['record', 'full']),
    progress_file=dict(type='path'),
    prune_older_than_days=dict(type='int'),
    prune_keep=dict(type='int'),
    lock_timeout=dict(type='int', default=3600),
    timeout=dict(type='int', default=3600),
    max_size=dict(type='str', default='40GiB'),
)
IMAGE_REQUIRED_TOGETHER = [('username', 'password')]
SUFFIX = dict((kind, suffix) for suffix, kind in image_names.SUFFIXES.items())


def _digest(value, field):
    if value is None:
        return None
    text = value.split(':', 1)[1] if value.startswith('sha256:') else value
    if len(text) != 64 or any(c not in '0123456789abcdef' for c in text.lower()):
        raise fetch.FetchError('%s: %r must be a sha256, as sha256:HEX or HEX (64 hex digits)' % (field, value))
    return text.lower()


def resolve(p: dict[str, Any], arch: str, expand: Callable[[str], str], check_exists: bool = True) -> sources.Artifact:
    """The artifact the options name; `expand` turns ~ in a local path into the podman host's home."""
    kind = p['source_type']
    src = p['source']
    if kind == 'auto':
        kind = image_names.image_kind(src)
    checksum = _digest(p['checksum'], 'checksum')
    uncompressed = _digest(p['uncompressed_checksum'], 'uncompressed_checksum')
    if kind == 'stream':
        art = sources.from_stream(src, arch, p['provider'], mirrors=p['mirrors'], artifact_query=p['artifact_query'])
    elif kind == 'oci':
        art = sources.from_oci(src, arch, p['provider'], insecure=p['insecure'], username=p['username'], password=p['password'])
    elif kind == 'url':
        if not checksum and not uncompressed:
            raise fetch.FetchError('checksum: a plain URL needs the sha256 of the file (checksum) or of the image '
                                   '(uncompressed_checksum), so a corrupted or tampered download is caught')
        art = sources.from_url(src, checksum, uncompressed, mirrors=p['mirrors'])
    else:
        art = sources.from_file(expand(src), checksum, uncompressed, check_exists=check_exists)
    for field, given, known in (('checksum', checksum, art.sha256), ('uncompressed_checksum', uncompressed,
                                                                     art.uncompressed_sha256)):
        if given and known and given != known:
            raise fetch.FetchError('%s: %s does not agree with the %s metadata, which says %s' % (field, given, art.source, known))
    art.sha256 = art.sha256 or checksum
    art.uncompressed_sha256 = art.uncompressed_sha256 or uncompressed
    return art


def limits(p: dict[str, Any]) -> tuple[int, int]:
    """(timeout, max_size) from the options, checked."""
    if p['timeout'] < 1:
        raise fetch.FetchError('timeout: %d must be 1 or more seconds' % p['timeout'])
    return p['timeout'], sources.size_in_bytes(p['max_size'], 'max_size')


def image_module_task(params: dict[str, Any], files: LocalRunner, check_mode: bool = False, diff: bool = False) -> dict[str, Any]:
    """The module path: the image resolved, fetched and verified into the cache on this host, the cache pruned.
    `files` is this host's runner: its files, and the zstd program it starts for a zstd image."""
    p = params
    host = files.host()
    arch = p['arch'] or sources.fcos_arch(host['arch'])
    cache_dir = p['cache_dir'] or files.path.join(host['cache_base'], 'images')
    if p['prune_keep'] is not None and p['prune_keep'] < 1:
        raise fetch.FetchError('prune_keep: %d must be 1 or more (the image returned is always kept)' % p['prune_keep'])
    art = None
    try:
        timeout, max_size = limits(p)
        art = resolve(p, arch, files.expand)
        cache = sources.Cache(cache_dir)
        progress = p['progress_file'] or files.path.join(cache_dir, '.partial', art.key() + '.progress')
        out = sources.ensure(cache, art, verify=p['verify'], check_mode=check_mode, progress_path=progress,
                             lock_timeout=p['lock_timeout'], timeout=timeout, max_size=max_size, runner=files)
        pruned = []
        if p['prune_older_than_days'] is not None or p['prune_keep'] is not None:
            pruned = cache.prune(out['path'], p['prune_older_than_days'], p['prune_keep'], check_mode=check_mode)
    except fetch.FetchError as exc:
        raise with_source(exc, art)
    rec = out['record'] or {}
    return {'changed': out['changed'] or bool(pruned), 'path': out['path'], 'sha256': rec.get('sha256'),
            'uncompressed_sha256': rec.get('uncompressed_sha256'), 'size': rec.get('size'), 'source': art.describe(),
            'release': art.release, 'cache_hit': out['cache_hit'], 'resumed': out.get('resumed', False),
            'pruned': pruned, 'warnings': []}


def with_source(exc: fetch.FetchError, art: sources.Artifact | None) -> fetch.FetchError:
    """The error, its failed result naming the source (None when the options named none that resolved)."""
    exc.extra['source'] = art.describe() if art else None
    return exc

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""podman_machine_image's options, the source resolved, and the controller-side path.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

The module (a POSIX target) resolves and fetches there, decompressing in one streaming pass
(_machine_image.ensure). On the controller-side path (a Windows target) the controller resolves
the source (stream metadata, a registry index, with its credentials) and the target downloads
the artifact with curl, hashes it and keeps it under its cache, still compressed: podman
decompresses a local compressed image itself at `machine init`. So nothing big crosses the
connection, and no decompressor is needed on Windows.
"""

from __future__ import annotations

import json
import time

from ansible_collections.machinist.podman.plugins.module_utils import _image_fetch as F
from ansible_collections.machinist.podman.plugins.module_utils import _machine_image as M

IMAGE_ARGS = dict(
    source=dict(type='str', required=True),
    source_type=dict(type='str', default='auto', choices=['auto', 'stream', 'oci', 'url', 'file']),
    provider=dict(type='str', default='qemu', choices=['qemu', 'applehv', 'libkrun', 'hyperv', 'wsl']),
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
SHOWN = ('expected', 'seen', 'mismatch', 'url', 'status', 'truncated', 'resumable_bytes', 'damaged', 'too_large',
         'max_size', 'timed_out', 'needed', 'free', 'folder')
_SUFFIX = dict((kind, suffix) for suffix, kind in F.SUFFIXES.items())


def fetch_failure(exc, art):
    extra = dict((k, v) for k, v in exc.extra.items() if k in SHOWN)
    return dict(extra, failed=True, changed=False, msg=str(exc), source=art.describe() if art else None)


def _digest(value, field):
    if value is None:
        return None
    text = value.split(':', 1)[1] if value.startswith('sha256:') else value
    if len(text) != 64 or any(c not in '0123456789abcdef' for c in text.lower()):
        raise F.FetchError('%s: %r must be a sha256, as sha256:HEX or HEX (64 hex digits)' % (field, value))
    return text.lower()


def resolve(p, arch, expand, check_exists=True):
    """The artifact the options name; `expand` turns ~ in a local path into the podman host's home."""
    kind = p['source_type']
    src = p['source']
    if kind == 'auto':
        if src in M.FCOS_STREAMS:
            kind = 'stream'
        elif src.startswith('docker://'):
            kind = 'oci'
        elif src.startswith(('http://', 'https://')):
            kind = 'url'
        else:
            kind = 'file'
    checksum = _digest(p['checksum'], 'checksum')
    uncompressed = _digest(p['uncompressed_checksum'], 'uncompressed_checksum')
    if kind == 'stream':
        art = M.from_stream(src, arch, p['provider'], mirrors=p['mirrors'], artifact_query=p['artifact_query'])
    elif kind == 'oci':
        art = M.from_oci(src, arch, p['provider'], insecure=p['insecure'], username=p['username'], password=p['password'])
    elif kind == 'url':
        if not checksum and not uncompressed:
            raise F.FetchError('checksum: a plain URL needs the sha256 of the file (checksum) or of the image '
                               '(uncompressed_checksum), so a corrupted or tampered download is caught')
        art = M.from_url(src, checksum, uncompressed, mirrors=p['mirrors'])
    else:
        art = M.from_file(expand(src), checksum, uncompressed, check_exists=check_exists)
    for field, given, known in (('checksum', checksum, art.sha256), ('uncompressed_checksum', uncompressed,
                                                                     art.uncompressed_sha256)):
        if given and known and given != known:
            raise F.FetchError('%s: %s does not agree with the %s metadata, which says %s' % (field, given, art.source, known))
    art.sha256 = art.sha256 or checksum
    art.uncompressed_sha256 = art.uncompressed_sha256 or uncompressed
    return art


# -- the controller-side path ----------------------------------------------------------------

NOT_ON_TARGET = ('progress_file', 'prune_older_than_days', 'prune_keep')


def image_task(params, runner, check_mode=False, diff=False):
    """The image in the target's cache, fetched there by curl, verified there, kept compressed."""
    p = params
    host = runner.host()
    for option in NOT_ON_TARGET:
        if p.get(option) is not None:
            return {'failed': True, 'changed': False,
                    'msg': '%s: not available when the controller fetches for the target (a Windows target, or '
                           'machinist_podman_controller_side); remove it' % option}
    arch = p['arch'] or M.fcos_arch(host.get('arch') or '')
    art = None
    try:
        art = resolve(p, arch, runner.expand, check_exists=False)
        if art.compressed and not art.sha256:
            raise F.FetchError('uncompressed_checksum: the target keeps the image compressed (podman decompresses it '
                               'at machine init), so only the compressed file\'s sha256 can be checked there; give '
                               'checksum')
        out = ensure_on_target(runner, p['cache_dir'] or runner.path.join(host['cache_base'], 'images'), art,
                               p['verify'], check_mode, timeout=limits(p)[0], max_size=limits(p)[1])
    except F.FetchError as exc:
        return fetch_failure(exc, art)
    rec = out['record'] or {}
    return {'changed': out['changed'], 'path': out['path'], 'sha256': rec.get('sha256'),
            'uncompressed_sha256': rec.get('uncompressed_sha256'), 'size': rec.get('size'),
            'source': art.describe(), 'release': art.release, 'cache_hit': out['cache_hit'], 'resumed': False,
            'pruned': [], 'compressed': art.compressed}


def _expected(art):
    return art.sha256 or art.uncompressed_sha256


def limits(p):
    """(timeout, max_size) from the options, checked."""
    if p['timeout'] < 1:
        raise F.FetchError('timeout: %d must be 1 or more seconds' % p['timeout'])
    return p['timeout'], M.size_in_bytes(p['max_size'], 'max_size')


def ensure_on_target(runner, cache_dir, art, verify, check_mode, timeout=3600, max_size=M.DEFAULT_MAX_SIZE):
    if art.path:
        return _file_on_target(runner, art)
    image = M.cache_file(runner.path, cache_dir, art, _SUFFIX.get(art.compression, ''))
    record_path = image + '.json'
    text = runner.read_text(record_path)
    try:
        rec = json.loads(text) if text else None
    except ValueError:
        rec = None
    if rec and rec.get('sha256') == _expected(art):
        seen = runner.ask('digest' if verify == 'full' else 'size', image) or {}
        if str(rec.get('size')) == seen.get('size') and (verify != 'full' or seen.get('sha256') == rec['sha256']):
            return {'changed': False, 'path': image, 'record': rec, 'cache_hit': True}
    if check_mode:
        return {'changed': True, 'path': image, 'record': None, 'cache_hit': False}
    part = runner.path.join(cache_dir, '.partial', art.key() + '.download')
    headers = runner.path.join(cache_dir, '.partial', art.key() + '.headers')
    runner.ask('mkdir', runner.path.join(cache_dir, '.partial'))
    hdrs = dict(art.headers)
    registry = getattr(art, 'registry', None)
    if registry is not None:
        hdrs.update(registry.auth_headers())
    runner.ask('stdin_to_file', headers, stdin=''.join('%s: %s\n' % kv for kv in sorted(hdrs.items())))
    errors = []
    try:
        for url in art.candidates:
            # Bounded like the module's own fetch: a deadline for the whole download, a size, http and https
            # only, and no redirect from https down to http. curl sends a custom Authorization header only to
            # the host it was given for.
            res = runner.run_program([runner.shell.curl, '-fsSL', '--retry', '2', '--connect-timeout', '30',
                                      '--max-time', str(timeout), '--max-filesize', str(art.size or max_size),
                                      '--proto', '=http,https',
                                      '--proto-redir', '=https' if url.lower().startswith('https:') else '=http,https',
                                      '-H', '@' + headers, '-o', part, url])
            if not res.ok:
                errors.append('%s: %s' % (url, (res.stderr or '').strip() or 'curl exit %s' % res.rc))
                continue
            seen = runner.ask('digest', part) or {}
            if seen.get('sha256') != _expected(art):
                runner.remove(part)
                raise F.FetchError('%s: the download from %s has sha256 %s, not %s; nothing was kept'
                                   % (art.name, url, seen.get('sha256') or '(unreadable)', _expected(art)),
                                   expected=_expected(art), seen=seen.get('sha256'), mismatch=True, url=url)
            if not (runner.ask('move', part, image) or {}).get('moved'):
                raise F.FetchError('%s: cannot move the download to %s' % (art.name, image))
            rec = {'name': art.name, 'source': art.source, 'url': url, 'release': art.release, 'sha256': seen['sha256'],
                   'uncompressed_sha256': None if art.compressed else seen['sha256'],
                   'size': int(seen.get('size') or 0), 'fetched': int(time.time()), 'compression': art.compression,
                   'compressed': art.compressed}
            runner.write_text(record_path, json.dumps(rec, indent=1, sort_keys=True))
            return {'changed': True, 'path': image, 'record': rec, 'cache_hit': False}
    finally:
        runner.remove(headers)
        runner.remove(part)
    raise F.FetchError('%s: no location could be fetched: %s' % (art.name, '; '.join(errors)), url=art.candidates[-1])


def _file_on_target(runner, art):
    """A local image on the target is used where it is, once its digest is checked."""
    seen = runner.ask('digest', art.path) or {}
    if not seen.get('sha256'):
        raise F.FetchError('source: %s: no such file on the target' % art.path)
    want = _expected(art)
    if want and seen['sha256'] != want:
        raise F.FetchError('source: %s has sha256 %s, not %s' % (art.path, seen['sha256'], want),
                           expected=want, seen=seen['sha256'], mismatch=True)
    rec = {'source': art.source, 'sha256': seen['sha256'], 'size': int(seen.get('size') or 0),
           'uncompressed_sha256': None if art.compressed else seen['sha256']}
    return {'changed': False, 'path': art.path, 'record': rec, 'cache_hit': False}

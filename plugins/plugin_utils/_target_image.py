# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""podman_machine_image on the controller-side path: the image fetched into the target's cache by
the target's own curl, verified there, kept compressed.

Note that this plugin util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import json

from ansible_collections.machinist.podman.plugins.module_utils._image import fetch, sources
from ansible_collections.machinist.podman.plugins.module_utils._tasks.image import SUFFIX, limits, resolve, with_source

NOT_ON_TARGET = ('progress_file', 'prune_older_than_days', 'prune_keep')


def image_task(params, runner, check_mode=False, diff=False):
    """The image in the target's cache, fetched there by curl, verified there, kept compressed."""
    p = params
    host = runner.host()
    for option in NOT_ON_TARGET:
        if p.get(option) is not None:
            raise fetch.FetchError('%s: not available when the controller fetches for the target (a Windows target, or '
                                   'machinist_podman_controller_side); remove it' % option)
    arch = p['arch'] or sources.fcos_arch(host.get('arch') or '')
    art = None
    try:
        timeout, max_size = limits(p)
        art = resolve(p, arch, runner.expand, check_exists=False)
        if art.compressed and not art.sha256:
            raise fetch.FetchError('uncompressed_checksum: the target keeps the image compressed (podman decompresses it '
                                   'at machine init), so only the compressed file\'s sha256 can be checked there; give '
                                   'checksum')
        out = ensure_on_target(runner, p['cache_dir'] or runner.path.join(host['cache_base'], 'images'), art,
                               p['verify'], check_mode, timeout=timeout, max_size=max_size)
    except fetch.FetchError as exc:
        raise with_source(exc, art)
    rec = out['record'] or {}
    return {'changed': out['changed'], 'path': out['path'], 'sha256': rec.get('sha256'),
            'uncompressed_sha256': rec.get('uncompressed_sha256'), 'size': rec.get('size'),
            'source': art.describe(), 'release': art.release, 'cache_hit': out['cache_hit'], 'resumed': False,
            'pruned': [], 'compressed': art.compressed, 'warnings': []}


def _expected(art):
    return art.sha256 or art.uncompressed_sha256


def ensure_on_target(runner, cache_dir, art, verify, check_mode, timeout=3600, max_size=sources.DEFAULT_MAX_SIZE):
    if art.path:
        return _file_on_target(runner, art)
    image = sources.cache_file(runner.path, cache_dir, art, SUFFIX.get(art.compression, ''))
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
                raise fetch.FetchError('%s: the download from %s has sha256 %s, not %s; nothing was kept'
                                       % (art.name, url, seen.get('sha256') or '(unreadable)', _expected(art)),
                                       expected=_expected(art), seen=seen.get('sha256'), mismatch=True, url=url)
            if not (runner.ask('move', part, image) or {}).get('moved'):
                raise fetch.FetchError('%s: cannot move the download to %s' % (art.name, image))
            rec = sources.cache_record(art, url, seen['sha256'], None if art.compressed else seen['sha256'],
                                       int(seen.get('size') or 0), compressed=art.compressed)
            runner.write_text(record_path, json.dumps(rec, indent=1, sort_keys=True))
            return {'changed': True, 'path': image, 'record': rec, 'cache_hit': False}
    finally:
        runner.remove(headers)
        runner.remove(part)
    raise fetch.FetchError('%s: no location could be fetched: %s' % (art.name, '; '.join(errors)), url=art.candidates[-1])


def _file_on_target(runner, art):
    """A local image on the target is used where it is, once its digest is checked."""
    seen = runner.ask('digest', art.path) or {}
    if not seen.get('sha256'):
        raise fetch.FetchError('source: %s: no such file on the target' % art.path)
    want = _expected(art)
    if want and seen['sha256'] != want:
        raise fetch.FetchError('source: %s has sha256 %s, not %s' % (art.path, seen['sha256'], want),
                               expected=want, seen=seen['sha256'], mismatch=True)
    rec = {'source': art.source, 'sha256': seen['sha256'], 'size': int(seen.get('size') or 0),
           'uncompressed_sha256': None if art.compressed else seen['sha256']}
    return {'changed': False, 'path': art.path, 'record': rec, 'cache_hit': False}

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Container images in a machine (not the machine's own OS image: that is podman_machine_image):
pull, load from an archive, remove, each only when needed.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

An archive's image ID is read from the archive itself (docker-archive manifest.json, or an OCI
layout's index.json and manifest), so a load happens only when the machine lacks that image
under that name, and a re-run after a rebuild of the archive loads the new one.
"""

from __future__ import annotations

import json
import os
import tarfile

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError


class ImageError(MachinistError):
    """An image that could not be pulled, loaded or removed, or an archive that cannot be read."""


def _member_json(tar, name):
    return json.loads(tar.extractfile(name).read().decode('utf-8'))


def archive_image(path):
    """(image_id, [names]) of the single image in a docker-archive or oci-archive tarball."""
    try:
        with tarfile.open(path) as tar:
            names = tar.getnames()
            if 'manifest.json' in names:
                manifest = _member_json(tar, 'manifest.json')
                if len(manifest) != 1:
                    raise ImageError('load_path=%s holds %d images; give an archive with one' % (path, len(manifest)))
                config = manifest[0].get('Config') or ''
                image_id = os.path.basename(config).split('.')[0].replace('sha256:', '')
                return image_id, list(manifest[0].get('RepoTags') or [])
            if 'index.json' in names:
                index = _member_json(tar, 'index.json')
                entries = index.get('manifests') or []
                if len(entries) != 1:
                    raise ImageError('load_path=%s holds %d manifests; give an archive with one image' % (path, len(entries)))
                digest = entries[0]['digest'].split(':', 1)[1]
                manifest = _member_json(tar, 'blobs/sha256/%s' % digest)
                ref = (entries[0].get('annotations') or {}).get('org.opencontainers.image.ref.name')
                return manifest['config']['digest'].split(':', 1)[1], [ref] if ref else []
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        if isinstance(exc, ImageError):
            raise
        raise ImageError('load_path=%s is not a docker-archive or oci-archive tarball podman can load: %s' % (path, exc))
    raise ImageError('load_path=%s has neither manifest.json (docker-archive) nor index.json (oci-archive)' % path)


def converge_image(api, name, state, load_path=None, pull='missing', auth=None, tls_verify=None, force=False,
                   check_mode=False, pull_timeout=None):
    """Returns {changed, actions, before, after, image}."""
    found = api.image_inspect(name)
    before = {'id': found.get('Id') if found else None}
    actions = []
    if state == 'absent':
        if found:
            actions.append('remove')
            if not check_mode:
                try:
                    api.image_remove(name, force=force)
                except Exception as exc:
                    hint = '' if force else ' (a container may use it: set force to remove it and such containers)'
                    raise ImageError('%s%s' % (exc, hint))
        return {'changed': bool(actions), 'actions': actions, 'before': before, 'after': {'id': None}, 'image': None}

    if load_path:
        image_id, tags = archive_image(load_path)
        if found and found.get('Id', '').replace('sha256:', '') == image_id:
            return {'changed': False, 'actions': [], 'before': before, 'after': before, 'image': _view(found)}
        actions.append('load %s' % os.path.basename(load_path))
        if check_mode:
            return {'changed': True, 'actions': actions, 'before': before, 'after': {'id': image_id}, 'image': None}
        with open(load_path, 'rb') as f:
            loaded = api.image_load(f, os.path.getsize(load_path), timeout=pull_timeout)
        got = api.image_inspect(name)
        if not got or got.get('Id', '').replace('sha256:', '') != image_id:
            raise ImageError('loaded %s (podman reported %s), but it is not there under name=%s: the archive names it %s. '
                             'Set name to one of those names, or tag the image when you save it'
                             % (load_path, ', '.join(loaded.get('Names') or []) or 'no names', name,
                                ', '.join(tags) or 'nothing'), changed=True)
        return {'changed': True, 'actions': actions, 'before': before, 'after': {'id': got.get('Id')}, 'image': _view(got)}

    if found and pull == 'missing':
        return {'changed': False, 'actions': [], 'before': before, 'after': before, 'image': _view(found)}
    if check_mode:
        if found:  # pull: always cannot know without pulling whether the registry has a newer one
            return {'changed': False, 'actions': [], 'before': before, 'after': before, 'image': _view(found)}
        return {'changed': True, 'actions': ['pull %s' % name], 'before': before, 'after': {'id': None}, 'image': None}
    api.image_pull(name, 'always' if found else 'missing', tls_verify=tls_verify, auth=auth, timeout=pull_timeout)
    got = api.image_inspect(name)
    changed = not found or (got or {}).get('Id') != found.get('Id')
    return {'changed': changed, 'actions': ['pull %s' % name] if changed else [], 'before': before,
            'after': {'id': (got or {}).get('Id')}, 'image': _view(got) if got else None}


def _view(data):
    return {
        'id': data.get('Id'),
        'names': data.get('RepoTags') or data.get('NamesHistory') or [],
        'digest': data.get('Digest'),
        'size': data.get('Size'),
        'created': data.get('Created'),
        'architecture': data.get('Architecture'),
    }

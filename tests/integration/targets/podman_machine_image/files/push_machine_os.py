# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pushes a machine-os style index to a registry on loopback, as podman-machine-os's gather.sh
lays it out: per disk file an artifact manifest with one layer titled by the file name, listed in
an OCI index with platform os/architecture and a `disktype` annotation.

  python3 push_machine_os.py REGISTRY REPO TAG FILE:DISKTYPE:ARCH ...
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from urllib.request import Request, urlopen

OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
OCI_INDEX = 'application/vnd.oci.image.index.v1+json'


def push_blob(base, repo, data):
    digest = 'sha256:' + hashlib.sha256(data).hexdigest()
    resp = urlopen(Request('%s/v2/%s/blobs/uploads/' % (base, repo), method='POST', data=b''))
    location = resp.headers['Location']
    if location.startswith('/'):
        location = base + location
    sep = '&' if '?' in location else '?'
    urlopen(Request('%s%sdigest=%s' % (location, sep, digest), method='PUT', data=data,
                    headers={'Content-Type': 'application/octet-stream'}))
    return digest


def push_manifest(base, repo, ref, body, media_type):
    data = json.dumps(body).encode()
    urlopen(Request('%s/v2/%s/manifests/%s' % (base, repo, ref), method='PUT', data=data,
                    headers={'Content-Type': media_type}))
    return 'sha256:' + hashlib.sha256(data).hexdigest(), len(data)


def main():
    registry, repo, tag = sys.argv[1:4]
    base = 'http://' + registry
    config = b'{}'
    config_digest = push_blob(base, repo, config)
    entries = []
    for spec in sys.argv[4:]:
        path, disktype, arch = spec.rsplit(':', 2)
        with open(path, 'rb') as f:
            data = f.read()
        layer = push_blob(base, repo, data)
        manifest = {
            'schemaVersion': 2, 'mediaType': OCI_MANIFEST, 'artifactType': 'application/vnd.machinist.disk',
            'config': {'mediaType': 'application/vnd.oci.empty.v1+json', 'digest': config_digest, 'size': len(config)},
            'layers': [{'mediaType': 'application/zstd', 'digest': layer, 'size': len(data),
                        'annotations': {'org.opencontainers.image.title': os.path.basename(path)}}],
        }
        digest, size = push_manifest(base, repo, layer.replace(':', '-'), manifest, OCI_MANIFEST)
        entries.append({'mediaType': OCI_MANIFEST, 'digest': digest, 'size': size,
                        'platform': {'os': 'linux', 'architecture': arch}, 'annotations': {'disktype': disktype}})
    index = {'schemaVersion': 2, 'mediaType': OCI_INDEX, 'manifests': entries,
             'annotations': {'org.opencontainers.image.version': tag}}
    push_manifest(base, repo, tag, index, OCI_INDEX)


if __name__ == '__main__':
    main()

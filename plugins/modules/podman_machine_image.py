#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: podman_machine_image
short_description: Fetch, verify and cache a Podman machine OS image
version_added: 0.2.0
description:
  - Makes a machine OS disk image present in a local cache, verified, decompressed, and ready to pass to
    M(machinist.podman.podman_machine)'s O(machinist.podman.podman_machine#module:image).
  - "Sources: a Fedora CoreOS stream (V(stable), V(testing), V(next), or a stream JSON URL), resolved to the artifact
    for the architecture and provider (qemu C(qcow2.xz), applehv C(raw.gz), hyperv C(vhdx.zip)); a machine-os OCI
    reference (V(docker://quay.io/podman/machine-os:5.4)), whose index entry is chosen by its C(disktype) annotation,
    os and architecture, then its one titled layer; a plain http(s) URL with O(checksum); a local file."
  - One streaming pass downloads, hashes the compressed bytes, decompresses (xz, gzip, bzip2, zstd, zip), hashes the
    result and writes it to a temporary file beside the target, then renames it. Memory stays flat at any size. A
    wrong checksum, a truncated body, a server error or an interrupted run leaves nothing under the image's name, and
    the error says which digest was expected and which was seen. An interrupted download resumes where the server
    allows ranges.
  - A small record per image answers a cache hit without rehashing (O(verify=full) rehashes); a lock makes a second
    run wait for the first and then find its result.
author:
  - machinist.podman contributors (@machinist-podman)
extends_documentation_fragment:
  - machinist.podman._attributes
attributes:
  check_mode:
    support: full
    details:
      - Resolves the source (reading stream metadata or a registry index) and says whether it would download.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  source:
    description:
      - V(stable), V(testing) or V(next) (a Fedora CoreOS stream); an http(s) URL of a stream JSON (when
        O(source_type=stream)) or of an image; V(docker://REGISTRY/REPO:TAG) (a machine-os index); or a local path.
    type: str
    required: true
  source_type:
    description:
      - How to read O(source). V(auto) treats the stream names as streams, C(docker://) as OCI, other URLs as image URLs
        and anything else as a local file.
    type: str
    choices: [auto, stream, oci, url, file]
    default: auto
  provider:
    description: The machine provider the image is for; it picks the artifact (qemu, applehv, hyperv, wsl).
    type: str
    choices: [qemu, applehv, libkrun, hyperv, wsl]
    default: qemu
  arch:
    description: The architecture, as Fedora names it. Defaults to this host's.
    type: str
    choices: [x86_64, aarch64]
  checksum:
    description:
      - The sha256 of the downloaded (compressed) file, as V(sha256:HEX) or V(HEX). Required for plain URLs; for streams
        and OCI references the metadata's own digests are used, and this must agree with them when given.
    type: str
  uncompressed_checksum:
    description: The sha256 of the decompressed image, checked too when given.
    type: str
  mirrors:
    description:
      - Base URLs tried in order before the original location, each serving the same file names (an offline mirror of
        the stream's artifacts, say). The checksums are those of the original metadata.
    type: list
    elements: str
    default: []
  artifact_query:
    description:
      - For stream layouts the module does not know, a JMESPath expression over the stream JSON that selects an object
        with C(location), C(sha256) and optionally C(uncompressed-sha256) and C(release). Needs the jmespath library.
    type: str
  username:
    description: Registry user for OCI sources.
    type: str
  password:
    description: Registry password or token for OCI sources. Never logged.
    type: str
  insecure:
    description: Talk plain HTTP to the registry (a registry on loopback, say). TLS is used otherwise.
    type: bool
    default: false
  cache_dir:
    description: Where images are kept. Defaults to C($XDG_CACHE_HOME/machinist.podman/images).
    type: path
  verify:
    description: V(record) trusts the cache's record of size, mtime and digests; V(full) rehashes the image.
    type: str
    choices: [record, full]
    default: record
  progress_file:
    description:
      - A JSON file rewritten about once a second during a download with C(phase), C(bytes_done), C(bytes_total),
        C(percent) and C(mib_per_s), for a user or a task polling a long fetch (with C(async)). Defaults to the cache's
        C(.partial/<key>.progress).
    type: path
  prune_older_than_days:
    description: After the task, remove cached images fetched more than this many days ago (never the one returned).
    type: int
  prune_keep:
    description: After the task, keep only this many cached images, newest first, the one returned included.
    type: int
  lock_timeout:
    description: Seconds to wait for another run fetching the same image.
    type: int
    default: 3600
"""

EXAMPLES = r"""
- name: The current Fedora CoreOS stable qemu image
  machinist.podman.podman_machine_image:
    source: stable
  register: fcos

- name: A machine from it
  machinist.podman.podman_machine:
    name: dev
    image: "{{ fcos.path }}"

- name: Podman 5's machine-os image for this host, from an internal registry
  machinist.podman.podman_machine_image:
    source: docker://registry.example.com/podman/machine-os:5.4
    username: fleet
    password: "{{ vault_registry_token }}"

- name: A pinned image from an offline mirror
  machinist.podman.podman_machine_image:
    source: https://mirror.example.com/fcos/fedora-coreos-40.20240519.3.0-qemu.x86_64.qcow2.xz
    checksum: sha256:5f2b4b5e1d6c...
    prune_keep: 3
"""

RETURN = r"""
path:
  description: The decompressed image, ready for M(machinist.podman.podman_machine)'s O(machinist.podman.podman_machine#module:image).
  returned: success
  type: str
sha256:
  description: The sha256 of the downloaded (compressed) bytes.
  returned: success, unless in check mode before a download
  type: str
uncompressed_sha256:
  description: The sha256 of the image at RV(path).
  returned: success, unless in check mode before a download
  type: str
size:
  description: Bytes of the image at RV(path).
  returned: success, unless in check mode before a download
  type: int
source:
  description: What was resolved, with C(url) or C(path), C(release), C(compression) and the expected digests.
  returned: always
  type: dict
release:
  description: The release the stream or index names, when it names one.
  returned: success
  type: str
cache_hit:
  description: Whether the image was already in the cache.
  returned: success
  type: bool
resumed:
  description: Whether an interrupted download was resumed.
  returned: when downloaded
  type: bool
pruned:
  description: Cached images removed by O(prune_older_than_days) or O(prune_keep).
  returned: success
  type: list
  elements: str
"""

import os
import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.machinist.podman.plugins.module_utils import _image_fetch as F
from ansible_collections.machinist.podman.plugins.module_utils import _machine_image as M

# The home of the user running the task, for ~ in a local source and the default cache.
HOME = os.environ.get('HOME') or os.getcwd()


def _digest(value, field):
    if value is None:
        return None
    text = value.split(':', 1)[1] if value.startswith('sha256:') else value
    if len(text) != 64 or any(c not in '0123456789abcdef' for c in text.lower()):
        raise F.FetchError('%s: %r must be a sha256, as sha256:HEX or HEX (64 hex digits)' % (field, value))
    return text.lower()


def resolve(p, arch):
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
        art = M.from_file(os.path.join(HOME, src[2:]) if src.startswith('~/') else src, checksum, uncompressed)
    for field, given, known in (('checksum', checksum, art.sha256), ('uncompressed_checksum', uncompressed,
                                                                     art.uncompressed_sha256)):
        if given and known and given != known:
            raise F.FetchError('%s: %s does not agree with the %s metadata, which says %s' % (field, given, art.source, known))
    art.sha256 = art.sha256 or checksum
    art.uncompressed_sha256 = art.uncompressed_sha256 or uncompressed
    return art


def main():
    module = AnsibleModule(
        argument_spec=dict(
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
        ),
        required_together=[('username', 'password')],
        supports_check_mode=True,
    )
    p = module.params
    arch = p['arch'] or M.fcos_arch(platform.machine())
    cache_dir = p['cache_dir'] or os.path.join(os.environ.get('XDG_CACHE_HOME') or os.path.join(HOME, '.cache'),
                                               'machinist.podman', 'images')
    if p['prune_keep'] is not None and p['prune_keep'] < 1:
        module.fail_json(msg='prune_keep: %d must be 1 or more (the image returned is always kept)' % p['prune_keep'])
    art = None
    try:
        art = resolve(p, arch)
        cache = M.Cache(cache_dir)
        progress = p['progress_file'] or os.path.join(cache_dir, '.partial', art.key() + '.progress')
        out = M.ensure(cache, art, verify=p['verify'], check_mode=module.check_mode, progress_path=progress,
                       lock_timeout=p['lock_timeout'])
        pruned = []
        if p['prune_older_than_days'] is not None or p['prune_keep'] is not None:
            pruned = cache.prune(out['path'], p['prune_older_than_days'], p['prune_keep'], check_mode=module.check_mode)
    except F.FetchError as exc:
        shown = ('expected', 'seen', 'mismatch', 'url', 'status', 'truncated', 'resumable_bytes')
        extra = dict((k, v) for k, v in exc.extra.items() if k in shown)
        module.fail_json(msg=str(exc), changed=False, source=art.describe() if art else None, **extra)
    rec = out['record'] or {}
    module.exit_json(changed=out['changed'] or bool(pruned), path=out['path'], sha256=rec.get('sha256'),
                     uncompressed_sha256=rec.get('uncompressed_sha256'), size=rec.get('size'), source=art.describe(),
                     release=art.release, cache_hit=out['cache_hit'], resumed=out.get('resumed', False), pruned=pruned)


if __name__ == '__main__':
    main()

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
  platform:
    description: Target operating systems.
    support: full
    platforms: [posix, windows]
    details:
      - On a POSIX target the module runs there and decompresses while it downloads.
      - On a Windows target (a connection with the PowerShell shell) the controller resolves O(source) (stream
        metadata, a registry index, with O(username) and O(password)), and the target downloads the artifact with
        C(curl.exe), checks its sha256 with C(Get-FileHash) and keeps it in its cache still compressed; podman
        decompresses a local compressed image itself at C(machine init). A registry token reaches the target on the
        connection's standard input, never in a command. O(uncompressed_checksum) alone, O(progress_file),
        O(prune_keep) and O(prune_older_than_days) are refused there, and there is no lock between two runs.
      - The variable C(machinist_podman_controller_side=true) takes that path on a POSIX target too (with C(curl)).
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
    description:
      - Where images are kept. Defaults to C($XDG_CACHE_HOME/machinist.podman/images) (C(~/.cache/...) when unset);
        on a Windows target C(%USERPROFILE%\.cache\machinist.podman\images).
      - An image found here is handed to podman as verified, so on a POSIX host the folder (and its C(.partial) and
        C(.locks)) must belong to the user and not be writable by others; new folders are made mode 0700 and files
        0600. Any other folder is refused with the fix.
      - Cache files are named by the artifact's key and its name cut to letters, digits, C(.), C(_) and C(-), so a
        name that a server or registry chooses can never lead outside the folder.
    type: path
  verify:
    description:
      - V(record) trusts the cache's record of size, mtime and digests; V(full) rehashes the image and compares it
        with the digest the source states (never with the record's own word).
      - With V(full), an image whose source states only the compressed digest (an OCI layer, a URL with only
        O(checksum)) cannot be checked once decompressed, so it is fetched again.
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
  timeout:
    description:
      - Seconds the whole fetch may take, every location in O(mirrors) included. Each read also gives up after 60
        seconds of silence; this bounds a server that keeps sending a trickle.
      - A fetch stopped at its deadline keeps its bytes under C(.partial/) and the next run resumes them.
    type: int
    default: 3600
  max_size:
    description:
      - The largest image to accept, decompressed (and so the largest download), in bytes or with a unit such as
        V(64GiB). A source that would be larger is refused and nothing is kept, so a small compressed file cannot
        fill the disk. A registry blob is also held to the size its manifest states.
      - When the source states the compressed digest (O(checksum), a stream, an OCI layer), the downloaded bytes are
        checked against it before anything is decompressed.
    type: str
    default: 40GiB
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
compressed:
  description: Whether RV(path) is the artifact as downloaded, still compressed (the controller-side path).
  returned: on the controller-side path
  type: bool
controller_side:
  description: Present and true when the controller resolved the source and the target fetched it (a Windows target).
  returned: on the controller-side path
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalRunner
from ansible_collections.machinist.podman.plugins.module_utils._tasks.image import IMAGE_ARGS, IMAGE_REQUIRED_TOGETHER, image_module_task
from ansible_collections.machinist.podman.plugins.module_utils._tasks.module import run_module


def main():
    module = AnsibleModule(argument_spec=IMAGE_ARGS, required_together=IMAGE_REQUIRED_TOGETHER, supports_check_mode=True)
    # No podman here: the image goes into the cache on this host, through its files; the runner starts
    # only the zstd program, for a zstd image.
    run_module(module, image_module_task, LocalRunner('zstd', module.run_command))


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ignition_config
short_description: CoreOS Ignition configs (spec 3.0 to 3.5) for Podman machines, from Ansible-friendly options
version_added: 0.2.0
description:
  - Builds an Ignition config from users, groups, files, directories, links, systemd units and drop-ins, kernel
    arguments, merge and replace sources, TLS CAs and a proxy, checks it, and writes it atomically to O(dest) with mode
    0600 (or only returns it).
  - With O(base), extends an existing config, typically the one C(podman machine init) generated for a machine
    before its first boot, keeping podman's users, SSH keys, ready unit and socket links. Users of the same name get
    the union of SSH keys and groups; a file, directory, link or unit of the same path or name replaces the base's,
    and the result's C(replaced) lists them.
  - Every error names the field and the fix. Fields the chosen spec lacks, duplicate paths across files,
    directories and links, relative paths, and modes out of range are refused.
  - File contents become data URLs (the shortest of percent-encoded, base64, and gzip+base64). A O(files[].src) is
    read on the controller.
author:
  - machinist.podman contributors (@machinist-podman)
extends_documentation_fragment:
  - machinist.podman._attributes
attributes:
  check_mode:
    support: full
    details:
      - Builds and checks the config, and says whether O(dest) would change.
  diff_mode:
    support: full
    details:
      - The old and new text of O(dest), each password hash and proxy credential in them (the old file's too) shown as
        C(********).
  idempotent:
    support: full
options:
  dest:
    description: Where to write the config (mode 0600, atomically). Unset only returns it.
    type: path
  base:
    description: An Ignition config file to extend, on the host that runs the module.
    type: path
  spec_version:
    description:
      - The Ignition spec to write. Unset picks the lowest that has every field used, at least 3.2.0 (what podman
        generates) and at least O(base)'s.
    type: str
    choices: ['3.0.0', '3.1.0', '3.2.0', '3.3.0', '3.4.0', '3.5.0']
  users:
    description: Users to create or change.
    type: list
    elements: dict
    suboptions:
      name:
        description: User name.
        type: str
        required: true
      password_hash:
        description: A crypt(3) hash (C(mkpasswd -m sha-512)), never clear text. Not logged.
        type: str
      ssh_authorized_keys:
        description: OpenSSH public key lines.
        type: list
        elements: str
      groups:
        description: Supplementary groups.
        type: list
        elements: str
      uid:
        description: The UID.
        type: int
      gecos:
        description: The GECOS field.
        type: str
      home_dir:
        description: The home directory.
        type: str
      shell:
        description: The login shell.
        type: str
      primary_group:
        description: The primary group.
        type: str
      system:
        description: A system user.
        type: bool
      no_create_home:
        description: Do not create the home directory.
        type: bool
      should_exist:
        description: V(false) removes the user (spec 3.2.0 and later).
        type: bool
  groups:
    description: Groups to create.
    type: list
    elements: dict
    suboptions:
      name:
        description: Group name.
        type: str
        required: true
      gid:
        description: The GID.
        type: int
      system:
        description: A system group.
        type: bool
      should_exist:
        description: V(false) removes the group (spec 3.2.0 and later).
        type: bool
  files:
    description: Files. Give one of O(files[].content), O(files[].src) and O(files[].url).
    type: list
    elements: dict
    suboptions:
      path:
        description: Absolute path in the machine.
        type: str
        required: true
      content:
        description:
          - The text of the file.
          - Not logged, as it may hold a secret. Ansible masks this text, and the module the data URL it becomes, wherever
            they appear in the result (the returned C(config) and the diff), so a short or common text masks those
            characters in other fields too.
        type: str
      src:
        description: A file on the controller whose bytes become the content, looked up as M(ansible.builtin.copy) does.
        type: path
      content_base64:
        description:
          - The content as base64, for bytes that are not text. The action plugin fills it from O(files[].src).
          - Not logged, as O(files[].content); the contents of a O(files[].src) are not logged either.
        type: str
      url:
        description:
          - A URL the machine fetches (http, https, tftp, s3; gs from spec 3.2.0, arn from 3.4.0).
        type: str
      hash:
        description: With O(files[].url), C(sha512-HEX) (or C(sha256-HEX) from spec 3.1.0) of the content.
        type: str
      compression:
        description: With O(files[].url), V(gzip) when the URL serves gzip.
        type: str
        choices: [gzip]
      mode:
        description: Octal, as a quoted string, V("0644") (the default) or V("0755"). An unquoted number is refused.
        type: raw
      owner:
        description: User name or UID.
        type: str
      group:
        description: Group name or GID.
        type: str
      overwrite:
        description: Replace an existing file.
        type: bool
      append:
        description: Append the content to the file instead of writing it.
        type: bool
        default: false
  directories:
    description: Directories.
    type: list
    elements: dict
    suboptions:
      path:
        description: Absolute path.
        type: str
        required: true
      mode:
        description: Octal, as a quoted string, default V("0755").
        type: raw
      owner:
        description: User name or UID.
        type: str
      group:
        description: Group name or GID.
        type: str
      overwrite:
        description: Replace what is there.
        type: bool
  links:
    description: Symbolic (or hard) links.
    type: list
    elements: dict
    suboptions:
      path:
        description: Absolute path of the link.
        type: str
        required: true
      target:
        description: What it points to.
        type: str
        required: true
      hard:
        description: A hard link (the target must then be absolute).
        type: bool
      owner:
        description: User name or UID.
        type: str
      group:
        description: Group name or GID.
        type: str
      overwrite:
        description: Replace what is there.
        type: bool
  units:
    description: systemd units and drop-ins.
    type: list
    elements: dict
    suboptions:
      name:
        description: The unit name with its suffix, such as V(web.service).
        type: str
        required: true
      contents:
        description: The unit file. Checked as Ignition checks it (sections, then KEY=VALUE lines).
        type: str
      enabled:
        description: Enable or disable it (unset leaves it).
        type: bool
      mask:
        description: Mask it.
        type: bool
      dropins:
        description: Drop-ins, each a C(name) ending in C(.conf) and its C(contents).
        type: list
        elements: dict
  kernel_arguments:
    description: Kernel arguments that should (not) exist (spec 3.3.0 and later), as C(should_exist) and C(should_not_exist) lists.
    type: dict
  merge:
    description: Configs to fetch and merge, each C(url) and C(hash).
    type: list
    elements: dict
  replace:
    description: A config that replaces this one, as C(url) and C(hash).
    type: dict
  tls_cas:
    description: Certificate authorities Ignition trusts for its fetches, each C(content) (PEM), or C(url) and C(hash).
    type: list
    elements: dict
  proxy:
    description: Proxy for Ignition's fetches (spec 3.1.0 and later).
    type: dict
    suboptions:
      http_proxy:
        description: The proxy URL for http fetches. It may hold credentials (C(http://user:password@host:port)), so it
          is not logged.
        type: str
      https_proxy:
        description: The proxy URL for https fetches. Not logged, as O(proxy.http_proxy).
        type: str
      no_proxy:
        description: Hosts and domains fetched without the proxy.
        type: list
        elements: str
notes:
  - Every password hash in the returned C(config) and in the diff is shown as C(********), both those of
    O(users[].password_hash), which Ansible masks wherever they appear in the result, and those read from O(base) or
    from the old file at O(dest), which the module masks. So is the C(user:password) part of a proxy URL. The file at
    O(dest) has the real values.
  - The integration tests validate every produced config with C(ignition-validate) from Debian's C(ignition) 2.14 package,
    which knows specs up to 3.3.0; configs for 3.4.0 and 3.5.0 are checked against the collection's own field table.
"""

EXAMPLES = r"""
- name: Podman's generated config for a new machine, plus a file and a unit, before its first boot
  machinist.podman.ignition_config:
    base: ~/.config/containers/podman/machine/qemu/dev.ign
    dest: ~/machines/dev.ign
    files:
      - path: /etc/containers/registries.conf.d/50-mirror.conf
        content: |
          [[registry]]
          location = "docker.io"
          [[registry.mirror]]
          location = "mirror.example.com"
    units:
      - name: cockpit.socket
        enabled: true

- name: A user with a key and a hash from the vault
  machinist.podman.ignition_config:
    dest: /srv/ignition/worker.ign
    users:
      - name: ops
        groups: [wheel]
        ssh_authorized_keys: ["{{ lookup('file', 'ops.pub') }}"]
        password_hash: "{{ vault_ops_hash }}"
"""

RETURN = r"""
config:
  description:
    - The config as written, each password hash (from the options or from O(base)) and the C(user:password) of each
      proxy URL shown as C(********).
    - A value of a no_log option (O(files[].content), O(files[].content_base64), O(proxy.http_proxy),
      O(proxy.https_proxy)) is masked wherever it appears, a file's content also as the data URL it becomes, so the
      C(source) of such a file is C(VALUE_SPECIFIED_IN_NO_LOG_PARAMETER) here.
  returned: success
  type: dict
version:
  description: The Ignition spec of the config.
  returned: success
  type: str
  sample: 3.2.0
sha512:
  description: The C(sha512-...) hash of the config text, for a C(merge) or C(replace) that fetches it.
  returned: success
  type: str
replaced:
  description: Paths and unit names of O(base) that the options replaced.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.machinist.podman.plugins.module_utils._tasks.ignition import IGNITION_ARGS, ignition_task
from ansible_collections.machinist.podman.plugins.module_utils._tasks.module import run_module


def main():
    module = AnsibleModule(argument_spec=IGNITION_ARGS, supports_check_mode=True)
    run_module(module, ignition_task)


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_image
short_description: Container images in a Podman machine (or any Podman service), through the libpod REST API
version_added: 0.2.0
description:
  - Makes a container image present (pulled from a registry, or loaded from an archive on the host that runs the
    task) or absent, in a Podman machine or any C(podman system service).
  - This is about images that containers run. The machine's own OS disk image is
    M(machinist.podman.podman_machine_image)'s business.
  - A pull failure is detected even though podman reports it inside a successful (200) answer.
author:
  - machinist.podman contributors (@machinist-podman)
extends_documentation_fragment:
  - machinist.podman._api
  - machinist.podman._api.SSH
  - machinist.podman._attributes
  - machinist.podman._attributes.ACTIONGROUP_API
attributes:
  check_mode:
    support: full
    details:
      - With O(pull=always), check mode cannot know whether the registry has a newer image and reports no change.
  diff_mode:
    support: full
    details:
      - Returns the image ID before and after.
  idempotent:
    support: full
options:
  name:
    description: The image reference, for example V(docker.io/library/busybox:1.36) or V(localhost/web:1).
    type: str
    required: true
  state:
    description: V(present) or V(absent).
    type: str
    choices: [present, absent]
    default: present
  load_path:
    description:
      - Load the image from this C(podman save) archive (docker-archive or oci-archive) on the host that runs the
        task, instead of pulling. It is loaded only when the machine lacks that image (by ID) under O(name).
    type: path
  pull:
    description:
      - V(missing) pulls only when the image is not there; V(always) asks the registry each time and reports a change
        only when that brought another image.
    type: str
    choices: [missing, always]
    default: missing
  username:
    description: Registry user name for the pull.
    type: str
  password:
    description: Registry password or token for the pull. Never logged.
    type: str
  tls_verify:
    description: Check the registry's TLS certificate. Unset keeps the server's default (check).
    type: bool
  force:
    description: With O(state=absent), also remove the containers that use the image.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: An image built on the controller, loaded into the default machine
  machinist.podman.container_image:
    machine: podman-machine-default
    name: localhost/web:1.4
    load_path: /var/tmp/web-1.4.tar

- name: From a private registry
  machinist.podman.container_image:
    machine: podman-machine-default
    name: registry.example.com/team/api:2.0
    username: ci
    password: "{{ vault_registry_token }}"

- name: Gone, with the containers that use it
  machinist.podman.container_image:
    machine: podman-machine-default
    name: localhost/web:1.3
    state: absent
    force: true
"""

RETURN = r"""
image:
  description: The image after the task, or null when absent or not yet there in check mode.
  returned: success
  type: dict
  contains:
    id: {description: Image ID., type: str}
    names: {description: Its names., type: list, elements: str}
    digest: {description: Manifest digest., type: str}
    size: {description: Size in bytes., type: int}
    architecture: {description: CPU architecture., type: str}
actions:
  description: What was done (or would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["load web-1.4.tar"]
requests:
  description: The API requests made (method, path, status).
  returned: always
  type: list
  elements: dict
api_url:
  description: Where the API was reached.
  returned: always
  type: str
ssh_client:
  description: The SSH client that reached the server (V(paramiko) or V(openssh), see O(ssh_client)).
  returned: when SSH was used
  type: str
  sample: openssh
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.machinist.podman.plugins.module_utils._tasks.api import run_api_module
from ansible_collections.machinist.podman.plugins.module_utils._tasks.container import CONTAINER_IMAGE_ARGS, CONTAINER_IMAGE_RULES, container_image_task


def main():
    module = AnsibleModule(argument_spec=CONTAINER_IMAGE_ARGS, supports_check_mode=True, **CONTAINER_IMAGE_RULES)
    run_api_module(module, container_image_task)


if __name__ == '__main__':
    main()

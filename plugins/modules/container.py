#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container
short_description: Containers in a Podman machine (or any Podman service), through the libpod REST API
version_added: 0.2.0
description:
  - Makes a container exist with the declared image, command, environment, ports, volumes, labels, network and
    restart policy, in the state asked for, by talking to the Podman API of a machine or of any
    C(podman system service) (locally or over SSH). No C(podman --remote) or C(podman --connection) runs.
  - Idempotent by comparison with the container's inspect. Environment and labels are compared as subsets (the
    image and podman add their own), the command only when given, ports, volumes and the restart policy exactly, and
    the image by ID, so a tag that now names another image recreates the container. Options left unset are not
    managed.
  - Any difference, or O(recreate=true), recreates the container; the result's C(differences) says why. The new one
    is created first under a temporary name, so a spec podman refuses leaves the old container as it was; only then
    is the old one removed and the new one renamed.
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
      - Reads the container and the image, and predicts every action without making it.
  diff_mode:
    support: full
    details:
      - Returns C(before) and C(after) of the declared fields and the state.
  idempotent:
    support: full
    details:
      - Except O(recreate=true), which recreates on every run.
options:
  name:
    description: The container's name.
    type: str
    required: true
  state:
    description:
      - V(started) creates it if needed and makes it run; V(stopped) creates it if needed and makes it not run;
        V(present) creates it if needed and leaves it as it is; V(absent) removes it (stopping it first).
    type: str
    choices: [present, started, stopped, absent]
    default: started
  image:
    description: The image reference. Required unless O(state=absent).
    type: str
  pull:
    description:
      - When to pull O(image). V(missing) pulls only when the machine lacks it, V(always) asks the registry every time
        (changed only when that brings another image), V(never) fails when the image is missing.
    type: str
    choices: [missing, always, never]
    default: missing
  command:
    description: The command and its arguments, as a list. Unset keeps the image's.
    type: list
    elements: str
  env:
    description: Environment variables. Variables the image or podman set are not compared unless named here.
    type: dict
  labels:
    description: Labels. Labels the image or podman set are not compared unless named here.
    type: dict
  ports:
    description:
      - Published ports, each V([HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp]), for example V(127.0.0.1:8080:80).
      - In a Podman machine, podman asks gvproxy to forward each host port from the machine's host, so
        V(8080:80) is reached at V(localhost:8080) on the host. Do not also declare the same host port with
        M(machinist.podman.port_forward).
      - Unset leaves ports unmanaged; an empty list means none.
    type: list
    elements: str
  volumes:
    description:
      - Volumes, each V(SOURCE:DEST[:ro|rw]). An absolute SOURCE is a bind mount of a path in the machine; a name is a
        named volume (created if missing).
      - Unset leaves volumes unmanaged; an empty list means none.
    type: list
    elements: str
  network:
    description: The network mode. Unset leaves podman's default and is not compared.
    type: str
    choices: [bridge, host, none, slirp4netns, pasta, private]
  restart_policy:
    description: What podman does when the container exits. Unset leaves it unmanaged (podman's default is V(no)).
    type: str
    choices: ['no', always, on-failure, unless-stopped]
  restart_retries:
    description: With O(restart_policy=on-failure), how many times to restart.
    type: int
  recreate:
    description: Remove and create the container even if it matches.
    type: bool
    default: false
  stop_timeout:
    description: Seconds podman waits for the container to stop before killing it.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: A web server in the default machine, reached at http://localhost:8080 on the host
  machinist.podman.container:
    machine: podman-machine-default
    name: web
    image: docker.io/library/nginx:1.27
    ports: ["8080:80"]
    volumes: ["/var/srv/www:/usr/share/nginx/html:ro"]
    restart_policy: always

- name: The same, against a remote host's rootless socket over SSH, with its key pinned
  machinist.podman.container:
    api_url: ssh://builder@build01.example.com/run/user/1000/podman/podman.sock
    ssh_identity: ~/.ssh/id_ed25519
    ssh_host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB4Xw... "
    name: web
    image: docker.io/library/nginx:1.27
    state: stopped

- name: Gone
  machinist.podman.container:
    machine: podman-machine-default
    name: web
    state: absent
"""

RETURN = r"""
container:
  description:
    - The container as inspected after the task (in the comparable shape below), or null when absent or in
      check mode.
  returned: success
  type: dict
  contains:
    id: {description: The container ID., type: str}
    image: {description: The image name podman recorded., type: str}
    image_id: {description: The image ID., type: str}
    command: {description: The command., type: list, elements: str}
    env: {description: All environment variables., type: dict}
    labels: {description: All labels., type: dict}
    ports: {description: "Published ports as [host_ip, host_port, container_port, protocol].", type: list, elements: list}
    volumes: {description: "Mounts as [type, source, destination, writable].", type: list, elements: list}
    restart_policy: {description: The restart policy., type: str}
    network: {description: The network mode., type: str}
    state: {description: "created, running, exited, ...", type: str}
actions:
  description: What was done (or would be, in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [create, remove, rename, start]
differences:
  description: Why the container was recreated, field by field.
  returned: success
  type: list
  elements: dict
requests:
  description: The API requests made (method, path, status), for auditing and benchmarks.
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
from ansible_collections.machinist.podman.plugins.module_utils._tasks.container import CONTAINER_ARGS, CONTAINER_RULES, container_task


def main():
    module = AnsibleModule(argument_spec=CONTAINER_ARGS, supports_check_mode=True, **CONTAINER_RULES)
    run_api_module(module, container_task)


if __name__ == '__main__':
    main()

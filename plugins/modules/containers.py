#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: containers
short_description: Many containers in one task, over one connection to the Podman API
version_added: 0.3.0
description:
  - Converges a list of containers, each exactly as M(machinist.podman.container) converges one (the same options,
    idempotency, differences and new-first recreate), in one task and over one connection to the Podman API of a
    machine or of any C(podman system service).
  - Two containers are worked on at a time. Creations, pulls, stops, recreations and removals are made in the list's
    order; a new container is started as soon as it is created, so its start may overlap the start of the one before
    it. A container that must start only after another has started belongs in a later task.
  - One task instead of one per container saves Ansible's task round trip for each (about 0.4 s) and the API
    connection's set-up; use it for a workload of several containers.
  - Every item is checked before anything is reached; a name given twice is refused.
  - A container that fails does not stop the others. The task then fails, naming each container that failed and
    why, and RV(containers) holds every container's result. A lost connection stops the task; the containers not
    reached are listed as such (the one already being created reports its own failure).
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
      - Reads each container and its image, and predicts every action without making it.
  diff_mode:
    support: full
    details:
      - Returns C(before) and C(after) of the declared fields and the state, by container name.
  idempotent:
    support: full
    details:
      - Except items with C(recreate=true), which are recreated on every run.
options:
  containers:
    description:
      - The containers, each with the options of M(machinist.podman.container) (which documents each in full).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The container's name. Each name once in the list.
        type: str
        required: true
      state:
        description: V(started), V(stopped), V(present) or V(absent), as M(machinist.podman.container)'s C(state).
        type: str
        choices: [present, started, stopped, absent]
        default: started
      image:
        description: The image reference. Required unless C(state=absent).
        type: str
      pull:
        description: When to pull C(image), as M(machinist.podman.container)'s C(pull).
        type: str
        choices: [missing, always, never]
        default: missing
      command:
        description: The command and its arguments, as a list. Unset keeps the image's.
        type: list
        elements: str
      env:
        description: Environment variables, compared as a subset.
        type: dict
      labels:
        description: Labels, compared as a subset.
        type: dict
      ports:
        description: Published ports, each V([HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp]). Unset leaves them unmanaged.
        type: list
        elements: str
      volumes:
        description: Volumes, each V(SOURCE:DEST[:ro|rw]). Unset leaves them unmanaged.
        type: list
        elements: str
      network:
        description: The network mode. Unset leaves podman's default and is not compared.
        type: str
        choices: [bridge, host, none, slirp4netns, pasta, private]
      restart_policy:
        description: What podman does when the container exits. Unset leaves it unmanaged.
        type: str
        choices: ['no', always, on-failure, unless-stopped]
      restart_retries:
        description: With C(restart_policy=on-failure), how many times to restart.
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
- name: A web server and its cache in the default machine, in one task
  machinist.podman.containers:
    machine: podman-machine-default
    containers:
      - name: cache
        image: docker.io/library/redis:7
        restart_policy: always
      - name: web
        image: docker.io/library/nginx:1.27
        ports: ["8080:80"]
        restart_policy: always

- name: The containers an inventory declares for this laptop (a list of such dicts)
  machinist.podman.containers:
    machine: podman-machine-default
    containers: "{{ laptop_containers }}"

- name: Those gone
  machinist.podman.containers:
    machine: podman-machine-default
    containers:
      - {name: cache, state: absent}
      - {name: web, state: absent}
"""

RETURN = r"""
containers:
  description:
    - Each container's result, in the order given, also when the task fails.
    - A converged container has C(changed), C(actions), C(container) and C(differences), as
      M(machinist.podman.container) returns them; a failed one has C(failed) and C(msg).
  returned: always
  type: list
  elements: dict
  sample:
    - {name: cache, changed: false, actions: [], differences: []}
    - {name: web, changed: true, actions: [create, start], differences: []}
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
from ansible_collections.machinist.podman.plugins.module_utils._tasks.container import CONTAINERS_ARGS, CONTAINERS_RULES, containers_task


def main():
    module = AnsibleModule(argument_spec=CONTAINERS_ARGS, supports_check_mode=True, **CONTAINERS_RULES)
    run_api_module(module, containers_task)


if __name__ == '__main__':
    main()

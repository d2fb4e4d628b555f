#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: podman_machine_network
short_description: Trusted CA certificates, a proxy and registry mirrors inside a Podman machine
version_added: 0.3.0
description:
  - Makes a running Podman machine usable from a corporate network, as files in the machine's own OS, converged on a
    machine that already exists and kept across restarts and OS upgrades (they live in C(/etc) and
    C(/usr/local/share), which both survive).
  - O(ca_certificates) are placed where the machine's OS takes trust anchors, one file per certificate, and the trust
    store is rebuilt, so that podman, curl and builds in the machine trust them. Fedora CoreOS, podman's machine-os
    and Fedora take them in C(/etc/pki/ca-trust/source/anchors) (C(update-ca-trust)); Debian-based images in
    C(/usr/local/share/ca-certificates) (C(update-ca-certificates)).
  - O(proxy) goes where podman reads it, a C(containers.conf.d) drop-in's C([engine] env), which podman hands to the
    containers it starts, and drop-ins of the system and user C(podman.service) units that answer podman's API.
    C(localhost) and C(127.0.0.1) in a proxy URL are rewritten to the address at which the machine reaches the host
    (V(192.168.127.254), gvproxy's, for every provider but WSL without user-mode networking, where it is the
    machine's default gateway), since inside the machine C(127.0.0.1) is the machine itself.
  - O(registries) becomes a C(registries.conf.d) drop-in with mirrors per registry, insecure and blocked registries and the
    search registries. A mirror's loopback address is rewritten as the proxy's is.
  - Every file the module places is named C(*machinist-podman-*); it changes and removes only those. Emptying a
    setting (V([]) or V({})) removes its files; a setting left out is left as it is; O(state=absent) removes all of
    them.
  - The module reaches the machine over its own SSH (its port, user and key; the host key checked against the
    collection's known_hosts, as the API modules do) and runs the changes as root with C(sudo). It reads the machine
    once, writes only the files whose content differs (each written whole, then renamed into place), and reads the
    machine again to prove the result.
  - On Podman 6, M(machinist.podman.podman_machine)'s C(import_native_ca) imports the host's whole trust store at
    every boot instead; this module places only the certificates given, on every version.
  - A machine that has not booted yet has no OS to place files in; this module needs it running. To place the same
    files at creation, put them in the machine's Ignition config (M(machinist.podman.ignition_config) and
    M(machinist.podman.podman_machine)'s C(ignition)), which Podman 4, 5 and 6 apply at the first boot alike.
  - Runs on the host that runs podman (the module path), with the OpenSSH client or the Python library paramiko
    there (O(ssh_client)).
author:
  - machinist.podman contributors (@machinist-podman)
extends_documentation_fragment:
  - machinist.podman._api.SSH
  - machinist.podman._attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the machine and reports which files would be written or removed, and their content.
  diff_mode:
    support: full
    details:
      - Returns each file the module manages for the declared settings, before and after, proxy passwords replaced.
  idempotent:
    support: full
options:
  machine:
    description: The running Podman machine to change.
    type: str
    required: true
  ca_certificates:
    description:
      - CA certificates for the machine to trust, each PEM text or the path of a PEM file (C(.pem) or C(.crt)) on the
        host that runs this task. A bundle gives each of its certificates a file.
      - A private key, or anything that is not a certificate, is refused by name and never shown.
      - V([]) removes the certificates this module placed.
    type: list
    elements: str
  proxy:
    description:
      - The proxy of podman and of the containers it starts. V({}) removes it.
      - A password in a URL is never shown, in results, diffs or failures.
    type: dict
    suboptions:
      http:
        description: For http URLs, as V(http://[USER:PASSWORD@]HOST:PORT) (percent-encode a password's C(@) as C(%40)).
        type: str
      https:
        description: For https URLs (the one registries use), usually the same V(http://...) proxy.
        type: str
      no_proxy:
        description: Hosts, domains (V(.corp.example.com)), addresses and CIDR ranges reached without the proxy.
        type: list
        elements: str
  registries:
    description:
      - Registry mirrors and settings, as a C(registries.conf.d) drop-in. V({}) removes it.
      - Registries are written V(HOST[:PORT][/PATH]), without a scheme.
    type: dict
    suboptions:
      mirrors:
        description:
          - Maps a registry (V(docker.io)) to its mirrors, tried in order before it. Each mirror is a
            V(HOST[:PORT][/PATH]), or a dict with C(location) and C(insecure) (plain HTTP or an unverified
            certificate).
        type: dict
      insecure:
        description: Registries reached over plain HTTP or with an unverified certificate.
        type: list
        elements: str
      blocked:
        description: Registries podman must never pull from.
        type: list
        elements: str
      search:
        description: The registries a short name (V(busybox)) is looked up in, in order.
        type: list
        elements: str
  state:
    description: V(absent) removes every file this module placed, whatever the other options say.
    type: str
    choices: [present, absent]
    default: present
  timeout:
    description: Seconds each command in the machine may take.
    type: int
    default: 300
  executable:
    description: The podman that runs the machine (to read its SSH port, user and key).
    type: str
    default: podman
notes:
  - Tested for real in booted machines with Debian guests (podman 4.3.1, 5.4.2 and 6.1.1), against a TLS registry, a
    logging proxy and a mirror on the host's loopback. The Fedora family's paths and commands are unit-tested only
    (no Fedora CoreOS or machine-os image can be downloaded where the tests run).
"""

EXAMPLES = r"""
- name: The corporate laptop's machine trusts the proxy's CA, uses the proxy and the internal mirror
  machinist.podman.podman_machine_network:
    machine: podman-machine-default
    ca_certificates:
      - /etc/pki/corp/zscaler-root.pem
    proxy:
      http: "http://proxy.corp.example.com:3128"
      https: "http://proxy.corp.example.com:3128"
      no_proxy: [.corp.example.com, 10.0.0.0/8]
    registries:
      mirrors:
        docker.io: [mirror.corp.example.com/dockerhub]
      search: [docker.io]

- name: A proxy that runs on the laptop itself (127.0.0.1 is rewritten to the host as the machine reaches it)
  machinist.podman.podman_machine_network:
    machine: podman-machine-default
    proxy:
      https: "http://{{ proxy_user }}:{{ proxy_password }}@127.0.0.1:3128"

- name: Remove the proxy, keep the certificates and the mirrors
  machinist.podman.podman_machine_network:
    machine: podman-machine-default
    proxy: {}

- name: Remove everything this module placed
  machinist.podman.podman_machine_network:
    machine: podman-machine-default
    state: absent
"""

RETURN = r"""
os_family:
  description: The machine's OS family, which decides where certificates go.
  returned: success
  type: str
  sample: debian
host_address:
  description: The address at which the machine reaches the host, which a loopback proxy or mirror was rewritten to.
  returned: success
  type: str
  sample: 192.168.127.254
written:
  description: The files written (or, in check mode, that would be).
  returned: success
  type: list
  elements: str
  sample: [/etc/containers/registries.conf.d/50-machinist-podman-registries.conf]
removed:
  description: The files removed (or that would be).
  returned: success
  type: list
  elements: str
ca_certificates:
  description: The SHA-256 fingerprints of the certificates declared.
  returned: success
  type: list
  elements: str
proxy:
  description: The proxy declared, passwords replaced.
  returned: when a proxy is declared
  type: dict
commands:
  description: What was run in the machine, in order.
  returned: always
  type: list
  elements: str
ssh_client:
  description: The SSH client that reached the machine (V(paramiko) or V(openssh), see O(ssh_client)).
  returned: when the machine was reached over SSH
  type: str
  sample: openssh
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.machinist.podman.plugins.module_utils._tasks.api import run_api_module
from ansible_collections.machinist.podman.plugins.module_utils._tasks.machine_network import NETWORK_ARGS, network_task


def main():
    module = AnsibleModule(argument_spec=NETWORK_ARGS, supports_check_mode=True)
    run_api_module(module, network_task)


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: podman_machine
short_description: Create, start, stop, change and remove Podman machines
version_added: 0.1.0
description:
  - Manages a Podman machine, the Linux VM that C(podman machine) runs so that containers work on macOS, Windows
    and Linux hosts, idempotently and the same way on Podman 4.x, 5.x and 6.x.
  - One C(podman machine inspect) decides what to do. A run that changes nothing makes no other podman call.
  - Settings that C(podman machine set) can change (O(cpus), O(memory), O(disk_size) upwards, O(rootful),
    O(user_mode_networking) on WSL, O(usb) on qemu) converge in place. A running machine is stopped, changed and
    started again, and only when something differs. When the change fails after the stop, the machine is started
    again all the same (best effort) and the message says whether that worked (C(restarted) in the failed result).
  - Changes that C(set) cannot make (O(image), O(username), O(volumes), O(timezone), a smaller disk, CPUs or memory
    on WSL) never destroy the machine silently. The task fails with a message that names the option, the provider,
    and the way out, O(recreate=true).
  - Known podman failures get a clear answer. A start on a running machine is not an error. When another machine
    blocks the start (only one VM at a time), the message names it. A machine stuck in C(starting) is stopped and
    started again. A half-created machine left by a failed C(init) is removed. A Podman 4 machine that Podman 5
    cannot read is reported with the way to migrate.
author:
  - machinist.podman contributors (@machinist-podman)
extends_documentation_fragment:
  - machinist.podman._common
  - machinist.podman._attributes
  - machinist.podman._attributes.ACTIONGROUP_MACHINE
  - machinist.podman._attributes.CONTROLLER_SIDE
attributes:
  check_mode:
    support: full
    details:
      - Predicts every action from one C(inspect) and runs nothing else that changes state.
  diff_mode:
    support: full
    details:
      - Returns structured C(before) and C(after) dicts of the managed settings.
  idempotent:
    support: full
    details:
      - Except O(state=restarted), which restarts the machine on every run.
options:
  name:
    description:
      - The machine's name. At most 30 characters, starting with a letter or digit, then letters, digits, V(_),
        V(.) and V(-). Provider names such as V(qemu) are refused.
    type: str
    default: podman-machine-default
  state:
    description:
      - V(present) makes sure the machine exists and has the settings given, and leaves it running or stopped as it
        was (a running machine that needs a change is stopped, changed and started again).
      - V(started) and V(stopped) also bring it to that run state.
      - V(restarted) stops it if it runs, then starts it; it always reports a change. On Podman 6.1 and later a running
        machine is restarted with one C(podman machine restart).
      - V(absent) removes the machine, its disk and its connections.
    type: str
    choices: [present, started, stopped, restarted, absent]
    default: present
  cpus:
    description: Number of virtual CPUs.
    type: int
  memory:
    description:
      - Memory of the machine. A bare number is MiB; a string may carry a binary unit, such as V(4GiB), V(4g) or
        V(512MiB). The result must be a whole number of MiB.
    type: str
  disk_size:
    description:
      - Size of the machine's disk. A bare number is GiB; a string may carry a unit, such as V(20GiB). Podman can only
        grow a disk; a smaller value than the current one fails (see O(recreate)).
    type: str
  swap:
    description:
      - Size of the zram swap in the machine (bare number MiB, or with a unit). Podman 5.6 or later; only when the
        machine is created.
    type: str
  rosetta:
    description:
      - Whether x86_64 programs in the machine run through Apple's Rosetta. Only for O(provider=applehv) machines on
        an Apple Silicon Mac, with Podman 5.1 or later; refused elsewhere, with the reason.
      - Podman reads it from C(containers.conf) (C([machine] rosetta), default true) when the machine is created; the
        module passes it for this machine alone, through a C(CONTAINERS_CONF_OVERRIDE) file in its state folder.
      - Only used when the machine is created; a different value for an existing machine (as C(inspect) reports it)
        fails, unless O(recreate=true).
    type: bool
  import_native_ca:
    description:
      - Whether the machine imports this host's trusted CA certificates at every boot (the Linux trust store, the
        macOS keychain, the Windows certificate store), so that pulls through a TLS-intercepting proxy work.
        Podman 6.0 and later (C(--import-native-ca) at init and set); refused by name on older versions.
      - Podman keeps it in the machine's own JSON file, not in C(inspect), so the module reads that file when the
        option is given. A change stops a running machine, sets it and starts the machine again, as other settings do.
    type: bool
  default_connection:
    description:
      - Whether the machine's connection is podman's default one (C(podman --remote) and the API clients use it).
      - V(true) makes it the default and keeps it so on every run (the connection V(NAME), or V(NAME-root) for a
        rootful machine), with C(podman system connection default); on Podman 6 init and start also get
        C(--update-connection=true).
      - V(false) leaves the default as it is. On Podman 6 init and start get C(--update-connection=false), so a new
        machine never becomes the default. Podman 4 and 5 make the first machine of a user the default at init and
        cannot be told not to; the task then warns.
      - Unset, podman decides as it does with no terminal on standard input (which the module never gives it), so
        the first machine becomes the default, and Podman 6 does not ask. Only a task that sets it reads the connections
        (one more podman call).
    type: bool
  image:
    description:
      - The machine OS image. A local file path, an http(s) URL, or a C(docker://) reference. Podman 4 also accepts
        the Fedora CoreOS streams V(testing), V(next) and V(stable).
      - Passed as C(--image-path) to Podman 4 and as C(--image) to Podman 5 and later.
      - Only used when the machine is created. A different value for an existing machine that this module created
        fails, unless O(recreate=true).
    type: str
  rootful:
    description:
      - Whether the machine's podman runs as root. Switching it also switches the default connection between
        C(NAME) and C(NAME-root) when the default points at this machine.
    type: bool
  user_mode_networking:
    description:
      - WSL only. Route the machine's traffic through gvproxy in user mode (useful with VPNs). Every other provider
        always uses user-mode networking, so V(false) is refused there and V(true) changes nothing.
      - Podman 4.6 or later.
    type: bool
  volumes:
    description:
      - Host folders mounted in the machine, each C(SOURCE:TARGET[:OPTIONS]) with options V(ro), V(rw) or
        C(security_model=...). System folders of the machine (C(/etc), C(/usr), C(/var)...) cannot be targets.
      - Only used when the machine is created. V([]) means no mounts at all. Ignored by WSL.
      - A qemu machine made by Podman 5 gets none of its volumes under Podman 6, which mounts them only with units
        written into the machine's Ignition config at creation. The task says so in a warning, and when this option
        declares one of those volumes it fails unless O(recreate=true), which makes the machine again with them.
    type: list
    elements: str
  timezone:
    description:
      - Time zone of the machine, an IANA name such as V(UTC) or V(Europe/Berlin), or V(local) for the host's.
      - Unset means podman reads the host's zone with C(timedatectl), which fails on hosts without systemd. Only used
        when the machine is created.
    type: str
  username:
    description: The user podman creates in the machine (default V(core)). Only used when the machine is created.
    type: str
  ignition_path:
    description:
      - An Ignition config used instead of the one podman generates. Podman then adds no SSH keys and no connections,
        so the config must provide them (see the machinist.podman.ignition_config module). Only used when the machine
        is created.
    type: path
  playbook:
    description:
      - An Ansible playbook file that podman runs inside the machine on its first boot. Podman 5.4 or later. Only used
        when the machine is created.
    type: path
  usb:
    description:
      - USB devices passed through to a qemu machine, each C(bus=N,devnum=M) or C(vendor=HEX,product=HEX).
        V([]) removes them all. Podman 4.8 or later.
    type: list
    elements: str
  recreate:
    description:
      - When the machine differs in something that only C(podman machine init) can set (O(image), O(username),
        O(volumes), a smaller O(disk_size), settings the provider cannot change), remove it and create it again.
      - This B(destroys the machine's containers, images and volumes). Without it such a difference fails the task
        and nothing is changed.
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for C(podman machine start) before stopping it and failing. Machines under software
        emulation need a few minutes.
    type: int
    default: 600
  command_timeout:
    description:
      - Seconds any other podman command of the task (inspect, list, init, set, stop, rm) may run before it is
        stopped and the task fails. C(init) downloads the image when O(image) is a URL or a stream name, so raise it
        for slow links, or fetch the image first with M(machinist.podman.podman_machine_image).
      - On Podman 4, whose client rewrites C(containers.conf) without a lock, init, rm and set run under this user's
        lock beside that file; an init that downloads holds it for the download too, so other tasks of the user wait.
        A local image (from M(machinist.podman.podman_machine_image)) keeps that wait to seconds. Podman 5 and later
        lock their own connections file, and the module takes no such lock there.
      - A creation also holds a lock on the machine's name, from a fresh inspect through init and the clean-up of a
        failed init, so that clean-up only ever removes what this task made.
    type: int
    default: 1800
  pin_host_key:
    description:
      - Podman never checks a machine's SSH host key, so the first connection to a new machine would trust
        whatever answers on its port. With V(true), a machine this task creates on qemu from podman's own Ignition
        config gets an ed25519 host key made on the host (with C(ssh-keygen)), placed through that config before
        the first boot, and its public half is recorded for the machine's port in the collection's known_hosts
        (which the API modules, M(machinist.podman.port_forward) and the inventory plugin check). No private key is
        left on the host outside podman's Ignition file, which is rewritten mode 0600.
      - Not done for other providers, for O(ignition_path) (place a key in your own config), or where
        C(ssh-keygen) is missing; a warning says so, and the key is then trusted on first use.
    type: bool
    default: true
seealso:
  - module: machinist.podman.podman_machine_info
  - name: podman-machine(1)
    description: The podman command this module drives.
    link: https://docs.podman.io/en/latest/markdown/podman-machine.1.html
"""

EXAMPLES = r"""
- name: A WSL machine on a Windows laptop (the play reaches it over WinRM or SSH with the PowerShell shell)
  machinist.podman.podman_machine:
    name: dev
    provider: wsl
    rootful: true
    state: started

- name: A running machine with 4 CPUs, 8 GiB of memory and a 60 GiB disk
  machinist.podman.podman_machine:
    cpus: 4
    memory: 8GiB
    disk_size: 60
    state: started

- name: The machine that podman --remote talks to, kept so even if someone switches the default away
  machinist.podman.podman_machine:
    name: dev
    default_connection: true
    state: started

- name: A second machine that must never take the default connection (Podman 6 is told so at init and start)
  machinist.podman.podman_machine:
    name: scratch
    default_connection: false

- name: A rootful machine from a local image, created but left stopped
  machinist.podman.podman_machine:
    name: builder
    image: /srv/images/podman-machine.x86_64.qcow2
    rootful: true
    timezone: UTC
    volumes: []
    state: present

- name: Set the podman binary once for every machine task of a play
  hosts: laptops
  module_defaults:
    group/machinist.podman.machine:
      executable: /opt/homebrew/bin/podman
  tasks:
    - name: The default machine, stopped
      machinist.podman.podman_machine:
        state: stopped

- name: Move to another image, knowingly destroying the machine's containers
  machinist.podman.podman_machine:
    name: builder
    image: docker://quay.io/podman/machine-os:5.8
    recreate: true

- name: Remove a machine
  machinist.podman.podman_machine:
    name: builder
    state: absent
"""

RETURN = r"""
host_key_pinned:
  description: The machine was created with a host key placed through its Ignition config and recorded (O(pin_host_key)).
  returned: when a machine was created and its host key pinned
  type: bool
machine:
  description: The machine's facts after the task, the same for every podman version.
  returned: always
  type: dict
  contains:
    name: {description: Machine name., type: str, returned: always, sample: podman-machine-default}
    exists: {description: Whether the machine exists., type: bool, returned: always, sample: true}
    state: {description: "V(running), V(stopped), V(starting) or V(unknown).", type: str, returned: when it exists}
    provider: {description: The virtualisation provider., type: str, returned: when it exists, sample: qemu}
    cpus: {description: Virtual CPUs., type: int, returned: when it exists, sample: 2}
    memory_mib: {description: Memory in MiB., type: int, returned: when it exists, sample: 2048}
    disk_gib: {description: Disk size in GiB., type: int, returned: when it exists, sample: 100}
    rootful: {description: Whether podman in the machine runs as root., type: bool, returned: when it exists}
    user_mode_networking: {description: Whether traffic goes through gvproxy., type: bool, returned: when it exists}
    usb: {description: USB devices passed through (canonical form)., type: list, elements: str, returned: when it exists}
    ssh:
      description: How to reach the machine over SSH.
      type: dict
      returned: when it exists
      sample: {port: 42011, user: core, identity_path: /home/me/.local/share/containers/podman/machine/machine}
    api_socket: {description: Host-side socket of the Podman API in the machine., type: str, returned: when it exists}
    api_pipe: {description: Windows named pipe of the Podman API., type: str, returned: when it exists}
    created: {description: When the machine was created (RFC 3339)., type: str, returned: when it exists}
    last_up: {description: 'When it last ran; null if it never has.', type: str, returned: when it exists}
    config_dir: {description: Podman's config folder for the machine's provider., type: str, returned: when it exists}
    image_path: {description: The machine's disk file (Podman 4 only)., type: str, returned: when it exists}
    podman_version: {description: The version of the podman that was run., type: str, returned: when it exists, sample: 5.8.6}
    import_native_ca:
      description: Whether the machine imports the host's trusted CA certificates (Podman 6), read from its JSON file.
      type: bool
      returned: when O(import_native_ca) is given
actions:
  description: What was done, or in check mode what would be done, in order, with the reason and the command.
  returned: always
  type: list
  elements: dict
  sample: [{action: stop, reason: podman machine set needs the machine stopped, command: [machine, stop, dev]}]
commands:
  description: Every podman command line that ran, including the reads.
  returned: always
  type: list
  elements: list
controller_side:
  description:
    - Present and true when the task ran on the controller and reached podman through the connection (a Windows
      target, a local connection unless C(machinist_podman_controller_side=false), or
      C(machinist_podman_controller_side=true)).
  returned: on the controller-side path
  type: bool
  sample: true
"""


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.machinist.podman.plugins.module_utils._tasks.common import run_in_module
from ansible_collections.machinist.podman.plugins.module_utils._tasks.machine import MACHINE_ARGS, machine_task


def main():
    run_in_module(AnsibleModule(argument_spec=MACHINE_ARGS, supports_check_mode=True), machine_task)


if __name__ == '__main__':
    main()

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # How the modules that use the libpod REST API reach it. Set them once for a play with
    # module_defaults: {group/machinist.podman.api: {machine: ...}}.
    DOCUMENTATION = r"""
options:
  machine:
    description:
      - The Podman machine whose API to use, by name. The module reads its API socket, SSH port, user and key
        with C(podman machine inspect); the machine must be running.
      - Exactly one of O(machine) and O(api_url) is required.
    type: str
  api_url:
    description:
      - The API to use without a machine, as V(unix:///path/to/podman.sock) (a local C(podman system service)) or
        V(ssh://user@host[:port]/path/to/podman.sock) (a remote host's socket, reached over SSH; see O(ssh_client)).
    type: str
  api_transport:
    description:
      - With O(machine), how to reach its API. V(socket) uses the host-side socket that podman's gvproxy forwards
        into the machine; V(ssh) connects to the machine's SSH port and opens the guest's own socket
        (the rootful socket as root for a rootful machine). V(auto) takes the socket when it exists, else SSH.
    type: str
    choices: [auto, socket, ssh]
    default: auto
  api_timeout:
    description:
      - Seconds to wait for any one API answer (a pull or an image load may need more).
    type: int
    default: 120
requirements:
  - For SSH (O(api_url=ssh://...) or O(api_transport=ssh)), the OpenSSH client or paramiko on the host that runs the
    module (see O(ssh_client)).
notes:
  - The API version prefix is the server's own C(Libpod-API-Version), read from C(/_ping), so Podman 4, 5 and 6
    servers are all spoken to in their own version.
  - Host keys are always checked; a changed key fails the task before anything is sent. An unknown key is taken on
    first use only with O(ssh_host_key_checking=accept-new), the default with O(machine); see there for that window
    and how to close it.
"""

    # The SSH options alone: the API modules' (above, with DOCUMENTATION) and port_forward's, which
    # reaches gvproxy through the machine's SSH.
    SSH = r"""
options:
  ssh_identity:
    description:
      - The private key for SSH. For a machine, defaults to the machine's own key (from C(podman machine inspect)).
    type: path
  ssh_known_hosts:
    description:
      - The known_hosts file that SSH host keys are checked against.
      - For a machine, defaults to the collection's own file C($XDG_STATE_HOME/machinist.podman/known_hosts), which
        M(machinist.podman.podman_machine) clears for a machine it removes or creates. Otherwise C(~/.ssh/known_hosts).
    type: path
  ssh_host_key:
    description:
      - Pin the server's host key, as an OpenSSH public key line (V(ssh-ed25519 AAAA...)). Then no known_hosts file
        is read or written, and any other key is refused.
      - "The recommended setting for a machine wherever the trust-on-first-use window of V(accept-new) (see
        O(ssh_host_key_checking)) is not acceptable. Take the key from a source other than the machine's SSH port,
        such as a host key you provisioned yourself with Ignition (M(machinist.podman.ignition_config)), or on WSL
        C(wsl -d DISTRIBUTION cat /etc/ssh/ssh_host_ed25519_key.pub). C(podman machine ssh) is no such source: it
        does not check the key either."
    type: str
  ssh_host_key_checking:
    description:
      - V(strict) refuses a host that is not in O(ssh_known_hosts). V(accept-new) records an unknown host's key on
        first use (as OpenSSH's C(StrictHostKeyChecking=accept-new)); both refuse a key that changed.
      - Defaults to V(accept-new) for a machine (a local VM on 127.0.0.1 that podman itself never checks) and
        V(strict) for an explicit API URL.
      - "Trust on first use: with V(accept-new), a key is recorded without any check whenever O(ssh_known_hosts) has
        no line for the machine's port, that is at the first connection to a new machine and at the first after
        M(machinist.podman.podman_machine) forgot the key (when it removed or created the machine). In that window,
        whatever listens on C(127.0.0.1) at that port (a program of any local user, while the machine is stopped or
        gone) is recorded as the machine and trusted from then on."
      - "To close the window, pin O(ssh_host_key), or set V(strict) and put the machine's line
        (C([127.0.0.1]:PORT KEYTYPE BASE64)) into O(ssh_known_hosts) yourself, from a source named under
        O(ssh_host_key). Otherwise keep it short: connect right after the machine is created and started."
      - "A qemu machine that M(machinist.podman.podman_machine) created (its O(machinist.podman.podman_machine#module:pin_host_key))
        has no such window: its host key was placed through Ignition and recorded for its port before the first boot."
    type: str
    choices: [strict, accept-new]
  ssh_client:
    description:
      - The SSH client that reaches the server. V(paramiko) is the Python library in the Python that runs the module;
        V(openssh) is the host's own C(ssh) program (one master connection per task, through C(ControlMaster), in a
        private folder that is removed at the end).
      - V(auto) takes paramiko where that Python has it and OpenSSH's C(ssh) otherwise, so a laptop whose system Python
        has no paramiko (the Python Ansible uses for C(localhost)) needs nothing installed.
      - Both check host keys the same way, against O(ssh_known_hosts) or O(ssh_host_key), and write the same
        known_hosts lines. OpenSSH reads no configuration file and no agent here (C(-F none), C(IdentitiesOnly)), so
        only the options of the task count.
    type: str
    choices: [auto, paramiko, openssh]
    default: auto
  executable:
    description:
      - The podman program used to look up the machine by name (C(podman machine inspect)).
    type: str
    default: podman
"""

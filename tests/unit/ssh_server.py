# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""A real SSH server on 127.0.0.1 for the unit tests (paramiko's server side, with a host key that
OpenSSH's ssh-keygen made): enough to stand in for a machine's SSH port, whose host key OpenSSH and
paramiko check before any authentication. The OpenSSH tools are required, never skipped: setup.sh
installs them."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading

import paramiko


def require(*programs):
    missing = [p for p in programs if not shutil.which(p)]
    if missing:
        raise RuntimeError('these tests need %s (scripts/setup.sh installs OpenSSH)' % ', '.join(missing))


def keygen(path):
    """A new ed25519 key pair made by ssh-keygen; the private key's path."""
    require('ssh-keygen')
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(path)], check=True)
    return str(path)


class SSHServer:
    def __init__(self, host_key_file, port=0, interface=None):
        self.key = paramiko.Ed25519Key.from_private_key_file(host_key_file)
        self.interface = interface or paramiko.ServerInterface
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', port))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.transports = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            t = paramiko.Transport(conn)
            t.add_server_key(self.key)
            self.transports.append(t)
            try:
                t.start_server(server=self.interface())
            except (paramiko.SSHException, EOFError, OSError):
                pass

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept(); a bare close() would leave it listening
        self.sock.close()
        self.thread.join(5)
        for t in self.transports:
            t.close()

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
            server = self.interface()
            try:
                t.start_server(server=server)
            except (paramiko.SSHException, EOFError, OSError):
                continue
            if hasattr(server, 'serve_channel'):
                threading.Thread(target=self._channels, args=(t, server), daemon=True).start()

    @staticmethod
    def _channels(t, server):
        while t.is_active():
            chan = t.accept(0.5)
            if chan is not None:
                server.serve_channel(chan)

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept(); a bare close() would leave it listening
        self.sock.close()
        self.thread.join(5)
        for t in self.transports:
            t.close()


class AnyKey(paramiko.ServerInterface):
    """Lets in any user with any public key."""

    def get_allowed_auths(self, username):
        return 'publickey'

    def check_auth_publickey(self, username, key):
        return paramiko.AUTH_SUCCESSFUL


def _pipe(chan, sock):
    """Copies both ways between an SSH channel and a socket until either side closes."""
    def one_way(read, write, done):
        try:
            while True:
                data = read(65536)
                if not data:
                    break
                write(data)
        except (OSError, EOFError, paramiko.SSHException):
            pass
        finally:
            done()
    threading.Thread(target=one_way, args=(chan.recv, sock.sendall, lambda: sock.shutdown(socket.SHUT_WR)),
                     daemon=True).start()
    threading.Thread(target=one_way, args=(sock.recv, chan.sendall, chan.close), daemon=True).start()


class Forwarding(AnyKey):
    """Opens direct-tcpip channels to the address asked for, and direct-streamlocal channels (which paramiko does not
    parse) to the unix socket `unix_path` of the class, when it exists: enough for OpenSSH's and paramiko's clients."""

    unix_path = None

    def __init__(self):
        self.wanted = {}

    def _connect(self, chanid, family, where):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.connect(where)
        except OSError:
            sock.close()
            return paramiko.OPEN_FAILED_CONNECT_FAILED
        self.wanted[chanid] = sock
        return paramiko.OPEN_SUCCEEDED

    def check_channel_direct_tcpip_request(self, chanid, origin, destination):
        return self._connect(chanid, socket.AF_INET, destination)

    def check_channel_request(self, kind, chanid):
        if kind == 'session':
            return paramiko.OPEN_SUCCEEDED
        if kind == 'direct-streamlocal@openssh.com' and self.unix_path:
            return self._connect(chanid, socket.AF_UNIX, self.unix_path)
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def serve_channel(self, chan):
        sock = self.wanted.pop(chan.get_id(), None)
        if sock is not None:
            _pipe(chan, sock)


class Shell(Forwarding):
    """Forwarding, and each exec request run in /bin/sh here (in the folder `cwd` of the class), its stdin, stdout,
    stderr and exit status on the channel. Started commands are kept in `procs` of the class."""

    cwd = None
    procs = []

    def check_channel_exec_request(self, channel, command):
        def serve():
            proc = subprocess.Popen(['/bin/sh', '-c', command.decode()], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, cwd=self.cwd)
            self.procs.append(proc)
            data = b''
            while True:
                chunk = channel.recv(65536)
                if not chunk:
                    break
                data += chunk
            out, err = proc.communicate(data)
            try:
                channel.sendall(out)
                channel.sendall_stderr(err)
                channel.send_exit_status(proc.returncode if proc.returncode >= 0 else 128 - proc.returncode)
                channel.close()
            except (OSError, EOFError, paramiko.SSHException):
                pass  # the client closed the channel: a command it stopped
        threading.Thread(target=serve, daemon=True).start()
        return True

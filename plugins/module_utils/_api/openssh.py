# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SSH through the host's own OpenSSH client, for hosts whose Python has no paramiko (a laptop's
system Python, which Ansible uses for `localhost`), and the choice between the two clients.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

OpenSSHSession does what transport.SSHSession does (connect with the host key checked, HTTP over a
channel to a unix socket or a TCP port on the far side, bounded commands) with one master
connection (ControlMaster) in a private folder:
- every ssh started here reads no configuration file (-F none) and no agent, uses only the given
  key, and checks host keys against the same known_hosts file, or the pinned key, as paramiko does
  (StrictHostKeyChecking=yes, or accept-new, with HashKnownHosts=no so that a recorded line reads
  as paramiko writes it);
- a channel is a local forward (-O forward -L) from a unix socket in the private folder, made once
  per remote socket or port, and each HTTP connection connects to that socket;
- a command runs through the master (the login shell reads it, as with paramiko), bounded in time
  and output; on its deadline the client is killed, which closes the channel, and sshd ends the
  command.
Every ssh runs through the run_command it is given (AnsibleModule.run_command in a module), as any
program a module starts, each with a deadline.
The master exits by itself after ten idle minutes, so one left behind by a killed module does not
stay; close() ends it and removes the folder.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import socket
import tempfile
import threading

from ansible_collections.machinist.podman.plugins.module_utils._api.transport import (
    SSHSession,
    TransportError,
    blob_fingerprint,
    end_with_newline,
    known_hosts_name,
)
from ansible_collections.machinist.podman.plugins.module_utils._host.runner import Deadline, find_program
from ansible_collections.machinist.podman.plugins.module_utils._host.state import names_host

# An idle master (no channel open) ends after this many seconds.
_IDLE = 600
# What the master's log may grow to before it is read (a failing connection writes a few lines).
_LOG_LIMIT = 64 * 1024


def _has_paramiko():
    try:
        import paramiko  # noqa: F401  pylint: disable=unused-import
    except ImportError:
        return False
    return True


def session_for(target, run_command=None, search=shutil.which):
    """The SSH session for `target` with its client (transport.SSH_CLIENTS): paramiko's when the target asks for it,
    or asks for auto and this Python has it; else the OpenSSH client's, which runs ssh through `run_command`
    (AnsibleModule.run_command, or one with its interface)."""
    client = target.client
    if client == 'paramiko' or (client == 'auto' and _has_paramiko()):
        return SSHSession(target)
    program = find_program('ssh', search)
    if program is None:
        if client == 'openssh':
            raise TransportError('ssh_client=openssh: reaching %s needs the OpenSSH client (ssh) on the host that runs '
                                 'this task, and there is none on its PATH: install it (the openssh-client package)'
                                 % target.describe())
        raise TransportError('reaching %s needs an SSH client on the host that runs this task: the OpenSSH client (ssh, '
                             'from the openssh-client package) or the Python library paramiko (pip install paramiko, or '
                             'the python3-paramiko package); it has neither' % target.describe())
    if run_command is None:
        raise TransportError('reaching %s with the OpenSSH client needs a way to run programs, and none was given '
                             '(a bug of the collection: please report it)' % target.describe())
    return OpenSSHSession(target, program, run_command)


def _option(name, value):
    """`-o Name="value"` for a path: quoted for ssh's own parser, %% so that no %-token is expanded."""
    if '"' in value or '\n' in value:
        raise TransportError('%s %r cannot be passed to ssh (it holds a double quote or a newline); use another path'
                             % (name, value))
    return ['-o', '%s="%s"' % (name, value.replace('%', '%%'))]


def _fingerprint(b64):
    return blob_fingerprint(base64.b64decode(b64))


def _known_line(text, name):
    """The key (type, base64) of the first known_hosts line in `text` for `name`, plain or hashed, or None."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and names_host(line.encode('ascii', 'replace'), [name]):
            return fields[1], fields[2]
    return None


class OpenSSHSession:
    """One OpenSSH master connection; the same calls as transport.SSHSession."""

    client = 'openssh'

    def __init__(self, target, program, run_command):
        self.target = target
        self.program = program
        self._run_command = run_command
        self.recorded_host_key = None
        self._dir = None
        self._forwards = {}
        self._count = 0
        self._lock = threading.Lock()

    # -- the command lines ---------------------------------------------------------------
    def _folder(self):
        if self._dir is None:
            # A unix socket's path has at most 104 bytes on macOS (108 on Linux): a long TMPDIR is not used.
            base = tempfile.gettempdir()
            if len(base) > 60:
                base = '/tmp'
            self._dir = tempfile.mkdtemp(prefix='mp-ssh-', dir=base)
        return self._dir

    def _argv(self, *extra):
        t = self.target
        folder = self._folder()
        argv = [self.program, '-F', 'none', '-p', str(t.port), '-l', t.user,
                '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=%d' % max(1, int(t.timeout)),
                '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'GlobalKnownHostsFile=/dev/null',
                '-o', 'HashKnownHosts=no', '-o', 'CheckHostIP=no', '-o', 'UpdateHostKeys=no',
                '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=4']
        argv += _option('ControlPath', os.path.join(folder, 'ctl'))
        if t.identity:
            argv += _option('IdentityFile', t.identity)
        if t.host_key:
            argv += _option('UserKnownHostsFile', self._pinned()) + ['-o', 'StrictHostKeyChecking=yes']
        elif t.known_hosts:
            accept = t.host_key_checking == 'accept-new'
            argv += _option('UserKnownHostsFile', t.known_hosts)
            argv += ['-o', 'StrictHostKeyChecking=%s' % ('accept-new' if accept else 'yes')]
        else:
            argv += ['-o', 'UserKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes']
        return argv + list(extra) + ['--', t.host]

    def _pinned(self):
        t = self.target
        parts = (t.host_key or '').split()
        try:
            if len(parts) < 2:
                raise ValueError('no key')
            base64.b64decode(parts[1], validate=True)
        except ValueError:
            raise TransportError('host_key must be an OpenSSH public key line such as "ssh-ed25519 AAAA...", got %r'
                                 % (t.host_key,))
        path = os.path.join(self._folder(), 'pinned')
        with open(path, 'w') as f:
            f.write('%s %s %s\n' % (known_hosts_name(t.host, t.port), parts[0], parts[1]))
        return path

    def _spawn(self, argv, timeout, data=None):
        """(rc, stdout bytes, stderr bytes, expired) of `argv` run through run_command; killed after `timeout`
        seconds (expired True). Without `data` its stdin is empty."""
        deadline = Deadline(timeout, stop=_kill)
        try:
            rc, out, err = self._run_command(argv, data=data if data else None, binary_data=True, encoding=None,
                                             expand_user_and_vars=False, handle_exceptions=False,
                                             before_communicate_callback=deadline.start)
        except OSError as exc:
            raise TransportError('cannot run %s to reach %s: %s' % (self.program, self.target.describe(), exc))
        finally:
            deadline.cancel()
        return rc, out or b'', err or b'', deadline.expired

    def _alive(self):
        return self._dir is not None and os.path.exists(os.path.join(self._dir, 'ctl'))

    # -- the master connection -----------------------------------------------------------
    def connect(self):
        """Starts the master (the host key checked, the key accepted); again when an idle one has ended."""
        if self._alive():
            return self
        t = self.target
        self._forwards = {}
        log = os.path.join(self._folder(), 'master.log')
        before = self._known_text()
        if t.known_hosts and not t.host_key and t.host_key_checking == 'accept-new':
            folder = os.path.dirname(t.known_hosts)
            if folder:
                os.makedirs(folder, mode=0o700, exist_ok=True)
            try:
                end_with_newline(t.known_hosts)
            except OSError:
                pass  # ssh says why it cannot write there
        argv = self._argv('-n', '-o', 'ControlMaster=yes', '-o', 'ControlPersist=%d' % _IDLE, '-E', log, '-N', '-f')
        limit = 3 * t.timeout + 5
        rc, _out, _err, expired = self._spawn(argv, limit)
        if expired:
            rc = None
        if rc == 0 and self._alive():
            after = self._known_text()
            if after != before:
                got = _known_line(after, known_hosts_name(t.host, t.port))
                if got:
                    self.recorded_host_key = '%s %s' % (got[0], _fingerprint(got[1]))
            return self
        said = self._log(log)
        if rc is None:
            raise TransportError('%s did not let us in within %d seconds%s' % (t.describe(), limit,
                                                                               ': ' + said if said else ''))
        raise self._connect_error(said)

    def _known_text(self):
        t = self.target
        if t.host_key or not t.known_hosts:
            return ''
        try:
            with open(t.known_hosts) as f:
                return f.read()
        except (OSError, UnicodeDecodeError):
            return ''

    @staticmethod
    def _log(path):
        try:
            with open(path, 'rb') as f:
                text = f.read(_LOG_LIMIT).decode('utf-8', 'replace')
        except OSError:
            return ''
        return ' '.join(line.strip() for line in text.splitlines() if line.strip() and not line.startswith('@@@'))

    def _connect_error(self, said):
        t = self.target
        name = known_hosts_name(t.host, t.port)
        seen = re.search(r'(SHA256:[A-Za-z0-9+/]+)', said)
        kind = re.search(r'for the (\S+) key sent by the remote host', said)
        key = '%s %s' % ('ssh-' + kind.group(1).lower() if kind else 'key', seen.group(1) if seen else '(not said)')
        if 'IDENTIFICATION HAS CHANGED' in said or 'Host key for' in said and 'has changed' in said:
            if t.host_key:
                expected_by, expected = 'the pinned host_key', t.host_key.split()
                fix = 'pin the new key if you know the host was rebuilt'
            else:
                expected_by, expected = t.known_hosts, _known_line(self._known_text(), name)
                fix = ('if you know the host or machine was recreated, remove the old line (ssh-keygen -R "%s" -f %s)'
                       % (name, t.known_hosts))
            try:
                expected = _fingerprint(expected[1]) if expected else 'another key'
            except ValueError:
                expected = 'another key'
            return TransportError('REFUSED: %s now answers with host key %s, but %s expects %s. This is what a '
                                  'man-in-the-middle looks like; it is also what a recreated machine on a reused port '
                                  'looks like. Nothing was sent: %s' % (t.describe(), key, expected_by, expected, fix))
        if 'host key is known for' in said or 'Host key verification failed' in said:
            return TransportError(
                '%s is not in %s (its key is %s). Add it there (ssh-keyscan -p %d %s), pin it with host_key, or set '
                'host_key_checking to accept-new to record it on first use'
                % (name, t.known_hosts or 'any known_hosts file', self._scan() or key, t.port, t.host))
        if 'Permission denied' in said:
            return TransportError('%s refused the key %s: %s' % (t.describe(), t.identity, said))
        return TransportError('cannot connect to %s: %s' % (t.describe(), said or 'ssh ended without a word'))

    def _scan(self):
        """The server's key as 'type SHA256:...', read with ssh-keyscan (bounded), for the message of a refusal."""
        keyscan = find_program('ssh-keyscan')
        if keyscan is None:
            return None
        t = self.target
        try:
            rc, out, _err, _expired = self._spawn([keyscan, '-T', '5', '-p', str(t.port), '-t', 'ed25519,ecdsa,rsa',
                                                   t.host], 10)
        except TransportError:
            return None
        for line in out.decode('ascii', 'replace').splitlines():
            fields = line.split()
            if len(fields) >= 3 and not line.startswith('#'):
                try:
                    return '%s %s' % (fields[1], _fingerprint(fields[2]))
                except ValueError:
                    continue
        return None

    # -- channels --------------------------------------------------------------------------
    def _forward(self, remote, what):
        """The local socket that the master forwards to `remote` (a path, or host:port)."""
        with self._lock:
            self.connect()
            local = self._forwards.get(remote)
            if local and os.path.exists(local):
                return local
            self._count += 1
            local = os.path.join(self._folder(), 'f%d' % self._count)
            argv = self._argv('-n', '-o', 'ControlMaster=no', '-O', 'forward', '-L', '%s:%s' % (local, remote))
            rc, _out, err, expired = self._spawn(argv, self.target.timeout)
            if rc != 0 or expired:
                raise TransportError('%s would not forward %s for us: %s' % (
                    self.target.describe(), what, 'no answer in time' if expired else err.decode('utf-8', 'replace').strip()))
            self._forwards[remote] = local
            return local

    def _open(self, remote, what, refused):
        local = self._forward(remote, what)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.target.timeout)
        try:
            sock.connect(local)
        except OSError as exc:
            sock.close()
            raise TransportError('%s: the local end of the forward of %s failed: %s' % (self.target.describe(), what, exc))
        return _ForwardedSocket(sock, refused)

    def open_tcp(self, host, port):
        """A stream to host:port as seen from the server."""
        host_part = '[%s]' % host if ':' in host else host
        what = '%s:%s' % (host, port)
        return self._open('%s:%d' % (host_part, int(port)), what,
                          '%s could not connect to %s for us' % (self.target.describe(), what))

    def open_unix(self, path):
        """A stream to a unix socket on the server."""
        return self._open(path, path, '%s would not connect us to its unix socket %s (it does not exist, we may not '
                                      'open it, or the server forbids stream-local forwarding)'
                          % (self.target.describe(), path))

    # -- commands --------------------------------------------------------------------------
    def run(self, command, stdin=b'', timeout=120, limit=1024 * 1024):
        """Runs `command` on the server (its login shell reads it), `stdin` sent and closed: (rc, stdout, stderr) as
        text. Bounded as SSHSession.run: past `timeout` seconds the client is killed, which closes the channel, and
        the command is refused; so is one that printed more than `limit` bytes."""
        self.connect()
        extra = () if stdin else ('-n',)
        argv = self._argv(*(extra + ('-o', 'ControlMaster=no', '-o', 'LogLevel=ERROR', '-T'))) + [command]
        rc, out, err, expired = self._spawn(argv, timeout, data=stdin)
        if expired:
            raise TransportError('a command on %s was still running after %d seconds; it was stopped'
                                 % (self.target.describe(), timeout))
        if len(out) + len(err) > limit:
            raise TransportError('a command on %s printed more than %d bytes; it was stopped'
                                 % (self.target.describe(), limit))
        text_err = err.decode('utf-8', 'replace')
        if rc == 255 and not self._alive():
            raise TransportError('%s stopped answering while a command ran: %s' % (self.target.describe(), text_err.strip()))
        return rc, out.decode('utf-8', 'replace'), text_err

    def close(self):
        if self._dir is None:
            return
        if self._alive():
            try:
                self._spawn(self._argv('-n', '-O', 'exit'), 10)
            except TransportError:
                pass
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None
        self._forwards = {}


def _kill(proc):
    """A deadline's end: the ssh client is killed (for a command, that closes its channel, and sshd ends it)."""
    try:
        proc.kill()
    except OSError:
        pass


class _ForwardedSocket:
    """The local end of a forward. OpenSSH accepts the connection before it asks the server for the channel, so a
    channel the server refuses shows only as the stream closing before any byte: the first read says so."""

    def __init__(self, sock, refused):
        self._sock = sock
        self._refused = refused
        self._seen = False

    def recv_into(self, buffer, nbytes=0):
        try:
            n = self._sock.recv_into(buffer, nbytes)
        except ConnectionResetError:
            n = 0
            if self._seen:
                raise
        if n == 0 and not self._seen:
            raise TransportError(self._refused)
        self._seen = True
        return n

    def sendall(self, data):
        try:
            self._sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            if self._seen:
                raise
            raise TransportError(self._refused)

    def makefile(self, mode='rb', buffering=None, **kwargs):
        """What http.client reads the answer from."""
        if 'r' not in mode:
            return self._sock.makefile(mode, buffering, **kwargs)
        return io.BufferedReader(_Reader(self))

    def __getattr__(self, name):
        return getattr(self._sock, name)


class _Reader(io.RawIOBase):
    def __init__(self, forwarded):
        super().__init__()
        self._forwarded = forwarded

    def readable(self):
        return True

    def readinto(self, b):
        return self._forwarded.recv_into(b)

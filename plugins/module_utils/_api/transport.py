# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How the collection reaches an HTTP service that is not on the network: a unix socket on this
host, or a socket or TCP port on the far side of an SSH connection.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

Two services are reached this way: the libpod REST API (a unix socket: the host-side socket that
gvproxy forwards into a machine, or the guest's own socket over SSH) and gvproxy's forwarder API,
which answers only inside a machine, at the gateway 192.168.127.1:80, so it is reached through an
SSH channel to it and never by opening it on the host network (CVE-2021-4024).

SSH host keys are always checked, against a pinned key or a known_hosts file. With
`host_key_checking='accept-new'` an unknown host's key is recorded on first use and any later
change is refused, as OpenSSH's StrictHostKeyChecking=accept-new does; 'strict' never records.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
import threading
import time

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError

try:
    from http.client import HTTPConnection
except ImportError:  # pragma: no cover - Python 2 is not supported by the collection
    HTTPConnection = object

# paramiko is imported only when SSH is used: it costs about 150 ms, which a task on a unix
# socket should not pay.
paramiko = None
cMSG_CHANNEL_OPEN = None
Message = None
_CheckedHostKeys = None


def _load_paramiko(target):
    global paramiko, cMSG_CHANNEL_OPEN, Message, _CheckedHostKeys
    if paramiko is not None:
        return
    try:
        import paramiko as _paramiko
        from paramiko.common import cMSG_CHANNEL_OPEN as _open
        from paramiko.message import Message as _message
    except ImportError:
        raise TransportError('reaching %s needs the Python library paramiko on the host that runs this task: '
                             'install it (pip install paramiko, or the python3-paramiko package)' % target.describe())
    # paramiko logs refused channels to stderr; the errors raised here say it better.
    logging.getLogger('paramiko').addHandler(logging.NullHandler())
    logging.getLogger('paramiko').propagate = False
    paramiko, cMSG_CHANNEL_OPEN, Message = _paramiko, _open, _message
    _CheckedHostKeys = _policy_class(_paramiko)


# How an unknown SSH host key is met: refused, or recorded on first use (OpenSSH's accept-new).
HOST_KEY_CHECKING = ('strict', 'accept-new')
# Which SSH client a session uses (openssh.session_for): auto takes paramiko where the module's Python has it, else
# the host's OpenSSH client.
SSH_CLIENTS = ('auto', 'paramiko', 'openssh')


class TransportError(MachinistError):
    """The service could not be reached; the message says where and why."""


class UnixHTTPConnection(HTTPConnection):
    def __init__(self, path, timeout=60):
        HTTPConnection.__init__(self, 'localhost', timeout=timeout)
        self.path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError as exc:
            sock.close()
            raise TransportError('cannot connect to the unix socket %s: %s' % (self.path, exc.strerror or exc))
        self.sock = sock

    def release(self):
        """The end of a request (as ChannelHTTPConnection.release): a socket needs nothing more than closing."""
        self.close()


class ChannelHTTPConnection(HTTPConnection):
    """HTTP over an already opened socket-like object (an SSH channel)."""

    def __init__(self, opener, host='localhost', timeout=60):
        self._held = []
        HTTPConnection.__init__(self, host, timeout=timeout)
        self._opener = opener

    def connect(self):
        self.sock = self._opener()
        self.sock.settimeout(self.timeout)

    def close(self):
        # http.client closes the connection as soon as it has the head of an answer that ends the connection, before
        # the body is read: a socket lives on through the file it read from, a channel would not, and the body would
        # be lost. So the channel is kept here until release(), which Endpoint.request calls after reading.
        if self.sock is not None:
            self._held.append(self.sock)
            self.sock = None
        HTTPConnection.close(self)

    def release(self):
        self.close()
        while self._held:
            self._held.pop().close()


def fingerprint(key):
    """OpenSSH's SHA256 fingerprint of a paramiko key."""
    return blob_fingerprint(key.asbytes())


def blob_fingerprint(blob):
    """OpenSSH's SHA256 fingerprint of a public key's wire form (the base64 field of a known_hosts line, decoded)."""
    digest = hashlib.sha256(blob).digest()
    return 'SHA256:' + base64.b64encode(digest).decode('ascii').rstrip('=')


def end_with_newline(path):
    """Ends the file `path` (made if missing) with a newline if it has content without one, so that a line appended
    next (by us or by OpenSSH, which appends right after the last byte) does not run into an editor's last line."""
    with open(path, 'a+b') as f:
        if f.seek(0, os.SEEK_END) > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b'\n':
                f.write(b'\n')


def known_hosts_name(host, port):
    return host if int(port) == 22 else '[%s]:%d' % (host, int(port))


def parse_public_key(text, field='host_key'):
    """A paramiko key from an OpenSSH public key line ("ssh-ed25519 AAAA... comment")."""
    parts = (text or '').split()
    if len(parts) < 2:
        raise TransportError('%s must be an OpenSSH public key line such as "ssh-ed25519 AAAA...", got %r' % (field, text))
    try:
        return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1]))
    except Exception as exc:
        raise TransportError('%s is not a public key paramiko can read (%s): %s' % (field, parts[0], exc))


class SSHTarget:
    """Where to connect and how to check who answers."""

    def __init__(self, host, port, user, identity=None, known_hosts=None, host_key=None,
                 host_key_checking='strict', timeout=30, client='auto'):
        if host_key_checking not in HOST_KEY_CHECKING:
            raise TransportError("host_key_checking must be 'strict' or 'accept-new', got %r" % (host_key_checking,))
        if client not in SSH_CLIENTS:
            raise TransportError('ssh_client must be one of %s, got %r' % (', '.join(SSH_CLIENTS), client))
        self.host = host
        self.port = int(port)
        self.user = user
        self.identity = identity
        self.known_hosts = known_hosts
        self.host_key = host_key
        self.host_key_checking = host_key_checking
        self.timeout = timeout
        self.client = client

    def describe(self):
        return 'ssh://%s@%s:%d' % (self.user, self.host, self.port)


def _policy_class(paramiko_module):
    class CheckedHostKeys(paramiko_module.MissingHostKeyPolicy):
        """Called by paramiko only for a host it has no key for (a changed key fails before)."""

        def __init__(self, target):
            self.target = target
            self.recorded = None

        def missing_host_key(self, client, hostname, key):
            t = self.target
            if t.host_key:
                raise TransportError(
                    '%s answered with host key %s %s, which is not the pinned host_key (%s). Nothing was sent. If the '
                    'machine was recreated, pin its new key' % (t.describe(), key.get_name(), fingerprint(key),
                                                                fingerprint(parse_public_key(t.host_key))))
            if t.host_key_checking != 'accept-new' or not t.known_hosts:
                raise TransportError(
                    '%s is not in %s (its key is %s %s). Add it there (ssh-keyscan -p %d %s), pin it with host_key, '
                    'or set host_key_checking to accept-new to record it on first use'
                    % (hostname, t.known_hosts or 'any known_hosts file', key.get_name(), fingerprint(key), t.port, t.host))
            folder = os.path.dirname(t.known_hosts)
            if folder:
                os.makedirs(folder, mode=0o700, exist_ok=True)
            end_with_newline(t.known_hosts)
            with open(t.known_hosts, 'ab') as f:
                f.write(('%s %s %s\n' % (hostname, key.get_name(), key.get_base64())).encode('ascii'))
            self.recorded = '%s %s' % (key.get_name(), fingerprint(key))

    return CheckedHostKeys


class SSHSession:
    """One authenticated SSH connection; each request gets its own channel on it."""

    client = 'paramiko'

    def __init__(self, target):
        _load_paramiko(target)
        self.target = target
        self.recorded_host_key = None
        self._client = None
        self._lock = threading.Lock()

    def connect(self):
        if self._client is not None:
            return self._client
        t = self.target
        client = paramiko.SSHClient()
        if t.host_key:
            name = known_hosts_name(t.host, t.port)
            pinned = parse_public_key(t.host_key)
            client.get_host_keys().add(name, pinned.get_name(), pinned)
        elif t.known_hosts and os.path.exists(t.known_hosts):
            try:
                client.load_host_keys(t.known_hosts)
            except OSError as exc:
                raise TransportError('cannot read known_hosts %s: %s' % (t.known_hosts, exc))
        policy = _CheckedHostKeys(t)
        client.set_missing_host_key_policy(policy)
        try:
            client.connect(t.host, port=t.port, username=t.user, key_filename=t.identity, timeout=t.timeout,
                           banner_timeout=t.timeout, auth_timeout=t.timeout, look_for_keys=False, allow_agent=False)
        except TransportError:
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            if t.host_key:
                expected_by, fix = 'the pinned host_key', 'pin the new key if you know the host was rebuilt'
            else:
                expected_by = t.known_hosts
                fix = ('if you know the host or machine was recreated, remove the old line (ssh-keygen -R "%s" -f %s)'
                       % (known_hosts_name(t.host, t.port), t.known_hosts))
            raise TransportError(
                'REFUSED: %s now answers with host key %s %s, but %s expects %s. This is what a man-in-the-middle '
                'looks like; it is also what a recreated machine on a reused port looks like. Nothing was sent: %s'
                % (t.describe(), exc.key.get_name(), fingerprint(exc.key), expected_by,
                   fingerprint(exc.expected_key), fix))
        except paramiko.AuthenticationException as exc:
            client.close()
            raise TransportError('%s refused the key %s: %s' % (t.describe(), t.identity, exc))
        except (paramiko.SSHException, OSError, EOFError) as exc:
            client.close()
            raise TransportError('cannot connect to %s: %s' % (t.describe(), exc))
        self.recorded_host_key = policy.recorded
        self._client = client
        return client

    def _transport(self):
        return self.connect().get_transport()

    def open_tcp(self, host, port):
        """A channel to host:port as seen from the server (direct-tcpip)."""
        try:
            return self._transport().open_channel('direct-tcpip', (host, int(port)), ('127.0.0.1', 0),
                                                  timeout=self.target.timeout)
        except paramiko.SSHException as exc:
            raise TransportError('%s could not connect to %s:%s for us: %s' % (self.target.describe(), host, port, exc))

    def open_unix(self, path):
        """A channel to a unix socket on the server (direct-streamlocal@openssh.com).

        paramiko opens only TCP forwarding channels, so this sends the channel-open message that
        OpenSSH's PROTOCOL file defines (socket path, a reserved string, a reserved uint32) and
        then lets paramiko handle the channel like any other.
        """
        transport = self._transport()
        with self._lock:
            transport.lock.acquire()
            try:
                window = transport._sanitize_window_size(None)
                packet = transport._sanitize_packet_size(None)
                chanid = transport._next_channel()
                m = Message()
                m.add_byte(cMSG_CHANNEL_OPEN)
                m.add_string('direct-streamlocal@openssh.com')
                m.add_int(chanid)
                m.add_int(window)
                m.add_int(packet)
                m.add_string(path)
                m.add_string('')
                m.add_int(0)
                chan = paramiko.Channel(chanid)
                transport._channels.put(chanid, chan)
                event = transport.channel_events[chanid] = threading.Event()
                transport.channels_seen[chanid] = True
                chan._set_transport(transport)
                chan._set_window(window, packet)
            finally:
                transport.lock.release()
            transport._send_user_message(m)
            deadline = time.time() + self.target.timeout
            while not event.wait(0.05):
                if not transport.active or time.time() > deadline:
                    break
            opened = transport._channels.get(chanid)
            if event.is_set() and opened is not None:
                return opened
        raise TransportError('%s would not connect us to its unix socket %s (it does not exist, we may not open it, or '
                             'the server forbids stream-local forwarding)' % (self.target.describe(), path))

    def run(self, command, stdin=b'', timeout=120, limit=1024 * 1024):
        """Runs `command` on the server (its login shell reads it), `stdin` sent and closed: (rc, stdout, stderr) as
        text. Bounded: a command still running after `timeout` seconds, or printing more than `limit` bytes, has its
        channel closed (sshd then ends it) and is refused."""
        try:
            chan = self._transport().open_session(timeout=self.target.timeout)
        except paramiko.SSHException as exc:
            raise TransportError('%s would not open a session for a command: %s' % (self.target.describe(), exc))
        out, err = [], []
        size = 0
        deadline = time.time() + timeout
        try:
            chan.settimeout(1.0)
            chan.exec_command(command)
            if stdin:
                chan.sendall(stdin)
            chan.shutdown_write()
            while True:
                got = False
                for ready, read, into in ((chan.recv_ready, chan.recv, out), (chan.recv_stderr_ready, chan.recv_stderr, err)):
                    while ready():
                        data = read(65536)
                        if not data:
                            break
                        got = True
                        size += len(data)
                        into.append(data)
                        if size > limit:
                            raise TransportError('a command on %s printed more than %d bytes; it was stopped'
                                                 % (self.target.describe(), limit))
                if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                    break
                if time.time() > deadline:
                    raise TransportError('a command on %s was still running after %d seconds; it was stopped'
                                         % (self.target.describe(), timeout))
                if not got:
                    time.sleep(0.05)
            rc = chan.recv_exit_status()
        except socket.timeout:
            raise TransportError('%s stopped answering while a command ran' % self.target.describe())
        finally:
            chan.close()
        return rc, b''.join(out).decode('utf-8', 'replace'), b''.join(err).decode('utf-8', 'replace')

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None


class Endpoint:
    """Something that makes HTTP connections: a unix socket here, or a socket or port via SSH."""

    def __init__(self, unix_path=None, session=None, remote_path=None, remote_tcp=None, timeout=60):
        self.unix_path = unix_path
        self.session = session
        self.remote_path = remote_path
        self.remote_tcp = remote_tcp
        self.timeout = timeout

    def describe(self):
        if self.unix_path:
            return 'unix://%s' % self.unix_path
        where = self.remote_path or '%s:%s' % tuple(self.remote_tcp)
        return '%s%s%s' % (self.session.target.describe(), '' if where.startswith('/') else '/', where)

    def connection(self, timeout=None):
        timeout = timeout or self.timeout
        if self.unix_path:
            return UnixHTTPConnection(self.unix_path, timeout=timeout)
        if self.remote_path:
            return ChannelHTTPConnection(lambda: self.session.open_unix(self.remote_path), timeout=timeout)
        host, port = self.remote_tcp
        return ChannelHTTPConnection(lambda: self.session.open_tcp(host, port), host=host, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=None, service='the service'):
        """(status, lower-cased headers, body bytes) of one request; any failure is a TransportError
        that names the service, the endpoint and the request."""
        conn = self.connection(timeout=timeout)
        where = '%s at %s' % (service, self.describe())
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), resp.read()
        except TransportError:
            raise
        except (OSError, EOFError) as exc:
            raise TransportError('lost the connection to %s during %s %s: %s' % (where, method, path.split('?')[0], exc))
        except Exception as exc:  # http.client's errors (BadStatusLine, RemoteDisconnected...)
            raise TransportError('%s gave no HTTP answer to %s %s: %s (%s)'
                                 % (where, method, path.split('?')[0], exc, type(exc).__name__))
        finally:
            conn.release()

    def close(self):
        if self.session is not None:
            self.session.close()

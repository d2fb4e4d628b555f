# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small client for the libpod REST API, over any endpoint of _api_transport.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

- Libpod routes exist only under a version prefix (/v{version}/libpod/...). The prefix is the
  server's own Libpod-API-Version, read from /_ping, so one client serves Podman 4, 5 and 6.
- Errors arrive as {"cause", "message", "response"}; they become APIError with the status.
- A pull answers 200 and then streams JSON objects; a failed pull is an {"error": ...} object in
  that stream, so the whole stream is read and checked, never only the status.
"""

from __future__ import annotations

import base64
import json

try:
    from urllib.parse import quote, urlencode
except ImportError:  # pragma: no cover
    from urllib import quote, urlencode

from ansible_collections.machinist.podman.plugins.module_utils._api.transport import TransportError
from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError


class APIError(MachinistError):
    def __init__(self, status, message, cause=None, doing=None):
        self.status = status
        self.api_message = message
        self.cause = cause
        self.doing = doing
        text = 'podman API answered %s' % status
        if doing:
            text = 'could not %s: %s' % (doing, text)
        super().__init__('%s: %s' % (text, message))


def error_from_body(status, body, doing=None):
    message, cause = None, None
    try:
        data = json.loads(body.decode('utf-8', 'replace')) if body else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        message = data.get('message') or data.get('error')
        cause = data.get('cause')
    if not message:
        message = (body or b'').decode('utf-8', 'replace').strip() or 'no message'
    return APIError(status, message, cause, doing)


def parse_stream(body):
    """The JSON objects of a streamed answer; they follow each other with or without newlines."""
    decoder = json.JSONDecoder()
    text = body.decode('utf-8', 'replace') if isinstance(body, bytes) else body
    objects, pos = [], 0
    while True:
        while pos < len(text) and text[pos] in ' \t\r\n':
            pos += 1
        if pos >= len(text):
            return objects
        obj, pos = decoder.raw_decode(text, pos)
        objects.append(obj)


def stream_error(objects):
    """The first error a stream reported, or None."""
    for obj in objects:
        if isinstance(obj, dict) and obj.get('error'):
            return obj.get('error') if isinstance(obj['error'], str) else json.dumps(obj['error'])
    return None


def registry_auth_header(username, password):
    """X-Registry-Auth: base64url of the JSON credentials, as podman's own client sends it."""
    data = json.dumps({'username': username, 'password': password}).encode('utf-8')
    return base64.urlsafe_b64encode(data).decode('ascii')


class PodmanAPI:
    def __init__(self, endpoint, timeout=120):
        self.endpoint = endpoint
        self.timeout = timeout
        self.api_version = None
        self.requests = []  # (method, path, status), returned by the modules as `requests`

    # -- plumbing ------------------------------------------------------------------------
    def _send(self, method, path, body=None, headers=None, timeout=None):
        status, resp_headers, data = self.endpoint.request(method, path, body=body, headers=headers,
                                                           timeout=timeout or self.timeout, service='the podman API')
        self.requests.append({'method': method, 'path': path.split('?')[0], 'status': status})
        return status, resp_headers, data

    def ping(self):
        """Reads the server's API version; every other call is prefixed with it."""
        status, headers, data = self._send('GET', '/_ping', timeout=30)
        if status != 200:
            raise TransportError('%s does not answer like a podman API (GET /_ping: %s %s)'
                                 % (self.endpoint.describe(), status, data[:200].decode('utf-8', 'replace')))
        version = headers.get('libpod-api-version')
        if not version:
            raise TransportError('%s answers /_ping but sends no Libpod-API-Version header: it is a Docker-compatible '
                                 'API, not podman\'s' % self.endpoint.describe())
        self.api_version = version
        return version

    def path(self, tail, **query):
        if self.api_version is None:
            self.ping()
        query = dict((k, v) for k, v in query.items() if v is not None)
        for k, v in query.items():
            if isinstance(v, bool):
                query[k] = 'true' if v else 'false'
        return '/v%s/libpod%s%s' % (self.api_version, tail, ('?' + urlencode(query)) if query else '')

    def call(self, method, tail, doing, ok=(200,), body=None, headers=None, query=None, timeout=None):
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, bytearray)) and not hasattr(body, 'read'):
            body = json.dumps(body).encode('utf-8')
            hdrs.setdefault('Content-Type', 'application/json')
        status, _headers, data = self._send(method, self.path(tail, **(query or {})), body=body, headers=hdrs, timeout=timeout)
        if status not in ok:
            raise error_from_body(status, data, doing)
        return status, data

    @staticmethod
    def _json(data):
        return json.loads(data.decode('utf-8')) if data else None

    # -- server --------------------------------------------------------------------------
    def version(self):
        return self._json(self.call('GET', '/version', 'read the server version')[1])

    # -- images --------------------------------------------------------------------------
    def image_inspect(self, name):
        status, data = self.call('GET', '/images/%s/json' % quote(name, safe=''), 'inspect image %s' % name, ok=(200, 404))
        return self._json(data) if status == 200 else None

    def image_pull(self, reference, policy='missing', tls_verify=None, auth=None, timeout=None):
        headers = {'X-Registry-Auth': auth} if auth else {}
        _status, data = self.call('POST', '/images/pull', 'pull image %s' % reference, headers=headers, timeout=timeout,
                                  query={'reference': reference, 'policy': policy, 'tlsVerify': tls_verify, 'quiet': True})
        objects = parse_stream(data)
        error = stream_error(objects)
        if error:
            # The status was 200: the failure is only in the stream.
            raise APIError(200, error, doing='pull image %s' % reference)
        ids = [o.get('id') for o in objects if isinstance(o, dict) and o.get('id')]
        return ids[-1] if ids else None

    def image_load(self, fileobj, length, timeout=None):
        _status, data = self.call('POST', '/images/load', 'load the image archive', body=fileobj, timeout=timeout,
                                  headers={'Content-Type': 'application/x-tar', 'Content-Length': str(length)})
        return self._json(data) or {}

    def image_remove(self, name, force=False):
        status, data = self.call('DELETE', '/images/%s' % quote(name, safe=''), 'remove image %s' % name,
                                 ok=(200, 404), query={'force': force})
        return status == 200

    # -- containers ----------------------------------------------------------------------
    def container_inspect(self, name):
        status, data = self.call('GET', '/containers/%s/json' % quote(name, safe=''), 'inspect container %s' % name,
                                 ok=(200, 404))
        return self._json(data) if status == 200 else None

    def container_list(self, all=True):
        return self._json(self.call('GET', '/containers/json', 'list containers', query={'all': all})[1]) or []

    def container_create(self, spec):
        _status, data = self.call('POST', '/containers/create', 'create container %s' % spec.get('name'), ok=(201,),
                                  body=spec)
        return (self._json(data) or {}).get('Id')

    def container_rename(self, name, new_name):
        self.call('POST', '/containers/%s/rename' % quote(name, safe=''), 'rename container %s to %s' % (name, new_name),
                  ok=(200, 204), query={'name': new_name})

    def container_start(self, name):
        status, _body = self.call('POST', '/containers/%s/start' % quote(name, safe=''), 'start container %s' % name,
                                  ok=(204, 304))
        return status == 204

    def container_stop(self, name, timeout=10):
        status, _body = self.call('POST', '/containers/%s/stop' % quote(name, safe=''), 'stop container %s' % name,
                                  ok=(204, 304), query={'timeout': int(timeout)}, timeout=int(timeout) + self.timeout)
        return status == 204

    def container_remove(self, name, timeout=10):
        status, _body = self.call('DELETE', '/containers/%s' % quote(name, safe=''), 'remove container %s' % name,
                                  ok=(200, 204, 404), query={'force': True, 'timeout': int(timeout)},
                                  timeout=int(timeout) + self.timeout)
        return status != 404

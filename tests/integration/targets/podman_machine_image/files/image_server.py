# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""A real HTTP server on loopback for the image tests, serving a folder with the behaviours a
download must survive. Every request is logged as one line to --log, so tests can count them.

  /files/NAME          the file, with Range support (206), Content-Length and an ETag
  /redirect/NAME       302 to /files/NAME
  /status/CODE/NAME    that status (404, 500...)
  /truncated/NAME      promises the whole length, sends half, closes
  /flaky/NAME          the first request for NAME is cut after half; later ones behave as /files/
  /norange/NAME        ignores Range: always 200 and the whole file
"""

from __future__ import annotations

import argparse
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
SEEN = {}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        with LOCK, open(ARGS.log, 'a') as f:
            f.write('%s %s %s\n' % (self.command, self.path, self.headers.get('Range') or '-'))

    def _file(self, name):
        path = os.path.join(ARGS.root, os.path.basename(name))
        return path if os.path.isfile(path) else None

    def do_GET(self):  # noqa: N802 (http.server's name)
        m = re.match(r'^/(files|redirect|truncated|flaky|norange)/(.+)$', self.path)
        s = re.match(r'^/status/(\d+)/', self.path)
        if s:
            self.send_response(int(s.group(1)))
            self.send_header('Content-Length', '11')
            self.end_headers()
            self.wfile.write(b'test status')
            return
        if not m or not self._file(m.group(2)):
            self.send_response(404)
            self.send_header('Content-Length', '9')
            self.end_headers()
            self.wfile.write(b'not found')
            return
        kind, name = m.group(1), m.group(2)
        path = self._file(name)
        if kind == 'redirect':
            self.send_response(302)
            self.send_header('Location', '/files/' + name)
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        with open(path, 'rb') as f:
            data = f.read()
        if kind == 'flaky':
            with LOCK:
                first = name not in SEEN
                SEEN[name] = True
            if first:
                kind = 'truncated'
        start = 0
        rng = self.headers.get('Range')
        if rng and kind in ('files', 'flaky'):
            r = re.match(r'bytes=(\d+)-$', rng)
            start = int(r.group(1)) if r else 0
            if start >= len(data):
                self.send_response(416)
                self.send_header('Content-Range', 'bytes */%d' % len(data))
                self.send_header('Content-Length', '0')
                self.end_headers()
                return
            self.send_response(206)
            self.send_header('Content-Range', 'bytes %d-%d/%d' % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Accept-Ranges', 'bytes')
        self.end_headers()
        if kind == 'truncated':
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument('--root', required=True)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--log', required=True)
    ARGS = parser.parse_args()
    ThreadingHTTPServer(('127.0.0.1', ARGS.port), Handler).serve_forever()


if __name__ == '__main__':
    main()

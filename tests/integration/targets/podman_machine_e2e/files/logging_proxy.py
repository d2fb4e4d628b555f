# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small HTTP proxy for the end-to-end tests: it tunnels CONNECT requests (what podman sends for an https
registry behind a proxy) and logs each request's line, so a test can tell that a pull went through it.

    python3 logging_proxy.py --port PORT --log FILE [--map NAME=ADDRESS ...]

--map resolves NAME (a host only the proxy knows) to ADDRESS: a pull of NAME:PORT/... from inside a
machine, which cannot resolve NAME, can then only succeed through this proxy. Anything but CONNECT is
logged and answered 501. Every connection has a deadline; it listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import select
import socket
import socketserver
import threading

IDLE = 60  # seconds a tunnel may stay silent


class Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def handler(log_path, names):
    lock = threading.Lock()

    def log(line):
        with lock, open(log_path, 'a') as f:
            f.write(line + '\n')

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            self.connection.settimeout(IDLE)
            request = self.rfile.readline(8192).decode('latin-1').strip()
            while True:  # the headers, unread
                line = self.rfile.readline(8192)
                if line in (b'\r\n', b'\n', b''):
                    break
            log(request)
            method, _sp, rest = request.partition(' ')
            if method != 'CONNECT':
                self.wfile.write(b'HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n')
                return
            host, _c, port = rest.split(' ')[0].rpartition(':')
            try:
                upstream = socket.create_connection((names.get(host, host), int(port)), timeout=10)
            except (OSError, ValueError) as exc:
                log('failed %s: %s' % (rest, exc))
                self.wfile.write(b'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n')
                return
            self.wfile.write(b'HTTP/1.1 200 Connection established\r\n\r\n')
            self.wfile.flush()
            pair = [self.connection, upstream]
            try:
                while True:
                    ready, _w, _x = select.select(pair, [], [], IDLE)
                    if not ready:
                        return
                    for s in ready:
                        data = s.recv(65536)
                        if not data:
                            return
                        (upstream if s is self.connection else self.connection).sendall(data)
            except OSError:
                return
            finally:
                upstream.close()

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--log', required=True)
    parser.add_argument('--map', action='append', default=[])
    args = parser.parse_args()
    names = dict(m.split('=', 1) for m in args.map)
    with Proxy(('127.0.0.1', args.port), handler(args.log, names)) as server:
        server.serve_forever()


if __name__ == '__main__':
    main()

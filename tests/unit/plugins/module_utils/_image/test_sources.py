# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where podman_machine_image's sources come from and where they land: cache file names, the URL
schemes allowed, and the credentials a registry session sends, against real HTTP servers on
loopback (two addresses, so a redirect really changes host)."""

from __future__ import annotations

import base64
import hashlib
import json
import lzma
import ntpath
import os
import posixpath
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._image import fetch, sources
from ansible_collections.machinist.podman.plugins.module_utils._tasks import image as image_tasks
from ansible_collections.machinist.podman.plugins.plugin_utils._target_image import ensure_on_target

EVIL = '..\\..\\..\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Startup\\evil.cmd'
SAFE = re.compile(r'[0-9a-f]{12}-[A-Za-z0-9_-][A-Za-z0-9._-]*')


class Server:
    """A real HTTP server on a loopback address: `routes` maps a path to a function of the request
    handler that answers it; every request's path and headers are kept in `seen`."""

    def __init__(self, host='127.0.0.1'):
        self.routes = {}
        self.seen = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.seen.append((self.path, dict(self.headers)))
                route = outer.routes.get(self.path.split('?')[0])
                if route is None:
                    self.send_error(404)
                    return
                route(self)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.base = 'http://%s:%d' % (host, self.httpd.server_address[1])
        # shutdown() waits for the serving loop's next poll: at the default half second, every test that
        # used two servers spent a second in teardown.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def answer(status=200, body=b'', headers=None):
    def route(h):
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header('Content-Length', str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return route


@pytest.fixture
def servers():
    made = [Server('127.0.0.1'), Server('127.0.0.2')]
    yield made
    for s in made:
        s.close()


# -- item 1: cache names can never climb out of the cache ----------------------------------------
@pytest.mark.parametrize('pathmod, folder', [
    (ntpath, 'C:\\Users\\jane\\.cache\\machinist.podman\\images'),
    (posixpath, '/home/jane/.cache/machinist.podman/images'),
])
@pytest.mark.parametrize('name', [EVIL, '../../.bashrc', '/etc/passwd', '.hidden', 'C:\\evil', 'a' * 240 + '.qcow2',
                                  '', '..', 'disk\x00.qcow2', 'fedora-coreos-41.qcow2'])
def test_a_cache_file_stays_inside_the_cache(pathmod, folder, name):
    art = sources.Artifact(name, 'xz', url='https://example.invalid/x', sha256='a' * 64)
    path = sources.cache_file(pathmod, folder, art, '.xz')
    assert pathmod.dirname(path) == folder
    base = pathmod.basename(path)
    assert SAFE.fullmatch(base), base
    assert len(base) <= 12 + 1 + sources.NAME_MAX + len('.xz')


def test_the_fedora_name_is_kept_readable():
    art = sources.Artifact('fedora-coreos-41.20241027.3.0-qemu.x86_64.qcow2', 'xz', sha256='a' * 64)
    assert sources.cache_file(posixpath, '/c', art).endswith('-fedora-coreos-41.20241027.3.0-qemu.x86_64.qcow2')
    assert sources.cache_file(posixpath, '/c', sources.Artifact('a' * 240 + '.qcow2', 'none', sha256='a' * 64)).endswith('a.qcow2')


def test_a_stream_location_with_backslashes_lands_in_the_cache(servers, tmp_path):
    srv = servers[0]
    stream = {'architectures': {'x86_64': {'artifacts': {'qemu': {'release': '41', 'formats': {'qcow2.xz': {
        'disk': {'location': srv.base + '/' + EVIL.replace('\\', '%5C') + '.xz', 'sha256': 'b' * 64}}}}}}}}
    srv.routes['/stream.json'] = answer(body=json.dumps(stream).encode())
    art = sources.from_stream(srv.base + '/stream.json', 'x86_64', 'qemu')
    for pathmod, folder in ((ntpath, 'C:\\c'), (posixpath, str(tmp_path))):
        path = sources.cache_file(pathmod, folder, art)
        assert pathmod.dirname(path) == folder and SAFE.fullmatch(pathmod.basename(path))
    cache = sources.Cache(str(tmp_path))
    assert os.path.dirname(cache.image_path(art)) == str(tmp_path)


def test_an_oci_title_with_backslashes_is_only_a_display_name():
    # The title's last part, cut at either separator, is all a registry may choose.
    assert sources.last_part(EVIL) == 'evil.cmd'
    assert sources.last_part('a/b\\c.qcow2.xz') == 'c.qcow2.xz'


def test_the_windows_target_path_is_inside_the_cache():
    class Runner:
        path = ntpath

        def read_text(self, path):
            self.asked = path
            return None

    runner = Runner()
    art = sources.Artifact(EVIL, 'xz', url='https://example.invalid/x', sha256='c' * 64)
    out = ensure_on_target(runner, 'C:\\Users\\jane\\.cache\\machinist.podman\\images', art, 'record', True)
    assert ntpath.dirname(out['path']) == 'C:\\Users\\jane\\.cache\\machinist.podman\\images'
    assert SAFE.fullmatch(ntpath.basename(out['path']))


# -- item 15: http and https only ---------------------------------------------------------------
@pytest.mark.parametrize('url', ['file:///etc/passwd', 'ftp://example.invalid/x.qcow2', 'data:,abc', 'gopher://h/x',
                                 'http:///nohost'])
def test_only_http_urls_are_taken(url):
    with pytest.raises(fetch.FetchError, match='source: .* is not an http:// or https:// URL'):
        sources.from_url(url, 'a' * 64)
    with pytest.raises(fetch.FetchError, match='mirrors: .* is not an http:// or https:// URL'):
        sources.from_url('https://example.invalid/x.qcow2', 'a' * 64, mirrors=[url])
    with pytest.raises(fetch.FetchError, match='source: .* is not an http:// or https:// URL'):
        sources.from_stream(url, 'x86_64', 'qemu')


def test_source_type_url_does_not_take_a_file_url():
    params = dict((k, v.get('default')) for k, v in image_tasks.IMAGE_ARGS.items())
    params.update(source='file:///etc/shadow', source_type='url', checksum='a' * 64)
    with pytest.raises(fetch.FetchError, match='source: .* is not an http'):
        image_tasks.resolve(params, 'x86_64', lambda p: p)


def test_a_stream_location_must_be_http(servers):
    srv = servers[0]
    stream = {'architectures': {'x86_64': {'artifacts': {'qemu': {'formats': {'qcow2.xz': {
        'disk': {'location': 'file:///etc/passwd', 'sha256': 'b' * 64}}}}}}}}
    srv.routes['/stream.json'] = answer(body=json.dumps(stream).encode())
    with pytest.raises(fetch.FetchError, match='location: .* is not an http'):
        sources.from_stream(srv.base + '/stream.json', 'x86_64', 'qemu')


def test_a_redirect_to_a_file_url_is_refused(servers, tmp_path):
    srv = servers[0]
    srv.routes['/disk.qcow2'] = answer(302, headers={'Location': 'file:///etc/passwd'})
    with pytest.raises(fetch.FetchError, match='(?i)redirect'):
        sources.http_open(srv.base + '/disk.qcow2')


# -- item 2: credentials go only to the host that asked for them ----------------------------------
def test_a_redirect_to_another_host_drops_the_credentials(servers):
    a, b = servers
    a.routes['/v2/r/blobs/sha256:1'] = answer(307, headers={'Location': b.base + '/bucket/1'})
    a.routes['/same'] = answer(302, headers={'Location': '/here'})
    a.routes['/here'] = answer(body=b'ok')
    b.routes['/bucket/1'] = answer(body=b'blob')
    resp, status = sources.http_open(a.base + '/v2/r/blobs/sha256:1', headers={'Authorization': 'Bearer s3cret'})
    assert (status, resp.read()) == (200, b'blob')
    assert a.seen[-1][1].get('Authorization') == 'Bearer s3cret'
    assert b.seen[-1][0] == '/bucket/1' and 'Authorization' not in b.seen[-1][1]
    # The same host keeps them.
    sources.http_open(a.base + '/same', headers={'Authorization': 'Bearer s3cret'})[0].read()
    assert a.seen[-1][0] == '/here' and a.seen[-1][1].get('Authorization') == 'Bearer s3cret'


def test_a_registry_blob_redirect_sends_no_token_to_the_storage_host(servers):
    a, b = servers
    host = a.base[len('http://'):]
    creds = 'Basic ' + base64.b64encode(b'jane:pw').decode()

    def blob(h):
        if h.headers.get('Authorization') != creds:
            answer(401, headers={'WWW-Authenticate': 'Basic realm="registry"'})(h)
        else:
            answer(307, headers={'Location': b.base + '/storage/blob'})(h)
    a.routes['/v2/r/blobs/sha256:1'] = blob
    b.routes['/storage/blob'] = answer(body=b'layer')
    reg = sources.Registry(host, insecure=True, username='jane', password='pw')
    resp, _status = reg.open('/v2/r/blobs/sha256:1')
    assert resp.read() == b'layer'
    assert [p for p, _h in b.seen] == ['/storage/blob']
    assert all('Authorization' not in h for _p, h in b.seen)


def test_a_redirect_from_https_to_http_is_refused():
    handler = sources._Redirects()
    req = sources.Request('https://registry.example.invalid/v2/r/blobs/x', headers={'Authorization': 'Bearer s3cret'})
    with pytest.raises(fetch.FetchError, match='from https to plain http'):
        handler.redirect_request(req, None, 302, 'Found', {}, 'http://storage.example.invalid/x')
    with pytest.raises(fetch.FetchError, match='only http and https'):
        handler.redirect_request(req, None, 302, 'Found', {}, 'ftp://storage.example.invalid/x')
    kept = handler.redirect_request(req, None, 302, 'Found', {}, 'https://storage.example.invalid/x')
    assert kept.get_header('Authorization') is None


def test_a_token_realm_must_be_https_unless_insecure(servers):
    b = servers[1]
    b.routes['/token'] = answer(body=b'{"token": "t"}')
    secure = sources.Registry('registry.example.invalid', username='jane', password='pw')
    with pytest.raises(fetch.FetchError, match='realm .* is not https'):
        secure._token('Bearer realm="%s/token",service="s"' % b.base)
    assert b.seen == []  # the credentials never left
    with pytest.raises(fetch.FetchError, match='realm'):
        secure._token('Bearer realm="file:///etc/passwd"')
    loopback = sources.Registry('127.0.0.1:5000', insecure=True, username='jane', password='pw')
    assert loopback._token('Bearer realm="%s/token",service="s"' % b.base) == 'Bearer t'
    assert b.seen[-1][1].get('Authorization', '').startswith('Basic ')


# -- item 7: the cache folder is not trusted blindly ------------------------------------------------
def sha(data):
    return hashlib.sha256(data).hexdigest()


def test_a_cache_folder_writable_by_others_is_refused(tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    os.chmod(str(folder), 0o777)
    with pytest.raises(fetch.FetchError, match='cache_dir: .* is writable by other users'):
        sources.Cache(str(folder))
    os.chmod(str(folder), 0o700)
    (folder / '.partial').mkdir(mode=0o700)
    os.chmod(str(folder / '.partial'), 0o733)
    with pytest.raises(fetch.FetchError, match='cache_dir: .*\\.partial is writable by other users'):
        sources.Cache(str(folder))


def test_a_planted_link_in_the_cache_is_refused(tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir(mode=0o700)
    (tmp_path / 'elsewhere').mkdir()
    os.symlink(str(tmp_path / 'elsewhere'), str(folder / '.locks'))
    with pytest.raises(fetch.FetchError, match='cache_dir: .*\\.locks is not a folder of its own'):
        sources.Cache(str(folder))


def test_new_cache_folders_are_private(tmp_path):
    cache = sources.Cache(str(tmp_path / 'new'))
    for sub in ('', '.partial', '.locks'):
        assert os.stat(os.path.join(cache.folder, sub)).st_mode & 0o777 == 0o700


def test_verify_full_trusts_the_source_not_the_record(tmp_path):
    cache = sources.Cache(str(tmp_path / 'c'))
    good = b'the real disk'
    art = sources.Artifact('disk.qcow2', 'none', url='https://example.invalid/disk.qcow2', sha256=sha(good),
                           uncompressed_sha256=sha(good))
    image = cache.image_path(art)
    planted = b'a planted disk'
    with open(image, 'wb') as f:
        f.write(planted)
    st = os.stat(image)
    # A record that agrees with itself and with the source's compressed digest.
    cache.write_record(image, {'sha256': sha(good), 'uncompressed_sha256': sha(planted), 'size': st.st_size,
                               'mtime_ns': st.st_mtime_ns, 'fetched': 1})
    assert cache.hit(art, image, verify='full') is None
    # A source that states only the compressed digest: the decompressed file cannot be checked against
    # it, so verify: full fetches again rather than believe the record.
    oci = sources.Artifact('disk.qcow2', 'xz', url='https://example.invalid/disk.qcow2.xz', sha256='d' * 64)
    image = cache.image_path(oci)
    with open(image, 'wb') as f:
        f.write(planted)
    st = os.stat(image)
    cache.write_record(image, {'sha256': 'd' * 64, 'uncompressed_sha256': sha(planted), 'size': st.st_size,
                               'mtime_ns': st.st_mtime_ns, 'fetched': 1})
    assert cache.hit(oci, image) is not None
    assert cache.hit(oci, image, verify='full') is None


def test_a_planted_record_tmp_link_is_not_followed(tmp_path):
    cache = sources.Cache(str(tmp_path / 'c'))
    victim = tmp_path / 'victim'
    victim.write_text('keep me')
    image = os.path.join(cache.folder, 'aaaaaaaaaaaa-disk')
    os.symlink(str(victim), image + '.json.tmp')
    cache.write_record(image, {'size': 1})
    assert victim.read_text() == 'keep me'
    assert json.load(open(image + '.json')) == {'size': 1}
    assert os.stat(image + '.json').st_mode & 0o777 == 0o600


def test_a_planted_partial_link_is_not_followed(servers, tmp_path):
    srv = servers[0]
    data = lzma.compress(b'disk' * 1000)
    srv.routes['/disk.qcow2.xz'] = answer(body=data)
    cache = sources.Cache(str(tmp_path / 'c'))
    art = sources.from_url(srv.base + '/disk.qcow2.xz', sha(data))
    victim = tmp_path / 'victim'
    victim.write_bytes(b'keep me')
    part = os.path.join(cache.folder, '.partial', art.key() + '.download')
    os.symlink(str(victim), part)
    os.symlink(str(victim), part + '.json')
    out = sources.ensure(cache, art)
    assert victim.read_bytes() == b'keep me'
    assert open(out['path'], 'rb').read() == b'disk' * 1000
    assert os.stat(out['path']).st_mode & 0o777 == 0o600


# -- item 13: pruning removes cache entries only ----------------------------------------------------
def test_pruning_leaves_files_that_are_not_cache_entries(tmp_path):
    cache = sources.Cache(str(tmp_path / 'c'))
    mine = []
    for i in range(3):
        art = sources.Artifact('disk%d.qcow2' % i, 'none', url='https://example.invalid/%d' % i, sha256=sha(b'%d' % i))
        image = cache.image_path(art)
        with open(image, 'wb') as f:
            f.write(b'%d' % i)
        st = os.stat(image)
        cache.write_record(image, {'sha256': sha(b'%d' % i), 'uncompressed_sha256': sha(b'%d' % i), 'size': 1,
                                   'mtime_ns': st.st_mtime_ns, 'fetched': 100 + i})
        mine.append(image)
    # A user's own file beside them, with a JSON file of the same name.
    other = os.path.join(cache.folder, 'notes.txt')
    with open(other, 'w') as f:
        f.write('mine')
    with open(other + '.json', 'w') as f:
        json.dump({'fetched': 1, 'size': 4}, f)
    removed = cache.prune(mine[2], keep=1)
    assert sorted(removed) == sorted(mine[:2])
    assert os.path.exists(other) and os.path.exists(other + '.json')


# -- item 10: deadlines and bounded reads -----------------------------------------------------------
def trickle(total, every=0.2):
    """Sends `total` bytes one at a time, one every `every` seconds: each read is quick, the whole is not."""
    import time

    def route(h):
        h.send_response(200)
        h.send_header('Content-Length', str(total))
        h.end_headers()
        try:
            for _byte in range(total):
                h.wfile.write(b'x')
                h.wfile.flush()
                time.sleep(every)
        except OSError:
            pass
    return route


def test_a_trickling_download_meets_its_deadline(servers, tmp_path):
    import time
    srv = servers[0]
    srv.routes['/disk.qcow2'] = trickle(100)
    cache = sources.Cache(str(tmp_path / 'c'))
    art = sources.from_url(srv.base + '/disk.qcow2', 'a' * 64)
    start = time.monotonic()
    with pytest.raises(fetch.FetchError, match=r'timeout: .* took longer than 2 s'):
        sources.ensure(cache, art, timeout=2)
    assert time.monotonic() - start < 10
    assert [n for n in os.listdir(cache.folder) if not n.startswith('.')] == []


def test_stream_metadata_is_read_up_to_a_limit(servers):
    srv = servers[0]
    srv.routes['/stream.json'] = answer(body=b'{"a": "' + b'x' * (sources.JSON_MAX + 10) + b'"}')
    with pytest.raises(fetch.FetchError, match='is larger than %d bytes' % sources.JSON_MAX):
        sources.from_stream(srv.base + '/stream.json', 'x86_64', 'qemu')


def test_stream_metadata_meets_its_deadline(servers, monkeypatch):
    import time
    srv = servers[0]
    srv.routes['/stream.json'] = trickle(1000, every=0.05)
    monkeypatch.setattr(sources, 'JSON_TIMEOUT', 1)
    start = time.monotonic()
    with pytest.raises(fetch.FetchError, match='took longer than 1 s'):
        sources.from_stream(srv.base + '/stream.json', 'x86_64', 'qemu')
    assert time.monotonic() - start < 10


# -- item 6: the compressed bytes are verified before anything is decompressed; a size cap ----------
def test_a_wrong_digest_is_found_before_decompressing(servers, tmp_path):
    srv = servers[0]
    bomb = lzma.compress(b'\0' * (64 << 20))
    srv.routes['/bomb.qcow2.xz'] = answer(body=bomb)
    cache = sources.Cache(str(tmp_path / 'c'))
    art = sources.from_url(srv.base + '/bomb.qcow2.xz', 'e' * 64)
    with pytest.raises(fetch.FetchError) as err:
        sources.ensure(cache, art, max_size=1 << 20)
    assert err.value.extra.get('mismatch') == 'compressed'  # not too_large: nothing was decompressed
    assert [n for n in os.listdir(cache.folder) if not n.startswith('.')] == []
    assert os.listdir(os.path.join(cache.folder, '.partial')) == []


def test_a_verified_image_larger_than_max_size_is_refused(servers, tmp_path):
    srv = servers[0]
    bomb = lzma.compress(b'\0' * (8 << 20))
    srv.routes['/bomb.qcow2.xz'] = answer(body=bomb)
    cache = sources.Cache(str(tmp_path / 'c'))
    art = sources.from_url(srv.base + '/bomb.qcow2.xz', sha(bomb))
    with pytest.raises(fetch.FetchError, match='max_size') as err:
        sources.ensure(cache, art, max_size=1 << 20)
    assert err.value.extra.get('too_large')
    assert [n for n in os.listdir(cache.folder) if not n.startswith('.')] == []
    assert os.listdir(os.path.join(cache.folder, '.partial')) == []
    out = sources.ensure(cache, art, max_size=16 << 20)
    assert out['record']['size'] == 8 << 20


def test_a_download_longer_than_max_size_stops(servers, tmp_path):
    srv = servers[0]
    srv.routes['/disk.qcow2'] = answer(body=b'y' * (3 << 20))
    cache = sources.Cache(str(tmp_path / 'c'))
    art = sources.from_url(srv.base + '/disk.qcow2', sha(b'y' * (3 << 20)))
    with pytest.raises(fetch.FetchError, match='max_size'):
        sources.ensure(cache, art, max_size=1 << 20)
    assert os.listdir(os.path.join(cache.folder, '.partial')) == []


@pytest.mark.parametrize('value, expected', [('64GiB', 64 << 30), ('512MiB', 512 << 20), (1048576, 1 << 20),
                                             ('2g', 2 << 30)])
def test_max_size_reads_units(value, expected):
    assert sources.size_in_bytes(value, 'max_size') == expected


@pytest.mark.parametrize('value', ['1e999GiB', '-1', '0', 'lots', '4GiB\n', '\u0661GiB', True])
def test_max_size_refuses_what_is_not_a_size(value):
    with pytest.raises(fetch.FetchError, match='max_size'):
        sources.size_in_bytes(value, 'max_size')


def test_an_oci_reference_with_a_trailing_newline_is_refused():
    with pytest.raises(fetch.FetchError, match='is not docker://REGISTRY/REPOSITORY'):
        sources.from_oci('docker://quay.io/podman/machine-os:5.4\n', 'x86_64', 'qemu')


# -- answers that are not HTTP, or a chunked body cut short: a FetchError, not a traceback -------------
def _raw_server(answer):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)

    def serve():
        conn = listener.accept()[0]
        with conn:
            conn.recv(65536)
            conn.sendall(answer)
        listener.close()
    threading.Thread(target=serve, daemon=True).start()
    return 'http://127.0.0.1:%d/disk.qcow2.xz' % listener.getsockname()[1]


def test_an_answer_that_is_not_http_is_a_fetch_error():
    url = _raw_server(b'\x00garbage {[ not HTTP\r\n\r\n')
    with pytest.raises(fetch.FetchError, match='cannot fetch .*BadStatusLine'):
        sources.http_open(url, timeout=10)


def test_a_chunked_body_cut_short_is_a_truncation():
    url = _raw_server(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nonly a little')
    resp, status = sources.http_open(url, timeout=10)
    assert status == 200
    with pytest.raises(fetch.FetchError, match='broke off after .*IncompleteRead') as err:
        list(sources.body_chunks(resp, None, 'image', url))
    assert err.value.extra['truncated'] is True

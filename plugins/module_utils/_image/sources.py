# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where a machine OS image comes from (a Fedora CoreOS stream, a machine-os OCI index, a URL, a
local file), the cache it lands in, and the HTTP and registry clients that fetch it.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

The cache holds only finished, verified images, each with a small JSON record (source, digests,
size, mtime), so a hit is answered from the record without rehashing gigabytes. A lock per image
makes a second run wait for the first and then find its result. Compressed bytes of an
interrupted download wait under .partial/ for the next run to resume them.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import stat
import time
from http.client import HTTPException

try:
    from urllib.error import HTTPError, URLError
    from urllib.parse import urljoin, urlparse
    from urllib.request import HTTPRedirectHandler, Request, build_opener
except ImportError:  # pragma: no cover
    pass

from ansible_collections.machinist.podman.plugins.module_utils._common.files import replacing
from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LockTimeout, held_lock
from ansible_collections.machinist.podman.plugins.module_utils._image import fetch
from ansible_collections.machinist.podman.plugins.module_utils._image import names as image_names

FCOS_STREAM_URL = 'https://builds.coreos.fedoraproject.org/streams/%s.json'
# provider -> (FCOS platform, FCOS format, machine-os disktype)
PLATFORMS = {
    'qemu': ('qemu', 'qcow2.xz', 'qemu'),
    'applehv': ('applehv', 'raw.gz', 'applehv'),
    'libkrun': ('applehv', 'raw.gz', 'applehv'),
    'hyperv': ('hyperv', 'vhdx.zip', 'hyperv'),
    'wsl': (None, None, 'wsl'),
}
INDEX_TYPES = ('application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json')
MANIFEST_TYPES = ('application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json')


# A cache file's name: the artifact's key, then its name cut down to these characters, so a name from
# a stream, an OCI title or a URL (which a server chooses) can never climb out of the cache folder
# on a POSIX or a Windows target, nor hide as a dot file.
_UNSAFE = re.compile(r'[^A-Za-z0-9._-]')
NAME_MAX = 100


def safe_name(name):
    """`name` as [A-Za-z0-9._-] only, no leading dot, at most NAME_MAX characters (its end kept)."""
    text = _UNSAFE.sub('_', name or '')[-NAME_MAX:].lstrip('.')
    return text or 'image'


def last_part(path):
    """The last part of a path or URL path, cut at either separator (a server's name may hold backslashes)."""
    return re.split(r'[\\/]', path or '')[-1]


def cache_file(pathmod, folder, art, suffix=''):
    """The cache file of `art` in `folder`, for the path flavour of the host that keeps it; refuses any
    result that is not directly inside `folder`."""
    folder = pathmod.normpath(folder)
    path = pathmod.join(folder, '%s-%s%s' % (art.key(), safe_name(art.name), suffix))
    if pathmod.dirname(pathmod.normpath(path)) != folder:
        raise fetch.FetchError('%s: the cache file %s would lie outside the cache folder %s; nothing was written'
                               % (art.name, path, folder))
    return path


def http_only(url, field):
    """Images, mirrors and stream locations come over http or https only (no file:, ftp: or data:)."""
    scheme = urlparse(url).scheme.lower()
    if scheme not in ('http', 'https') or not urlparse(url).netloc:
        raise fetch.FetchError('%s: %r is not an http:// or https:// URL; give one (a local image goes in source as a '
                               'path)' % (field, url))
    return url


def fcos_arch(machine):
    return {'arm64': 'aarch64', 'aarch64': 'aarch64', 'amd64': 'x86_64', 'x86_64': 'x86_64'}.get(machine, machine)


class Artifact:
    """What to fetch: a URL (http or a registry blob) or a local file, and what it must hash to."""

    def __init__(self, name, compression, url=None, path=None, sha256=None, uncompressed_sha256=None, release=None,
                 source=None, headers=None, candidates=None):
        self.name = name                      # file name in the cache, without the compression suffix
        self.compression = compression
        self.url = url
        self.path = path
        self.sha256 = sha256
        self.uncompressed_sha256 = uncompressed_sha256
        self.release = release
        self.source = source
        self.headers = headers or {}
        self.candidates = candidates or ([url] if url else [])
        self.size = None                      # the compressed size a registry states for the blob

    @property
    def compressed(self):
        return self.compression not in ('none', None)

    def key(self):
        ident = self.sha256 or self.uncompressed_sha256 or self.url or os.path.realpath(self.path or '')
        return hashlib.sha256(ident.encode('utf-8')).hexdigest()[:12]

    def describe(self):
        return {'source': self.source, 'url': self.url, 'path': self.path, 'release': self.release,
                'compression': self.compression, 'sha256': self.sha256, 'uncompressed_sha256': self.uncompressed_sha256}


# -- HTTP ------------------------------------------------------------------------------------
# Headers that carry credentials: they go only to the scheme and host they were given for.
_CREDENTIAL_HEADERS = ('Authorization', 'Proxy-authorization', 'Cookie')


class _Redirects(HTTPRedirectHandler):
    """Follows redirects (registries send blob GETs to a storage host as a rule), but only to http or
    https, never from https down to plain http, and without credentials once the host or scheme
    changes: urllib would copy Authorization to wherever the server points."""
    max_redirections = 10

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        old, new = urlparse(req.full_url), urlparse(newurl)
        if new.scheme.lower() not in ('http', 'https'):
            raise fetch.FetchError('%s redirected to %s: refused, only http and https are followed' % (req.full_url, newurl))
        if old.scheme.lower() == 'https' and new.scheme.lower() == 'http':
            raise fetch.FetchError('%s redirected to %s: a redirect from https to plain http is refused' % (req.full_url, newurl))
        new_req = HTTPRedirectHandler.redirect_request(self, req, fp, code, msg, headers, newurl)
        if new_req is not None and (old.scheme.lower(), old.netloc.lower()) != (new.scheme.lower(), new.netloc.lower()):
            for name in _CREDENTIAL_HEADERS:
                new_req.remove_header(name)
        return new_req


def http_open(url, headers=None, offset=0, timeout=60, what='image'):
    """(response, status). Follows redirects; asks for bytes from `offset` on when resuming."""
    hdrs = dict(headers or {})
    if offset:
        hdrs['Range'] = 'bytes=%d-' % offset
    opener = build_opener(_Redirects())
    try:
        resp = opener.open(Request(url, headers=hdrs), timeout=timeout)
    except HTTPError as exc:
        if exc.code == 416 and offset:
            return None, 416
        body = exc.read(300).decode('utf-8', 'replace').strip()
        raise fetch.FetchError('%s: %s answered %s %s%s' % (what, url, exc.code, exc.reason, (': ' + body) if body else ''),
                               status=exc.code, url=url)
    except URLError as exc:
        raise fetch.FetchError('%s: cannot reach %s: %s' % (what, url, exc.reason), url=url)
    except (OSError, ValueError, HTTPException) as exc:
        # HTTPException: an answer that is not HTTP (BadStatusLine and the like).
        raise fetch.FetchError('%s: cannot fetch %s: %s: %s' % (what, url, type(exc).__name__, exc), url=url)
    return resp, resp.status


def body_chunks(resp, expected_length, what, url, progress=None, deadline=None, timeout=None):
    """The body in chunks; a body shorter than its Content-Length is a truncation, not an end. Each
    read has the socket's own time limit; `deadline` (time.monotonic()) bounds the whole body, which a
    server trickling a byte at a time would otherwise stretch without end."""
    got = 0
    while True:
        if deadline is not None and time.monotonic() > deadline:
            raise fetch.FetchError('timeout: %s: the download from %s took longer than %d s (%d bytes so far); raise '
                                   'timeout, or use a faster mirror' % (what, url, timeout, got), truncated=True,
                                   timed_out=True)
        try:
            data = getattr(resp, 'read1', resp.read)(fetch.CHUNK)  # what has arrived, not a full chunk
        except (OSError, ValueError, HTTPException) as exc:
            # HTTPException: IncompleteRead, a chunked body cut short.
            raise fetch.FetchError('%s: the download from %s broke off after %d bytes: %s: %s'
                                   % (what, url, got, type(exc).__name__, exc), truncated=True)
        if not data:
            break
        got += len(data)
        yield data
    if expected_length is not None and got < expected_length:
        raise fetch.FetchError('%s: %s sent %d of its %d bytes and closed the connection: the download was cut short'
                               % (what, url, got, expected_length), truncated=True)


# Metadata (a stream's JSON, a registry's index, manifest or token) is small: read at most this much,
# within this many seconds, so a hostile or broken server can neither fill memory nor hold a task.
JSON_MAX = 16 << 20
JSON_TIMEOUT = 120


def read_json(resp, what, url):
    deadline = time.monotonic() + JSON_TIMEOUT
    body = bytearray()
    for data in body_chunks(resp, None, what, url, deadline=deadline, timeout=JSON_TIMEOUT):
        body.extend(data)
        if len(body) > JSON_MAX:
            raise fetch.FetchError('%s: %s is larger than %d bytes, which no stream, index or manifest is; check the URL'
                                   % (what, url, JSON_MAX))
    try:
        return json.loads(bytes(body).decode('utf-8'))
    except ValueError as exc:
        raise fetch.FetchError('%s: %s is not JSON: %s' % (what, url, exc))


def http_json(url, what, headers=None, timeout=60):
    resp, _status = http_open(url, headers=headers, timeout=timeout, what=what)
    return read_json(resp, what, url)


_SIZE = re.compile(r'([0-9]+)\s*([KMGT]?)(?:i?B)?', re.IGNORECASE | re.ASCII)


def size_in_bytes(value, field):
    """4294967296, '4GiB', '512M': a whole, positive number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    m = _SIZE.fullmatch(value.strip()) if isinstance(value, str) and '\n' not in value else None
    if not m or int(m.group(1)) <= 0:
        raise fetch.FetchError('%s: %r is not a size: give a whole number of bytes, or one with a unit such as "64GiB" or '
                               '"512MiB"' % (field, value))
    return int(m.group(1)) << {'': 0, 'k': 10, 'm': 20, 'g': 30, 't': 40}[m.group(2).lower()]


# -- sources ---------------------------------------------------------------------------------
def from_stream(stream, arch, provider, mirrors=(), artifact_query=None):
    """An artifact from a Fedora CoreOS stream name or stream JSON URL."""
    url = FCOS_STREAM_URL % stream if stream in image_names.FCOS_STREAMS else http_only(stream, 'source')
    data = http_json(url, 'stream %s' % stream)
    platform, fmt, _disktype = PLATFORMS[provider]
    if artifact_query:
        try:
            import jmespath
        except ImportError:
            raise fetch.FetchError('artifact_query needs the Python library jmespath on the host that runs the task '
                                   '(pip install jmespath)')
        disk = jmespath.search(artifact_query, data)
        where = 'artifact_query %r' % artifact_query
        release = (disk or {}).get('release') if isinstance(disk, dict) else None
    else:
        if platform is None:
            raise fetch.FetchError('provider %s has no Fedora CoreOS stream artifact; use a machine-os OCI reference' % provider)
        where = 'architectures.%s.artifacts.%s.formats.%s.disk' % (arch, platform, fmt)
        art = (((data.get('architectures') or {}).get(arch) or {}).get('artifacts') or {}).get(platform) or {}
        disk = ((art.get('formats') or {}).get(fmt) or {}).get('disk')
        release = art.get('release')
    if not isinstance(disk, dict) or not disk.get('location'):
        have = sorted(((data.get('architectures') or {}).get(arch) or {}).get('artifacts', {}).keys())
        raise fetch.FetchError('stream %s has no %s (platforms there for %s: %s). For a layout this module does not know, '
                               'give artifact_query' % (url, where, arch, ', '.join(have) or 'none'))
    location = http_only(urljoin(url, disk['location']), 'stream %s: location' % stream)
    base = last_part(urlparse(location).path) or 'image'
    candidates = [http_only(m, 'mirrors').rstrip('/') + '/' + base for m in mirrors] + [location]
    return Artifact(image_names.strip_suffix(base), fetch.compression_of(base), url=location, sha256=disk.get('sha256'),
                    uncompressed_sha256=disk.get('uncompressed-sha256'), release=release,
                    source='stream %s' % stream, candidates=candidates)


def from_url(url, checksum=None, uncompressed_checksum=None, mirrors=()):
    base = last_part(urlparse(http_only(url, 'source')).path) or 'image'
    return Artifact(image_names.strip_suffix(base), fetch.compression_of(base), url=url, sha256=checksum,
                    uncompressed_sha256=uncompressed_checksum, source='url',
                    candidates=[http_only(m, 'mirrors').rstrip('/') + '/' + base for m in mirrors] + [url])


def from_file(path, checksum=None, uncompressed_checksum=None, check_exists=True):
    """A local image. check_exists=False: the file is on another host (the controller-side path),
    so its compression is told by its name alone."""
    head = b''
    if check_exists:
        if not os.path.isfile(path):
            raise fetch.FetchError('source: %s is not a file on the host that runs the task' % path)
        with open(path, 'rb') as f:
            head = f.read(8)
    base = last_part(path)
    return Artifact(image_names.strip_suffix(base), fetch.compression_of(base, head), path=path, sha256=checksum,
                    uncompressed_sha256=uncompressed_checksum, source='file')


_REF = re.compile(r'docker://(?P<host>[^/\s]+)/(?P<repo>[^:@\s]+)(?::(?P<tag>[^@\s]+))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?')


class Registry:
    """Just enough of the distribution API to read an index, a manifest and a blob."""

    def __init__(self, host, insecure=False, username=None, password=None, timeout=60):
        self.host = host
        self.scheme = 'http' if insecure else 'https'
        self.username = username
        self.password = password
        self.timeout = timeout
        self._auth = None

    def _url(self, path):
        return '%s://%s%s' % (self.scheme, self.host, path)

    def auth_headers(self):
        """The Authorization header this registry session earned, for a download made elsewhere."""
        return {'Authorization': self._auth} if self._auth else {}

    def _token(self, challenge):
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        if challenge.lower().startswith('basic'):
            if not self.username:
                raise fetch.FetchError('registry %s wants a user name and password: give username and password' % self.host)
            raw = ('%s:%s' % (self.username, self.password or '')).encode('utf-8')
            return 'Basic ' + base64.b64encode(raw).decode('ascii')
        url = params.get('realm', '')
        scheme = urlparse(url).scheme.lower()
        if scheme != 'https' and not (scheme == 'http' and self.scheme == 'http'):
            raise fetch.FetchError('registry %s: its token realm %r is not https, and the credentials would go there in '
                                   'clear; nothing was sent (insecure: true allows an http realm for an http registry)'
                                   % (self.host, url))
        query = '&'.join('%s=%s' % (k, params[k]) for k in ('service', 'scope') if params.get(k))
        headers = {}
        if self.username:
            raw = ('%s:%s' % (self.username, self.password or '')).encode('utf-8')
            headers['Authorization'] = 'Basic ' + base64.b64encode(raw).decode('ascii')
        data = http_json(url + ('?' + query if query else ''), 'registry token from %s' % url, headers=headers)
        return 'Bearer ' + (data.get('token') or data.get('access_token') or '')

    def open(self, path, accept=None, offset=0):
        headers = {}
        if accept:
            headers['Accept'] = ', '.join(accept)
        for attempt in (1, 2):
            if self._auth:
                headers['Authorization'] = self._auth
            try:
                return http_open(self._url(path), headers=headers, offset=offset, timeout=self.timeout,
                                 what='registry %s' % self.host)
            except fetch.FetchError as exc:
                status = exc.extra.get('status')
                if status != 401 or attempt == 2:
                    if status == 401:
                        raise fetch.FetchError('registry %s refused the credentials for %s' % (self.host, path))
                    raise
                challenge = self._challenge(path, headers)
                self._auth = self._token(challenge)
        raise fetch.FetchError('unreachable')  # pragma: no cover

    def _challenge(self, path, headers):
        try:
            build_opener(_Redirects()).open(Request(self._url(path), headers=dict(headers)), timeout=self.timeout)
        except HTTPError as exc:
            return exc.headers.get('WWW-Authenticate') or 'Basic realm="registry"'
        return 'Basic realm="registry"'

    def json(self, path, accept):
        resp, _status = self.open(path, accept)
        return read_json(resp, 'registry %s' % self.host, self._url(path)), resp.headers.get('Content-Type', '').split(';')[0]


def from_oci(ref, arch, provider, insecure=False, username=None, password=None):
    """The disk artifact of a machine-os index (podman 5's images): the entry whose `disktype`
    annotation, os and architecture match, then its one titled layer."""
    m = _REF.fullmatch(ref)
    if not m:
        raise fetch.FetchError('source: %r is not docker://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]' % ref)
    reg = Registry(m.group('host'), insecure=insecure, username=username, password=password)
    repo, what = m.group('repo'), m.group('digest') or m.group('tag') or 'latest'
    index, mtype = reg.json('/v2/%s/manifests/%s' % (repo, what), INDEX_TYPES + MANIFEST_TYPES)
    if mtype not in INDEX_TYPES and 'manifests' not in index:
        raise fetch.FetchError('source: %s is a single image, not an index of disk artifacts; give a machine-os '
                               'reference such as docker://quay.io/podman/machine-os:5.4' % ref)
    disktype = PLATFORMS[provider][2]
    chosen = [e for e in index.get('manifests') or []
              if (e.get('annotations') or {}).get('disktype') == disktype
              and (e.get('platform') or {}).get('os') == 'linux'
              and (e.get('platform') or {}).get('architecture') == arch]
    if not chosen:
        seen = ['%s/%s' % ((e.get('annotations') or {}).get('disktype', '-'), (e.get('platform') or {}).get('architecture', '-'))
                for e in index.get('manifests') or []]
        raise fetch.FetchError('source: %s has no disk artifact with disktype %s for linux/%s (it has: %s)'
                               % (ref, disktype, arch, ', '.join(seen) or 'nothing'))
    manifest, _t = reg.json('/v2/%s/manifests/%s' % (repo, chosen[0]['digest']), MANIFEST_TYPES)
    layers = manifest.get('layers') or []
    if len(layers) != 1 or not (layers[0].get('annotations') or {}).get('org.opencontainers.image.title'):
        raise fetch.FetchError('source: the %s artifact of %s must have exactly one layer with an '
                               'org.opencontainers.image.title annotation (it has %d layers)' % (disktype, ref, len(layers)))
    layer = layers[0]
    title = last_part(layer['annotations']['org.opencontainers.image.title'])
    digest = layer['digest'].split(':', 1)[1]
    art = Artifact(image_names.strip_suffix(title), fetch.compression_of(title), url=reg._url('/v2/%s/blobs/%s' % (repo, layer['digest'])),
                   sha256=digest, release=(index.get('annotations') or {}).get('org.opencontainers.image.version') or what,
                   source='oci %s' % ref)
    art.registry = reg
    art.size = layer.get('size') if isinstance(layer.get('size'), int) and layer.get('size') > 0 else None
    art.blob_path = '/v2/%s/blobs/%s' % (repo, layer['digest'])
    return art


# -- the cache -------------------------------------------------------------------------------
_ENTRY = re.compile(r'[0-9a-f]{12}-[A-Za-z0-9_-][A-Za-z0-9._-]*')
_HEX64 = re.compile(r'[0-9a-f]{64}')
# Files the cache makes are the user's alone (a private image's bytes included); existing files are
# never followed through a link.
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0)


def private_file(path, append=False):
    """A file object for writing `path`, mode 0600, never through a link planted at that name: a new
    file (any old one is removed first), or with append=True the existing regular file."""
    if append:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, 'O_NOFOLLOW', 0))
    else:
        if os.path.lexists(path):
            os.unlink(path)
        fd = os.open(path, _NEW, 0o600)
    return os.fdopen(fd, 'ab' if append else 'wb')


def cache_record(art, url, sha256, uncompressed_sha256, size, mtime_ns=None, compressed=False):
    """The record kept beside a finished image in a cache, on this host (the module path, which keeps it
    decompressed) or on a target (the controller-side path, which keeps it as fetched): where it came from,
    its hashes and size, and when."""
    return {'name': art.name, 'source': art.source, 'url': url, 'release': art.release, 'sha256': sha256,
            'uncompressed_sha256': uncompressed_sha256, 'size': size, 'mtime_ns': mtime_ns, 'fetched': int(time.time()),
            'compression': art.compression, 'compressed': compressed}


class Cache:
    """The cache folder, its .partial/ and .locks/: the user's own, private, and not writable by others,
    since an image found there is handed to podman as a verified one."""

    def __init__(self, folder):
        self.folder = folder
        for sub in ('', '.partial', '.locks'):
            path = os.path.join(folder, sub)
            try:
                os.makedirs(path, mode=0o700, exist_ok=True)
                st = os.stat(path) if sub == '' else os.lstat(path)
            except OSError as exc:
                raise fetch.FetchError('cache_dir: cannot create %s: %s' % (path, exc.strerror))
            if not stat.S_ISDIR(st.st_mode):
                raise fetch.FetchError('cache_dir: %s is not a folder of its own (a link or a file stands there); remove '
                                       'it, or give another cache_dir' % path)
            if hasattr(os, 'geteuid') and st.st_uid != os.geteuid():
                raise fetch.FetchError('cache_dir: %s belongs to uid %d, not to this user (uid %d), who could be handed '
                                       'images planted there; use a folder of your own' % (path, st.st_uid, os.geteuid()))
            if st.st_mode & 0o022:
                raise fetch.FetchError('cache_dir: %s is writable by other users (mode %o), who could plant images there; '
                                       'chmod go-w it, or give another cache_dir' % (path, st.st_mode & 0o777))

    def image_path(self, art):
        return cache_file(os.path, self.folder, art)

    def record_path(self, image):
        return image + '.json'

    def record(self, image):
        try:
            with open(self.record_path(image)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def write_record(self, image, data):
        """Records a finished image (see cache_record) beside it."""
        with replacing(self.record_path(image)) as f:
            json.dump(data, f, indent=1, sort_keys=True)

    def hit(self, art, image, verify='record'):
        """The record of a finished image that matches, or None."""
        rec = self.record(image)
        if not rec or not os.path.isfile(image):
            return None
        st = os.stat(image)
        if rec.get('size') != st.st_size or rec.get('mtime_ns') != st.st_mtime_ns:
            return None
        if art.sha256 and rec.get('sha256') != art.sha256:
            return None
        if art.uncompressed_sha256 and rec.get('uncompressed_sha256') != art.uncompressed_sha256:
            return None
        if verify == 'full':
            # Against what the source states, never the record's own word: with only a compressed digest
            # stated, the decompressed file cannot be checked, so it is fetched again.
            want = art.uncompressed_sha256 or (None if art.compressed else art.sha256)
            if not want or fetch.file_sha256(image) != want:
                return None
        return rec

    @contextlib.contextmanager
    def lock(self, art, timeout=3600):
        path = os.path.join(self.folder, '.locks', art.key() + '.lock')
        try:
            with held_lock(path, timeout):
                yield
        except LockTimeout:
            raise fetch.FetchError('another run has been fetching %s for over %d s (lock %s)' % (art.name, timeout, path))

    def entries(self):
        """The finished images: a file named as the cache names them, whose record has the cache's fields
        and agrees with the file's size and mtime. Nothing else in the folder is ever pruned."""
        out = []
        for name in os.listdir(self.folder):
            if not _ENTRY.fullmatch(name) or name.endswith('.json'):
                continue
            path = os.path.join(self.folder, name)
            rec = self.record(path)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if (isinstance(rec, dict) and stat.S_ISREG(st.st_mode) and rec.get('size') == st.st_size
                    and rec.get('mtime_ns') == st.st_mtime_ns and _HEX64.fullmatch(str(rec.get('uncompressed_sha256')))
                    and isinstance(rec.get('fetched'), (int, float))):
                out.append((path, rec))
        return out

    def prune(self, keep_path, older_than_days=None, keep=None, check_mode=False):
        """Removes finished images by age and count, never `keep_path`. Returns the removed paths."""
        entries = sorted(self.entries(), key=lambda e: e[1].get('fetched', 0), reverse=True)
        now = time.time()
        doomed = []
        for rank, (path, rec) in enumerate(e for e in entries if e[0] != keep_path):
            too_old = older_than_days is not None and now - rec.get('fetched', now) > older_than_days * 86400
            too_many = keep is not None and rank + 1 >= keep
            if too_old or too_many:
                doomed.append(path)
        if not check_mode:
            for path in doomed:
                for p in (path, self.record_path(path)):
                    try:
                        os.unlink(p)
                    except OSError:
                        pass
        return doomed


# -- fetching into the cache -----------------------------------------------------------------
def _open(art, url, offset):
    if getattr(art, 'registry', None) is not None:
        return art.registry.open(art.blob_path, offset=offset)
    return http_open(url, headers=art.headers, offset=offset, what=art.name)


def _length(resp, offset, status):
    if status == 206:
        m = re.match(r'bytes (\d+)-(\d+)/(\d+|\*)', resp.headers.get('Content-Range', ''))
        if not m or int(m.group(1)) != offset:
            return None
        return int(m.group(2)) - int(m.group(1)) + 1
    length = resp.headers.get('Content-Length')
    return int(length) if length and length.isdigit() else None


# The largest decompressed image taken when the task does not say (max_size): above any machine image's
# size, below what a decompression bomb would fill.
DEFAULT_MAX_SIZE = 40 << 30


def _remove(*paths):
    for p in paths:
        if os.path.lexists(p):
            os.unlink(p)


def _too_big(url, limit, field):
    return fetch.FetchError('%s: %s: the download is larger than %s (%d bytes); %s' % (
        field, url, 'the size its metadata states' if field == 'size' else 'max_size', limit,
        'the source does not match its metadata' if field == 'size' else 'raise max_size if the image is really that '
        'large'), too_large=True)


def _download(art, url, part, progress, deadline, timeout, max_size):
    """The artifact's bytes at `url` into `part`, resuming what an earlier run kept there. Returns
    whether it resumed. The body is bounded by the deadline, by max_size and by the size a registry
    states for the blob."""
    meta_path = part + '.json'
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        meta = {}
    offset = os.path.getsize(part) if os.path.isfile(part) and meta.get('url') == url else 0
    resp, status = _open(art, url, offset)
    if status == 416:  # everything was received before
        return True
    length = _length(resp, offset, status)
    resumed = status == 206 and length is not None
    if not resumed:
        offset = 0  # the server sent it all again: start over
    limit, field = (art.size, 'size') if art.size else (max_size, 'max_size')
    if limit and length is not None and offset + length > limit:
        raise _too_big(url, limit, field)
    if length is not None:
        fetch.check_free_space(os.path.dirname(part), length, art.name)
    if progress is not None:
        progress.total = (offset + length) if length is not None else None
    with private_file(meta_path) as f:
        f.write(json.dumps({'url': url}).encode('utf-8'))
    got = offset
    with private_file(part, append=resumed) as keep:
        for data in body_chunks(resp, length, art.name, url, deadline=deadline, timeout=timeout):
            got += len(data)
            if limit and got > limit:
                raise _too_big(url, limit, field)
            keep.write(data)
            if progress is not None:
                progress.add(len(data))
    return resumed and offset > 0


def _decompress(art, source, image, max_size, run_program=None):
    """The verified artifact at `source` (a download or a local file) decompressed to `image`.
    A stated compressed digest is checked first, so no byte of a tampered file is decompressed.
    run_program: a runner's, for the zstd program."""
    if art.sha256:
        fetch._check('compressed' if art.compressed else 'file', art.sha256, fetch.file_sha256(source), art.name)
    if art.compression == 'zip':
        usha, size = fetch.unzip_to(source, image, art.uncompressed_sha256, art.name, max_size=max_size)
        return art.sha256 or fetch.file_sha256(source), usha, size
    with open(source, 'rb') as f:
        return fetch.stream_to(iter(lambda: f.read(fetch.CHUNK), b''), art.compression, image, art.sha256,
                               art.uncompressed_sha256, what=art.name, max_size=max_size, run_program=run_program)


def _fetch_url(cache, art, url, image, progress, deadline, timeout, max_size, run_program=None):
    part = os.path.join(cache.folder, '.partial', art.key() + '.download')
    try:
        resumed = _download(art, url, part, progress, deadline, timeout, max_size)
        if progress is not None:
            progress.write('decompressing')
        sha, usha, size = _decompress(art, part, image, max_size, run_program)
    except fetch.FetchError as exc:
        if exc.extra.get('mismatch') or exc.extra.get('damaged') or exc.extra.get('too_large'):
            _remove(part, part + '.json')
        else:
            exc.extra['resumable_bytes'] = os.path.getsize(part) if os.path.isfile(part) else 0
        raise
    _remove(part, part + '.json')
    return sha, usha, size, resumed


def ensure(cache, art, verify='record', check_mode=False, progress_path=None, lock_timeout=3600, timeout=3600,
           max_size=None, runner=None):
    """The image in the cache, fetched only when it is not there. Returns a result dict. `timeout`
    bounds the whole fetch, every location tried; `max_size` the decompressed image (and the download).
    `runner` starts the zstd program for a zstd image, within the fetch's `timeout`."""
    max_size = max_size or DEFAULT_MAX_SIZE
    image = cache.image_path(art)
    rec = cache.hit(art, image, verify)
    if rec:
        return {'changed': False, 'path': image, 'record': rec, 'cache_hit': True}
    if check_mode:
        return {'changed': True, 'path': image, 'record': None, 'cache_hit': False}
    with cache.lock(art, lock_timeout):
        rec = cache.hit(art, image, verify)
        if rec:  # another run fetched it while this one waited
            return {'changed': False, 'path': image, 'record': rec, 'cache_hit': True}
        progress = fetch.Progress(progress_path) if progress_path else None
        deadline = time.monotonic() + timeout
        run_program = None
        if runner is not None:
            def run_program(argv):  # the zstd program, within what is left of the fetch's timeout
                return runner.run_program(argv, timeout=max(deadline - time.monotonic(), 1))
        resumed = False
        if art.path:
            sha, usha, size = _decompress(art, art.path, image, max_size, run_program)
            used = art.path
        else:
            errors = []
            for url in art.candidates:
                try:
                    sha, usha, size, resumed = _fetch_url(cache, art, url, image, progress, deadline, timeout, max_size,
                                                          run_program)
                    used = url
                    break
                except fetch.FetchError as exc:
                    status = exc.extra.get('status')
                    retry = ((status in (404, 500, 502, 503, 504) or exc.extra.get('url')) and not exc.extra.get('mismatch')
                             and not exc.extra.get('timed_out'))
                    errors.append(str(exc))
                    if not retry or url == art.candidates[-1]:
                        if len(errors) > 1:
                            raise fetch.FetchError('; '.join(errors), **exc.extra)
                        raise
        if progress is not None:
            progress.write('done')
        st = os.stat(image)
        rec = cache_record(art, used, sha, usha, size, mtime_ns=st.st_mtime_ns)
        cache.write_record(image, rec)
    return {'changed': True, 'path': image, 'record': rec, 'cache_hit': False, 'resumed': resumed}

# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Machine OS images: one streaming pass from a source to a verified file in the cache.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

The pass: read the compressed bytes (from HTTP, a registry blob, or a local file), hash them,
decompress, hash the result, write it to a temporary file beside the target, then rename. Memory
stays flat at any size. On a failure nothing is left under the image's name; the compressed bytes
received so far are kept under .partial/ so the next run resumes with an HTTP range request,
unless the failure was a wrong checksum (then they are dropped too).
"""

from __future__ import annotations

import bz2
import hashlib
import json
import lzma
import os
import queue
import shutil
import tempfile
import threading
import time
import zipfile
import zlib

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError
from ansible_collections.machinist.podman.plugins.module_utils._common.files import replacing
from ansible_collections.machinist.podman.plugins.module_utils._image import names as image_names

CHUNK = 1 << 20
# The largest piece of decompressed output held at once (bounded by the writer's queue too).
PIECE = 1 << 20
COMPRESSIONS = ('xz', 'gz', 'bz2', 'zst', 'zip', 'none')
MAGIC = ((b'\xfd7zXZ\x00', 'xz'), (b'\x1f\x8b', 'gz'), (b'BZh', 'bz2'), (b'\x28\xb5\x2f\xfd', 'zst'), (b'PK\x03\x04', 'zip'))


class FetchError(MachinistError):
    """A fetch that failed; of its extra fields, the failed result shows those in `shown`."""

    shown = ('expected', 'seen', 'mismatch', 'url', 'status', 'truncated', 'resumable_bytes', 'damaged', 'too_large',
             'max_size', 'timed_out', 'needed', 'free', 'folder', 'source')

    def __init__(self, message, **extra):
        super().__init__(message, **extra)


def compression_of(name, head=b''):
    """By suffix, else by magic number, else none."""
    by_name = image_names.compression_by_name(name)
    if by_name:
        return by_name
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    return 'none'


class _Zstd:
    """The zstd program as a streaming filter (Python has no zstd before 3.14), started through the task's
    runner (`run_program`: its deadline and session apply) and connected by two FIFOs in a private folder:
    the pass writes compressed bytes into one, a reader thread takes the output from the other straight to
    the sink (the writer's bounded queue), so a full queue holds zstd back instead of piling output up in
    memory. A sink that refuses (too large) closes the output, which stops zstd."""

    def __init__(self, run_program):
        zstd = shutil.which('zstd')
        if not zstd:
            raise FetchError('this image is zstd-compressed: install the zstd program on the host that runs the task')
        self._folder = tempfile.mkdtemp(prefix='machinist-zstd-')
        self._in = os.path.join(self._folder, 'in')
        self._out = os.path.join(self._folder, 'out')
        os.mkfifo(self._in, 0o600)
        os.mkfifo(self._out, 0o600)
        self._result = None
        self._ended = threading.Event()
        self._drained = threading.Event()
        self._w = None
        self._sink = None
        self._reader = None
        self._discard = False
        self.sink_error = None
        self.eof = False
        # The shell opens both ends (each waits for its peer here), then becomes zstd.
        argv = ['/bin/sh', '-c', 'exec "$1" -dcq < "$2" > "$3"', 'sh', zstd, self._in, self._out]
        self._runs = threading.Thread(target=self._run, args=(run_program, argv), daemon=True)
        self._runs.start()

    def _run(self, run_program, argv):
        try:
            self._result = run_program(argv)
        finally:
            self._ended.set()
            # zstd is gone: a reader still waiting for the output's other end gets it, empty.
            while not self._drained.is_set():
                try:
                    os.close(os.open(self._out, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:
                    pass
                self._drained.wait(0.05)

    def attach(self, sink):
        self._sink = sink
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        try:
            with open(self._out, 'rb') as f:
                for piece in iter(lambda: f.read(PIECE), b''):
                    if self.sink_error is None and not self._discard:
                        try:
                            self._sink(piece)
                        except Exception as exc:  # too large, or the writer failed: the pass raises it
                            self.sink_error = exc
                            return  # the output closes: zstd stops on its next write
        finally:
            self._drained.set()

    def _input(self):
        """The compressed bytes' end of the filter, once zstd (through its shell) has opened the other."""
        while self._w is None:
            try:
                self._w = os.fdopen(os.open(self._in, os.O_WRONLY | os.O_NONBLOCK), 'wb', buffering=0)
                os.set_blocking(self._w.fileno(), True)
            except OSError:
                if self._ended.wait(0.05):
                    raise FetchError('zstd did not start: %s' % self._stderr())
        return self._w

    def _stderr(self):
        return (self._result.stderr if self._result is not None else '').strip()

    def pieces(self, data):
        if self.sink_error is not None:
            raise self.sink_error
        try:
            self._input().write(data)
        except BrokenPipeError:
            self._reap()
            if self.sink_error is not None:
                raise self.sink_error
            raise FetchError('zstd stopped reading: %s' % self._stderr(), damaged=True)
        return iter(())

    def _reap(self):
        if self._reader is None:  # nothing was attached: the output is read and dropped, so zstd can end
            self._discard = True
            self.attach(None)
        if self._w is not None:
            try:
                self._w.close()
            except OSError:
                pass
        elif not self._ended.is_set():
            self._input().close()
        self._runs.join()
        if self._reader is not None:
            self._reader.join()
        shutil.rmtree(self._folder, ignore_errors=True)

    def finish(self):
        self._reap()
        if self.sink_error is not None:
            raise self.sink_error
        rc = self._result.rc if self._result is not None else None
        err = self._stderr()
        self.eof = rc == 0 and not self._result.timed_out
        if self._result is not None and self._result.timed_out:
            raise FetchError('zstd did not finish within its time limit', timed_out=True)
        if rc != 0 and 'unexpected end of file' not in err.lower() and 'truncated' not in err.lower():
            raise FetchError('the zstd data is damaged: %s' % err, damaged=True)
        return b''

    def abort(self):
        """The pass failed: the output is discarded, zstd sees the input end and is reaped."""
        self._discard = True
        try:
            self._reap()
        except FetchError:
            pass


class _Plain:
    eof = True

    def pieces(self, data):
        # In pieces of at most PIECE bytes, as the others, so max_size stops a plain image as early.
        for i in range(0, len(data), PIECE):
            yield data[i:i + PIECE]

    def finish(self):
        return b''

    def abort(self):
        pass


class _Damaged(ValueError):
    """Bad compressed data found by the pass itself (not by a decompressor): reported as damaged."""


# What starts every stream (xz), member (gzip) or stream (bz2) of a concatenation.
STREAM_MAGIC = {'xz': b'\xfd7zXZ\x00', 'gz': b'\x1f\x8b', 'bz2': b'BZh'}
_NEW = {'xz': lzma.LZMADecompressor, 'gz': lambda: zlib.decompressobj(16 + zlib.MAX_WBITS), 'bz2': bz2.BZ2Decompressor}


class _Std:
    """lzma and bz2 (max_length and needs_input) and zlib (max_length and unconsumed_tail): the output
    comes in pieces of at most PIECE bytes, so a sparse disk that compresses 1000:1 cannot turn one
    input chunk into a gigabyte in memory.

    Every stream of a concatenation is decoded, as xz, gzip and bzip2 do (pbzip2 always writes
    several): the bytes after a stream's end start a fresh decompressor of the same kind, and must
    begin with that kind's magic; for xz, NUL stream padding in multiples of four may come between
    or after streams. Anything else after the end of a stream is trailing garbage, refused.
    `eof` is true only when the last stream seen has ended and nothing after it has begun."""

    def __init__(self, kind):
        self._kind = kind
        self._obj = _NEW[kind]()
        self._head = b''      # the first bytes of a next stream, fewer than its magic
        self._padding = 0     # xz stream padding seen since the last stream's end
        self._fed = 0         # compressed bytes given so far
        self.streams = 0      # streams that reached their end
        self.eof = False

    def pieces(self, data):
        self._fed += len(data)
        while data:
            if self._obj is None:
                data = self._next_stream(data)
                if not data:
                    return
            obj = self._obj
            yield from self._decode(obj, data)
            if not obj.eof:
                return
            self.streams += 1
            self.eof = True
            self._obj = None
            data = obj.unused_data

    def _decode(self, obj, data):
        if hasattr(obj, 'needs_input'):
            yield obj.decompress(data, PIECE)
            while not obj.eof and not obj.needs_input:
                yield obj.decompress(b'', PIECE)
        else:
            # Also asks again when a piece came out full: zlib may hold output back with no tail left.
            out = obj.decompress(data, PIECE)
            yield out
            while not obj.eof and (obj.unconsumed_tail or len(out) == PIECE):
                out = obj.decompress(obj.unconsumed_tail, PIECE)
                yield out

    def _next_stream(self, data):
        """After a stream's end: skips xz padding, then checks the next stream's magic. Returns the
        bytes to give a fresh decompressor (which is then in place), or b'' when more are needed."""
        kind = self._kind
        if kind == 'xz' and not self._head:
            rest = data.lstrip(b'\0')
            self._padding += len(data) - len(rest)
            if not rest:
                return b''
            self._check_padding()
            data = rest
        at = self._fed - len(data) - len(self._head)
        head = self._head + data
        magic = STREAM_MAGIC[kind]
        if not magic.startswith(head[:len(magic)]):
            raise _Damaged('the bytes from offset %d of the compressed data on, after the end of %s stream %d, are '
                           'not the start of another %s stream (they begin %r): trailing garbage. The file at the '
                           'source is corrupt or is not a valid %s file'
                           % (at, kind, self.streams, kind, head[:16], kind))
        self.eof = False
        if len(head) < len(magic):
            self._head = head
            return b''
        self._head = b''
        self._obj = _NEW[kind]()
        return head

    def _check_padding(self):
        if self._padding % 4:
            raise _Damaged('the xz stream padding after stream %d is %d NUL bytes, not a multiple of four as the xz '
                           'format requires: the file at the source is corrupt' % (self.streams, self._padding))
        self._padding = 0

    def finish(self):
        if self._obj is None and not self._head:
            self._check_padding()
        return b''

    def abort(self):
        pass


def decompressor(kind, run_program=None):
    """The streaming decompressor of `kind`; zstd's runs the zstd program through `run_program` (a runner's)."""
    if kind in _NEW:
        return _Std(kind)
    if kind == 'zst':
        if run_program is None:
            raise FetchError('a zstd image needs a way to run the zstd program: pass run_program')
        return _Zstd(run_program)
    if kind == 'none':
        return _Plain()
    raise FetchError('no streaming decompressor for %s' % kind)


class Progress:
    """Writes {done, total, rate} to a JSON file at most once a second, for a user watching a long fetch."""

    def __init__(self, path, total=None):
        self.path = path
        self.total = total
        self.done = 0
        self.start = time.time()
        self._last = 0

    def add(self, n):
        self.done += n
        now = time.time()
        if self.path and now - self._last >= 1:
            self._last = now
            self.write('downloading')

    def write(self, phase):
        if not self.path:
            return
        elapsed = max(time.time() - self.start, 1e-6)
        data = {'phase': phase, 'bytes_done': self.done, 'bytes_total': self.total,
                'percent': round(100.0 * self.done / self.total, 1) if self.total else None,
                'mib_per_s': round(self.done / elapsed / 1048576, 1), 'updated': int(time.time())}
        # A new file of a random name made with O_EXCL (mode 0600), never a fixed name that a link planted
        # there would make the write follow.
        with replacing(self.path) as f:
            json.dump(data, f)


def _max_size(max_size):
    if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1):
        raise FetchError('max_size: the largest decompressed image to accept must be a positive number of bytes, '
                         'got %r' % (max_size,))
    return max_size


def _too_large(what, max_size):
    return FetchError('%s: the image would be larger than max_size (%d bytes): raise max_size if the image is really '
                      'that large. Nothing was written under the image\'s name' % (what, max_size),
                      too_large=True, max_size=max_size)


def check_free_space(folder, needed, what='image'):
    """Raises FetchError when `folder` has fewer than `needed` bytes free for an unprivileged user;
    returns the bytes free. For the caller to use before a pass writes an image of a known size
    (needed=None, a size not known ahead, only reports the free bytes)."""
    try:
        st = os.statvfs(folder)
    except OSError as exc:
        raise FetchError('%s: cannot check the free space of %s: %s' % (what, folder, exc.strerror or exc),
                         folder=folder)
    free = st.f_bavail * st.f_frsize
    if needed is not None and needed > free:
        raise FetchError('%s: %s has %d bytes free (%.1f GiB) but the image needs %d bytes (%.1f GiB): free some space '
                         'there, or give cache_dir a folder on a filesystem with room'
                         % (what, folder, free, free / 1073741824.0, needed, needed / 1073741824.0),
                         folder=folder, needed=needed, free=free)
    return free


def _check(kind, expected, seen, what):
    if expected and expected != seen:
        raise FetchError('%s: the %s sha256 should be %s but is %s. The download was discarded; nothing was written '
                         'under the image\'s name' % (what, kind, expected, seen), expected=expected, seen=seen,
                         mismatch=kind)


class _Writer(threading.Thread):
    """Hashes and writes decompressed pieces in a thread of its own, so decompressing and
    hashing-plus-writing use two cores as `xz -dc | sha256sum` does. The queue is bounded."""

    def __init__(self, out):
        threading.Thread.__init__(self, daemon=True)
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0
        self.error = None
        self.queue = queue.Queue(maxsize=6)

    def run(self):
        while True:
            piece = self.queue.get()
            if piece is None:
                return
            if self.error is not None:
                continue
            try:
                self.hash.update(piece)
                self.out.write(piece)
                self.size += len(piece)
            except OSError as exc:
                self.error = exc

    def put(self, piece):
        if self.error is not None:
            raise self.error
        if piece:
            self.queue.put(piece)

    def close(self):
        self.queue.put(None)
        self.join()
        if self.error is not None:
            raise self.error


def stream_to(chunks, kind, target, expected_sha256=None, expected_uncompressed=None, what='image',
              progress=None, resume_bytes=None, keep_compressed=None, max_size=None, run_program=None):
    """Streams compressed chunks to `target` (atomically, mode 0600). Returns (sha256, uncompressed_sha256, size).

    chunks: an iterable of bytes. resume_bytes: a file of compressed bytes already received, fed
    first. keep_compressed: a file object that receives every new compressed byte (for resuming).
    max_size: the most decompressed bytes to accept; past it the pass stops with a FetchError whose
    extra has too_large=True (a decompression bomb writes at most max_size bytes, then nothing is left).
    run_program: a runner's run_program, which starts the zstd program for a zstd stream.
    """
    _max_size(max_size)
    folder = os.path.dirname(target)
    hc = hashlib.sha256()
    dec = decompressor(kind, run_program)  # before the temporary file: a missing zstd leaves nothing behind
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix='.%s.tmp-' % os.path.basename(target))
    except OSError as exc:
        dec.abort()
        raise FetchError('%s: cannot write %s: %s' % (what, target, exc.strerror or exc))
    ok = False
    writer = None
    produced = [0]
    try:
        with os.fdopen(fd, 'wb') as out:
            writer = _Writer(out)
            writer.start()

            def emit(piece):  # in the pass's thread, or zstd's reader thread (the one caller then)
                if max_size is not None and produced[0] + len(piece) > max_size:
                    raise _too_large(what, max_size)
                produced[0] += len(piece)
                writer.put(piece)
            if hasattr(dec, 'attach'):
                dec.attach(emit)

            def take(data, new):
                hc.update(data)
                if new and keep_compressed is not None:
                    keep_compressed.write(data)
                try:
                    for piece in dec.pieces(data):
                        emit(piece)
                except (lzma.LZMAError, zlib.error, EOFError, ValueError) as exc:
                    raise FetchError('%s: the %s data is damaged: %s' % (what, kind, exc), damaged=True)
                except OSError as exc:
                    if kind == 'bz2' and exc.errno is None:  # bz2 reports bad data as a bare OSError
                        raise FetchError('%s: the %s data is damaged: %s' % (what, kind, exc), damaged=True)
                    raise
                if progress is not None:
                    progress.add(len(data))
            finished = False
            try:
                if resume_bytes:
                    with open(resume_bytes, 'rb') as f:
                        for data in iter(lambda: f.read(CHUNK), b''):
                            take(data, False)
                for data in chunks:
                    take(data, True)
                try:
                    emit(dec.finish())
                except (lzma.LZMAError, zlib.error, EOFError, ValueError) as exc:
                    raise FetchError('%s: the %s data is damaged: %s' % (what, kind, exc), damaged=True)
                finished = True
            finally:
                if not finished:
                    dec.abort()
                writer.close()
            if not dec.eof:
                if expected_sha256 and hc.hexdigest() == expected_sha256:
                    # Every byte the checksum promises arrived: the file itself is incomplete.
                    raise FetchError('%s: the %s stream ends before its end marker although its checksum is right: the '
                                     'file at the source is incomplete' % (what, kind), damaged=True)
                raise FetchError('%s: the %s stream ended before its end marker: the download was cut short'
                                 % (what, kind), truncated=True)
            _check('compressed' if kind != 'none' else 'file', expected_sha256, hc.hexdigest(), what)
            _check('uncompressed', expected_uncompressed, writer.hash.hexdigest(), what)
            out.flush()
            os.fsync(out.fileno())
        os.rename(tmp, target)
        ok = True
    except OSError as exc:
        raise FetchError('%s: cannot write %s: %s' % (what, target, exc.strerror or exc))
    finally:
        if not ok and os.path.exists(tmp):
            os.unlink(tmp)
    return hc.hexdigest(), writer.hash.hexdigest(), writer.size


def unzip_to(archive, target, expected_uncompressed=None, what='image', max_size=None):
    """A zip must hold exactly one file (as podman requires); it is streamed out to `target` (atomically,
    mode 0600). Returns (uncompressed_sha256, size). max_size: as for stream_to."""
    _max_size(max_size)
    try:
        with zipfile.ZipFile(archive) as z:
            members = [m for m in z.infolist() if not m.is_dir()]
            if len(members) != 1:
                raise FetchError('%s: the zip holds %d files; a machine image zip must hold exactly one'
                                 % (what, len(members)))
            hu = hashlib.sha256()
            size = 0
            with replacing(target, binary=True, durable=True) as out, z.open(members[0]) as src:
                for data in iter(lambda: src.read(CHUNK), b''):
                    if max_size is not None and size + len(data) > max_size:
                        raise _too_large(what, max_size)
                    hu.update(data)
                    out.write(data)
                    size += len(data)
                _check('uncompressed', expected_uncompressed, hu.hexdigest(), what)
            return hu.hexdigest(), size
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise FetchError('%s: the zip is damaged or cut short: %s' % (what, exc), damaged=True)


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for data in iter(lambda: f.read(CHUNK), b''):
            h.update(data)
    return h.hexdigest()

# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The streaming pass and the cache of podman_machine_image, on data made here with the real
compressors (the stdlib's, and the zstd program)."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LocalRunner
from ansible_collections.machinist.podman.plugins.module_utils._image import fetch, sources
from ansible_collections.machinist.podman.plugins.plugin_utils._local import run_command

DISK = os.urandom(300000) + b'machinist' * 100000


def stream_to(*args, **kwargs):
    """fetch.stream_to with a runner on this host for the zstd program, as the module passes its own."""
    kwargs.setdefault('run_program', LocalRunner('zstd', run_command).run_program)
    return fetch.stream_to(*args, **kwargs)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def compressed(kind):
    if kind == 'xz':
        return lzma.compress(DISK)
    if kind == 'gz':
        return gzip.compress(DISK)
    if kind == 'bz2':
        return bz2.compress(DISK)
    if kind == 'zst':
        if not shutil.which('zstd'):
            pytest.fail('the zstd program is missing: scripts/setup.sh installs it')
        return subprocess.run(['zstd', '-q', '-c'], input=DISK, capture_output=True, check=True).stdout
    return DISK


def chunks(data, size=65536):
    return (data[i:i + size] for i in range(0, len(data), size))


@pytest.mark.parametrize('kind', ['xz', 'gz', 'bz2', 'zst', 'none'])
def test_each_compression_streams_to_the_same_disk(kind, tmp_path):
    data = compressed(kind)
    target = str(tmp_path / 'disk.qcow2')
    got = stream_to(chunks(data), kind, target, expected_sha256=sha(data), expected_uncompressed=sha(DISK))
    assert got == (sha(data), sha(DISK), len(DISK))
    assert open(target, 'rb').read() == DISK
    assert os.listdir(str(tmp_path)) == ['disk.qcow2']


def test_a_wrong_checksum_leaves_nothing(tmp_path):
    data = compressed('xz')
    with pytest.raises(fetch.FetchError) as err:
        stream_to(chunks(data), 'xz', str(tmp_path / 'disk'), expected_sha256='0' * 64)
    assert 'should be %s but is %s' % ('0' * 64, sha(data)) in str(err.value)
    assert err.value.extra['mismatch'] == 'compressed'
    assert os.listdir(str(tmp_path)) == []


def test_a_cut_stream_is_a_truncation(tmp_path):
    data = compressed('gz')
    with pytest.raises(fetch.FetchError) as err:
        stream_to(chunks(data[:len(data) // 2]), 'gz', str(tmp_path / 'disk'))
    assert err.value.extra.get('truncated') and 'cut short' in str(err.value)
    assert os.listdir(str(tmp_path)) == []


def test_damaged_data_is_named(tmp_path):
    data = bytearray(compressed('bz2'))
    data[200:220] = b'\0' * 20
    with pytest.raises(fetch.FetchError, match='the bz2 data is damaged'):
        stream_to(chunks(bytes(data)), 'bz2', str(tmp_path / 'disk'))
    assert os.listdir(str(tmp_path)) == []


def test_resuming_feeds_the_kept_bytes_first(tmp_path):
    data = compressed('xz')
    part = tmp_path / 'part'
    part.write_bytes(data[:100000])
    got = stream_to(chunks(data[100000:]), 'xz', str(tmp_path / 'disk'), expected_sha256=sha(data),
                    resume_bytes=str(part))
    assert got[1] == sha(DISK)


@pytest.mark.parametrize('name, head, kind', [
    ('a.qcow2.xz', b'', 'xz'), ('a.raw.gz', b'', 'gz'), ('a.vhdx.zip', b'', 'zip'), ('x.zst', b'', 'zst'),
    ('disk', b'\xfd7zXZ\x00\x00', 'xz'), ('disk', b'\x28\xb5\x2f\xfd', 'zst'), ('disk.qcow2', b'QFI\xfb', 'none'),
])
def test_compression_by_suffix_then_magic(name, head, kind):
    assert fetch.compression_of(name, head) == kind


def test_progress_file(tmp_path):
    p = fetch.Progress(str(tmp_path / 'progress.json'), total=200)
    p.add(100)
    p.write('downloading')
    data = json.loads((tmp_path / 'progress.json').read_text())
    assert data['phase'] == 'downloading' and data['bytes_done'] == 100 and data['percent'] == 50.0


def art(name='disk.qcow2', digest=None):
    return sources.Artifact(name, 'xz', url='http://127.0.0.1/%s.xz' % name, sha256=digest or sha(name.encode()))


def put(cache, a, fetched):
    image = cache.image_path(a)
    with open(image, 'wb') as f:
        f.write(b'x')
    st = os.stat(image)
    cache.write_record(image, {'sha256': a.sha256, 'uncompressed_sha256': sha(b'x'), 'size': 1,
                               'mtime_ns': st.st_mtime_ns, 'fetched': fetched})
    return image


def test_a_hit_comes_from_the_record_and_verify_full_rehashes(tmp_path):
    cache = sources.Cache(str(tmp_path))
    a = art()
    a.uncompressed_sha256 = sha(b'x')  # verify: full rehashes against the digest the source states
    image = put(cache, a, time.time())
    assert cache.hit(a, image)['size'] == 1
    assert cache.hit(a, image, verify='full') is not None
    st = os.stat(image)
    with open(image, 'wb') as f:
        f.write(b'y')
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert cache.hit(a, image) is not None           # the record cannot see a same-size edit...
    assert cache.hit(a, image, verify='full') is None  # ...the rehash does
    assert cache.hit(art(digest='f' * 64), cache.image_path(art(digest='f' * 64))) is None


def test_prune_by_count_and_age_never_the_current(tmp_path):
    cache = sources.Cache(str(tmp_path))
    now = time.time()
    images = [put(cache, art('d%d' % i), now - i * 86400 * 10) for i in range(4)]
    assert sorted(cache.prune(images[3], keep=2, check_mode=True)) == sorted(images[1:3])
    assert os.path.exists(images[1])
    assert sorted(cache.prune(images[0], older_than_days=15)) == sorted(images[2:])
    assert not os.path.exists(images[2]) and os.path.exists(images[0])


def test_the_lock_waits_and_times_out(tmp_path):
    cache = sources.Cache(str(tmp_path))
    a = art()
    with cache.lock(a):
        other = sources.Cache(str(tmp_path))
        with pytest.raises(fetch.FetchError, match='another run has been fetching disk.qcow2'):
            with other.lock(a, timeout=0.5):
                pass


@pytest.mark.parametrize('kind', ['xz', 'gz', 'bz2'])
def test_a_sparse_disk_never_decompresses_into_one_huge_piece(kind):
    zeros = b'\0' * (64 << 20)
    data = {'xz': lzma.compress, 'gz': gzip.compress, 'bz2': bz2.compress}[kind](zeros)
    assert len(data) < 1 << 20  # the whole 64 MiB arrives as one small input chunk
    dec = fetch.decompressor(kind)
    sizes = [len(p) for p in dec.pieces(data)]
    assert max(sizes) <= fetch.PIECE and sum(sizes) + len(dec.finish()) == len(zeros)


def test_zstd_output_is_bounded_too(tmp_path):
    zeros = b'\0' * (64 << 20)
    data = subprocess.run(['zstd', '-q', '-c'], input=zeros, capture_output=True, check=True).stdout
    got = stream_to(iter([data]), 'zst', str(tmp_path / 'disk'), expected_uncompressed=sha(zeros))
    assert got[2] == len(zeros)


# Concatenated streams (issue 12): pbzip2 writes several bz2 streams, and xz and gzip decode every
# concatenated stream or member, so the pass must too; the parts are made with the real compressors.
PARTS = (os.urandom(70000) + b'first' * 20000, b'second' * 30000 + os.urandom(5000), os.urandom(1000) + b'third' * 9000)
COMPRESS = {'xz': lzma.compress, 'gz': gzip.compress, 'bz2': bz2.compress}


def concatenated(kind, parts):
    return [COMPRESS[kind](p) for p in parts]


@pytest.mark.parametrize('kind, count', [('xz', 2), ('gz', 2), ('bz2', 3)])
@pytest.mark.parametrize('size', [65536, 7])
def test_concatenated_streams_give_the_whole_disk(kind, count, size, tmp_path):
    streams = concatenated(kind, PARTS[:count])
    data = b''.join(streams)
    whole = b''.join(PARTS[:count])
    assert getattr({'xz': lzma, 'gz': gzip, 'bz2': bz2}[kind], 'decompress')(data) == whole  # the stdlib agrees
    target = str(tmp_path / 'disk')
    got = stream_to(chunks(data, size), kind, target, expected_sha256=sha(data), expected_uncompressed=sha(whole))
    assert got == (sha(data), sha(whole), len(whole))
    assert open(target, 'rb').read() == whole
    assert os.listdir(str(tmp_path)) == ['disk']


@pytest.mark.parametrize('kind', ['xz', 'gz', 'bz2'])
@pytest.mark.parametrize('garbage', [b'garbage after the end', b'\x01', b'\0\0\0\0junk'])
def test_trailing_garbage_is_refused_and_leaves_nothing(kind, garbage, tmp_path):
    data = b''.join(concatenated(kind, PARTS[:2])) + garbage
    with pytest.raises(fetch.FetchError) as err:
        stream_to(chunks(data), kind, str(tmp_path / 'disk'), expected_sha256=sha(data))
    assert err.value.extra.get('damaged') is True
    assert 'trailing garbage' in str(err.value) and 'not the start of another %s stream' % kind in str(err.value)
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize('padding', [b'', b'\0' * 4, b'\0' * 12])
def test_xz_stream_padding_between_and_after_streams_is_accepted(padding, tmp_path):
    one, two = concatenated('xz', PARTS[:2])
    data = one + padding + two + padding
    whole = PARTS[0] + PARTS[1]
    # xz itself accepts it:
    assert subprocess.run(['xz', '-dc'], input=data, capture_output=True, check=True).stdout == whole
    got = stream_to(chunks(data, 3), 'xz', str(tmp_path / 'disk'), expected_uncompressed=sha(whole))
    assert got[1:] == (sha(whole), len(whole))


@pytest.mark.parametrize('where', ['between', 'after'])
def test_xz_padding_that_is_not_a_multiple_of_four_is_damage(where, tmp_path):
    one, two = concatenated('xz', PARTS[:2])
    data = one + b'\0' * 3 + two if where == 'between' else one + two + b'\0' * 5
    assert subprocess.run(['xz', '-dc'], input=data, capture_output=True, check=False).returncode != 0  # xz refuses it too
    with pytest.raises(fetch.FetchError) as err:
        stream_to(chunks(data), 'xz', str(tmp_path / 'disk'))
    assert err.value.extra.get('damaged') is True and 'multiple of four' in str(err.value)
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize('kind', ['xz', 'gz', 'bz2'])
@pytest.mark.parametrize('into_second', [1, 2, 0.5])
def test_a_concatenation_cut_inside_a_later_stream_is_a_truncation(kind, into_second, tmp_path):
    one, two = concatenated(kind, PARTS[:2])
    cut = len(one) + (int(len(two) * into_second) if isinstance(into_second, float) else into_second)
    data = (one + two)[:cut]
    with pytest.raises(fetch.FetchError) as err:
        stream_to(chunks(data), kind, str(tmp_path / 'disk'))
    assert err.value.extra.get('truncated') is True and 'cut short' in str(err.value)
    assert os.listdir(str(tmp_path)) == []
    # the same cut with the checksum of exactly those bytes: the source file itself is incomplete
    with pytest.raises(fetch.FetchError) as err:
        stream_to(chunks(data), kind, str(tmp_path / 'disk'), expected_sha256=sha(data))
    assert err.value.extra.get('damaged') is True and 'incomplete' in str(err.value)
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize('kind', ['xz', 'gz', 'bz2'])
def test_every_stream_of_a_sparse_concatenation_comes_in_bounded_pieces(kind):
    zeros = b'\0' * (8 << 20)
    data = COMPRESS[kind](zeros) * 2
    dec = fetch.decompressor(kind)
    sizes = [len(p) for p in dec.pieces(data)]
    assert max(sizes) <= fetch.PIECE and sum(sizes) + len(dec.finish()) == 2 * len(zeros)
    assert dec.eof and dec.streams == 2


# The decompression bomb cap (issue 12): max_size bounds the decompressed bytes written.
def children_named(name):
    found = []
    for task in os.listdir('/proc/self/task'):
        try:  # a thread (zstd's reader, say) may end between the listing and the read
            with open('/proc/self/task/%s/children' % task) as f:
                pids = f.read().split()
        except FileNotFoundError:
            continue
        for pid in pids:
            try:
                with open('/proc/%s/comm' % pid) as c:
                    if c.read().strip() == name:
                        found.append(pid)
            except OSError:
                pass
    return found


def assert_too_large(err, limit):
    assert err.value.extra.get('too_large') is True and err.value.extra.get('max_size') == limit
    assert 'larger than max_size (%d bytes)' % limit in str(err.value) and 'raise max_size' in str(err.value)


@pytest.mark.parametrize('kind', ['xz', 'gz', 'bz2', 'zst', 'none'])
def test_max_size_stops_the_pass_and_leaves_nothing(kind, tmp_path):
    data = compressed(kind)
    limit = len(DISK) // 3
    with pytest.raises(fetch.FetchError) as err:
        stream_to(chunks(data), kind, str(tmp_path / 'disk'), expected_sha256=sha(data), max_size=limit)
    assert_too_large(err, limit)
    assert os.listdir(str(tmp_path)) == []
    assert children_named('zstd') == []


@pytest.mark.parametrize('kind', ['xz', 'gz', 'bz2', 'zst', 'none'])
def test_an_image_of_exactly_max_size_passes(kind, tmp_path):
    data = compressed(kind)
    got = stream_to(chunks(data), kind, str(tmp_path / 'disk'), expected_uncompressed=sha(DISK), max_size=len(DISK))
    assert got[1:] == (sha(DISK), len(DISK))


@pytest.mark.parametrize('kind', ['xz', 'gz', 'bz2', 'zst'])
def test_a_bomb_is_stopped_before_its_input_is_all_read(kind, tmp_path):
    zeros = b'\0' * (8 << 20)
    if kind == 'zst':
        bomb = subprocess.run(['zstd', '-q', '-c'], input=zeros, capture_output=True, check=True).stdout
    else:
        bomb = COMPRESS[kind](zeros)
    fed = []

    def copies():  # 65536 concatenated streams: 512 GiB of output from 18 MB (zstd) or more
        for i in range(65536):
            if time.time() - started > 10:
                return  # a pass that is not stopped then fails on the time below instead of running on
            fed.append(i)
            yield bomb
    started = time.time()
    with pytest.raises(fetch.FetchError) as err:
        stream_to(copies(), kind, str(tmp_path / 'disk'), max_size=1 << 20)
    assert_too_large(err, 1 << 20)
    assert time.time() - started < 5
    if kind != 'zst':
        assert fed == [0]
    else:  # zstd runs beside the pass and reads ahead, but it is stopped at the cap
        assert len(fed) < 16384
    assert os.listdir(str(tmp_path)) == []
    assert children_named('zstd') == []


def test_max_size_must_be_a_positive_number_of_bytes(tmp_path):
    with pytest.raises(fetch.FetchError, match=r'max_size: .*positive number of bytes.*got -1'):
        stream_to(iter([DISK]), 'none', str(tmp_path / 'disk'), max_size=-1)
    assert os.listdir(str(tmp_path)) == []


def make_zip(path, data):
    import zipfile
    with zipfile.ZipFile(str(path), 'w', compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr('disk.vhdx', data)


def test_unzip_to_stops_at_max_size_and_leaves_nothing(tmp_path):
    make_zip(tmp_path / 'a.zip', DISK)
    limit = len(DISK) // 3
    with pytest.raises(fetch.FetchError) as err:
        fetch.unzip_to(str(tmp_path / 'a.zip'), str(tmp_path / 'disk'), sha(DISK), max_size=limit)
    assert_too_large(err, limit)
    assert os.listdir(str(tmp_path)) == ['a.zip']
    assert fetch.unzip_to(str(tmp_path / 'a.zip'), str(tmp_path / 'disk'), sha(DISK), max_size=len(DISK)) == \
        (sha(DISK), len(DISK))
    assert open(str(tmp_path / 'disk'), 'rb').read() == DISK


def test_free_space_check_names_the_folder_and_the_bytes(tmp_path):
    st = os.statvfs(str(tmp_path))
    free = st.f_bavail * st.f_frsize
    assert 0 < fetch.check_free_space(str(tmp_path), 1, 'disk.qcow2') <= free + (64 << 20)
    needed = free + (1 << 40)
    with pytest.raises(fetch.FetchError) as err:
        fetch.check_free_space(str(tmp_path), needed, 'disk.qcow2')
    msg = str(err.value)
    assert msg.startswith('disk.qcow2: ') and str(tmp_path) in msg and '%d bytes' % needed in msg
    assert 'bytes free' in msg and 'cache_dir' in msg
    assert err.value.extra['needed'] == needed and abs(err.value.extra['free'] - free) < (64 << 20)
    assert err.value.extra['folder'] == str(tmp_path)
    assert os.listdir(str(tmp_path)) == []


def test_free_space_check_of_a_missing_folder_names_it(tmp_path):
    with pytest.raises(fetch.FetchError, match='cannot check the free space of %s' % (tmp_path / 'nope')):
        fetch.check_free_space(str(tmp_path / 'nope'), 1, 'disk.qcow2')


def test_a_download_that_breaks_off_stops_zstd_and_leaves_nothing(tmp_path):
    data = compressed('zst')

    def broken():
        yield data[:len(data) // 2]
        raise fetch.FetchError('the download broke off', truncated=True)
    with pytest.raises(fetch.FetchError, match='the download broke off'):
        stream_to(broken(), 'zst', str(tmp_path / 'disk'))
    assert children_named('zstd') == []
    assert os.listdir(str(tmp_path)) == []


def test_without_the_zstd_program_the_pass_says_so_and_leaves_nothing(tmp_path, monkeypatch):
    data = compressed('zst')
    empty = tmp_path / 'bin'
    empty.mkdir()
    monkeypatch.setenv('PATH', str(empty))  # a host without zstd
    target = tmp_path / 'cache'
    target.mkdir()
    with pytest.raises(fetch.FetchError, match='install the zstd program'):
        stream_to(iter([data]), 'zst', str(target / 'disk'))
    assert os.listdir(str(target)) == []


def test_a_missing_target_folder_is_named_and_stops_zstd(tmp_path):
    with pytest.raises(fetch.FetchError, match='cannot write %s' % (tmp_path / 'gone' / 'disk')):
        stream_to(iter([compressed('zst')]), 'zst', str(tmp_path / 'gone' / 'disk'))
    assert children_named('zstd') == []


# Files the pass makes (issue 12): never through a link planted at a fixed name, and the user's alone.
def test_progress_never_writes_through_a_link_planted_at_its_temporary_name(tmp_path):
    other = tmp_path / 'other'
    other.write_text('not yours')
    os.symlink(str(other), str(tmp_path / 'progress.json.tmp'))
    p = fetch.Progress(str(tmp_path / 'progress.json'), total=400)
    p.add(100)
    p.write('downloading')
    assert other.read_text() == 'not yours'
    path = tmp_path / 'progress.json'
    assert not path.is_symlink()
    data = json.loads(path.read_text())
    assert data['phase'] == 'downloading' and data['bytes_done'] == 100 and data['percent'] == 25.0
    assert os.stat(str(path)).st_mode & 0o777 == 0o600
    assert os.readlink(str(tmp_path / 'progress.json.tmp')) == str(other)  # left alone
    assert sorted(os.listdir(str(tmp_path))) == ['other', 'progress.json', 'progress.json.tmp']


def test_progress_rewrites_leave_one_file(tmp_path):
    p = fetch.Progress(str(tmp_path / 'progress.json'), total=10)
    for phase in ('downloading', 'verifying', 'done'):
        p.write(phase)
    assert json.loads((tmp_path / 'progress.json').read_text())['phase'] == 'done'
    assert os.listdir(str(tmp_path)) == ['progress.json']


def test_a_progress_write_that_fails_leaves_nothing(tmp_path):
    p = fetch.Progress(str(tmp_path / 'progress.json'))
    (tmp_path / 'progress.json').mkdir()  # the rename onto it fails
    with pytest.raises(OSError):
        p.write('downloading')
    assert os.listdir(str(tmp_path)) == ['progress.json']


@pytest.fixture
def open_umask():
    old = os.umask(0)  # the most permissive: what the pass makes must be 0600 anyway
    yield
    os.umask(old)


@pytest.mark.parametrize('kind', ['xz', 'gz', 'bz2', 'zst', 'none', 'zip'])
def test_the_image_the_pass_makes_is_the_users_alone(kind, tmp_path, open_umask):
    target = str(tmp_path / 'disk')
    if kind == 'zip':
        make_zip(tmp_path / 'a.zip', DISK)
        assert fetch.unzip_to(str(tmp_path / 'a.zip'), target, sha(DISK)) == (sha(DISK), len(DISK))
    else:
        assert stream_to(chunks(compressed(kind)), kind, target)[1] == sha(DISK)
    assert oct(os.stat(target).st_mode & 0o7777) == oct(0o600)
    assert open(target, 'rb').read() == DISK


def test_free_space_check_of_an_unknown_size_only_reports_the_free_bytes(tmp_path):
    st = os.statvfs(str(tmp_path))
    free = fetch.check_free_space(str(tmp_path), None, 'disk.qcow2')
    assert isinstance(free, int) and abs(free - st.f_bavail * st.f_frsize) < (64 << 20)


def test_zstd_runs_through_the_runner_it_is_given_and_its_fifos_go(tmp_path):
    runner = LocalRunner('zstd', run_command)
    got = fetch.stream_to(chunks(compressed('zst')), 'zst', str(tmp_path / 'disk'), run_program=runner.run_program)
    assert got[1:] == (sha(DISK), len(DISK))
    assert [argv[0] for argv in runner.commands()] == ['/bin/sh'] and runner.commands()[0][4].endswith('/zstd')
    assert not [f for f in os.listdir(tempfile.gettempdir()) if f.startswith('machinist-zstd-')
                and os.stat(os.path.join(tempfile.gettempdir(), f)).st_uid == os.getuid()]


def test_zstd_without_a_runner_is_refused_by_name(tmp_path):
    with pytest.raises(fetch.FetchError, match='pass run_program'):
        fetch.stream_to(iter([compressed('zst')]), 'zst', str(tmp_path / 'disk'))
    assert os.listdir(str(tmp_path)) == []


def test_zstd_stopped_at_its_deadline_is_named(tmp_path):
    def slow_start(argv):  # the deadline ran out while zstd was still reading
        return LocalRunner('sh', run_command).run_program(['/bin/sh', '-c', 'sleep 30'] + argv[2:], timeout=1)
    with pytest.raises(fetch.FetchError, match='did not start|time limit'):
        fetch.stream_to(chunks(compressed('zst')), 'zst', str(tmp_path / 'disk'), run_program=slow_start)
    assert os.listdir(str(tmp_path)) == []

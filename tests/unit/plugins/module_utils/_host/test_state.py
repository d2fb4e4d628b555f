# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Forgetting a machine's SSH host key in the collection's known_hosts, checked with OpenSSH's own tools."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._host.state import StateStore


def _key(tmp_path, name):
    """A real public key, as a known_hosts line wants it ("type base64")."""
    path = tmp_path / name
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', str(path)], check=True)
    return ' '.join(path.with_suffix('.pub').read_text().split()[:2])


def _hashed(tmp_path, text):
    """What `ssh-keygen -H` (HashKnownHosts yes) makes of known_hosts lines."""
    path = tmp_path / 'to-hash'
    path.write_text(text)
    subprocess.run(['ssh-keygen', '-H', '-f', str(path)], check=True, capture_output=True)
    out = path.read_text()
    assert out.startswith('|1|') and text.split()[0] not in out
    return out


def _ssh_finds(known_hosts, host):
    """Whether OpenSSH (ssh-keygen -F) finds a key for host in the file."""
    return subprocess.run(['ssh-keygen', '-F', host, '-f', str(known_hosts)], capture_output=True,
                          check=False).returncode == 0


@pytest.fixture
def store(tmp_path):
    state = tmp_path / 'state'
    state.mkdir()
    return StateStore(base=str(state))


def test_a_hashed_line_of_the_machine_is_forgotten_and_other_hashed_lines_stay(tmp_path, store):
    ours, other = _key(tmp_path, 'ours'), _key(tmp_path, 'other')
    hashed = _hashed(tmp_path, '[127.0.0.1]:40022 %s\n[127.0.0.1]:40023 %s\n' % (ours, other))
    known = tmp_path / 'state' / 'known_hosts'
    known.write_text(hashed)
    assert _ssh_finds(known, '[127.0.0.1]:40022')
    assert store.forget_host_key(40022) is True
    assert not _ssh_finds(known, '[127.0.0.1]:40022')
    assert _ssh_finds(known, '[127.0.0.1]:40023')
    assert known.read_text() == hashed.splitlines(True)[1]


def test_localhost_names_plain_and_hashed_and_name_lists_are_forgotten(tmp_path, store):
    key = _key(tmp_path, 'k')
    hashed_localhost = _hashed(tmp_path, '[localhost]:40022 %s\n' % key)
    keep = '[127.0.0.1]:4002 %s\n[127.0.0.1]:400220 %s\nbuild01.example.com %s\n' % (key, key, key)
    known = tmp_path / 'state' / 'known_hosts'
    known.write_text('[localhost]:40022 %s\n' % key + hashed_localhost + keep
                     + '[LOCALHOST]:40022,[127.0.0.1]:40022 %s\n' % key)
    assert store.forget_host_key(40022) is True
    assert known.read_text() == keep
    for name in ('[localhost]:40022', '[127.0.0.1]:40022'):
        assert not _ssh_finds(known, name)


def test_every_other_line_is_kept_byte_for_byte(tmp_path, store):
    key = _key(tmp_path, 'k')
    # comments, blank lines, CRLF, a name that is not UTF-8, no newline at the end, markers OpenSSH's
    # own ssh-keygen -R keeps too, and a wildcard that is not this machine's line.
    keep = ('# kept\r\n\n   \n'.encode() + b'h\xe9te.example %s\r\n' % key.encode()
            + ('@revoked [127.0.0.1]:40022 %s\n@cert-authority [127.0.0.1]:* %s\n[127.0.0.1]:* %s\n' % (key, key, key)).encode()
            + b'last.example ' + key.encode())
    known = tmp_path / 'state' / 'known_hosts'
    known.write_bytes(b'[127.0.0.1]:40022 ' + key.encode() + b'\n' + keep)
    assert store.forget_host_key(40022) is True
    assert known.read_bytes() == keep


def test_a_file_over_one_mebibyte_is_read_and_rewritten_whole_atomically_with_its_mode(tmp_path, store):
    key = _key(tmp_path, 'k')
    lines = ['[10.%d.%d.%d]:22 %s\n' % (i >> 16, (i >> 8) & 255, i & 255, key) for i in range(20000)]
    others = ''.join(lines)
    assert len(others) > 1024 * 1024
    ours = '[127.0.0.1]:40022 %s\n' % key
    known = tmp_path / 'state' / 'known_hosts'
    # one line of the machine within the first mebibyte, one after it
    known.write_text(''.join(lines[:1000]) + ours + ''.join(lines[1000:]) + ours)
    known.chmod(0o644)
    inode = known.stat().st_ino
    assert store.forget_host_key(40022) is True
    assert known.read_text() == others
    assert stat.S_IMODE(known.stat().st_mode) == 0o644
    assert known.stat().st_ino != inode  # a new file renamed over the old one, not the old one truncated
    assert sorted(os.listdir(str(tmp_path / 'state'))) == ['known_hosts']  # no temporary file left


def test_a_symlinked_known_hosts_stays_a_symlink(tmp_path, store):
    key = _key(tmp_path, 'k')
    real = tmp_path / 'elsewhere'
    real.write_text('[127.0.0.1]:40022 %s\nother.example %s\n' % (key, key))
    (tmp_path / 'state' / 'known_hosts').symlink_to(real)
    assert store.forget_host_key(40022) is True
    assert (tmp_path / 'state' / 'known_hosts').is_symlink()
    assert real.read_text() == 'other.example %s\n' % key


def test_nothing_to_forget(tmp_path, store):
    known = tmp_path / 'state' / 'known_hosts'
    assert store.forget_host_key(40022) is False  # no file
    known.write_text('[127.0.0.1]:40023 ssh-ed25519 AAAA\n')
    before = known.stat()
    assert store.forget_host_key(40022) is False
    assert store.forget_host_key(None) is False
    assert (known.stat().st_ino, known.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten


class _TextFiles:
    """The files half of a runner that reaches the podman host through a connection (text in, text out)."""

    path = os.path

    def __init__(self):
        self.files = {}

    def read_text(self, path):
        return self.files.get(path)

    def write_text(self, path, text):
        self.files[path] = text
        return True

    def resolve(self, path):
        return path


def test_through_a_connection_hashed_lines_are_forgotten_too(tmp_path):
    ours, other = _key(tmp_path, 'ours'), _key(tmp_path, 'other')
    hashed = _hashed(tmp_path, '[127.0.0.1]:40022 %s\n[127.0.0.1]:40023 %s\n' % (ours, other))
    files = _TextFiles()
    store = StateStore(base='/state', files=files)
    files.files['/state/known_hosts'] = hashed
    assert store.forget_host_key(40022) is True
    assert files.files['/state/known_hosts'] == hashed.splitlines(True)[1]


def test_a_relative_xdg_state_home_is_ignored_so_the_state_folder_does_not_follow_the_cwd(tmp_path, monkeypatch):
    # The XDG spec: a relative path in these variables is invalid and is to be ignored.
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('XDG_STATE_HOME', 'state')
    bases = []
    for d in ('a', 'b'):
        (tmp_path / d).mkdir()
        monkeypatch.chdir(tmp_path / d)
        bases.append(StateStore().base)
    assert bases == [str(tmp_path / 'home' / '.local' / 'state' / 'machinist.podman')] * 2

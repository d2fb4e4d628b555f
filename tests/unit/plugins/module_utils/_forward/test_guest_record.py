# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The record of the forwards kept inside a machine, written and read over a real SSH server (paramiko's server side,
its commands run by /bin/sh in a folder that stands for the guest user's home), with each SSH client."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._api.openssh import session_for
from ansible_collections.machinist.podman.plugins.module_utils._api.transport import SSHTarget
from ansible_collections.machinist.podman.plugins.module_utils._forward import gvproxy
from ansible_collections.machinist.podman.plugins.plugin_utils._local import run_command
from ansible_collections.machinist.podman.tests.unit.ssh_server import Shell, SSHServer, keygen

FORWARD = {'local': '127.0.0.1:8080', 'remote': '192.168.127.2:80', 'protocol': 'tcp'}


@pytest.fixture(params=['paramiko', 'openssh'])
def guest(request, tmp_path):
    home = tmp_path / 'home'
    home.mkdir()
    Shell.procs = []
    Shell.cwd = str(home)
    server = SSHServer(keygen(tmp_path / 'host'), interface=Shell)
    target = SSHTarget('127.0.0.1', server.port, 'core', identity=keygen(tmp_path / 'id'),
                       known_hosts=str(tmp_path / 'known_hosts'), host_key_checking='accept-new', timeout=10,
                       client=request.param)
    session = session_for(target, run_command)
    yield home, gvproxy.GuestRecord(session)
    session.close()
    server.close()


def test_a_new_record_is_written_whole_with_its_modes_then_left_alone(guest):
    home, record = guest
    assert record.load() == []
    assert record.save([FORWARD]) is True
    assert json.loads((home / gvproxy.RECORD_FILE).read_text()) == [FORWARD]
    assert (home / gvproxy.UNIT_FILE).read_text() == gvproxy.UNIT_TEXT
    assert (home / gvproxy.SCRIPT_FILE).read_text() == gvproxy.boot_script([FORWARD])
    written = (gvproxy.RECORD_FILE, gvproxy.SCRIPT_FILE, gvproxy.UNIT_FILE)
    modes = dict((p, stat.S_IMODE(os.stat(home / p).st_mode)) for p in written)
    assert modes == {gvproxy.RECORD_FILE: 0o600, gvproxy.SCRIPT_FILE: 0o700, gvproxy.UNIT_FILE: 0o644}
    assert os.readlink(home / gvproxy.UNIT_LINK) == '../' + gvproxy.UNIT_NAME
    assert record.load() == [FORWARD]
    before = os.stat(home / gvproxy.RECORD_FILE).st_mtime_ns
    assert record.save([FORWARD]) is False  # the same content: nothing written
    assert os.stat(home / gvproxy.RECORD_FILE).st_mtime_ns == before
    assert not list(home.rglob('*.tmp'))


def test_a_changed_record_rewrites_only_what_differs_and_a_missing_link_is_made_again(guest):
    home, record = guest
    record.save([FORWARD])
    unit = os.stat(home / gvproxy.UNIT_FILE).st_mtime_ns
    os.unlink(home / gvproxy.UNIT_LINK)
    assert record.save([]) is True
    assert json.loads((home / gvproxy.RECORD_FILE).read_text()) == []
    assert os.stat(home / gvproxy.UNIT_FILE).st_mtime_ns == unit
    assert os.path.islink(home / gvproxy.UNIT_LINK)


def test_an_unreadable_record_reads_as_none_and_a_failed_write_is_named(guest):
    home, record = guest
    (home / gvproxy.RECORD_DIR).mkdir(parents=True)
    (home / gvproxy.RECORD_FILE).write_text('{not json')
    assert record.load() == []
    (home / (gvproxy.RECORD_FILE + '.tmp')).mkdir()  # where the new file would be written first, even by root
    with pytest.raises(gvproxy.ForwardError, match=r'could not write the record of the forwards in the machine \(exit'):
        record.save([FORWARD])
    assert (home / gvproxy.RECORD_FILE).read_text() == '{not json'

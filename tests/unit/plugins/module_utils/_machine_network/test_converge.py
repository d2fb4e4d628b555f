# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The converger's scripts run by the real /bin/sh, in a folder that stands for the machine's root: every
absolute path the scripts use is moved under it, and the programs that need root (update-ca-certificates,
systemctl) are scripts first on PATH that log their call. The booted-machine suite runs the same scripts in a real
machine, as root, over its SSH."""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._machine_network import settings as s
from ansible_collections.machinist.podman.plugins.module_utils._machine_network.converge import (
    NetworkConverger,
    NetworkSettingsError,
    apply_script,
    changes,
    parse_probe,
    probe_script,
)
from ansible_collections.machinist.podman.tests.unit.plugins.module_utils._machine_network.test_settings import make_ca

DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\n'


class FolderMachine:
    """An SSH session double whose commands run in /bin/sh here, against `root` as the machine's /."""

    def __init__(self, root, os_release=DEBIAN):
        self.root = str(root)
        self.calls = []
        os.makedirs(os.path.join(self.root, 'etc'), exist_ok=True)
        with open(os.path.join(self.root, 'etc/os-release'), 'w') as f:
            f.write(os_release)
        self.refuse_sudo = False
        # The programs that need root, as scripts that log their call.
        self.bin = os.path.join(self.root, '.bin')
        os.makedirs(self.bin)
        for program in ('update-ca-certificates', 'update-ca-trust', 'systemctl', 'ip'):
            path = os.path.join(self.bin, program)
            with open(path, 'w') as f:
                f.write('#!/bin/sh\necho "%s $*" >> %s/calls\n' % (program, self.root))
            os.chmod(path, 0o755)
        # The machine's user is core (uid 1000 in a Podman machine), whoever runs the tests.
        with open(os.path.join(self.bin, 'id'), 'w') as f:
            f.write('#!/bin/sh\necho 1000\n')
        os.chmod(os.path.join(self.bin, 'id'), 0o755)

    def run(self, command, stdin=b'', timeout=120, limit=1024 * 1024):
        script = stdin.decode()
        for top in ('/etc/', '/usr/local/share/'):
            script = script.replace(' ' + top, ' ' + self.root + top).replace("'" + top, "'" + self.root + top)
        self.calls.append(command)
        if self.refuse_sudo and command.startswith('sudo'):
            return 1, '', 'sudo: a password is required\n'
        env = dict(os.environ, PATH='%s:%s' % (self.bin, os.environ.get('PATH', '/usr/bin:/bin')))
        proc = subprocess.run(['/bin/sh', '-s'], input=script.encode(), capture_output=True, timeout=timeout, env=env, check=False)
        # What the machine prints names its own paths.
        return proc.returncode, proc.stdout.decode().replace(self.root, ''), proc.stderr.decode()

    def programs(self):
        path = os.path.join(self.root, 'calls')
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return f.read().splitlines()

    def files(self):
        found = {}
        for folder, _dirs, names in os.walk(self.root):
            for name in names:
                if 'machinist-podman' in name:
                    with open(os.path.join(folder, name)) as f:
                        found[os.path.join(folder, name)[len(self.root):]] = f.read()
        return found


FACTS = {'name': 'rec-a', 'provider': 'qemu', 'state': 'running'}


def settings(ca=None, proxy=None, registries=None):
    return {'ca_certificates': ca, 'proxy': proxy, 'registries': registries}


def test_the_probe_reads_this_hosts_os_with_the_real_shell():
    proc = subprocess.run(['/bin/sh', '-s'], input=probe_script().encode(), capture_output=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    probed = parse_probe(proc.stdout.decode())
    assert probed['os_release'].get('ID')
    assert probed['uid'] == str(os.getuid())


def test_place_then_nothing_then_remove(tmp_path):
    pem, _key, fingerprint = make_ca()
    certs = s.certificates('ca_certificates[0]', pem)
    proxy = s.check_proxy({'https': 'http://127.0.0.1:3128'})
    registries = s.check_registries({'mirrors': {'docker.io': ['127.0.0.1:5000']}})
    machine = FolderMachine(tmp_path)

    placed = NetworkConverger(machine, FACTS).converge(settings(certs, proxy, registries))
    assert placed['changed'] is True and placed['os_family'] == 'debian'
    on_disk = machine.files()
    assert on_disk['/usr/local/share/ca-certificates/machinist-podman-%s.crt' % fingerprint[:16]] == certs[0]['pem']
    assert 'https_proxy=http://192.168.127.254:3128' in on_disk[s.PROXY_CONF]
    assert 'location = "192.168.127.254:5000"' in on_disk[s.REGISTRIES_CONF]
    assert sorted(placed['written']) == sorted(on_disk)
    # The probe ran as a user (uid not 0 here): the changes as root through sudo, then the user's units.
    assert machine.calls == ['sh -s', 'sudo -n sh -s', 'sh -s', 'sh -s']
    assert 'update-ca-certificates ' in machine.programs() and 'systemctl daemon-reload' in machine.programs()

    again = NetworkConverger(machine, FACTS).converge(settings(certs, proxy, registries))
    assert again['changed'] is False and again['written'] == [] and again['removed'] == []
    assert machine.calls[-1] == 'sh -s' and len(machine.calls) == 5

    # Only the certificates declared, emptied: the proxy and the mirror stay.
    machine.calls.clear()
    emptied = NetworkConverger(machine, FACTS).converge(settings(ca=[]))
    assert emptied['removed'] == ['/usr/local/share/ca-certificates/machinist-podman-%s.crt' % fingerprint[:16]]
    assert sorted(machine.files()) == sorted([s.PROXY_CONF, s.REGISTRIES_CONF] + list(s.PROXY_UNITS))


def test_check_mode_reads_and_changes_nothing(tmp_path):
    machine = FolderMachine(tmp_path)
    out = NetworkConverger(machine, FACTS, check_mode=True).converge(
        settings(registries=s.check_registries({'blocked': ['quay.io']})))
    assert out['changed'] is True and out['written'] == [s.REGISTRIES_CONF]
    assert out['diff']['after']['files'][s.REGISTRIES_CONF].endswith('blocked = true\n')
    assert machine.files() == {} and machine.calls == ['sh -s']


def test_a_file_placed_by_someone_else_is_left_alone(tmp_path):
    machine = FolderMachine(tmp_path)
    theirs = tmp_path / 'usr/local/share/ca-certificates/corp.crt'
    theirs.parent.mkdir(parents=True)
    theirs.write_text('theirs')
    NetworkConverger(machine, FACTS).converge(settings(ca=[]))
    assert theirs.read_text() == 'theirs'


def test_a_refused_sudo_is_named_and_nothing_is_claimed(tmp_path):
    machine = FolderMachine(tmp_path)
    machine.refuse_sudo = True
    with pytest.raises(NetworkSettingsError, match=r'^placing /etc/containers/registries.conf.d/50-machinist-podman-'
                                                   r'registries.conf in machine rec-a failed \(exit 1\)\. It said: '
                                                   r'sudo: a password is required'):
        NetworkConverger(machine, FACTS).converge(settings(registries=s.check_registries({'search': ['docker.io']})))
    assert machine.files() == {}


def test_only_the_collections_files_of_a_declared_setting_change():
    present = {'/usr/local/share/ca-certificates/machinist-podman-aaaa.crt': 'old',
               s.REGISTRIES_CONF: 'kept as it is'}
    write, remove = changes({'ca_certificates': {'/usr/local/share/ca-certificates/machinist-podman-bbbb.crt': 'new'}},
                            present, 'debian')
    assert write == {'/usr/local/share/ca-certificates/machinist-podman-bbbb.crt': 'new'}
    assert remove == ['/usr/local/share/ca-certificates/machinist-podman-aaaa.crt']


def test_the_fedora_family_rebuilds_its_own_store():
    script = apply_script({'/etc/pki/ca-trust/source/anchors/machinist-podman-aaaa.pem': 'x'}, [], 'fedora')
    assert 'update-ca-trust >/dev/null' in script and 'update-ca-certificates' not in script
    assert 'daemon-reload' not in script
    assert subprocess.run(['/bin/sh', '-n'], input=script.encode(), check=False).returncode == 0

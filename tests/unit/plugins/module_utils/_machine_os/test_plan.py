# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The machine OS decisions, from recorded probe and rpm-ostree outputs (tests/unit/fixtures/machine-os)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._machine_os import plan as os_plan

FIX = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'machine-os')


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


FCOS_OS_RELEASE = 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=41\nVARIANT_ID=coreos\n'


def fcos(status_fixture, rpm=None):
    return os_plan.MachineOS(os_plan.parse_os_release(FCOS_OS_RELEASE), 'x86_64',
                             os_plan.parse_rpm_ostree_status(fixture(status_fixture)), {}, rpm or {})


def test_probe_debian_12_recorded():
    m = os_plan.parse_probe(fixture('probe-debian-12.txt'))
    assert m.id == 'debian' and m.os_release['VERSION_ID'] == '12' and m.arch == 'x86_64'
    assert m.ostree is None
    assert m.present(['qemu-user-static', 'podman'], 'apt') == ['podman']
    assert os_plan.choose_method(m, 4, 'qemu') == 'apt'


def test_probe_debian_13_recorded():
    m = os_plan.parse_probe(fixture('probe-debian-13.txt'))
    assert m.os_release['VERSION_CODENAME'] == 'trixie'
    assert os_plan.choose_method(m, 5, 'qemu') == 'apt'
    steps = os_plan.plan(m, ['qemu-user-static', 'podman'], 'apt', 5, 4)
    assert [s['action'] for s in steps] == ['install']
    assert 'apt-get install -y -q --no-install-recommends qemu-user-static\n' in steps[0]['script']
    assert 'podman' not in steps[0]['script'].split('recommends')[1].split('\n')[0]
    assert not any(s['restarts'] for s in steps)


def test_probe_that_did_not_finish_is_an_error():
    text = fixture('probe-debian-12.txt').replace('@@machinist end', '')
    with pytest.raises(os_plan.MachineOSError, match='did not finish'):
        os_plan.parse_probe(text)


def test_probe_script_runs_and_parses_here():
    """The script itself, under the real sh of this host: it must finish and name this OS."""
    out = subprocess.run(['sh', '-c', os_plan.probe_script(['surely-not-a-package-xyz'])], capture_output=True,
                         text=True, check=True).stdout
    m = os_plan.parse_probe(out)
    assert m.id
    assert m.present(['surely-not-a-package-xyz'], 'apt') == []


def test_image_based_fcos_under_podman_5_uses_os_apply():
    m = fcos('rpm-ostree-2024.9-fcos-41-image.json')
    assert m.ostree.pending is None
    assert m.ostree.base_image == ('quay.io/fedora/fedora-coreos@sha256:'
                                   'c4a15145a232d882ccf2ed32d22c06c01a7cf62317eb966a98340ae4bd56dfa6')
    assert os_plan.choose_method(m, 5, 'applehv') == 'os_apply'
    steps = os_plan.plan(m, ['qemu-user-static'], 'os_apply', 5, 4)
    assert [s['action'] for s in steps] == ['build', 'os_apply']
    assert steps[0]['image'].startswith('localhost/machinist-machine-os:')
    assert 'FROM quay.io/fedora/fedora-coreos@sha256:c4a1' in steps[0]['script']
    assert steps[1]['argv'] == ['os', 'apply', '--restart', steps[0]['image']]
    assert steps[1]['restarts']


def test_derived_tag_follows_content():
    a = os_plan.derived_tag(os_plan.derived_containerfile('quay.io/podman/machine-os:5.4', ['qemu-user-static']))
    b = os_plan.derived_tag(os_plan.derived_containerfile('quay.io/podman/machine-os:5.4', ['qemu-user-static']))
    c = os_plan.derived_tag(os_plan.derived_containerfile('quay.io/podman/machine-os:5.5', ['qemu-user-static']))
    assert a == b != c


def test_image_based_fcos_under_podman_4_layers():
    m = fcos('rpm-ostree-2024.9-fcos-41-image.json')
    assert os_plan.choose_method(m, 4, 'qemu') == 'rpm_ostree'
    steps = os_plan.plan(m, ['qemu-user-static'], 'rpm_ostree', 4, 9)
    assert [s['action'] for s in steps] == ['install', 'restart']
    assert 'rpm-ostree install --idempotent --allow-inactive -y qemu-user-static' in steps[0]['script']


def test_ostree_origin_refuses_os_apply_on_podman_4():
    m = fcos('fcos-31.20200505.3.0-staged.json')
    assert m.ostree.image_reference is None
    with pytest.raises(os_plan.MachineOSError, match='method=os_apply: .*use method=rpm_ostree'):
        os_plan.choose_method(m, 4, 'qemu', 'os_apply')


def test_staged_deployment_is_pending():
    m = fcos('fcos-31.20200505.3.0-staged.json')
    assert m.ostree.pending is not None
    assert m.ostree.version == '31.20200505.3.0'
    assert m.facts()['ostree']['pending_deployment'] is True


def test_pending_deployment_with_the_packages_is_booted_not_made_again():
    m = fcos('fcos-31.20200505.3.0-staged.json', rpm={'qemu-user-static': 'not-installed'})
    m.ostree.pending['requested-packages'] = ['qemu-user-static']
    steps = os_plan.plan(m, ['qemu-user-static'], 'rpm_ostree', 4, 9)
    assert [s['action'] for s in steps] == ['restart']


def test_packages_already_in_the_image_change_nothing():
    m = fcos('rpm-ostree-2024.9-fcos-41-image.json', rpm={'qemu-user-static': 'installed'})
    assert os_plan.plan(m, ['qemu-user-static'], 'os_apply', 5, 4) == []


def test_os_apply_needs_a_registry_base():
    m = fcos('rpm-ostree-2024.9-fcos-41-image.json')
    m.ostree.booted['container-image-reference'] = 'ostree-unverified-image:oci:/var/tmp/podman-os-apply123'
    with pytest.raises(os_plan.MachineOSError, match='base_image: '):
        os_plan.plan(m, ['qemu-user-static'], 'os_apply', 5, 4)
    steps = os_plan.plan(m, ['qemu-user-static'], 'os_apply', 5, 4, base_image='quay.io/podman/machine-os:5.4')
    assert 'FROM quay.io/podman/machine-os:5.4' in steps[0]['script']


@pytest.mark.parametrize('ref,base', [
    ('ostree-unverified-registry:quay.io/podman/machine-os:5.4', 'quay.io/podman/machine-os:5.4'),
    ('ostree-unverified-image:docker://quay.io/podman/machine-os:5.6', 'quay.io/podman/machine-os:5.6'),
    ('ostree-remote-image:fedora:registry:quay.io/fedora/fedora-coreos:stable', 'quay.io/fedora/fedora-coreos:stable'),
    ('ostree-unverified-image:oci:/tmp/x', None),
])
def test_base_image_from_reference(ref, base):
    assert os_plan.OstreeState({'container-image-reference': ref}, None).base_image == base


def test_upgrade_by_version():
    m = fcos('rpm-ostree-2024.9-fcos-41-image.json')
    assert os_plan.upgrade_step('os_apply', 6, 0, m) == ('host', ['os', 'upgrade', '--restart'])
    assert os_plan.upgrade_step('os_apply', 5, 6, m) == ('host', ['os', 'apply', '--restart', 'quay.io/podman/machine-os:5.6'])
    m.ostree.booted['container-image-reference'] = 'ostree-unverified-registry:quay.io/podman/machine-os:5.6'
    assert os_plan.upgrade_step('os_apply', 5, 6, m)[0] == 'guest'
    assert 'rpm-ostree upgrade --unchanged-exit-77' in os_plan.upgrade_step('rpm_ostree', 4, 9, m)[1]


def test_upgrade_output_says_whether_anything_changed():
    assert not os_plan.upgrade_changed('apt', 'Reading package lists...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n')
    assert os_plan.upgrade_changed('apt', '2 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n')
    assert not os_plan.upgrade_changed('dnf', 'Dependencies resolved.\nNothing to do.\nComplete!\n')


def test_wsl_fedora_uses_dnf():
    m = os_plan.MachineOS(os_plan.parse_os_release('ID=fedora\nVERSION_ID=42\n'), 'x86_64', None, {}, {})
    assert os_plan.choose_method(m, 5, 'wsl') == 'dnf'
    with pytest.raises(os_plan.MachineOSError, match='method=rpm_ostree: the machine OS \\(fedora\\) is not rpm-ostree'):
        os_plan.choose_method(m, 5, 'wsl', 'rpm_ostree')


def test_unknown_os_names_the_way_out():
    m = os_plan.MachineOS(os_plan.parse_os_release('ID=alpine\n'), 'x86_64', None, {}, {})
    with pytest.raises(os_plan.MachineOSError, match="'alpine'.*Set method"):
        os_plan.choose_method(m, 5, 'qemu')


@pytest.mark.parametrize('bad', ['qemu user', 'pkg;reboot', '$(id)', '', '../x', '-y'])
def test_package_names_are_checked(bad):
    with pytest.raises(os_plan.MachineOSError, match='packages: '):
        os_plan.check_packages(['ok', bad])


@pytest.mark.parametrize('bad', ['pkg\n', 'pkg\nRUN curl -s evil | sh', 'pkg\r', 'p\u0661kg', 'pk\u0261'])
def test_package_names_are_matched_whole_and_ascii(bad):
    with pytest.raises(os_plan.MachineOSError, match='packages: ') as err:
        os_plan.check_packages(['ok', bad])
    assert repr(bad) in str(err.value)


@pytest.mark.parametrize('make', [
    lambda bad: os_plan.derived_containerfile('quay.io/podman/machine-os:5.4', ['ok', bad]),
    lambda bad: os_plan.install_script('dnf', ['ok', bad]),
    lambda bad: os_plan.install_script('apt', [bad]),
    lambda bad: os_plan.probe_script([bad]),
])
def test_what_goes_into_a_containerfile_or_script_is_checked_there_too(make):
    with pytest.raises(os_plan.MachineOSError, match='packages: '):
        make('pkg\nRUN evil')
    with pytest.raises(os_plan.MachineOSError, match='packages: '):
        make('a"b')


DIGEST = 'sha256:c4a15145a232d882ccf2ed32d22c06c01a7cf62317eb966a98340ae4bd56dfa6'


@pytest.mark.parametrize('good', [
    'quay.io/podman/machine-os:5.4', 'localhost:5000/ns/sub/img:1.2-rc_1', 'fedora', 'quay.io/fedora/fedora-coreos@' + DIGEST,
    'registry.example.org/a/b:tag@' + DIGEST, '[::1]:5000/img:1',
])
def test_base_image_references_that_are_accepted(good):
    assert os_plan.check_base_image(good) == good
    m = fcos('rpm-ostree-2024.9-fcos-41-image.json')
    steps = os_plan.plan(m, ['qemu-user-static'], 'os_apply', 5, 4, base_image=good)
    assert steps[0]['script'].count('FROM ') == 1


@pytest.mark.parametrize('bad', [
    'quay.io/podman/machine-os:5.4\nRUN curl -s evil | sh', 'quay.io/x:1\n', 'quay.io/x:1\r', 'quay.io/x :1', '\tquay.io/x',
    'quay.io/x:1;reboot', '$(id)', '-x', 'quay.io/x\u0661', 'quay.io/x:\u0661', 'quay.io/x\x00', 'a' * 300,
    'quay.io/x@sha256:abc', 'quay.io/x:tag:tag',
])
def test_base_image_must_be_an_image_reference(bad):
    with pytest.raises(os_plan.MachineOSError, match='^base_image=') as err:
        os_plan.check_base_image(bad)
    assert 'not an image reference' in str(err.value)
    m = fcos('rpm-ostree-2024.9-fcos-41-image.json')
    with pytest.raises(os_plan.MachineOSError, match='^base_image='):
        os_plan.plan(m, ['qemu-user-static'], 'os_apply', 5, 4, base_image=bad)
    with pytest.raises(os_plan.MachineOSError, match='^base_image='):
        os_plan.derived_containerfile(bad, ['qemu-user-static'])


def test_a_bad_base_image_is_refused_even_when_nothing_needs_it():
    m = fcos('rpm-ostree-2024.9-fcos-41-image.json', rpm={'qemu-user-static': 'installed'})
    with pytest.raises(os_plan.MachineOSError, match='^base_image='):
        os_plan.plan(m, ['qemu-user-static'], 'os_apply', 5, 4, base_image='x\nRUN evil')


def test_the_booted_image_reference_is_checked_before_it_goes_into_from():
    m = fcos('rpm-ostree-2024.9-fcos-41-image.json')
    m.ostree.booted['container-image-reference'] = 'ostree-unverified-registry:quay.io/x:1\nRUN evil'
    with pytest.raises(os_plan.MachineOSError, match='^base_image: the machine runs') as err:
        os_plan.plan(m, ['qemu-user-static'], 'os_apply', 5, 4)
    assert 'set base_image' in str(err.value)


def test_ssh_argv_survives_the_guest_shell():
    """What podman machine ssh hands to the guest's shell, run by a real sh here."""
    script = 'echo "a b"; echo \'$HOME\'; printf "%s\\n" "it\'s"'
    argv = os_plan.ssh_argv('m', script)
    assert argv[:3] == ['machine', 'ssh', 'm']
    out = subprocess.run(['sh', '-c', argv[3]], capture_output=True, text=True, check=True).stdout
    assert out == 'a b\n$HOME\nit\'s\n'


GUEST_SHELLS = [s for s in (['bash'], ['bash', '--posix'], ['dash'], ['busybox', 'sh'], ['zsh'])
                if shutil.which(s[0])]
# Words a machine name can be that a guest shell runs with the rest of the line as arguments, keywords and
# builtins among them: when NAME is not a machine, podman ssh runs "NAME <command>" in the default machine.
WRAPPERS = ['env', 'nice', 'nohup', 'setsid', 'stdbuf', 'sudo', 'doas', 'exec', 'command', 'builtin', 'eval', 'time',
            'function', 'coproc', 'if', 'while', 'until', 'case', 'for', 'do', 'then', 'sh', 'bash', 'busybox',
            'podman-machine-default']


@pytest.mark.parametrize('shell', GUEST_SHELLS, ids=' '.join)
def test_ssh_command_runs_in_the_machine_it_was_sent_to(shell, tmp_path):
    ran = tmp_path / 'ran'
    argv = os_plan.ssh_argv('rec-a', 'echo payload; : > %s\n' % shlex.quote(str(ran)))
    res = subprocess.run(shell + ['-c', argv[3]], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    assert (res.returncode, res.stdout, res.stderr) == (0, 'payload\n', '')
    assert ran.exists()


@pytest.mark.parametrize('word', WRAPPERS)
@pytest.mark.parametrize('shell', GUEST_SHELLS, ids=' '.join)
def test_ssh_command_never_runs_in_the_default_machine(shell, word, tmp_path):
    """podman machine ssh NAME CMD, NAME not a machine: the default machine's shell gets "NAME CMD"."""
    ran = tmp_path / 'ran'
    argv = os_plan.ssh_argv(word, 'echo payload; : > %s\n' % shlex.quote(str(ran)))
    res = subprocess.run(shell + ['-c', '%s %s' % (word, argv[3])], capture_output=True, text=True, check=False,
                         stdin=subprocess.DEVNULL, timeout=30)
    assert not ran.exists(), res
    assert 'payload' not in res.stdout
    # Either the guest shell cannot even parse the line (nothing of it runs), or the command saw the word
    # in front of it and stopped with its own code and message.
    said = 'podman machine ssh ran this command in another machine than %s' % word
    assert (res.returncode == 2 and 'yntax error' in res.stderr) or said in res.stderr, res
    if said in res.stderr and word != 'coproc':  # a coprocess's code is not the shell's
        assert res.returncode == os_plan.WRONG_MACHINE


def test_build_script_writes_the_containerfile_verbatim(tmp_path):
    containerfile = os_plan.derived_containerfile('quay.io/podman/machine-os:5.4', ['qemu-user-static'])
    script = os_plan.build_script(containerfile, 'localhost/x:1').replace(
        'podman build -q -t', 'cp "$d/Containerfile" %s; : ' % (tmp_path / 'seen'))
    subprocess.run(['sh', '-c', script], check=True)
    assert (tmp_path / 'seen').read_text() == containerfile

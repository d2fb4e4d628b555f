# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The machine's own OS: what it is, which packages it has, and the supported way to change it.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

One probe, run inside the machine over `podman machine ssh`, prints the OS release, the architecture,
`rpm-ostree status --json` where there is rpm-ostree, and for each package whether dpkg and rpm
know it. Everything else is decided here, from that text, without touching the machine:

- `os_apply`: an image-based machine OS (rpm-ostree booted from a container image) under Podman 5
  or later. Upstream's supported way is a derived image, built in the machine FROM the image it
  runs, and `podman machine os apply --restart` (containers/podman#29688).
- `rpm_ostree`: Fedora CoreOS under Podman 4: `rpm-ostree install` into a new deployment, then a
  restart of the machine to boot it.
- `dnf`: Fedora without ostree (the WSL machine image).
- `apt`: Debian-based images.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError

METHODS = ('os_apply', 'rpm_ostree', 'dnf', 'apt')
DERIVED_REPOSITORY = 'localhost/machinist-machine-os'
# rpm-ostree's container origins name the image after a transport prefix.
_IMAGE_PREFIXES = ('ostree-unverified-registry:', 'ostree-unverified-image:registry:',
                   'ostree-unverified-image:docker://', 'ostree-image-signed:registry:',
                   'ostree-image-signed:docker://', 'ostree-remote-registry:', 'ostree-remote-image:')
_MARK = '@@machinist '
# The exit code of a command that podman machine ssh ran in another machine than the one named.
WRONG_MACHINE = 97
# Matched whole (fullmatch: `$` would let a trailing newline through) and ASCII only.
_PACKAGE_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9.+_:~-]*', re.ASCII)
# An image reference as the distribution grammar has it: [DOMAIN[:PORT]/]PATH[:TAG][@DIGEST]. It goes into
# a Containerfile's FROM line, so nothing else (no space, no newline, no shell character) gets through.
_DOMAIN = (r'(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)'
           r'(?::[0-9]+)?')
_PATH = r'[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*'
_IMAGE_REF = re.compile(r'(?:%s/)?%s(?:/%s)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?'
                        r'(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?'
                        % (_DOMAIN, _PATH, _PATH), re.ASCII)
_IMAGE_REF_MAX = 512
_IMAGE_NAME_MAX = 255  # the distribution spec's limit for the name without tag and digest


class MachineOSError(MachinistError):
    """A machine OS change refused or failed; `extra` carries the probe and the steps that ran."""


def check_packages(packages):
    """The package names, checked: they go into shell commands and Containerfiles."""
    bad = [p for p in packages if not isinstance(p, str) or not _PACKAGE_NAME.fullmatch(p)]
    if bad:
        raise MachineOSError('packages: %s is not a package name (letters, digits and . + _ : ~ - only; '
                             'no versions with spaces, no paths)' % ', '.join(repr(p) for p in bad))
    return list(dict.fromkeys(packages))


def is_image_reference(ref):
    if not isinstance(ref, str) or len(ref) > _IMAGE_REF_MAX or not _IMAGE_REF.fullmatch(ref):
        return False
    name = ref.split('@', 1)[0]
    head, colon, tag = name.rpartition(':')
    if colon and '/' not in tag:
        name = head
    return len(name) <= _IMAGE_NAME_MAX


def check_base_image(base_image):
    """base_image, checked: it becomes the FROM line of the derived image's Containerfile."""
    if not is_image_reference(base_image):
        shown = repr(base_image) if len(repr(base_image)) <= 102 else repr(base_image[:100]) + '...'
        raise MachineOSError('base_image=%s is not an image reference: give one such as '
                             'quay.io/podman/machine-os:5.4 or REGISTRY/NAME@sha256:DIGEST (lowercase name, no '
                             'spaces, newlines or shell characters)' % shown)
    return base_image


def probe_script(packages):
    """The POSIX shell script that the probe runs inside the machine."""
    check_packages(packages)
    lines = [
        'echo "%sos-release"' % _MARK,
        'cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release',
        'echo "%sarch $(uname -m)"' % _MARK,
        'if command -v rpm-ostree >/dev/null 2>&1; then',
        '  echo "%srpm-ostree"' % _MARK,
        '  rpm-ostree status --json || echo "{}"',
        'fi',
    ]
    for p in packages:
        q = shlex.quote(p)
        lines += [
            'if command -v dpkg-query >/dev/null 2>&1; then',
            '  echo "%sdpkg %s $(dpkg-query -W -f \'${db:Status-Status}\' %s 2>/dev/null || echo not-installed)"'
            % (_MARK, p, q),
            'fi',
            'if command -v rpm >/dev/null 2>&1; then',
            '  if rpm -q --whatprovides %s >/dev/null 2>&1; then echo "%srpm %s installed"; '
            'else echo "%srpm %s not-installed"; fi' % (q, _MARK, p, _MARK, p),
            'fi',
        ]
    lines.append('echo "%send"' % _MARK)
    return '\n'.join(lines) + '\n'


def parse_os_release(text):
    """os-release(5) as a dict; values unquoted."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith('#') or '=' not in line:
            continue
        key, _sep, value = line.partition('=')
        try:
            parts = shlex.split(value)
        except ValueError:
            parts = [value.strip('"\'')]
        values[key.strip()] = ' '.join(parts)
    return values


class OstreeState:
    """What `rpm-ostree status --json` says that matters here."""

    def __init__(self, booted, pending):
        self.booted = booted or {}
        self.pending = pending

    @property
    def image_reference(self):
        return self.booted.get('container-image-reference')

    @property
    def base_image(self):
        """The booted image as a registry reference podman can pull or build FROM, or None."""
        ref = self.image_reference
        if not ref:
            return None
        for prefix in _IMAGE_PREFIXES:
            if ref.startswith(prefix):
                rest = ref[len(prefix):]
                if prefix == 'ostree-remote-image:' or prefix == 'ostree-remote-registry:':
                    # ostree-remote-image:<remote>:<transport>:<image>
                    rest = rest.split(':', 1)[1] if ':' in rest else rest
                    if rest.startswith('registry:'):
                        rest = rest[len('registry:'):]
                    elif rest.startswith('docker://'):
                        rest = rest[len('docker://'):]
                    else:
                        return None
                return rest
        return None

    def requested(self, which='booted'):
        d = self.booted if which == 'booted' else (self.pending or {})
        return set(d.get('requested-packages') or []) | set(d.get('packages') or [])

    @property
    def version(self):
        return self.booted.get('version')

    @property
    def checksum(self):
        return self.booted.get('checksum')


def parse_rpm_ostree_status(text):
    """An OstreeState from `rpm-ostree status --json`, or None when the text says nothing."""
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as e:
        raise MachineOSError('rpm-ostree status --json printed something that is not JSON: %s' % e)
    deployments = data.get('deployments') or []
    if not deployments:
        return None
    booted = next((d for d in deployments if d.get('booted')), None)
    # Deployments are in boot order: the first one boots next. If it is not the booted one, a
    # new deployment is pending and a restart is what makes it real.
    pending = deployments[0] if not deployments[0].get('booted') else None
    return OstreeState(booted, pending)


class MachineOS:
    """The machine's OS as the probe saw it."""

    def __init__(self, os_release, arch, ostree, dpkg, rpm):
        self.os_release = os_release
        self.arch = arch
        self.ostree = ostree
        self.dpkg = dpkg
        self.rpm = rpm

    @property
    def id(self):
        return self.os_release.get('ID', '')

    @property
    def like(self):
        return set(self.os_release.get('ID_LIKE', '').split()) | {self.id}

    def present(self, packages, method):
        """The packages the method's own package database knows as installed."""
        table = self.dpkg if method == 'apt' else self.rpm
        return [p for p in packages if table.get(p) == 'installed']

    def facts(self):
        out = {
            'id': self.id,
            'version_id': self.os_release.get('VERSION_ID'),
            'variant_id': self.os_release.get('VARIANT_ID'),
            'pretty_name': self.os_release.get('PRETTY_NAME'),
            'arch': self.arch,
            'ostree': None,
        }
        if self.ostree is not None:
            out['ostree'] = {
                'version': self.ostree.version,
                'checksum': self.ostree.checksum,
                'image_reference': self.ostree.image_reference,
                'layered_packages': sorted(self.ostree.requested()),
                'pending_deployment': self.ostree.pending is not None,
            }
        return out


def parse_probe(text):
    """A MachineOS from what probe_script printed."""
    sections = {}
    current = None
    arch = None
    dpkg, rpm = {}, {}
    ended = False
    for line in text.splitlines():
        if line.startswith(_MARK):
            word = line[len(_MARK):].split()
            kind = word[0] if word else ''
            current = None
            if kind in ('os-release', 'rpm-ostree'):
                current = kind
                sections[kind] = []
            elif kind == 'arch':
                arch = word[1] if len(word) > 1 else None
            elif kind in ('dpkg', 'rpm') and len(word) >= 3:
                (dpkg if kind == 'dpkg' else rpm)[word[1]] = word[2]
            elif kind == 'end':
                ended = True
            continue
        if current:
            sections[current].append(line)
    if not ended or 'os-release' not in sections:
        raise MachineOSError('the probe of the machine OS did not finish; what it printed: %s' % text[-2000:])
    ostree = None
    if 'rpm-ostree' in sections:
        ostree = parse_rpm_ostree_status('\n'.join(sections['rpm-ostree']))
    return MachineOS(parse_os_release('\n'.join(sections['os-release'])), arch, ostree, dpkg, rpm)


def choose_method(machine_os, podman_major, provider, wanted='auto'):
    """The supported way to change this machine's OS, or MachineOSError saying why there is none."""
    is_ostree = machine_os.ostree is not None
    image_based = is_ostree and bool(machine_os.ostree.image_reference)
    if wanted != 'auto':
        if wanted in ('os_apply', 'rpm_ostree') and not is_ostree:
            raise MachineOSError('method=%s: the machine OS (%s) is not rpm-ostree based; use method=auto'
                                 % (wanted, machine_os.id or 'unknown'))
        if wanted == 'os_apply' and podman_major < 5 and not image_based:
            raise MachineOSError('method=os_apply: this machine boots an OSTree commit, not a container image; '
                                 'use method=rpm_ostree')
        if wanted == 'apt' and 'debian' not in machine_os.like:
            raise MachineOSError('method=apt: the machine OS is %s, not Debian-based' % (machine_os.id or 'unknown'))
        if wanted == 'dnf' and is_ostree:
            raise MachineOSError('method=dnf: the machine OS is rpm-ostree based; dnf cannot change it. '
                                 'Use method=auto')
        return wanted
    if is_ostree:
        if provider == 'wsl':
            raise MachineOSError('the WSL machine reports rpm-ostree, which WSL machines do not have')
        if image_based and podman_major >= 5:
            return 'os_apply'
        return 'rpm_ostree'
    if provider == 'wsl' or machine_os.like & {'fedora', 'rhel', 'centos'}:
        return 'dnf'
    if 'debian' in machine_os.like:
        return 'apt'
    raise MachineOSError('the machine OS %r (ID_LIKE %r) has no package method this collection knows: '
                         'rpm-ostree, dnf and apt are. Set method to one the image supports, or customise the '
                         'image itself' % (machine_os.id, machine_os.os_release.get('ID_LIKE', '')))


def derived_containerfile(base_image, packages):
    """The Containerfile of the derived machine OS image: the booted image plus the packages."""
    check_base_image(base_image)
    check_packages(packages)
    return ('FROM %s\n'
            'RUN rpm-ostree install -y %s && rpm-ostree cleanup -m && ostree container commit\n'
            % (base_image, ' '.join(packages)))


def derived_tag(containerfile):
    """A tag that names the Containerfile's content, so the same request builds the same tag."""
    return '%s:%s' % (DERIVED_REPOSITORY, hashlib.sha256(containerfile.encode('utf-8')).hexdigest()[:16])


# Packages such as qemu-user-static register their interpreters with binfmt.d files, which systemd
# reads at boot. Where the install does not restart the machine, systemd-binfmt reads them now.
_BINFMT_RELOAD = ('if systemctl cat systemd-binfmt.service >/dev/null 2>&1; then '
                  'sudo systemctl restart systemd-binfmt.service; fi\n')


def install_script(method, packages):
    """The guest-side shell script that installs the packages (os_apply builds instead)."""
    check_packages(packages)
    names = ' '.join(shlex.quote(p) for p in packages)
    if method == 'apt':
        return ('set -e\nexport DEBIAN_FRONTEND=noninteractive\n'
                'sudo -E apt-get update -q\n'
                'sudo -E apt-get install -y -q --no-install-recommends %s\n' % names) + _BINFMT_RELOAD
    if method == 'dnf':
        return 'set -e\nsudo dnf install -y %s\n' % names + _BINFMT_RELOAD
    if method == 'rpm_ostree':
        # --idempotent: a package already requested is not an error; --allow-inactive: nor is one the
        # base image already has (rpm-ostree before 2026.1 refuses those otherwise).
        return 'set -e\nsudo rpm-ostree install --idempotent --allow-inactive -y %s\n' % names
    raise ValueError(method)


def build_script(containerfile, tag):
    """Builds the derived image inside the machine, as the machine's podman user."""
    return ('set -e\nd=$(mktemp -d)\ntrap \'rm -rf "$d"\' EXIT\n'
            'printf %%s %s > "$d/Containerfile"\n'
            'podman build -q -t %s "$d"\n' % (shlex.quote(containerfile), shlex.quote(tag)))


def upgrade_step(method, podman_major, podman_minor, machine_os):
    """How to bring the machine OS up to date: ('guest', script) or ('host', argv-tail) or None."""
    if method == 'rpm_ostree':
        return ('guest', 'sudo rpm-ostree upgrade --unchanged-exit-77\n')
    if method == 'os_apply':
        if podman_major >= 6:
            return ('host', ['os', 'upgrade', '--restart'])
        target = 'quay.io/podman/machine-os:%d.%d' % (podman_major, podman_minor)
        if machine_os.ostree is not None and machine_os.ostree.base_image == target:
            # Same stream: its z-stream updates come through rpm-ostree.
            return ('guest', 'sudo rpm-ostree upgrade --unchanged-exit-77\n')
        return ('host', ['os', 'apply', '--restart', target])
    if method == 'dnf':
        return ('guest', 'sudo dnf upgrade -y --refresh\n')
    if method == 'apt':
        return ('guest', 'set -e\nexport DEBIAN_FRONTEND=noninteractive\nsudo -E apt-get update -q\n'
                         'sudo -E apt-get upgrade -y -q\n')
    return None


def plan(machine_os, packages, method, podman_major, podman_minor=0, upgrade=False, base_image=None):
    """The steps that make the packages present (and the OS current), as a list of dicts.

    Each step: {'action', 'reason', 'where': 'guest'|'host', 'script' or 'argv', 'restarts': bool}.
    An empty list means nothing to do.
    """
    if base_image is not None:
        check_base_image(base_image)
    steps = []
    missing = [p for p in packages if p not in machine_os.present(packages, method)]
    ostree = machine_os.ostree
    if method == 'rpm_ostree' and missing and ostree is not None and ostree.pending is not None \
            and set(missing) <= ostree.requested('pending'):
        steps.append({'action': 'restart', 'where': 'host', 'restarts': True,
                      'reason': 'a pending deployment already has %s; booting it' % ', '.join(missing)})
        missing = []
    if missing:
        if method == 'os_apply':
            base = base_image or (ostree.base_image if ostree else None)
            if not base:
                raise MachineOSError(
                    'base_image: the machine runs %r, which is not an image in a registry (an image applied '
                    'from a local directory, say); set base_image to the image to build the derived one '
                    'FROM' % (ostree.image_reference if ostree else None))
            if not is_image_reference(base):
                raise MachineOSError(
                    'base_image: the machine runs %r, which is not an image reference this module can build '
                    'FROM; set base_image to the image to build the derived one FROM' % ostree.image_reference)
            containerfile = derived_containerfile(base, packages)
            tag = derived_tag(containerfile)
            steps.append({'action': 'build', 'where': 'guest', 'restarts': False, 'image': tag,
                          'script': build_script(containerfile, tag),
                          'reason': 'derived image %s: %s plus %s' % (tag, base, ', '.join(missing))})
            steps.append({'action': 'os_apply', 'where': 'host', 'restarts': True,
                          'argv': ['os', 'apply', '--restart', tag],
                          'reason': 'podman machine os apply of %s, then a restart to boot it' % tag})
        else:
            steps.append({'action': 'install', 'where': 'guest', 'restarts': False,
                          'script': install_script(method, missing),
                          'reason': '%s missing: %s' % (', '.join(missing), method.replace('_', '-'))})
            if method == 'rpm_ostree':
                steps.append({'action': 'restart', 'where': 'host', 'restarts': True,
                              'reason': 'rpm-ostree put the packages in a new deployment; a restart boots it'})
    if upgrade:
        step = upgrade_step(method, podman_major, podman_minor, machine_os)
        where, what = step
        s = {'action': 'upgrade', 'where': where, 'restarts': where == 'host',
             'reason': 'bring the machine OS up to date (%s)' % method.replace('_', '-')}
        s['script' if where == 'guest' else 'argv'] = what
        steps.append(s)
    return steps


def upgrade_changed(method, stdout):
    """Whether a guest-side upgrade that succeeded changed anything, from what it printed."""
    if method == 'apt':
        m = re.search(r'^(\d+) upgraded, (\d+) newly installed', stdout or '', re.M)
        return not (m and m.group(1) == '0' and m.group(2) == '0')
    if method == 'dnf':
        return 'Nothing to do' not in (stdout or '')
    return True


def ssh_argv(name, script):
    """`podman machine ssh NAME <command>`: ssh hands the command to the guest's shell as one string.

    When NAME is not a machine (removed since it was inspected, say), podman does not fail: it runs
    "NAME <command>" as one command line in its default machine (cmd/podman/machine/ssh.go). A machine
    name such as env, nice or sudo would then run the script there. The guest cannot tell its machine's
    name (podman sets no hostname), so the command is built to never run with a word in front of it:
    it starts with `if`, so a POSIX shell cannot parse "NAME if ...; then" and runs none of it, and where
    bash or zsh can parse it (NAME time, function or coproc) the command reads the line the shell was
    given and stops with WRONG_MACHINE and a message instead of running the script.
    """
    refusal = ('machinist.podman: podman machine ssh ran this command in another machine than %s (podman runs '
               'it in its default machine when %s is not a machine); nothing was run. Check that machine %s '
               'exists and runs' % (name, name, name))
    command = ('if case "${BASH_EXECUTION_STRING-}${ZSH_EXECUTION_STRING-}" in ""|"if case "*) true;; *) false;; '
               'esac; then sh -c %s; else echo %s >&2; exit %d; fi'
               % (shlex.quote(script), shlex.quote(refusal), WRONG_MACHINE))
    return ['machine', 'ssh', name, command]

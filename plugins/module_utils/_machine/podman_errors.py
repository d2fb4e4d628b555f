# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Podman's error text turned into a known condition, with the details a message needs.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

Podman exits 125 for every failure, so the text is all there is. Each pattern names the podman
versions whose wording it matches; the unit tests replay recorded stderr from those versions.
"""

from __future__ import annotations

import re

NOT_FOUND = 'not_found'
ALREADY_EXISTS = 'already_exists'
TOO_MANY_CPUS = 'too_many_cpus'
ALREADY_RUNNING = 'already_running'
EXCLUSIVE = 'another_machine_running'
STALE_STARTING = 'stale_starting'
INCOMPATIBLE_CONFIG = 'incompatible_config'
RUNNING_CANNOT_DESTROY = 'running_cannot_destroy'
MUST_STOP = 'must_stop'
CONNECTION_EXISTS = 'connection_exists'
ROOT_REFUSED = 'root_refused'
DISK_NOT_LARGER = 'disk_not_larger'
UNKNOWN_PROVIDER = 'unknown_provider'
UNSUPPORTED_PROVIDER = 'unsupported_provider'
INVALID_NAME = 'invalid_name'
NO_SUCH_FILE = 'no_such_file'
NOT_SUPPORTED = 'not_supported'
WRONG_STATE = 'wrong_state'
TIMEZONE_LOOKUP = 'timezone_lookup'
DAMAGED_MACHINE_FILE = 'damaged_machine_file'
NO_CONNECTION = 'no_connection'
UNKNOWN = 'unknown'

# (condition, pattern). The first match wins; named groups become details.
_PATTERNS = [
    # 4.x "cannot start VM b. VM a is currently running or starting: only one VM can be active at a time"
    (EXCLUSIVE, r'cannot start VM (?P<name>\S+?)\.? VM (?P<other>\S+) is currently running or starting'),
    # 5.x other provider: "unable to start: a already starting or running on the applehv provider: only one..."
    (EXCLUSIVE, r'unable to start(?: "(?P<name>[^"]+)")?: (?P<other>\S+) already starting or running on the '
                r'(?P<other_provider>\S+) provider'),
    # 5.x same provider: 'unable to start "b": a already starting or running: only one VM can be active at a time'
    (EXCLUSIVE, r'unable to start "(?P<name>[^"]+)": (?P<other>\S+) already starting or running: only one VM'),
    (EXCLUSIVE, r'only one VM can be active at a time'),
    (STALE_STARTING, r'starting state indicates that a previous start has failed'),
    # 4.x 'cannot start VM x: VM already running or starting'; 5.x 'unable to start "x": already running'
    (ALREADY_RUNNING, r'VM already running or starting|: already running\b'),
    (INCOMPATIBLE_CONFIG, r'incompatible machine config "(?P<path>[^"]+)"(?: \((?P<name>[^)]+)\))?'),
    (INCOMPATIBLE_CONFIG, r'cannot unmarshal .* into Go struct field MachineConfig'),
    (RUNNING_CANNOT_DESTROY, r'running vm "(?P<name>[^"]+)" cannot be destroyed'),
    # 4.x 'cannot change settings while the vm is running, run ...'; 5.x 'unable to change settings unless vm is stopped'
    (MUST_STOP, r'cannot change settings while the vm is running|unable to change settings unless vm is stopped|'
                r'can only be changed when the machine is not running'),
    (CONNECTION_EXISTS, r'system connection "(?P<connection>[^"]+)" already exists'),
    (ROOT_REFUSED, r'cannot run command "[^"]*" as root'),
    # 4.x 'new disk size must be larger than current disk size: 5GB'; 5.x 'new disk size must be larger than 5 GB'
    (DISK_NOT_LARGER, r'new disk size must be larger than (?:current disk size: )?(?P<current>\d+) ?GB|'
                      r'cannot shrink disk size'),
    (UNKNOWN_PROVIDER, r'unknown VMType `(?P<provider>[^`]*)`'),
    (UNSUPPORTED_PROVIDER, r'unsupported virtualization provider: `(?P<provider>[^`]*)`'),
    (INVALID_NAME, r'invalid name "(?P<name>[^"]*)"|cannot use "(?P<reserved>[^"]*)" for a machine name'),
    (NOT_SUPPORTED, r'changing (?P<what>\w+(?: \w+)?) not supported for (?P<provider>\w+) machines|'
                    r'USB host passthrough not supported for (?P<provider2>\w+) machines'),
    (WRONG_STATE, r'VM in wrong state to perform action'),
    # 4.x/5.x 'x: VM already exists'; Hyper-V 'vm "x" already exists on hypervisor'; 6.1.1 'machine "x" already exists'
    (ALREADY_EXISTS, r'(?P<name>\S+): VM already exists|vm "(?P<name2>[^"]+)" already exists on hypervisor|'
                     r'machine "(?P<name3>[^"]+)" already exists'),
    # 6.x init and set (recorded from 6.1.1): 'requested number of CPUs (3) greater than number of host CPUs (2)'
    (TOO_MANY_CPUS, r'requested number of CPUs \((?P<wanted>\d+)\) greater than number of host CPUs \((?P<host>\d+)\)'),
    (NOT_FOUND, r'(?P<name>[^\s:]+): VM does not exist'),
    # 6.x start of a machine that has no system connection, as init leaves one made with --ignition-path (recorded
    # from 6.1.1): 'connection "x" not found'
    (NO_CONNECTION, r'(?m)^Error: connection "(?P<connection>[^"]+)" not found'),
    (NO_SUCH_FILE, r'(?:open|faccessat|stat) (?P<path>\S+): no such file or directory'),
    (TIMEZONE_LOOKUP, r'timedatectl'),
    # 4.3.1 list 'listing vms: unexpected end of JSON input', inspect 'unexpected end of JSON input': a machine file
    # left empty (podman 4 rewrites it in place, and one stopped meanwhile leaves 0 bytes).
    (DAMAGED_MACHINE_FILE, r'unexpected end of JSON input'),
]
_COMPILED = [(c, re.compile(p)) for c, p in _PATTERNS]


class Diagnosis:
    """One failed podman call, classified."""

    def __init__(self, condition, details, result):
        self.condition = condition
        self.details = details
        self.result = result

    @property
    def text(self):
        """Podman's own message: the last 'Error: ' line, else the whole stderr."""
        err = (self.result.stderr or '').strip()
        lines = [line[7:] for line in err.splitlines() if line.startswith('Error: ')]
        return lines[-1] if lines else err

    def __repr__(self):
        return 'Diagnosis(%s, %r)' % (self.condition, self.details)


def classify(result):
    """Classify a failed CommandResult. Never raises."""
    err = result.stderr or ''
    for condition, pattern in _COMPILED:
        m = pattern.search(err)
        if m:
            details = {}
            for key, value in m.groupdict().items():
                if value is not None:
                    details[key.rstrip('0123456789')] = value
            return Diagnosis(condition, details, result)
    return Diagnosis(UNKNOWN, {}, result)

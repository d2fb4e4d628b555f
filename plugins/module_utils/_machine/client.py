# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The machine client: podman machine's commands run through a runner, their output read, their
failures turned into MachineError.

Note that this module util is PRIVATE to the collection: its interface may change at any time.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError
from ansible_collections.machinist.podman.plugins.module_utils._host.runner import no_such_program
from ansible_collections.machinist.podman.plugins.module_utils._host.state import StateStore
from ansible_collections.machinist.podman.plugins.module_utils._machine import commands as cmds
from ansible_collections.machinist.podman.plugins.module_utils._machine import facts as machine_facts
from ansible_collections.machinist.podman.plugins.module_utils._machine import podman_errors
from ansible_collections.machinist.podman.plugins.module_utils._machine.providers import provider_refusal
from ansible_collections.machinist.podman.plugins.module_utils._machine.versions import Capabilities, PodmanVersion

if TYPE_CHECKING:
    import builtins  # MachineClient.list shadows list in the class body
    from collections.abc import Sequence
    from typing import Any, NoReturn

    from ansible_collections.machinist.podman.plugins.module_utils._host.runner import CommandResult, Runner


class MachineError(MachinistError):
    """podman refused, failed or printed what cannot be read; `result` is its command."""


def readable_json(text: str | None) -> bool:
    try:
        return bool(text and text.strip()) and json.loads(text) is not None
    except ValueError:
        return False


def podman_said(result: CommandResult | None) -> str:
    err = podman_errors.classify(result).text if result is not None else ''
    if not err:
        return ''
    return ' Podman said: %s%s' % (err, '' if err.endswith(('.', '!', '?')) else '.')


class MachineClient:
    """Podman machine operations over a runner, with the version read at most once."""

    def __init__(self, runner: Runner, store: StateStore | None, host: dict[str, Any]) -> None:
        self.runner = runner
        self.store = store
        self.host = host
        self.warnings: list[str] = []
        self._caps: Capabilities | None = None

    # -- version -------------------------------------------------------------------------
    @property
    def caps(self) -> Capabilities:
        if self._caps is None:
            cached = self.store.cached_version(self.runner.executable) if self.store else None
            if cached:
                version = PodmanVersion.parse(cached)
            else:
                result = self.runner.run(['--version'])
                self._check_program(result)
                if not result.ok:
                    raise MachineError('cannot run %s --version: is podman installed? (set executable if it is not '
                                       'on PATH)%s' % (self.runner.executable, podman_said(result)), result)
                try:
                    version = PodmanVersion.parse(result.stdout)
                except ValueError:
                    raise MachineError('%s --version printed no version (%r): is it podman? Set executable to the '
                                       'podman program' % (self.runner.executable, result.stdout[:200]), result)
                if self.store:
                    self.store.remember_version(self.runner.executable, str(version))
            if version.major < 4:
                raise MachineError('Podman %s is too old: this collection needs Podman 4.0 or later' % version)
            self._caps = Capabilities(version)
        return self._caps

    def check_provider(self, provider: str | None) -> None:
        """Refuse a provider this host or podman cannot have, before podman is asked with it."""
        if provider:
            why = provider_refusal(provider, self.host['os'], self.caps.version.major, self.host.get('arch'))
            if why:
                raise MachineError(why)

    # -- reading ---------------------------------------------------------------------------
    def _check_program(self, result: CommandResult) -> None:
        """rc 127 and no output: the program itself is missing (the controller-side path finds out only now)."""
        if result.rc == 127 and not result.stdout:
            raise MachineError(no_such_program(self.runner.executable), result)

    def _fail_common(self, result: CommandResult, doing: str) -> NoReturn:
        self._check_program(result)
        err = podman_errors.classify(result)
        if err.condition == podman_errors.ROOT_REFUSED:
            raise MachineError('podman machine refuses to run as root: run this task as the user who owns the '
                               'machines (do not use become for it).%s' % podman_said(result), result)
        if err.condition == podman_errors.INCOMPATIBLE_CONFIG:
            raise MachineError(
                'a machine config at %s was written by Podman 4 and this podman (5 or later) cannot use it. Podman 5 '
                'does not migrate machines: remove it with "podman machine reset" (removes every machine) or delete '
                'that file and its .ign, then create the machine again.%s'
                % (err.details.get('path', 'the machine folder'), podman_said(result)), result, condition=err.condition)
        if err.condition == podman_errors.DAMAGED_MACHINE_FILE:
            kept = (' This collection keeps a copy of each machine\'s file, taken before the commands that rewrite it, '
                    'in %s.' % self.store.machine_file_copies()) if self.store else ''
            raise MachineError(
                'podman could not %s: one of its machine files (the JSON files in its machine folder, '
                '~/.config/containers/podman/machine/PROVIDER/ or under $XDG_CONFIG_HOME) is empty or damaged, as '
                'Podman 4 leaves it when it is stopped while rewriting it, and until it is mended no machine of this '
                'user can be listed or changed. Find it (a 0-byte .json there) and put back its copy, or remove it '
                'and its .ign file (that machine is then gone).%s%s' % (doing, kept, podman_said(result)),
                result, condition=err.condition)
        if err.condition == podman_errors.TOO_MANY_CPUS:
            # Refused before podman is asked when the host's count is known; this is podman's own word.
            raise MachineError('cpus=%s is more than the %s CPUs of the host that runs podman, which Podman 6 refuses: '
                               'give cpus %s or fewer.%s' % (err.details['wanted'], err.details['host'],
                                                             err.details['host'], podman_said(result)),
                               result, condition=err.condition)
        if err.condition in (podman_errors.UNKNOWN_PROVIDER, podman_errors.UNSUPPORTED_PROVIDER):
            raise MachineError('provider=%s is not available to this podman on this host.%s'
                               % (err.details.get('provider'), podman_said(result)), result, condition=err.condition)
        raise MachineError('podman could not %s.%s' % (doing, podman_said(result)), result, condition=err.condition)

    def inspect(self, names: Sequence[str], env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
        """{name: facts} for the machines that exist among `names`."""
        result = self.runner.run(cmds.inspect_argv(names), env=env)
        if not result.ok:
            err = podman_errors.classify(result)
            # A missing machine is an answer, not a failure; inspect still prints the others.
            missing_only = err.condition == podman_errors.NOT_FOUND and all(
                'VM does not exist' in line for line in result.stderr.splitlines() if line.startswith('Error'))
            if not missing_only:
                self._fail_common(result, 'inspect machine %s' % ', '.join(names))
        entries = machine_facts.parse_json_array(result.stdout, 'machine inspect') if result.stdout.strip() else []
        found = {}
        for entry in entries:
            config = None
            if machine_facts.needs_machine_config(entry):
                config = self._machine_config(machine_facts.from_inspect_v4(entry)['config_file'])
            facts = machine_facts.from_inspect(entry, config)
            found[facts['name']] = facts
        return found

    def list(self, env: dict[str, str] | None = None, all_providers: bool = False) -> builtins.list[dict[str, Any]]:
        result = self.runner.run(cmds.list_argv(self.caps, all_providers), env=env)
        if not result.ok:
            self._fail_common(result, 'list machines')
        # Podman 5 leaves out machines that Podman 4 made, saying so only in its log (exit 0).
        for m in re.finditer(r'incompatible machine config \\?"([^"\\]+)\\?" \(([^)]+)\)', result.stderr or ''):
            note = ('machine %s (%s) was created by Podman 4 and this podman cannot use it; it is not listed. Remove it '
                    'with "podman machine reset", or delete that file, and create it again' % (m.group(2), m.group(1)))
            if note not in self.warnings:
                self.warnings.append(note)
        return [machine_facts.from_list(e) for e in machine_facts.parse_json_array(result.stdout, 'machine list')]

    def file_facts(self, facts: dict[str, Any], import_native_ca: bool = False,
                   volumes: bool = False) -> dict[str, Any]:
        """What inspect does not show, from the machine's own files, each read at most once:
        - import_native_ca: whether the machine imports the host's trust anchors (ImportNativeCA in its JSON,
          Podman 6); False before Podman 6 (no such setting), None when the file cannot be read.
        - volumes_unmounted: the volumes this podman leaves unmounted in a machine made by Podman 5. From 6.0 a
          qemu machine's volumes are mounted by systemd units written into its Ignition config at init, which 5.x
          did not write: read from its JSON and Ignition files, only where that can happen."""
        read: dict[str, Any] = {}

        def own(key: str) -> Any:
            if key not in read:
                read[key] = self._machine_config(facts.get(key))
            return read[key]

        out: dict[str, Any] = {}
        if import_native_ca:
            if not self.caps.has('set_import_native_ca'):
                out['import_native_ca'] = False
            else:
                config = own('config_file')
                out['import_native_ca'] = bool(config.get('ImportNativeCA', False)) if isinstance(config, dict) else None
        if volumes:
            out['volumes_unmounted'] = []
            if self.caps.has('volume_mount_units') and facts.get('provider') == 'qemu':
                config = own('config_file')
                if isinstance(config, dict) and config.get('Mounts'):
                    out['volumes_unmounted'] = machine_facts.volumes_without_mount_units(config, own('ignition_file'))
        return out

    def _machine_config(self, path: str | None) -> Any:
        """A machine's own JSON file (its config, or its Ignition config), parsed; None when there is none or it
        cannot be read or parsed."""
        text = self.runner.read_text(path) if path else None
        try:
            return json.loads(text) if text else None
        except ValueError:
            return None

    def connections(self, env: dict[str, str] | None = None) -> builtins.list[dict[str, Any]]:
        """podman's system connections, as `system connection list --format json` prints them."""
        result = self.runner.run(cmds.connection_list_argv(), env=env)
        if not result.ok:
            self._fail_common(result, 'list the system connections')
        return machine_facts.parse_json_array(result.stdout, 'system connection list') if result.stdout.strip() else []

    def describe(self, facts: dict[str, Any]) -> dict[str, Any]:
        """Facts as the modules return them."""
        out = dict(facts)
        out.pop('volumes_unmounted', None)  # said in a warning (facts.volumes_lost_note)
        out['podman_version'] = str(self.caps.version)
        return out


def client_for(runner: Runner) -> MachineClient:
    """The machine client every task uses, on the host the runner reaches: its OS and architecture, the
    collection's state store there."""
    host = runner.host()
    store = StateStore(base=host.get('state_base'), executable=runner.executable, files=runner)
    return MachineClient(runner, store, host)

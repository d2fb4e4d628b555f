# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read, plan, apply: what `podman_machine` does to a machine, through the machine client.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

The task (_tasks/machine.py) gives a MachineClient (a runner, the state store and the host's OS);
everything else is here. Failures raise MachineError with a message that says what happened,
what podman said, and what to do.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING

from ansible_collections.machinist.podman.plugins.module_utils._host.runner import LockTimeout
from ansible_collections.machinist.podman.plugins.module_utils._ignition.config import data_url
from ansible_collections.machinist.podman.plugins.module_utils._image.names import image_kind
from ansible_collections.machinist.podman.plugins.module_utils._machine import commands as cmds
from ansible_collections.machinist.podman.plugins.module_utils._machine import facts as machine_facts
from ansible_collections.machinist.podman.plugins.module_utils._machine import podman_errors
from ansible_collections.machinist.podman.plugins.module_utils._machine.client import MachineError, podman_said, readable_json
from ansible_collections.machinist.podman.plugins.module_utils._machine.plan import plan_machine
from ansible_collections.machinist.podman.plugins.module_utils._machine.spec import INIT_ONLY

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ansible_collections.machinist.podman.plugins.module_utils._machine.client import MachineClient

# The guest's host key that a new machine gets through Ignition (see Converger._place_host_key).
HOST_KEY = '/etc/ssh/ssh_host_ed25519_key'


class Converger:
    def __init__(self, client: MachineClient, check_mode: bool = False, start_timeout: float | None = None,
                 path_exists: Callable[..., bool] | None = None, pin_host_key: bool = False) -> None:
        self.client = client
        self.runner = client.runner
        self.check_mode = check_mode
        self.start_timeout = start_timeout
        self.path_exists = path_exists
        self.pin_host_key = pin_host_key
        self._placed_key: str | None = None
        self._kept: tuple[str, str] | None = None  # the machine's file as it was before the command now running

    def _precheck_files(self, desired):
        if self.path_exists is None:
            return
        checks = [('ignition_path', desired.get('ignition_path')), ('playbook', desired.get('playbook'))]
        if image_kind(desired.get('image')) == 'file':
            checks.append(('image', desired['image']))
        for field, path in checks:
            if path and not self.path_exists(path, file=True):
                if self.path_exists(path):
                    # Podman would take a folder and leave a 0-byte disk behind.
                    raise MachineError('%s=%s is not a regular file on the host that runs podman (a folder?). Give the '
                                       'path of the file itself' % (field, path))
                raise MachineError('%s=%s: no such file on the host that runs podman. Give the path of an existing '
                                   'file (or, for image, a URL or docker:// reference)' % (field, path))

    def converge(self, desired: dict[str, Any], state: str, recreate: bool = False) -> dict[str, Any]:
        name = desired['name']
        self.client.check_provider(desired.get('provider'))
        env = cmds.provider_env(desired.get('provider'))
        found = self.client.inspect([name], env=env)
        facts = found.get(name)
        if facts is not None:
            facts.update(self.client.file_facts(facts, import_native_ca=desired.get('import_native_ca') is not None,
                                                volumes=state != 'absent'))
        caps = self.client.caps
        record = self.client.store.load_record(facts) if (facts and self.client.store) else None
        if facts is None and state != 'absent':
            self._precheck_files(desired)
        others = None
        may_create = state != 'absent' and (facts is None or recreate)
        if may_create and not caps.has('disk_named_per_machine') and image_kind(desired.get('image')) in ('file', 'url'):
            # Only old podmans, and only when the run may create from a local file or a URL (both name the disk
            # after the file): are other machines' disks in the way? Read before the one plan, which decides.
            listed = self.client.list(env=env)
            others = list(self.client.inspect([m['name'] for m in listed], env=env).values()) if listed else []
        # Only a task that declares default_connection pays for reading the connections.
        connections = (self.client.connections(env=env)
                       if desired.get('default_connection') is not None and state != 'absent' else None)
        plan = plan_machine(desired, state, facts, caps, self.client.host, record=record, recreate=recreate,
                            others=others, connections=connections)
        creates = any(a['action'] == 'init' for a in plan.actions)
        if plan.refusal:
            raise MachineError(plan.refusal, plan=plan)
        if creates and facts is not None:
            self._precheck_files(desired)  # recreating: the new machine's files must exist before the old goes

        result = {'changed': plan.changed, 'actions': plan.summary(), 'warnings': plan.warnings,
                  'diff': {'before': plan.before, 'after': plan.after}}
        if self.check_mode or not plan.actions:
            result['machine'] = self.client.describe(facts) if facts else {'name': name, 'exists': False}
            return result

        applied = []
        with self._creation_lock(name, creates, facts, env):
            self._apply_all(plan, desired, facts, applied)
        result['warnings'] = plan.warnings + self.client.warnings
        if facts is not None and any(a['action'] == 'rm' for a in plan.actions):
            self.client.store.forget_host_key((facts.get('ssh') or {}).get('port'))
        if state == 'absent':
            self.client.store.delete_record(facts)
            result['machine'] = {'name': name, 'exists': False}
            return result
        after = self.client.inspect([name], env=env).get(name)
        if after is None:
            raise MachineError('machine %s is missing after %s: podman reported success but does not list it'
                               % (name, ', '.join(a['action'] for a in plan.actions)))
        after.update(self.client.file_facts(after, import_native_ca=desired.get('import_native_ca') is not None))
        if any(a['action'] == 'init' for a in plan.actions):
            self.client.store.save_record(after, desired, INIT_ONLY)
            self.client.store.forget_host_key((after.get('ssh') or {}).get('port'))
            if self._placed_key and (after.get('ssh') or {}).get('port'):
                self.client.store.pin_host_key(after['ssh']['port'], self._placed_key)
                result['host_key_pinned'] = True
        result['machine'] = self.client.describe(after)
        result['diff']['after'] = machine_facts.managed_view(after)
        if 'default_connection' in plan.after:
            result['diff']['after']['default_connection'] = plan.after['default_connection']
        return result

    def _apply_all(self, plan, desired, facts, applied):
        for index, action in enumerate(plan.actions):
            try:
                self._apply(action, desired, facts)
            except MachineError as e:
                # What was done before the failure stays done (a created machine, a changed setting):
                # the task reports it as changed, with the actions that completed.
                e.extra.setdefault('changed', bool(applied))
                e.extra.setdefault('applied', applied)
                self._start_again(e, plan.actions[index + 1:], applied, desired, facts)
                raise
            applied.append({'action': action['action'], 'reason': action['reason'], 'command': action['argv']})

    @contextlib.contextmanager
    def _creation_lock(self, name, creates, facts, env):
        """A creation holds the machine's name from a fresh inspect through init and any clean-up, so the
        clean-up of a failed init can only ever remove what this task made."""
        if not creates:
            yield
            return
        try:
            with self.runner.machine_lock(name):
                if facts is None and name in self.client.inspect([name], env=env):
                    raise MachineError('machine %s was created by another task while this one was planning; nothing '
                                       'was changed. Run the task again to converge it' % name)
                yield
        except LockTimeout as exc:
            raise MachineError('cannot create machine %s: another task has been creating or removing it for too long '
                               '(%s). Wait for it, or remove that lock folder if no task is running' % (name, exc))

    def _start_again(self, error, remaining, applied, desired, facts):
        """A machine this task stopped to change it, and meant to run afterwards, is started again when a later
        step fails (best effort), so a failed change never leaves a running machine stopped. The message says
        both outcomes."""
        start = next((a for a in remaining if a['action'] == 'start'), None)
        if start is None or not any(a['action'] == 'stop' for a in applied):
            return
        try:
            self._apply(start, desired, facts)
        except MachineError as again:
            error.extra['restarted'] = False
            error.message += (' The machine was running before this task stopped it to make the change; starting it '
                              'again failed too: %s Start it with state: started.' % again.message)
        else:
            error.extra['restarted'] = True
            applied.append({'action': 'start', 'reason': 'start it again after the failed change',
                            'command': start['argv']})
            error.message += ' The machine was running before this task stopped it to make the change; it was started again.'
        error.args = (error.message,)

    # -- applying one action ---------------------------------------------------------------
    def _check_podman4_key(self, name, facts, env):
        """Podman 4 starts gvproxy with the machine's SSH key; with ignition_path it never made one."""
        if self.client.caps.version.major != 4 or self.path_exists is None:
            return
        facts = facts or self.client.inspect([name], env=env).get(name) or {}
        key = (facts.get('ssh') or {}).get('identity_path')
        if key and not self.path_exists(key):
            raise MachineError(
                'machine %s cannot start: Podman 4 starts its network helper (gvproxy) with the SSH key %s, which does '
                'not exist. Podman 4 makes no key for a machine created with ignition_path. Create one (ssh-keygen -t '
                'ed25519 -N "" -f %s) and put its public key in the Ignition config for the machine\'s user.'
                % (name, key, key))

    def _place_host_key(self, desired, env):
        """Podman never checks a machine's SSH host key, so a first connection would trust whatever answers on
        its port. For a machine this task just made from podman's own Ignition config on qemu, a host key
        made here goes into that config before the first boot (Ignition writes it before sshd starts, and
        sshd makes only the keys that are missing); its public half is recorded in the collection's
        known_hosts once the machine runs. Returns 'ssh-ed25519 KEY', or None (with a warning) where this
        cannot be done: the key is then trusted on first use, as before."""
        name = desired['name']
        if desired.get('ignition_path'):
            return None  # the user's own config: the user places keys there
        if desired.get('provider') not in (None, 'qemu') or self.client.host.get('os') == 'windows':
            return None  # Ignition reaches other providers' guests in other ways: not done there
        facts = self.client.inspect([name], env=env).get(name) or {}
        ign = facts.get('ignition_file')
        if facts.get('provider') != 'qemu' or not ign:
            return None
        try:
            config = json.loads(self.runner.read_text(ign) or '')
        except ValueError:
            config = None
        if not isinstance(config, dict):
            self.client.warnings.append('machine %s: its Ignition config %s could not be read, so its SSH host key is '
                                        'trusted on first use' % (name, ign))
            return None
        folder = self.runner.path.join(self.runner.host()['state_base'], 'keys')
        key = self.runner.path.join(folder, 'host-%s' % name)
        self.runner.write_text(key + '.new', '')  # makes the private folder
        self.runner.remove(key + '.new')
        self.runner.remove(key)
        self.runner.remove(key + '.pub')
        res = self.runner.run_program(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'machinist.podman %s' % name,
                                       '-f', key])
        private, public = self.runner.read_text(key), self.runner.read_text(key + '.pub')
        self.runner.remove(key)
        self.runner.remove(key + '.pub')
        if not res.ok or not private or not public or len(public.split()) < 2:
            self.client.warnings.append('machine %s: ssh-keygen could not make a host key on the host that runs podman '
                                        '(%s), so its SSH host key is trusted on first use'
                                        % (name, (res.stderr or '').strip() or 'rc %s' % res.rc))
            return None
        files = config.setdefault('storage', {}).setdefault('files', [])
        files[:] = [f for f in files if f.get('path') not in (HOST_KEY, HOST_KEY + '.pub')]
        for path, text, mode in ((HOST_KEY, private, 0o600), (HOST_KEY + '.pub', public, 0o644)):
            source, compression = data_url(text.encode('utf-8'))
            contents = {'source': source}
            if compression:
                contents['compression'] = compression
            files.append({'path': path, 'mode': mode, 'overwrite': True, 'contents': contents})
        if not self.runner.write_text(ign, json.dumps(config)):
            self.client.warnings.append('machine %s: its Ignition config %s could not be rewritten, so its SSH host key '
                                        'is trusted on first use' % (name, ign))
            return None
        return ' '.join(public.split()[:2])

    def _keep_machine_file(self, name, facts, env):
        """The machine's own JSON file before a command that rewrites it. Podman 4 rewrites it in place, so a
        podman stopped meanwhile (a start at its time limit) leaves it empty, and then no machine of the user
        can be listed. A copy is also kept in the state folder, which the message about a damaged file names."""
        if facts is None:  # just created by this task: its file is there now
            facts = self.client.inspect([name], env=env).get(name)
        path = (facts or {}).get('config_file')
        text = self.runner.read_text(path) if path else None
        if not readable_json(text):
            return None
        if self.client.store:
            self.client.store.keep_machine_file(facts, text)
        return path, text

    def _mend_machine_file(self, kept, name):
        """Puts the copy back when podman left the file present but empty or unreadable."""
        if not kept:
            return
        path, text = kept
        now = self.runner.read_text(path)
        if now is None or readable_json(now):
            return
        if self.runner.write_text(path, text):
            self.client.warnings.append(
                'podman left the file of machine %s (%s) empty or unreadable, as Podman 4 does when it is stopped '
                'while rewriting it; the copy taken before the command was put back' % (name, path))

    def _apply(self, action, desired, facts):
        kind = action['action']
        self._kept = None
        if kind in ('start', 'restart', 'stop', 'set'):
            self._kept = self._keep_machine_file(desired['name'], facts, action['env'])
        try:
            self._apply_one(action, desired, facts)
        finally:
            self._mend_machine_file(self._kept, desired['name'])

    def _apply_one(self, action, desired, facts):
        kind = action['action']
        if kind in ('start', 'restart'):
            self._check_podman4_key(desired['name'], facts, action['env'])
        for path, text in sorted((action.get('files') or {}).items()):
            if not self.runner.write_text(path, text):
                raise MachineError('cannot write %s on the host that runs podman (%s needs it)' % (path, kind))
        timeout = self.start_timeout if kind in ('start', 'restart') else None
        # init, rm and set rewrite podman's client config (connections); podman 4 does it without a lock of
        # its own (podman 5 and later lock podman-connections.json themselves, so nothing is held there).
        locked = kind in ('init', 'rm', 'set', 'default_connection') and self.client.caps.version.major == 4
        lock = self.runner.config_lock() if locked else contextlib.nullcontext()
        try:
            with lock:
                res = self.runner.run(action['argv'], env=action['env'], timeout=timeout)
        except LockTimeout as exc:
            raise MachineError('cannot %s machine %s: another task has been changing podman\'s connections for too '
                               'long (%s). Wait for it, or remove the lock file if no task is running'
                               % (kind, desired['name'], exc))
        if res.ok:
            if kind == 'init' and self.pin_host_key:
                self._placed_key = self._place_host_key(desired, action['env'])
            return
        name = desired['name']
        if kind in ('start', 'restart'):
            self._start_failed(res, action, name)
            return
        err = podman_errors.classify(res)
        if kind == 'init':
            self._init_failed(res, err, desired)
        if res.timed_out:
            raise MachineError('podman machine %s of %s did not finish within command_timeout=%ss and was stopped. Raise '
                               'command_timeout if this host is slow.%s'
                               % (kind, name, self.runner.default_timeout, podman_said(res)), res)
        if kind == 'rm':
            if err.condition == podman_errors.NOT_FOUND:
                return  # gone already: that is what was wanted
            # Podman 5.4 removes a machine made with ignition_path, then fails looking for the
            # connections it never made: if the machine is gone, the removal did what was asked.
            if name not in self.client.inspect([name], env=action['env']):
                self.client.warnings.append('podman reported an error while removing machine %s, but the machine is '
                                            'gone: %s' % (name, err.text))
                return
        if kind == 'stop' and err.condition == podman_errors.NOT_FOUND:
            raise MachineError('machine %s disappeared while it was being stopped.%s' % (name, podman_said(res)), res)
        if kind == 'set':
            if err.condition == podman_errors.DISK_NOT_LARGER:
                raise MachineError('disk_size: podman refused to resize the disk of %s (it can only grow).%s'
                                   % (name, podman_said(res)), res)
            if err.condition == podman_errors.NOT_SUPPORTED:
                raise MachineError('podman machine set refused a change that the %s provider does not support; '
                                   'remove that option or use recreate: true.%s'
                                   % (err.details.get('provider', 'machine\'s'), podman_said(res)), res)
        self.client._fail_common(res, '%s machine %s' % (kind, name))

    def _console_hint(self, name, env):
        """Where the boot can be read: podman 5 logs the serial console beside the machine's API socket."""
        try:
            facts = self.client.inspect([name], env=env).get(name) or {}
        except MachineError:
            facts = {}
        if facts.get('json_shape') == '5' and facts.get('api_socket'):
            return 'Its console log is %s.' % self.runner.path.join(self.runner.path.dirname(facts['api_socket']),
                                                                    name + '.log')
        if facts.get('json_shape') == '4':
            return 'Podman 4 keeps no console log; podman machine start --log-level debug shows the boot steps.'
        return 'podman machine start --log-level debug shows the boot steps.'

    def _start_failed(self, res, action, name):
        if res.timed_out:
            # The runner killed the start and its VM, and Podman 4 may have been rewriting the machine's file
            # then (seen on 4.3.1: its stop answered 'unexpected end of JSON input'): mend it first. Podman
            # still marks the machine as starting, which would block the next start of any machine; its own
            # stop clears that.
            self._mend_machine_file(self._kept, name)
            stop = self.runner.run(cmds.stop_argv(name), env=action['env'], timeout=120)
            hint = self._console_hint(name, action['env'])
            raise MachineError('machine %s did not become ready within timeout=%ss, so the start was stopped. %s Raise '
                               'timeout on slow hosts (software emulation needs minutes).'
                               % (name, self.start_timeout, hint), res, stop=stop.as_dict())
        err = podman_errors.classify(res)
        if err.condition == podman_errors.ALREADY_RUNNING:
            return  # started meanwhile: the desired state holds
        if err.condition == podman_errors.STALE_STARTING:
            # A start that died left the machine marked "starting"; podman's own advice: stop, then start.
            stop = self.runner.run(cmds.stop_argv(name), env=action['env'])
            retry = self.runner.run(action['argv'], env=action['env'], timeout=self.start_timeout)
            if retry.ok or podman_errors.classify(retry).condition == podman_errors.ALREADY_RUNNING:
                return
            raise MachineError('machine %s was stuck in "starting"; it was stopped and started again, and the start '
                               'failed.%s' % (name, podman_said(retry)), retry, stop=stop.as_dict())
        if err.condition == podman_errors.EXCLUSIVE:
            other = err.details.get('other', 'another machine')
            where = (' (provider %s)' % err.details['other_provider']) if err.details.get('other_provider') else ''
            raise MachineError(
                'cannot start machine %s: machine %s%s is running, and this provider runs one machine at a time. '
                'Stop it first (podman_machine name=%s state=stopped), then start %s.%s'
                % (name, other, where, other, name, podman_said(res)), res, blocking_machine=other)
        if err.condition == podman_errors.NO_CONNECTION:
            ssh = (self.client.inspect([name], env=action['env']).get(name) or {}).get('ssh') or {}
            raise MachineError(
                'cannot start machine %s: Podman %s starts a machine through its system connection %s, and there is '
                'none: podman machine init adds no connection for a machine made with ignition_path. Add it, then '
                'start again: podman system connection add %s --identity %s ssh://%s@127.0.0.1:%s/run/user/UID/podman/'
                'podman.sock (UID: the id of that user in the machine).%s'
                % (name, self.client.caps.version, err.details['connection'], err.details['connection'],
                   ssh.get('identity_path') or 'KEY', ssh.get('user') or 'core', ssh.get('port') or 'PORT',
                   podman_said(res)), res, condition=err.condition)
        self.client._fail_common(res, 'start machine %s' % name)

    def _init_failed(self, res, err, desired):
        name = desired['name']
        # A failed init can leave a half-made machine behind (config without disk, or the reverse).
        # Remove it, so the next run starts clean; it did not exist before this task.
        leftover = self.client.inspect([name], env=cmds.provider_env(desired.get('provider'))).get(name)
        cleaned = ''
        if leftover and err.condition != podman_errors.ALREADY_EXISTS:
            self.runner.run(cmds.rm_argv(name), env=cmds.provider_env(desired.get('provider')))
            cleaned = ' The half-created machine was removed again.'
        hint = ''
        timezone_failed = err.condition == podman_errors.TIMEZONE_LOOKUP or 'exit status 1' in (res.stderr or '')
        if res.timed_out:
            hint = (' It did not finish within command_timeout=%ss and was stopped: init downloads the image when it '
                    'is a URL or stream name, so raise command_timeout, or fetch the image first with '
                    'machinist.podman.podman_machine_image.' % self.runner.default_timeout)
        elif desired.get('timezone') is None and timezone_failed:
            hint = (' Podman reads the host time zone with timedatectl when timezone is not given, and that fails '
                    'on hosts without systemd: set timezone (for example UTC).')
        elif err.condition == podman_errors.NO_SUCH_FILE:
            hint = ' A file podman needs does not exist: %s.' % err.details.get('path')
        elif err.condition == podman_errors.CONNECTION_EXISTS:
            hint = (' A podman system connection named %s is left from an earlier machine: remove it with podman '
                    'system connection rm %s, or choose another name.'
                    % (err.details.get('connection'), err.details.get('connection')))
        elif err.condition == podman_errors.INVALID_NAME:
            hint = ' Podman rejected the name: use letters, digits, "_", "." and "-".'
        raise MachineError('podman machine init failed for %s.%s%s%s' % (name, podman_said(res), hint, cleaned), res)

# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The machine role prints no secret of its machines: image_fetch.password, an Ignition password
hash, proxy credentials, or a file's content.

Real runs of the role at -vvv, failing in each of its loops over machines (the field check, the
image fetch, the converge) with `echo` for podman, show none in their whole output. A run that
succeeds needs podman and machines, so for the rest the role's task files are read with Ansible's loader and
what a run would print is worked out from them with Ansible's templating, as the tasks run in turn
(main.yml and its includes), for machines that carry secrets: each task's name, each loop item
(shown whole in a failed or verbose result: a loop_control.label changes only the line's
"(item=...)", which the first test shows), each label, each debug, fail and assert message, and
each set_fact value (shown at -v). Registered loop results hold their items, as Ansible's do. A
task with no_log: true prints none of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from inspect import signature

import pytest
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.release import __version__ as ansible_version
from ansible.template import Templar

ROLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                    'roles', 'machine')

SECRETS = {
    'image_fetch.password': 'Img-Pa55word-7c1',
    'ignition.users[].password_hash': '$6$rolesalt$RoleHashOfTheOpsUser',
    'ignition.proxy credentials': 'Pr0xy-Pa55-9d2',
    'ignition.files[].content': 'FileContentToken-4e8',
}
MACHINES = [
    {'name': 'dev', 'cpus': 2, 'state': 'started',
     'image_fetch': {'source': 'docker://quay.io/podman/machine-os:5.8', 'username': 'me',
                     'password': SECRETS['image_fetch.password']},
     'ignition': {'users': [{'name': 'ops', 'password_hash': SECRETS['ignition.users[].password_hash']}],
                  'proxy': {'https_proxy': 'http://alice:%s@proxy.example:3128' % SECRETS['ignition.proxy credentials']},
                  'files': [{'path': '/etc/token', 'content': SECRETS['ignition.files[].content']}]}},
    {'name': 'plain', 'memory': 2048},
]
# What the tasks that are not looped register, enough for the tasks after them to template.
# The host probe's lines (tasks/main.yml): system, user, temporary folder, virtualisation, podman's rc and output.
REGISTERED = {'rc': 0, 'stdout': 'podman version 5.8.6', 'stderr': '', 'msg': '',
              'stdout_lines': ['Linux', 'me', 'TMPDIR', 'no', '0', 'podman version 5.8.6'], 'dest': 'TMPDIR/podman-installer.pkg',
              'actions': [{'action': 'init'}], 'machine': {'name': 'dev', 'ignition_file': '/m/dev.ign'}}


def test_a_label_does_not_hide_the_item_of_a_failed_loop(tmp_path):
    """Why the role's loops go over names: the failed item's result holds the whole item, label or not."""
    rc, output = finish(start(str(tmp_path / 'label'), '''\
        - hosts: localhost
          gather_facts: false
          tasks:
            - ansible.builtin.fail:
                msg: failed {{ item.name }}
              loop: [{name: a, image_fetch: {password: Lab3l-Hides-N0thing}}]
              loop_control:
                label: "{{ item.name }}"
        '''))
    assert rc == 2 and 'failed: [localhost] (item=a)' in output
    assert 'Lab3l-Hides-N0thing' in output


def collections_path():
    """Where Ansible finds this collection: the folder holding the ansible_collections it is imported from."""
    import ansible_collections
    for folder in ansible_collections.__path__:
        if os.path.isdir(os.path.join(folder, 'machinist', 'podman', 'roles', 'machine')):
            return os.path.dirname(folder)
    pytest.fail('machinist.podman is not importable from an ansible_collections folder')


def start(folder, text, *args):
    """ansible-playbook on localhost, with this Python and this collection, started in the background."""
    os.makedirs(folder)
    play = os.path.join(folder, 'play.yml')
    with open(play, 'w') as fh:
        fh.write(textwrap.dedent(text))
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_COLLECTIONS_PATH=collections_path(),
               ANSIBLE_LOCAL_TEMP=os.path.join(folder, 'tmp'))
    return subprocess.Popen([sys.executable, '-m', 'ansible.cli.playbook', '-i', 'localhost,', '-c', 'local',
                             '-e', 'ansible_python_interpreter=' + sys.executable] + list(args) + [play],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env)


def finish(process):
    stdout, stderr = process.communicate(timeout=300)
    return process.returncode, stdout + stderr


SECRET_MACHINE = {'name': 'dev', 'ignition': MACHINES[0]['ignition'],
                  'image_fetch': dict(MACHINES[0]['image_fetch'], source='/nonexistent/disk.qcow2', source_type='file')}
FAILING = {
    'image fetch': (SECRET_MACHINE, 'Machine OS images', 'is not a file on the host'),
    'converge': (dict(((k, v) for k, v in SECRET_MACHINE.items() if k != 'image_fetch'), state='absent'),
                 'Machines converged', 'podman machine inspect printed'),
}


# Not a secret: machines found by name need names of their own.
DUPLICATES = [{'name': 'dev', 'cpus': 1}, {'name': 'other'}, {'name': 'dev', 'cpus': 2}]


@pytest.fixture(scope='module')
def failing_runs(tmp_path_factory):
    """The role at -vvv, echo for podman, one machine with secrets that fails in the loop named; all at once."""
    top = str(tmp_path_factory.mktemp('role'))
    cases = [(case, [machine]) for case, (machine, _t, _s) in sorted(FAILING.items())] + [
        ('duplicates', DUPLICATES), ('field check', [dict(SECRET_MACHINE, cpu=2)]),
        ('unnamed', [{'cpus': 1}, {'memory': '1GiB'}])]
    started = dict((case, start(os.path.join(top, str(i)), '''\
        - hosts: localhost
          gather_facts: false
          roles:
            - role: machinist.podman.machine
              vars:
                machine_executable: echo
                machine_install: false
                machine_require_virtualization: false
                machine_default_connection: ""
                machine_machines: %s
        ''' % json.dumps(machines), '-vvv')) for i, (case, machines) in enumerate(cases))
    return dict((case, finish(process)) for case, process in started.items())


def test_two_machines_of_one_name_are_refused(failing_runs):
    rc, output = failing_runs['duplicates']
    assert rc == 2
    failed = output.split('TASK [machinist.podman.machine : Check the host and the machines]', 1)[1]
    assert failed.split('TASK [', 1)[0].count('fatal: [localhost]') == 1
    assert 'machine_machines has more than one machine of a name (dev, other, dev)' in failed
    assert 'TASK [machinist.podman.machine : Machines converged]' not in output


def test_machines_without_names_are_each_named_and_not_taken_for_a_shared_name(failing_runs):
    rc, output = failing_runs['unnamed']
    assert rc == 2
    failed = output.split('TASK [machinist.podman.machine : Check the host and the machines]', 1)[1]
    assert 'machine_machines[0] (no name): every machine needs a name' in failed
    assert 'machine_machines[1] (no name): every machine needs a name' in failed
    assert 'more than one machine of a name' not in failed


def test_a_field_podman_machine_lacks_is_refused_first_printing_no_secret(failing_runs):
    """One task checks every machine before anything runs on the host; its message names fields, not values."""
    rc, output = failing_runs['field check']
    assert rc == 2
    before, failed = output.split('TASK [machinist.podman.machine : Check the host and the machines]', 1)
    assert 'TASK [machinist.podman.machine :' not in before.replace('TASK [machinist.podman.machine : Validating', ''), \
        'a task of the role ran before the check'
    assert failed.count('fatal: [localhost]') == 1
    assert 'machine_machines[0] (dev): cpu is not a field of machinist.podman.podman_machine' in failed
    assert 'TASK [' not in failed, 'the role went on after refusing a field'
    shown = [name for name, secret in SECRETS.items() if secret in output]
    assert shown == [], '%s printed by the run refusing a field' % ', '.join(shown)


@pytest.mark.parametrize('case', sorted(FAILING))
def test_a_run_failing_in_a_loop_prints_no_secret(failing_runs, case):
    _machine, task, says = FAILING[case]
    rc, output = failing_runs[case]
    failed = output.split('failed: [localhost] (item=dev)', 1)
    assert rc == 2 and len(failed) == 2, output[-3000:]
    assert failed[0].rstrip().rsplit('TASK [', 1)[1].startswith('machinist.podman.machine : ' + task)
    assert says in failed[1]
    shown = [name for name, secret in SECRETS.items() if secret in output]
    assert shown == [], '%s printed by the run failing in %s' % (', '.join(shown), task)


ANSIBLE_CORE = tuple(int(part) for part in ansible_version.split('.')[:2])


def load(name):
    loader = DataLoader()
    # ansible-core 2.19 and later mark what a template may be read from; 2.17 has no such mark.
    trusted = {'trusted_as_template': True} if 'trusted_as_template' in signature(loader.load_from_file).parameters else {}
    return loader.load_from_file(os.path.join(ROLE, name), **trusted)


def flat(tasks):
    for task in tasks or []:
        if 'block' in task:
            for key in ('block', 'rescue', 'always'):
                for inner in flat(task.get(key)):
                    yield dict(inner, vars=dict(task.get('vars') or {}, **(inner.get('vars') or {})))
        else:
            yield task


def module_of(task):
    skip = {'name', 'vars', 'loop', 'loop_control', 'register', 'when', 'changed_when', 'failed_when', 'become',
            'no_log', 'until', 'retries', 'delay', 'throttle', 'args', 'environment', 'tags', 'ignore_errors',
            'check_mode', 'timeout'}
    return [k for k in task if k not in skip][0]


class Run:
    """What a run of the role would print, task by task."""

    def __init__(self):
        self.vars = dict(load('defaults/main.yml'))
        self.vars.update(load('vars/main.yml'))
        self.vars.update(machine_machines=MACHINES, inventory_hostname='laptop', ansible_shell_type='sh',
                         ansible_facts={'system': 'Linux', 'user_id': 'me', 'os_family': 'Debian',
                                        'env': {'TMPDIR': 'TMPDIR'}},
                         machine_require_virtualization=False)
        if ANSIBLE_CORE < (2, 19):
            # Before 2.19 omit is a variable the play gives every task (a placeholder string), not a template global.
            self.vars['omit'] = '__omit_place_holder__machinist'
        self.shown = []       # (where, text)
        self.module_args = []  # (where, templated module args)
        self.loops = []
        self.items = []  # (where, item, no_log)

    def template(self, value, context):
        return Templar(loader=DataLoader(), variables=context).template(value)

    def show(self, where, value):
        self.shown.append((where, json.dumps(value, default=str)))

    def run_file(self, name, extra=None):
        for task in flat(load('tasks/' + name)):
            self.run_task(name, task, extra or {})

    def run_task(self, filename, task, extra):
        context = dict(self.vars, **extra)
        context.update(task.get('vars') or {})
        module = module_of(task)
        control = task.get('loop_control') or {}
        loop_var = control.get('loop_var', 'item')
        looped = 'loop' in task
        items = self.template(task['loop'], context) if looped else [None]
        if looped:
            self.loops.append((filename, task.get('name'), len(items)))
        results = []
        for index, item in enumerate(items):
            ctx = dict(context)
            if looped:
                ctx[loop_var] = item
                if control.get('index_var'):
                    ctx[control['index_var']] = index
            where = '%s: %s' % (filename, task.get('name'))
            no_log = task.get('no_log') is True or str(task.get('no_log')).strip().lower() == 'true'
            try:
                self.show(where + ' (name)', self.template(task.get('name', ''), ctx))
            except AnsibleError:
                self.show(where + ' (name)', task.get('name', ''))
            args = task[module]
            if module.endswith(('.set_fact', '.debug', '.fail', '.assert')) or module.startswith('machinist.'):
                args = self.template(args, ctx)
            if module.startswith('machinist.'):
                self.module_args.append((where, args))
            if looped:
                self.items.append((where, item, no_log))
            if not no_log:
                if looped:
                    self.show(where + ' (loop item)', item)
                    self.show(where + ' (label)', self.template(control.get('label', '{{ %s }}' % loop_var), ctx))
                if module.endswith(('.debug', '.fail', '.assert')):
                    self.show(where + ' (message)', [args.get('msg'), args.get('fail_msg')])
                if module.endswith('.set_fact'):
                    self.show(where + ' (fact)', args)
            if module.endswith('.set_fact'):
                self.vars.update(args)
            if module.endswith(('.include_tasks', '.import_tasks')):
                self.run_file(task[module], dict(extra, **dict(task.get('vars') or {}, **({loop_var: item} if looped else {}))))
            name = item if isinstance(item, str) else (item or {}).get('name') if isinstance(item, dict) else \
                MACHINES[item]['name'] if isinstance(item, int) else None
            results.append({loop_var: item, 'changed': True, 'rc': 0, 'path': '/cache/%s.qcow2' % name,
                            'machine': {'name': name, 'state': 'running', 'rootful': False}})
        if task.get('register'):
            self.vars[task['register']] = dict(results=results) if looped else dict(REGISTERED)


@pytest.fixture(scope='module')
def run():
    r = Run()
    r.run_file('main.yml')
    return r


def test_every_loop_of_the_role_was_worked_out(run):
    loops = dict(((f, n), count) for f, n, count in run.loops)
    assert loops[('machines_prepared.yml', 'Machine OS images')] == 1
    assert loops[('machines_prepared.yml', 'Machines with Ignition additions, created before their first boot')] == 1
    assert loops[('machines.yml', 'Machines converged')] == 2
    assert loops[('machines_started.yml', 'Started machines answer through their connection')] == 2


def test_the_secrets_reach_the_modules_that_need_them(run):
    """The role does pass them on (to no_log options): so their absence below is not for want of them."""
    args = json.dumps([a for _w, a in run.module_args], default=str)
    for secret in SECRETS.values():
        assert secret in args


SECRET_KEYS = ('password', 'password_hash', 'token', 'proxy', 'http_proxy', 'https_proxy', 'content', 'content_base64')


def keys_in(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from keys_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from keys_in(v)


def test_a_loop_over_items_with_a_secret_key_is_no_log(run):
    with_secrets = sorted(set(where for where, item, no_log in run.items
                              if not no_log and set(keys_in(item)) & set(SECRET_KEYS)))
    assert with_secrets == []


@pytest.mark.parametrize('secret', sorted(SECRETS))
def test_no_secret_is_printed(run, secret):
    shown = [where for where, text in run.shown if SECRETS[secret] in text]
    assert shown == [], '%s is printed by %s' % (secret, ', '.join(shown))

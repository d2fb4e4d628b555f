# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller-side path scrubs no_log values from its result, as AnsibleModule.exit_json does:
an action plugin's result is not scrubbed by Ansible, so a password would otherwise be shown."""

from __future__ import annotations

import json

import pytest
from ansible.plugins.action import ActionBase

from ansible_collections.machinist.podman.plugins.module_utils._machine.spec import SpecError
from ansible_collections.machinist.podman.plugins.plugin_utils import _controller_side as controller

PASSWORD = 'S3cr3t-pa55word'
SPEC = dict(
    source=dict(type='str', required=True),
    username=dict(type='str'),
    password=dict(type='str', no_log=True),
    choice=dict(type='str', choices=['a', 'b']),
    ok=dict(type='bool', default=True),
)


class Task:
    async_val = 0
    check_mode = False
    diff = False
    action = 'machinist.podman.podman_machine_image'

    def __init__(self, args):
        self.args = args


class Connection:
    pass


class Action:
    _connection = Connection()

    def __init__(self, args):
        self._task = Task(args)

    def _compute_environment_string(self, raw_environment_out=None):
        return ''  # a task without an environment


@pytest.fixture(autouse=True)
def no_action_base(monkeypatch):
    # ActionBase.run needs a whole task executor; its part of the result is {} here.
    monkeypatch.setattr(ActionBase, 'run', lambda self, tmp=None, task_vars=None: {})


def run(task, **args):
    args = dict(dict(source='https://registry.example/disk', username='me', password=PASSWORD), **args)
    return controller.run_task(Action(args), {}, SPEC, task, executable=None)


def echoing_task(params, runner, check_mode=False, diff=False):
    """A task that puts the password where a careless one could: a message, a command line, nested."""
    return {'changed': True, 'msg': 'logged in with %s' % params['password'],
            'commands': [['curl', '-u', 'me:' + params['password'], params['source']]],
            'nested': {'auth': {'password': params['password']}, 'keep': params['ok']},
            'stayed': False, 'none': None}


def failing_task(params, runner, check_mode=False, diff=False):
    raise SpecError('the registry refused me:%s' % params['password'])


def test_a_result_holding_the_password_has_it_nowhere():
    result = run(echoing_task)
    assert PASSWORD not in json.dumps(result)
    assert result['msg'] == 'logged in with ********'
    assert result['commands'] == [['curl', '-u', 'me:********', 'https://registry.example/disk']]
    assert result['nested']['auth']['password'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
    # Booleans and None are kept as they were, as AnsibleModule keeps them.
    assert result['changed'] is True and result['stayed'] is False and result['none'] is None
    assert result['nested']['keep'] is True
    assert result['controller_side'] is True


def test_a_failed_task_has_the_password_nowhere():
    result = run(failing_task)
    assert result['failed'] is True
    assert PASSWORD not in json.dumps(result)
    assert result['msg'] == 'the registry refused me:********'


def test_an_argument_error_has_the_password_nowhere():
    result = run(echoing_task, choice=PASSWORD)
    assert result['failed'] is True and 'choice' in result['msg']
    assert PASSWORD not in json.dumps(result)


def test_without_a_password_nothing_is_masked():
    result = controller.run_task(Action(dict(source='https://registry.example/disk')), {}, SPEC,
                                 lambda params, runner, check_mode=False, diff=False: {
                                     'changed': False, 'msg': 'kept a and b'},
                                 executable=None)
    assert result == {'changed': False, 'msg': 'kept a and b', 'controller_side': True}


def test_a_secret_on_stdin_reaches_the_target_through_ansibles_local_connection(tmp_path):
    """Registry credentials go to the target on stdin; the local connection takes bytes only (a str crashed it)."""
    runner = controller.remote_runner(LocalAction(), 'podman')
    header = str(tmp_path / 'private' / 'headers')
    assert runner.ask('stdin_to_file', header, stdin='Authorization: Bearer t0ken-ü\n') == {'written': '1'}
    with open(header, encoding='utf-8') as f:
        assert f.read() == 'Authorization: Bearer t0ken-ü\n'


class LocalAction:
    """An action on Ansible's real local connection, with the parts of ActionBase the runner uses."""

    def __init__(self, environment=None, become=False, async_val=0, transport=None):
        from ansible.parsing.dataloader import DataLoader
        from ansible.playbook.play_context import PlayContext
        from ansible.plugins.loader import connection_loader
        from ansible.template import Templar

        self._play_context = PlayContext()
        self._play_context.become = become
        self._connection = connection_loader.get('local', self._play_context, None)
        if transport:
            self._connection.transport = transport
        self._templar = Templar(loader=DataLoader())
        self._task = Task({})
        self._task.environment = environment
        self._task.async_val = async_val

    _compute_environment_string = ActionBase._compute_environment_string

    def _low_level_execute_command(self, cmd, sudoable=True, in_data=None):
        rc, out, err = self._connection.exec_command(cmd, in_data=in_data, sudoable=sudoable)
        return {'rc': rc, 'stdout': out, 'stderr': err}


def test_the_tasks_environment_reaches_podman_and_the_host_probe(tmp_path):
    """As the module path has it: the task's environment is podman's, and $HOME (where podman keeps machines) too."""
    action = LocalAction(environment=[{'MACHINIST_T': "it's $HOME; `x`"}, {'HOME': str(tmp_path), 'MACHINIST_N': 7}])
    runner = controller.remote_runner(action, 'printenv')
    assert runner.run(['MACHINIST_T']).stdout == "it's $HOME; `x`\n"
    assert runner.run(['MACHINIST_N']).stdout == '7\n'
    assert runner.host()['home'] == str(tmp_path)


def test_an_environment_name_that_is_not_plain_is_refused():
    with pytest.raises(Exception, match='not a plain name'):
        controller.remote_runner(LocalAction(environment={'A B': '1'}), 'printenv')


@pytest.mark.parametrize('case, variable, on_local, expected', [
    ('local, unset, a module that takes it there', None, True, True),
    ('local, unset, a module that keeps to the module', None, False, False),
    ('local, the variable false', False, True, False),
    ('local, the variable "false" from an inventory', 'false', True, False),
    ('local, become', None, True, False),
    ('local, async', None, True, False),
    ('ssh, unset', None, True, False),
    ('ssh, the variable true', True, False, True),
])
def test_which_path_a_task_takes(case, variable, on_local, expected):
    action = LocalAction(become='become' in case, async_val=10 if 'async' in case else 0,
                         transport='ssh' if case.startswith('ssh') else None)
    task_vars = {} if variable is None else {controller.CONTROLLER_SIDE_VAR: variable}
    assert controller.wanted(action, task_vars, on_local) is expected, case

# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""port_forward's options as the task reads them: the declared forwards checked before gvproxy is reached."""
from __future__ import annotations

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._forward.gvproxy import ForwardError
from ansible_collections.machinist.podman.plugins.module_utils._tasks import forward


def declared(**kw):
    """A forward as Ansible hands it over: every suboption present, the unset ones None, defaults filled."""
    f = dict(host_port=None, host_ip='127.0.0.1', host_socket=None, guest_ip='192.168.127.2', guest_port=None,
             protocol=None)
    f.update(kw)
    return f


def test_a_unix_forward_drops_the_default_host_ip():
    got = forward.desired_forwards([declared(host_socket='/tmp/api.sock', guest_port=2375)])
    assert got == [{'local': '/tmp/api.sock', 'remote': 'tcp://192.168.127.2:2375', 'protocol': 'unix'}]


def test_the_same_host_address_twice_is_refused_by_name():
    with pytest.raises(ForwardError, match='forwards: the same host address is declared twice: tcp/127.0.0.1:8080'):
        forward.desired_forwards([declared(host_port=8080), declared(host_port=8080, guest_port=80)])


def test_the_same_port_on_two_protocols_is_two_forwards():
    got = forward.desired_forwards([declared(host_port=5353, protocol='udp'), declared(host_port=5353)])
    assert [f['protocol'] for f in got] == ['udp', 'tcp']


def test_the_ssh_options_are_the_api_modules_own():
    from ansible_collections.machinist.podman.plugins.module_utils._tasks.api import API_ARGS
    for name in ('ssh_identity', 'ssh_known_hosts', 'ssh_host_key', 'ssh_host_key_checking', 'executable'):
        assert forward.FORWARD_ARGS[name] is API_ARGS[name]

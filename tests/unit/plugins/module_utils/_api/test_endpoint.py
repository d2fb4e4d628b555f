# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Connection options to endpoints, and the machines' known_hosts bookkeeping."""

from __future__ import annotations

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._api import endpoint
from ansible_collections.machinist.podman.plugins.module_utils._api.transport import TransportError
from ansible_collections.machinist.podman.plugins.module_utils._host.state import StateStore


def test_unix_url():
    e = endpoint.endpoint_from_url({'api_url': 'unix:///run/user/1000/podman/podman.sock'})
    assert e.unix_path == '/run/user/1000/podman/podman.sock'
    assert e.describe() == 'unix:///run/user/1000/podman/podman.sock'


def test_ssh_url_defaults_to_strict_checking_of_the_users_known_hosts():
    e = endpoint.endpoint_from_url({'api_url': 'ssh://core@build01.example.com:2222/run/podman/podman.sock'})
    t = e.session.target
    assert (t.host, t.port, t.user, e.remote_path) == ('build01.example.com', 2222, 'core', '/run/podman/podman.sock')
    assert t.host_key_checking == 'strict'
    assert t.known_hosts.endswith('/.ssh/known_hosts')


@pytest.mark.parametrize('url', ['http://localhost:8080', 'ssh://host/sock', 'ssh://user@host', 'tcp://1.2.3.4:2375'])
def test_bad_urls(url):
    with pytest.raises(TransportError) as err:
        endpoint.endpoint_from_url({'api_url': url})
    assert str(err.value).startswith('api_url=%r: give unix:///path/to/podman.sock or ssh://' % url)


@pytest.mark.parametrize('url', [
    'ssh://u@h:22/run/p.sock\n',            # a trailing newline that "$" lets through
    'ssh://u@h:\u0662\u0662/run/p.sock',     # Arabic-Indic digits that "\d" and int() take for 22
    'ssh://u@h\n:22/run/p.sock',
    'ssh://u\n@h:22/run/p.sock',
    'ssh://u@[::1\n]:22/run/p.sock',
    'ssh://u@h:22/run/p\r.sock',
])
def test_urls_with_newlines_or_non_ascii_digits_are_refused_naming_the_field(url):
    with pytest.raises(TransportError) as err:
        endpoint.endpoint_from_url({'api_url': url})
    assert str(err.value).startswith('api_url=%r: give unix:' % url)


@pytest.mark.parametrize('url, says', [
    ('ssh://u@h:0/run/p.sock', 'api_url: port 0 is out of range (1-65535)'),
    ('ssh://u@h:65536/run/p.sock', 'api_url: port 65536 is out of range (1-65535)'),
    ('unix://run/p.sock', "api_url='unix://run/p.sock': give unix:///path/to/podman.sock"),
    ('unix:///run/p.sock\n', "api_url='unix:///run/p.sock\\n': give unix:///path/to/podman.sock"),
])
def test_url_ports_and_socket_paths_are_checked(url, says):
    with pytest.raises(TransportError) as err:
        endpoint.endpoint_from_url({'api_url': url})
    assert says in str(err.value)


def test_an_ipv6_url_keeps_working():
    t = endpoint.endpoint_from_url({'api_url': 'ssh://core@[fd00::2]:2222/run/podman/podman.sock'}).session.target
    assert (t.host, t.port) == ('fd00::2', 2222)


def facts(**kw):
    base = {'name': 'dev', 'state': 'running', 'rootful': False, 'api_socket': None,
            'ssh': {'port': 40022, 'user': 'core', 'identity_path': '/home/u/.local/share/containers/podman/machine/machine'}}
    base.update(kw)
    return base


def test_a_machine_without_its_socket_is_reached_over_ssh_with_accept_new():
    e = endpoint.endpoint_for_machine({'api_transport': 'auto'}, facts(api_socket='/nonexistent/dev-api.sock'))
    assert e.remote_path == endpoint.guest_socket(facts())
    t = e.session.target
    assert (t.port, t.user, t.host_key_checking) == (40022, 'core', 'accept-new')


def test_a_rootful_machine_is_reached_as_root_at_roots_socket():
    e = endpoint.endpoint_for_machine({'api_transport': 'ssh'}, facts(rootful=True))
    assert e.remote_path == '/run/podman/podman.sock' and e.session.target.user == 'root'


def test_a_stopped_machine_has_no_api():
    with pytest.raises(TransportError, match='machine=dev is stopped: its API answers only while it runs'):
        endpoint.endpoint_for_machine({}, facts(state='stopped'))


def test_socket_transport_without_the_socket():
    with pytest.raises(TransportError, match='use api_transport: ssh'):
        endpoint.endpoint_for_machine({'api_transport': 'socket'}, facts())


def test_forgetting_a_machines_host_key(tmp_path):
    store = StateStore(base=str(tmp_path))
    (tmp_path / 'known_hosts').write_text('[127.0.0.1]:40022 ssh-ed25519 AAAA1\n[127.0.0.1]:400 ssh-ed25519 AAAA2\n')
    assert store.forget_host_key(40022) is True
    assert (tmp_path / 'known_hosts').read_text() == '[127.0.0.1]:400 ssh-ed25519 AAAA2\n'
    assert store.forget_host_key(40022) is False
    assert store.forget_host_key(None) is False

# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Containers: parsing the options, reading libpod's inspect, comparing, and the create body."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._container import spec as container_spec
from ansible_collections.machinist.podman.tests.unit.conftest import recorded

API_VERSIONS = ['4.3.1']


@pytest.mark.parametrize('text, parsed', [
    ('80', ('', 80, 80, 'tcp')),
    ('8080:80', ('', 8080, 80, 'tcp')),
    ('18081:81/udp', ('', 18081, 81, 'udp')),
    ('127.0.0.1:8080:80', ('127.0.0.1', 8080, 80, 'tcp')),
    ('0.0.0.0:8080:80', ('', 8080, 80, 'tcp')),
    ('[::1]:8080:80/sctp', ('::1', 8080, 80, 'sctp')),
])
def test_ports(text, parsed):
    assert container_spec.parse_port(text, 0) == parsed


@pytest.mark.parametrize('text, says', [
    ('80:80:80', "ports[0]: '80:80:80' is not"),
    ('1.2.3:80', 'is not [HOST_IP:]'),
    ('0:80', 'port 0 is out of range'),
    ('8080:80/icmp', 'is not [HOST_IP:]'),
])
def test_bad_ports(text, says):
    with pytest.raises(container_spec.ContainerSpecError, match=r'^ports\[0\]') as err:
        container_spec.parse_port(text, 0)
    assert says in str(err.value)


@pytest.mark.parametrize('text, parsed', [
    ('/srv/www/:/www:ro', ('bind', '/srv/www', '/www', False)),
    ('data:/var/lib/data', ('volume', 'data', '/var/lib/data', True)),
    ('/:/host', ('bind', '/', '/host', True)),
])
def test_volumes(text, parsed):
    assert container_spec.parse_volume(text, 2) == parsed


@pytest.mark.parametrize('text, says', [
    ('data', 'is not SOURCE:DEST'),
    ('./x:/y', 'must be an absolute path (a bind mount) or a volume name'),
    ('/x:y', "the destination 'y' must be an absolute path"),
    ('/x:/y:z', "mode 'z' must be ro or rw"),
])
def test_bad_volumes(text, says):
    with pytest.raises(container_spec.ContainerSpecError, match=r'^volumes\[2\]') as err:
        container_spec.parse_volume(text, 2)
    assert says in str(err.value)


def params(**kw):
    base = dict(name='web', image='localhost/bb:1', command=None, env=None, labels=None, ports=None, volumes=None,
                restart_policy=None, restart_retries=None, network=None)
    base.update(kw)
    return base


@pytest.mark.parametrize('kw, says', [
    (dict(name='-web'), 'name:'),
    (dict(env={'1X': 'a'}), "env: '1X' is not a variable name"),
    (dict(ports=['8080:80', '127.0.0.1:8080:81']), 'host port 8080/tcp is published twice'),
    (dict(volumes=['/a:/x', 'v:/x']), 'two volumes are mounted at the same destination'),
    (dict(restart_policy='always', restart_retries=2), 'restart_retries: only applies'),
    (dict(network='host', ports=['80']), 'cannot publish ports'),
    (dict(command='httpd -f'), 'command: give a list'),
])
def test_bad_params(kw, says):
    with pytest.raises(container_spec.ContainerSpecError) as err:
        container_spec.desired_from_params(params(**kw))
    assert says in str(err.value)


@pytest.mark.parametrize('kw, says', [
    (dict(name='web\n'), "name: 'web\\n' is not a container name"),
    (dict(name='w\u0661'), "name: 'w\u0661' is not a container name"),
    (dict(env={'A\n': 'a'}), "env: 'A\\n' is not a variable name"),
    (dict(env={'A\u0661': 'a'}), "env: 'A\u0661' is not a variable name"),
    (dict(ports=['80\n']), "ports[0]: '80\\n' is not [HOST_IP:]"),
    (dict(ports=['8080:80\n']), "ports[0]: '8080:80\\n' is not [HOST_IP:]"),
    (dict(ports=['\u0668\u0660']), "ports[0]: '\u0668\u0660' is not [HOST_IP:]"),
    (dict(ports=['\u0661\u0662\u0667.0.0.1:80:80']), 'is not [HOST_IP:]'),
    (dict(ports=['8080:80/tcp\n']), 'is not [HOST_IP:]'),
])
def test_trailing_newlines_and_non_ascii_digits_are_refused(kw, says):
    with pytest.raises(container_spec.ContainerSpecError) as err:
        container_spec.desired_from_params(params(**kw))
    assert says in str(err.value)


def test_ports_may_have_spaces_around():
    assert container_spec.parse_port(' 8080:80 ', 0) == ('', 8080, 80, 'tcp')


def test_two_ips_may_share_a_port():
    d = container_spec.desired_from_params(params(ports=['127.0.0.1:8080:80', '10.0.0.1:8080:81']))
    assert len(d['ports']) == 2


@pytest.fixture(params=API_VERSIONS)
def inspected(request):
    data = recorded(request.param, 'api_container_inspect')
    assert data['recorded_from'].startswith('podman %s ' % request.param)
    return data['body']


def test_inspect_reads_back_what_was_created(inspected):
    desired = inspected['created_with']
    current = container_spec.current_from_inspect(inspected['inspect'])
    assert current['name'] == 'machinist-record'
    assert current['state'] == 'created'
    assert current['ports'] == [['', 18081, 81, 'udp'], ['127.0.0.1', 18080, 80, 'tcp']]
    assert current['volumes'] == [['bind', '/tmp', '/mnt/t', False], ['volume', 'machinist-record-data', '/data', True]]
    assert current['restart_policy'] == 'on-failure' and current['restart_retries'] == 3
    assert current['env']['A'] == '1' and 'PATH' in current['env']
    # What was created from a spec compares equal to that spec: the module is idempotent.
    assert container_spec.differences(desired, current, image_id=current['image_id']) == []


@pytest.mark.parametrize('change, field', [
    (dict(env={'A': '2'}), 'env'),
    (dict(labels={'x': 'z'}), 'labels'),
    (dict(command=['httpd']), 'command'),
    (dict(ports=[['', 18080, 80, 'tcp']]), 'ports'),
    (dict(volumes=[]), 'volumes'),
    (dict(restart_policy='always', restart_retries=None), 'restart_policy'),
    (dict(restart_retries=5), 'restart_retries'),
    (dict(network='host'), 'network'),
])
def test_each_difference_is_named(inspected, change, field):
    desired = dict(copy.deepcopy(inspected['created_with']), **change)
    current = container_spec.current_from_inspect(inspected['inspect'])
    assert [d[0] for d in container_spec.differences(desired, current)] == [field]


def test_another_image_id_is_a_difference(inspected):
    current = container_spec.current_from_inspect(inspected['inspect'])
    diffs = container_spec.differences(inspected['created_with'], current, image_id='f' * 64)
    assert [d[0] for d in diffs] == ['image']


def test_unset_options_are_not_managed(inspected):
    current = container_spec.current_from_inspect(inspected['inspect'])
    desired = container_spec.desired_from_params(params(name='machinist-record', image=current['image']))
    assert container_spec.differences(desired, current, image_id=current['image_id']) == []
    before, after = container_spec.as_diff(current, desired)
    assert before['ports'] == after['ports'] and before['volumes'] == after['volumes']


def test_create_body():
    d = container_spec.desired_from_params(params(command=['sleep', '1'], env={'A': 1}, ports=['127.0.0.1:8080:80/udp'],
                                                  volumes=['/srv:/srv:ro', 'data:/data'], restart_policy='on-failure',
                                                  restart_retries=2))
    body = container_spec.create_body(d)
    assert body['env'] == {'A': '1'}
    assert body['portmappings'] == [{'host_ip': '127.0.0.1', 'host_port': 8080, 'container_port': 80, 'protocol': 'udp'}]
    assert body['mounts'] == [{'type': 'bind', 'source': '/srv', 'destination': '/srv', 'options': ['rbind', 'ro']}]
    assert body['volumes'] == [{'Name': 'data', 'Dest': '/data', 'Options': []}]
    assert body['restart_policy'] == 'on-failure' and body['restart_tries'] == 2
    assert 'netns' not in body

# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The libpod client's answers: streams, in-stream errors, error bodies."""

from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._api import client as api_client
from ansible_collections.machinist.podman.tests.unit.conftest import recorded


def test_a_failed_pull_is_found_in_the_200_stream():
    data = recorded('4.3.1', 'api_pull_failure')
    assert data['status'] == 200
    objects = api_client.parse_stream(data['body'])
    assert 'connection refused' in api_client.stream_error(objects)


def test_a_good_stream_has_no_error():
    body = '{"stream":"Copying blob"}\n{"stream":"done"}{"images":["abc"],"id":"abc"}'
    objects = api_client.parse_stream(body)
    assert len(objects) == 3
    assert api_client.stream_error(objects) is None


def test_the_missing_container_error_body():
    data = recorded('4.3.1', 'api_container_missing')
    err = api_client.error_from_body(data['status'], data['body'].encode(), 'inspect container nosuch-machinist')
    assert err.status == 404
    assert str(err).startswith('could not inspect container nosuch-machinist: podman API answered 404: ')
    assert 'no such container' in str(err)


def test_a_body_that_is_not_json():
    err = api_client.error_from_body(502, b'bad gateway\n')
    assert str(err) == 'podman API answered 502: bad gateway'


def test_registry_auth_is_base64url_json():
    header = api_client.registry_auth_header('ci', 'p+/=')
    assert json.loads(base64.urlsafe_b64decode(header)) == {'username': 'ci', 'password': 'p+/='}


@pytest.mark.parametrize('query, expected', [
    ({'all': True}, '/v4.3.1/libpod/containers/json?all=true'),
    ({'all': None}, '/v4.3.1/libpod/containers/json'),
])
def test_paths_carry_the_server_version(query, expected):
    api = api_client.PodmanAPI(endpoint=None)
    api.api_version = '4.3.1'
    assert api.path('/containers/json', **query) == expected

# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.machinist.podman.plugins.module_utils._machine.spec import GIB, MIB, SpecError, desired_from_params, parse_size


@pytest.mark.parametrize('value,expected', [
    (4096, 4096), ('4096', 4096), ('4GiB', 4096), ('4g', 4096), ('4G', 4096), ('4 GB', 4096), ('512MiB', 512),
    ('1.5GiB', 1536), ('1048576KiB', 1024), ('1TiB', 1024 * 1024),
])
def test_memory_sizes(value, expected):
    assert parse_size(value, 'memory', MIB, 'MiB', 128, 16 * 1024 * 1024) == expected


@pytest.mark.parametrize('value,expected', [(20, 20), ('20', 20), ('20GiB', 20), ('1TiB', 1024), ('2048MiB', 2)])
def test_disk_sizes(value, expected):
    assert parse_size(value, 'disk_size', GIB, 'GiB', 1, 65536) == expected


@pytest.mark.parametrize('value,message', [
    ('lots', "memory='lots' is not a size"),
    ('-1', "memory='-1' is not a size"),
    (0, 'memory must be greater than zero'),
    ('1000KiB', 'not a whole number of MiB'),
    (64, 'too small'),
    ('17TiB', 'which no machine can have'),
    (True, 'not a boolean'),
])
def test_bad_memory(value, message):
    with pytest.raises(SpecError, match=message):
        parse_size(value, 'memory', MIB, 'MiB', 128, 16 * 1024 * 1024)


@pytest.mark.parametrize('field,unit,unit_name,minimum,maximum', [
    ('memory', MIB, 'MiB', 128, 16 * 1024 * 1024),
    ('disk_size', GIB, 'GiB', 1, 65536),
    ('swap', MIB, 'MiB', 1, 16 * 1024 * 1024),
])
@pytest.mark.parametrize('value,message', [
    ('1e999GiB', "=%r is not a size: use a whole number of"),
    ('99999999999999999999999GiB', '=%r is more than'),
    ('9' * 5000, '=%r is more than'),                     # more digits than int() reads
    ('1' + '0' * 400 + '.5GiB', '=%r is more than'),      # float() of it is inf
    ('0.' + '0' * 400 + '1GiB', '=%r is not a whole number of'),
    (float('inf'), '=%r is not a size: use a whole number of'),
    (float('-inf'), '=%r is not a size'),
    (float('nan'), '=%r is not a size'),
])
def test_absurd_sizes_are_refused_naming_the_field(field, unit, unit_name, minimum, maximum, value, message):
    with pytest.raises(SpecError) as e:
        parse_size(value, field, unit, unit_name, minimum, maximum)
    shown = value if len(str(value)) <= 40 else str(value)[:40]
    msg = str(e.value)
    assert msg.startswith(field + '=')
    assert message.split('%r')[1] in msg
    assert repr(shown)[:30] in msg or repr(value)[:30] in msg
    assert len(msg) < 400


def test_a_fractional_size_is_exact():
    assert parse_size('0.5GiB', 'memory', MIB, 'MiB', 128, 16 * 1024 * 1024) == 512
    assert parse_size('1.25GiB', 'disk_size', MIB, 'MiB', 1, 1 << 30) == 1280
    with pytest.raises(SpecError, match='not a whole number of MiB'):
        parse_size('0.1GiB', 'memory', MIB, 'MiB', 1, 16 * 1024 * 1024)


def base(**kw):
    params = dict(name=None, cpus=None, memory=None, disk_size=None, swap=None, rootful=None,
                  user_mode_networking=None, image=None, timezone=None, username=None, ignition_path=None,
                  playbook=None, provider=None, volumes=None, usb=None)
    params.update(kw)
    return params


def test_defaults():
    d = desired_from_params(base())
    assert d['name'] == 'podman-machine-default'
    assert d['memory'] is None and d['volumes'] is None


@pytest.mark.parametrize('params,message', [
    (dict(name='bad name'), 'not a valid machine name'),
    (dict(name='x' * 31), 'at most 30'),
    (dict(name='WSL'), 'is a provider name'),
    (dict(cpus=0), 'between 1 and 1024'),
    (dict(username='-root'), 'username'),
    (dict(provider='vbox'), "provider='vbox' is unknown"),
    (dict(volumes=['/a:/usr']), '/usr is a system directory'),
    (dict(volumes=['/a:/mnt/a:fast']), "unknown option 'fast'"),
    (dict(volumes=['/a:relative']), 'must be an absolute path'),
    (dict(usb=['1-2']), 'usb entry'),
    (dict(timezone='Mars/Olympus Mons'), 'not a time zone name'),
])
def test_bad_params_name_the_field(params, message):
    with pytest.raises(SpecError, match=message):
        desired_from_params(base(**params))


def test_windows_volume_source_keeps_its_drive():
    d = desired_from_params(base(volumes=['C:\\Users\\me:/mnt/me:ro']))
    assert d['volumes'] == ['C:\\Users\\me:/mnt/me:ro']


@pytest.mark.parametrize('params,message', [
    (dict(name='rec-a\n'), "name='rec-a\\\\n' is not a valid machine name"),
    (dict(name='rec\u0661'), "name='rec\u0661' is not a valid machine name"),
    (dict(username='core\n'), "username='core\\\\n' is not a valid"),
    (dict(memory='1\u0661GiB'), "memory='1\u0661GiB' is not a size"),
    (dict(memory='\u0664096'), "memory='\u0664096' is not a size"),
    (dict(disk_size='20GiB\n'), "disk_size='20GiB\\\\n' is not a size"),
    (dict(swap='\u00a0512'), "swap='\\\\xa0512' is not a size"),
    (dict(usb=['bus=1,devnum=2\n']), "usb entry 'bus=1,devnum=2\\\\n' must be"),
    (dict(usb=['bus=\u0661,devnum=2']), "usb entry 'bus=\u0661,devnum=2' must be"),
    (dict(volumes=['/a:/mnt/a:ro\n']), "volumes entry '/a:/mnt/a:ro\\\\n': control characters"),
    (dict(volumes=['/a:/mnt/a\n']), "volumes entry '/a:/mnt/a\\\\n': control characters"),
    (dict(volumes=['/a\t:/mnt/a']), "volumes entry '/a\\\\t:/mnt/a': control characters"),
    (dict(timezone='UTC\n'), "timezone='UTC\\\\n' is not a time zone name"),
    (dict(timezone='Europe/Berl\u0131n'), 'is not a time zone name'),
])
def test_trailing_newlines_and_non_ascii_digits_are_refused(params, message):
    with pytest.raises(SpecError, match=message):
        desired_from_params(base(**params))


@pytest.mark.parametrize('value,expected', [(' 4 GiB ', 4096), ('4\tGiB', 4096), ('4096', 4096)])
def test_sizes_may_have_spaces(value, expected):
    assert parse_size(value, 'memory', MIB, 'MiB', 128, 16 * 1024 * 1024) == expected

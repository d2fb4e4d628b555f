# -*- coding: utf-8 -*-
# Copyright (c) machinist.podman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Containers: the desired spec from module options, the same view of an existing container from
libpod's inspect, the difference between them, and the SpecGenerator body that creates one.

Note that this module util is PRIVATE to the collection: its interface may change at any time.

Only what the user declared is compared: env and labels as subsets (the image and podman add
their own), command only when given, ports, volumes and restart policy exactly. The image is
compared by ID, so a tag that now points at another image recreates the container.
"""

from __future__ import annotations

import re

from ansible_collections.machinist.podman.plugins.module_utils._common.errors import MachinistError

RESTART_POLICIES = ('no', 'always', 'on-failure', 'unless-stopped')
NETWORK_MODES = ('bridge', 'host', 'none', 'slirp4netns', 'pasta', 'private')


class ContainerSpecError(MachinistError, ValueError):
    pass


# Patterns are matched whole (fullmatch: no trailing newline slips through as with `$`) and ASCII only.
_PORT = re.compile(r'(?:(?:\[(?P<ip6>[0-9a-fA-F:]+)\]|(?P<ip>[0-9]{1,3}(?:\.[0-9]{1,3}){3})):)?(?:(?P<host>[0-9]+):)?'
                   r'(?P<ctr>[0-9]+)(?:/(?P<proto>tcp|udp|sctp))?', re.ASCII)
_NAME = re.compile(r'[a-zA-Z0-9][a-zA-Z0-9_.-]*', re.ASCII)
_ENV_NAME = re.compile(r'[A-Za-z_][A-Za-z0-9_]*', re.ASCII)


def _port_number(value, field):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ContainerSpecError('%s: %r is not a port number' % (field, value))
    if not 1 <= number <= 65535:
        raise ContainerSpecError('%s: port %s is out of range (1-65535)' % (field, number))
    return number


def parse_port(text, index):
    """'[ip:][host:]container[/proto]' -> (host_ip, host_port, container_port, protocol)."""
    field = 'ports[%d]' % index
    m = _PORT.fullmatch(str(text).strip(' '))
    if not m:
        raise ContainerSpecError('%s: %r is not [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp], '
                                 'for example "127.0.0.1:8080:80" or "8080:80/udp"' % (field, text))
    ctr = _port_number(m.group('ctr'), field)
    host = _port_number(m.group('host'), field) if m.group('host') else ctr
    ip = m.group('ip') or m.group('ip6') or ''
    if ip in ('0.0.0.0', '::'):
        ip = ''
    return (ip, host, ctr, m.group('proto') or 'tcp')


def parse_volume(text, index):
    """'SOURCE:DEST[:ro|rw]' -> (type, source, dest, rw). A source without '/' is a named volume."""
    field = 'volumes[%d]' % index
    parts = str(text).split(':')
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise ContainerSpecError('%s: %r is not SOURCE:DEST[:ro|rw], for example "/srv/www:/usr/share/www:ro" '
                                 'or "data:/var/lib/data"' % (field, text))
    source, dest = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else 'rw'
    if mode not in ('ro', 'rw'):
        raise ContainerSpecError('%s: mode %r must be ro or rw' % (field, mode))
    if not dest.startswith('/'):
        raise ContainerSpecError('%s: the destination %r must be an absolute path inside the container' % (field, dest))
    if source.startswith('/'):
        kind = 'bind'
    elif source.startswith('.') or '/' in source:
        raise ContainerSpecError('%s: the source %r must be an absolute path (a bind mount) or a volume name' % (field, source))
    else:
        kind = 'volume'
    return (kind, source.rstrip('/') or '/', dest.rstrip('/') or '/', mode == 'rw')


def desired_from_params(params):
    """The declared spec, validated, in the comparable shape. Raises ContainerSpecError."""
    name = params.get('name')
    if not name or not _NAME.fullmatch(name):
        raise ContainerSpecError('name: %r is not a container name (letters, digits, _ . -, not starting with _ . -)' % (name,))
    cmd = params.get('command')
    if isinstance(cmd, str):
        raise ContainerSpecError('command: give a list of arguments, for example ["httpd", "-f", "-p", "80"]; '
                                 'a string would be split by a shell you did not ask for')
    env = params.get('env') or {}
    for key in env:
        if not _ENV_NAME.fullmatch(key):
            raise ContainerSpecError('env: %r is not a variable name' % (key,))
    ports = sorted(set(parse_port(p, i) for i, p in enumerate(params.get('ports') or [])))
    # Options left out are not managed: they are neither compared nor set (podman's defaults apply).
    seen = {}
    for p in ports:
        key = (p[1], p[3])
        if key in seen and (not p[0] or not seen[key] or p[0] == seen[key]):
            raise ContainerSpecError('ports: host port %d/%s is published twice' % key)
        seen[key] = p[0]
    volumes = sorted(set(parse_volume(v, i) for i, v in enumerate(params.get('volumes') or [])))
    dests = [v[2] for v in volumes]
    if len(dests) != len(set(dests)):
        raise ContainerSpecError('volumes: two volumes are mounted at the same destination')
    restart = params.get('restart_policy')
    if restart is not None and restart not in RESTART_POLICIES:
        raise ContainerSpecError('restart_policy: %r must be one of %s' % (restart, ', '.join(RESTART_POLICIES)))
    retries = params.get('restart_retries')
    if retries is not None and restart != 'on-failure':
        raise ContainerSpecError('restart_retries: only applies with restart_policy on-failure')
    network = params.get('network')
    if network is not None and network not in NETWORK_MODES:
        raise ContainerSpecError('network: %r must be one of %s' % (network, ', '.join(NETWORK_MODES)))
    if network in ('host', 'none') and ports:
        raise ContainerSpecError('ports: a container on network %s cannot publish ports; remove ports or choose '
                                 'another network' % network)
    return {
        'name': name,
        'image': params['image'],
        'command': list(cmd) if cmd is not None else None,
        'env': dict((k, str(v)) for k, v in env.items()),
        'labels': dict((k, str(v)) for k, v in (params.get('labels') or {}).items()),
        'ports': [list(p) for p in ports] if params.get('ports') is not None else None,
        'volumes': [list(v) for v in volumes] if params.get('volumes') is not None else None,
        'restart_policy': restart,
        'restart_retries': retries if restart == 'on-failure' else None,
        'network': network,
    }


def _env_dict(env_list):
    out = {}
    for item in env_list or []:
        key, _sep, value = item.partition('=')
        out[key] = value
    return out


def current_from_inspect(data):
    """libpod's container inspect (Podman 4.x and 5.x have the same fields here) -> comparable view."""
    config = data.get('Config') or {}
    host = data.get('HostConfig') or {}
    ports = set()
    for key, bindings in (host.get('PortBindings') or {}).items():
        number, _sep, proto = key.partition('/')
        for b in bindings or []:
            ip = b.get('HostIp') or ''
            ports.add((('' if ip in ('0.0.0.0', '::') else ip), int(b.get('HostPort') or number), int(number), proto or 'tcp'))
    volumes = set()
    for m in data.get('Mounts') or []:
        if m.get('Type') == 'bind':
            volumes.add(('bind', (m.get('Source') or '').rstrip('/') or '/', m.get('Destination'), bool(m.get('RW'))))
        elif m.get('Type') == 'volume':
            volumes.add(('volume', m.get('Name'), m.get('Destination'), bool(m.get('RW'))))
    restart = host.get('RestartPolicy') or {}
    policy = restart.get('Name') or 'no'
    network = host.get('NetworkMode') or None
    return {
        'name': (data.get('Name') or '').lstrip('/'),
        'id': data.get('Id'),
        'image': data.get('ImageName') or config.get('Image'),
        'image_id': data.get('Image'),
        'command': config.get('Cmd') or [],
        'env': _env_dict(config.get('Env')),
        'labels': dict(config.get('Labels') or {}),
        'ports': [list(p) for p in sorted(ports)],
        'volumes': [list(v) for v in sorted(volumes)],
        'restart_policy': policy,
        'restart_retries': restart.get('MaximumRetryCount') if policy == 'on-failure' else None,
        'network': network,
        'state': ((data.get('State') or {}).get('Status') or 'unknown').lower(),
    }


def differences(desired, current, image_id=None):
    """[(field, current, desired)] for what differs, in a stable order."""
    out = []
    if image_id and current.get('image_id') and image_id != current['image_id']:
        out.append(('image', '%s (%s)' % (current.get('image'), current['image_id'][:12]),
                    '%s (%s)' % (desired['image'], image_id[:12])))
    if desired['command'] is not None and desired['command'] != current['command']:
        out.append(('command', current['command'], desired['command']))
    for field in ('env', 'labels'):
        wrong = dict((k, v) for k, v in desired[field].items() if current[field].get(k) != v)
        if wrong:
            out.append((field, dict((k, current[field].get(k)) for k in wrong), wrong))
    for field in ('ports', 'volumes', 'restart_policy'):
        if desired[field] is not None and desired[field] != current[field]:
            out.append((field, current[field], desired[field]))
    if desired['restart_retries'] is not None and desired['restart_retries'] != current['restart_retries']:
        out.append(('restart_retries', current['restart_retries'], desired['restart_retries']))
    if desired['network'] is not None and not _same_network(desired['network'], current['network']):
        out.append(('network', current['network'], desired['network']))
    return out


def _same_network(want, have):
    if want in ('bridge', 'private'):
        return have in ('bridge', 'private', 'default', None) or (have or '').startswith('bridge')
    return want == have


def create_body(desired):
    """The SpecGenerator JSON for POST /libpod/containers/create."""
    body = {'name': desired['name'], 'image': desired['image']}
    if desired['command'] is not None:
        body['command'] = desired['command']
    if desired['env']:
        body['env'] = desired['env']
    if desired['labels']:
        body['labels'] = desired['labels']
    if desired['ports']:
        body['portmappings'] = [dict(host_ip=ip, host_port=hp, container_port=cp, protocol=proto)
                                for ip, hp, cp, proto in desired['ports']]
    volumes = desired['volumes'] or []
    mounts = [dict(type='bind', source=src, destination=dst, options=['rbind'] + ([] if rw else ['ro']))
              for kind, src, dst, rw in volumes if kind == 'bind']
    named = [dict(Name=src, Dest=dst, Options=[] if rw else ['ro'])
             for kind, src, dst, rw in volumes if kind == 'volume']
    if mounts:
        body['mounts'] = mounts
    if named:
        body['volumes'] = named
    if desired['restart_policy'] not in (None, 'no'):
        body['restart_policy'] = desired['restart_policy']
        if desired['restart_retries'] is not None:
            body['restart_tries'] = desired['restart_retries']
    if desired['network']:
        body['netns'] = {'nsmode': desired['network']}
    return body


def as_diff(current, desired):
    """Ansible's before/after, in the user's terms."""
    keys = ('image', 'command', 'env', 'labels', 'ports', 'volumes', 'restart_policy', 'restart_retries', 'network', 'state')
    before = dict((k, current.get(k)) for k in keys) if current else {}
    after = dict((k, desired.get(k)) for k in keys) if desired else {}
    if current and desired:
        # Show only what the user declared, so podman's own env and labels do not read as changes.
        for field in ('env', 'labels'):
            before[field] = dict((k, current[field].get(k)) for k in desired[field])
        for field in ('command', 'network', 'ports', 'volumes', 'restart_policy', 'restart_retries'):
            if desired[field] is None:
                after[field] = before[field]
    return before, after

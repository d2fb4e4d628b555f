#!/usr/bin/env bash
# The two SSH clients a session can use (ssh_client: paramiko or openssh), timed in one run against the real sshd
# and podman service that scripts/lib/api-services.sh starts on loopback: connecting, 10 commands, 10 API requests
# (/_ping over a channel to podman's socket), 3 rounds each, alternating which goes first. The plain CLI beside them:
# `ssh HOST true` (a connection each), and `ssh HOST curl --unix-socket SOCKET http://d/_ping` for one API answer.
#
#   sudo benchmarks/ssh_clients.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/common.sh"
require_root
work=$MACHINIST_SHARE/bench
install_collection "$repo" "$work" "$work/collections" >/dev/null 2>&1
config=$(bash "$repo/scripts/lib/api-services.sh" start)
trap 'bash "$repo/scripts/lib/api-services.sh" stop' EXIT
field() { sed -n "s/^$1: //p" <<<"$config" | tr -d '"'; }
url=$(field api_ssh_url) key=$(field api_ssh_identity) known=$(field api_known_hosts)
as_user env PYTHONPATH="$work/collections" "$MACHINIST_VENV/bin/python" - "$url" "$key" "$known" <<'PY'
import re
import subprocess
import sys
import time

from ansible_collections.machinist.podman.plugins.module_utils._api.client import PodmanAPI
from ansible_collections.machinist.podman.plugins.module_utils._api.endpoint import endpoint_from_url
from ansible_collections.machinist.podman.plugins.plugin_utils._local import run_command



url, key, known = sys.argv[1:4]
rounds, count = 3, 10
times = {'paramiko': [], 'openssh': []}
for r in range(rounds):
    for client in (('paramiko', 'openssh') if r % 2 == 0 else ('openssh', 'paramiko')):
        params = {'api_url': url, 'ssh_identity': key, 'ssh_known_hosts': known, 'api_timeout': 60, 'ssh_client': client}
        endpoint = endpoint_from_url(params, run_command)
        t0 = time.time()
        endpoint.session.connect()
        t1 = time.time()
        for _ in range(count):
            rc, _out, _err = endpoint.session.run('true')
            assert rc == 0
        t2 = time.time()
        api = PodmanAPI(endpoint, timeout=60)
        for _ in range(count):
            api.ping()
        t3 = time.time()
        endpoint.close()
        times[client].append((t1 - t0, (t2 - t1) / count, (t3 - t2) / count))

m = re.fullmatch(r'ssh://([^@]+)@([^:/]+):(\d+)(/.*)', url)
user, host, port, path = m.groups()
ssh = ['ssh', '-F', 'none', '-p', port, '-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
       '-o', 'UserKnownHostsFile=' + known, '%s@%s' % (user, host)]
t0 = time.time()
for _ in range(count):
    subprocess.run(ssh + ['true'], check=True)
plain_ssh = (time.time() - t0) / count
t0 = time.time()
for _ in range(count):
    subprocess.run(ssh + ['curl', '-sf', '--unix-socket', path, 'http://d/_ping'], check=True, capture_output=True)
plain_api = (time.time() - t0) / count

print('| client | connect | a command | an API request (/_ping) | command / plain ssh | request / plain ssh with curl |')
print('|---|---|---|---|---|---|')
for client, rows in times.items():
    connect = sum(x[0] for x in rows) / rounds
    command = sum(x[1] for x in rows) / rounds
    request = sum(x[2] for x in rows) / rounds
    print('| %s | %.3f s | %.3f s | %.4f s | %.3f | %.4f |' % (client, connect, command, request, command / plain_ssh,
                                                               request / plain_api))
print('plain: `ssh HOST true` %.3f s, `ssh HOST curl --unix-socket SOCKET http://d/_ping` %.3f s' % (plain_ssh, plain_api))
PY

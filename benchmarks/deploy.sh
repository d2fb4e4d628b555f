#!/usr/bin/env bash
# Deploys N containers four ways in one playbook run, against a real `podman system service` (the one
# scripts/lib/api-services.sh starts): machinist.podman.container (a task each) against `podman --remote run -d`
# (a command task each), target at most 1.0x; machinist.podman.containers (one task) against those command tasks,
# target at most 0.25x, and against a bare shell loop of `podman --remote run -d` in one task, target at most 1.5x.
# Also prints the shell loop outside Ansible, for scale.
#
#   sudo benchmarks/deploy.sh [N]     (default 20 containers per round, 4 rounds)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/common.sh"
require_root
count=${1:-20}
work=$MACHINIST_SHARE/bench
install_collection "$repo" "$work" "$work/collections" >/dev/null 2>&1
config=$(bash "$repo/scripts/lib/api-services.sh" start)
trap 'bash "$repo/scripts/lib/api-services.sh" stop' EXIT
sock=$(sed -n 's/^api_podman_socket: //p' <<<"$config")
rootfs=$(sed -n 's/^api_busybox_rootfs: //p' <<<"$config")
as_user podman import -q "$rootfs" localhost/bench-deploy:1 >/dev/null

as_user env ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_LOCALHOST_WARNING=false \
    ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_CALLBACK_RESULT_FORMAT=yaml \
    "$MACHINIST_VENV/bin/ansible-playbook" -c local "$repo/benchmarks/deploy.yml" \
    -e "api_socket=$sock" -e "per_round=$count" | sed -n '/TASK \[Results\]/,/^$/p'

# The bare CLI, outside Ansible: what the API round trips cost without any task overhead.
start=$(date +%s.%N)
for i in $(seq 1 "$count"); do
    as_user podman --remote --url "unix://$sock" run -d --name "bench-raw-$i" --network host \
        localhost/bench-deploy:1 sleep 3600 >/dev/null
done
end=$(date +%s.%N)
as_user podman rm -f -t 0 $(seq -f 'bench-raw-%g' 1 "$count") >/dev/null
echo "bare shell loop of podman --remote run -d: $(echo "$end - $start" | bc) s for $count containers"
as_user podman rmi -f localhost/bench-deploy:1 >/dev/null

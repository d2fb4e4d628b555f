#!/usr/bin/env bash
# Times a no-op run of the laptop playbook (playbooks/laptop.yml, as scripts/run-laptop.sh runs it, its machine
# already running) against a playbook of three plain command tasks (benchmarks/laptop_cli.yml: podman machine
# inspect, podman machine list, podman --connection NAME info), alternating which goes first. Target: at most 1.3.
#
#   sudo benchmarks/laptop.sh [ROUNDS] [-e machinist_podman_controller_side=false ...]
#
# The first run of scripts/run-laptop.sh boots the machine when it is not running (under TCG here: minutes).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/common.sh"
require_root "$@"
rounds=${1:-3}
shift || true
bash "$repo/scripts/run-laptop.sh" >/dev/null 2>&1 || die "scripts/run-laptop.sh failed: run it alone to see why"
playbook() {  # playbook FILE ARGS...: as the test user, as scripts/run-laptop.sh does
    local log=$MACHINIST_SHARE/logs/bench-laptop-${1##*/}.log
    as_user env ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
        "$MACHINIST_VENV/bin/ansible-playbook" -c local "$@" >"$log" 2>&1 || die "ansible-playbook $1 failed: see $log"
    grep -Eq 'localhost +: ok=[0-9]+ +changed=0 ' "$log" || die "ansible-playbook $1 changed something: see $log"
}
laptop_args=(-e "machine_image=$MACHINIST_CACHE/images/podman-machine-bookworm.x86_64.qcow2" -e machine_state=started
             -e machine_timeout=900)
as_user test -r /dev/kvm -a -w /dev/kvm || laptop_args+=(-e machine_require_virtualization=false)
timed() {
    local start end
    start=$(date +%s.%N)
    playbook "$@"
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}
laptop=0 cli=0
for ((r = 0; r < rounds; r++)); do
    if ((r % 2 == 0)); then
        l=$(timed "$repo/playbooks/laptop.yml" "${laptop_args[@]}" "$@"); c=$(timed "$repo/benchmarks/laptop_cli.yml")
    else
        c=$(timed "$repo/benchmarks/laptop_cli.yml"); l=$(timed "$repo/playbooks/laptop.yml" "${laptop_args[@]}" "$@")
    fi
    printf 'round %d: laptop no-op %.2f s, 3 commands %.2f s\n' "$r" "$l" "$c" >&2
    laptop=$(echo "$laptop + $l" | bc); cli=$(echo "$cli + $c" | bc)
done
printf '| %.2f | %.2f | %.2f |\n' "$laptop" "$cli" "$(echo "$laptop / $cli" | bc -l)"

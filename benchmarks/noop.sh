#!/usr/bin/env bash
# Times a no-op podman_machine task against `ansible.builtin.command: podman machine inspect NAME`
# in one playbook run, as the unprivileged test user, and prints the ratio and the podman calls
# each made. Target: one podman call and at most 1.15x.
#
#   sudo benchmarks/noop.sh [host|trixie|sid] [module|controller|default]
#
# Default host: Debian 12's podman 4.3.1. With `controller`, the module's task runs on the controller
# and reaches podman through the connection (the path Windows targets take), with POSIX scripts.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/common.sh"
require_root
label=${1:-host}
path=${2:-module}
# default: the variable unset, as a user's playbook has it (on this local connection, the controller-side path).
case $path in
    module) side=(-e machinist_podman_controller_side=false) ;;
    controller) side=(-e machinist_podman_controller_side=true) ;;
    default) side=() ;;
    *) die "second argument: module, controller or default" ;;
esac
exe=podman
[ "$label" = host ] || exe=$MACHINIST_BIN/podman-$label
work=$MACHINIST_SHARE/bench
install_collection "$repo" "$work" "$work/collections" >/dev/null 2>&1
as_user qemu-img create -q -f qcow2 "$work/bench.qcow2" 1G
as_user env ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_LOCALHOST_WARNING=false \
    ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_CALLBACK_RESULT_FORMAT=yaml \
    "$MACHINIST_VENV/bin/ansible-playbook" -c local "$repo/benchmarks/noop.yml" \
    -e "podman_executable=$exe" -e "bench_image=$work/bench.qcow2" "${side[@]}" |
    sed -n '/TASK \[Results\]/,/^$/p'

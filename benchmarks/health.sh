#!/usr/bin/env bash
# Times podman_machine_health on a healthy, booted machine against `ansible.builtin.command: podman machine
# inspect NAME` in one playbook run, as the unprivileged test user, and prints both, the difference per task
# and the ratio. Target: at most 3 s more per check than one inspect.
#
#   sudo benchmarks/health.sh [host|trixie|experimental]
#
# Default host: Debian 12's podman 4.3.1 with the Debian 12 guest image the tests build (scripts/setup.sh);
# trixie (5.4.2) and experimental (6.1.1) run podman in their root filesystems with guests of their own.
# It boots one machine under the emulated CPU (minutes), and removes it at the end.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/common.sh"
require_root
label=${1:-host}
exe=podman root=''
case $label in
    host) guest=bookworm ;;
    experimental) guest=experimental ;;
    trixie) guest=trixie ;;
    *) die "first argument: host, trixie or experimental" ;;
esac
[ "$label" = host ] || { exe=$MACHINIST_BIN/podman-$label; root=$(readlink -f "$MACHINIST_CACHE/rootfs/$label"); }
image=$(ls "$MACHINIST_CACHE"/images/podman-machine-$guest-*.x86_64.qcow2 2>/dev/null | head -1)
[ -n "$image" ] || die "no $guest machine image: run scripts/setup.sh first"
work=$MACHINIST_SHARE/bench
install_collection "$repo" "$work" "$work/collections" >/dev/null 2>&1
as_user cp "$image" "$work/bench-health-$label.qcow2"
as_user env ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_LOCALHOST_WARNING=false \
    ANSIBLE_INVENTORY_UNPARSED_WARNING=false ANSIBLE_CALLBACK_RESULT_FORMAT=yaml \
    "$MACHINIST_VENV/bin/ansible-playbook" -c local "$repo/benchmarks/health.yml" \
    -e "podman_executable=$exe" -e "podman_root=$root" -e "bench_image=$work/bench-health-$label.qcow2" |
    sed -n '/TASK \[Results\]/,/^$/p'
as_user rm -f "$work/bench-health-$label.qcow2"

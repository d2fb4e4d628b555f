#!/usr/bin/env bash
# Times the fleet job as AWX runs it (ansible-runner, the execution environment, rootless podman) over 5, 10
# and 20 laptops at forks 5 and 10: the first job over fresh laptops, the same job again (a no-op), and, in
# the same run, a baseline job of three plain podman commands per laptop (benchmarks/fleet_cli.yml) over the
# same laptops. Prints a table with the no-op job's ratio to the baseline.
#
#   sudo benchmarks/fleet.sh ["5 10 20" ["5 10"]]
#
# The laptops are scripts/lib/laptops.sh's (network namespaces, sshd, the host's podman 4.3.1), made fresh
# for each size and forks; none boots (a boot would time qemu's emulation, not the fleet). As in the fleet
# suite, one laptop has no podman, one's change is refused and one is off.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/common.sh"
require_root "$@"
sizes=${1:-5 10 20}
forks_list=${2:-5 10}
work=$MACHINIST_SHARE/bench-fleet
install_collection "$repo" "$work" "$work/collections" >/dev/null 2>&1 || die "the collection does not build"
image=$(bash "$repo/scripts/lib/ee.sh" "$(ls "$work"/machinist-podman-*.tar.gz)" 2>/dev/null | tail -n 1)
job() {  # job IDENT FORKS [PLAYBOOK]: prints its seconds
    local start end
    start=$(date +%s.%N)
    bash "$repo/scripts/lib/fleet-job.sh" run "$@" >/dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}
rows=()
for n in $sizes; do
    for forks in $forks_list; do
        bash "$repo/scripts/lib/fleet-job.sh" prepare "$n" "$image" 0 >/dev/null 2>&1
        first=$(job first "$forks")
        again=$(job again "$forks")
        cli=$(job cli "$forks" "$repo/benchmarks/fleet_cli.yml")
        rows+=("$(printf '| %s | %s | %.1f | %.1f | %.1f | %.2f |' "$n" "$forks" "$first" "$again" "$cli" "$(echo "$again / $cli" | bc -l)")")
        echo "${rows[-1]}" >&2
    done
done
bash "$repo/scripts/lib/laptops.sh" down
echo "image: $image"
echo "| laptops (+1 off) | forks | first job (s) | no-op job (s) | 3 commands (s) | no-op / commands |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"

#!/usr/bin/env bash
# The main job on this host: installs the collection from its tarball for the test user and runs
# playbooks/laptop.yml as that user (podman machine refuses root). Extra arguments go to
# ansible-playbook, e.g. scripts/run-laptop.sh -e machine_cpus=4.
#
# The machine boots under software emulation where KVM cannot run guests (about a minute).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/common.sh"
require_root "$@"

home=$(getent passwd "$MACHINIST_USER" | cut -d: -f6)
# Installed where ansible-playbook looks by default, as a user who installed it from Galaxy would have it.
install_collection "$repo" "$MACHINIST_SHARE/laptop" "$home/.ansible/collections" >/dev/null

args=()
if [ -z "${MACHINE_IMAGE:-}" ]; then
    # No image can be downloaded on an offline host: use the one scripts/setup.sh built from Debian
    # packages, whose guest podman matches this host's (4.3.1).
    MACHINE_IMAGE=$MACHINIST_CACHE/images/podman-machine-bookworm.x86_64.qcow2
    [ -e "$MACHINE_IMAGE" ] || bash "$repo/scripts/machine-image/build.sh" bookworm >/dev/null
    log "no MACHINE_IMAGE given: using the machine image built here from Debian packages ($MACHINE_IMAGE)"
fi
args+=(-e "machine_image=$MACHINE_IMAGE" -e machine_state=started -e machine_timeout=900)
if ! as_user test -r /dev/kvm -a -w /dev/kvm; then
    # The harness's qemu launcher runs machines under software emulation where KVM cannot: the role's
    # virtualisation check warns instead of failing.
    args+=(-e machine_require_virtualization=false)
fi
log "running playbooks/laptop.yml as $MACHINIST_USER (collections in $home/.ansible/collections)"
as_user env ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
    "$MACHINIST_VENV/bin/ansible-playbook" -c local "$repo/playbooks/laptop.yml" "${args[@]}" "$@"

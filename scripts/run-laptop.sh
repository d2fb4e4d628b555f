#!/usr/bin/env bash
# The main job on this host: installs the collection from its tarball for the test user and runs
# playbooks/laptop.yml as that user (podman machine refuses root). Extra arguments go to
# ansible-playbook, e.g. scripts/run-laptop.sh -e machine_cpus=4.
#
# No machine OS image can be downloaded on an offline host. Until the project builds a bootable
# image of its own, the machine is created from a blank placeholder disk and left stopped
# (machine_state=present): it exists with the resources asked for, but it cannot boot.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/common.sh"
require_root

home=$(getent passwd "$MACHINIST_USER" | cut -d: -f6)
work=$MACHINIST_SHARE/laptop
rm -rf "$work" && install -d -o "$MACHINIST_USER" "$work"
as_user "$MACHINIST_VENV/bin/ansible-galaxy" collection build -f --output-path "$work" "$repo" >/dev/null
as_user "$MACHINIST_VENV/bin/ansible-galaxy" collection install -f "$work"/machinist-podman-*.tar.gz >/dev/null

args=()
if [ -z "${MACHINE_IMAGE:-}" ]; then
    install -d -m 0755 "$MACHINIST_CACHE/images"
    placeholder=$MACHINIST_CACHE/images/placeholder-blank.qcow2
    [ -e "$placeholder" ] || qemu-img create -q -f qcow2 "$placeholder" 20G
    MACHINE_IMAGE=$MACHINIST_SHARE/laptop/placeholder-blank.qcow2
    install -o "$MACHINIST_USER" -m 0644 "$placeholder" "$MACHINE_IMAGE"
    log "no machine OS image given (MACHINE_IMAGE): using a blank placeholder disk; the machine will exist but not boot"
fi
args+=(-e "machine_image=$MACHINE_IMAGE" -e machine_volumes=[])
log "running playbooks/laptop.yml as $MACHINIST_USER (collections in $home/.ansible/collections)"
as_user env ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
    "$MACHINIST_VENV/bin/ansible-playbook" -c local "$repo/playbooks/laptop.yml" "${args[@]}" "$@"

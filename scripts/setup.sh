#!/usr/bin/env bash
# Sets up this machine for machinist.podman and runs the main job.
#
#   scripts/setup.sh            everything, then playbooks/laptop.yml as the unprivileged user
#   scripts/setup.sh --no-run   everything but the playbook (what the test command needs)
#
# What it installs (idempotent; a second run only checks):
#   - Debian packages: podman 4.3.1 and what `podman machine` needs, debootstrap, Python venv
#   - an unprivileged user, $MACHINIST_USER, because `podman machine` refuses root
#   - a Python virtual environment with ansible-core and the test tools (tests/requirements.txt)
#   - Debian 13 and unstable root filesystems carrying podman 5.4 and 5.8, for the test suite,
#     with a root-owned helper the test user may call through sudo to run them
# Downloads and built artifacts are cached under $MACHINIST_CACHE, outside the repository.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/common.sh"
require_root "$@"
run_playbook=1
[ "${1:-}" = --no-run ] && run_playbook=0

log "Debian packages"
packages=(podman qemu-utils qemu-system-x86 uidmap slirp4netns crun fuse-overlayfs openssh-client
          debootstrap python3-venv sudo git shellcheck
          openssh-server runc busybox-static curl ignition
          docker-registry xz-utils bzip2 zstd zip time bc
          fdisk extlinux syslinux-common e2fsprogs iproute2)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

log "test user $MACHINIST_USER"
getent passwd "$MACHINIST_USER" >/dev/null || useradd -m -s /bin/bash "$MACHINIST_USER"
# No password, but not locked: the test sshd admits the user with a key (a locked account it refuses).
[ "$(getent shadow "$MACHINIST_USER" | cut -d: -f2)" = '*' ] || usermod -p '*' "$MACHINIST_USER"
install -d -m 1777 "$MACHINIST_SHARE" "$MACHINIST_SHARE/tmp"
install -d -o "$MACHINIST_USER" -m 0700 "$MACHINIST_SHARE/run-host"
# podman (4.3.1) reads the subordinate id ranges even for `podman machine`.
grep -q "^$MACHINIST_USER:" /etc/subuid || usermod --add-subuids 200000-265535 --add-subgids 200000-265535 "$MACHINIST_USER"
mkdir -p "$MACHINIST_CACHE" "$MACHINIST_BIN"
chmod 755 "$MACHINIST_CACHE"

log "Python virtual environment ($MACHINIST_VENV)"
req_key=$(content_key "$repo/tests/requirements.txt")
if [ "$(cat "$MACHINIST_VENV/.key" 2>/dev/null)" != "$req_key" ]; then
    rm -rf "$MACHINIST_VENV"
    /usr/bin/python3 -m venv "$MACHINIST_VENV"
    "$MACHINIST_VENV/bin/pip" install -q --upgrade pip
    "$MACHINIST_VENV/bin/pip" install -q -r "$repo/tests/requirements.txt"
    echo "$req_key" >"$MACHINIST_VENV/.key"
fi
chmod -R a+rX "$MACHINIST_VENV"
# ansible-test bootstraps pip into its sanity environments with a script it downloads from a site
# this host may not reach; it uses a cached copy when there is one. Ours does the same job offline.
pip_version=$("$MACHINIST_VENV/bin/python" -c 'import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="3.11"))["pip"])')
user_home=$(getent passwd "$MACHINIST_USER" | cut -d: -f6)
install -d -o "$MACHINIST_USER" "$user_home/.ansible" "$user_home/.ansible/test" "$user_home/.ansible/test/cache"
install -o "$MACHINIST_USER" -m 0644 "$repo/scripts/lib/ansible_test_pip_bootstrap.py" \
    "$user_home/.ansible/test/cache/get_pip_${pip_version//./_}.py"

# The root filesystems and the machine OS images are six independent debootstraps, mostly waiting
# on downloads and dpkg: they run side by side, each line of output tagged with its job, and each
# job's failure fails the set-up (a cached one takes a second).
install -d -m 0755 "$MACHINIST_SHARE/logs"
in_background() {  # in_background NAME COMMAND...: runs it, tagging its output; the PID goes to bg_pids
    local name=$1
    shift
    ( "$@" 2>&1 | sed -u "s/^/[$name] /"; exit "${PIPESTATUS[0]}" ) &
    bg_pids+=("$!:$name")
}
wait_for_jobs() {
    local entry failed=0
    for entry in "${bg_pids[@]}"; do
        wait "${entry%%:*}" || { echo "error: ${entry#*:} failed (its lines above are tagged [${entry#*:}])" >&2; failed=1; }
    done
    bg_pids=()
    return $failed
}
bg_pids=()
log "podman root filesystems ($MACHINIST_SUITES) and machine OS images (bookworm, trixie, experimental), side by side; cached"
for suite in $MACHINIST_SUITES; do in_background "rootfs $suite" bash "$repo/scripts/lib/rootfs.sh" "$suite"; done
for suite in bookworm trixie experimental; do
    # shellcheck disable=SC2016 # the inner script's own arguments
    in_background "image $suite" bash -c 'bash "$1" "$2" >/dev/null' _ "$repo/scripts/machine-image/build.sh" "$suite"
done
wait_for_jobs || die "building the root filesystems or the machine images failed"
log "qemu-user-static for the guests and an arm64 root filesystem (the end-to-end suite's foreign-arch story); cached"
bash "$repo/scripts/lib/foreign-arch.sh" >/dev/null
install -m 0755 -o root -g root "$repo/scripts/lib/enter-rootfs" "$MACHINIST_BIN/enter-rootfs"
for suite in $MACHINIST_SUITES; do install -m 0755 "$repo/scripts/lib/podman-rootfs" "$MACHINIST_BIN/podman-$suite"; done
log "what a real machine start needs (test and offline harness, not something the collection does to a laptop)"
# gvproxy: Debian 12 has none; the one of Debian 13's package (in the trixie root filesystem) runs
# here. The qemu launcher swaps KVM for software emulation where KVM cannot run guests. Podman
# finds both through helper_binaries_dir, set in a drop-in so podman's own containers.conf (where
# 4.x keeps its connections) is left alone. The root filesystems get the launcher at the same path.
install -d -m 0755 "$MACHINIST_BIN/host"
install -m 0755 "$MACHINIST_CACHE/rootfs/trixie/usr/bin/gvproxy" "$MACHINIST_BIN/host/gvproxy"
install -m 0755 "$repo/scripts/lib/qemu-launcher" "$MACHINIST_BIN/host/qemu-system-x86_64"
for suite in $MACHINIST_SUITES; do
    suite_root=$(readlink -f "$MACHINIST_CACHE/rootfs/$suite")
    install -D -m 0755 "$repo/scripts/lib/qemu-launcher" "$suite_root$MACHINIST_BIN/$suite/qemu-system-x86_64"
done
install -d -m 1777 "$MACHINIST_SHARE/logs"
dropin=$user_home/.config/containers/containers.conf.d
install -d -o "$MACHINIST_USER" "$user_home/.config" "$user_home/.config/containers" "$dropin"
{
    echo "# Written by machinist.podman's scripts/setup.sh for its test and offline harness."
    echo "[engine]"
    echo "helper_binaries_dir = [\"$MACHINIST_BIN/host\", \"/usr/local/libexec/podman\", \"/usr/local/lib/podman\", \"/usr/libexec/podman\", \"/usr/lib/podman\"]"
    echo
    echo "[machine]"
    echo "# The harness's machine image has no 9p client for podman's default \$HOME mount."
    echo "volumes = []"
} >"$dropin/50-machinist-harness.conf"
chown "$MACHINIST_USER" "$dropin/50-machinist-harness.conf"

printf '%s ALL=(root) NOPASSWD: %s/enter-rootfs\n' "$MACHINIST_USER" "$MACHINIST_BIN" >/etc/sudoers.d/machinist-podman
chmod 0440 /etc/sudoers.d/machinist-podman
visudo -cf /etc/sudoers.d/machinist-podman >/dev/null

if [ "$run_playbook" = 1 ]; then
    bash "$repo/scripts/run-laptop.sh"
fi

#!/usr/bin/env bash
# Build (or reuse) a Debian root filesystem that carries another Podman release, and the small
# root-owned helper that runs that podman as the unprivileged test user.
#
#   scripts/lib/rootfs.sh SUITE      (as root; SUITE is trixie for podman 5.4, sid for 5.8, experimental for 6.1)
#
# The root filesystem is cached under $MACHINIST_CACHE/rootfs/SUITE-KEY, KEY being a hash of this
# script and the package list, so it is rebuilt only when the recipe changes. A build that fails
# half way leaves nothing behind under the final name: it is assembled under a temporary name and
# renamed when complete.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
require_root "$@"

suite=${1:?usage: rootfs.sh SUITE}
# Only what `podman machine` needs on the client side: podman itself, qemu-img for disk resizes,
# ssh-keygen for the machine key, and the qemu system emulator plus gvproxy for real starts.
packages=podman,qemu-utils,qemu-system-x86,gvproxy,openssh-client,passwd,procps,ca-certificates,uidmap,crun,conmon
# "experimental" is sid with podman from Debian experimental (6.x): debootstrap makes sid, then apt
# takes podman and what it needs from experimental, the rest staying sid's.
# It is also the newest controller: Python (sid's) for the ansible-core releases that Debian 12's
# Python 3.11 cannot run (scripts/lib/controller.sh makes their virtual environments in it).
base=$suite
[ "$suite" != experimental ] || { base=sid; packages=$packages,python3-venv,zstd,xz-utils,ignition; }
# The key covers what the debootstrap result depends on (suite, packages, the steps after it),
# not this script's wording. Bump the recipe number when the steps below change.
recipe=1
[ "$suite" != experimental ] || recipe="1 experimental podman"
key=$(content_key "$suite" "$packages" "recipe $recipe")
dest=$MACHINIST_CACHE/rootfs/$suite-$key

if [ -x "$dest/usr/bin/podman" ]; then
    log "root filesystem $suite is cached ($dest)"
else
    log "building the $suite root filesystem with debootstrap (a few minutes; progress below)"
    command -v debootstrap >/dev/null || die "debootstrap is missing: run scripts/setup.sh first"
    mkdir -p "$MACHINIST_CACHE/rootfs"
    rm -rf "$dest.partial"
    mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
    debootstrap --variant=minbase --include="$packages" "$base" "$dest.partial" "$mirror"
    if [ "$suite" = experimental ]; then
        # The mirror's Release files for sid and experimental are past their Valid-Until date.
        echo "deb $mirror experimental main" >"$dest.partial/etc/apt/sources.list.d/experimental.list"
        chroot "$dest.partial" apt-get -o Acquire::Check-Valid-Until=false update -qq
        DEBIAN_FRONTEND=noninteractive chroot "$dest.partial" apt-get -o Acquire::Check-Valid-Until=false \
            install -y -qq --no-install-recommends -t experimental podman
        chroot "$dest.partial" apt-get clean
    fi
    # gvproxy reads /etc/hosts; minbase ships none.
    [ -e "$dest.partial/etc/hosts" ] || printf '127.0.0.1 localhost\n::1 localhost\n' >"$dest.partial/etc/hosts"
    rm -rf "$dest.partial/var/cache/apt/archives"/*.deb
    mv "$dest.partial" "$dest"
    # Older builds of the same suite are replaced, not accumulated. enter-rootfs binds /proc,
    # /dev and the shared folder into them: unmount those first, and never cross a mount.
    for old in "$MACHINIST_CACHE/rootfs/$suite"-*; do
        [ "$old" = "$dest" ] && continue
        awk -v d="$old/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
        rm -rf --one-file-system "$old"
    done
fi

# The test user exists inside with the same uid, so files it writes on shared paths keep owners.
uid=$(id -u "$MACHINIST_USER")
gid=$(id -g "$MACHINIST_USER")
if ! chroot "$dest" getent passwd "$MACHINIST_USER" >/dev/null; then
    chroot "$dest" groupadd -g "$gid" "$MACHINIST_USER"
    chroot "$dest" useradd -m -u "$uid" -g "$gid" -s /bin/bash "$MACHINIST_USER"
fi
home=/home/$MACHINIST_USER
mkdir -p "$dest$home/.config/containers"
# podman finds gvproxy and qemu through helper_binaries_dir; Debian puts gvproxy in /usr/bin.
# The default $HOME volume is off: the test machine image has no 9p/virtiofs client set up.
cat >"$dest$home/.config/containers/containers.conf" <<EOF
[engine]
helper_binaries_dir = ["$MACHINIST_BIN/$suite", "/usr/local/libexec/podman", "/usr/libexec/podman", "/usr/lib/podman", "/usr/bin"]

[machine]
volumes = []
EOF
chroot "$dest" chown -R "$MACHINIST_USER:" "$home"
ln -sfn "$dest" "$MACHINIST_CACHE/rootfs/$suite"
log "podman in $suite: $(chroot "$dest" dpkg-query -W -f='${Version}' podman)"

#!/usr/bin/env bash
# What the end-to-end suite needs to show an arm64 container running in an x86_64 machine, the way an
# amd64 one runs on an Apple Silicon Mac: built once, cached in $MACHINIST_CACHE/foreign-arch.
#
#   apt/<suite>/            a flat apt repository with qemu-user-static (and what it depends on) for
#                           the guest images' Debian releases: the machine's apt installs from it
#                           over gvproxy, as from a company mirror (the guest has no internet here)
#   busybox-arm64-rootfs.tar  a root filesystem of Debian's arm64 busybox-static, for podman import
#
# Needs root (chroot into the trixie root filesystem, apt-get download on the host).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/scripts/lib/common.sh"
require_root "$@"

out=$MACHINIST_CACHE/foreign-arch
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
install -d -m 0755 "$out" "$out/apt"

index() {  # index DIR: a flat repository's Packages file, from the control fields of its .debs
    local dir=$1 deb
    (
        cd "$dir"
        # Named by package and architecture only: an epoch's ":" (or its "%3a") has no place in a URL.
        for deb in *.deb; do
            local plain
            plain=$(dpkg-deb -f "$deb" Package)_$(dpkg-deb -f "$deb" Architecture).deb
            [ "$deb" = "$plain" ] || mv "$deb" "$plain"
        done
        for deb in *.deb; do
            dpkg-deb -f "$deb"
            printf 'Filename: ./%s\nSize: %s\nSHA256: %s\n\n' "$deb" "$(stat -c %s "$deb")" \
                "$(sha256sum "$deb" | cut -d' ' -f1)"
        done
    ) >"$dir/Packages.tmp"
    mv "$dir/Packages.tmp" "$dir/Packages"
}

# bookworm (the podman 4.3.1 guest): the host's own apt has the release.
if [ ! -s "$out/apt/bookworm/Packages" ]; then
    log "qemu-user-static for bookworm guests"
    rm -rf "$out/apt/bookworm.tmp" && install -d -m 0755 "$out/apt/bookworm.tmp"
    # apt warns that root downloads unsandboxed: that is expected here, and the download is checked.
    (cd "$out/apt/bookworm.tmp" && apt-get download -q qemu-user-static 2>/dev/null) ||
        die "apt-get download qemu-user-static failed (bookworm)"
    index "$out/apt/bookworm.tmp"
    mv "$out/apt/bookworm.tmp" "$out/apt/bookworm"
fi

# trixie (the podman 5.4.2 guest): qemu-user-static is a transitional package there, for qemu-user
# and qemu-user-binfmt; the trixie root filesystem's apt fetches all three.
if [ ! -s "$out/apt/trixie/Packages" ]; then
    log "qemu-user-static for trixie guests"
    root=$(readlink -f "$MACHINIST_CACHE/rootfs/trixie")
    [ -x "$root/usr/bin/apt-get" ] || die "the trixie root filesystem is not built yet (scripts/lib/rootfs.sh trixie)"
    rm -rf "$root/tmp/foreign-arch" && install -d -m 0777 "$root/tmp/foreign-arch"
    chroot "$root" sh -c 'cd /tmp/foreign-arch && apt-get download -q qemu-user-static qemu-user qemu-user-binfmt' 2>/dev/null ||
        die "apt-get download qemu-user-static qemu-user qemu-user-binfmt failed (trixie)"
    rm -rf "$out/apt/trixie.tmp" && mv "$root/tmp/foreign-arch" "$out/apt/trixie.tmp"
    chmod 0755 "$out/apt/trixie.tmp"
    index "$out/apt/trixie.tmp"
    mv "$out/apt/trixie.tmp" "$out/apt/trixie"
fi

# busybox-static for arm64, from the release's arm64 index: no foreign architecture is added to the
# host's dpkg. The .deb's checksum is the one the index gives.
if [ ! -s "$out/busybox-arm64-rootfs.tar" ]; then
    log "an arm64 busybox root filesystem"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    curl -fsSL --retry 3 -o "$work/Packages.xz" "$mirror/dists/bookworm/main/binary-arm64/Packages.xz"
    xz -dc "$work/Packages.xz" | awk -v RS= '/(^|\n)Package: busybox-static\n/' >"$work/stanza"
    file=$(sed -n 's/^Filename: //p' "$work/stanza" | head -1)
    sum=$(sed -n 's/^SHA256: //p' "$work/stanza" | head -1)
    if [ -z "$file" ] || [ -z "$sum" ]; then die "busybox-static is not in bookworm's arm64 index"; fi
    curl -fsSL --retry 3 -o "$work/busybox.deb" "$mirror/$file"
    echo "$sum  $work/busybox.deb" | sha256sum -c --quiet
    dpkg-deb -x "$work/busybox.deb" "$work/x"
    install -d "$work/fs/bin"
    install -m 0755 "$work/x/bin/busybox" "$work/fs/bin/busybox"
    for a in sh uname echo cat true; do ln -s busybox "$work/fs/bin/$a"; done
    tar -C "$work/fs" --owner=0 --group=0 -cf "$out/busybox-arm64-rootfs.tar.tmp" .
    mv "$out/busybox-arm64-rootfs.tar.tmp" "$out/busybox-arm64-rootfs.tar"
fi
chmod -R a+rX "$out"
echo "$out"

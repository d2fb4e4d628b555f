#!/usr/bin/env bash
# Builds a bootable Podman machine OS image from Debian packages, for tests and offline use.
#
#   scripts/machine-image/build.sh SUITE      bookworm (podman 4.3.1 guest), trixie (5.4.2) or experimental
#                                             (sid with Debian experimental's podman 6.1)
#
# Prints the image's path. The image is a compressed qcow2 (MBR, one ext4 partition labelled
# podman-root, extlinux) that boots under qemu's default BIOS from podman's -drive if=virtio. On
# first boot a unit applies podman's Ignition config with Debian's ignition (see overlay/). It is
# not Fedora CoreOS: no rpm-ostree, and only the Ignition stages that write files run.
#
# Cached under $MACHINIST_CACHE/images, keyed by this recipe's content (this script, the overlay,
# the package list), so it is rebuilt only when the recipe changes. A build that fails leaves no
# image behind: everything is assembled under temporary names and renamed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
require_root "$@"
suite=${1:?usage: build.sh bookworm|trixie|experimental}

packages=linux-image-cloud-amd64,initramfs-tools,systemd-sysv,udev,dbus,dbus-user-session,libpam-systemd
packages+=,openssh-server,sudo,iproute2,kmod,ca-certificates,e2fsprogs,cloud-guest-utils,fdisk,procps,less
packages+=,ignition,podman,crun,conmon,netavark,aardvark-dns,catatonit,golang-github-containers-common,uidmap
packages+=,slirp4netns,fuse-overlayfs,iputils-ping
base=$suite
case $suite in
    bookworm) packages+=,iptables ;;
    trixie) packages+=,nftables,passt ;;
    # sid, then podman and what it needs from experimental (step 2). sid's kernel pulls dracut, which
    # conflicts with initramfs-tools: the initramfs is dracut's there (generic, not host-only: it is built
    # in a chroot for another machine).
    experimental) packages+=,nftables,passt; packages=${packages/initramfs-tools/dracut}; base=sid ;;
    *) die "unknown suite $suite: bookworm (podman 4.3.1), trixie (podman 5.4.2) or experimental (podman 6.1)" ;;
esac
mapfile -t overlay_files < <(find "$here/overlay" -type f | sort)
key=$(content_key "$0" "$packages" "${overlay_files[@]}")
images=$MACHINIST_CACHE/images
image=$images/podman-machine-$suite-$key.x86_64.qcow2
link=$images/podman-machine-$suite.x86_64.qcow2
if [ -s "$image" ]; then
    ln -sfn "$(basename "$image")" "$link"
    log "machine image $suite is cached: $image" && echo "$link"
    exit 0
fi

for tool in debootstrap sfdisk extlinux mkfs.ext4 qemu-img; do
    command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh first"
done
work=$MACHINIST_CACHE/imagework/$suite
root=$work/root
cleanup() {
    for m in dev/pts dev sys proc; do mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"; done
    mountpoint -q "$work/mnt" 2>/dev/null && umount "$work/mnt"
    [ -z "${loop:-}" ] || losetup -d "$loop" 2>/dev/null || true
}
trap cleanup EXIT
rm -rf --one-file-system "$work"
mkdir -p "$work/mnt" "$images"
start=$SECONDS

log "[1/4] debootstrap $suite with podman, systemd, sshd and ignition (about 2 minutes)"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
debootstrap --variant=minbase --include="$packages" "$base" "$root" "$mirror" |
    grep --line-buffered -E '^I: (Retrieving|Configuring|Base)' | awk 'NR % 25 == 1 || /Base/ {print; fflush()}'

log "[2/4] configure the guest ($((SECONDS - start))s so far)"
cp -a "$here/overlay/." "$root/"
chown -R root:root "$root/etc" "$root/usr/local" "$root/usr/lib/podman-machine"
chmod 0440 "$root/etc/sudoers.d/90-core"
# Podman's Ignition links /etc/localtime without overwrite: Debian's must not exist.
rm -f "$root/etc/localtime" "$root/etc/timezone"
# Each machine gets its own identity at first boot.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*
# Podman 4's Ignition enables remove-moby.service (an rpm-ostree call) unless this exists.
mkdir -p "$root/var/lib" && touch "$root/var/lib/remove-moby.stamp"
sed -i 's|^SHELL=.*|SHELL=/bin/bash|' "$root/etc/default/useradd"
for m in proc sys dev dev/pts; do mount --bind "/$m" "$root/$m"; done
if [ "$suite" = experimental ]; then
    # The mirror's Release files for sid and experimental are past their Valid-Until date.
    echo "deb $mirror experimental main" >"$root/etc/apt/sources.list.d/experimental.list"
    chroot "$root" apt-get -o Acquire::Check-Valid-Until=false update -qq
    DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get -o Acquire::Check-Valid-Until=false install -y -qq \
        --no-install-recommends -t experimental podman >/dev/null
    rm "$root/etc/apt/sources.list.d/experimental.list"
    # Podman's Ignition disables Fedora CoreOS's zincati.service. Debian's ignition does that with systemctl
    # disable, which sid's systemd (262) fails for a unit that does not exist, and the files stage with it (seen
    # in the first 6.1.1 boot): a stand-in that does nothing lets it be disabled.
    printf '%s\n' '[Unit]' 'Description=Stand-in for Fedora CoreOS zincati (podman disables it)' '' '[Service]' \
        'Type=oneshot' 'ExecStart=/bin/true' '' '[Install]' 'WantedBy=multi-user.target' \
        >"$root/etc/systemd/system/zincati.service"
    # Debian's podman 6.1.1 depends on netavark with no version and gets sid's 1.17, which cannot read the
    # network options podman 6 hands it ("failed to load network options: invalid type: sequence, expected a
    # map": podman 6 needs netavark 2, which Debian does not have). podman machine's Ignition gives the
    # machine's user netns="bridge", which runs netavark; in this guest an override makes the default pasta,
    # for podman's services (systemd's default environment, system and user) and for SSH sessions
    # (pam_env). Published ports still reach the host: podman exposes them in gvproxy either way.
    printf '%s\n' '# machinist test guest: see scripts/machine-image/build.sh' '[containers]' 'netns = "pasta"' \
        >"$root/etc/containers/machinist-netns.conf"
    for manager in system user; do
        mkdir -p "$root/etc/systemd/$manager.conf.d"
        printf '%s\n' "[Manager]" "DefaultEnvironment=CONTAINERS_CONF_OVERRIDE=/etc/containers/machinist-netns.conf" \
            >"$root/etc/systemd/$manager.conf.d/machinist-netns.conf"
    done
    echo 'CONTAINERS_CONF_OVERRIDE=/etc/containers/machinist-netns.conf' >>"$root/etc/environment"
    # dracut's generic initramfs (24 MB) brings up systemd, udev and every storage driver before the real
    # root's own: 9 s of each boot under software emulation. The root is ext4 (built into the kernel) on
    # podman's virtio disk, so the initramfs needs only virtio_blk, udev and the root mount: 14 MB, about
    # 2 s faster per boot (measured on podman 6.1.1's machine start, 38.7 s and 36.3 s against 42.8 s and
    # 40.3 s). It stays generic (not host-only): it is built in a chroot, for another machine.
    mkdir -p "$root/etc/dracut.conf.d"
    printf '%s\n' '# machinist test guest: see scripts/machine-image/build.sh' 'hostonly="no"' \
        'dracutmodules=" systemd systemd-initrd base udev-rules rootfs-block fs-lib "' 'drivers=" virtio_blk "' \
        'filesystems=" ext4 "' 'early_microcode="no"' >"$root/etc/dracut.conf.d/machinist.conf"
fi
chroot "$root" /bin/bash -euc '
    systemctl enable systemd-networkd.service podman-machine-firstboot.service podman-machine-growroot.service ssh.service
    systemctl mask systemd-firstboot.service systemd-networkd-wait-online.service
    if [ -e /lib/systemd/system/sshd-keygen.service ]; then systemctl mask sshd-keygen.service; fi
    systemctl set-default multi-user.target
    # Each of these costs boot time under emulation and has no use in a podman machine.
    systemctl disable podman.service podman-restart.service podman-auto-update.service podman-auto-update.timer \
        apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service \
        fstrim.timer getty@tty1.service 2>/dev/null || true
    passwd -l root >/dev/null
    if command -v dracut >/dev/null; then dracut --force --regenerate-all >/dev/null 2>&1
    else update-initramfs -u -k all >/dev/null 2>&1; fi
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/*.log
    # What systemd would otherwise do at every machine'"'"'s first boot, because /usr looks newer than /etc and
    # /var (ldconfig, the journal catalog, systemd-update-done): done here once, and marked done.
    journalctl --update-catalog
    ldconfig
    touch -r /usr /etc/.updated /var/.updated
'
for m in dev/pts dev sys proc; do umount "$root/$m"; done
guest_podman=$(chroot "$root" dpkg-query -W -f='${Version}' podman)

log "[3/4] pack a bootable disk ($((SECONDS - start))s so far)"
raw=$work/disk.raw
truncate -s 3G "$raw"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$raw"
loop=$(losetup -f --show -o $((2048 * 512)) "$raw")
mkfs.ext4 -q -L podman-root -O ^64bit "$loop"
mount "$loop" "$work/mnt"
tar -C "$root" --numeric-owner --xattrs --acls -cf - . | tar -C "$work/mnt" --numeric-owner --xattrs --acls -xpf -
kernel=$(ls "$work/mnt/lib/modules" | sort -V | tail -n1)
mkdir -p "$work/mnt/boot/extlinux"
cat >"$work/mnt/boot/extlinux/extlinux.conf" <<EOF
DEFAULT debian
TIMEOUT 0
PROMPT 0
LABEL debian
  LINUX /boot/vmlinuz-$kernel
  INITRD /boot/initrd.img-$kernel
  APPEND root=LABEL=podman-root rw console=tty0 console=ttyS0,115200 quiet systemd.show_status=1
EOF
extlinux --install "$work/mnt/boot/extlinux" >/dev/null 2>&1
umount "$work/mnt"
losetup -d "$loop"
loop=
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$raw" bs=440 count=1 conv=notrunc status=none

log "[4/4] compress to qcow2 ($((SECONDS - start))s so far)"
qemu-img convert -c -O qcow2 "$raw" "$image.partial"
chmod 0644 "$image.partial"
mv "$image.partial" "$image"
rm -rf --one-file-system "$work"
for old in "$images/podman-machine-$suite"-*.x86_64.qcow2; do [ "$old" = "$image" ] || rm -f "$old"; done
ln -sfn "$(basename "$image")" "$link"
log "machine image $suite built in $((SECONDS - start))s: $image ($(du -h "$image" | cut -f1)), podman $guest_podman"
echo "$link"

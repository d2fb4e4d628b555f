#!/usr/bin/env bash
# A fleet of test laptops on this host, for the fleet job: each laptop is a network namespace with its
# own address on a bridge, its own OpenSSH server, its own unprivileged user and the host's podman.
#
#   sudo scripts/lib/laptops.sh up N       N laptops, fresh (their users' homes and machines are reset)
#   sudo scripts/lib/laptops.sh down       every laptop's processes, namespaces and the bridge gone
#
# Laptop I (1..N) is the namespace and the user mlapII (two digits), at 10.231.0.(10+I). Each sshd admits
# only its own user, with the fleet's key, and sets that user's XDG_RUNTIME_DIR (there is no logind here).
# `up` writes $MACHINIST_SHARE/laptops/hosts (NAME ADDRESS USER per line) and the fleet's private key,
# readable by the test user, who runs the fleet job. A laptop whose PATH lacks podman: LAPTOP_NO_PODMAN=I.
#
# Test harness only: the collection does none of this to a laptop.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
require_root "$@"

dir=$MACHINIST_SHARE/laptops
state=$MACHINIST_CACHE/laptops
bridge=mlapbr0
net=10.231.0

name_of() { printf 'mlap%02d' "$1"; }

down() {
    local ns u
    for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^mlap[0-9][0-9]$/ {print $1}'); do
        # Everything a laptop runs (its sshd, podman's qemu and gvproxy) runs in its namespace.
        ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    done
    for u in $(getent passwd | awk -F: '$1 ~ /^mlap[0-9][0-9]$/ {print $1}'); do
        pkill -u "$u" 2>/dev/null || true
    done
    sleep 0.5
    for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^mlap[0-9][0-9]$/ {print $1}'); do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns delete "$ns"
    done
    ! ip link show "$bridge" >/dev/null 2>&1 || ip link delete "$bridge"
}

wait_port() {  # wait_port NS ADDRESS
    local _try
    for _try in $(seq 1 50); do
        ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/22" 2>/dev/null && return 0
        sleep 0.1
    done
    die "the sshd of $1 did not come up; its log: $dir/$1/sshd.log"
}

up() {
    local n=$1 i ns user addr home
    down
    install -d -m 0755 "$state"
    rm -rf "$dir"
    install -d -m 0755 "$dir"
    # One host key for every laptop's sshd and one client key for the fleet, made once and cached.
    [ -s "$state/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C machinist-laptop -f "$state/ssh_host_ed25519_key"
    [ -s "$state/fleet_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C machinist-fleet -f "$state/fleet_ed25519"
    install -m 0644 "$state/fleet_ed25519.pub" "$state/authorized_keys"
    install -m 0600 -o "$MACHINIST_USER" "$state/fleet_ed25519" "$dir/fleet_ed25519"
    # A PATH without podman, for the laptop that has none: every other command of /usr/bin.
    install -d -m 0755 "$dir/bin-no-podman"
    find /usr/bin -maxdepth 1 \( -type f -o -type l \) ! -name podman -exec ln -s {} "$dir/bin-no-podman/" \;
    install -d -m 0755 /run/sshd

    ip link add "$bridge" type bridge
    ip addr add "$net.1/24" dev "$bridge"
    ip link set "$bridge" up
    : >"$dir/hosts"
    for i in $(seq 1 "$n"); do
        ns=$(name_of "$i")
        user=$ns
        addr=$net.$((10 + i))
        # A fresh user home each time: no machine, connection or key of an earlier run.
        if getent passwd "$user" >/dev/null; then
            home=$(getent passwd "$user" | cut -d: -f6)
            rm -rf --one-file-system "$home"
        else
            useradd -m -s /bin/bash "$user"
            home=$(getent passwd "$user" | cut -d: -f6)
        fi
        install -d -m 0750 -o "$user" -g "$user" "$home"
        # podman reads the subordinate ranges even for `podman machine`; useradd gives them to new users.
        grep -q "^$user:" /etc/subuid || usermod --add-subuids $((300000 + i * 65536))-$((300000 + i * 65536 + 65535)) \
            --add-subgids $((300000 + i * 65536))-$((300000 + i * 65536 + 65535)) "$user"
        usermod -p '*' "$user"
        # The harness's helper binaries (gvproxy, the qemu launcher) and no $HOME volume, as for the test user.
        install -d -o "$user" -g "$user" "$home/.config" "$home/.config/containers" "$home/.config/containers/containers.conf.d"
        install -o "$user" -g "$user" -m 0644 "$(getent passwd "$MACHINIST_USER" | cut -d: -f6)/.config/containers/containers.conf.d/50-machinist-harness.conf" \
            "$home/.config/containers/containers.conf.d/"
        install -d -m 0755 "$dir/$ns"
        install -d -m 0700 -o "$user" -g "$user" "$dir/$ns/run"

        ip netns add "$ns"
        ip link add "${ns}h" type veth peer name "${ns}g"
        ip link set "${ns}h" master "$bridge" up
        ip link set "${ns}g" netns "$ns"
        ip -n "$ns" link set lo up
        ip -n "$ns" link set "${ns}g" name eth0
        ip -n "$ns" addr add "$addr/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" route add default via "$net.1"

        {
            echo "ListenAddress $addr"
            echo "HostKey $state/ssh_host_ed25519_key"
            echo "PidFile $dir/$ns/sshd.pid"
            echo "AuthorizedKeysFile $state/authorized_keys"
            echo "AllowUsers $user"
            echo "PasswordAuthentication no"
            echo "KbdInteractiveAuthentication no"
            echo "UsePAM no"
            echo "AllowStreamLocalForwarding yes"
            echo "AllowTcpForwarding yes"
            echo "Subsystem sftp internal-sftp"
            if [ "${LAPTOP_NO_PODMAN:-}" = "$i" ]; then
                echo "SetEnv XDG_RUNTIME_DIR=$dir/$ns/run PATH=$dir/bin-no-podman"
            else
                echo "SetEnv XDG_RUNTIME_DIR=$dir/$ns/run"
            fi
        } >"$state/sshd_config-$ns"
        ip netns exec "$ns" /usr/sbin/sshd -f "$state/sshd_config-$ns" -E "$dir/$ns/sshd.log"
        printf '%s %s %s\n' "$ns" "$addr" "$user" >>"$dir/hosts"
    done
    for i in $(seq 1 "$n"); do wait_port "$(name_of "$i")" "$net.$((10 + i))"; done
    log "$n laptops up: $dir/hosts"
}

case ${1:-} in
    up) up "${2:?usage: laptops.sh up N}" ;;
    down) down ;;
    *) die "usage: laptops.sh up N | down" ;;
esac

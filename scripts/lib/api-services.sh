#!/usr/bin/env bash
# The real services the API modules' tests talk to, on loopback, for the test user:
#   - `podman system service` (Debian 12's podman) on a unix socket;
#   - an OpenSSH server on 127.0.0.1:$API_SSH_PORT with its own host key, admitting only the test
#     user's own test key, so the SSH transport (paramiko) runs for real, host key checked;
#   - gvproxy (Debian 13's) started with an API socket, as podman never starts it, for port_forward;
#   - a busybox root filesystem tarball and a docker-archive of it, for the image tests.
#
#   sudo scripts/lib/api-services.sh start    prints the integration_config.yml lines
#   sudo scripts/lib/api-services.sh stop
#
# Test harness only. The host's podman runs containers with runc: crun refuses this host's hybrid
# cgroup layout, and rootless networking without /dev/net/tun means started containers use the
# host network (containers with published ports are created, not started, on this host; real
# traffic through published ports is checked in a booted machine by the end-to-end suite).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
require_root "$@"
API_SSH_PORT=${API_SSH_PORT:-2222}
dir=$MACHINIST_SHARE/api
state=$MACHINIST_CACHE/api
home=$(getent passwd "$MACHINIST_USER" | cut -d: -f6)
uid=$(id -u "$MACHINIST_USER")

stop() {
    local f
    for f in podman gvproxy sshd; do
        if [ -s "$dir/$f.pid" ]; then
            kill "$(cat "$dir/$f.pid")" 2>/dev/null || true
            rm -f "$dir/$f.pid"
        fi
    done
    rm -f "$dir/podman.sock" "$dir/gvproxy.sock"
}

wait_for() {  # wait_for WHAT COMMAND...
    local what=$1 _try
    shift
    for _try in $(seq 1 50); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    echo "error: $what did not come up; its log: $dir/$what.log" >&2
    tail -5 "$dir/$what.log" >&2 || true
    return 1
}

start() {
    stop
    install -d -m 0755 "$state"
    install -d -m 0755 -o "$MACHINIST_USER" "$dir"
    install -d -o "$MACHINIST_USER" -m 0700 "$dir/user"

    # Keys: the server's host key (root's) and the test user's client key, made once and cached.
    [ -s "$state/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C machinist-test-sshd -f "$state/ssh_host_ed25519_key"
    [ -s "$dir/user/id_ed25519" ] || as_user ssh-keygen -q -t ed25519 -N '' -C machinist-test-client -f "$dir/user/id_ed25519"
    install -m 0644 "$dir/user/id_ed25519.pub" "$state/authorized_keys"
    printf '[127.0.0.1]:%s %s\n' "$API_SSH_PORT" "$(cut -d' ' -f1,2 "$state/ssh_host_ed25519_key.pub")" >"$dir/known_hosts"
    cat >"$state/sshd_config" <<EOF
Port $API_SSH_PORT
ListenAddress 127.0.0.1
HostKey $state/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $state/authorized_keys
AllowUsers $MACHINIST_USER
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
Subsystem sftp internal-sftp
EOF
    install -d -m 0755 /run/sshd
    /usr/sbin/sshd -f "$state/sshd_config" -E "$dir/sshd.log"
    wait_for sshd bash -c "exec 3<>/dev/tcp/127.0.0.1/$API_SSH_PORT"

    # podman's service, as the test user, with the runtime this host can run.
    as_user bash -c "podman --runtime runc system service --time=0 unix://$dir/podman.sock >$dir/podman.log 2>&1 & echo \$! >$dir/podman.pid"
    wait_for podman test -S "$dir/podman.sock"
    wait_for podman curl -sf --unix-socket "$dir/podman.sock" http://d/_ping

    as_user bash -c "$MACHINIST_BIN/host/gvproxy -listen unix://$dir/gvproxy.sock -ssh-port -1 >$dir/gvproxy.log 2>&1 & echo \$! >$dir/gvproxy.pid"
    wait_for gvproxy curl -sf --unix-socket "$dir/gvproxy.sock" http://g/services/forwarder/all

    # A busybox root filesystem, as a tarball `podman import` takes.
    if [ ! -s "$state/busybox-rootfs.tar" ]; then
        local fs
        fs=$(mktemp -d)
        install -d "$fs/bin" "$fs/www"
        cp /bin/busybox "$fs/bin/busybox"
        for a in sh httpd sleep echo cat ls uname wget nc true; do ln -s busybox "$fs/bin/$a"; done
        echo 'hello from machinist' >"$fs/www/index.html"
        tar -C "$fs" -cf "$state/busybox-rootfs.tar.tmp" . && mv "$state/busybox-rootfs.tar.tmp" "$state/busybox-rootfs.tar"
        rm -rf "$fs"
    fi
    install -m 0644 "$state/busybox-rootfs.tar" "$dir/busybox-rootfs.tar"

    cat <<EOF
api_podman_socket: $dir/podman.sock
api_ssh_url: ssh://$MACHINIST_USER@127.0.0.1:$API_SSH_PORT$dir/podman.sock
api_ssh_identity: $dir/user/id_ed25519
api_known_hosts: $dir/known_hosts
api_ssh_host_key: "$(cut -d' ' -f1,2 "$state/ssh_host_ed25519_key.pub")"
api_gvproxy_socket: $dir/gvproxy.sock
api_busybox_rootfs: $dir/busybox-rootfs.tar
api_host_uid: $uid
api_home: $home
EOF
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    *) die "usage: api-services.sh start|stop" ;;
esac

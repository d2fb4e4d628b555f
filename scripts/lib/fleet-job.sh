#!/usr/bin/env bash
# The fleet playbook run the way AWX runs a job: ansible-runner, as an unprivileged user, runs it inside the
# execution environment (rootless podman) against laptops reached over SSH (scripts/lib/laptops.sh).
#
#   sudo scripts/lib/fleet-job.sh prepare N IMAGE [BOOT]   N laptops and a private data directory for ansible-runner
#   sudo scripts/lib/fleet-job.sh run IDENT [FORKS [PLAYBOOK]]
#                                                         one job (PLAYBOOK: a file put in its project, else the
#                                                         fleet); prints the artifacts folder on its last line
#
# The private data directory ($MACHINIST_SHARE/fleet-job) is what AWX hands ansible-runner: project/ with the
# playbook, inventory/, env/ssh_key (the fleet's key, which ansible-runner loads into an ssh-agent in the
# container), env/settings (the image and the container options). The inventory holds N laptops and one more
# that is unreachable. With N of 3 or more, laptop 2 has no podman and laptop 3's machine exists with a larger
# disk than the inventory asks for (a change that must be refused); every other even laptop's machine exists
# with 1 CPU where the inventory asks for 2 (a change to make). With BOOT=1, laptop 1's machine runs (the
# harness's booted image) with a forward; all the other machines are stopped, on an empty disk image.
# Each job writes the fleet report into its artifacts folder (fleet-report.json).
#
# Test harness only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/common.sh"
require_root "$@"

pdd=$MACHINIST_SHARE/fleet-job
laptops=$MACHINIST_SHARE/laptops
forward_port=18622

as_laptop() {  # as_laptop USER COMMAND...: as that laptop's user, with what its sshd would set
    local user=$1 home
    shift
    home=$(getent passwd "$user" | cut -d: -f6)
    runuser -u "$user" -- env -i HOME="$home" USER="$user" LOGNAME="$user" PATH=/usr/local/bin:/usr/bin:/bin \
        LANG=C.UTF-8 XDG_RUNTIME_DIR="$laptops/$user/run" "$@"
}

prepare() {
    local n=$1 image=$2 boot=${3:-0} name addr user i tiny booted
    [ "$n" -ge 1 ] || die "prepare: at least one laptop"
    LAPTOP_NO_PODMAN=$([ "$n" -ge 3 ] && echo 2 || echo none) bash "$here/laptops.sh" up "$n"
    tiny=$laptops/empty.qcow2
    qemu-img create -q -f qcow2 "$tiny" 8G
    chmod 0644 "$tiny"
    booted=$MACHINIST_CACHE/images/podman-machine-bookworm.x86_64.qcow2
    [ "$boot" = 0 ] || [ -s "$booted" ] || die "no booted image at $booted: scripts/setup.sh --no-run makes it"

    # Machines that exist before the job: one whose disk the inventory would shrink, some with fewer CPUs.
    for i in $(seq 3 "$n"); do
        user=$(printf 'mlap%02d' "$i")
        if [ "$i" = 3 ]; then
            as_laptop "$user" podman machine init --image-path "$tiny" --disk-size 12 --cpus 2 --memory 1536 --timezone UTC >/dev/null
        elif [ $((i % 2)) = 0 ]; then
            as_laptop "$user" podman machine init --image-path "$tiny" --disk-size 10 --cpus 1 --memory 1536 --timezone UTC >/dev/null
        fi
    done

    rm -rf "$pdd"
    install -d -o "$MACHINIST_USER" -m 0700 "$pdd"
    install -d -o "$MACHINIST_USER" "$pdd/project" "$pdd/inventory" "$pdd/env"
    install -o "$MACHINIST_USER" -m 0644 "$repo/tests/fleet/site.yml" "$pdd/project/site.yml"
    install -o "$MACHINIST_USER" -m 0600 "$laptops/fleet_ed25519" "$pdd/env/ssh_key"
    {
        echo "---"
        echo "laptops:"
        echo "  vars:"
        echo "    ansible_python_interpreter: /usr/bin/python3"
        echo "    machine_install: false"
        echo "    machine_require_virtualization: false"
        echo "    machine_state: stopped"
        echo "    machine_image: $tiny"
        echo "    machine_cpus: 2"
        echo "    machine_memory: 1536"
        echo "    machine_disk_size: 10"
        # No systemd here: podman 4.3.1 asks timedatectl for the timezone when none is given.
        echo "    machine_timezone: UTC"
        echo "  hosts:"
        while read -r name addr user; do
            echo "    $name:"
            echo "      ansible_host: $addr"
            echo "      ansible_user: $user"
            if [ "$name" = mlap01 ] && [ "$boot" = 1 ]; then
                echo "      machine_state: started"
                echo "      machine_image: $booted"
                echo "      laptop_forwards: [{host_port: $forward_port, guest_port: 22}]"
            fi
        done <"$laptops/hosts"
        # A laptop that is off: nothing answers at its address.
        echo "    mlap-off:"
        echo "      ansible_host: 10.231.0.250"
        echo "      ansible_user: mlap-off"
    } >"$pdd/inventory/hosts.yml"
    # As AWX sets for a job: no host key prompts (AWX's default). The connection timeout is shortened, and
    # ANSIBLE_SSH_ARGS is left alone, so that each laptop's SSH connection is opened once and reused (ControlPersist).
    printf '%s\n' --- 'ANSIBLE_HOST_KEY_CHECKING: "False"' 'ANSIBLE_NOCOLOR: "1"' 'ANSIBLE_TIMEOUT: "5"' \
        >"$pdd/env/envvars"
    # Rootless podman here runs containers with runc (crun refuses this host's hybrid cgroups) on the host's
    # network (no /dev/net/tun for a rootless network); the laptops' bridge is reached through it. The job runs
    # as the container's root, which rootless podman maps to the job's own user, who owns the private data folder.
    printf '%s\n' --- 'process_isolation: true' 'process_isolation_executable: podman' "container_image: $image" \
        'container_options: ["--network=host", "--runtime=runc", "--user=root"]' >"$pdd/env/settings"
    chown -R "$MACHINIST_USER" "$pdd"
}

run() {
    local ident=$1 forks=${2:-5} playbook=${3:-} rc=0
    rm -rf "$pdd/artifacts/$ident"
    if [ -n "$playbook" ]; then
        install -o "$MACHINIST_USER" -m 0644 "$playbook" "$pdd/project/$(basename "$playbook")"
        playbook=$(basename "$playbook")
    fi
    as_user "$MACHINIST_VENV/bin/ansible-runner" run "$pdd" -p "${playbook:-site.yml}" --ident "$ident" --forks "$forks" \
        --cmdline "-e fleet_report_file=/runner/artifacts/$ident/fleet-report.json" >"$MACHINIST_SHARE/logs/fleet-job-$ident.log" 2>&1 ||
        rc=$?
    echo "ansible-runner exited $rc; artifacts:"
    echo "$pdd/artifacts/$ident"
}

case ${1:-} in
    prepare) prepare "${2:?usage: fleet-job.sh prepare N IMAGE [BOOT]}" "${3:?image}" "${4:-0}" ;;
    run) run "${2:?usage: fleet-job.sh run IDENT [FORKS [PLAYBOOK]]}" "${3:-5}" "${4:-}" ;;
    *) die "usage: fleet-job.sh prepare N IMAGE [BOOT] | run IDENT [FORKS [PLAYBOOK]]" ;;
esac

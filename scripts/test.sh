#!/usr/bin/env bash
# Runs every test of the collection. Run as root (a user with sudo may run it too: it asks sudo
# itself). It first makes sure the set-up is in place
# (scripts/setup.sh --no-run, quick once cached), then runs the tests, podman ones as the
# unprivileged test user.
#
#   scripts/test.sh              everything
#   scripts/test.sh unit         only the unit tests (also: build, sanity, docs, integration, api, images, e2e, fleet)
#   scripts/test.sh unit sanity  several suites
#   PODMANS=host scripts/test.sh integration    integration against Debian 12's podman only
#
# One suite followed by arguments passes them on:
#   scripts/test.sh unit -k plan                  to pytest (a test file, -k, -x, ...)
#   scripts/test.sh sanity --test pep8            to ansible-test sanity
#   PODMANS=host scripts/test.sh integration podman_machine    only these integration targets
#   CONTROLLERS=2.21 CONTROLLER_PARTS=sanity scripts/test.sh controllers    one release, one part
#
# The collection is built from the checkout as it is (ansible-galaxy) and installed from the tarball
# before any suite runs; every test runs against that installed copy. The last line counts the suites:
# "N passed, N failed". Without root, scripts/unit.sh runs the unit tests on the checkout itself.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/common.sh"
require_root "$@"
known=" build unit sanity docs integration controllers api images e2e fleet "
args=()
if [ $# -gt 1 ] && [[ "$known" == *" $1 "* ]] && [[ "$known" != *" $2 "* ]]; then
    suites=$1
    args=("${@:2}")
else
    suites=${*:-build unit sanity docs integration controllers api images e2e fleet}
fi
# podman 6.1 (the experimental root filesystem) runs its integration targets under ansible-core 2.21, inside
# that root filesystem (the controllers suite), rather than here under 2.19 as well.
PODMANS=${PODMANS:-host trixie sid}

bash "$repo/scripts/setup.sh" --no-run || die "set-up failed"

work=$MACHINIST_SHARE/work
collections=$work/collections
collection=$collections/ansible_collections/machinist/podman
# The controllers' suite runs in a copy of its own, installed from the same tarball, so that it can run
# beside another suite (each ansible-test writes its own integration_config.yml and tests/output there).
controllers_collection=$work/collections-controllers/ansible_collections/machinist/podman
passed=0
failed=0
failures=()
suite() {
    local name=$1
    shift
    log "$name"
    local start=$SECONDS
    if "$@"; then
        passed=$((passed + 1))
        echo "PASS $name ($((SECONDS - start))s)"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "FAIL $name ($((SECONDS - start))s)"
    fi
}

# The README's two commands work as written on a fresh Debian 12 as root, where there is no sudo: neither
# starts with sudo, and the second is what .ci/run runs. A user who is not root, on a host without sudo,
# is told how instead of "sudo: command not found".
readme_commands() {
    local cmds bin out rc=0
    cmds=$(awk '/^## Two commands/ {s = 1} s && /^```$/ && b {exit} b {print} s && /^```bash$/ {b = 1}' "$repo/README.md" |
        sed 's/ *#.*//')
    [ "$(grep -c . <<<"$cmds")" = 2 ] || { echo "README: the two commands are not two lines: $cmds"; return 1; }
    ! grep -q '^sudo' <<<"$cmds" || { echo "README: a command starts with sudo, which a fresh Debian lacks"; return 1; }
    grep -q "$(sed -n 2p <<<"$cmds")" "$repo/.ci/run" || { echo ".ci/run does not run the README's test command"; return 1; }
    bin=$(mktemp -d)
    for p in bash dirname id cat; do ln -s "$(command -v $p)" "$bin/$p"; done
    chmod 755 "$bin"
    out=$(runuser -u "$MACHINIST_USER" -- env -i PATH="$bin" bash "$repo/$(sed -n 1p <<<"$cmds" | cut -d' ' -f1)" 2>&1) || rc=$?
    rm -rf "$bin"
    if [ "$rc" != 1 ] || ! grep -q 'run it as root' <<<"$out"; then
        echo "a user without root or sudo was not told to run the set-up as root (rc $rc): $out"
        return 1
    fi
}

# bind_fresh (scripts/lib/common.sh) binds anew a folder that was removed and made again since it was bound:
# run_at's chroots saw an empty, removed shared folder after /var/tmp was cleared, and failed to cd into it.
# Checked in a mount namespace of its own, so nothing of it outlives the check.
bind_fresh_check() {
    local d out rc=0
    d=$(mktemp -d)
    # shellcheck disable=SC2016 # the inner shell's own arguments
    out=$(unshare -m --propagation private bash -c '. "$1" && d=$2 && mkdir "$d/folder" &&
        bind_fresh "$d/folder" "$d/root/folder" && rm -rf "$d/folder" && mkdir "$d/folder" && touch "$d/folder/new" &&
        bind_fresh "$d/folder" "$d/root/folder" && ls "$d/root/folder"' sh "$repo/scripts/lib/common.sh" "$d" 2>&1) || rc=$?
    rm -rf "$d"
    if [ "$rc" != 0 ] || [ "$out" != new ]; then
        echo "bind_fresh left a bind of a removed folder standing (rc $rc): $out"
        return 1
    fi
}

build() {
    readme_commands || return 1
    bind_fresh_check || return 1
    install_collection "$repo" "$work" "$work/collections" || return 1
    # The execution environment's definition must give ansible-builder a build context (the fleet suite
    # builds the image itself and runs a job in it).
    local ctx=$work/ee-context
    rm -rf "$ctx"
    as_user "$MACHINIST_VENV/bin/ansible-builder" create -f "$collection/execution-environment/execution-environment.yml" \
        -c "$ctx" >/dev/null || return 1
    if ! grep -q 'ansible-galaxy collection install' "$ctx/Containerfile" ||
        ! grep -q 'machinist.podman' "$ctx/_build/requirements.yml" ||
        ! grep -q 'ansible-core==' "$ctx/Containerfile"; then
        echo "the execution environment's build context lacks the collection install or ansible-core"
        return 1
    fi
}

# The execution environment, built with ansible-builder from the tarball every suite tests (or reused when
# nothing it is made of changed); in the background from the start when the fleet suite is asked for, as it
# mostly waits on the network and the disk.
ee_pid=
ee_start() {
    rm -f "$MACHINIST_SHARE/logs/ee-build.status"
    background_job ee-build bash "$repo/scripts/lib/ee.sh" "$(ls "$work"/machinist-podman-*.tar.gz)" &
    ee_pid=$!
}
# ee_wait: until the build has written its result. The fleet may run in a lane, a subshell, which cannot wait for
# the main shell's child.
ee_wait() {
    local waited=0
    until [ -s "$MACHINIST_SHARE/logs/ee-build.status" ]; do
        [ "$waited" -lt 3600 ] || { echo "the execution environment's build wrote no result within an hour"; return 1; }
        sleep 2
        waited=$((waited + 2))
    done
}

# The fleet playbook run the way AWX runs a job: ansible-runner runs it inside the execution environment
# against FLEET_LAPTOPS laptops (network namespaces with sshd, each its own user and the host's podman), one
# of them booted with a forward, one without podman, one whose change must be refused and one that is off;
# then again, changing nothing. tests/fleet/check.py reads ansible-runner's artifacts after each job.
fleet() {
    local n=${FLEET_LAPTOPS:-20} image ident rc=0 artifacts
    [ -n "$ee_pid" ] || ee_start
    ee_wait || return 1
    background_result ee-build || return 1
    image=$(tail -n 1 "$MACHINIST_SHARE/logs/ee-build.log")
    bash "$repo/scripts/lib/fleet-job.sh" prepare "$n" "$image" 1 || return 1
    for ident in first again; do
        artifacts=$(bash "$repo/scripts/lib/fleet-job.sh" run "$ident" 5 | tail -n 1)
        echo "fleet job $ident ($artifacts):"
        "$MACHINIST_VENV/bin/python" "$repo/tests/fleet/check.py" "$artifacts" "$ident" "$n" 1 || {
            rc=1
            tail -n 40 "$artifacts/stdout"
        }
    done
    bash "$repo/scripts/lib/laptops.sh" down
    return $rc
}

# The docs site (antsibull-docs and Sphinx): every module, plugin and role has its page.
docs() {
    bash "$repo/scripts/docs.sh" "$MACHINIST_SHARE/docs"
}

unit() {
    # The ignition tests check every config with the real ignition-validate: here it must be there.
    # Arguments are pytest's, relative to the collection's root (tests/unit/... as in the checkout).
    local what=("$@")
    [ ${#what[@]} -gt 0 ] || what=(tests/unit)
    # Hypothesis keeps its examples outside the collection, which the sanity suite checks file by file.
    (cd "$collection" && as_user env PYTHONPATH="$collections" PYTHONDONTWRITEBYTECODE=1 \
        HYPOTHESIS_STORAGE_DIRECTORY="$MACHINIST_SHARE/tmp/hypothesis" MACHINIST_REQUIRE_IGNITION_VALIDATE=1 \
        "$MACHINIST_VENV/bin/python" -m pytest -p no:cacheprovider -q "${what[@]}")
}

sanity() {
    # No ignore file: every sanity test must pass as it is. ansible-test installs each test's pinned
    # tools into its own virtual environments under the test user's home, and keeps them there.
    [ ! -e "$collection/tests/sanity" ] || { echo "tests/sanity/ must not exist: no ignore entries"; return 1; }
    (cd "$collection" && as_user "$MACHINIST_VENV/bin/ansible-test" sanity --local --python 3.11 --color no "$@") || return 1
    # Style the sanity tests do not check (ruff.toml): unused and undefined names, the import order.
    # The collection's files as installed, and the harness's scripts as checked out (the tarball has none).
    (cd "$collection" && as_user "$MACHINIST_VENV/bin/ruff" check --no-cache plugins tests) || return 1
    "$MACHINIST_VENV/bin/ruff" check --no-cache --config "$repo/ruff.toml" "$repo/scripts" "$repo/benchmarks" || return 1
    # Roles, playbooks and Molecule scenarios with ansible-lint's production profile (.ansible-lint).
    install -o "$MACHINIST_USER" -m 0644 "$repo/.ansible-lint" "$collection/.ansible-lint"
    (cd "$collection" && as_user env ANSIBLE_COLLECTIONS_PATH="$collections" NO_COLOR=1 \
        "$MACHINIST_VENV/bin/ansible-lint" --nocolor roles playbooks extensions/molecule)
}

# Only one machine may run at a time: stop the test user's running machines (the main job's, say)
# before the end-to-end tests boot theirs. Nothing is removed.
stop_running() {
    local exe=podman m
    [ "$1" = host ] || exe=$MACHINIST_BIN/podman-$1
    for m in $(as_user "$exe" machine list --format '{{if .Running}}{{.Name}}{{end}}' 2>/dev/null); do
        # podman's list marks the default connection's machine with a '*' after its name
        m=${m%\*}
        log "stopping the test user's running machine $m (podman $1) for the end-to-end tests"
        as_user "$exe" machine stop "$m" >/dev/null
    done
}

# The machine OS image whose podman matches the client's: Debian 12's for 4.3.1, Debian 13's for 5.x,
# sid with experimental's podman for 6.1.
guest_of() {
    case $1 in
        host) echo bookworm ;;
        experimental) echo experimental ;;
        *) echo trixie ;;
    esac
}

# integration LABEL TARGET...: run targets against one podman (host: Debian 12's; else a root filesystem's).
integration() {
    local label=$1 exe=podman root='' image
    shift
    [ "$label" = host ] || { exe=$MACHINIST_BIN/podman-$label; root=$(readlink -f "$MACHINIST_CACHE/rootfs/$label"); }
    image=$MACHINIST_CACHE/images/podman-machine-$(guest_of "$label").x86_64.qcow2
    # On a local connection podman_machine and podman_machine_info take the controller-side path unless told
    # not to: these runs keep to the module unless EXTRA_CONFIG asks for that path, so both stay tested (the
    # playbooks target runs the default through ansible-playbook).
    local side='machinist_podman_controller_side: false'
    case ${EXTRA_CONFIG:-} in *machinist_podman_controller_side:*) side= ;; esac
    with_config "$collection" as_user env -C "$collection" "$MACHINIST_VENV/bin/ansible-test" integration --local \
        --python 3.11 --allow-destructive --color no "$@" <<EOF
---
podman_executable: $exe
podman_label: $label
podman_root: "$root"
machine_image: $image
machinist_share: $MACHINIST_SHARE
$side
${EXTRA_CONFIG:-}
EOF
}

# with_config COLLECTION COMMAND...: COMMAND, with standard input as COLLECTION's integration_config.yml for the
# time it runs. Blank lines (where a setting is empty) are dropped, as yamllint refuses them, and the file goes
# with the run that needed it: a sanity run later in the same copy of the collection checks every file there.
with_config() {
    local config=$1/tests/integration/integration_config.yml rc=0
    shift
    sed '/^$/d' >"$config" && chown "$MACHINIST_USER" "$config" || return 1
    "$@" || rc=$?
    rm -f "$config"
    return $rc
}

# The API modules against real services on loopback: podman's service, sshd, gvproxy.
api() {
    local config rc=0
    config=$(bash "$repo/scripts/lib/api-services.sh" start) || { bash "$repo/scripts/lib/api-services.sh" stop; return 1; }
    EXTRA_CONFIG=$config integration host container port_forward || rc=$?
    # The workload role's Molecule scenario (converge, idempotence, verify) against the same services.
    setting() { sed -n "s/^$1: //p" <<<"$config"; }
    (cd "$collection/extensions" && as_user env NO_COLOR=1 ANSIBLE_COLLECTIONS_PATH="$collections" \
        MACHINIST_API_SOCKET="$(setting api_podman_socket)" MACHINIST_GVPROXY_SOCKET="$(setting api_gvproxy_socket)" \
        MACHINIST_BUSYBOX_ROOTFS="$(setting api_busybox_rootfs)" molecule test -s workload) || rc=$?
    bash "$repo/scripts/lib/api-services.sh" stop
    return $rc
}

# The machine and machine_os roles in a booted machine: qemu-user-static from a loopback apt
# repository (scripts/lib/foreign-arch.sh), then an arm64 container. The guest reaches the host's
# loopback at 192.168.127.254 through gvproxy.
# roles_e2e LABEL PATH RELEASE: the roles' scenario in a booted machine of podman LABEL, the machine modules
# running on the target (PATH module) or on the controller through the connection (PATH controller), under
# ansible-core RELEASE: 2.19 is the main environment; 2.17 and 2.21 are the controllers' (scripts/lib/controller.sh),
# 2.21 inside the experimental root filesystem, whose own podman (6.1.1) it then runs.
roles_e2e() {
    local label=$1 path=$2 release=$3 exe=podman apt=bookworm port=18770 root='' where=host venv=$MACHINIST_VENV
    local fa pid rc=0 image
    image=$MACHINIST_CACHE/images/podman-machine-$(guest_of "$label").x86_64.qcow2
    # The foreign-arch repository has bookworm and trixie; trixie's qemu-user-static installs in the sid guest.
    [ "$label" = host ] || apt=trixie
    if [ "$release" != 2.19 ]; then
        read -r where venv < <(bash "$repo/scripts/lib/controller.sh" "$release" | tail -n 1) || return 1
        [ -n "$venv" ] || return 1
    fi
    if [ "$where" = host ] && [ "$label" != host ]; then
        exe=$MACHINIST_BIN/podman-$label
        root=$(readlink -f "$MACHINIST_CACHE/rootfs/$label")
    elif [ "$where" != host ] && [ "$where" != "$label" ]; then
        echo "roles_e2e: ansible-core $release runs in the $where root filesystem, whose podman is not $label"
        return 1
    fi
    fa=$(bash "$repo/scripts/lib/foreign-arch.sh" | tail -1) || return 1
    # Where a root filesystem sees it too.
    install -o "$MACHINIST_USER" -m 0644 "$fa/busybox-arm64-rootfs.tar" "$MACHINIST_SHARE/tmp/busybox-arm64-rootfs.tar"
    stop_running "$label"
    python3 -m http.server --bind 127.0.0.1 --directory "$fa/apt" "$port" >"$MACHINIST_SHARE/logs/apt-server.log" 2>&1 &
    pid=$!
    run_at "$collection/extensions" "$where" "$venv" env NO_COLOR=1 ANSIBLE_COLLECTIONS_PATH="$collections" \
        MACHINIST_PODMAN="$exe" MACHINIST_PODMAN_ROOT="$root" MACHINIST_MACHINE_DIR="$MACHINIST_SHARE/tmp" \
        MACHINIST_MACHINE_IMAGE="$image" MACHINIST_FOREIGN_APT="http://192.168.127.254:$port/$apt" \
        MACHINIST_FOREIGN_ROOTFS="$MACHINIST_SHARE/tmp/busybox-arm64-rootfs.tar" \
        MACHINIST_CONTROLLER_SIDE="$([ "$path" = controller ] && echo true || echo false)" \
        molecule test -s machine || rc=$?
    kill "$pid" 2>/dev/null || true
    return $rc
}

# run_at DIR WHERE VENV COMMAND...: as the test user in DIR, with VENV's programs first on PATH; WHERE is
# host, or a podman root filesystem (its own podman, its own Python), which gets the shared folder and the
# machine images at the same paths, as enter-rootfs does. DIR must be under the shared folder.
run_at() {
    local dir=$1 where=$2 venv=$3 root uid gid m
    shift 3
    if [ "$where" = host ]; then
        (cd "$dir" && as_user env PATH="$venv/bin:/usr/local/bin:/usr/bin:/bin" "$@")
        return
    fi
    root=$(readlink -f "$MACHINIST_CACHE/rootfs/$where")
    # /dev/shm too: ansible-playbook's multiprocessing needs it.
    for m in proc sys dev dev/pts dev/shm "${MACHINIST_SHARE#/}" "${MACHINIST_CACHE#/}/images"; do
        bind_fresh "/$m" "$root/$m" || return 1
    done
    mount -o remount,bind,ro "$root$MACHINIST_CACHE/images" 2>/dev/null || true
    uid=$(id -u "$MACHINIST_USER")
    gid=$(id -g "$MACHINIST_USER")
    install -d -o "$uid" -g "$gid" -m 0700 "$MACHINIST_SHARE/run-$where"
    # shellcheck disable=SC2016 # the inner shell's own arguments
    chroot --userspec="$uid:$gid" "$root" /usr/bin/env -i HOME="/home/$MACHINIST_USER" USER="$MACHINIST_USER" \
        LOGNAME="$MACHINIST_USER" PATH="$venv/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 \
        XDG_RUNTIME_DIR="$MACHINIST_SHARE/run-$where" TMPDIR="$MACHINIST_SHARE/tmp" \
        ${CI:+CI=$CI} /bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$dir" "$@"
}
# run_in WHERE VENV COMMAND...: run_at the controllers' copy of the collection.
run_in() { run_at "$controllers_collection" "$@"; }

# controller RELEASE: ansible-core RELEASE as the controller (scripts/lib/controller.sh): the unit
# tests, that release's own ansible-test sanity (no ignore file), and the integration targets of
# podman_machine, podman_machine_info and ignition_config on the module path and the controller-side path.
# 2.17 (the floor requires_ansible states) runs on Debian 12's Python against podman 5.8.6 (the sid root
# filesystem); 2.21 runs inside the experimental root filesystem, on its Python, against its podman 6.1.1.
controller() {
    local release=$1 where venv python label exe root='' p side collection=$controllers_collection
    # CONTROLLER_PARTS="unit sanity" runs only those parts.
    local parts
    copy_install controllers || return 1
    read -ra parts <<<"${CONTROLLER_PARTS:-unit sanity integration}"
    read -r where venv < <(bash "$repo/scripts/lib/controller.sh" "$release" | tail -n 1) || return 1
    [ -n "$venv" ] || return 1
    python=$(run_in "$where" "$venv" python -c 'import sys; print("%d.%d" % sys.version_info[:2])') || return 1
    run_in "$where" "$venv" ansible --version | head -n 1
    for p in "${parts[@]}"; do
        case $p in
            unit)
                run_in "$where" "$venv" env PYTHONPATH="$work/collections-controllers" PYTHONDONTWRITEBYTECODE=1 \
                    HYPOTHESIS_STORAGE_DIRECTORY="$MACHINIST_SHARE/tmp/hypothesis-$release" \
                    MACHINIST_REQUIRE_IGNITION_VALIDATE=1 python -m pytest -p no:cacheprovider -q tests/unit || return 1 ;;
            sanity)
                [ ! -e "$collection/tests/sanity" ] || { echo "tests/sanity/ must not exist: no ignore entries"; return 1; }
                run_in "$where" "$venv" ansible-test sanity --local --python "$python" --color no || return 1 ;;
            integration)
                if [ "$where" = host ]; then
                    label=sid exe=$MACHINIST_BIN/podman-sid root=$(readlink -f "$MACHINIST_CACHE/rootfs/sid")
                else
                    label=$where exe=podman root=''
                fi
                for side in false true; do
                    echo "integration, ansible-core $release, podman $label, controller-side path: $side"
                    printf '%s\n' --- "podman_executable: $exe" "podman_label: $label-$release" "podman_root: \"$root\"" \
                        "machine_image: $MACHINIST_CACHE/images/podman-machine-trixie.x86_64.qcow2" \
                        "machinist_share: $MACHINIST_SHARE" "machinist_podman_controller_side: $side" |
                        with_config "$collection" run_in "$where" "$venv" ansible-test integration --local \
                            --python "$python" --allow-destructive --color no podman_machine podman_machine_info \
                            ignition_config || return 1
                done ;;
            *) echo "controller: unknown part $p (unit, sanity, integration)"; return 1 ;;
        esac
    done
}

# copy_install NAME: a copy of the collection of NAME's own (collections-NAME), installed from the checkout once in
# this shell, after the build, whose install empties the work folder: suites that run beside another suite each
# write their own integration_config.yml and tests/output.
declare -A copies=()
copy_install() {
    [ -z "${copies[$1]:-}" ] || return 0
    install_collection "$repo" "$work/$1-build" "$work/collections-$1" >/dev/null ||
        { echo "the collection does not install in collections-$1"; return 1; }
    copies[$1]=1
}

# A suite run in the background: background_job NAME COMMAND... puts its output in a log and its exit status
# and time in a file; background_result NAME prints the log back and returns that status, as the suite's.
background_job() {
    local name=$1 start=$SECONDS rc=0
    shift
    "$@" >"$MACHINIST_SHARE/logs/$name.log" 2>&1 || rc=$?
    echo "$rc $((SECONDS - start))" >"$MACHINIST_SHARE/logs/$name.status"
}
background_result() {
    local rc secs
    cat "$MACHINIST_SHARE/logs/$1.log"
    read -r rc secs <"$MACHINIST_SHARE/logs/$1.status" || { echo "no result for $1"; return 1; }
    echo "(ran for ${secs}s)"
    return "$rc"
}

# Lanes. A boot mostly waits on the emulated CPU (an idle machine costs its qemu about 1% of a core), so when the
# booted suite runs, the other suites run in the background beside it: a lane per booted podman, its jobs one after
# another, each as a background_job, read back by lane_done as suites of this run. lane_of places each job where
# the lanes come out about as long as their boots. A Molecule scenario boots a machine of its own, so it runs
# beside the boot of another podman, which keeps its machines in another home; jobs that touch one podman's home
# (its integration targets, its scenario) never run beside that podman's boot, and in one lane run one after
# another. A job whose lane's podman does not boot in this run runs in its suite's turn (a scenario: after the
# boots). A lane's jobs run in a copy of the collection of their own: each ansible-test writes its
# integration_config.yml and tests/output there.
declare -A lane_jobs=()
lane_pid=
lane_of() {  # lane_of JOB: the podman beside whose boot JOB runs
    case $1 in
        # the controllers (sid's and experimental's homes, no boot) and sid's targets: beside 4.3.1
        controller-* | integration-sid) echo host ;;
        # 4.3.1's and 6.1.1's scenarios, then the unit tests, sanity and the docs: beside 5.4.2
        molecule-host | molecule-experimental | unit | sanity | docs) echo trixie ;;
        # 5.4.2's scenario, then the other integration targets, api, images and the fleet (the host's podman
        # and test users of its own): beside 6.1.1
        molecule-trixie | integration-* | api | images | fleet) echo experimental ;;
    esac
}
# jobs_of SUITE: the jobs a suite is made of
jobs_of() {
    local p r
    case $1 in
        integration)
            for p in $PODMANS; do echo "integration-$p"; done
            # The controller-side path (what Windows targets get), POSIX scripts through the connection, against
            # both JSON shapes: the same targets, the same assertions.
            for p in host trixie; do
                case " $PODMANS " in *" $p "*) echo "integration-$p-controller-side" ;; esac
            done ;;
        controllers) for r in ${CONTROLLERS:-2.17 2.21}; do echo "controller-$r"; done ;;
        *) echo "$1" ;;
    esac
}
# lane_place JOB: into its lane when that podman boots in this run (scenarios first there, as they boot)
lane_place() {
    local p
    p=$(lane_of "$1")
    case " $e2e_podmans " in *" $p "*) ;; *) return 1 ;; esac
    case $1 in
        molecule-*) lane_jobs[$p]=" $1${lane_jobs[$p]:-}" ;;
        *) lane_jobs[$p]+=" $1" ;;
    esac
}
emit_now() {  # emit_now NAME DESCRIPTION COMMAND...: a suite, here and now
    local desc=$2
    shift 2
    suite "$desc" "$@"
}
emit_beside() {  # emit_beside NAME DESCRIPTION COMMAND...: a suite in the lane's list
    local name=$1 desc=$2
    shift 2
    printf '%s|%s\n' "$name" "$desc" >>"$MACHINIST_SHARE/logs/beside.list"
    background_job "beside-$name" "$@"
}
# run_jobs EMIT JOB...: each job run through EMIT.
run_jobs() {
    local emit=$1 j p targets
    shift
    for j in "$@"; do
        case $j in
            unit) "$emit" unit "unit tests" unit "${args[@]}" ;;
            sanity) "$emit" sanity "ansible-test sanity" sanity "${args[@]}" ;;
            docs) "$emit" docs "docs site (antsibull-docs, Sphinx)" docs ;;
            fleet) "$emit" fleet "the fleet job in the execution environment (ansible-builder, ansible-runner, ${FLEET_LAPTOPS:-20} laptops over SSH)" fleet ;;
            controller-*)
                "$emit" "$j" "ansible-core ${j#controller-} as the controller: ${CONTROLLER_PARTS:-unit, sanity, integration on both paths}" \
                    controller "${j#controller-}" ;;
            molecule-*) roles_suite "$emit" "${j#molecule-}" ;;
            integration-*-controller-side)
                p=${j#integration-}
                p=${p%-controller-side}
                targets=(podman_machine podman_machine_info)
                [ ${#args[@]} = 0 ] || targets=("${args[@]}")
                EXTRA_CONFIG='machinist_podman_controller_side: true' "$emit" "$j" \
                    "integration against podman $p, controller-side path" integration "$p" "${targets[@]}" ;;
            integration-*)
                p=${j#integration-}
                targets=(podman_machine podman_machine_info ignition_config)
                # The playbooks (fleet, inventory plugin, machine role) against the host's podman only.
                [ "$p" != host ] || targets+=(playbooks)
                [ ${#args[@]} = 0 ] || targets=("${args[@]}")
                "$emit" "$j" "integration against podman $p" integration "$p" "${targets[@]}" ;;
            api) "$emit" api "API modules against podman's service, sshd and gvproxy" api ;;
            images) "$emit" images "machine OS images against an HTTP server and a registry on loopback" \
                integration host podman_machine_image "${args[@]}" ;;
            *) echo "run_jobs: unknown job $j"; return 1 ;;
        esac
    done
}
# roles_suite EMIT LABEL: the roles' scenario with podman LABEL: the module path under ansible-core 2.19 with
# 4.3.1, the controller-side path (what Windows targets get) under 2.17 with 5.4.2, and the module path under
# 2.21, inside the experimental root filesystem, with 6.1.1.
roles_suite() {
    local path=module release=2.19
    case $2 in
        host) ;;
        experimental) release=2.21 ;;
        *) path=controller release=2.17 ;;
    esac
    "$1" "molecule-$2" "the machine and machine_os roles' Molecule scenario (arm64 container, podman $2, $path path, ansible-core $release)" \
        roles_e2e "$2" "$path" "$release"
}
lane_start() {  # lane_start JOB...: the jobs, one after another, in the background
    [ $# -gt 0 ] || return 0
    copy_install beside || die "the collection does not install for the lanes beside the boots"
    rm -f "$MACHINIST_SHARE/logs"/beside-* "$MACHINIST_SHARE/logs/beside.list"
    log "in the background: $*"
    (
        collections=$work/collections-beside
        collection=$collections/ansible_collections/machinist/podman
        run_jobs emit_beside "$@"
    ) &
    lane_pid=$!
}
lane_done() {
    local name desc
    [ -n "$lane_pid" ] || return 0
    wait "$lane_pid"
    lane_pid=
    while IFS='|' read -r name desc; do
        suite "$desc" background_result "beside-$name"
    done <"$MACHINIST_SHARE/logs/beside.list"
}

# Every suite tests the checkout as it is: the collection is built and installed first, once.
case " $suites " in
    *" build "*) ;;
    *) log "building the collection from the checkout"; build || die "the collection does not build" ;;
esac

# The execution environment's build starts once the tarball exists.
ee_early() { case " $suites " in *" fleet "*) [ -n "$ee_pid" ] || ee_start ;; esac; }
case " $suites " in *" build "*) ;; *) ee_early ;; esac

e2e_podmans=
case " $suites " in *" e2e "*) e2e_podmans=${E2E_PODMANS:-host trixie experimental} ;; esac
after_boots=()
if [ -n "$e2e_podmans" ]; then
    for s in $suites; do
        case $s in
            build) ;;
            e2e) for p in $e2e_podmans; do lane_place "molecule-$p" || after_boots+=("molecule-$p"); done ;;
            *) for j in $(jobs_of "$s"); do lane_place "$j" || true; done ;;
        esac
    done
fi
for s in $suites; do
    case $s in
        build) suite "build and install the collection tarball" build; ee_early ;;
        e2e)
            # Real boots take minutes under emulation: 4.3.1, 5.4.2 and 6.1.1, each with a guest of its own
            # version, each with its lane beside it.
            for p in $e2e_podmans; do
                # shellcheck disable=SC2086 # the lane's jobs, one word each
                lane_start ${lane_jobs[$p]:-}
                stop_running "$p"
                [ "$p" != experimental ] || bash "$repo/scripts/machine-image/build.sh" experimental >/dev/null ||
                    { lane_done; die "the experimental machine image does not build"; }
                suite "end to end (booted machines) against podman $p" integration "$p" podman_machine_e2e
                lane_done
            done
            # Scenarios whose lane's podman did not boot, beside what comes next; read back before the summary.
            lane_start "${after_boots[@]}" ;;
        unit | sanity | docs | integration | controllers | api | images | fleet)
            for j in $(jobs_of "$s"); do
                case " ${lane_jobs[*]} " in *" $j "*) ;; *) run_jobs emit_now "$j" ;; esac
            done ;;
        *) die "unknown suite $s (build, unit, sanity, docs, integration, controllers, api, images, e2e, fleet)" ;;
    esac
done
lane_done

log "summary"
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

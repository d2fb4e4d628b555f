#!/usr/bin/env bash
# Build (or reuse) the collection's execution environment with ansible-builder and this host's podman,
# from the definition the collection ships, and hand it to the test user, who runs jobs in it rootless
# (as an AWX execution node's user does).
#
#   sudo scripts/lib/ee.sh COLLECTION_TARBALL      prints the image's name on its last line
#
# The definition's base image (Debian 13) comes from no registry here: this script makes it with
# debootstrap and imports it, with the CA certificates this host trusts beyond Debian's (a build behind a
# TLS-inspecting proxy needs them, as a corporate base image carries its CA). ansible-builder is given it
# through EE_BASE_IMAGE; every other step is the shipped definition's, except that the collection comes
# from the tarball built from the checkout instead of Galaxy.
#
# Both images are tagged with a hash of their inputs (the recipe, the definition, the collection's
# content), so a second run with the same inputs builds nothing. Older tags are removed.
#
# Test harness only. Containers run with runc: crun refuses this host's hybrid cgroup layout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/common.sh"
require_root "$@"

tarball=$(readlink -f "${1:?usage: ee.sh COLLECTION_TARBALL}")
[ -s "$tarball" ] || die "no collection tarball at $1"
work=$MACHINIST_CACHE/ee
install -d -m 0755 "$work"
export CONTAINERS_CONF=$work/containers.conf
printf '[engine]\nruntime = "runc"\n' >"$CONTAINERS_CONF"

as_user_podman() { as_user env CONTAINERS_CONF="$CONTAINERS_CONF" podman "$@"; }

# The base image: Debian 13, minimal, with what the definition's first step installs already there.
base_packages=python3,python3-pip,openssh-client,ca-certificates
extra_cas=(/usr/local/share/ca-certificates/*.crt)
[ -e "${extra_cas[0]}" ] || extra_cas=()
base_key=$(content_key "trixie" "$base_packages" "recipe 1" "${extra_cas[@]}")
base=localhost/machinist-ee-base:$base_key
if ! podman image exists "$base"; then
    log "making the base image $base (debootstrap, Debian 13)"
    rootfs=$work/base.partial
    rm -rf --one-file-system "$rootfs"
    debootstrap --variant=minbase --include="$base_packages" trixie "$rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
        >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap of the base image failed"; }
    if [ ${#extra_cas[@]} -gt 0 ]; then
        cp "${extra_cas[@]}" "$rootfs/usr/local/share/ca-certificates/"
        chroot "$rootfs" update-ca-certificates >/dev/null
    fi
    rm -rf "$rootfs/var/cache/apt/archives"/*.deb
    tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
    rm -rf --one-file-system "$rootfs"
fi

# The execution environment: the shipped definition, built by ansible-builder.
definition=$repo/execution-environment
content=$(tar -xOzf "$tarball" | sha256sum | cut -c1-16)
ee_key=$(content_key "$definition/execution-environment.yml" "$repo/meta/execution-environment.yml" \
    "$repo/meta/ee-requirements.txt" "$repo/meta/ee-bindep.txt" "$base" "$content" "recipe 1")
image=localhost/machinist-podman-ee:$ee_key
if ! podman image exists "$image"; then
    log "building the execution environment $image with ansible-builder"
    ctx=$work/build
    rm -rf "$ctx" && install -d "$ctx"
    cp "$definition/execution-environment.yml" "$ctx/"
    cp "$tarball" "$ctx/machinist-podman.tar.gz"
    # The collection from the checkout's tarball, put into the build context, in place of Galaxy.
    "$MACHINIST_VENV/bin/python" - "$ctx" <<'EOF'
import pathlib, sys, yaml
ctx = pathlib.Path(sys.argv[1])
path = ctx / "execution-environment.yml"
definition = yaml.safe_load(path.read_text())
definition["dependencies"]["galaxy"] = {
    "collections": [{"name": "collections/machinist-podman.tar.gz", "type": "file"}]}
definition.setdefault("additional_build_files", []).append(
    {"src": str(ctx / "machinist-podman.tar.gz"), "dest": "collections"})
path.write_text(yaml.safe_dump(definition, sort_keys=False))
EOF
    (cd "$ctx" && "$MACHINIST_VENV/bin/ansible-builder" build -f execution-environment.yml -c context \
        --container-runtime podman -t "$image" --build-arg "EE_BASE_IMAGE=$base" -v 2) \
        >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; die "ansible-builder failed; its log: $work/build.log"; }
fi

# Into the test user's own storage, once per image.
if ! as_user_podman image exists "$image"; then
    log "handing $image to $MACHINIST_USER"
    podman save -q "$image" | as_user_podman load >/dev/null
fi
# Older builds are replaced, not accumulated.
for old in $(podman images --format '{{.Repository}}:{{.Tag}}' | grep -E '^localhost/machinist-(podman-ee|ee-base):' || true); do
    [ "$old" = "$image" ] || [ "$old" = "$base" ] || podman rmi -f "$old" >/dev/null 2>&1 || true
done
for old in $(as_user_podman images --format '{{.Repository}}:{{.Tag}}' | grep -E '^localhost/machinist-podman-ee:' || true); do
    [ "$old" = "$image" ] || as_user_podman rmi -f "$old" >/dev/null 2>&1 || true
done
podman image prune -f >/dev/null 2>&1 || true
size=$(podman image inspect --format '{{.Size}}' "$image")
log "execution environment $image: $((size / 1000000)) MB"
echo "$image"

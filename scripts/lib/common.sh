# Shared settings for the project's set-up and test scripts. Source it; do not run it.
#
# Everything the scripts build or download lives under MACHINIST_CACHE, outside the repository,
# so a second run on the same machine reuses it. Each cached item is keyed by the content of
# the recipe that made it, so a changed recipe rebuilds only what it touches.

MACHINIST_CACHE=${MACHINIST_CACHE:-/var/cache/machinist-podman}
# The unprivileged user that runs `podman machine` (podman refuses root) and the test playbooks.
MACHINIST_USER=${MACHINIST_USER:-machinist}
MACHINIST_VENV=${MACHINIST_VENV:-$MACHINIST_CACHE/venv}
MACHINIST_BIN=$MACHINIST_CACHE/bin
# Where tests put files that both the host and a podman root filesystem must see (bound at the
# same path inside each root filesystem).
MACHINIST_SHARE=${MACHINIST_SHARE:-/var/tmp/machinist}

# Podman versions under test: label -> how to reach that podman. "host" is Debian 12's own
# podman (4.3.1); the others run from a Debian root filesystem built with debootstrap: trixie (5.4),
# sid (5.8) and experimental (sid with experimental's podman 6.1).
MACHINIST_SUITES="trixie sid experimental"

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# require_root "$@": goes on as root. A user who is not root gets the same script run again through
# sudo when sudo is there (keeping MACHINIST_*, PODMANS, E2E_PODMANS, EXTRA_CONFIG and CI), and a clear
# message when it is not. Root needs no sudo at all: a fresh Debian has none.
require_root() {
    [ "$(id -u)" = 0 ] && return 0
    command -v sudo >/dev/null 2>&1 ||
        die "this step installs packages and creates a user: run it as root (su -c '$0'), or install sudo"
    exec sudo --preserve-env=MACHINIST_CACHE,MACHINIST_USER,MACHINIST_VENV,MACHINIST_SHARE,PODMANS,E2E_PODMANS,EXTRA_CONFIG,MACHINE_IMAGE,CI \
        -- bash "$0" "$@"
}

# Hash of files and strings: the cache key of a recipe.
content_key() {
    { for f in "$@"; do if [ -f "$f" ]; then cat "$f"; else printf '%s\n' "$f"; fi; done; } |
        sha256sum | cut -c1-16
}

# Run a command as the unprivileged test user with a clean, predictable environment.
as_user() {
    local home
    home=$(getent passwd "$MACHINIST_USER" | cut -d: -f6)
    runuser -u "$MACHINIST_USER" -- env -i HOME="$home" USER="$MACHINIST_USER" LOGNAME="$MACHINIST_USER" \
        PATH="$MACHINIST_VENV/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 \
        XDG_RUNTIME_DIR="$MACHINIST_SHARE/run-host" TMPDIR="$MACHINIST_SHARE/tmp" \
        ${CI:+CI=$CI} "$@"
}

# bind_fresh FOLDER TARGET: FOLDER bound on TARGET (made if missing). A bind of a folder that was since
# removed and made again (the shared test folder is, when /var/tmp is cleared between runs) still stands
# but shows the removed one, so it is bound anew when TARGET is not the same folder as FOLDER.
# enter-rootfs does the same on its own: it is installed root-owned and sources nothing.
bind_fresh() {
    local folder=$1 target=$2
    mkdir -p "$target" || return 1
    if mountpoint -q "$target" && [ "$(stat -c %d:%i "$folder")" != "$(stat -c %d:%i "$target")" ]; then
        umount -l "$target" || return 1
    fi
    mountpoint -q "$target" || mount --bind "$folder" "$target"
}

# Build the collection's tarball from REPO into a fresh folder WORK (owned by the test user) and
# install it from the tarball into COLLECTIONS, as `ansible-galaxy` users do.
install_collection() {
    local repo=$1 work=$2 collections=$3
    rm -rf "$work" && install -d -o "$MACHINIST_USER" "$work" || return 1
    as_user "$MACHINIST_VENV/bin/ansible-galaxy" collection build --output-path "$work" "$repo" &&
        as_user "$MACHINIST_VENV/bin/ansible-galaxy" collection install --force -p "$collections" \
            "$work"/machinist-podman-*.tar.gz
}

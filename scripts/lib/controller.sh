#!/usr/bin/env bash
# Makes (or reuses) the virtual environment of one ansible-core release as a controller, for the test
# suite's controller matrix, and prints the command prefix that runs a program in it as the test user.
#
#   scripts/lib/controller.sh 2.17     Debian 12's Python 3.11 (2.17 is the floor requires_ansible states)
#   scripts/lib/controller.sh 2.21     the experimental root filesystem's Python (sid's): 2.20 and later
#                                      need Python 3.12 or later, which Debian 12 does not have
#
# Each environment holds ansible-core, the unit tests' needs (tests/requirements-controller.txt) and
# Molecule, and is cached under $MACHINIST_CACHE, keyed by that file, the release and this recipe. The
# offline pip bootstrap that ansible-test's sanity environments need is put where that release's
# ansible-test looks for it, under the pip version it wants.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/common.sh"
require_root "$@"

release=${1:?usage: controller.sh 2.17|2.21}
case $release in
    # Molecule for the roles' scenario under this release: 26.7 and later require ansible-core other than 2.17.
    2.17) core=2.17.14 where=host molecule="molecule==26.6.0 ansible-compat==26.6.0" ;;
    2.21) core=2.21.5 where=experimental molecule="molecule==26.10.0 ansible-compat==26.10.0" ;;
    *) die "no controller recipe for ansible-core $release (2.17 or 2.21; 2.19 is the main environment)" ;;
esac
recipe=1
key=$(content_key "$repo/tests/requirements-controller.txt" "ansible-core==$core" "$molecule" "$where" "recipe $recipe")

if [ "$where" = host ]; then
    root=''
    venv=$MACHINIST_CACHE/venv-$release
    python=/usr/bin/python3
else
    bash "$here/rootfs.sh" "$where" >/dev/null
    root=$(readlink -f "$MACHINIST_CACHE/rootfs/$where")
    venv=/opt/machinist/venv-$release
    python=/usr/bin/python3
fi
# Inside a root filesystem pip (and every sanity test's own pip, which ansible-test starts with a clean
# environment) reaches the package index only when the root filesystem trusts what this host trusts:
# its CA bundle is this host's, renewed at every run. The root filesystem is test harness, not a laptop.
if [ -n "$root" ]; then
    install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi
in_root() {
    if [ -n "$root" ]; then
        chroot "$root" env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 "$@"
    else
        "$@"
    fi
}

if [ "$(cat "$root$venv/.key" 2>/dev/null)" != "$key" ]; then
    log "ansible-core $core controller environment ($where, $venv)"
    rm -rf "$root$venv"
    in_root "$python" -m venv "$venv"
    install -m 0644 "$repo/tests/requirements-controller.txt" "$root$venv/requirements.txt"
    in_root "$venv/bin/pip" install -q --upgrade pip
    # shellcheck disable=SC2086 # $molecule is a list of requirements
    in_root "$venv/bin/pip" install -q "ansible-core==$core" -r "$venv/requirements.txt" $molecule
    echo "$key" >"$root$venv/.key"
fi
chmod -R a+rX "$root$venv"

# ansible-test's pip bootstrap, offline, for this release's pip (see ansible_test_pip_bootstrap.py).
pip_version=$(in_root "$venv/bin/python" -c 'import types
from ansible_test._internal.python_requirements import get_venv_packages
import sys
print(get_venv_packages(types.SimpleNamespace(version="%d.%d" % sys.version_info[:2]))["pip"])')
home=/home/$MACHINIST_USER
[ -n "$root" ] || home=$(getent passwd "$MACHINIST_USER" | cut -d: -f6)
uid=$(id -u "$MACHINIST_USER")
install -d -o "$uid" "$root$home/.ansible" "$root$home/.ansible/test" "$root$home/.ansible/test/cache"
install -o "$uid" -m 0644 "$here/ansible_test_pip_bootstrap.py" "$root$home/.ansible/test/cache/get_pip_${pip_version//./_}.py"
echo "$where $venv"

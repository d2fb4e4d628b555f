#!/usr/bin/env bash
# The unit tests on the checkout as it is, without root and without building the collection: the
# checkout is imported through an ansible_collections/machinist/podman link in a temporary folder.
# Arguments go to pytest:
#
#   scripts/unit.sh                                   every unit test
#   scripts/unit.sh -k plan                           those whose name matches
#   scripts/unit.sh tests/unit/plugins/module_utils/_machine/test_plan.py
#
# It needs a Python with the test requirements (tests/requirements.txt): the one scripts/setup.sh
# made, or set PYTHON. The ignition tests use ignition-validate and the SSH tests OpenSSH, when the
# machine has them (scripts/setup.sh installs both; scripts/test.sh unit requires the validator).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/common.sh"
python=${PYTHON:-$MACHINIST_VENV/bin/python}
[ -x "$python" ] || die "no Python with the test requirements at $python: run scripts/setup.sh once, or set PYTHON"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/ansible_collections/machinist"
ln -s "$repo" "$root/ansible_collections/machinist/podman"
cd "$root/ansible_collections/machinist/podman"
[ $# -gt 0 ] || set -- tests/unit
PYTHONPATH=$root PYTHONDONTWRITEBYTECODE=1 "$python" -m pytest -p no:cacheprovider -q "$@"

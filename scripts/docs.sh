#!/usr/bin/env bash
# The docs site, generated with antsibull-docs from the collection's own docs (modules, the inventory
# plugin, roles' argument specs) and built into HTML with Sphinx:
#
#   scripts/docs.sh [OUTPUT_DIR]     default: $MACHINIST_SHARE/docs
#
# Fails when antsibull-docs finds an error in any doc, or a module, plugin or role has no page.
# Offline hosts cannot fetch the intersphinx inventories of Python's and Ansible's docs: links into
# those sites stay unresolved, which Sphinx reports as warnings, not errors.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/common.sh"
require_root "$@"

out=${1:-$MACHINIST_SHARE/docs}
venv=$MACHINIST_CACHE/docs-venv
key=$(content_key "$repo/docs/requirements.txt")
if [ "$(cat "$venv/.key" 2>/dev/null)" != "$key" ]; then
    log "docs tools (docs/requirements.txt) in $venv"
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r "$repo/docs/requirements.txt"
    echo "$key" >"$venv/.key"
fi
chmod -R a+rX "$venv"

# The collection as a user installs it, where antsibull-docs --use-current finds it.
work=$MACHINIST_SHARE/docs-work
install -d -o "$MACHINIST_USER" "$work"
install_collection "$repo" "$work/build" "$work/collections" >/dev/null
rm -rf "$out" && install -d -o "$MACHINIST_USER" "$out"
# shellcheck disable=SC2016 # the inner script's own argument
as_user env PATH="$venv/bin:/usr/bin:/bin" ANSIBLE_COLLECTIONS_PATH="$work/collections" bash -c '
    set -euo pipefail
    cd "$1"
    mkdir site
    antsibull-docs sphinx-init --use-current --lenient --fail-on-error --dest-dir site machinist.podman >/dev/null
    bash site/build.sh >build.log 2>&1 || { tail -40 build.log; exit 1; }
' _ "$out"

pages=$out/site/build/html/collections/machinist/podman
missing=0
for f in "$repo"/plugins/modules/*.py; do
    [ -e "$pages/$(basename "$f" .py)_module.html" ] || { echo "no page for module $(basename "$f" .py)"; missing=1; }
done
for f in "$repo"/plugins/inventory/*.py; do
    [ -e "$pages/$(basename "$f" .py)_inventory.html" ] || { echo "no page for inventory plugin $(basename "$f" .py)"; missing=1; }
done
for d in "$repo"/roles/*/; do
    [ -e "$pages/$(basename "$d")_role.html" ] || { echo "no page for role $(basename "$d")"; missing=1; }
done
[ "$missing" = 0 ] || die "the docs site lacks pages"
grep -c 'WARNING' "$out/build.log" | xargs -I{} echo "docs site built: $pages/index.html ({} Sphinx warnings, the offline intersphinx links among them)"

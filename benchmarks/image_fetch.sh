#!/usr/bin/env bash
# podman_machine_image's streaming pass against `xz -dc FILE | sha256sum` on the same 2 GiB image,
# in one run: throughput ratio (target >= 0.9), peak memory of the fetch (target <= 64 MiB), and
# the time of a cache hit (target < 0.1 s). The fetch downloads from a real HTTP server on
# loopback (the tests' image_server.py), hashes the compressed bytes, decompresses, hashes the
# result and writes the file, through the module's own code (_image/sources.py ensure).
#
#   sudo benchmarks/image_fetch.sh [SIZE_MIB]      (default 2048)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/lib/common.sh"
require_root
size=${1:-2048}
work=$MACHINIST_SHARE/bench
data=$MACHINIST_CACHE/bench-images
install_collection "$repo" "$work" "$work/collections" >/dev/null 2>&1
install -d -o "$MACHINIST_USER" "$data" "$work/img"
image=$data/disk-$size.qcow2.xz
if [ ! -s "$image" ]; then
    log "making a $size MiB image (a quarter random, the rest repetitive, like a disk) and compressing it with xz (cached)"
    python3 - "$size" "$data/disk-$size.qcow2" <<'PY'
import os, sys
size, out = int(sys.argv[1]), sys.argv[2]
block = (b'machinist podman machine disk block ' * 30000)[:1 << 20]
with open(out, 'wb') as f:
    for i in range(size):
        f.write(os.urandom(1 << 20) if i % 4 == 0 else block)
PY
    xz -T2 -1 -f "$data/disk-$size.qcow2"
fi
sum=$(sha256sum "$image" | cut -d' ' -f1)
chown "$MACHINIST_USER" "$image"

port=$((30000 + RANDOM % 2000))
as_user bash -c "nohup python3 '$repo/tests/integration/targets/podman_machine_image/files/image_server.py' --root '$data' \
    --port $port --log '$work/img/requests.log' >/dev/null 2>&1 & echo \$! > '$work/img/server.pid'"
trap 'kill "$(cat "$work/img/server.pid")" 2>/dev/null || true' EXIT
for _try in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

cat >"$work/img/fetch.py" <<PY
import sys, time
sys.path.insert(0, '$work/collections')
from ansible_collections.machinist.podman.plugins.module_utils._image import sources
cache = sources.Cache(sys.argv[1])
art = sources.from_url('http://127.0.0.1:$port/files/$(basename "$image")', checksum='$sum')
t = time.time()
out = sources.ensure(cache, art)
print('%s %.4f' % ('hit' if out['cache_hit'] else 'fetch', time.time() - t))
PY

rounds=3
fetch_total=0
base_total=0
rss_max=0
for r in $(seq 1 $rounds); do
    rm -rf "$work/img/cache"
    # Alternate which goes first, so neither always meets a warm page cache.
    for which in $([ $((r % 2)) = 1 ] && echo "fetch base" || echo "base fetch"); do
        if [ "$which" = fetch ]; then
            out=$(as_user /usr/bin/time -f '%e %M' "$MACHINIST_VENV/bin/python" "$work/img/fetch.py" "$work/img/cache" 2>&1 >/dev/null | tail -1)
            fetch_total=$(echo "$fetch_total + ${out% *}" | bc)
            [ "${out#* }" -gt "$rss_max" ] && rss_max=${out#* }
        else
            out=$( { /usr/bin/time -f '%e' sh -c "xz -dc '$image' | sha256sum >/dev/null"; } 2>&1 | tail -1)
            base_total=$(echo "$base_total + $out" | bc)
        fi
    done
done
hits=()
for _i in 1 2 3 4 5; do
    hits+=("$(as_user "$MACHINIST_VENV/bin/python" "$work/img/fetch.py" "$work/img/cache" | awk '{print $2}')")
done
echo "image: $size MiB, xz $(( $(stat -c %s "$image") >> 20 )) MiB; $rounds rounds"
echo "fetch (download from loopback + both hashes + decompress + write): $(echo "scale=1; $size * $rounds / $fetch_total" | bc) MiB/s"
echo "xz -dc FILE | sha256sum:                                           $(echo "scale=1; $size * $rounds / $base_total" | bc) MiB/s"
echo "throughput ratio fetch/baseline: $(echo "scale=3; $base_total / $fetch_total" | bc)"
echo "peak RSS of the fetch: $((rss_max / 1024)) MiB"
echo "cache hits (s): ${hits[*]}"

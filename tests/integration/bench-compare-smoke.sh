#!/usr/bin/env bash
# pvio-bench --compare starts its own pvio-backd, runs both engines and
# prints JSON with positive pvio_iops, native_iops, ratio and
# doorbells_per_io. One round of 1 s per engine: a smoke test, not timed.
#
# Usage: bench-compare-smoke.sh BUILD_DIR
set -u
B=${1:-build}
. "$(dirname "$0")/front-lib.sh"
fe_need "$B/pvio-backd" "$B/pvio-bench"
TMP=$(mktemp -d /var/tmp/pvio-bench-smoke.XXXXXX) || exit 1
trap fe_cleanup EXIT
truncate -s 64M "$TMP/disk.img" || exit 1
out=$("$B/pvio-bench" --compare --file "$TMP/disk.img" --rw randread --bs 4k \
	--iodepth 16 --runtime 1 --rounds 1 --json) || { echo "exit $?"; exit 1; }
echo "$out"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
for k in ("pvio_iops", "native_iops", "ratio", "doorbells_per_io"):
    v = d.get(k)
    if not isinstance(v, (int, float)) or not v > 0:
        sys.exit("field %s missing or not positive: %r" % (k, v))
for e in ("pvio", "native"):
    if d[e]["ios"] <= 0 or d[e]["lat_p50_us"] <= 0:
        sys.exit("%s run empty" % e)
print("ok: ratio %.3f, doorbells/IO %.3f" % (d["ratio"], d["doorbells_per_io"]))
' "$out" || exit 1
exit 0

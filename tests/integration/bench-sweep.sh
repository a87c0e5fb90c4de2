#!/usr/bin/env bash
# pvio-bench --sweep over the userspace path: --compare at three depths of
# 0.2 s on a small file prints a table with one row per depth, in order;
# --json prints a list with one object per depth, each with the depth,
# both engines' p99 and the "machine" object; --plot writes an SVG with
# the four curves' titles. Bad --sweep and --plot values exit 2 with a
# message before anything runs. A smoke test, not timed.
#
# Usage: bench-sweep.sh BUILD_DIR
set -u
B=${1:-build}
. "$(dirname "$0")/front-lib.sh"
fe_need "$B/pvio-backd" "$B/pvio-bench"
command -v gnuplot >/dev/null || { echo "SKIP: gnuplot not installed (tools/pvio-deps)"; exit 77; }
TMP=$(mktemp -d /var/tmp/pvio-bench-sweep.XXXXXX) || exit 1
trap fe_cleanup EXIT
truncate -s 16M "$TMP/disk.img" || exit 1
run=("$B/pvio-bench" --compare --file "$TMP/disk.img" --rw randread --bs 4k
	--runtime 0.2 --rounds 1 --no-progress --sweep iodepth=1,4,16)

out=$("${run[@]}" --plot "$TMP/sweep.svg") || { echo "exit $?"; exit 1; }
echo "$out"
rows=$(awk '$1 ~ /^[0-9]+$/ && NF == 6 && $2 > 0 && $4 > 0 { printf "%s ", $1 }' <<<"$out")
[ "$rows" = "1 4 16 " ] || { echo "table rows for depths '$rows', want '1 4 16 '"; exit 1; }
head -c 200 "$TMP/sweep.svg" | grep -q '^<?xml' && grep -q '<svg' "$TMP/sweep.svg" ||
	{ echo "$TMP/sweep.svg is not an SVG"; exit 1; }
for t in "pvio IOPS" "pvio p99 latency (us)" "native IOPS" "native p99 latency (us)"; do
	grep -qF ">$t<" "$TMP/sweep.svg" || { echo "no curve titled '$t' in the SVG"; exit 1; }
done

json=$("${run[@]}" --json) || { echo "exit $?"; exit 1; }
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
if not isinstance(d, list) or [p["pvio"]["iodepth"] for p in d] != [1, 4, 16]:
    sys.exit("not a list of the depths 1, 4, 16: %r" % sys.argv[1][:200])
for p in d:
    for e in ("pvio", "native"):
        if not p[e]["iops"] > 0 or not p[e]["lat_p99_us"] > 0:
            sys.exit("depth %d: %s without IOPS or p99" % (p["pvio"]["iodepth"], e))
    m = p.get("machine")
    if not isinstance(m, dict) or not m.get("kernel") or not m.get("cores"):
        sys.exit("no machine object with kernel and cores: %r" % m)
print("ok: %d depths; machine: %s, %s" % (len(d), d[0]["machine"]["kernel"], d[0]["machine"]["os"]))
' "$json" || exit 1

bad() {
	local err rc
	err=$("$B/pvio-bench" --compare --file "$TMP/disk.img" "$@" 2>&1 >/dev/null)
	rc=$?
	echo "[$*] exit $rc: $err"
	[ "$rc" -eq 2 ] && [ -n "$err" ] || { echo "want exit 2 and a message"; exit 1; }
}
bad --sweep iodepth=0
bad --sweep iodepth=1,x
bad --sweep iodepth=4,4
bad --sweep queues=1,2
bad --sweep iodepth=1 --iodepth 4
bad --sweep iodepth=1 --plot "$TMP/sweep.pdf"
bad --plot "$TMP/sweep.svg"
[ ! -e "$TMP/sweep.pdf" ] || { echo "a refused --plot wrote its file"; exit 1; }
exit 0

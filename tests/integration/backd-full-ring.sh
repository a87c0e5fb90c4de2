#!/usr/bin/env bash
# A frontend that keeps as many requests in flight as the queue has slots
# (every id either with the backend or answered and not yet reaped) must
# be served without pauses. pvio-backd once took that for a frontend that
# owed response-ring space and looked again only after 1 ms, so every
# refill waited a millisecond: a median latency of about 1,000 us where
# 100 us is normal here. Checked on queues of 16 and 64 slots, each run at
# that depth for 2 s; the median latency must stay under 500 us.
#
# Usage: backd-full-ring.sh BUILD_DIR
set -u
B=${1:-build}
. "$(dirname "$0")/front-lib.sh"
fe_need "$B/pvio-backd" "$B/pvio-bench"
fe_mem_scratch full-ring
img=$IMG sock=$SOCK

for depth in 16 64; do
	fe_backd_start "$TMP/backd-$depth.log" --blk "$img" --queue-depth $depth \
		--socket "$sock" || exit 1
	"$B/pvio-bench" --socket "$sock" --rw=randread --bs=4k --iodepth=$depth \
		--runtime=2 --no-progress --json >"$TMP/out-$depth.json"
	rc=$?
	fe_backd_stop || exit 1
	cat "$TMP/out-$depth.json"
	fe_expect "depth $depth: pvio-bench exit" $rc 0
	p50=$(sed -n 's/.*"lat_p50_us":\([0-9.]*\).*/\1/p' "$TMP/out-$depth.json")
	[ -n "$p50" ] || { echo "FAIL: depth $depth: no lat_p50_us in the output"; exit 1; }
	if awk -v p="$p50" 'BEGIN { exit !(p < 500) }'; then
		echo "ok: depth $depth: median latency $p50 us"
	else
		echo "FAIL: depth $depth: median latency $p50 us (at most 500 expected)"
		exit 1
	fi
done
echo "backd-full-ring: all checks passed"

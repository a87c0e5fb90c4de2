#!/usr/bin/env bash
# The frontend library polls for a response before it sleeps, adapting to
# how soon responses come, while few requests are in flight. At queue
# depth 1 on a memory-backed file, nearly every response is then found
# by polling (no doorbell from the backend, no wake-up); with polling
# off (--spin-us=0) nearly every response needs a doorbell. Doorbells are
# the eventfd reads that found one (doorbells_in in pvio-bench's JSON).
#
# Usage: front-adaptive-poll.sh BUILD_DIR
set -u
B=${1:-build}
. "$(dirname "$0")/front-lib.sh"
fe_need "$B/pvio-backd" "$B/pvio-bench"
fe_mem_scratch front-poll
img=$IMG sock=$SOCK

fe_backd_start "$TMP/backd.log" --blk "$img" --socket "$sock" || exit 1
# field NAME FILE: a numeric field of pvio-bench's JSON.
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$2"; }
# per MODE: doorbells from the backend per 1000 IOs at queue depth 1.
per() {
	local mode=$1 ios din extra=()
	[ "$mode" = off ] && extra=(--spin-us=0)
	"$B/pvio-bench" --socket "$sock" --rw=randread --bs=4k --iodepth=1 \
		--runtime=2 --no-progress --json "${extra[@]}" >"$TMP/$mode.json" ||
		{ cat "$TMP/$mode.json" >&2; echo "FAIL: $mode: pvio-bench failed" >&2; return 1; }
	ios=$(field ios "$TMP/$mode.json") din=$(field doorbells_in "$TMP/$mode.json")
	echo "$mode: $din doorbells from the backend for $ios IOs" >&2
	fe_per "$mode" "$din" "$ios" 1000 "$TMP/$mode.json"
}
# A broken poll takes a doorbell for nearly every IO in all three tries.
default=$(fe_below_in_tries 5 300 per default) || exit 1
fe_bound "$default" -lt 300 "queue depth 1, polling on by default: $default doorbells per 1000 IOs"
off=$(per off) || exit 1
fe_bound "$off" -gt 700 "queue depth 1, polling off: $off doorbells per 1000 IOs"
fe_backd_stop || exit 1
echo "front-adaptive-poll: all checks passed"

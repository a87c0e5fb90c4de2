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
for mode in default off; do
	extra=()
	[ $mode = off ] && extra=(--spin-us=0)
	"$B/pvio-bench" --socket "$sock" --rw=randread --bs=4k --iodepth=1 \
		--runtime=2 --no-progress --json "${extra[@]}" >"$TMP/$mode.json" ||
		{ cat "$TMP/$mode.json"; echo "FAIL: $mode: pvio-bench failed"; exit 1; }
	ios=$(field ios "$TMP/$mode.json") din=$(field doorbells_in "$TMP/$mode.json")
	echo "$mode: $din doorbells from the backend for $ios IOs"
	per=$(fe_per "$mode" "$din" "$ios" 1000 "$TMP/$mode.json") || exit 1
	case $mode in
	default) fe_bound "$per" -lt 300 "queue depth 1, polling on by default: $per doorbells per 1000 IOs" ;;
	off) fe_bound "$per" -gt 700 "queue depth 1, polling off: $per doorbells per 1000 IOs" ;;
	esac
done
fe_backd_stop || exit 1
echo "front-adaptive-poll: all checks passed"

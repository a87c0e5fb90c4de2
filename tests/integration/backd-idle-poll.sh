#!/usr/bin/env bash
# The backend's idle poll adapts to a frontend that pauses between
# requests. pvio-bench submits one 4 KiB read at a time and pauses 100 us
# after each completion (--thinktime-us), so every request arrives more
# than the 50 us starting idle poll after the previous answer. With the
# idle poll allowed to grow (to 1000 us here) nearly no request needs a
# doorbell; with growth turned off (--idle-poll-max-us 0) nearly every one
# does. The ceiling is well above the pause because a 100 us sleep takes
# 150-300 us on these hosts (timer slack, a virtual CPU's timer): with the
# 200 us default a host whose sleeps run long sees gaps past the ceiling,
# and the window rightly falls back to its floor. The adaptive case gets
# up to eight runs (fe_below_in_tries): this host has slow phases of
# seconds in which no poll can help, old code and new alike; a broken poll
# misses in all eight.
# Doorbells are the frontend's writes to the backend's
# eventfd (doorbells_out in pvio-bench's JSON).
#
# Usage: backd-idle-poll.sh BUILD_DIR
set -u
B=${1:-build}
. "$(dirname "$0")/front-lib.sh"
fe_need "$B/pvio-backd" "$B/pvio-bench"
fe_mem_scratch idle-poll
img=$IMG sock=$SOCK

# run NAME BACKD-ARGS...: prints doorbells per IO, x1000, as an integer.
run() {
	local name=$1 ios db
	shift
	fe_backd_bench "$name" "$TMP/backd-$name.log" "$TMP/$name.json" "$@" -- \
		--rw=randread --bs=4k --iodepth=1 --thinktime-us=100 --runtime=2 \
		--no-progress --json
	ios=$(sed -n 's/.*"ios":\([0-9]*\).*/\1/p' "$TMP/$name.json")
	db=$(sed -n 's/.*"doorbells_out":\([0-9]*\).*/\1/p' "$TMP/$name.json")
	echo "$name: $db doorbells for $ios IOs" >&2
	fe_per "$name" "$db" "$ios" 1000 "$TMP/$name.json"
}

adaptive=$(fe_below_in_tries 8 300 run adaptive --idle-poll-max-us 1000) || exit 1
fixed=$(run fixed --idle-poll-max-us 0) || exit 1
fe_bound "$adaptive" -lt 300 "adaptive idle poll: $adaptive doorbells per 1000 IOs"
fe_bound "$fixed" -gt 700 "fixed 50 us idle poll: $fixed doorbells per 1000 IOs" \
	"the pauses are longer than the poll"
echo "backd-idle-poll: all checks passed"

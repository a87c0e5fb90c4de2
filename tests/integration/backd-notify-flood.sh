#!/usr/bin/env bash
# backd-notify-flood - issue 11, notification floods and finding 10: a
# frontend of device 0 rings its queue doorbell (with nothing queued) and
# then its control doorbell in a tight loop. Device 0's engine process must
# stay under a fifth of a CPU, say why in its log, and still serve a read
# afterwards; device 1 keeps at least half the IOPS it had just before
# (4 KiB reads at queue depth 1; required of the plain build, reported
# under the sanitizers). The machine may be busy with other work, so each
# figure is the better of two tries.
#
# Usage: backd-notify-flood.sh [BUILD_DIR]
. "$(dirname "$0")/backd-lib.sh"

cd "$tmp" || exit 1
truncate -s 16M a.img b.img
start_backd --blk a.img --socket a.sock --blk b.img --socket b.sock
hz=$(getconf CLK_TCK)

# CPU ticks of device N's engine process so far.
eng_ticks() {
	local p
	for p in $(pgrep -P "$backd_pid"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "pvio-eng-dev$1" ] &&
			awk '{print $14 + $15}' "/proc/$p/stat" && return
	done
	echo 0
}

iops() {
	timeout 60 "$HF" iops b.sock 2000 | awk '/^iops/ {print $2}'
}

# flood_once MODE: prints "BASE FLOODED TICKS"
flood_once() {
	local base fl t0 t1 fpid
	base=$(iops)
	t0=$(eng_ticks 0)
	timeout 60 "$HF" "$1" a.sock 3000 >"$tmp/flood.log" 2>&1 &
	fpid=$!
	sleep 0.5
	fl=$(iops)
	wait "$fpid" || { cat "$tmp/flood.log"; fail "$1: the flooding frontend failed (no read after the flood?)"; }
	t1=$(eng_ticks 0)
	echo "${base:-0} ${fl:-0} $((t1 - t0))"
}

for mode in qflood ctlflood; do
	best_ratio=0 best_ticks=999999
	for try in 1 2; do
		read -r base fl ticks < <(flood_once "$mode")
		ratio=$((base > 0 ? fl * 100 / base : 0))
		echo "$mode try $try: device 1 $base IOPS alone, $fl during the flood ($ratio %); device 0 engine $ticks ticks in 3 s (${hz}/s)"
		[ "$ratio" -gt "$best_ratio" ] && best_ratio=$ratio
		[ "$ticks" -lt "$best_ticks" ] && best_ticks=$ticks
		[ "$best_ratio" -ge 50 ] && [ "$best_ticks" -le $((hz * 6 / 10)) ] && break
	done
	# The IOPS bound is a property of the plain build: under a sanitizer
	# the flooding peer and the measuring one are both several times
	# slower and share two CPUs, so there it is reported, not required.
	case $BUILD in
	*/asan|*/tsan)
		[ "$best_ratio" -ge 50 ] ||
			echo "note: $mode: device 1 kept $best_ratio % of its IOPS (sanitizer build, not checked)" ;;
	*)
		[ "$best_ratio" -ge 50 ] || fail "$mode: device 1 kept only $best_ratio % of its IOPS" ;;
	esac
	[ "$best_ticks" -le $((hz * 6 / 10)) ] ||
		fail "$mode: device 0's engine used $best_ticks ticks in 3 s"
done
grep -q 'dev0: queue 0: 32 doorbells in a row with nothing queued' backd.log ||
	fail "no log line for the queue doorbell flood"
grep -q 'dev0: control doorbell rung more than 16 times in 100 ms' backd.log ||
	fail "no log line for the control doorbell flood"
stop_backd
echo PASS

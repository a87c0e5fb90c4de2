#!/usr/bin/env bash
# The frontend library survives backend restarts (include/pvio/region.h,
# "Backend restart"): stamp writes through libpvio against test_backend in
# restart mode, which dies every few dozen requests (a write may land with
# its answer lost), forgets what it took and lays the region out again with
# a new generation on the same server and memory.
#   1. Many restarts: no write fails, the library reconnected and replayed,
#      and every acknowledged block holds its last acknowledged stamp (or a
#      later one issued for it) in the backend's disk, dumped at exit.
#   2. The same with FUA writes and a deeper queue.
#   3. A backend away longer than reconnect_ms: the writes in flight fail
#      with ENOTCONN within a bound, and when the backend comes back (same
#      server) the library connects again and later writes succeed.
#   4. The verifier can fail: a stamp rolled back to an older write is
#      named as a bad block.
#
# Usage: front-restart.sh BUILD_DIR
set -u
B=${1:-build}
. "$(dirname "$0")/front-lib.sh"
tb=$B/tests/progs/test_backend stamp=$B/tests/progs/stamp
fe_need "$tb" "$stamp"
fe_mem_scratch front-restart
TB_PID=

tb_start() {
	local log=$1 i
	shift
	"$tb" --socket "$SOCK" "$@" >"$TMP/tb.out" 2>"$log" &
	TB_PID=$!
	for i in $(seq 1 250); do
		grep -q '^test_backend: ready' "$TMP/tb.out" && return 0
		kill -0 "$TB_PID" 2>/dev/null || { cat "$log"; echo "FAIL: test_backend exited"; exit 1; }
		sleep 0.02
	done
	echo "FAIL: test_backend not ready"; exit 1
}

tb_stop() {
	kill -TERM "$TB_PID" && wait "$TB_PID"
	local rc=$?
	TB_PID=
	fe_expect "test_backend exit after SIGTERM" "$rc" 0
}

restart_cleanup() {
	[ -z "$TB_PID" ] || { kill -KILL "$TB_PID" 2>/dev/null; wait "$TB_PID" 2>/dev/null; }
	fe_cleanup
}
trap restart_cleanup EXIT

# stamp_counts ERRFILE: "reconnects replayed max-latency" from stamp's last line.
stamp_counts() {
	sed -n 's/^stamp: reconnects \([0-9]*\) replayed \([0-9]*\) max-latency-ms \([0-9]*\)$/\1 \2 \3/p' "$1" | tail -n 1
}

# run_restarts NAME EVERY SEED STAMP-ARGS...
run_restarts() {
	local name=$1 every=$2 seed=$3 rc counts rec rep
	shift 3
	rm -f "$TMP/disk.dump" "$TMP/$name.log"
	tb_start "$TMP/$name-tb.err" --size 16777216 --depth 32 --mode restart \
		--every "$every" --seed "$seed" --dump "$TMP/disk.dump"
	timeout 300 "$stamp" write --pvio "$SOCK" --blocks 4096 --seed "$seed" \
		--log "$TMP/$name.log" "$@" 2>"$TMP/$name-stamp.err"
	rc=$?
	tb_stop
	grep -v '^stamp: [0-9]' "$TMP/$name-stamp.err" | tail -n 5
	fe_expect "$name: stamp write exit" "$rc" 0
	fe_expect "$name: ERR lines" "$(grep -c '^ERR' "$TMP/$name.log")" 0
	read -r rec rep _ <<<"$(stamp_counts "$TMP/$name-stamp.err")"
	fe_bound "${rec:-0}" -gt 10 "$name: reconnects ${rec:-none}"
	fe_bound "${rep:-0}" -gt 0 "$name: requests replayed ${rep:-none}"
	fe_bound "$(grep -c '^test_backend: restart' "$TMP/$name-tb.err")" -gt 10 \
		"$name: backend restarts"
	"$stamp" verify --dev "$TMP/disk.dump" --log "$TMP/$name.log" >"$TMP/$name.verify"
	rc=$?
	tail -n 3 "$TMP/$name.verify"
	fe_expect "$name: verify exit" "$rc" 0
	grep -q '^verified [1-9][0-9]* blocks, 0 bad$' "$TMP/$name.verify" ||
		{ echo "FAIL: $name: no blocks verified"; exit 1; }
}

# 1. and 2.
run_restarts plain 40 11 --count 3000 --qd 8
run_restarts fua 25 12 --count 2000 --qd 16 --fua

# 3. Away for 3 s with reconnect_ms 1000 and io_timeout_ms 300: writes in
# flight fail with ENOTCONN (errno 107) after about 1.3 s (io timeout,
# then reconnect_ms, plus the 50 ms checks); the bound is 3 s. Then the
# backend comes back and later writes are acknowledged.
tb_start "$TMP/away-tb.err" --size 16777216 --mode restart --every 300 \
	--restart-delay-ms 3000 --seed 13 --dump "$TMP/disk.dump"
timeout 120 "$stamp" write --pvio "$SOCK" --blocks 4096 --count 700 --seed 13 \
	--qd 8 --reconnect-ms 1000 --io-timeout-ms 300 --keep-going \
	--log "$TMP/away.log" 2>"$TMP/away-stamp.err"
rc=$?
tb_stop
grep -v '^stamp: [0-9]' "$TMP/away-stamp.err" | tail -n 12
fe_expect "away: stamp write exit (errors expected)" "$rc" 1
errs=$(grep -c '^ERR [0-9]* [0-9]* 107$' "$TMP/away.log")
fe_bound "$errs" -gt 0 "away: writes failed with ENOTCONN ($errs)"
fe_expect "away: errors other than ENOTCONN" \
	"$(grep '^ERR' "$TMP/away.log" | grep -vc ' 107$')" 0
read -r rec _ lat <<<"$(stamp_counts "$TMP/away-stamp.err")"
fe_bound "${lat:-99999}" -lt 3000 "away: longest write ${lat:-?} ms"
fe_bound "${lat:-0}" -gt 999 "away: writes held at least reconnect_ms (${lat:-?} ms)"
fe_bound "${rec:-0}" -gt 0 "away: reconnected after being down (${rec:-0})"
last_err=$(grep -n '^ERR' "$TMP/away.log" | tail -n 1 | cut -d: -f1)
acks_after=$(tail -n +"$((last_err + 1))" "$TMP/away.log" | grep -c '^ACK')
fe_bound "$acks_after" -gt 100 "away: writes acknowledged after the errors"
"$stamp" verify --dev "$TMP/disk.dump" --log "$TMP/away.log" >"$TMP/away.verify"
fe_expect "away: verify exit" $? 0

# 4. Roll one acknowledged block back to an earlier stamp of its own: the
# verifier must name it.
blk=$(awk '$1 == "ACK" { n[$2]++; if (n[$2] == 2) { print $2; exit } }' "$TMP/plain.log")
[ -n "$blk" ] || { echo "FAIL: no block written twice in the plain run"; exit 1; }
first=$(awk -v b="$blk" '$1 == "ACK" && $2 == b { print $3; exit }' "$TMP/plain.log")
printf 'STAMP seed 11 blocks 4096\nACK %s %s\n' "$blk" "$first" >"$TMP/one.log"
cp "$TMP/disk.dump" "$TMP/old.img"
"$stamp" write --dev "$TMP/old.img" --blocks 4096 --count "$first" --seed 11 \
	--log "$TMP/old.log" 2>/dev/null || { echo "FAIL: stamp write --dev"; exit 1; }
# old.img now holds, for blk, the write "first" or a later one below it;
# put it under a log that claims a later ACK for blk.
later=$(awk -v b="$blk" -v f="$first" '$1 == "ACK" && $2 == b && $3 > f { print $3; exit }' "$TMP/plain.log")
printf 'STAMP seed 11 blocks 4096\nACK %s %s\n' "$blk" "$later" >"$TMP/claim.log"
out=$("$stamp" verify --dev "$TMP/old.img" --log "$TMP/claim.log")
rc=$?
echo "$out"
fe_expect "rolled-back block: verify exit" "$rc" 1
case $out in
*"bad block $blk: older than the last acknowledged write"*) echo "ok: bad block named" ;;
*) echo "FAIL: bad block not named"; exit 1 ;;
esac
echo "ok: front-restart"

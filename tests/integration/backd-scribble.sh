#!/usr/bin/env bash
# backd-scribble - issue 11: a frontend that scribbles over its own region
# while it runs IO, next to a good frontend on another device of the same
# pvio-backd.
#
# One daemon, two devices. `hostile_frontend scribble` runs against device
# 0 for PVIO_FRONT_SCRIBBLE_S seconds (default 20): random reads and writes
# with several requests in flight while it rewrites random bytes of the
# frontend's half of the header (now and then any header byte), the block
# config, the request ring's indices and entries, the response ring's
# consumer line, the indirect tables and the payloads, and rings doorbells
# in bursts; whenever the backend ends a session it connects again. Beside
# it `hostile_frontend good` runs against device 1 over and over, each
# round checking what it reads back and, from outside, the bytes of the
# backing file. Checks:
#   - the daemon stays alive and no engine process dies (no restart);
#   - every round on device 1 succeeded with the right bytes;
#   - the scribbler had IO answered and its sessions ended only by the
#     backend closing or dropping the device, never a response ring
#     corrupted by the backend;
#   - device 0's log is rate limited: at most 50 lines per second of
#     scribbling plus 50 (the budget: the engine's and the region
#     server's two peer limits of 10 lines a second each, their
#     "messages suppressed" lines, and one "device broken" line per
#     session, which the engine admits at 4 a second after a burst of 4);
#   - afterwards a fresh good frontend on device 0 works and its bytes
#     are right (a new session gets a clean region);
#   - SIGTERM stops the daemon with exit 0, and no sanitizer report.
# A longer run, outside make check:
#   PVIO_FRONT_SCRIBBLE_S=300 tests/integration/backd-scribble.sh build
#
# Usage: backd-scribble.sh [BUILD_DIR]
. "$(dirname "$0")/backd-lib.sh"

secs=${PVIO_FRONT_SCRIBBLE_S:-20}
seed=${PVIO_FRONT_SCRIBBLE_SEED:-$(( $(date +%s) ^ $$ ))}
cd "$tmp" || exit 1
truncate -s 64M a.img b.img
start_backd --blk a.img --socket a.sock --blk b.img --socket b.sock --queue-depth 32

timeout $((secs + 120)) "$HF" scribble a.sock "$secs" "$seed" >scribble.log 2>&1 &
spid=$!
rounds=0
while kill -0 "$spid" 2>/dev/null; do
	kill -0 "$backd_pid" 2>/dev/null || fail "pvio-backd died during the scribbling (seed $seed)"
	rm -f expect1.bin
	timeout 120 "$HF" good b.sock expect1.bin >good1.log 2>&1 ||
		{ cat good1.log; fail "device 1: round $((rounds + 1)) of good IO failed (seed $seed)"; }
	check_no_sanitizer good1.log
	cmp -n 131072 -i $((2048 * 512)):0 b.img expect1.bin ||
		fail "device 1: backing file differs at sector 2048 after round $((rounds + 1))"
	rounds=$((rounds + 1))
done
wait "$spid"
src=$?
sed 's/^/    hf| /' scribble.log
check_no_sanitizer scribble.log
[ "$src" -eq 0 ] || fail "hostile_frontend scribble exited $src (seed $seed)"
kill -0 "$backd_pid" 2>/dev/null || fail "pvio-backd died during the scribbling (seed $seed)"
echo "device 1: $rounds good rounds, all verified, during $secs s of scribbling"
[ "$rounds" -ge 2 ] || fail "device 1 ran only $rounds good rounds"

sum=$(grep '^scribble: ' scribble.log) || fail "no summary line from the scribbler"
val() { echo "$sum" | sed -n "s/.* $1 \([0-9]*\).*/\1/p"; }
[ "$(val answered)" -gt 0 ] || fail "the scribbler got nothing answered"
[ "$(val sessions)" -ge 2 ] || fail "the scribbler never lost a session: is it scribbling?"
[ "$(val rsp-broken)" -eq 0 ] || fail "the backend corrupted a response ring (seed $seed)"
[ "$(val reconnect-failed)" -eq 0 ] || fail "the scribbler could not connect again (seed $seed)"
if grep -q 'starting another' backd.log; then
	fail "an engine died under the scribbler (seed $seed)"
fi

n=$(grep -c 'dev0: ' backd.log)
bound=$((50 * secs + 50))
echo "device 0: $n log lines in $secs s (bound $bound); $(grep -c 'dev0: [0-9]* messages suppressed' backd.log) 'messages suppressed' lines"
[ "$n" -le "$bound" ] || fail "device 0 logged $n lines in $secs s, more than $bound"
grep -q 'dev0: .*device broken' backd.log || fail "no 'device broken' line for device 0"

# A fresh frontend on device 0 gets a clean region and good IO.
timeout 120 "$HF" good a.sock expect0.bin >good0.log 2>&1 ||
	{ cat good0.log; fail "device 0: a good frontend after the scribbler failed"; }
check_no_sanitizer good0.log
cmp -n 131072 -i $((2048 * 512)):0 a.img expect0.bin ||
	fail "device 0: backing file differs at sector 2048 after the scribbler"
echo "device 0: a good frontend after the scribbler works"
stop_backd
echo PASS

#!/usr/bin/env bash
# backd-store-lock - one daemon per backing store, and a stop that frees it.
#
# A second pvio-backd on a store that a running one exports is refused
# with a message naming the reason, and the first one keeps serving. A
# daemon stopped with SIGTERM while a frontend streams writes has let go
# of the store when it exits: one started at once on the same file gets
# ready (five rounds). It once refused: the io_uring of the engine that
# had just exited still held the file, and so its lock.
#
# Usage: backd-store-lock.sh [BUILD_DIR]
. "$(dirname "$0")/backd-lib.sh"

cd "$tmp" || exit 1
truncate -s 64M disk.img

# A second daemon on a store that is in use.
start_backd --blk disk.img --socket pv.sock --queue-depth 32
t0=$(date +%s)
timeout 60 "$BACKD" --blk disk.img --socket other.sock >second.out 2>second.log
rc=$?
t1=$(date +%s)
sed 's/^/    second| /' second.log
check_no_sanitizer second.log
[ "$rc" -ne 0 ] || fail "a second daemon on the same store exited 0"
[ "$rc" -ne 124 ] || fail "a second daemon on the same store did not give up within 60 s"
grep -q 'disk.img is exported by another pvio-backd' second.log ||
	fail "the second daemon's refusal does not say why"
echo "ok: second daemon refused after $((t1 - t0)) s, exit $rc"
[ ! -e other.sock ] || fail "the refused daemon left its socket behind"
run_hf good pv.sock good.bin
echo "ok: the first daemon still serves"
stop_backd

# Stop with writes in flight, start again at once.
for round in 1 2 3 4 5; do
	start_backd --blk disk.img --socket pv.sock --queue-depth 32
	# Emptied here: the client truncates it only after the fork, and the
	# last round's "phase1 done" must not be taken for this one's.
	: >hf.log
	"$HF" stream pv.sock expect.bin >hf.log 2>&1 &
	hf_pid=$!
	extra_cleanup='kill -KILL $hf_pid 2>/dev/null'
	t_wait_for hf.log '^phase1 done' 20 "$hf_pid" || { cat hf.log; fail "round $round: client never finished phase 1"; }
	stop_backd
	timeout 20 tail --pid="$hf_pid" -f /dev/null
	wait "$hf_pid"
	rc=$?
	check_no_sanitizer hf.log
	[ "$rc" -eq 0 ] || { cat hf.log; fail "round $round: client exited $rc"; }
	echo "ok: round $round: stopped with writes in flight"
done
start_backd --blk disk.img --socket pv.sock --queue-depth 32
echo "ok: a daemon started right after the last stop got ready"
stop_backd
cmp -n $((4 * 131072)) disk.img expect.bin || fail "data acknowledged before the last SIGTERM is not in the file"
echo PASS

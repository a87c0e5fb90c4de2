#!/usr/bin/env bash
# backd-cycle - issue 11, finding 11: a frontend that connects (full
# handshake) and leaves in a loop. Each cycle used to log five lines
# unlimited and to start an IO thread and an io_uring per queue. Now the
# session lines are rate-limited per device and process, and engine starts
# are throttled (a burst of 4, then 4 a second): over 3 s of cycling the
# log grows by at most 80 lines, at most 20 sessions reach CONNECTED, the
# engine's thread count is back where it was, and a well-behaved frontend
# is served right after.
#
# Usage: backd-cycle.sh [BUILD_DIR]
. "$(dirname "$0")/backd-lib.sh"

cd "$tmp" || exit 1
truncate -s 16M disk.img
start_backd --blk disk.img --socket pv.sock
eng=$(pgrep -P "$backd_pid" | head -1)
[ -n "$eng" ] || fail "no engine process"
threads0=$(ls "/proc/$eng/task" | wc -l)
lines0=$(wc -l <backd.log)
out=$(timeout 60 "$HF" cycle pv.sock 3000) || fail "cycling frontend failed: $out"
cycles=$(echo "$out" | awk '/^cycles/ {print $2}')
lines=$(($(wc -l <backd.log) - lines0))
echo "$cycles connect/close cycles in 3 s; $lines log lines"
[ "$lines" -le 80 ] || fail "$lines log lines for $cycles cycles: not rate-limited"
[ "${cycles:-0}" -ge 1 ] || fail "no cycle completed"
[ "$cycles" -le 20 ] || fail "$cycles sessions started IO in 3 s: engine starts not throttled"
grep -q 'messages suppressed' backd.log || fail "suppressed lines not counted in the log"
sleep 0.5
threads1=$(ls "/proc/$eng/task" | wc -l)
[ "$threads1" -le "$threads0" ] || fail "engine has $threads1 threads after cycling, $threads0 before"
run_hf good pv.sock expect.bin
stop_backd
echo PASS

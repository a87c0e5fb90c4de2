#!/usr/bin/env bash
# backd-sigterm - SIGTERM while a frontend keeps writes in flight: the
# daemon finishes them, flushes, prints statistics and exits 0; the data
# acknowledged before is in the backing file.
#
# Usage: backd-sigterm.sh [BUILD_DIR]
. "$(dirname "$0")/backd-lib.sh"

cd "$tmp" || exit 1
truncate -s 64M disk.img
start_backd --blk disk.img --socket pv.sock --queue-depth 32
"$HF" stream pv.sock expect.bin >hf.log 2>&1 &
hf_pid=$!
extra_cleanup='kill -KILL $hf_pid 2>/dev/null'
t_wait_for hf.log '^phase1 done' 20 "$hf_pid" || { cat hf.log; fail "client never finished phase 1"; }
sleep 0.5
kill -0 "$hf_pid" || { cat hf.log; fail "client died while streaming"; }
stop_backd
grep -q 'signal 15: finishing in-flight IO and exiting' backd.log || fail "no shutdown line"
written=$(sed -n 's/.*dev0: queue 0: requests [0-9]*, read [0-9]* bytes, written \([0-9]*\) bytes.*/\1/p' backd.log | tail -n 1)
echo "bytes written by the daemon: $written"
[ "${written:-0}" -gt $((4 * 131072)) ] || fail "no IO streamed before SIGTERM"
timeout 20 tail --pid="$hf_pid" -f /dev/null
wait "$hf_pid"
rc=$?
sed 's/^/    hf| /' hf.log
check_no_sanitizer hf.log
[ "$rc" -eq 0 ] || fail "client exited $rc"
cmp -n $((4 * 131072)) disk.img expect.bin || fail "data acknowledged before SIGTERM is not in the file"
echo PASS

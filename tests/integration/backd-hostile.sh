#!/usr/bin/env bash
# backd-hostile - pvio-backd against a hostile frontend, while serving a
# well-behaved one in the same process.
#
# One daemon, three devices: a read-write target for malformed requests, a
# read-only export, and a good device. hostile_frontend sends each kind of
# malformed request (unknown op, sector past the end, segments outside the
# data area, too many segments, reserved bits, unaligned buffer, write to
# the read-only device) and checks its error status, then a duplicate
# in-flight id and a producer index past the ring size, which must mark the
# device broken (log line, back.state CLOSED) until the frontend leaves.
# A flood of bad requests is answered but its log lines are rate-limited.
# Then a legitimate round on the good device (write/read back, FUA,
# indirect, flush, discard, write-zeroes, GET_ID, IO past the end) whose
# bytes are checked in the backing file with cmp; the read-only file is
# unchanged (checksum before/after).
#
# Usage: backd-hostile.sh [BUILD_DIR]
. "$(dirname "$0")/backd-lib.sh"

cd "$tmp" || exit 1
truncate -s 64M rw.img good.img
head -c $((4 * 1024 * 1024)) /dev/urandom >ro.img
ro_sum=$(sha256sum <ro.img)

start_backd --blk rw.img --socket rw.sock --blk ro.img --ro --socket ro.sock \
	--blk good.img --socket good.sock --queue-depth 32

run_hf hostile rw.sock ro.sock
grep -q 'dev0: device broken: queue 0: request id 77 is already in flight' backd.log ||
	fail "no log line for the duplicate in-flight id"
grep -q 'dev0: device broken: request ring producer index out of range' backd.log ||
	fail "no log line for the producer index past the ring size"
grep -q 'dev1: queue 0: request id 8 op 1 refused, status 5: write to a read-only device' backd.log ||
	fail "no log line for the write to the read-only device"
[ "$(grep -c 'device broken' backd.log)" -eq 2 ] || fail "broken logged other than once per case"

run_hf flood rw.sock
refused=$(grep -c 'dev0: queue 0: request id \(5[0-9][0-9]\|600\) op 9 refused' backd.log)
echo "flood: $refused of 41 bad requests logged"
[ "$refused" -ge 2 ] && [ "$refused" -le 11 ] || fail "flood logged $refused lines, want 2..11"
grep -Eq 'dev0: [0-9]+ messages suppressed' backd.log || fail "no 'messages suppressed' line"

run_hf ro ro.sock
run_hf good good.sock expect.bin

# The good device's bytes, seen from outside: the indirect write at sector
# 2048, the discarded and write-zeroed ranges.
cmp -n 131072 -i $((2048 * 512)):0 good.img expect.bin ||
	fail "backing file differs from what was written at sector 2048"
cmp -n 65536 -i $((4096 * 512)):0 good.img /dev/zero || fail "discarded range not zero in the file"
cmp -n 65536 -i $((6144 * 512)):0 good.img /dev/zero || fail "write-zeroed range not zero in the file"
od -A d -t x1 -j $((2048 * 512)) -N 16 good.img
[ "$(sha256sum <ro.img)" = "$ro_sum" ] || fail "the read-only file changed"
[ "$(stat -c %s good.img)" -eq $((64 * 1024 * 1024)) ] || fail "good.img changed size"

kill -USR1 "$backd_pid"
t_wait_for backd.log 'dev2: queue 0: requests [1-9][0-9]*, read [1-9]' 5 ||
	fail "SIGUSR1 printed no statistics"
stop_backd
grep -q 'dev1: .*O_DIRECT\|dev1: ro.img: .*direct IO' backd.log || fail "no IO mode logged"
echo PASS

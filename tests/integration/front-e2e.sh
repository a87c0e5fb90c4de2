#!/usr/bin/env bash
# End to end through pvio-backd: the frontend library and pvio-bench write
# 256 MiB at random offsets with mixed sizes and read it back (--verify);
# the file is then checked from outside (cmp against the pattern generated
# independently, and a read-back through plain io_uring); flush; discard
# reads back as zeroes; IO past the end gets RANGE; a read-only export
# refuses writes with ROFS and leaves the file unchanged.
#
# Usage: front-e2e.sh BUILD_DIR
set -u
B=${1:-build}
. "$(dirname "$0")/front-lib.sh"
fe_need "$B/pvio-backd" "$B/pvio-bench" "$B/tests/progs/front_blkop"
TMP=$(mktemp -d /var/tmp/pvio-front-e2e.XXXXXX) || exit 1
trap fe_cleanup EXIT
img=$TMP/disk.img sock=$TMP/d.sock op=$B/tests/progs/front_blkop
size=$((256 << 20)) sectors=$((256 << 11))
truncate -s $size "$img" || exit 1

fe_backd_start "$TMP/backd.log" --blk "$img" --queues 2 --queue-depth 64 \
	--socket "$sock" || exit 1

# 1. Write everything once (random order, sizes 4k..128k), read back, check.
"$B/pvio-bench" --socket "$sock" --verify --bs 4k,8k,16k,32k,64k,128k \
	--iodepth 16 --jobs 2 --seed 7 --no-progress --json >"$TMP/verify.json"
rc=$?
cat "$TMP/verify.json"
fe_expect "pvio-bench --verify exit" $rc 0
grep -q '"ios":[1-9]' "$TMP/verify.json" || { echo "FAIL: no IOs"; exit 1; }

# 2. Flush through the frontend.
fe_expect "flush" "$("$op" "$sock" flush)" "flush: OK"

# 3. From outside: the file equals the pattern generated independently...
"$B/pvio-bench" --make-pattern "$TMP/expect.img" --filesize $size --seed 7 || exit 1
cmp "$img" "$TMP/expect.img" || { echo "FAIL: file differs from the pattern"; exit 1; }
echo "ok: backing file equals the generated pattern"
# ... and a plain io_uring read-back of the file checks every 4 KiB.
"$B/pvio-bench" --engine native --file "$img" --verify-only --bs 128k \
	--iodepth 8 --seed 7 --no-progress >/dev/null
fe_expect "native --verify-only" $? 0
# The checker can fail: one flipped byte in the copy is found, by offset.
printf 'Z' | dd of="$TMP/expect.img" bs=1 seek=$((100 * 1048576 + 77)) conv=notrunc 2>/dev/null
out=$("$B/pvio-bench" --engine native --file "$TMP/expect.img" --verify-only \
	--bs 64k --iodepth 4 --seed 7 --no-progress 2>&1 >/dev/null)
rc=$?
echo "$out"
fe_expect "verify of a corrupted copy exit" $rc 1
case $out in
*"mismatch at offset $((100 * 1048576))"*) echo "ok: offset reported" ;;
*) echo "FAIL: offset not reported"; exit 1 ;;
esac
rm -f "$TMP/expect.img"

# 4. Discard, then the range reads back as zeroes (it held data before).
fe_expect "read before discard" "$("$op" "$sock" read 2048 65536)" "read: OK nonzero"
fe_expect "discard" "$("$op" "$sock" discard 2048 65536)" "discard: OK"
fe_expect "read after discard" "$("$op" "$sock" read 2048 65536)" "read: OK zero"
fe_expect "write-zeroes" "$("$op" "$sock" wzeroes 8192 4096)" "wzeroes: OK"
fe_expect "read after write-zeroes" "$("$op" "$sock" read 8192 4096)" "read: OK zero"

# 5. Past the end: RANGE, for reads, writes and a request straddling it.
fe_expect "read past end" "$("$op" "$sock" read $sectors 4096)" "read: RANGE -"
fe_expect "write past end" "$("$op" "$sock" write $sectors 4096 1)" "write: RANGE"
fe_expect "read straddling end" "$("$op" "$sock" read $((sectors - 8)) 8192)" "read: RANGE -"
fe_backd_stop || exit 1

# 6. Read-only export: writes refused with ROFS, file unchanged.
before=$(sha256sum <"$img")
fe_backd_start "$TMP/backd-ro.log" --blk "$img" --ro --socket "$sock" || exit 1
fe_expect "read-only write" "$("$op" "$sock" write 0 4096 255)" "write: ROFS"
fe_expect "read-only read" "$("$op" "$sock" read 0 4096)" "read: OK nonzero"
"$B/pvio-bench" --socket "$sock" --rw=randwrite --bs 4k --size 1m \
	--no-progress >/dev/null 2>"$TMP/ro-bench.err"
rc=$?
cat "$TMP/ro-bench.err"
fe_expect "pvio-bench write on a read-only export exit" $rc 1
grep -q 'ROFS' "$TMP/ro-bench.err" || { echo "FAIL: no ROFS message"; exit 1; }
fe_backd_stop || exit 1
after=$(sha256sum <"$img")
fe_expect "sha256 unchanged by the read-only export" "$after" "$before"
echo "front-e2e: all checks passed"

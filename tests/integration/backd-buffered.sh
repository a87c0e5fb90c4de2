#!/usr/bin/env bash
# pvio-backd on a file system without O_DIRECT falls back to buffered IO,
# says so once, and loses nothing: for each way such a file system fails
# (the open refuses O_DIRECT; the open takes it and the IO refuses), a
# 32 MiB --verify run through the daemon, then the file checked from
# outside against the independently generated pattern. Without the shim
# the same file is served with O_DIRECT and no such line is logged.
#
# Usage: backd-buffered.sh BUILD_DIR
set -u
B=${1:-build}
. "$(dirname "$0")/front-lib.sh"
fe_need "$B/pvio-backd" "$B/pvio-bench"
SHIM=$(cd "$B" && pwd)/tests/shims/nodirect.so
[ -f "$SHIM" ] || { echo "missing $SHIM (make progs)"; exit 1; }
TMP=$(mktemp -d /var/tmp/pvio-backd-buffered.XXXXXX) || exit 1
trap fe_cleanup EXIT
img=$TMP/disk.img sock=$TMP/d.sock size=$((32 << 20))
line='O_DIRECT not available on this file system, using buffered IO'

"$B/pvio-bench" --make-pattern "$TMP/expect.img" --filesize $size --seed 11 || exit 1

# The file system under /var/tmp must take O_DIRECT for the checks below
# to mean anything.
fe_backd_start "$TMP/direct.log" --blk "$TMP/expect.img" --ro --socket "$sock" || exit 1
fe_backd_stop || exit 1
if grep -q "$line" "$TMP/direct.log"; then
	echo "SKIP: the file system of /var/tmp has no O_DIRECT itself"
	exit 77
fi
echo "ok: without the shim the daemon uses O_DIRECT"

for mode in open io; do
	rm -f "$img"
	truncate -s $size "$img" || exit 1
	PVIO_SHIM_NODIRECT=$mode LD_PRELOAD=$SHIM \
		fe_backd_start "$TMP/$mode.log" --blk "$img" --socket "$sock" || exit 1
	n=$(grep -c "$line" "$TMP/$mode.log")
	fe_expect "$mode: fallback lines in the daemon log" "$n" 1
	"$B/pvio-bench" --socket "$sock" --verify --bs 4k,16k,128k --iodepth 8 \
		--seed 11 --no-progress >"$TMP/$mode.out" 2>&1
	rc=$?
	cat "$TMP/$mode.out"
	fe_expect "$mode: pvio-bench --verify exit" $rc 0
	fe_backd_stop || exit 1
	cmp "$img" "$TMP/expect.img" ||
		{ echo "FAIL: $mode: the file differs from the pattern"; exit 1; }
	echo "ok: $mode: buffered fallback, file equals the pattern"
done
echo "backd-buffered: all checks passed"

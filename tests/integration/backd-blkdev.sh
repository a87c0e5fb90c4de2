#!/usr/bin/env bash
# backd-blkdev - a block device as the backing store: pvio-backd takes its
# size from BLKGETSIZE64 and its block size from BLKSSZGET, discards with
# BLKDISCARD, and the legitimate round of hostile_frontend passes on it.
# Uses a loop device over a file; skips where loop devices are unavailable.
#
# Usage: backd-blkdev.sh [BUILD_DIR]
. "$(dirname "$0")/backd-lib.sh"

cd "$tmp" || exit 1
truncate -s 32M backing.img
loopdev=$(losetup -f --show backing.img 2>/dev/null) ||
	{ echo "SKIP: cannot set up a loop device (not root, or no loop support)"; exit 77; }
extra_cleanup='losetup -d "$loopdev" 2>/dev/null'
echo "loop device: $loopdev"
start_backd --blk "$loopdev" --socket blk.sock
grep -Eq "dev0: $loopdev: 33554432 bytes, block size 512" backd.log ||
	fail "block device size or block size wrong"
run_hf good blk.sock expect.bin
stop_backd
cmp -n 131072 -i $((2048 * 512)):0 backing.img expect.bin ||
	fail "file under the loop device differs from what was written"
cmp -n 65536 -i $((4096 * 512)):0 backing.img /dev/zero || fail "discarded range not zero"
echo PASS

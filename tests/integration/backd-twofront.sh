#!/usr/bin/env bash
# backd-twofront - one frontend per device: a second one is refused with a
# log line while the first keeps working; after the first closes (orderly)
# and after a frontend vanishes without closing, the next one connects to
# a region of its own, freshly laid out (higher back.generation), and
# sees the data.
#
# Usage: backd-twofront.sh [BUILD_DIR]
. "$(dirname "$0")/backd-lib.sh"

cd "$tmp" || exit 1
truncate -s 16M disk.img
start_backd --blk disk.img --socket pv.sock
run_hf twofront pv.sock
grep -q 'dev0: second frontend refused, the device already has one (peer 1)' backd.log ||
	fail "no log line for the refused second frontend"
grep -q 'dev0: frontend peer 1 closed the device' backd.log || fail "orderly close not logged"
grep -Eq 'dev0: frontend peer 3 left; its region and doorbells go with it' backd.log ||
	fail "vanished frontend not logged"
grep -Eq 'dev0: session 3: region laid out \(generation [0-9]+\)' backd.log ||
	fail "no fresh layout for the third frontend"
stop_backd
echo PASS

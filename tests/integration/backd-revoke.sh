#!/usr/bin/env bash
# backd-revoke - no revocation gap: a frontend that kept a mapping of its
# region after it left sees nothing of the next frontend (its data, its
# header) and cannot reach the next frontend's device through it (forged
# requests and state), because every frontend session gets a region and
# doorbells of its own (tests/progs/hostile_frontend revoke).
#
# Usage: backd-revoke.sh [BUILD_DIR]
. "$(dirname "$0")/backd-lib.sh"

cd "$tmp" || exit 1
truncate -s 16M disk.img
start_backd --blk disk.img --socket pv.sock
run_hf revoke pv.sock
grep -q 'ok: the old mapping sees nothing of the next frontend' "$tmp/hf.log" ||
	fail "no check of the old mapping"
grep -Eq 'dev0: frontend peer 2 joined \(session 2\)' backd.log ||
	fail "the second frontend did not get a session of its own"
grep -q 'device broken' backd.log && fail "the forged requests reached a device"
stop_backd
echo PASS

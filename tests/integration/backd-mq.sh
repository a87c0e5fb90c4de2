#!/usr/bin/env bash
# backd-mq - several queues per device, sleeping and polling IO threads:
# a 4-queue device takes IO on every queue, all at once, each answered on
# its own queue; then the same with --poll on 2 queues; the data written
# through each queue is in the backing file.
#
# Usage: backd-mq.sh [BUILD_DIR]
. "$(dirname "$0")/backd-lib.sh"

cd "$tmp" || exit 1
truncate -s 16M mq.img
start_backd --blk mq.img --queues 4 --queue-depth 16 --socket mq.sock
grep -q 'dev0: .*4 queue(s) of depth 16.*vectors 5' backd.log || fail "queues not logged"
run_hf mq mq.sock 4
stop_backd
for q in 0 1 2 3; do
	grep -Eq "dev0: queue $q: requests [1-9][0-9]*, read [1-9][0-9]* bytes, written [1-9]" backd.log ||
		fail "queue $q did no IO"
done

start_backd --poll --blk mq.img --queues 2 --socket mq.sock
run_hf mq mq.sock 2
stop_backd
# Polling threads never need a doorbell after the first request.
grep -Eq 'dev0: queue 1: requests [1-9][0-9]*, .*doorbells in [0-2],' backd.log ||
	fail "--poll queue slept on doorbells"
echo PASS

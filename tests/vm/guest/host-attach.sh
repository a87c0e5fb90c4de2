# Guest side of tests/suites/84-host-attach.sh: this guest is the
# management domain. It loads pvio_core.ko and pvio_host.ko, checks the
# ioctl errors of /dev/pvio-back (tests/progs/host_ioctl), loads
# pvblkback.ko, and serves files through `pvio-backd --engine kernel` to
# userspace frontends over the ivshmem socket:
#   - pvio-bench --verify on the virtio-blk disk /dev/vda (256 MiB, random
#     offsets, sizes 4k..128k), then --verify-only on a new session (a new
#     kernel device); the host compares the disk image with the pattern
#     after the boot;
#   - the hostile frontend programs (hostile, flood, ro, mq, twofront,
#     good) against kernel-served files on tmpfs, the read-only file
#     unchanged, the good device's bytes compared with what was written;
#   - a frontend scribbling over its region (hostile_frontend scribble)
#     for 15 s on one kernel-served device while good rounds with checked
#     bytes run on another; a fresh frontend on it works afterwards;
#   - the engine process (holding /dev/pvio-back) SIGKILLed 5 times under
#     a libpvio writer (tests/progs/stamp): every acknowledged block is
#     there afterwards;
#   - the daemons stop on SIGTERM with every kernel device gone, and the
#     modules unload.
# Prints one "host-attach: PASS <check>" or "host-attach: FAIL <check>:
# why" line per check and exits 1 if any failed.

failed=0
pass() { echo "host-attach: PASS $1"; }
fail() { echo "host-attach: FAIL $1: $2"; failed=1; }
P=/pvio
T=/tmp/ha
mkdir -p $T

# wait_for FILE REGEX SECONDS
wait_for() {
	n=0
	while [ $n -lt $(($3 * 10)) ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}

# start_backd LOG ARGS...: a kernel-mode daemon; sets $bpid.
start_backd() {
	log=$1
	shift
	: >"$log"
	$P/pvio-backd --engine kernel "$@" >/dev/null 2>"$log" &
	bpid=$!
	wait_for "$log" '^pvio-backd: ready$' 20
}

# stop_backd NAME: SIGTERM, expect exit 0.
stop_backd() {
	kill -TERM "$bpid"
	wait "$bpid"
	rc=$?
	if [ $rc -eq 0 ]; then pass "$1-sigterm"; else fail "$1-sigterm" "pvio-backd exited $rc"; fi
}

pvio_devices() { ls /sys/bus/pvio/devices 2>/dev/null | wc -l; }

insmod $P/pvio_core.ko || { fail setup "insmod pvio_core.ko"; exit 1; }

# (1) no /dev/pvio-back yet: a clear error, exit 1.
truncate -s 16M $T/x.img
$P/pvio-backd --engine kernel --blk $T/x.img --socket $T/x.sock 2>$T/nodev.log
rc=$?
if [ $rc -eq 1 ] && grep -q 'load pvio_host.ko and pvblkback.ko' $T/nodev.log; then
	pass no-dev-error
else
	fail no-dev-error "exit $rc: $(cat $T/nodev.log)"
fi

insmod $P/pvio_host.ko || { fail setup "insmod pvio_host.ko"; exit 1; }
if [ "$(stat -c %a /dev/pvio-back)" = 600 ]; then pass dev-mode; else fail dev-mode "$(ls -l /dev/pvio-back)"; fi

# (2) the ioctl errors, before any class driver is there.
$P/host_ioctl errors $T/x.img >$T/hi.log 2>&1
rc=$?
cat $T/hi.log
if [ $rc -eq 0 ]; then pass ioctl-errors; else fail ioctl-errors "host_ioctl errors exited $rc"; fi

insmod $P/pvblkback.ko || { fail setup "insmod pvblkback.ko"; exit 1; }
$P/host_ioctl bound $T/x.img >$T/hb.log 2>&1
rc=$?
cat $T/hb.log
if [ $rc -eq 0 ]; then pass ioctl-bound; else fail ioctl-bound "host_ioctl bound exited $rc"; fi

# (3) pvio-bench --verify through the kernel backend on /dev/vda.
if [ -b /dev/vda ]; then
	if start_backd $T/vda.log --blk /dev/vda --queues 2 --queue-depth 32 \
		--socket $T/vda.sock; then
		$P/pvio-bench --engine=pvio --socket=$T/vda.sock --verify \
			--bs=4k,16k,64k,128k --iodepth=8 --jobs=2 --filesize=268435456 \
			--seed=7 --no-progress >$T/bench.log 2>&1
		rc=$?
		cat $T/bench.log
		if [ $rc -eq 0 ]; then pass bench-verify; else fail bench-verify "pvio-bench exited $rc"; fi
		# A new frontend gets a new kernel device and sees the same data.
		$P/pvio-bench --engine=pvio --socket=$T/vda.sock --verify-only \
			--bs=128k --iodepth=4 --filesize=268435456 --seed=7 \
			--no-progress >$T/bench2.log 2>&1
		rc=$?
		tail -5 $T/bench2.log
		if [ $rc -eq 0 ]; then pass bench-reverify; else fail bench-reverify "pvio-bench exited $rc"; fi
		n=$(grep -c 'served by the kernel: pvio device pvio' $T/vda.log)
		s=$(grep -c 'kernel backend of peer [0-9]* stopped' $T/vda.log)
		if [ "$n" -ge 2 ] && [ "$s" -ge 2 ]; then
			pass bench-sessions
		else
			fail bench-sessions "$n kernel devices started, $s stopped for two frontends"
		fi
		stop_backd bench
		cat $T/vda.log
		sync
	else
		fail bench-verify "pvio-backd did not get ready: $(cat $T/vda.log)"
	fi
else
	fail bench-verify "no /dev/vda"
fi

# (4) hostile frontends against kernel-served files.
cd $T || exit 1
truncate -s 16M rw.img good.img mq.img
dd if=/dev/urandom of=ro.img bs=1M count=4 2>/dev/null
ro_sum=$(sha256sum <ro.img)
if start_backd $T/hf.log --blk rw.img --socket rw.sock --blk ro.img --ro --socket ro.sock \
	--blk good.img --socket good.sock --queue-depth 32 \
	--blk mq.img --queues 4 --socket mq.sock \
	--blk x.img --socket two.sock; then
	for m in "hostile rw.sock ro.sock" "flood rw.sock" "ro ro.sock" \
		"twofront two.sock" "good good.sock expect.bin" "mq mq.sock 4"; do
		set -- $m
		timeout 180 $P/hostile_frontend "$@" >hf-$1.out 2>&1
		rc=$?
		sed "s/^/    hf-$1| /" hf-$1.out
		if [ $rc -eq 0 ]; then pass "hostile-$1"; else fail "hostile-$1" "hostile_frontend $1 exited $rc"; fi
	done
	# The good device's bytes seen from outside the backend.
	if dd if=good.img bs=512 skip=2048 count=256 2>/dev/null | cmp - expect.bin; then
		pass good-bytes
	else
		fail good-bytes "good.img differs at sectors 2048..2303 from what was written"
	fi
	dd if=/dev/zero of=zero.bin bs=512 count=128 2>/dev/null
	if dd if=good.img bs=512 skip=4096 count=128 2>/dev/null | cmp - zero.bin &&
		dd if=good.img bs=512 skip=6144 count=128 2>/dev/null | cmp - zero.bin; then
		pass good-discard-zero
	else
		fail good-discard-zero "discarded or write-zeroed range of good.img not zero"
	fi
	if [ "$(sha256sum <ro.img)" = "$ro_sum" ]; then pass ro-unchanged; else fail ro-unchanged "ro.img changed"; fi
	n=$(dmesg | grep -c 'pvblkback pvio[0-9]*: queue 0: frontend broke the protocol')
	if [ "$n" -ge 2 ]; then
		pass broken-logged
	else
		fail broken-logged "$n kernel log lines for broken devices, want 2 (duplicate id, producer index)"
	fi
	stop_backd hostile
	cat $T/hf.log
else
	fail hostile "pvio-backd did not get ready: $(cat $T/hf.log)"
fi

# (4b) the kernel engine dies and comes back: the daemon's engine process
# (which holds /dev/pvio-back) is SIGKILLed 5 times while a libpvio
# writer stamps blocks with FUA; the kernel device goes with it, the next
# engine starts a new one on the same region, the writer replays, and
# every acknowledged block verifies.
engine_of() {
	for s in /proc/[0-9]*/stat; do
		set -- $(cat "$s" 2>/dev/null)
		[ "${4:-}" = "$bpid" ] && { echo "$1"; return; }
	done
}
truncate -s 32M $T/kr.img
if start_backd $T/kr.log --blk $T/kr.img --socket $T/kr.sock; then
	$P/stamp write --pvio $T/kr.sock --blocks 2048 --seconds 600 --fua --qd 8 \
		--log $T/kr.stamp 2>$T/kr.err &
	spid=$!
	wait_for $T/kr.log 'served by the kernel' 20
	k=0
	while [ $k -lt 5 ]; do
		sleep 1
		before=$(grep -c 'served by the kernel' $T/kr.log)
		eng=$(engine_of)
		[ -n "$eng" ] || break
		kill -KILL "$eng"
		n=0
		while [ "$(grep -c 'served by the kernel' $T/kr.log)" -le "$before" ] && [ $n -lt 200 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		[ $n -lt 200 ] || break
		k=$((k + 1))
	done
	sleep 1
	kill -TERM $spid
	wait $spid
	src=$?
	tail -n 2 $T/kr.err
	if [ $k -eq 5 ] && [ $src -eq 0 ] && ! grep -q '^ERR' $T/kr.stamp &&
	   grep -q 'reconnects [1-9]' $T/kr.err &&
	   $P/stamp verify --dev $T/kr.img --log $T/kr.stamp; then
		pass kernel-restart
	else
		fail kernel-restart "$k of 5 engine restarts, writer exit $src: $(grep -c '^ERR' $T/kr.stamp) failed writes; $(tail -n 4 $T/kr.log)"
	fi
	stop_backd kernel-restart
else
	fail kernel-restart "pvio-backd did not get ready: $(cat $T/kr.log)"
fi

# (4c) a frontend scribbling over its region (hostile_frontend scribble:
# random IO while it rewrites random bytes of the header, the block
# config, the request ring and the data area, reconnecting whenever the
# kernel backend ends a session) for 15 s on one kernel-served device,
# while good rounds with checked bytes run on another; then a fresh
# frontend on the scribbled device works. pvio-vm-run fails the boot on
# a BUG/WARNING/Oops on the console.
truncate -s 16M $T/sa.img $T/sb.img
if start_backd $T/sc.log --blk $T/sa.img --socket $T/sa.sock \
	--blk $T/sb.img --socket $T/sb.sock --queue-depth 32; then
	k0=$(dmesg | grep -c pvblkback)
	$P/hostile_frontend scribble $T/sa.sock 15 >$T/sc.out 2>&1 &
	scpid=$!
	rounds=0 bad=''
	while kill -0 $scpid 2>/dev/null; do
		kill -0 $bpid 2>/dev/null || { bad="pvio-backd died"; break; }
		rm -f $T/sb.expect
		if ! timeout 180 $P/hostile_frontend good $T/sb.sock $T/sb.expect >$T/sb.out 2>&1; then
			bad="round $((rounds + 1)): hostile_frontend good failed: $(grep FAIL $T/sb.out)"
			break
		fi
		if ! dd if=$T/sb.img bs=512 skip=2048 count=256 2>/dev/null | cmp - $T/sb.expect; then
			bad="round $((rounds + 1)): sb.img differs at sectors 2048..2303"
			break
		fi
		rounds=$((rounds + 1))
	done
	wait $scpid
	src=$?
	cat $T/sc.out
	sum=$(grep '^scribble: ' $T/sc.out)
	answered=$(echo "$sum" | sed -n 's/.* answered \([0-9]*\).*/\1/p')
	rspb=$(echo "$sum" | sed -n 's/.* rsp-broken \([0-9]*\).*/\1/p')
	recf=$(echo "$sum" | sed -n 's/.* reconnect-failed \([0-9]*\).*/\1/p')
	echo "scribble: $rounds good rounds on the other device; $(($(dmesg | grep -c pvblkback) - k0)) pvblkback kernel log lines"
	if [ $src -eq 0 ] && [ "${answered:-0}" -gt 0 ] && [ "${rspb:-1}" -eq 0 ] &&
	   [ "${recf:-1}" -eq 0 ] && kill -0 $bpid 2>/dev/null; then
		pass scribble
	else
		fail scribble "scribbler exit $src, summary '$sum'; daemon alive: $(kill -0 $bpid 2>/dev/null && echo yes || echo no)"
	fi
	if [ -z "$bad" ] && [ $rounds -ge 1 ]; then
		pass scribble-good
	else
		fail scribble-good "${bad:-no good round finished}"
	fi
	if timeout 180 $P/hostile_frontend good $T/sa.sock $T/sa.expect >$T/sa.out 2>&1 &&
	   dd if=$T/sa.img bs=512 skip=2048 count=256 2>/dev/null | cmp - $T/sa.expect; then
		pass scribble-after
	else
		fail scribble-after "a good frontend on the scribbled device: $(grep FAIL $T/sa.out)"
	fi
	stop_backd scribble
	grep -c . $T/sc.log
	tail -n 20 $T/sc.log
else
	fail scribble "pvio-backd did not get ready: $(cat $T/sc.log)"
fi

# (5) everything stopped: no pvio device left, the modules unload.
n=$(pvio_devices)
if [ "$n" -eq 0 ]; then pass no-devices-left; else fail no-devices-left "$n left: $(ls /sys/bus/pvio/devices)"; fi
if rmmod pvblkback && rmmod pvio_host && rmmod pvio_core; then
	pass unload
else
	fail unload "rmmod failed"
fi
dmesg | grep -i 'pvio' | tail -60
exit $failed

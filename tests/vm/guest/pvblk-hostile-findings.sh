# Guest side of tests/suites/83-pvblk-hostile.sh, findings 4 and 5 of
# issue 11: pvblk.ko (its default io_timeout, 30 s, above the 10 s for
# which the big device may keep answers back) against two
# build/tests/progs/test_backend devices:
#   0000:00:14.0  big: depth 10240, 512 KiB requests, a 5 GiB data area
#                 (an 8 GiB BAR): request slot 8192 starts at 4 GiB, so a
#                 32-bit product tag * slot_size wraps there; the backend
#                 keeps its answers back until 9000 requests are in flight
#                 (or none came for 100 ms), so tags past 8192 are used
#   0000:00:15.0  drain: serves until it sees a write of the disk's last
#                 sector, keeps serving for 6 s more, then never answers
# Checks (one "pvblk-findings: PASS <check>" or "... FAIL <check>: why"):
#   big-data       fio writes 48 MiB in 4 KiB requests, 9000 in flight,
#                  and verifies every block; a driver that cannot give the
#                  region its full depth may use fewer tags, but the data
#                  must be right
#   drain-removal  removal of the drain device while the sync of its dirty
#                  page cache is running returns within 6 + 3 * 5 s: a
#                  write-throttled cgroup v1 root group (blkio) paces the
#                  write-back of 16 dirty pages at one 4 KiB page every
#                  ~0.53 s, so the
#                  device is idle at the removal watchdog's first look
#                  (5 s, pvblk's PVBLK_DRAIN_TIMEOUT_MS) and its later
#                  writes go unanswered: only a watchdog that looks again
#                  ends the wait. The write-back ends with IO errors and
#                  the log shows the watchdog's line.
# Exits 1 if any check failed.

BIG=0000:00:14.0 DRAIN=0000:00:15.0
PREFIX=pvblk-findings
# Pages left dirty on the drain disk, the write bandwidth that paces their
# write-back (one 4 KiB page per 4096 / BPS s: the first look, at 5 s,
# falls in the middle of a gap), and how long removal may take: the
# backend goes silent 6 s after the trigger, the first look after that
# (at 10 s) still sees answers given since the one before, the next one
# (at 15 s) kills, plus a margin.
PAGES=16 BPS=7782 BOUND=21 WAIT=40

. /pvio/lib-fs.sh

insmod /pvio/pvio_core.ko || { fail setup "insmod pvio_core.ko failed"; exit 1; }
insmod /pvio/pvio_ivshmem.ko || { fail setup "insmod pvio_ivshmem.ko failed"; exit 1; }
insmod /pvio/pvblk.ko ||
	{ fail setup "insmod pvblk.ko failed"; exit 1; }

# --- big-data: a data area over 4 GiB ----------------------------------------
if b=$(wait_disk $BIG 30); then
	dmesg | grep -E "pvblk[0-9]*: .*queue\(s\) of" | sed "s/^/$PREFIX: /"
	# Every tag reachable: no scheduler tags in front of the driver's.
	echo none >/sys/block/$b/queue/scheduler
	echo "$PREFIX: $b nr_requests $(cat /sys/block/$b/queue/nr_requests)"
	timeout 150 /pvio/fio --name=big --filename="/dev/$b" --rw=randwrite --bs=4k \
		--size=48m --direct=1 --iodepth=9000 --ioengine=libaio --verify=crc32c \
		--do_verify=1 --verify_fatal=1 --randrepeat=0 --cpus_allowed=0 \
		--eta=never --output=/tmp/big.out
	rc=$?
	grep -E 'WRITE:|READ:|err=|verify' /tmp/big.out | head -n 8
	if [ $rc -ne 0 ]; then
		fail big-data "fio exited $rc (verification failed, or 124: still running after 150 s)"
	elif ! grep -q 'err= 0' /tmp/big.out; then
		fail big-data "fio reported errors"
	else
		pass big-data
	fi
else
	fail big-data "no disk on $BIG within 30 s"
fi

# --- drain-removal: removal bounded when the backend falls silent late -------
if d=$(wait_disk $DRAIN 30); then
	devno=$(cat /sys/block/$d/dev)
	cap=$(cat /sys/block/$d/size)
	cg=/tmp/blkio
	mkdir -p $cg
	if ! mount -t cgroup -o blkio none $cg 2>/tmp/cg.err; then
		fail drain-removal "cannot mount the cgroup v1 blkio hierarchy: $(cat /tmp/cg.err)"
	else
		# No write-back but the removal's own sync.
		echo 0 >/proc/sys/vm/dirty_writeback_centisecs
		echo 360000 >/proc/sys/vm/dirty_expire_centisecs
		# One buffer per page, so that a page is written by one 4 KiB bio.
		blockdev --setbsz 4096 "/dev/$d" 2>/dev/null
		# The trigger: the last sector, written past the page cache,
		# before the dirty pages are made (another writer's open and
		# close of the disk may start their write-back).
		dd if=/dev/zero of="/dev/$d" bs=512 seek=$((cap - 1)) count=1 oflag=direct 2>/dev/null ||
			fail drain-removal "the trigger write failed"
		echo "$devno $BPS" >$cg/blkio.throttle.write_bps_device ||
			fail drain-removal "cannot throttle $devno"
		w0=$(awk '{ print $5 }' /sys/block/$d/stat)
		# One writer through a descriptor the shell keeps open: the
		# pages stay dirty until the removal's sync.
		exec 4<>"/dev/$d"
		head -c $((PAGES * 4096)) /dev/urandom | dd bs=4096 count=$PAGES conv=notrunc 2>/dev/null >&4
		echo "$PREFIX: $d block size $(cat /sys/block/$d/queue/logical_block_size)/$(blockdev --getbsz /dev/$d), writes $w0 before the dirty pages, $(awk '{ print $5 }' /sys/block/$d/stat) after; throttle $(cat $cg/blkio.throttle.write_bps_device)"
		t0=$(date +%s)
		rm -f /tmp/rm.done
		(echo 1 >/sys/bus/pci/devices/$DRAIN/remove; echo "exit $?" >/tmp/rm.done) &
		i=0
		while [ ! -s /tmp/rm.done ] && [ $i -lt $((WAIT * 5)) ]; do
			sleep 0.2
			i=$((i + 1))
		done
		dt=$(($(date +%s) - t0))
		echo "$PREFIX: throttled writes: $(grep -i write $cg/blkio.throttle.io_serviced | head -n 3 | tr '\n' ' ')"
		# Closed only when removal returned: a last close syncs.
		[ -s /tmp/rm.done ] && exec 4<&-
		echo "$PREFIX: removal of $DRAIN: $(cat /tmp/rm.done 2>/dev/null || echo pending) after $dt s"
		dmesg | grep -E "pvblk|$d" | tail -n 12 | sed "s/^/$PREFIX: log: /"
		if [ ! -s /tmp/rm.done ]; then
			fail drain-removal "removal did not return in $WAIT s: it waits for ever on the silent backend"
		elif [ "$dt" -gt $BOUND ]; then
			fail drain-removal "removal took $dt s, more than $BOUND s"
		elif ! dmesg | grep -q 'backend did not finish in-flight IO on removal'; then
			fail drain-removal "no 'backend did not finish in-flight IO on removal' line"
		elif ! dmesg | grep -qE "I/O error.*dev $d|error on dev $d"; then
			fail drain-removal "the write-back of $d ended without IO errors"
		else
			pass drain-removal
		fi
	fi
else
	fail drain-removal "no disk on $DRAIN within 30 s"
fi
exit $failed

# Guest side of tests/suites/81-pvio-core.sh (loop): the in-kernel loop
# transport (pvio_loop.ko). Without a backend class driver, "add" must
# fail with ENODEV, say to load pvblkback, and leave nothing behind; with
# pvblkback.ko and pvblk.ko (when /pvio has them) it must create a pair
# whose /dev/pvblkN reads back what was written, and remove it again.
# Prints "pvio-loop: PASS <check>" or "pvio-loop: FAIL <check>: why";
# exits 1 if any check failed.

LOOP=/sys/devices/pvio_loop
failed=0

pass() { echo "pvio-loop: PASS $1"; }
fail() { echo "pvio-loop: FAIL $1: $2"; failed=1; }

insmod /pvio/pvio_core.ko || { fail setup "insmod pvio_core.ko failed"; exit 1; }
insmod /pvio/pvio_loop.ko || { fail setup "insmod pvio_loop.ko failed"; exit 1; }
head -c 16777216 /dev/zero >/tmp/loop.img

err=$( (echo "blk /tmp/loop.img" >$LOOP/add) 2>&1)
rc=$?
echo "pvio-loop: add without a backend driver: exit $rc: $err"
if [ $rc -ne 0 ] && echo "$err" | grep -qi 'no such device' &&
	dmesg | grep -q 'pvio_loop: pair 0: no class driver serves the backend device pvio[0-9]*: load pvblkback' &&
	[ -z "$(ls /sys/bus/pvio/devices)" ] && [ -z "$(cat $LOOP/pairs)" ]; then
	pass add-needs-backend
else
	fail add-needs-backend "add did not fail with ENODEV and its log line, or left a device"
fi
if echo "blk /tmp/loop.img queues=0" >$LOOP/add 2>/dev/null ||
	! dmesg | grep -q "'queues=0': queues must be 1..32"; then
	fail add-bad-line "a bad line accepted, or refused without naming the word"
else
	pass add-bad-line
fi

if [ -e /pvio/pvblkback.ko ] && [ -e /pvio/pvblk.ko ]; then
	insmod /pvio/pvblkback.ko || fail setup "insmod pvblkback.ko failed"
	insmod /pvio/pvblk.ko || fail setup "insmod pvblk.ko failed"
	if echo "blk /tmp/loop.img queues=2" >$LOOP/add; then
		d='' i=0
		while [ $i -lt 100 ] && [ -z "$d" ]; do
			for b in /sys/devices/pvio_loop/pvio*/block/pvblk*; do
				[ -e "$b" ] && d=$(basename "$b")
			done
			sleep 0.1
			i=$((i + 1))
		done
		cat $LOOP/pairs
		head -c 1048576 /dev/urandom >/tmp/pat
		if [ -n "$d" ] && [ -b "/dev/$d" ] &&
			dmesg | grep -q "pvio_loop: pair [0-9]*: blk /tmp/loop.img, 2 queues, region 67108864 bytes, frontend pvio[0-9]*, backend pvio[0-9]*" &&
			dd if=/tmp/pat of="/dev/$d" bs=65536 seek=16 oflag=direct 2>/dev/null &&
			echo 3 >/proc/sys/vm/drop_caches &&
			dd if="/dev/$d" of=/tmp/back bs=65536 skip=16 count=16 iflag=direct 2>/dev/null &&
			cmp -s /tmp/pat /tmp/back &&
			dd if=/tmp/loop.img bs=65536 skip=16 count=16 2>/dev/null | cmp -s /tmp/pat -; then
			pass loop-io
		else
			fail loop-io "no disk '$d', no pair line, or data read back wrong"
		fi
		n=$(awk '{ print $1; exit }' $LOOP/pairs)
		if echo "$n" >$LOOP/remove && [ -z "$(cat $LOOP/pairs)" ] &&
			[ ! -e "/sys/block/$d" ] && [ -z "$(ls /sys/bus/pvio/devices)" ] &&
			dmesg | grep -q "pvio_loop: pair $n: removed"; then
			pass loop-remove
		else
			fail loop-remove "removing pair '$n' left something behind"
		fi
		# A pair left in place goes with the module.
		echo "blk /tmp/loop.img" >$LOOP/add || fail loop-unload "second add failed"
	else
		fail loop-io "add with pvblkback loaded failed"
	fi
	sleep 1
	if rmmod pvio_loop && [ -z "$(ls /sys/bus/pvio/devices)" ] &&
		rmmod pvblk && rmmod pvblkback; then
		pass loop-unload
	else
		fail loop-unload "unloading pvio_loop with a pair, then the class drivers, failed"
	fi
else
	echo "pvio-loop: no pvblkback.ko: IO through a pair not checked"
	rmmod pvio_loop || fail loop-unload "rmmod pvio_loop failed"
fi
rmmod pvio_core || fail unload "rmmod pvio_core failed"
dmesg | grep -E 'pvio|pvblk' | tail -n 25
exit $failed

# Guest side of tests/suites/83-pvblk-hostile.sh: pvblk.ko against hostile
# backends (build/tests/progs/test_backend), one ivshmem-doorbell device
# each, pvblk loaded with io_timeout=3 backend_timeout=4:
#   0000:00:10.0  good, two queues: the device that must keep working;
#                 fio with verification while its bus mastering is toggled
#                 (MSI-X messages dropped: lost doorbells)
#   0000:00:11.0  silent from the first request on: connects, then never
#                 answers (the partition scan in probe)
#   0000:00:12.0  good, but max_segments 4, max_segment_size 16 KiB,
#                 checked on every request
#   0000:00:13.0  flood: once it served 200 requests, rings every vector
#                 of ours in a tight loop
# Checks (one "pvblk-hostile: PASS <check>" or "... FAIL <check>: why"):
#   other-device   the good disk works while the silent one is probed
#   probe-silent   pvblk's load (which waits for every probe) returns, the
#                  silent device is bound, within 60 s; the log says why
#   silent-io      IO on the silent disk then fails, within 10 s
#   segments       1 MiB in 64 KiB direct IO on the segment-limited disk
#                  reads back identical
#   lost-doorbell  fio verifies 16 MiB on the good disk while its bus
#                  master bit goes off and on
#   flood          during the flood the good disk keeps half its random-
#                  read IOPS, and the flooding disk still reads
#   unload         all modules unload
# Exits 1 if any check failed.

GOOD=0000:00:10.0 SILENT=0000:00:11.0 SEGS=0000:00:12.0 FLOOD=0000:00:13.0
PREFIX=pvblk-hostile
DBG=/sys/kernel/debug/pvio_ivshmem

. /pvio/lib-fs.sh


# The pvio device on PCI device $1 is bound to pvblk (probe returned 0).
bound() {
	for p in /sys/bus/pci/devices/"$1"/pvio*; do
		[ -e "$p/driver" ] && return 0
	done
	return 1
}

# Bit 2 (bus master) of the PCI COMMAND register of $1: on or off.
bus_master() {
	cfg=/sys/bus/pci/devices/$1/config
	v=$(dd if="$cfg" bs=1 skip=4 count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
	if [ "$2" = on ]; then v=$((v | 4)); else v=$((v & ~4)); fi
	printf "\\$(printf %o "$v")" | dd of="$cfg" bs=1 seek=4 count=1 conv=notrunc 2>/dev/null
}

# Random-read IOPS of /dev/$1 over $2 seconds (fio, terse field 8).
iops() {
	/pvio/fio --name=iops --filename="/dev/$1" --rw=randread --bs=4k --direct=1 \
		--ioengine=libaio --iodepth=8 --time_based --runtime="$2" --size=32m \
		--output-format=terse --terse-version=3 2>/dev/null | cut -d';' -f8 |
		grep -E '^[0-9]+$'
}

mount -t debugfs none /sys/kernel/debug 2>/dev/null
insmod /pvio/pvio_core.ko || { fail setup "insmod pvio_core.ko failed"; exit 1; }
insmod /pvio/pvio_ivshmem.ko || { fail setup "insmod pvio_ivshmem.ko failed"; exit 1; }
t0=$(date +%s)
(insmod /pvio/pvblk.ko io_timeout=3 backend_timeout=4; echo "exit $?" >/tmp/insmod.done) &

# --- other-device: the good disk works while the silent one is probed ----
head -c 1048576 /dev/urandom >/tmp/rand
if g=$(wait_disk $GOOD 30); then
	pending=yes
	[ -s /tmp/insmod.done ] && pending=no
	dd if=/tmp/rand of="/dev/$g" bs=64k oflag=direct 2>/dev/null
	if dd if="/dev/$g" bs=64k count=16 iflag=direct 2>/dev/null | cmp -s - /tmp/rand; then
		echo "$PREFIX: good disk $g works (silent probe still pending: $pending)"
		pass other-device
	else
		fail other-device "data read back from /dev/$g differs"
	fi
else
	fail other-device "no disk on $GOOD within 30 s"
fi

# --- probe-silent: probe of the silent device returns -----------------
i=0
while [ ! -s /tmp/insmod.done ] && [ $i -lt 300 ]; do
	sleep 0.2
	i=$((i + 1))
done
if [ ! -s /tmp/insmod.done ]; then
	fail probe-silent "insmod pvblk.ko did not return in 60 s: probe hangs"
elif ! grep -q 'exit 0' /tmp/insmod.done; then
	fail probe-silent "insmod pvblk.ko: $(cat /tmp/insmod.done)"
elif ! bound $SILENT; then
	fail probe-silent "the silent device is not bound"
elif ! dmesg | grep -q 'backend gone (a request went unanswered)'; then
	fail probe-silent "no 'backend gone (a request went unanswered)' line"
elif ! dmesg | grep -q 'backend away for more than 4 s; failing IO'; then
	fail probe-silent "no 'backend away for more than 4 s' line"
else
	echo "$PREFIX: insmod returned after $(($(date +%s) - t0)) s"
	pass probe-silent
fi

# --- silent-io: IO on the silent disk fails, soon --------------------------
s=$(disk_of $SILENT)
if [ -z "$s" ]; then
	fail silent-io "no disk on $SILENT"
else
	t1=$(date +%s)
	if timeout 30 dd if="/dev/$s" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null; then
		fail silent-io "reading the silent /dev/$s succeeded"
	elif [ $(($(date +%s) - t1)) -gt 10 ]; then
		fail silent-io "reading the silent /dev/$s took $(($(date +%s) - t1)) s"
	else
		pass silent-io
	fi
fi

# --- segments: the negotiated segment limits are honoured -----------------
if d=$(wait_disk $SEGS 10); then
	echo "$PREFIX: $d max_hw_sectors_kb $(cat /sys/block/$d/queue/max_hw_sectors_kb)"
	if ! dd if=/tmp/rand of="/dev/$d" bs=64k oflag=direct 2>/tmp/segs.err; then
		fail segments "64 KiB writes to /dev/$d failed: $(tail -n 1 /tmp/segs.err)"
	elif ! dd if="/dev/$d" bs=64k count=16 iflag=direct 2>/dev/null | cmp -s - /tmp/rand; then
		fail segments "data read back from /dev/$d differs"
	else
		pass segments
	fi
else
	fail segments "no disk on $SEGS"
fi

# --- lost-doorbell: bus mastering toggled under fio -------------------------
if [ -n "$g" ]; then
	rm -f /tmp/fio.done
	(
		n=0
		while [ ! -e /tmp/fio.done ]; do
			bus_master $GOOD off
			usleep 20000
			bus_master $GOOD on
			usleep 200000
			n=$((n + 1))
		done
		echo "$PREFIX: bus master toggled $n times"
	) &
	toggler=$!
	timeout 150 /pvio/fio --name=lost --filename="/dev/$g" --rw=randwrite --bsrange=4k-64k \
		--size=16m --direct=1 --iodepth=8 --numjobs=1 --verify=crc32c --do_verify=1 \
		--verify_fatal=1 --randrepeat=0 --ioengine=libaio --eta=never --output=/tmp/lost.out
	rc=$?
	touch /tmp/fio.done
	wait $toggler
	bus_master $GOOD on
	grep -E 'WRITE:|READ:|err=' /tmp/lost.out
	if [ $rc -ne 0 ]; then
		fail lost-doorbell "fio exited $rc (124: still running after 150 s)"
	elif ! grep -q 'err= 0' /tmp/lost.out || grep -qi 'verify.*bad\|crc32c.*wanted' /tmp/lost.out; then
		fail lost-doorbell "fio reported errors"
	else
		pass lost-doorbell
	fi
	cat "$DBG/$GOOD/irq_counts" 2>/dev/null
else
	fail lost-doorbell "no good disk"
fi

# --- flood: a second device keeps half its IOPS ------------------------------
f=$(disk_of $FLOOD)
if [ -n "$g" ] && [ -n "$f" ]; then
	base=$(iops "$g" 5)
	# 300 reads: the backend floods once it served 200 requests.
	dd if="/dev/$f" of=/dev/null bs=4096 count=300 iflag=direct 2>/dev/null
	sleep 1
	a=$(awk '{ s += $3 } END { print s }' "$DBG/$FLOOD/irq_counts")
	during=$(iops "$g" 5)
	# The host has slow phases: the better of two looks (a flood that
	# starves the good disk does so in both).
	d2=$(iops "$g" 5)
	[ -n "$d2" ] && [ -n "$during" ] && [ "$d2" -gt "$during" ] && during=$d2
	b=$(awk '{ s += $3 } END { print s }' "$DBG/$FLOOD/irq_counts")
	cat "$DBG/$FLOOD/irq_counts"
	echo "$PREFIX: flood: good disk IOPS $base before, $during during; flooding vectors delivered $((b - a)) doorbells in those 10 s"
	if [ -z "$base" ] || [ -z "$during" ] || [ "$base" -le 0 ]; then
		fail flood "no IOPS figure (fio failed)"
	elif [ $((b - a)) -lt 2000 ]; then
		fail flood "the backend did not flood ($((b - a)) doorbells)"
	elif [ $((during * 2)) -lt "$base" ]; then
		fail flood "good disk IOPS fell from $base to $during"
	elif ! timeout 30 dd if="/dev/$f" of=/dev/null bs=4096 count=16 iflag=direct 2>/dev/null; then
		fail flood "the flooding disk does not read"
	else
		pass flood
	fi
else
	fail flood "no disk on $GOOD or $FLOOD"
fi

if rmmod pvblk && rmmod pvio_ivshmem && rmmod pvio_core; then
	pass unload
else
	fail unload "rmmod pvblk / pvio_ivshmem / pvio_core failed"
fi
dmesg | grep -E 'pvblk|pvio_ivshmem' | tail -n 30
exit $failed

# Guest side of tests/suites/80-pvblk.sh: pvblk.ko over pvio-backd, three
# ivshmem-doorbell devices served by one daemon:
#   0000:00:10.0  a 512 MiB sparse image, read-write, two queues: ext4,
#                 fio, fstrim, module reload
#   0000:00:11.0  a 64 MiB image of random bytes, exported --ro
#   0000:00:12.0  a 128 MiB scratch image: unbound under a writer, rebound
# Needs /pvio/pvio_ivshmem.ko, /pvio/pvblk.ko, /pvio/mkfs.ext4, /pvio/fio
# and ext4 loaded (--kmod ext4). Prints one "pvblk-main: PASS <check>" or
# "pvblk-main: FAIL <check>: why" line per check, the final checksums of
# the files as "pvblk-sum: SHA256 PATH" (PATH relative to the file
# system's root) and markers the host waits for ("pvblk-main: discard-
# peak", "pvblk-main: discard-trimmed"). Exits 1 if any check failed.
# Needs /pvio/lib-fs.sh too.

FS_PCI=0000:00:10.0 RO_PCI=0000:00:11.0 SC_PCI=0000:00:12.0
DRV=/sys/bus/pci/drivers/pvio_ivshmem
PREFIX=pvblk-main MNT=/mnt
. /pvio/lib-fs.sh


# Wait up to $2 seconds for process $1 to exit.
wait_gone() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		[ $i -lt $(($2 * 5)) ] || return 1
		sleep 0.2
		i=$((i + 1))
	done
}

unbind() {
	echo "$1" >$DRV/unbind
}

mount_fs() {
	mount -t ext4 "/dev/$FS" $MNT
}

insmod /pvio/pvio_core.ko || fail_all setup "insmod pvio_core.ko failed"
insmod /pvio/pvio_ivshmem.ko || fail_all setup "insmod pvio_ivshmem.ko failed"
insmod /pvio/pvblk.ko || fail_all setup "insmod pvblk.ko failed"
FS=$(wait_disk $FS_PCI 20) || fail_all setup "no disk on $FS_PCI"
RO=$(wait_disk $RO_PCI 20) || fail_all setup "no disk on $RO_PCI"
SC=$(wait_disk $SC_PCI 20) || fail_all setup "no disk on $SC_PCI"
echo "pvblk-main: disks fs=$FS ro=$RO scratch=$SC"
dmesg | grep 'pvblk[0-9]*: [0-9]* sectors'

# --- read-only device ------------------------------------------------------

ro=$(cat "/sys/block/$RO/ro")
if [ "$ro" = 1 ]; then
	pass ro-flag
else
	fail ro-flag "/sys/block/$RO/ro is '$ro'"
fi
if dd if=/dev/urandom of="/dev/$RO" bs=4096 count=1 seek=7 oflag=direct 2>/tmp/ro.err; then
	fail ro-write "a direct write to /dev/$RO succeeded"
else
	echo "pvblk-main: write to $RO failed as it should: $(tail -n 1 /tmp/ro.err)"
	pass ro-write
fi
if dd if=/dev/zero of="/dev/$RO" bs=65536 count=4 conv=fsync 2>/tmp/ro.err; then
	fail ro-buffered-write "a buffered write + fsync to /dev/$RO succeeded"
else
	pass ro-buffered-write
fi
if blkdiscard "/dev/$RO" 2>/dev/null; then
	fail ro-discard "blkdiscard of /dev/$RO succeeded"
else
	pass ro-discard
fi
# The host compares this with the image: every sector read back intact.
echo 3 >/proc/sys/vm/drop_caches
sum=$(sha256sum <"/dev/$RO") || fail ro-read "reading /dev/$RO failed"
echo "pvblk-ro-sum: ${sum%% *}"

# --- ext4 on the read-write device ---------------------------------------

fs_files "$FS"

# --- fio with verification on a file in the file system -------------------

if run_fio pvblk-verify $MNT/fio.dat 32m; then
	echo "pvblk-main: fio engine $FIO_ENGINE"
	pass fio
else
	fail fio "fio on $MNT/fio.dat failed"
	tail -n 30 /tmp/pvblk-verify.out
fi

# The backend exports two queues, one per guest CPU: IO issued from each
# CPU must go through its own queue, with doorbells both ways.
mq_ok=1
for cpu in 0 1; do
	taskset -c $cpu dd if="/dev/$FS" of=/dev/null bs=4096 count=32 skip=$((cpu * 64)) \
		iflag=direct 2>/dev/null || { mq_ok=0; fail multiqueue "direct reads on CPU $cpu failed"; }
done
echo "pvblk-main: $FS stats:"
cat "/sys/block/$FS/pvio_stats"
if [ $mq_ok = 1 ] &&
	awk '$1 == "queue" && $4 > 0 && $6 > 0 && $8 > 0 { n++ } END { exit n != 2 }' \
		"/sys/block/$FS/pvio_stats"; then
	pass multiqueue
else
	fail multiqueue "not both queues of /dev/$FS carried IO"
fi

# --- discard: a deleted file's blocks go back to the host -----------------

fs_discard

# --- unload and load pvblk: the file system is intact ---------------------

umount $MNT || fail_all reload "umount before rmmod failed"
if ! rmmod pvblk; then
	fail_all reload "rmmod pvblk failed"
fi
[ -e "/dev/$FS" ] && fail reload "/dev/$FS still there after rmmod"
insmod /pvio/pvblk.ko || fail_all reload "insmod pvblk.ko again failed"
FS=$(wait_disk $FS_PCI 30) || fail_all reload "no disk on $FS_PCI after reloading"
RO=$(wait_disk $RO_PCI 30) || fail_all reload "no disk on $RO_PCI after reloading"
SC=$(wait_disk $SC_PCI 30) || fail_all reload "no disk on $SC_PCI after reloading"
echo "pvblk-main: after reload fs=$FS ro=$RO scratch=$SC"
mount_fs || fail_all reload "mounting /dev/$FS after reloading failed"
if (cd $MNT && sha256sum -c /tmp/sums >/tmp/check.out 2>&1) &&
	[ "$(cat "/sys/block/$RO/ro")" = 1 ]; then
	pass reload
else
	fail reload "checksums differ, or /dev/$RO lost its read-only flag, after reloading pvblk"
	cat /tmp/check.out
fi
fs_print_sums pvblk-sum
umount $MNT || fail reload "final umount failed"

# --- unbind the device under a writer, then bind it again (3 rounds) -----

# Requests pvblk has put on the rings of disk $1 since its probe.
requests_of() {
	awk '{ n += $4 } END { print n + 0 }' "/sys/block/$1/pvio_stats"
}

# One round: a writer that keeps 32 requests in flight until the disk goes
# away; the unbind comes once it is well under way. Returns 1 on failure
# (a FAIL line printed); exits if something hangs.
unplug_round() {
	r0=$(requests_of "$SC")
	rm -f /tmp/unbind.done
	/pvio/fio --name=unplug --filename="/dev/$SC" --rw=write --bs=64k --direct=1 \
		--ioengine=$FIO_ENGINE --iodepth=32 --time_based --runtime=60 --eta=never \
		--output=/tmp/writer.out 2>/tmp/writer.err &
	writer=$!
	i=0
	while kill -0 $writer 2>/dev/null && [ "$(requests_of "$SC")" -lt $((r0 + 500)) ] &&
		[ $i -lt 150 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	if ! kill -0 $writer 2>/dev/null; then
		wait $writer
		fail unplug "round $1: the writer ended (exit $?) before the unbind"
		unbind $SC_PCI
		return 1
	fi
	echo "pvblk-main: round $1: writer running: in flight $(cat "/sys/block/$SC/inflight"); $(cat "/sys/block/$SC/pvio_stats")"
	(unbind $SC_PCI; echo "exit $?" >/tmp/unbind.done) &
	i=0
	while [ ! -s /tmp/unbind.done ] && [ $i -lt 150 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	[ -s /tmp/unbind.done ] ||
		fail_all unplug "round $1: unbinding $SC_PCI under IO did not return in 30 s"
	wait_gone $writer 30 || fail_all unplug "round $1: the writer hangs after the unbind"
	wait $writer
	echo "pvblk-main: round $1: unbind $(cat /tmp/unbind.done), writer exited $?:" \
		"$(grep -o 'err=[^)]*)' /tmp/writer.out | head -n 1)"
	if [ -e "/sys/bus/pci/devices/$SC_PCI/driver" ] || [ -e "/sys/block/$SC" ]; then
		fail unplug "round $1: $SC_PCI still bound or /sys/block/$SC still there"
		return 1
	fi
}

unplug_ok=1 rebind_ok=1
for round in 1 2 3; do
	unplug_round $round || unplug_ok=0
	echo $SC_PCI >$DRV/bind
	if ! SC=$(wait_disk $SC_PCI 30); then
		fail rebind "round $round: no disk on $SC_PCI after rebinding"
		dmesg | grep -E "$SC_PCI" | tail -n 5
		rebind_ok=0
		break
	fi
done
[ $unplug_ok = 1 ] && pass unplug
if [ $rebind_ok = 1 ]; then
	head -c $MiB /dev/urandom >/tmp/pattern
	if dd if=/tmp/pattern of="/dev/$SC" bs=$MiB seek=3 oflag=direct 2>/dev/null &&
		dd if="/dev/$SC" of=/tmp/back bs=$MiB skip=3 count=1 iflag=direct 2>/dev/null &&
		cmp -s /tmp/pattern /tmp/back; then
		pass rebind
	else
		fail rebind "IO on /dev/$SC after rebinding failed or read back wrong"
	fi
fi


# --- unload everything ---------------------------------------------------

if rmmod pvblk && rmmod pvio_ivshmem && rmmod pvio_core; then
	pass unload
else
	fail unload "rmmod pvblk / pvio_ivshmem / pvio_core failed"
fi
dmesg | grep -E 'pvblk|pvio_ivshmem' | tail -n 30
exit $failed

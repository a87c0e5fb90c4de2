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

FS_PCI=0000:00:10.0 RO_PCI=0000:00:11.0 SC_PCI=0000:00:12.0
DRV=/sys/bus/pci/drivers/pvio_ivshmem
MNT=/mnt
MiB=1048576
failed=0

pass() { echo "pvblk-main: PASS $1"; }
fail() { echo "pvblk-main: FAIL $1: $2"; failed=1; }

# The pvblk disk on PCI device $1 (under its pvio device), or nothing.
disk_of() {
	for b in /sys/bus/pci/devices/"$1"/pvio*/block/pvblk*; do
		[ -e "$b" ] && basename "$b" && return
	done
}

# Wait up to $2 seconds for a disk on PCI device $1; print its name.
wait_disk() {
	i=0
	while [ $i -lt $(($2 * 5)) ]; do
		n=$(disk_of "$1")
		[ -n "$n" ] && [ -b "/dev/$n" ] && echo "$n" && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

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

fail_all() {
	fail "$1" "$2"
	dmesg | grep -E 'pvblk|pvio' | tail -n 20
	exit 1
}

mkdir -p $MNT
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

fs_ok=1
if ! /pvio/mkfs.ext4 -q -F "/dev/$FS"; then
	fail_all fs-mkfs "mkfs.ext4 /dev/$FS failed"
fi
mount_fs || fail_all fs-mount "mounting /dev/$FS failed"
mkdir -p $MNT/data/sub
# Sizes in bytes, 64 MiB in all, most of them not multiples of a block.
n=0 total=0
for size in 4097 $((MiB + 511)) $((3 * MiB)) $((5 * MiB - 1)) $((7 * MiB + 4095)) \
	$((11 * MiB + 1)) $((16 * MiB)) $((21 * MiB - 4603)); do
	n=$((n + 1))
	f=data/f$n
	[ $n -gt 5 ] && f=data/sub/f$n
	head -c $size /dev/urandom >"$MNT/$f" || { fs_ok=0; fail fs "writing $f failed"; }
	total=$((total + size))
done
echo "pvblk-main: wrote $n files, $total bytes"
sync
(cd $MNT && find data -type f | sort | xargs sha256sum) >/tmp/sums
[ "$(wc -l </tmp/sums)" = $n ] || { fs_ok=0; fail fs "checksummed $(wc -l </tmp/sums) files"; }
umount $MNT || fail_all fs-umount "umount failed"
echo 3 >/proc/sys/vm/drop_caches
mount_fs || fail_all fs-remount "mounting /dev/$FS again failed"
if (cd $MNT && sha256sum -c /tmp/sums >/tmp/check.out 2>&1); then
	[ $fs_ok = 1 ] && pass fs
else
	fail fs "checksums differ after remounting"
	cat /tmp/check.out
fi

# --- fio with verification on a file in the file system -------------------

fio_args="--name=pvblk-verify --filename=$MNT/fio.dat --rw=randwrite --bsrange=4k-64k
	--size=32m --direct=1 --iodepth=8 --verify=crc32c --do_verify=1
	--verify_fatal=1 --randrepeat=0"
engine=libaio
# shellcheck disable=SC2086 # $fio_args is a list of options
/pvio/fio $fio_args --ioengine=libaio --output=/tmp/fio.out
rc=$?
if [ $rc -ne 0 ] && grep -q 'engine libaio not loadable\|failed to load engine' /tmp/fio.out; then
	engine=psync
	# shellcheck disable=SC2086
	/pvio/fio $fio_args --ioengine=psync --output=/tmp/fio.out
	rc=$?
fi
grep -E 'pvblk-verify|WRITE:|READ:|err=' /tmp/fio.out
if [ $rc -eq 0 ] && grep -q 'err= 0' /tmp/fio.out && ! grep -qi 'verify.*bad\|crc32c.*wanted' /tmp/fio.out; then
	echo "pvblk-main: fio engine $engine"
	pass fio
else
	fail fio "fio exited $rc"
	tail -n 30 /tmp/fio.out
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

if dd if=/dev/zero of=$MNT/big bs=$MiB count=64 conv=fsync 2>/tmp/dd.err; then
	sync
	# The host measures the image's allocation now, and after fstrim.
	echo "pvblk-main: discard-peak"
	sleep 3
	rm $MNT/big
	sync
	out=$(fstrim -v $MNT 2>&1)
	rc=$?
	sync
	echo "pvblk-main: fstrim: $out (exit $rc)"
	echo "pvblk-main: discard-trimmed"
	sleep 3
	trimmed=$(echo "$out" | sed -n 's/.*: \([0-9]*\) bytes trimmed.*/\1/p')
	if [ $rc -eq 0 ] && [ "${trimmed:-0}" -ge $((64 * MiB)) ]; then
		pass discard
	else
		fail discard "fstrim exited $rc, trimmed '${trimmed}' bytes (< 64 MiB)"
	fi
else
	fail discard "writing the 64 MiB file failed: $(cat /tmp/dd.err)"
fi

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
(cd $MNT && find data -type f | sort | xargs sha256sum) | sed 's/^/pvblk-sum: /; s/  / /'
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
		--ioengine=$engine --iodepth=32 --time_based --runtime=60 --eta=never \
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

# Guest side of tests/suites/82-pvblkback.sh: the kernel block backend
# pvblkback.ko serving pvblk.ko in the same kernel through pvio_loop.ko.
# The guest's virtio-blk disks (raw images on the host, cache=none,
# discard=unmap):
#   vda  512 MiB sparse image, exported read-write with two queues: ext4,
#        files, fio, fstrim, flush/FUA counting
#   vdb  64 MiB of random bytes, exported "ro"
#   vdc  128 MiB, ext4 made here, holding a regular file exported as a
#        disk (the kiocb path, direct IO)
# plus a regular file on tmpfs (the kiocb path, buffered). Needs
# /pvio/{pvio_core,pvblkback,pvio_loop,pvblk}.ko, /pvio/mkfs.ext4,
# /pvio/fio, ext4, virtio_pci and virtio_blk loaded (--kmod). Prints one
# "pvblkback-main: PASS <check>" or "pvblkback-main: FAIL <check>: why"
# line per check, the files' checksums as "pvblkback-sum: SHA256 PATH",
# "pvblkback-ro-sum: SHA256" for the read-only disk, and the markers the
# host waits for ("pvblkback-main: discard-peak", "... discard-trimmed").
# Exits 1 if any check failed. Needs /pvio/lib-fs.sh too.

ADD=/sys/devices/pvio_loop/add
PREFIX=pvblkback-main MNT=/mnt
. /pvio/lib-fs.sh

disks() {
	for b in /sys/block/pvblk*; do
		[ -e "$b" ] && basename "$b"
	done
}

# export LINE: add a backend through pvio_loop and print the pvblk disk
# that appears for it (within 30 s).
export_disk() {
	before=$(disks)
	echo "$1" >$ADD || return 1
	i=0
	while [ $i -lt 150 ]; do
		for d in $(disks); do
			echo "$before" | grep -qx "$d" && continue
			[ -b "/dev/$d" ] && echo "$d" && return 0
		done
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# Field 16 of /sys/block/DISK/stat: flush requests the disk completed
# (block/genhd.c, Documentation/block/stat.rst; field 17 is the time they
# took). The block layer counts a REQ_PREFLUSH bio and, on a disk without
# FUA such as QEMU's virtio-blk, the flush it issues after a FUA write, so
# the count of the backing disk grows when pvblkback passes a FLUSH or a
# FUA write on.
flushes() { awk '{ print $16 }' "/sys/block/$1/stat"; }

# The pvblkback "stats" file of the pvio device that serves backing $1.
backend_stats() {
	for f in /sys/bus/pvio/devices/*/pvblkback/backing; do
		[ -e "$f" ] || continue
		case $(cat "$f") in "$1 "*) cat "${f%/backing}/stats"; return ;; esac
	done
}

for m in pvio_core pvblkback pvio_loop pvblk; do
	insmod /pvio/$m.ko || fail_all setup "insmod $m.ko failed"
done
i=0
while { [ ! -b /dev/vda ] || [ ! -b /dev/vdb ] || [ ! -b /dev/vdc ]; } && [ $i -lt 100 ]; do
	sleep 0.2
	i=$((i + 1))
done
[ -b /dev/vdc ] || fail_all setup "virtio disks vda, vdb, vdc missing"
[ -e $ADD ] || fail_all setup "$ADD missing"
FS=$(export_disk "blk /dev/vda queues=2") || fail_all setup "no pvblk disk for /dev/vda"
echo "pvblkback-main: /dev/vda -> $FS"
dmesg | grep 'pvblkback' | tail -n 3

# --- ext4 with checksummed files -------------------------------------------

fs_files "$FS"
fs_print_sums pvblkback-sum

# --- fio with verification ---------------------------------------------------

if run_fio pbb-verify $MNT/fio.dat 32m; then
	pass fio
else
	fail fio "fio on $MNT/fio.dat failed"
	tail -n 20 /tmp/pbb-verify.out
fi
rm -f $MNT/fio.dat

# --- flush and FUA reach the backing disk ------------------------------------

f0=$(flushes vda)
dd if=/dev/urandom of=$MNT/flush.dat bs=65536 count=16 2>/dev/null && sync
f1=$(flushes vda)
# O_DIRECT|O_DSYNC overwrites of allocated blocks: ext4 sends them as FUA
# writes (nothing of the file's metadata changes), and pvio_blk's F_FUA
# flag becomes REQ_FUA on vda.
dd if=/dev/urandom of=$MNT/fua.dat bs=65536 count=16 conv=fsync 2>/dev/null
sync
f1=$(flushes vda)
/pvio/fio --name=fua --filename=$MNT/fua.dat --rw=write --bs=64k --size=1m \
	--direct=1 --sync=dsync --ioengine=psync --output=/tmp/fua.out ||
	{ fail fua "fio with O_DSYNC failed"; cat /tmp/fua.out; }
f2=$(flushes vda)
echo "pvblkback-main: vda flushes: $f0 before, $f1 after sync, $f2 after O_DSYNC writes"
echo "pvblkback-main: $FS flushes $(flushes "$FS")"
if [ "$f1" -gt "$f0" ]; then
	pass flush
else
	fail flush "/sys/block/vda/stat flush count stayed $f0 across sync"
fi
if [ "$f2" -gt "$f1" ]; then
	pass fua
else
	fail fua "/sys/block/vda/stat flush count stayed $f1 across O_DSYNC writes"
fi
rm -f $MNT/flush.dat $MNT/fua.dat

# --- discard: a deleted file's blocks go back to the host --------------------

fs_discard
echo "pvblkback-main: stats of /dev/vda's backend:"
backend_stats /dev/vda
(cd $MNT && sha256sum -c /tmp/sums >/dev/null 2>&1) || fail fs-final "checksums differ at the end"
umount $MNT || fail fs-final "final umount failed"

# --- a read-only export --------------------------------------------------------

if RO=$(export_disk "blk /dev/vdb ro"); then
	echo "pvblkback-main: /dev/vdb (ro) -> $RO"
	want=$(sha256sum </dev/vdb | cut -d' ' -f1)
	ro_ok=1
	[ "$(cat "/sys/block/$RO/ro")" = 1 ] || { ro_ok=0; fail ro "/sys/block/$RO/ro is not 1"; }
	if dd if=/dev/urandom of="/dev/$RO" bs=4096 count=1 seek=7 oflag=direct 2>/tmp/ro.err; then
		ro_ok=0
		fail ro "a direct write to /dev/$RO succeeded"
	else
		echo "pvblkback-main: write to $RO failed as it should: $(tail -n 1 /tmp/ro.err)"
	fi
	echo 3 >/proc/sys/vm/drop_caches
	got=$(sha256sum <"/dev/$RO" | cut -d' ' -f1)
	echo "pvblkback-ro-sum: $got"
	[ "$got" = "$want" ] || { ro_ok=0; fail ro "/dev/$RO reads $got, /dev/vdb $want"; }
	[ $ro_ok = 1 ] && pass ro
else
	fail ro "no pvblk disk for /dev/vdb ro"
fi

# --- regular files as backing: the kiocb path ----------------------------------

mkdir -p /tfs /xfs
mount -t tmpfs -o size=80m tmpfs /tfs
head -c $((64 * MiB)) /dev/zero >/tfs/disk.img
if TD=$(export_disk "blk /tfs/disk.img"); then
	echo "pvblkback-main: /tfs/disk.img -> $TD"
	if run_fio pbb-file-tmpfs "/dev/$TD" 32m; then
		pass file-tmpfs
	else
		fail file-tmpfs "fio on /dev/$TD failed"
		tail -n 20 /tmp/pbb-file-tmpfs.out
	fi
else
	fail file-tmpfs "no pvblk disk for /tfs/disk.img"
fi
if /pvio/mkfs.ext4 -q -F /dev/vdc && mount -t ext4 /dev/vdc /xfs &&
	dd if=/dev/zero of=/xfs/disk.img bs=$MiB count=64 2>/dev/null &&
	XD=$(export_disk "blk /xfs/disk.img queues=2"); then
	echo "pvblkback-main: /xfs/disk.img -> $XD"
	grep -h . /sys/bus/pvio/devices/*/pvblkback/backing
	if run_fio pbb-file-ext4 "/dev/$XD" 32m --iodepth=16 &&
		backend_stats /xfs/disk.img | awk '$4 > 0 { n++ } END { exit n == 0 }'; then
		pass file-ext4
	else
		fail file-ext4 "fio on /dev/$XD failed"
		tail -n 20 /tmp/pbb-file-ext4.out
	fi
	backend_stats /xfs/disk.img
else
	fail file-ext4 "exporting a file on ext4 (/dev/vdc) failed"
fi

# --- unload everything under IO ------------------------------------------------

# A writer on the tmpfs-backed disk keeps requests in flight while the
# backend goes away; rmmod must return, the writer must end, the rest must
# unload. The kernel log is checked for BUG/WARNING/Oops by the harness.
unload_ok=1
if [ -n "${TD:-}" ]; then
	/pvio/fio --name=unload --filename="/dev/$TD" --rw=randwrite --bs=16k --direct=1 \
		--ioengine=libaio --iodepth=32 --time_based --runtime=60 --eta=never \
		--output=/tmp/unload.out 2>/dev/null &
	writer=$!
	sleep 4
	kill -0 $writer 2>/dev/null || { unload_ok=0; fail unload "the writer ended before the unload"; }
	rmmod pvblk 2>/dev/null && { unload_ok=0; fail unload "rmmod pvblk succeeded with the disk open"; }
	(rmmod pvblkback; echo "exit $?" >/tmp/rmmod.done) &
	i=0
	while [ ! -s /tmp/rmmod.done ] && [ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done
	[ -s /tmp/rmmod.done ] || fail_all unload "rmmod pvblkback under IO did not return in 60 s"
	echo "pvblkback-main: rmmod pvblkback under IO: $(cat /tmp/rmmod.done)"
	grep -q 'exit 0' /tmp/rmmod.done || { unload_ok=0; fail unload "rmmod pvblkback failed"; }
	# The frontends go with their pairs: pvblk fails what it still has
	# in flight once its bounded drain ends, and the writer exits.
	rmmod pvio_loop || { unload_ok=0; fail unload "rmmod pvio_loop under IO failed"; }
	i=0
	while kill -0 $writer 2>/dev/null && [ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done
	kill -0 $writer 2>/dev/null &&
		fail_all unload "the writer still runs 60 s after its disk went away"
	wait $writer
	echo "pvblkback-main: writer exited $? (errors expected)"
else
	rmmod pvblkback || { unload_ok=0; fail unload "rmmod pvblkback failed"; }
	rmmod pvio_loop || { unload_ok=0; fail unload "rmmod pvio_loop failed"; }
fi
umount /xfs 2>/dev/null
rmmod pvblk || { unload_ok=0; fail unload "rmmod pvblk failed"; }
rmmod pvio_core || { unload_ok=0; fail unload "rmmod pvio_core failed"; }
[ $unload_ok = 1 ] && pass unload
dmesg | grep -E 'pvblk|pvio' | tail -n 40
sync
exit $failed

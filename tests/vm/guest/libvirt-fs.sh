# Guest side of tests/suites/93-libvirt.sh: the guest is a libvirt domain
# whose one <shmem> ivshmem-doorbell device (PCI 0000:00:10.0, put there by
# the XML of tools/pvio-vm --print) is served by pvio-backd. /init has
# loaded ext4, pvio_core, pvio_ivshmem and pvblk. On /dev/pvblk0: ext4,
# files written, checked after a remount (lib-fs.sh's "fs" check), then
# e2fsck -fn on the unmounted disk ("fsck"). Prints "libvirt-fs: PASS
# <check>" or "libvirt-fs: FAIL <check>: why" per check; exits 1 if any
# failed. Needs /pvio/lib-fs.sh, /pvio/mkfs.ext4 and /pvio/e2fsck.

PREFIX=libvirt-fs MNT=/mnt
. /pvio/lib-fs.sh

dev=$(wait_disk 0000:00:10.0 30) ||
	fail_all disk "no pvblk disk on 0000:00:10.0 within 30 s"
[ "$dev" = pvblk0 ] || fail_all disk "the disk on 0000:00:10.0 is $dev, not pvblk0"
pass disk

fs_files pvblk0
umount "$MNT" || fail_all fs-umount "umount after the checks failed"
if /pvio/e2fsck -fn /dev/pvblk0 >/tmp/fsck.out 2>&1; then
	pass fsck
else
	fail fsck "e2fsck -fn /dev/pvblk0 found errors"
	cat /tmp/fsck.out
fi
exit $failed

# Frontend guest of tests/suites/88-driver-vm.sh (end to end, booted by
# tools/pvio-vm --backend-vm): pvblk.ko over an ivshmem-doorbell device
# whose region a driver VM serves (pvblkback.ko there). Makes ext4 on
# /dev/pvblk0 with 64 MiB of files (lib-fs.sh: fs_files), prints their
# checksums as "driver-vm-sum: SHA256 PATH" for the host to compare with
# the driver VM's image, unmounts and exits. Needs pvio_core.ko,
# pvio_ivshmem.ko and pvblk.ko loaded or in /pvio/, /pvio/lib-fs.sh,
# /pvio/mkfs.ext4 and the ext4 module. Result lines:
# "driver-vm-front: PASS|FAIL <check>".

PREFIX=driver-vm-front
MNT=/mnt/pv
. /pvio/lib-fs.sh

# tools/pvio-vm's /init has loaded them already.
for m in pvio_core pvio_ivshmem pvblk; do
	[ -d /sys/module/$m ] || insmod /pvio/$m.ko || fail_all probe "insmod $m.ko failed"
done
i=0
while [ ! -b /dev/pvblk0 ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
[ -b /dev/pvblk0 ] || fail_all probe "no /dev/pvblk0"
dmesg | grep -E 'pvblk|pvio_ivshmem' | tail -n 4
pass probe

fs_files pvblk0
fs_print_sums driver-vm-sum
umount "$MNT" || fail umount "umount failed"
cat /sys/block/pvblk0/pvio_stats
n=$(dmesg | grep -c -E 'I/O error|pvblk[0-9]+: .*failing')
[ "$n" -eq 0 ] && pass no-io-errors || fail no-io-errors "$n error lines in dmesg"
exit $failed

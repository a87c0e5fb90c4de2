# Frontend guest of tests/suites/88-driver-vm.sh (driver VM reboot):
# pvblk.ko over an ivshmem-doorbell device whose region a driver VM serves;
# the host kills that driver VM (SIGKILL of its QEMU) while this guest
# writes sequence-stamped 4 KiB blocks with FUA to /dev/pvblk0
# (/pvio/stamp, tests/progs/stamp.c), and boots a new one on the same
# image, which lays the region out with the next generation. pvblk holds
# the IO it had in flight and replays it to the new driver VM.
# Needs /pvio/pvio_core.ko, /pvio/pvio_ivshmem.ko, /pvio/pvblk.ko,
# /pvio/stamp, /pvio/lib-fs.sh, /pvio/lib-stamp.sh and
# /pvio/driver-vm-front.conf (SECONDS=, BLOCKS=: the
# writer's run and its span of blocks; WANT=: the driver VM restarts the
# host makes). Prints "driver-vm-front: started" when the writer runs,
# "driver-vm-front: PASS|FAIL <check>" per check, the writer's stall lines
# and max latency, and its log between "stamp-log: begin" and
# "stamp-log: end" for the host's stamp verify.

PREFIX=driver-vm-front
. /pvio/lib-fs.sh
. /pvio/lib-stamp.sh
. /pvio/driver-vm-front.conf

# A driver VM reboot under emulation takes tens of seconds: give the
# backend time enough to come back before held IO fails.
insmod /pvio/pvio_core.ko && insmod /pvio/pvio_ivshmem.ko &&
	insmod /pvio/pvblk.ko backend_timeout=240 || { fail probe "insmod failed"; exit 1; }
i=0
while [ ! -b /dev/pvblk0 ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
[ -b /dev/pvblk0 ] || { fail probe "no /dev/pvblk0"; dmesg | tail -n 20; exit 1; }

echo "$PREFIX: started"
/pvio/stamp write --dev /dev/pvblk0 --blocks "$BLOCKS" --seconds "$SECONDS" \
	--fua --stall-ms 500 --log /tmp/stamp.log 2>/tmp/stamp.err
rc=$?
grep -E '^stamp: (stall|max-latency)' /tmp/stamp.err | sed "s/^/$PREFIX: /"
tail -n 2 /tmp/stamp.err
stamp_checks "$rc" "$WANT" "driver VM"
exit $failed

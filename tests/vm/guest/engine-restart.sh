# Guest side of tests/suites/87-engine-restart.sh: pvblk.ko over an
# ivshmem-doorbell device served by pvio-backd, whose engine process the
# host kills (SIGKILL) at random moments while this guest writes
# sequence-stamped blocks with FUA (/pvio/stamp, tests/progs/stamp.c).
# Needs /pvio/pvio_core.ko, /pvio/pvio_ivshmem.ko, /pvio/pvblk.ko,
# /pvio/stamp, /pvio/lib-fs.sh, /pvio/lib-stamp.sh and
# /pvio/engine-restart.conf (SECONDS=, BLOCKS=, WANT=:
# the restarts the host makes). Prints "engine-restart: started" when
# the writer runs, one "engine-restart: PASS|FAIL <check>" line per check
# and the writer's log between "stamp-log: begin" and "stamp-log: end".

PREFIX=engine-restart
. /pvio/lib-fs.sh
. /pvio/lib-stamp.sh
. /pvio/engine-restart.conf

insmod /pvio/pvio_core.ko && insmod /pvio/pvio_ivshmem.ko &&
	insmod /pvio/pvblk.ko || { fail modules "insmod failed"; exit 1; }
i=0
while [ ! -b /dev/pvblk0 ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
[ -b /dev/pvblk0 ] || { fail modules "no /dev/pvblk0"; dmesg | tail -n 20; exit 1; }

echo "$PREFIX: started"
/pvio/stamp write --dev /dev/pvblk0 --blocks "$BLOCKS" --seconds "$SECONDS" \
	--fua --keep-going --log /tmp/stamp.log 2>/tmp/stamp.err
rc=$?
tail -n 3 /tmp/stamp.err
stamp_checks "$rc" "$WANT" engine
exit $failed

# Guest side of tests/suites/81-pvio-core.sh (probe-not-blocked): two
# ivshmem-doorbell devices served by build/tests/progs/test_backend:
#   0000:00:10.0  --mode mute: lays the region out (INITWAIT) and never
#                 answers the frontend's INITIALISED
#   0000:00:11.0  --mode good
# pvblk's probe of the first waits for the backend (10 s bound); the
# second device's disk must not wait for it. Prints "pvio-core: PASS
# <check>" or "pvio-core: FAIL <check>: why"; exits 1 if any check failed.
# Loads /pvio/pvio_core.ko when there is one, so that the same script runs
# against a build of the transport from before the pvio bus.

MUTE=0000:00:10.0 GOOD=0000:00:11.0
# The disk must appear this soon after insmod pvblk (the mute device's
# probe waits 10 s).
BOUND=4
failed=0

pass() { echo "pvio-core: PASS $1"; }
fail() { echo "pvio-core: FAIL $1: $2"; failed=1; }

# The pvblk disk on PCI device $1 (under its pvio device, or directly
# under it before the bus), or nothing.
disk_of() {
	for b in /sys/bus/pci/devices/"$1"/pvio*/block/pvblk* \
		/sys/bus/pci/devices/"$1"/block/pvblk*; do
		[ -e "$b" ] && basename "$b" && return
	done
}

# Milliseconds since boot.
now_ms() {
	awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}

if [ -e /pvio/pvio_core.ko ]; then
	insmod /pvio/pvio_core.ko || { fail setup "insmod pvio_core.ko failed"; exit 1; }
fi
insmod /pvio/pvio_ivshmem.ko || { fail setup "insmod pvio_ivshmem.ko failed"; exit 1; }

# insmod may itself wait for the probes it started: run it aside.
t0=$(now_ms)
insmod /pvio/pvblk.ko &
ins=$!
good='' i=0
while [ $i -lt 150 ]; do
	good=$(disk_of $GOOD)
	[ -n "$good" ] && [ -b "/dev/$good" ] && break
	good=''
	sleep 0.1
	i=$((i + 1))
done
t1=$(now_ms)
dt=$((t1 - t0))
echo "pvio-core: disk on $GOOD: '${good}' after $dt ms"
timeout_line='pvblk: backend did not answer the connection in 10 s (state 2)'
if [ -z "$good" ]; then
	fail probe-not-blocked "no disk on $GOOD within 15 s"
elif [ $dt -gt $((BOUND * 1000)) ]; then
	fail probe-not-blocked "the disk on $GOOD took $dt ms (> $BOUND s): held up by the mute device's probe"
elif [ -n "$(disk_of $MUTE)" ] || dmesg | grep -q "$timeout_line"; then
	fail probe-not-blocked "the mute device's probe was over already"
else
	pass probe-not-blocked
fi

# The disk works while the other probe still waits.
if [ -n "$good" ] && head -c 65536 /dev/urandom >/tmp/pat &&
	dd if=/tmp/pat of="/dev/$good" bs=65536 count=1 oflag=direct 2>/dev/null &&
	dd if="/dev/$good" of=/tmp/back bs=65536 count=1 iflag=direct 2>/dev/null &&
	cmp -s /tmp/pat /tmp/back; then
	pass good-disk-io
else
	fail good-disk-io "IO on /dev/$good failed or read back wrong"
fi

# The mute device's probe ends with its timeout, and no disk.
i=0
while [ $i -lt 200 ] && ! dmesg | grep -q "$timeout_line"; do
	sleep 0.1
	i=$((i + 1))
done
t2=$(now_ms)
if dmesg | grep -q "pvblk pvio[0-9]*: $timeout_line" && [ -z "$(disk_of $MUTE)" ]; then
	echo "pvio-core: mute device gave up $((t2 - t0)) ms after insmod"
	pass mute-times-out
else
	fail mute-times-out "no '$timeout_line' line within 20 s, or a disk anyway"
fi
wait $ins
echo "pvio-core: insmod pvblk exited $?"

if rmmod pvblk && rmmod pvio_ivshmem && { [ ! -e /pvio/pvio_core.ko ] || rmmod pvio_core; }; then
	pass unload
else
	fail unload "unloading the modules failed"
fi
dmesg | grep -E 'pvblk|pvio' | tail -n 20
exit $failed

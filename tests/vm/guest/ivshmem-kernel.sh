# Guest side of tests/suites/55-ivshmem-kernel.sh: load pvio_core.ko and
# pvio_ivshmem.ko with five ivshmem-doorbell devices attached, each served
# by a host-side tests/progs/ivshmem_region:
#   0000:00:10.0  a valid pvio block region, vectors=2 (the host rings its
#                 vector 1 every 2 ms, so unloading races with doorbells)
#   0000:00:11.0  an all-zero region: not pvio's, left alone until this
#                 guest is asked to serve it (the backend role)
#   0000:00:12.0  a pvio region whose queue 0 data area is past the end
#   0000:00:13.0  a valid pvio region on a device with vectors=1
#   0000:00:14.0  a parked region (magic, backend not ready), laid out
#                 only when this script prints "parked-ready-for-layout"
#                 (the host then sends the helper "layout")
# Prints one "ivshmem-kernel: PASS <check>" or "ivshmem-kernel: FAIL
# <check>: why" line per check, so that the host can report each case, and
# exits 1 if any check failed.

PV=0000:00:10.0 ZERO=0000:00:11.0 BAD=0000:00:12.0 FEW=0000:00:13.0
PARK=0000:00:14.0
DBG=/sys/kernel/debug/pvio_ivshmem
failed=0

pass() { echo "ivshmem-kernel: PASS $1"; }
fail() { echo "ivshmem-kernel: FAIL $1: $2"; failed=1; }

driver_of() {
	l=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) || return 0
	basename "$l"
}

# The count in column $2 ("irqs" is 3, "notifies" 5) of vector $1 of PCI
# device $3 (default $PV).
count_of() {
	awk -v v="$1" -v c="$2" '$1 == v { print $c }' "$DBG/${3:-$PV}/irq_counts"
}

# The pvio devices (pvioN) whose transport is PCI device $1.
pvio_of() {
	for p in /sys/bus/pci/devices/"$1"/pvio*; do
		[ -e "$p/role" ] && basename "$p"
	done
}

mount -t debugfs debugfs /sys/kernel/debug || { fail setup "no debugfs"; exit 1; }
for d in $PV $ZERO $BAD $FEW $PARK; do
	[ -e "/sys/bus/pci/devices/$d" ] || { fail setup "no PCI device $d"; exit 1; }
done
insmod /pvio/pvio_core.ko || { fail setup "insmod pvio_core.ko failed"; exit 1; }
insmod /pvio/pvio_ivshmem.ko || { fail setup "insmod pvio_ivshmem.ko failed"; exit 1; }

# (a) a pvio region binds, with its size and queue count in the log, and
# becomes a frontend device on the pvio bus.
if dmesg | grep -q "pvio_ivshmem $PV: pvio region: 1048576 bytes, class blk, 1 queue, 2 vectors, peer id [0-9]"; then
	pv=$(pvio_of $PV)
	if [ "$(driver_of $PV)" = pvio_ivshmem ] && [ -r "$DBG/$PV/irq_counts" ] &&
		[ -n "$pv" ] && [ "$(cat "/sys/bus/pvio/devices/$pv/role")" = frontend ] &&
		[ "$(cat "/sys/bus/pvio/devices/$pv/dev_class")" = blk ] &&
		[ "$(cat "/sys/bus/pvio/devices/$pv/region_size")" = 1048576 ] &&
		dmesg | grep -q "pvio_ivshmem $PV: frontend $pv\$"; then
		pass bind
	else
		fail bind "driver link '$(driver_of $PV)', debugfs or pvio device '$pv' missing or wrong"
	fi
else
	fail bind "no bind line for $PV"
fi
cat "$DBG/$PV/info" 2>/dev/null

# (a) the guest rings the backend's vector 1; the host checks its log.
if echo 1 >"$DBG/$PV/notify" && [ "$(count_of 1 5)" = 1 ]; then
	pass guest-rings-host
else
	fail guest-rings-host "notify write failed or not counted"
fi
if echo 256 >"$DBG/$PV/notify" 2>/dev/null; then
	fail notify-range "vector 256 accepted"
else
	pass notify-range
fi

# (a) the host keeps ringing our vector 1: the IRQ count must grow.
first=$(count_of 1 3)
n=$first i=0
while [ "$i" -lt 150 ]; do
	n=$(count_of 1 3)
	[ "$n" -ge $((first + 2)) ] && break
	sleep 0.2
	i=$((i + 1))
done
echo "ivshmem-kernel: vector 1 irqs $first -> $n"
if [ "$n" -ge $((first + 2)) ] && grep -q "pvio_ivshmem-$PV-1\$" /proc/interrupts; then
	pass host-rings-guest
else
	fail host-rings-guest "vector 1 IRQ count stayed at $n"
fi
cat "$DBG/$PV/irq_counts"

# (b) a region that is not pvio's is left alone with one info line: no
# pvio device, no doorbells, no debugfs (the driver stays bound only to
# offer pvio_backend).
if dmesg | grep -q "pvio_ivshmem $ZERO: no pvio region (magic 0x0); leaving the device alone" &&
	[ -z "$(pvio_of $ZERO)" ] && [ ! -e "$DBG/$ZERO" ] &&
	! grep -q "pvio_ivshmem-$ZERO-" /proc/interrupts; then
	pass foreign
else
	fail foreign "no 'leaving the device alone' line, or a pvio device, IRQs or debugfs anyway"
fi

# (c) a corrupt header is refused, naming the broken rule.
if dmesg | grep -q "pvio_ivshmem $BAD: pvio region refused: data area outside the region" &&
	[ -z "$(driver_of $BAD)" ]; then
	pass corrupt
else
	fail corrupt "no 'data area outside the region' refusal, or bound anyway"
fi

# (c) too few MSI-X vectors for the header's doorbells: refused clearly.
if dmesg | grep -q "pvio_ivshmem $FEW: the region's doorbells need 2 MSI-X vectors, the device has 1" &&
	[ -z "$(driver_of $FEW)" ]; then
	pass few-vectors
else
	fail few-vectors "no clear refusal for a device with 1 vector"
fi

# (d) a parked region: the device stays bound, waiting for its backend,
# with no pvio device; unbinding it while it waits is clean; once the
# backend lays the region out, it becomes a frontend within a second or
# so (it is looked at every 200 ms). The PCI device is removed from this
# guest afterwards, so that the reloads and class driver checks below see
# only $PV.
wait_line="pvio_ivshmem $PARK: pvio region parked: its backend has not laid it out yet; waiting up to 60 s"
if dmesg | grep -q "$wait_line" && [ "$(driver_of $PARK)" = pvio_ivshmem ] &&
	[ -z "$(pvio_of $PARK)" ] && [ ! -e "$DBG/$PARK" ]; then
	pass parked-waits
else
	fail parked-waits "no waiting line, not bound, or a pvio device for a parked region"
fi
echo $PARK >/sys/bus/pci/drivers/pvio_ivshmem/unbind
if dmesg | grep -q "pvio_ivshmem $PARK: pvio region released" &&
	[ -z "$(driver_of $PARK)" ] &&
	echo $PARK >/sys/bus/pci/drivers/pvio_ivshmem/bind &&
	[ "$(dmesg | grep -c "$wait_line")" = 2 ]; then
	pass parked-unbind
else
	fail parked-unbind "unbinding a waiting device or binding it again went wrong"
fi
echo "ivshmem-kernel: parked-ready-for-layout"
i=0
while [ "$i" -lt 150 ] && [ -z "$(pvio_of $PARK)" ]; do
	sleep 0.2
	i=$((i + 1))
done
pk=$(pvio_of $PARK)
if [ -n "$pk" ] && [ "$(cat "/sys/bus/pvio/devices/$pk/role")" = frontend ] &&
	dmesg | grep -q "pvio_ivshmem $PARK: frontend $pk\$"; then
	pass parked-binds
	echo "ivshmem-kernel: parked region bound after $((i * 200)) ms"
else
	fail parked-binds "no frontend device within 30 s of the layout"
fi
echo 1 >/sys/bus/pci/devices/$PARK/remove

# --- the backend role, on the all-zero region ------------------------------

BE=/sys/bus/pci/devices/$ZERO/pvio_backend
head -c 4194304 /dev/zero >/tmp/backing.img
# Lines that must be refused, each with a log line naming what is wrong.
bad_ok=1
for spec in "blk /tmp/backing.img|peer=N required" \
	"blk /tmp/backing.img peer=0 bogus|'bogus' not understood" \
	"blk /tmp/backing.img peer=70000|peer must be 0..65535" \
	"net /tmp/backing.img peer=0|class 'net' unknown" \
	"blk /nonexistent peer=0|cannot open /nonexistent: -2" \
	"blk|expected \"CLASS PATH"; do
	line=${spec%%|*} why=${spec#*|}
	if echo "$line" >"$BE" 2>/dev/null; then
		fail backend-bad-lines "'$line' accepted"
		bad_ok=0
	elif ! dmesg | grep -qF "$why"; then
		fail backend-bad-lines "'$line' refused without a line saying '$why'"
		bad_ok=0
	fi
done
if [ $bad_ok = 1 ] && [ -z "$(pvio_of $ZERO)" ]; then
	pass backend-bad-lines
elif [ $bad_ok = 1 ]; then
	fail backend-bad-lines "a refused line left a pvio device behind"
fi

# Peer 0 is the ivshmem server, i.e. the host helper: what the backend
# device rings is seen in its log.
if echo "blk /tmp/backing.img queues=1 peer=0" >"$BE"; then
	be=$(pvio_of $ZERO)
	if [ -n "$be" ] && [ -e "/sys/bus/pvio/devices/$be" ] &&
		[ "$(cat "/sys/bus/pvio/devices/$be/role")" = backend ] &&
		[ "$(cat "/sys/bus/pvio/devices/$be/dev_class")" = blk ] &&
		[ "$(cat "/sys/bus/pvio/devices/$be/region_size")" = 1048576 ] &&
		dmesg | grep -q "pvio_ivshmem $ZERO: backend $be: blk /tmp/backing.img, 1 queue, frontend peer 0, 2 vectors" &&
		grep -q "pvio_ivshmem-$ZERO-1\$" /proc/interrupts &&
		grep -q '^role backend$' "$DBG/$ZERO/info"; then
		pass backend-register
	else
		fail backend-register "no backend device '$be' with role backend, its log line, IRQs or debugfs"
	fi
	cat "$DBG/$ZERO/info" 2>/dev/null
else
	fail backend-register "writing a backend line failed"
fi
if echo "blk /tmp/backing.img peer=0" >"$BE" 2>/dev/null; then
	fail backend-busy "a second backend line accepted"
elif dmesg | grep -q "pvio_ivshmem $ZERO: pvio_backend: the device already has a backend"; then
	pass backend-busy
else
	fail backend-busy "second line refused without saying why"
fi
# The host rings our vector 1 every 200 ms: the backend's IRQ counts.
first=$(count_of 1 3 $ZERO) n=$first i=0
while [ "$i" -lt 100 ] && [ "${n:-0}" -lt $((${first:-0} + 2)) ]; do
	sleep 0.2
	n=$(count_of 1 3 $ZERO)
	i=$((i + 1))
done
if [ -n "$first" ] && [ "$n" -ge $((first + 2)) ]; then
	pass backend-rings
else
	fail backend-rings "vector 1 IRQs of the backend device stayed at '$n'"
fi
if echo 1 >"$DBG/$ZERO/notify" && [ "$(count_of 1 5 $ZERO)" = 1 ]; then
	pass backend-notify
else
	fail backend-notify "notify on the backend device failed or not counted"
fi
if echo remove >"$BE" && [ -z "$(pvio_of $ZERO)" ] && [ ! -e "$DBG/$ZERO" ] &&
	! grep -q "pvio_ivshmem-$ZERO-" /proc/interrupts &&
	dmesg | grep -q "pvio_ivshmem $ZERO: backend $be removed" &&
	! echo remove >"$BE" 2>/dev/null; then
	pass backend-remove
else
	fail backend-remove "remove failed, left the device, IRQs or debugfs, or a second remove succeeded"
fi
# Left registered: unloading the transport must take it away.
echo "blk /tmp/backing.img ro peer=0" >"$BE" || fail backend-unload "registering again failed"
ls /sys/bus/pvio/devices

# Unload while the host keeps ringing; then load and unload once more.
if rmmod pvio_ivshmem && dmesg | grep -q "pvio_ivshmem $PV: pvio region released" &&
	[ ! -e "$DBG" ] && ! grep -q pvio_ivshmem /proc/interrupts &&
	[ -z "$(ls /sys/bus/pvio/devices)" ]; then
	pass backend-unload
	pass rmmod
else
	fail rmmod "rmmod failed or left IRQs, debugfs or pvio devices behind"
	fail backend-unload "see rmmod"
fi
if insmod /pvio/pvio_ivshmem.ko && [ "$(driver_of $PV)" = pvio_ivshmem ] &&
	rmmod pvio_ivshmem && [ "$(dmesg | grep -c "pvio_ivshmem $PV: pvio region released")" = 2 ]; then
	pass reload
else
	fail reload "second load/unload cycle failed"
fi

# Class binding, class driver registered after the transport's devices: it
# gets the pvio device (and only it), binds vectors, rings the host.
ct_probe="pvio_class_test pvio[0-9]*: probe: 1 queue(s), region 1048576 bytes, notify 0, transport $PV"
ct_remove="pvio_class_test pvio[0-9]*: remove: vector 0 doorbells [0-9]*, vector 1 doorbells"
CTD=/sys/bus/pvio/drivers/pvio_class_test
if insmod /pvio/pvio_ivshmem.ko && insmod /pvio/pvio_class_test.ko &&
	dmesg | grep -q "$ct_probe" &&
	[ "$(ls -d $CTD/pvio* 2>/dev/null | wc -l)" = 1 ] &&
	[ -e "$CTD/$(pvio_of $PV)" ]; then
	pass class-after
else
	fail class-after "class driver loaded second did not get exactly the pvio device"
fi
# The bus cannot go while a transport or class driver uses it.
if rmmod pvio_core 2>/dev/null; then
	fail class-pins-core "pvio_core unloaded under its transport and class driver"
else
	pass class-pins-core
fi
# Device unbound and bound again while the class driver is registered: the
# class driver is removed, then probed by the new pvio device. The host
# keeps ringing vector 1: wait until the transport has taken two IRQs on it
# while the class driver's handler was bound.
base=$(count_of 1 3) n=$base i=0
while [ "$i" -lt 150 ] && [ "$n" -lt $((base + 2)) ]; do
	sleep 0.2
	n=$(count_of 1 3)
	i=$((i + 1))
done
echo $PV >/sys/bus/pci/drivers/pvio_ivshmem/unbind
n=$(dmesg | grep "$ct_remove" | sed -n 's/.*vector 1 doorbells \([0-9]*\)$/\1/p' | tail -n 1)
echo "ivshmem-kernel: class handler saw ${n:-no} doorbells on vector 1"
echo $PV >/sys/bus/pci/drivers/pvio_ivshmem/bind
if [ "${n:-0}" -ge 2 ] && [ "$(dmesg | grep -c "$ct_probe")" = 2 ] &&
	[ "$(driver_of $PV)" = pvio_ivshmem ] && [ -e "$CTD/$(pvio_of $PV)" ]; then
	pass class-before
else
	fail class-before "handler did not run, or no probe after rebinding the device"
fi
# The transport unloaded under the class driver: the class driver is
# removed from the device first; loaded again, it is probed again.
if rmmod pvio_ivshmem && [ "$(dmesg | grep -c "$ct_remove")" = 2 ] &&
	[ -z "$(ls /sys/bus/pvio/devices)" ] &&
	insmod /pvio/pvio_ivshmem.ko && [ "$(dmesg | grep -c "$ct_probe")" = 3 ]; then
	pass transport-unload
else
	fail transport-unload "unloading the transport under its class driver, or loading it again, went wrong"
fi
if rmmod pvio_class_test && [ "$(dmesg | grep -c "$ct_remove")" = 3 ] &&
	rmmod pvio_ivshmem && rmmod pvio_core && [ ! -e /sys/bus/pvio ]; then
	pass class-unload
else
	fail class-unload "unloading class driver, transport, then core failed"
fi

dmesg | grep pvio_ivshmem
exit $failed

# Guest side of tests/suites/55-ivshmem-kernel.sh: load pvio_ivshmem.ko
# with four ivshmem-doorbell devices attached, each served by a host-side
# tests/progs/ivshmem_region:
#   0000:00:10.0  a valid pvio block region, vectors=2 (the host rings its
#                 vector 1 every 2 ms, so unloading races with doorbells)
#   0000:00:11.0  an all-zero region: not pvio's
#   0000:00:12.0  a pvio region whose queue 0 data area is past the end
#   0000:00:13.0  a valid pvio region on a device with vectors=1
# Prints one "ivshmem-kernel: PASS <check>" or "ivshmem-kernel: FAIL
# <check>: why" line per check, so that the host can report each case, and
# exits 1 if any check failed.

PV=0000:00:10.0 ZERO=0000:00:11.0 BAD=0000:00:12.0 FEW=0000:00:13.0
DBG=/sys/kernel/debug/pvio_ivshmem
failed=0

pass() { echo "ivshmem-kernel: PASS $1"; }
fail() { echo "ivshmem-kernel: FAIL $1: $2"; failed=1; }

driver_of() {
	l=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) || return 0
	basename "$l"
}

# The count in column $2 ("irqs" is 3, "notifies" 5) of vector $1.
count_of() {
	awk -v v="$1" -v c="$2" '$1 == v { print $c }' "$DBG/$PV/irq_counts"
}

mount -t debugfs debugfs /sys/kernel/debug || { fail setup "no debugfs"; exit 1; }
for d in $PV $ZERO $BAD $FEW; do
	[ -e "/sys/bus/pci/devices/$d" ] || { fail setup "no PCI device $d"; exit 1; }
done
insmod /pvio/pvio_ivshmem.ko || { fail setup "insmod pvio_ivshmem.ko failed"; exit 1; }

# (a) a pvio region binds, with its size and queue count in the log.
if dmesg | grep -q "pvio_ivshmem $PV: pvio region: 1048576 bytes, class blk, 1 queue, 2 vectors, peer id [0-9]"; then
	if [ "$(driver_of $PV)" = pvio_ivshmem ] && [ -r "$DBG/$PV/irq_counts" ]; then
		pass bind
	else
		fail bind "driver link '$(driver_of $PV)' or debugfs missing"
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

# (b) a region that is not pvio's is left alone with one info line.
if dmesg | grep -q "pvio_ivshmem $ZERO: no pvio region (magic 0x0); leaving the device alone" &&
	[ -z "$(driver_of $ZERO)" ] && [ ! -e "$DBG/$ZERO" ]; then
	pass foreign
else
	fail foreign "no 'leaving the device alone' line, or bound anyway"
fi

# (c) a corrupt header is refused, naming the broken rule.
if dmesg | grep -q "pvio_ivshmem $BAD: pvio region refused: queue 0: data area outside the region" &&
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

# Unload while the host keeps ringing; then load and unload once more.
if rmmod pvio_ivshmem && dmesg | grep -q "pvio_ivshmem $PV: pvio region released" &&
	[ ! -e "$DBG" ] && ! grep -q pvio_ivshmem /proc/interrupts; then
	pass rmmod
else
	fail rmmod "rmmod failed or left IRQs or debugfs behind"
fi
if insmod /pvio/pvio_ivshmem.ko && [ "$(driver_of $PV)" = pvio_ivshmem ] &&
	rmmod pvio_ivshmem && [ "$(dmesg | grep -c "pvio_ivshmem $PV: pvio region released")" = 2 ]; then
	pass reload
else
	fail reload "second load/unload cycle failed"
fi

# Class binding, class driver registered after the transport's devices: it
# gets the pvio device (and only it), binds vectors, rings the host.
ct_probe="pvio_ivshmem $PV: pvio_class_test: probe: 1 queue(s), region 1048576 bytes, notify 0"
ct_remove="pvio_ivshmem $PV: pvio_class_test: remove: vector 0 doorbells [0-9]*, vector 1 doorbells"
if insmod /pvio/pvio_ivshmem.ko && insmod /pvio/pvio_class_test.ko &&
	dmesg | grep -q "$ct_probe" &&
	[ "$(dmesg | grep -c 'bound to class driver pvio_class_test')" = 1 ]; then
	pass class-after
else
	fail class-after "class driver loaded second did not get exactly the pvio device"
fi
# The transport cannot go while a class driver uses its symbols.
if rmmod pvio_ivshmem 2>/dev/null; then
	fail class-pins-transport "pvio_ivshmem unloaded under its class driver"
else
	pass class-pins-transport
fi
# Device unbound and bound again while the class driver is registered: the
# class driver is removed, then probed by the new transport device. The
# host keeps ringing vector 1: wait until the transport has taken two
# IRQs on it while the class driver's handler was bound.
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
	[ "$(driver_of $PV)" = pvio_ivshmem ]; then
	pass class-before
else
	fail class-before "handler did not run, or no probe after rebinding the device"
fi
if rmmod pvio_class_test && [ "$(dmesg | grep -c "$ct_remove")" = 2 ] &&
	rmmod pvio_ivshmem; then
	pass class-unload
else
	fail class-unload "unloading class driver then transport failed"
fi

dmesg | grep pvio_ivshmem
exit $failed

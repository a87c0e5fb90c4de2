# Guest side of tests/suites/80-pvblk.sh: pvblk.ko against hostile
# backends (build/tests/progs/test_backend), one ivshmem-doorbell device
# each. Every backend serves its first requests correctly (--after), so the
# disk appears and its partition scan succeeds; from then on it answers
#   0000:00:10.0  bad-id      with ids no request has
#   0000:00:11.0  dup-id      every request twice
#   0000:00:12.0  bad-status  with an unknown status
#   0000:00:13.0  prod-jump   by publishing a producer index past the ring
#   0000:00:14.0  silent      never (the device is then unbound under a
#                             stuck reader: removal must not wait forever)
# Reads must fail, pvblk must log one line naming the breach and ending in
# "failing all IO", later IO must fail at once and both modules must
# unload. Prints "pvblk-garbage: PASS <mode>" or "pvblk-garbage: FAIL
# <mode>: why" per device and for "unload"; exits 1 if any check failed.

SILENT=0000:00:14.0

failed=0

pass() { echo "pvblk-garbage: PASS $1"; }
fail() { echo "pvblk-garbage: FAIL $1: $2"; failed=1; }

disk_of() {
	for b in /sys/bus/pci/devices/"$1"/pvio*/block/pvblk*; do
		[ -e "$b" ] && basename "$b" && return
	done
}

# The pvio device (pvioN) of PCI device $1: pvblk logs with its name.
pvio_of() {
	for p in /sys/bus/pci/devices/"$1"/pvio*; do
		[ -e "$p/role" ] && basename "$p" && return
	done
}

unbind() {
	echo "$1" >/sys/bus/pci/drivers/pvio_ivshmem/unbind
}

insmod /pvio/pvio_core.ko || { fail setup "insmod pvio_core.ko failed"; exit 1; }
insmod /pvio/pvio_ivshmem.ko || { fail setup "insmod pvio_ivshmem.ko failed"; exit 1; }
insmod /pvio/pvblk.ko || { fail setup "insmod pvblk.ko failed"; exit 1; }
dmesg | grep 'pvblk[0-9]*: [0-9]* sectors'

for spec in 0000:00:10.0:bad-id:'backend answered a request it does not hold' \
	0000:00:11.0:dup-id:'backend answered a request it does not hold' \
	0000:00:12.0:bad-status:'backend sent a malformed response' \
	0000:00:13.0:prod-jump:'backend corrupted the response ring'; do
	pci=$(echo "$spec" | cut -d: -f1-3)
	mode=$(echo "$spec" | cut -d: -f4)
	why=$(echo "$spec" | cut -d: -f5-)
	d=$(disk_of "$pci")
	if [ -z "$d" ]; then
		fail "$mode" "no disk on $pci"
		continue
	fi
	line="pvblk $(pvio_of "$pci"): $d: $why; failing all IO"
	if dmesg | grep -qF "$line"; then
		echo "pvblk-garbage: $mode: $d died before any IO of ours"
	fi
	# 64 direct reads: more than the backend answers correctly.
	if dd if="/dev/$d" of=/dev/null bs=4096 count=64 iflag=direct 2>/tmp/dd.err; then
		fail "$mode" "reading /dev/$d succeeded"
		continue
	fi
	echo "pvblk-garbage: $mode: read failed: $(tail -n 1 /tmp/dd.err)"
	if [ "$(dmesg | grep -cF "$line")" != 1 ]; then
		fail "$mode" "expected one line '$line'"
		dmesg | grep -F "$(pvio_of "$pci")" | tail -n 5
		continue
	fi
	# A dead device fails new IO without asking the backend.
	if dd if="/dev/$d" of=/dev/null bs=4096 count=1 skip=100 iflag=direct 2>/dev/null ||
		dd if=/dev/zero of="/dev/$d" bs=4096 count=1 oflag=direct 2>/dev/null; then
		fail "$mode" "IO on the dead /dev/$d succeeded"
		continue
	fi
	pass "$mode"
done

# A backend that stops answering: the reader waits (pvblk retries the
# timeout while the backend may be restarting), until the device is
# unbound; removal then fails what the backend holds after its drain
# timeout, and returns.
d=$(disk_of $SILENT)
if [ -n "$d" ]; then
	dd if="/dev/$d" of=/dev/null bs=4096 count=64 iflag=direct 2>/tmp/silent.err &
	reader=$!
	# Stuck: a read in flight at two looks half a second apart.
	i=0 seen=0
	while kill -0 $reader 2>/dev/null && [ $seen -lt 2 ] && [ $i -lt 60 ]; do
		sleep 0.5
		reads=$(awk '{ print $1 }' "/sys/block/$d/inflight")
		if [ "$reads" -gt 0 ]; then seen=$((seen + 1)); else seen=0; fi
		i=$((i + 1))
	done
	if kill -0 $reader 2>/dev/null; then
		echo "pvblk-garbage: silent: reader stuck as expected: $(cat "/sys/block/$d/inflight")"
		spv=$(pvio_of $SILENT) t0=$(date +%s)
		(unbind $SILENT; echo "exit $?" >/tmp/silent.done) &
		i=0
		while { [ ! -s /tmp/silent.done ] || kill -0 $reader 2>/dev/null; } && [ $i -lt 150 ]; do
			sleep 0.2
			i=$((i + 1))
		done
		echo "pvblk-garbage: silent: unbind $(cat /tmp/silent.done 2>/dev/null) after $(($(date +%s) - t0)) s"
		line="pvblk $spv: $d: backend did not finish in-flight IO on removal; failing all IO"
		if [ ! -s /tmp/silent.done ]; then
			fail silent "unbinding $SILENT did not return in 30 s"
		elif kill -0 $reader 2>/dev/null; then
			fail silent "the reader still hangs after the unbind"
		elif wait $reader; then
			fail silent "the stuck read succeeded"
		elif ! dmesg | grep -qF "$line"; then
			fail silent "no line '$line'"
		else
			pass silent
		fi
	else
		wait $reader
		fail silent "the read finished (exit $?) although the backend is silent"
	fi
else
	fail silent "no disk on $SILENT"
fi

if rmmod pvblk && rmmod pvio_ivshmem && rmmod pvio_core; then
	pass unload
else
	fail unload "rmmod pvblk / pvio_ivshmem / pvio_core failed"
fi
dmesg | grep -E 'pvblk|pvio_ivshmem' | tail -n 30
exit $failed

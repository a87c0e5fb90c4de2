# Guest side of vm-ring-selftest: load the ring self-test module, which runs
# every check at load time, and require its PASS summary line.
# Runs under tests/vm/pvio-vm-run with pvio_ring_test.ko in /pvio.

if ! insmod /pvio/pvio_ring_test.ko; then
	echo "ring-selftest: insmod pvio_ring_test.ko failed"
	exit 1
fi
if dmesg | grep -q 'pvio_ring_test: FAIL'; then
	echo "ring-selftest: the self-test reported failures"
	exit 1
fi
if ! dmesg | grep -q 'pvio_ring_test: PASS ('; then
	echo "ring-selftest: no PASS line from pvio_ring_test"
	exit 1
fi
if ! rmmod pvio_ring_test; then
	echo "ring-selftest: rmmod pvio_ring_test failed"
	exit 1
fi
echo "ring-selftest: ok"
exit 0

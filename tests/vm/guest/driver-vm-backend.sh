# Guest side of the driver VM in tests/suites/88-driver-vm.sh: serve this
# guest's virtio-blk disk (/dev/vda) with pvblkback.ko through its
# ivshmem-doorbell device (connected to pvio-backd --driver-vm's backend
# socket, so its own ivshmem peer id is 0) to the frontend, peer 1.
# Needs /pvio/pvio_core.ko, /pvio/pvio_ivshmem.ko, /pvio/pvblkback.ko
# (copied with --module, loaded here) and the kernel's virtio_blk
# (--kmod). QUEUES=N in /pvio/driver-vm.conf, if there, sets the queues.
#
# Prints "driver-vm: serving" once pvblkback serves the region (the host
# starts the frontend then), then serves until the host writes a line
# "stop" to the second serial port (/dev/ttyS1, a QEMU pipe chardev; with
# no such port it serves until QEMU is stopped or killed). On "stop" it
# removes the backend, prints pvblkback's statistics and exits 0. Result
# lines: "driver-vm: PASS|FAIL <check>".

PREFIX=driver-vm
failed=0
pass() { echo "$PREFIX: PASS $1"; }
fail() { echo "$PREFIX: FAIL $1: $2"; failed=1; }
QUEUES=1
[ ! -r /pvio/driver-vm.conf ] || . /pvio/driver-vm.conf

insmod /pvio/pvio_core.ko && insmod /pvio/pvio_ivshmem.ko &&
	insmod /pvio/pvblkback.ko || { fail serve "insmod failed"; exit 1; }

# The ivshmem device: Red Hat's vendor id, device 0x1110.
bdf=''
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ]; then
		bdf=${d##*/}
		break
	fi
done
[ -n "$bdf" ] || { fail serve "no ivshmem-doorbell device"; exit 1; }
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
[ -b /dev/vda ] || { fail serve "no /dev/vda"; exit 1; }
dmesg | grep "pvio_ivshmem $bdf"

if ! echo "blk /dev/vda peer=1 queues=$QUEUES" >"/sys/bus/pci/devices/$bdf/pvio_backend"; then
	fail serve "the pvio_backend line was refused"
	dmesg | grep -E 'pvio|pvblkback' | tail -n 10
	exit 1
fi
i=0
while ! dmesg | grep -q '/dev/vda: [0-9]* sectors of' && [ $i -lt 50 ]; do
	sleep 0.2
	i=$((i + 1))
done
dmesg | grep -E 'pvblkback|pvio' | tail -n 4
if ! dmesg | grep -q '/dev/vda: [0-9]* sectors of'; then
	fail serve "pvblkback did not say it serves /dev/vda"
	exit 1
fi
pass serve
echo "$PREFIX: serving /dev/vda on $bdf, $QUEUES queue(s)"

if [ ! -c /dev/ttyS1 ]; then
	while :; do sleep 3600; done
fi
stty -F /dev/ttyS1 -echo 2>/dev/null
exec 3</dev/ttyS1
while read -r line <&3; do
	[ "$line" = stop ] && break
done
dmesg | grep -E 'pvblkback|pvio' | tail -n 8
cat /sys/bus/pvio/devices/pvio*/pvblkback/stats 2>/dev/null
if echo remove >"/sys/bus/pci/devices/$bdf/pvio_backend"; then
	pass stop
else
	fail stop "remove was refused"
fi
echo "$PREFIX: stopped"
exit $failed

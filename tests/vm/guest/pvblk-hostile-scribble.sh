# Guest side of the scribble boot of tests/suites/83-pvblk-hostile.sh:
# pvblk.ko (io_timeout=3 backend_timeout=4) with two test_backend devices:
#   0000:00:10.0  good: fio with verification the whole time
#   0000:00:11.0  scribble, two queues: once it served 64 requests it keeps
#                 writing random bytes over the region header, the block
#                 config, both rings and its responses while readers and
#                 writers run on it
# for pvblk_scribble_s=N seconds (kernel command line, default 20).
# Every 4 s the scribbled device is unbound from pvio_ivshmem and bound
# again, so that probing (region check, handshake, config, partition
# scan) also meets the scribbling, not only the first connection: each
# unbind and bind must return, whatever the region holds.
# Checks ("pvblk-scribble: PASS <check>" or "... FAIL <check>: why"):
#   good-device    fio on the good disk verifies all it wrote
#   scribbled      the scribbled disk's IO ended (no reader left after
#                  the run plus io_timeout + backend_timeout), pvblk or
#                  the transport logged what it refused, and the
#                  re-probes all returned
#   unload         all modules unload
# The console must show no BUG/WARNING/Oops (pvio-vm-run checks).
# Exits 1 if any check failed.

GOOD=0000:00:10.0 BAD=0000:00:11.0
PREFIX=pvblk-scribble

. /pvio/lib-fs.sh


secs=20
for a in $(cat /proc/cmdline); do
	case "$a" in pvblk_scribble_s=*) secs=${a#pvblk_scribble_s=} ;; esac
done

insmod /pvio/pvio_core.ko || { fail setup "insmod pvio_core.ko failed"; exit 1; }
insmod /pvio/pvio_ivshmem.ko || { fail setup "insmod pvio_ivshmem.ko failed"; exit 1; }
insmod /pvio/pvblk.ko io_timeout=3 backend_timeout=4 ||
	{ fail setup "insmod pvblk.ko failed"; exit 1; }
g=$(wait_disk $GOOD 30) || { fail good-device "no disk on $GOOD"; exit 1; }
b=$(wait_disk $BAD 30) || { fail scribbled "no disk on $BAD"; exit 1; }
echo "$PREFIX: scribbling for $secs s on $b, verifying on $g"

# Readers and writers on the scribbled disk (whichever pvblk disk the
# device has at the moment), until told to stop.
rm -f /tmp/stop
for j in 1 2 3; do
	(
		while [ ! -e /tmp/stop ]; do
			d=$(disk_of $BAD)
			if [ -z "$d" ]; then
				sleep 0.2
				continue
			fi
			dd if="/dev/$d" of=/dev/null bs=64k count=16 skip=$((j * 16)) iflag=direct 2>/dev/null ||
				sleep 0.1
			dd if=/dev/urandom of="/dev/$d" bs=16k count=4 seek=$((j * 64)) oflag=direct 2>/dev/null
		done
	) &
	eval "io$j=\$!"
done
# Re-probes of the scribbled device; /tmp/reprobes counts those that
# returned.
DRV=/sys/bus/pci/drivers/pvio_ivshmem
echo 0 >/tmp/reprobes
(
	n=0
	while [ ! -e /tmp/stop ]; do
		sleep 4
		[ -e /tmp/stop ] && break
		[ -e "$DRV/$BAD" ] && echo $BAD >"$DRV/unbind"
		echo $BAD >"$DRV/bind" 2>/dev/null
		n=$((n + 1))
		echo $n >/tmp/reprobes
	done
) &
reprobe=$!
/pvio/fio --name=good --filename="/dev/$g" --rw=randwrite --bsrange=4k-64k --size=8m \
	--direct=1 --iodepth=4 --verify=crc32c --do_verify=1 --verify_fatal=1 \
	--randrepeat=0 --ioengine=libaio --time_based --runtime="$secs" \
	--eta=never --output=/tmp/good.out
rc=$?
touch /tmp/stop
grep -E 'WRITE:|READ:|err=' /tmp/good.out
if [ $rc -ne 0 ] || ! grep -q 'err= 0' /tmp/good.out ||
	grep -qi 'verify.*bad\|crc32c.*wanted' /tmp/good.out; then
	fail good-device "fio on /dev/$g exited $rc or reported errors"
else
	pass good-device
fi

# Every IO ends: the readers and writers finish within io_timeout +
# backend_timeout and some slack; so does a re-probe under way.
i=0 left=4
while [ $i -lt 150 ] && [ $left -gt 0 ]; do
	left=0
	for p in $io1 $io2 $io3 $reprobe; do kill -0 $p 2>/dev/null && left=$((left + 1)); done
	[ $left -gt 0 ] && sleep 0.2
	i=$((i + 1))
done
dmesg | grep -F "$b" | head -n 8
n=$(cat /tmp/reprobes)
echo "$PREFIX: $n re-probes of $BAD returned; $(dmesg | grep -c "pvio_ivshmem $BAD: pvio region refused") region refusals, $(dmesg | grep -c "pvio_ivshmem $BAD: frontend pvio") binds"
if [ $left -gt 0 ]; then
	fail scribbled "$left IO or re-probe loops on $BAD still running 30 s after the run"
	ps | grep -E ' dd |echo' | head -n 5
elif [ "$n" -lt 1 ] && [ "$secs" -ge 8 ]; then
	fail scribbled "no re-probe of $BAD returned"
elif ! dmesg | grep -E 'pvblk[0-9]+:|pvio_ivshmem '"$BAD"':' |
	grep -qE 'failing all IO|refused|backend gone|failing IO'; then
	fail scribbled "pvblk logged nothing about /dev/$b"
else
	pass scribbled
fi

if rmmod pvblk && rmmod pvio_ivshmem && rmmod pvio_core; then
	pass unload
else
	fail unload "rmmod pvblk / pvio_ivshmem / pvio_core failed"
fi
exit $failed

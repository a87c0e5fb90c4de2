# Guest side of tests/suites/89-pvnet.sh: pvnet.ko over pvio-backd --net,
# two ivshmem-doorbell devices served by one daemon whose TAPs live in a
# network namespace of the host:
#   0000:00:10.0  pvt0, MTU 1500, two queue pairs: guest 10.99.0.2,
#                 host 10.99.0.1
#   0000:00:11.0  pvt1, MTU 9000, gso=off: guest 10.99.1.2, host 10.99.1.1
# pvt0 is a persistent TAP the host made, so that its address outlives the
# engine restarts the host causes.
# Needs /pvio/pvio_core.ko, /pvio/pvio_ivshmem.ko, /pvio/pvnet.ko,
# /pvio/net_xfer, /pvio/ethtool and /pvio/lib-net.sh. Prints one
# "pvnet-main: PASS <check>" or "pvnet-main: FAIL <check>: why" line per
# check, and "pvnet-main: want <step>"
# markers the host acts on (tests/suites/89-pvnet.sh, pvnet_conductor),
# answered through nothing but the network itself. Exits 1 if any check
# failed.

PREFIX=pvnet-main
NET0_PCI=0000:00:10.0 NET1_PCI=0000:00:11.0
MiB=1048576
. /pvio/lib-net.sh
want() { echo "$PREFIX: want $1"; }

insmod /pvio/pvio_core.ko || { echo "$PREFIX: FAIL setup: insmod pvio_core.ko"; exit 1; }
insmod /pvio/pvio_ivshmem.ko || { echo "$PREFIX: FAIL setup: insmod pvio_ivshmem.ko"; exit 1; }
insmod /pvio/pvnet.ko || { echo "$PREFIX: FAIL setup: insmod pvnet.ko"; exit 1; }
ip link set lo up
# Room for the UDP check's datagrams (net_xfer asks for 4 MiB).
echo 8388608 >/proc/sys/net/core/rmem_max

i=0
while ! { N0=$(ifname_of $NET0_PCI) && N1=$(ifname_of $NET1_PCI); }; do
	[ $i -lt 100 ] || break
	sleep 0.1
	i=$((i + 1))
done
if [ -z "${N0:-}" ] || [ -z "${N1:-}" ]; then
	echo "$PREFIX: FAIL probe: no pvnet interfaces under $NET0_PCI and $NET1_PCI"
	ls /sys/class/net
	exit 1
fi
pass probe
echo "$PREFIX: interfaces $N0 $N1"

ip addr add 10.99.0.2/24 dev "$N0" && ip link set "$N0" up &&
	ip addr add 10.99.1.2/24 dev "$N1" && ip link set "$N1" up ||
	fail setup "ip addr/link failed"
if wait_file_is "/sys/class/net/$N0/carrier" 1 20 &&
	wait_file_is "/sys/class/net/$N1/carrier" 1 20; then
	pass carrier
else
	fail carrier "carrier not on within 20 s"
fi
mtu1=$(cat "/sys/class/net/$N1/mtu")
ip link set "$N1" mtu 9000 && [ "$(cat "/sys/class/net/$N1/mtu")" = 9000 ] ||
	fail setup "$N1: MTU 9000 not taken (was $mtu1)"
if ip link set "$N0" mtu 9000 2>/dev/null; then
	fail mtu-limit "$N0 took MTU 9000 above its backend's 1500"
	ip link set "$N0" mtu 1500
else
	pass mtu-limit
fi

# ping both ways (the host pings us after the marker)
if ping -c 3 -W 5 10.99.0.1 >/tmp/ping0 2>&1; then
	pass ping-out
else
	fail ping-out "$(tail -n 2 /tmp/ping0)"
fi
want ping-in

# Segmentation offloads: pvt0's backend offers them, pvt1's (gso=off)
# does not.
E=/pvio/ethtool
if $E -k "$N0" | grep -q '^tcp-segmentation-offload: on' &&
	$E -k "$N1" | grep -q '^tcp-segmentation-offload: off'; then
	pass tso-features
else
	fail tso-features "$N0: $($E -k "$N0" | grep '^tcp-segm'); $N1: $($E -k "$N1" | grep '^tcp-segm')"
fi
# Sum of one per-queue ethtool counter over the queues.
qstat_sum() {
	$E -S "$1" | awk -v k="$2" '$1 ~ "^q[0-9]+_" k ":$" { n += $2 } END { print n + 0 }'
}

# TCP, 256 MiB each way, checked byte by byte on the receiving side;
# TSO out (frames of many segments: far fewer than 256 MiB / 1448), and
# received frames over several buffers in (RX_MERGE with receive GSO).
tx0=$(stat_of "$N0" tx_packets)
if /pvio/net_xfer tcp-send 10.99.0.1 5001 $((256 * MiB)) --seed 11 --timeout 300 >/tmp/tcp-out 2>&1; then
	pass tcp-out
	sed 's/^/tcp-out: /' /tmp/tcp-out
	tx1=$(stat_of "$N0" tx_packets)
	echo "$PREFIX: tcp-out took $((tx1 - tx0)) frames"
	if [ $((tx1 - tx0)) -lt $((256 * MiB / 1448 / 2)) ]; then
		pass tso-used
	else
		fail tso-used "$((tx1 - tx0)) frames for 256 MiB: no TSO"
	fi
else
	fail tcp-out "$(tail -n 1 /tmp/tcp-out)"
fi
m0=$(qstat_sum "$N0" rx_merged)
want tcp-in
if /pvio/net_xfer tcp-recv 5002 $((256 * MiB)) --seed 12 --timeout 300 >/tmp/tcp-in 2>&1; then
	pass tcp-in
	sed 's/^/tcp-in: /' /tmp/tcp-in
	m1=$(qstat_sum "$N0" rx_merged)
	echo "$PREFIX: tcp-in took $((m1 - m0)) frames over several buffers"
	if [ $((m1 - m0)) -gt 100 ]; then
		pass rx-merge-used
	else
		fail rx-merge-used "$((m1 - m0)) frames over several buffers for 256 MiB"
	fi
else
	fail tcp-in "$(tail -n 1 /tmp/tcp-in)"
fi

# UDP each way
if /pvio/net_xfer udp-send 10.99.0.1 5003 2000 1400 --seed 13 --timeout 60 >/tmp/udp-out 2>&1; then
	pass udp-out-sent
else
	fail udp-out-sent "$(tail -n 1 /tmp/udp-out)"
fi
/pvio/net_xfer udp-recv 5004 2000 1400 --seed 14 --timeout 60 >/tmp/udp-in 2>&1 &
udp=$!
sleep 0.5
want udp-in
if wait $udp; then
	pass udp-in
	sed 's/^/udp-in: /' /tmp/udp-in
else
	fail udp-in "$(tail -n 1 /tmp/udp-in)"
fi

# MTU 9000: frames of 9000 bytes of IP go through unsplit
if ping -c 3 -W 5 -s 8972 10.99.1.1 >/tmp/ping1 2>&1; then
	pass mtu9000-ping
else
	fail mtu9000-ping "$(tail -n 2 /tmp/ping1)"
fi
tx0=$(stat_of "$N1" tx_packets)
if /pvio/net_xfer tcp-send 10.99.1.1 5005 $((64 * MiB)) --seed 15 --timeout 300 >/tmp/tcp9k 2>&1; then
	tx1=$(stat_of "$N1" tx_packets)
	# 64 MiB in segments of 8948 bytes: about 7500 frames, not 46000.
	if [ $((tx1 - tx0)) -lt 20000 ]; then
		pass mtu9000-tcp
	else
		fail mtu9000-tcp "$((tx1 - tx0)) frames for 64 MiB: not 9000-byte frames"
	fi
else
	fail mtu9000-tcp "$(tail -n 1 /tmp/tcp9k)"
fi

# ethtool: the driver, per-queue counters that moved, and checksum
# offload turned off both ways (the guest then sums every frame itself
# and checks every checksum it receives, and TSO goes with it) under a
# checked TCP stream.
if $E -i "$N0" | grep -q '^driver: pvnet$'; then
	pass ethtool-info
else
	fail ethtool-info "$($E -i "$N0" 2>&1 | head -n 2)"
fi
$E -S "$N0" >/tmp/ethS 2>&1
sed 's/^/ethtool-S: /' /tmp/ethS
txq=$(awk '$1 ~ /^q[0-9]+_tx_packets:$/ { n += $2 } END { print n + 0 }' /tmp/ethS)
dbq=$(awk '$1 ~ /^q[0-9]+_doorbells_out:$/ { n += $2 } END { print n + 0 }' /tmp/ethS)
if [ "$txq" -ge "$(stat_of "$N0" tx_packets)" ] && [ "$txq" -gt 1000 ] && [ "$dbq" -gt 0 ]; then
	pass ethtool-stats
else
	fail ethtool-stats "queue tx_packets $txq (sysfs $(stat_of "$N0" tx_packets)), doorbells $dbq"
fi
if $E -K "$N0" tx off rx off 2>/tmp/ethK &&
	$E -k "$N0" | grep -q '^tx-checksumming: off' &&
	$E -k "$N0" | grep -q '^rx-checksumming: off'; then
	if /pvio/net_xfer tcp-send 10.99.0.1 5008 $((32 * MiB)) --seed 18 --timeout 300 >/tmp/csum 2>&1; then
		pass csum-off-tcp
	else
		fail csum-off-tcp "$(tail -n 1 /tmp/csum)"
	fi
	$E -K "$N0" tx on rx on || fail csum-off-tcp "offloads not turned on again"
else
	fail csum-off-tcp "ethtool -K tx off rx off: $(cat /tmp/ethK)"
fi

# Link state follows the host's TAP.
want link-down
if wait_file_is "/sys/class/net/$N0/carrier" 0 20; then
	pass link-down
else
	fail link-down "carrier still on 20 s after the host's TAP went down"
fi
want link-up
if wait_file_is "/sys/class/net/$N0/carrier" 1 20 && ping -c 1 -W 5 10.99.0.1 >/dev/null 2>&1; then
	pass link-up
else
	fail link-up "carrier or ping not back within 20 s of the TAP coming up"
fi

# Backend restart: the host kills the daemon's engine twice while 256 MiB
# go out; the carrier drops and comes back, the frames the dead engine
# held are sent again, TCP sees loss at most, and the receiver checks
# every byte.
/pvio/net_xfer tcp-send 10.99.0.1 5007 $((256 * MiB)) --seed 17 --timeout 300 >/tmp/rs 2>&1 &
rs=$!
want restart
i=0
while [ "$(dmesg | grep -c "$N0: backend back")" -lt 2 ]; do
	[ $i -lt 1200 ] || break
	sleep 0.1
	i=$((i + 1))
done
back=$(dmesg | grep -c "$N0: backend back")
gone=$(dmesg | grep -c "$N0: backend gone")
dmesg | grep "$N0: backend" | sed 's/^/restart: /'
if [ "$back" -ge 2 ] && [ "$back" = "$gone" ]; then
	pass restart-reconnects
else
	fail restart-reconnects "backend gone $gone times, back $back times (2 restarts)"
fi
if wait $rs; then
	pass restart-tcp
else
	fail restart-tcp "$(tail -n 1 /tmp/rs)"
fi
if ping -c 2 -W 5 10.99.0.1 >/dev/null 2>&1; then
	pass restart-ping
else
	fail restart-ping "no answer after the restarts"
fi

# Unload with traffic in flight: a sender to a host sink, pvnet removed
# under it; the sender fails, the kernel stays clean (pvio-vm-run).
want sink
/pvio/net_xfer tcp-send 10.99.0.1 5006 $((4096 * MiB)) --seed 16 --timeout 120 >/tmp/sink 2>&1 &
snd=$!
sleep 3
if rmmod pvnet; then
	if [ -e "/sys/class/net/$N0" ]; then
		fail unload "$N0 still there after rmmod"
	else
		pass unload
	fi
else
	fail unload "rmmod pvnet failed under traffic"
fi
kill $snd 2>/dev/null
wait $snd 2>/dev/null
if insmod /pvio/pvnet.ko; then
	i=0
	while ! N0=$(ifname_of $NET0_PCI); do
		[ $i -lt 100 ] || break
		sleep 0.1
		i=$((i + 1))
	done
	if [ -n "$N0" ] && ip addr add 10.99.0.2/24 dev "$N0" && ip link set "$N0" up &&
		wait_file_is "/sys/class/net/$N0/carrier" 1 20 &&
		ping -c 2 -W 5 10.99.0.1 >/dev/null 2>&1; then
		pass reload
	else
		fail reload "no working $N0 after insmod again"
	fi
else
	fail reload "insmod pvnet.ko again failed"
fi
rmmod pvnet || fail unload-end "rmmod pvnet failed"
want done
exit $failed

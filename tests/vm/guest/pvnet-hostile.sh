# Guest side of tests/suites/90-pvnet-hostile.sh: pvnet.ko against
# build/tests/progs/hostile_netback, one backend per ivshmem-doorbell
# device. /pvio/devices lists them, one a line:
#   SLOT MODE AFTER EXPECT
# SLOT the PCI slot in hex (device 0000:00:SLOT.0), MODE the backend's
# mode, AFTER the TX frames it serves correctly first, EXPECT a text the
# device's error line must hold ("-": any; "none": the backend breaks no
# rule a single response shows, it stops answering). Device K of the list gets
# 10.98.K.2/24 and a permanent neighbour 10.98.K.9 at its own MAC address:
# every ping sends one frame, which the backend loops back with the MAC
# addresses swapped (the stack drops it, after pvnet counted it).
# Checks, per hostile MODE:
#   worked-MODE    the AFTER frames before the violation were received
#   dead-MODE      carrier 0 within 10 s of the traffic
#   one-error-MODE exactly one "...; device disabled" line for the
#                  interface in dmesg, holding EXPECT
#   quiet-MODE     once dead, pings send nothing (tx_packets still)
# or, for EXPECT "none" (a backend that stops answering):
#   worked-MODE    as above
#   held-MODE      no frame past AFTER counted as sent (none answered)
#   given-up-MODE  within 30 s, carrier 0 and one "backend gone (a TX
#                  frame unanswered for 10 s)" line: the backend is taken
#                  for gone and a new instance waited for; no "device
#                  disabled" line (nothing it wrote broke a rule)
# and:
#   probe          an interface for every device, carrier on for all
#   good-flows     on the good device, after the others died: every ping
#                  went out and came back (tx and rx packets grew by as
#                  many, rx_bytes by exactly tx_bytes), carrier still on,
#                  no error line for it
#   errors-total   as many "device disabled" lines as devices that died
#   unload         rmmod pvnet succeeds, every interface is gone
# Needs /pvio/pvio_core.ko, /pvio/pvio_ivshmem.ko, /pvio/pvnet.ko,
# /pvio/lib-net.sh and /pvio/devices. Prints "pvnet-hostile: PASS
# <check>" or "pvnet-hostile: FAIL <check>: why" per check; exits 1 if any
# failed.

PREFIX=pvnet-hostile
. /pvio/lib-net.sh

# The error lines pvnet logged for interface $1 (pvnet_kill()).
errors_of() { dmesg | grep -E " $1: .*; device disabled\$"; }

# Only the frames the test sends: no IPv6 autoconfiguration traffic.
for f in /proc/sys/net/ipv6/conf/default/disable_ipv6 /proc/sys/net/ipv6/conf/all/disable_ipv6; do
	[ -w "$f" ] && echo 1 >"$f"
done

insmod /pvio/pvio_core.ko || { echo "$PREFIX: FAIL setup: insmod pvio_core.ko"; exit 1; }
insmod /pvio/pvio_ivshmem.ko || { echo "$PREFIX: FAIL setup: insmod pvio_ivshmem.ko"; exit 1; }
insmod /pvio/pvnet.ko || { echo "$PREFIX: FAIL setup: insmod pvnet.ko"; exit 1; }
[ -s /pvio/devices ] || { echo "$PREFIX: FAIL setup: no /pvio/devices"; exit 1; }

# Per device K: IF_K, MODE_K, AFTER_K, EXPECT_K; N devices; GOOD is the
# good one's K.
N=0 GOOD='' HOSTILE=0
while read -r slot mode after expect; do
	[ -n "$slot" ] || continue
	pci=0000:00:$slot.0
	i=0
	while ! ifn=$(ifname_of "$pci"); do
		[ $i -lt 150 ] || break
		sleep 0.1
		i=$((i + 1))
	done
	if [ -z "$ifn" ]; then
		fail probe "no pvnet interface under $pci ($mode)"
		continue
	fi
	eval "IF_$N=\$ifn MODE_$N=\$mode AFTER_$N=\$after EXPECT_$N=\"\$expect\""
	if [ "$mode" = good ]; then
		GOOD=$N
	elif [ "$expect" != none ]; then
		HOSTILE=$((HOSTILE + 1))
	fi
	mac=$(cat "/sys/class/net/$ifn/address")
	ip addr add "10.98.$N.2/24" dev "$ifn" && ip link set "$ifn" up &&
		arp -i "$ifn" -s "10.98.$N.9" "$mac" ||
		fail setup "$ifn ($mode): address, link or neighbour not set"
	echo "$PREFIX: device $N $pci $ifn $mode after $after mac $mac"
	N=$((N + 1))
done </pvio/devices
[ -n "$GOOD" ] || fail setup "no good device in /pvio/devices"

k=0 up=0
while [ $k -lt $N ]; do
	eval "ifn=\$IF_$k"
	wait_file_is "/sys/class/net/$ifn/carrier" 1 20 && up=$((up + 1))
	k=$((k + 1))
done
if [ "$failed" = 0 ] && [ $up = $N ] && ! dmesg | grep -q 'device disabled'; then
	pass probe
else
	fail probe "$up of $N interfaces with carrier; errors: $(dmesg | grep -c 'device disabled')"
fi

# Traffic on every hostile device at once: more frames than AFTER, so
# the backend misbehaves many times over, and more than a ring holds (64
# entries): a broken consumer index is only read when the ring looks full.
k=0 pids=
while [ $k -lt $N ]; do
	if [ "$k" != "$GOOD" ]; then
		eval "ifn=\$IF_$k"
		ping -c 80 -i 0.05 -W 1 "10.98.$k.9" >/tmp/ping.$k 2>&1 &
		pids="$pids $!"
	fi
	k=$((k + 1))
done
# shellcheck disable=SC2086
wait $pids

k=0
while [ $k -lt $N ]; do
	[ "$k" != "$GOOD" ] || { k=$((k + 1)); continue; }
	eval "ifn=\$IF_$k mode=\$MODE_$k after=\$AFTER_$k expect=\$EXPECT_$k"
	rx=$(stat_of "$ifn" rx_packets)
	if [ "$rx" -ge "$after" ]; then
		pass "worked-$mode"
	else
		fail "worked-$mode" "$ifn: $rx frames received before the violation, $after expected"
	fi
	if [ "$expect" = none ]; then
		tx=$(stat_of "$ifn" tx_packets)
		if [ "$tx" = "$after" ]; then
			pass "held-$mode"
		else
			fail "held-$mode" "$ifn: $tx frames counted as sent, $after answered"
		fi
		# pvnet takes a backend that holds a frame for 10 s for gone.
		wait_file_is "/sys/class/net/$ifn/carrier" 0 30
		carrier=$(cat "/sys/class/net/$ifn/carrier")
		gone=$(dmesg | grep -c "$ifn: backend gone (a TX frame unanswered for 10 s)")
		n=$(errors_of "$ifn" | wc -l)
		if [ "$carrier" = 0 ] && [ "$gone" = 1 ] && [ "$n" = 0 ]; then
			pass "given-up-$mode"
		else
			fail "given-up-$mode" "$ifn: carrier $carrier, $gone \"backend gone\" lines, $n error lines"
		fi
		echo "$PREFIX: $mode: rx $rx tx $tx: $(dmesg | grep "$ifn: backend gone")"
		k=$((k + 1))
		continue
	fi
	if wait_file_is "/sys/class/net/$ifn/carrier" 0 10; then
		pass "dead-$mode"
	else
		fail "dead-$mode" "$ifn: carrier still on 10 s after the traffic"
	fi
	lines=$(errors_of "$ifn")
	n=$(errors_of "$ifn" | wc -l)
	if [ "$n" != 1 ]; then
		fail "one-error-$mode" "$ifn: $n error lines: $lines"
	elif [ "$expect" != - ] && ! echo "$lines" | grep -qF -- "$expect"; then
		fail "one-error-$mode" "$ifn: line without \"$expect\": $lines"
	else
		pass "one-error-$mode"
	fi
	echo "$PREFIX: $mode: $lines"
	tx0=$(stat_of "$ifn" tx_packets)
	ping -c 2 -i 0.2 -W 1 "10.98.$k.9" >/dev/null 2>&1
	tx1=$(stat_of "$ifn" tx_packets)
	if [ "$tx0" = "$tx1" ]; then
		pass "quiet-$mode"
	else
		fail "quiet-$mode" "$ifn: $((tx1 - tx0)) frames sent after the device died"
	fi
	k=$((k + 1))
done

# The good device, after its neighbours died.
eval "ifn=\$IF_$GOOD"
tx0=$(stat_of "$ifn" tx_packets) rx0=$(stat_of "$ifn" rx_packets)
txb0=$(stat_of "$ifn" tx_bytes) rxb0=$(stat_of "$ifn" rx_bytes)
ping -c 20 -i 0.2 -W 1 "10.98.$GOOD.9" >/tmp/ping.good 2>&1
# Answers and looped frames may still be on their way.
i=0
while :; do
	tx=$(($(stat_of "$ifn" tx_packets) - tx0)) rx=$(($(stat_of "$ifn" rx_packets) - rx0))
	txb=$(($(stat_of "$ifn" tx_bytes) - txb0)) rxb=$(($(stat_of "$ifn" rx_bytes) - rxb0))
	[ "$rx" -lt "$tx" ] && [ $i -lt 50 ] || break
	sleep 0.1
	i=$((i + 1))
done
echo "$PREFIX: good: tx $tx frames $txb bytes, rx $rx frames $rxb bytes"
if [ "$tx" -lt 20 ] || [ "$rx" != "$tx" ] || [ "$rxb" != "$txb" ]; then
	fail good-flows "$ifn: tx $tx frames $txb bytes, rx $rx frames $rxb bytes (20 pings)"
elif [ "$(cat "/sys/class/net/$ifn/carrier")" != 1 ]; then
	fail good-flows "$ifn: carrier off"
elif [ -n "$(errors_of "$ifn")" ]; then
	fail good-flows "$ifn: $(errors_of "$ifn")"
else
	pass good-flows
fi

total=$(dmesg | grep -c 'device disabled')
if [ "$total" = "$HOSTILE" ]; then
	pass errors-total
else
	fail errors-total "$total \"device disabled\" lines for $HOSTILE hostile devices"
fi
dmesg | grep pvnet | sed "s/^/$PREFIX: dmesg: /"

if rmmod pvnet; then
	k=0 left=
	while [ $k -lt $N ]; do
		eval "ifn=\$IF_$k"
		[ -e "/sys/class/net/$ifn" ] && left="$left $ifn"
		k=$((k + 1))
	done
	if [ -z "$left" ]; then
		pass unload
	else
		fail unload "still there after rmmod:$left"
	fi
else
	fail unload "rmmod pvnet failed"
fi
exit $failed

# Guest side of tools/pvio-restart-bench: writes sequence-stamped 4 KiB
# blocks with FUA, one at a time, on /dev/pvblk0 (tests/progs/stamp), in
# the phases /pvio/restart-bench.conf lists (PHASES="NAME:SECONDS ...").
# The host restarts pvio-backd's engine during some of them. Per phase it
# prints "restart-bench: phase N NAME start", then
# "restart-bench: result phase=N name=NAME seconds=S acks=A errors=E" and
# one "restart-bench: stall phase=N ms=MS" per write slower than 30 ms.
. /pvio/restart-bench.conf
i=0
while [ ! -b /dev/pvblk0 ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
[ -b /dev/pvblk0 ] || { echo "restart-bench: no /dev/pvblk0"; exit 1; }
n=0
for p in $PHASES; do
	n=$((n + 1))
	name=${p%%:*}
	sec=${p#*:}
	echo "restart-bench: phase $n $name start"
	/pvio/stamp write --dev /dev/pvblk0 --blocks 16384 --seconds "$sec" \
		--fua --keep-going --stall-ms 30 --seed $n --log /tmp/p$n.log \
		2>/tmp/p$n.err
	echo "restart-bench: result phase=$n name=$name seconds=$sec acks=$(grep -c '^ACK' /tmp/p$n.log) errors=$(grep -c '^ERR' /tmp/p$n.log)"
	sed -n "s/^stamp: stall [0-9]* \([0-9]*\)$/restart-bench: stall phase=$n ms=\1/p" /tmp/p$n.err
done
echo "restart-bench: $(tail -n 1 /sys/block/pvblk0/pvio_stats)"
echo "restart-bench: done"

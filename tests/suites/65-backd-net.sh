# pvio-backd --net, the userspace network backend on a TAP interface: in a
# network namespace the test creates and removes, the test frontend
# pvnet_peer gets ARP and ICMP echo answered by the host end with the
# payload intact, receives a UDP datagram sent by the host end (checksum
# offload and not), has bad TX requests answered INVAL while the daemon
# keeps serving, follows the TAP's link state, and gets every posted RX
# buffer back on close; queues=2 with mtu=9000; TCP segmentation offload
# both ways (one TX GSO frame, received frames over several buffers) and
# gso=off; start-up errors (bad name, a TAP without multi_queue, no
# /dev/net/tun, bad --net values). Runs on
# the plain build and the ASan+UBSan build (any report fails the test),
# and the basic, mq and gso cases under ThreadSanitizer.
#
# Wall times on the 2-core development machine, seconds: each case 1-3,
# about twice that under the sanitizers; builds as in 60-backd.

t_run build-backd-net make -s build/pvio-backd build/tests/progs/pvnet_peer
t_run build-backd-net-asan make -s SAN=asan build/asan/pvio-backd \
	build/asan/tests/progs/pvnet_peer
t_run build-backd-net-tsan make -s SAN=tsan build/tsan/pvio-backd \
	build/tsan/tests/progs/pvnet_peer

for san in '' asan tsan; do
	b=build${san:+/$san}
	sfx=${san:+-$san}
	cases='basic mq nooffload gso errors'
	[ "$san" = tsan ] && cases='basic mq gso'
	for c in $cases; do
		t_run "backd-net-$c$sfx" tests/integration/backd-net.sh "$b" "$c"
	done
done
unset san b sfx c cases

#!/bin/bash
# pvio-backd --net: a network device on a TAP interface, against the
# userspace test frontend pvnet_peer, in a network namespace this test
# creates and removes.
#
#   backd-net.sh BUILD [basic|mq|nooffload|gso|errors]
#
# basic (the default): the daemon creates pvt0 in the namespace; the link
#   is reported down, then up once the test brings pvt0 up (config.status,
#   LINK_STATUS); an ARP request is answered; ICMP echo requests (56 and
#   1400 payload bytes) get replies with the same payload and valid
#   checksums; a TX frame over the MTU and one with an unknown flag are
#   answered INVAL, each with one log line, and the daemon keeps serving
#   (a ping after them); with the neighbour table flushed, a UDP datagram
#   sent by the namespace reaches the peer intact (its checksum finished by
#   the peer: GUEST_CSUM), after the kernel's ARP request was answered; an
#   orderly close gets every posted RX buffer back; a second frontend is
#   served, its too-small RX buffer answered UNUSED; a third that posts an
#   RX buffer id twice gets its device closed (broken), and a fourth is
#   served again; SIGTERM stops the
#   daemon (exit 0, statistics) and pvt0 goes with it.
# mq: queues=2 and mtu=9000: 4 queues, MTU offered and used (an 8000-byte
#   ping), UDP to several ports.
# nooffload: the peer accepts no checksum offload: replies and the UDP
#   datagram arrive with finished checksums.
# gso: segmentation offloads both ways, with the peer's minimal TCP: one
#   TX GSO frame of 20000 bytes (gso_size 1400) on a connection to a
#   net_xfer tcp-recv in the namespace, which checks every byte; a packet
#   socket on pvt0 sees it arrive as one frame with gso_type TCPV4 and
#   gso_size 1400 in its virtio-net header; then a net_xfer tcp-send of 200000 bytes to the peer,
#   which checks every byte and must see frames over several RX buffers
#   (RX_F_MORE) carrying a GSO type (the TAP's TSO offload turned on for
#   a frontend with GUEST_GSO). gso=off: none of it offered.
# errors: a bad interface name, an existing TAP without multi_queue, a
#   non-TAP interface of that name, and a missing /dev/net/tun are each
#   refused at start-up (exit 1) with a line naming the problem; bad
#   --net values are usage errors (exit 2).
#
# Needs root (network namespaces, TAP); skipped (77) without /dev/net/tun
# or ip netns.
set -u
MODE=${2:-basic}
BACKD_LIB_NO_HF=1
# shellcheck source=tests/integration/backd-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/backd-lib.sh"
PEER=$BUILD/tests/progs/pvnet_peer

[ -x "$PEER" ] || { echo "FAIL: $PEER not built"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for network namespaces"; exit 77; }
[ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }

NS=pvio-net-$$
extra_cleanup='ip netns del "$NS" 2>/dev/null'
ip netns add "$NS" || { echo "SKIP: ip netns add failed"; exit 77; }
nsx() { ip netns exec "$NS" "$@"; }
nsx ip link set lo up

# start_backd ARGS...: the daemon in the namespace; wait for "ready" and
# for the engine's TAP.
start_backd() {
	: >"$tmp/backd.log"
	# Not through nsx: $! must be the daemon itself (ip netns exec execs it).
	ip netns exec "$NS" "$BACKD" "$@" >"$tmp/backd.out" 2>"$tmp/backd.log" &
	backd_pid=$!
	t_wait_for "$tmp/backd.log" '^pvio-backd: ready$' 20 "$backd_pid" ||
		fail "pvio-backd did not get ready"
	local i
	for ((i = 0; i < 100; i++)); do
		nsx ip link show pvt0 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "pvt0 did not appear"
}

stop_backd() {
	local rc
	kill -TERM "$backd_pid"
	wait "$backd_pid"
	rc=$?
	backd_pid=''
	check_no_sanitizer "$tmp/backd.log"
	[ "$rc" -eq 0 ] || fail "pvio-backd exited $rc after SIGTERM"
	grep -q 'queue 1 (RX): requests [1-9][0-9]*, received [1-9]' "$tmp/backd.log" ||
		fail "no RX statistics (or nothing received) at exit"
	grep -q 'queue 0 (TX): requests [1-9][0-9]*, sent [1-9]' "$tmp/backd.log" ||
		fail "no TX statistics (or nothing sent) at exit"
	if nsx ip link show pvt0 >/dev/null 2>&1; then
		fail "pvt0 still there after the daemon stopped"
	fi
}

# peer_start NAME ARGS...: pvnet_peer in the background (its output in
# $tmp/NAME.log); peer_wait NAME: its exit status must be 0.
peer_start() {
	local name=$1
	shift
	timeout 60 "$PEER" "$tmp/net.sock" "$@" >"$tmp/$name.log" 2>&1 &
	eval "peer_$name=\$!"
}
peer_wait() {
	local pid rc
	eval "pid=\$peer_$1"
	wait "$pid"
	rc=$?
	sed "s/^/    $1| /" "$tmp/$1.log"
	check_no_sanitizer "$tmp/$1.log"
	[ "$rc" -eq 0 ] || fail "pvnet_peer ($1) exited $rc"
}
wait_file() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ -e "$1" ] && return 0
		eval "kill -0 \$peer_$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
# udp_send PORT TEXT: one datagram from the namespace to the peer.
udp_send() {
	nsx bash -c "printf '%s' '$2' >/dev/udp/10.99.0.2/$1" ||
		fail "sending a UDP datagram to port $1"
}

mode_basic() {
	start_backd --net tap=pvt0 --socket "$tmp/net.sock"
	nsx ip addr add 10.99.0.1/24 dev pvt0
	peer_start a link down ready "$tmp/r1" link up arp ping 2 56 \
		ping 1 1400 bad-len bad-flag ping 1 100 ready "$tmp/r2" \
		udp-wait 7777 hello-pvio-net sleep 200 close
	wait_file "$tmp/r1" a || { peer_wait a; fail "peer stopped early"; }
	nsx ip link set pvt0 up
	wait_file "$tmp/r2" a || { peer_wait a; fail "peer stopped early"; }
	# The kernel must ask for the peer's address again: the peer answers.
	nsx ip neigh flush dev pvt0
	udp_send 7777 hello-pvio-net
	peer_wait a
	grep -q '^link: down$' "$tmp/a.log" || fail "link not reported down first"
	grep -q '^link: up$' "$tmp/a.log" || fail "link not reported up"
	grep -q "^arp: 10.99.0.1 is at $(nsx cat /sys/class/net/pvt0/address)\$" "$tmp/a.log" ||
		fail "ARP reply does not name pvt0's MAC address"
	[ "$(grep -c 'reply ok' "$tmp/a.log")" -eq 4 ] || fail "not 4 echo replies"
	grep -E '^ping: .*hash ([0-9a-f]{16}) \(request \1\)$' "$tmp/a.log" >/dev/null ||
		fail "echo payload hashes differ"
	grep -q '^udp: 14 bytes on port 7777 intact, checksum finished here' "$tmp/a.log" ||
		fail "UDP datagram not handed over with an unfinished checksum (GUEST_CSUM)"
	grep -Eo '[0-9]+ ARP requests answered\)$' "$tmp/a.log" | tail -n 1 |
		grep -q '^[1-9]' || fail "the kernel's ARP request never reached the peer"
	[ "$(grep -c 'TX request id [0-9]* refused, status 2' "$tmp/backd.log")" -eq 2 ] ||
		fail "not one log line per bad TX request"
	grep -q 'frame longer than the MTU allows' "$tmp/backd.log" || fail "no MTU log line"
	grep -q 'unknown request flags' "$tmp/backd.log" || fail "no flag log line"
	grep -q 'TAP pvt0: link up' "$tmp/backd.log" || fail "link change not logged"
	# A second frontend after the orderly close is served too; a buffer
	# too small comes back UNUSED.
	peer_start b arp ping 1 56 rx-small ping 1 56 close
	peer_wait b
	grep -q '^rx-small: 100-byte buffer returned UNUSED$' "$tmp/b.log" ||
		fail "small RX buffer not returned UNUSED"
	# An RX buffer id posted twice breaks the device until its frontend
	# leaves; the next frontend is served.
	peer_start c arp rx-dup
	peer_wait c
	grep -q 'device broken: queue 1: RX buffer id 0 is already posted' "$tmp/backd.log" ||
		fail "no log line for the repeated RX buffer id"
	peer_start d arp ping 1 56 close
	peer_wait d
	stop_backd
}

mode_mq() {
	start_backd --net tap=pvt0,queues=2,mtu=9000,mac=52:54:00:aa:bb:01 \
		--socket "$tmp/net.sock"
	nsx ip addr add 10.99.0.1/24 dev pvt0
	nsx ip link set pvt0 up
	[ "$(nsx cat /sys/class/net/pvt0/mtu)" = 9000 ] || fail "pvt0's MTU is not 9000"
	peer_start a --pairs 2 arp ping 2 8000 ping 4 64 ready "$tmp/r1" \
		udp-wait 5001 one udp-wait 5002 two udp-wait 5003 three close
	wait_file "$tmp/r1" a || { peer_wait a; fail "peer stopped early"; }
	udp_send 5001 one
	udp_send 5002 two
	udp_send 5003 three
	peer_wait a
	grep -q 'connected: 2 queue pair(s), MTU 9000, features 0x583, mac 52:54:00:aa:bb:01' "$tmp/a.log" ||
		fail "MQ and MTU not offered, or the MAC not the one given"
	[ "$(grep -c 'reply ok' "$tmp/a.log")" -eq 6 ] || fail "not 6 echo replies"
	[ "$(grep -c '^udp: .* intact' "$tmp/a.log")" -eq 3 ] || fail "not 3 datagrams"
	kill -TERM "$backd_pid"
	wait "$backd_pid" || fail "pvio-backd exited $? after SIGTERM"
	backd_pid=''
	check_no_sanitizer "$tmp/backd.log"
	grep -q 'queue 3 (RX): requests' "$tmp/backd.log" || fail "no statistics for queue 3"
}

mode_nooffload() {
	start_backd --net tap=pvt0 --socket "$tmp/net.sock"
	nsx ip addr add 10.99.0.1/24 dev pvt0
	nsx ip link set pvt0 up
	peer_start a --no-offload arp ping 2 300 ready "$tmp/r1" udp-wait 7000 plain close
	wait_file "$tmp/r1" a || { peer_wait a; fail "peer stopped early"; }
	udp_send 7000 plain
	peer_wait a
	grep -q 'features 0x400,' "$tmp/a.log" || fail "offloads were accepted"
	grep -q '^udp: 5 bytes on port 7000 intact, checksum complete' "$tmp/a.log" ||
		fail "UDP datagram without a finished checksum"
	stop_backd
}

mode_gso() {
	local xfer=$TOP/build/tests/progs/net_xfer recv
	[ -x "$xfer" ] || fail "$xfer not built"
	start_backd --net tap=pvt0 --socket "$tmp/net.sock"
	nsx ip addr add 10.99.0.1/24 dev pvt0
	nsx ip link set pvt0 up
	nsx "$xfer" tcp-recv 5010 20000 --seed 21 --timeout 30 >"$tmp/recv.log" 2>&1 &
	recv=$!
	t_wait_for "$tmp/recv.log" 'listening' 10 "$recv" ||
		fail "net_xfer tcp-recv did not listen"
	# What the TAP hands the namespace's stack: the first incoming TCP
	# frame over one MTU, with its virtio-net header (PACKET_VNET_HDR).
	nsx python3 -c '
import socket, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.setsockopt(263, 15, 1)
s.bind(("pvt0", 0))
s.settimeout(20)
print("capturing", flush=True)
while True:
    d, a = s.recvfrom(70000)
    f = d[10:]
    if a[2] != 4 and len(f) > 1514 and f[23] == 6:
        fl, gt, hl, gs = struct.unpack("=BBHH", d[:6])
        print("frame %u bytes gso_type %u gso_size %u" % (len(f), gt, gs))
        break
' >"$tmp/cap.log" 2>&1 &
	cap=$!
	t_wait_for "$tmp/cap.log" 'capturing' 10 "$cap" || fail "no packet capture on pvt0"
	peer_start a --gso --rx-buf 4096 --timeout 20000 arp tcp-out 5010 20000 21 \
		ready "$tmp/r1" tcp-in 5011 4000000 22 close
	wait "$recv" || { cat "$tmp/recv.log"; peer_wait a; fail "the GSO frame's bytes did not arrive intact"; }
	sed 's/^/    recv| /' "$tmp/recv.log"
	wait "$cap"
	sed 's/^/    capture| /' "$tmp/cap.log"
	grep -q '^frame 20054 bytes gso_type 1 gso_size 1400$' "$tmp/cap.log" ||
		fail "the TX frame did not reach the TAP as one TCPv4 GSO frame"
	wait_file "$tmp/r1" a || { peer_wait a; fail "peer stopped early"; }
	nsx "$xfer" tcp-send 10.99.0.2 5011 4000000 --seed 22 --timeout 30 >"$tmp/send.log" 2>&1 ||
		{ cat "$tmp/send.log"; peer_wait a; fail "net_xfer tcp-send to the peer failed"; }
	peer_wait a
	grep -q 'features 0x47f,' "$tmp/a.log" ||
		fail "GSO, receive GSO and RX_MERGE not all offered and taken"
	grep -q '^tcp-out: 20000 bytes in one GSO frame of 20054 bytes acknowledged' "$tmp/a.log" ||
		fail "the TX GSO frame was not acknowledged"
	grep -Eq '^tcp-in: 4000000 bytes intact in [0-9]+ frames, [1-9][0-9]* over several buffers with GSO' "$tmp/a.log" ||
		fail "no received frame over several buffers with GSO"
	stop_backd
	# gso=off: the same device without the offloads.
	start_backd --net tap=pvt0,gso=off --socket "$tmp/net.sock"
	nsx ip addr add 10.99.0.1/24 dev pvt0
	nsx ip link set pvt0 up
	peer_start b --gso arp ping 1 1400 close
	peer_wait b
	grep -q 'features 0x403,' "$tmp/b.log" || fail "gso=off still offers segmentation offloads"
	stop_backd
}

# expect_start CODE PATTERN ARGS...: the daemon (in the namespace) exits
# CODE and says PATTERN.
expect_start() {
	local code=$1 pat=$2 rc
	shift 2
	timeout 20 ip netns exec "$NS" "$BACKD" "$@" >"$tmp/e.out" 2>"$tmp/e.log"
	rc=$?
	check_no_sanitizer "$tmp/e.log"
	cp "$tmp/e.log" "$tmp/backd.log"
	[ "$rc" -eq "$code" ] || fail "exit $rc, want $code for: $*"
	grep -q -- "$pat" "$tmp/e.log" || fail "no '$pat' for: $*"
	echo "ok: exit $rc, '$pat': $*"
}

mode_errors() {
	local s="--socket $tmp/e.sock" rc
	# shellcheck disable=SC2086
	{
		expect_start 1 'is not valid' --net tap=a/b $s
		nsx ip tuntap add pvq0 mode tap
		expect_start 1 'not a TAP with multi_queue' --net tap=pvq0 $s
		expect_start 1 'not a TAP with multi_queue' --net tap=lo $s
		nsx ip tuntap add pvq1 mode tap multi_queue vnet_hdr
		# An existing multi-queue TAP is attached to (and kept).
		: >"$tmp/backd.log"
		ip netns exec "$NS" "$BACKD" --net tap=pvq1 $s >"$tmp/backd.out" 2>"$tmp/backd.log" &
		backd_pid=$!
		t_wait_for "$tmp/backd.log" '^pvio-backd: ready$' 20 "$backd_pid" ||
			fail "no ready on the existing TAP pvq1"
		kill -TERM "$backd_pid"
		wait "$backd_pid"
		rc=$?
		backd_pid=''
		check_no_sanitizer "$tmp/backd.log"
		[ "$rc" -eq 0 ] || fail "daemon on pvq1 exited $rc after SIGTERM"
		nsx ip link show pvq1 >/dev/null || fail "the persistent TAP pvq1 went away"
		echo "ok: an existing multi-queue TAP is attached to and kept"
		# /dev/net/tun hidden under an empty tmpfs, in a mount
		# namespace of the daemon's own.
		# shellcheck disable=SC2016
		timeout 20 unshare -m --propagation private \
			sh -c 'mount -t tmpfs none /dev/net && exec "$0" "$@"' \
			ip netns exec "$NS" "$BACKD" --net tap=pvt0 $s \
			>"$tmp/e.out" 2>"$tmp/e.log"
		rc=$?
		cp "$tmp/e.log" "$tmp/backd.log"
		[ "$rc" -eq 1 ] && grep -q '/dev/net/tun is missing' "$tmp/e.log" ||
			fail "missing /dev/net/tun: exit $rc"
		echo "ok: exit 1 without /dev/net/tun"
		expect_start 2 'unknown key' --net tap=pvt0,foo=1 $s
		expect_start 2 'no tap=IFNAME' --net mtu=1500 $s
		expect_start 2 'bad mac' --net tap=pvt0,mac=zz $s
		expect_start 2 'multicast' --net tap=pvt0,mac=01:00:5e:00:00:01 $s
		expect_start 2 'bad value' --net tap=pvt0,mtu=10 $s
		expect_start 2 'bad value' --net tap=pvt0,gso=maybe $s
		expect_start 2 'bad value' --net tap=pvt0,queues=17 $s
		expect_start 2 'queues=N' --net tap=pvt0 --queues 2 $s
		expect_start 2 'applies to --blk devices only' --net tap=pvt0 --ro $s
	}
}

case $MODE in
basic) mode_basic ;;
mq) mode_mq ;;
nooffload) mode_nooffload ;;
gso) mode_gso ;;
errors) mode_errors ;;
*) echo "usage: backd-net.sh BUILD [basic|mq|nooffload|gso|errors]"; exit 2 ;;
esac
echo "PASS: backd-net $MODE"

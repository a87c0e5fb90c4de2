# The network class end to end: pvnet.ko in a guest over ivshmem-doorbell,
# pvio-backd --net on the host with its TAPs in a network namespace the
# test creates and removes (addresses only inside it). For every kernel
# tools/pvio-kdir --all lists, one boot (tests/vm/guest/pvnet-main.sh)
# with two devices: pvt0 (MTU 1500, two queue pairs, GSO) and pvt1 (MTU
# 9000, gso=off). TSO in use out, frames over several buffers in.
# Checked: ping both ways, 256 MiB of TCP each way compared byte by byte
# by the receiver (tests/progs/net_xfer), UDP each way, 9000-byte frames,
# ethtool (driver, counters, checksum offload off both ways),
# the carrier following the TAP down and up, two engine restarts (SIGKILL)
# under a 256 MiB upload, pvnet unloaded under traffic
# and loaded again, the daemon's clean stop; pvio-vm-run fails a guest
# whose console shows BUG/WARNING/Oops. The host acts on the guest's
# "pvnet-main: want STEP" console lines (pvnet_conductor). Everything a
# run makes lives in build/pvnet-run.PID/. Sourced by tests/run-all.

PVNET_RUN=$TOP/build/pvnet-run.$$
declare -A PVNET_RC=()

# pn_ns NS CMD...: CMD inside the test's network namespace.
pn_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# pvnet_kill_engine BACKD LOG: SIGKILL the engine process of daemon BACKD
# that serves pvt0 (dev0; the one whose TAP queue file descriptors name
# pvt0 in their fdinfo) and wait up to 30 s for the next one to connect
# the frontend again.
pvnet_kill_engine() {
	local backd=$1 log=$2 c0 eng='' p i
	c0=$(grep -c 'dev0: frontend peer [0-9]* connected' "$log")
	for p in $(pgrep -P "$backd"); do
		grep -qs '^iff:[[:space:]]*pvt0$' /proc/"$p"/fdinfo/* && eng=$p && break
	done
	[ -n "$eng" ] || { echo "no engine process of $backd holds pvt0"; return 1; }
	kill -KILL "$eng"
	for ((i = 0; i < 300; i++)); do
		[ "$(grep -c 'dev0: frontend peer [0-9]* connected' "$log")" -gt "$c0" ] && return 0
		sleep 0.1
	done
	echo "the frontend was not connected again within 30 s"
	return 1
}

# pvnet_conductor LOG NS DIR BACKD: the host's half of the guest script,
# one step per "want" line of the console LOG; results go to DIR/*.rc.
pvnet_conductor() {
	local log=$1 ns=$2 d=$3 backd=$4 x=$TOP/build/tests/progs/net_xfer
	local MiB=1048576 step k
	for step in ping-in tcp-in udp-in link-down link-up restart sink done; do
		t_wait_for "$log" "^pvnet-main: want $step\$" 900 || return 0
		case $step in
		ping-in)
			pn_ns "$ns" busybox ping -c 3 -W 5 10.99.0.2 >"$d/ping-in.out" 2>&1
			echo $? >"$d/ping-in.rc" ;;
		tcp-in)
			pn_ns "$ns" "$x" tcp-send 10.99.0.2 5002 $((256 * MiB)) --seed 12 \
				--timeout 300 >"$d/tcp-in.out" 2>&1
			echo $? >"$d/tcp-in.rc" ;;
		udp-in)
			pn_ns "$ns" "$x" udp-send 10.99.0.2 5004 2000 1400 --seed 14 \
				--timeout 60 >"$d/udp-in.out" 2>&1
			echo $? >"$d/udp-in.rc" ;;
		link-down) ip -n "$ns" link set pvt0 down ;;
		link-up) ip -n "$ns" link set pvt0 up ;;
		restart)
			(pn_ns "$ns" "$x" tcp-recv 5007 $((256 * MiB)) --seed 17 --timeout 300 \
				>"$d/restart-tcp.out" 2>&1; echo $? >"$d/restart-tcp.rc") &
			for k in 1 2; do
				sleep 2
				pvnet_kill_engine "$backd" "$d/backd.log" >>"$d/restart.out" 2>&1 ||
					break
				echo "engine $k killed, frontend connected again" >>"$d/restart.out"
			done ;;
		sink)
			pn_ns "$ns" "$x" tcp-recv 5006 $((4096 * MiB)) --timeout 120 \
				>"$d/sink.out" 2>&1 & ;;
		done) return 0 ;;
		esac
	done
}

# The boot for kernel $1, once; later calls return the first one's status.
pvnet_boot() {
	local ver=$1 w=$PVNET_RUN/vm-$1 kd sock ns rc backd cond p x ethtool
	local MiB=1048576
	local -a sinks=()
	if [ -n "${PVNET_RC[$ver]:-}" ]; then
		return "${PVNET_RC[$ver]}"
	fi
	PVNET_RC[$ver]=1
	t_guest_can_boot "$ver" || { PVNET_RC[$ver]=77; return 77; }
	[ -c /dev/net/tun ] || { echo "/dev/net/tun missing: the TAP backend needs it"; return 1; }
	command -v ip >/dev/null || { echo "ip (iproute2) missing (tools/pvio-deps)"; return 1; }
	make -C "$TOP" -s build/pvio-backd build/tests/progs/net_xfer >/dev/null 2>&1
	for p in pvio-backd tests/progs/net_xfer; do
		[ -x "$TOP/build/$p" ] || { echo "build/$p is not built"; return 1; }
	done
	x=$TOP/build/tests/progs/net_xfer
	ethtool=$(command -v ethtool || echo /sbin/ethtool)
	[ -x "$ethtool" ] || { echo "ethtool missing (tools/pvio-deps)"; return 1; }
	t_kmod_build "$ver" || return 1
	kd=$(t_kmod_dir "$ver")
	for p in hypercall/kernel/pvio_core hypercall/kernel/pvio_ivshmem front/pvnet/pvnet; do
		[ -f "$kd/$p.ko" ] || { echo "$p.ko was not built for $ver"; return 1; }
	done
	rm -rf "$w" && mkdir -p "$w" || return 1
	ns=pvnet-test-$$
	ip netns del "$ns" 2>/dev/null
	ip netns add "$ns" || { echo "cannot create network namespace $ns"; return 1; }
	ip -n "$ns" link set lo up
	# pvt0 outlives the daemon's engine processes (and the addresses on
	# it): a TAP made persistent beforehand, as libvirt would.
	ip -n "$ns" tuntap add dev pvt0 mode tap multi_queue vnet_hdr ||
		{ echo "cannot create the TAP pvt0"; ip netns del "$ns"; return 1; }
	# Sockets live in /tmp: the tree's path may be long or hold a comma.
	sock=$(mktemp -d /tmp/pvio-pvnet.XXXXXX) || return 1
	# Not through pn_ns: $! must be the daemon itself, which SIGTERM stops.
	ip netns exec "$ns" "$TOP/build/pvio-backd" --net tap=pvt0,queues=2 --socket "$sock/n0" \
		--net tap=pvt1,mtu=9000,gso=off --socket "$sock/n1" >"$w/backd.log" 2>&1 &
	backd=$!
	if ! t_wait_for "$w/backd.log" '^pvio-backd: ready' 10 "$backd"; then
		echo "pvio-backd did not start:"
		cat "$w/backd.log"
		t_stop "$backd"
		ip -n "$ns" link del pvt0
		ip netns del "$ns"
		rm -rf "$sock"
		return 1
	fi
	ip -n "$ns" addr add 10.99.0.1/24 dev pvt0 &&
		ip -n "$ns" addr add 10.99.1.1/24 dev pvt1 &&
		ip -n "$ns" link set pvt0 up && ip -n "$ns" link set pvt1 mtu 9000 &&
		ip -n "$ns" link set pvt1 up || echo "setting up the TAPs failed"
	# The receivers the guest sends to; each reports through its .rc file.
	(pn_ns "$ns" "$x" tcp-recv 5001 $((256 * MiB)) --seed 11 --timeout 900 \
		>"$w/tcp-out.out" 2>&1; echo $? >"$w/tcp-out.rc") &
	sinks+=($!)
	(pn_ns "$ns" "$x" udp-recv 5003 2000 1400 --seed 13 --timeout 900 \
		>"$w/udp-out.out" 2>&1; echo $? >"$w/udp-out.rc") &
	sinks+=($!)
	(pn_ns "$ns" "$x" tcp-recv 5005 $((64 * MiB)) --seed 15 --timeout 900 \
		>"$w/tcp9k.out" 2>&1; echo $? >"$w/tcp9k.rc") &
	sinks+=($!)
	(pn_ns "$ns" "$x" tcp-recv 5008 $((32 * MiB)) --seed 18 --timeout 900 \
		>"$w/csum-off.out" 2>&1; echo $? >"$w/csum-off.rc") &
	sinks+=($!)
	: >"$w/console.log"
	pvnet_conductor "$w/console.log" "$ns" "$w" "$backd" &
	cond=$!

	"$TOP/tests/vm/pvio-vm-run" --kernel "$(t_vmlinuz "$ver")" \
		--module "$kd/hypercall/kernel/pvio_core.ko" \
		--module "$kd/hypercall/kernel/pvio_ivshmem.ko" \
		--module "$kd/front/pvnet/pvnet.ko" \
		--file "$x" --file "$ethtool:/pvio/ethtool" \
		--file "$TOP/tests/vm/guest/lib-net.sh:/pvio/lib-net.sh" --mem 1024 --timeout 900 \
		--script "$TOP/tests/vm/guest/pvnet-main.sh" --log "$w/console.log" \
		--qemu-arg -chardev --qemu-arg "socket,path=$sock/n0,id=n0" \
		--qemu-arg -device --qemu-arg ivshmem-doorbell,chardev=n0,vectors=5,addr=0x10 \
		--qemu-arg -chardev --qemu-arg "socket,path=$sock/n1,id=n1" \
		--qemu-arg -device --qemu-arg ivshmem-doorbell,chardev=n1,vectors=3,addr=0x11
	rc=$?
	t_stop "$cond"
	kill -TERM "$backd" 2>/dev/null
	wait "$backd"
	echo $? >"$w/backd.rc"
	# Receivers still waiting never got their data; end them.
	pkill -f "$x tcp-recv|$x udp-recv" 2>/dev/null
	wait "${sinks[@]}" 2>/dev/null
	ip -n "$ns" link del pvt0 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$sock"
	echo "pvio-vm-run exited $rc; pvio-backd exited $(cat "$w/backd.rc") after SIGTERM"
	PVNET_RC[$ver]=$rc
	return "$rc"
}

# pvnet_require VER CHECK...: boot if needed, then require the guest's PASS
# line for each check (t_guest_checks).
pvnet_require() {
	pvnet_boot "$1"
	t_guest_checks $? "$PVNET_RUN/vm-$1/console.log" pvnet-main "${@:2}"
}

# pvnet_host VER NAME...: the host's end of each named transfer exited 0;
# its output is shown.
pvnet_host() {
	local w=$PVNET_RUN/vm-$1 n ok=0
	shift
	for n in "$@"; do
		sed "s/^/host $n: /" "$w/$n.out" 2>/dev/null
		if [ "$(cat "$w/$n.rc" 2>/dev/null)" = 0 ]; then
			echo "host: $n passed"
		else
			echo "host: $n failed (status $(cat "$w/$n.rc" 2>/dev/null || echo none))"
			ok=1
		fi
	done
	return $ok
}

# Both ends of each 256 MiB stream report the same hash.
pvnet_same_hash() {
	local w=$PVNET_RUN/vm-$1 log=$PVNET_RUN/vm-$1/console.log a b
	a=$(tr -d '\r' <"$log" | sed -n 's/^tcp-out: net_xfer: \(.*\)/\1/p')
	b=$(sed -n 's/^net_xfer: \([0-9].*\)/\1/p' "$w/tcp-out.out")
	[ -n "$a" ] && [ "$a" = "$b" ] || { echo "guest sent '$a', host got '$b'"; return 1; }
	a=$(sed -n 's/^net_xfer: \([0-9].*\)/\1/p' "$w/tcp-in.out")
	b=$(tr -d '\r' <"$log" | sed -n 's/^tcp-in: net_xfer: \([0-9].*\)/\1/p')
	[ -n "$a" ] && [ "$a" = "$b" ] || { echo "host sent '$a', guest got '$b'"; return 1; }
	echo "both directions: sender and receiver report the same bytes and hash"
}

pvnet_tcp() {
	pvnet_require "$1" tcp-out tcp-in || return
	pvnet_host "$1" tcp-out tcp-in || return
	pvnet_same_hash "$1"
}

pvnet_udp() {
	pvnet_require "$1" udp-out-sent udp-in || return
	pvnet_host "$1" udp-out udp-in
}

pvnet_ping() {
	pvnet_require "$1" ping-out || return
	pvnet_host "$1" ping-in
}

pvnet_mtu() {
	pvnet_require "$1" mtu-limit mtu9000-ping mtu9000-tcp || return
	pvnet_host "$1" tcp9k
}

# ethtool's driver info and counters, and a checked stream with checksum
# offload off both ways.
pvnet_ethtool() {
	pvnet_require "$1" ethtool-info ethtool-stats csum-off-tcp || return
	pvnet_host "$1" csum-off
}

# Two engine restarts under a 256 MiB upload: reconnected each time, the
# stream intact at the receiver.
pvnet_restart() {
	pvnet_require "$1" restart-reconnects restart-tcp restart-ping || return
	cat "$PVNET_RUN/vm-$1/restart.out"
	pvnet_host "$1" restart-tcp
}

# The daemon stopped cleanly on SIGTERM and logged no broken peer.
pvnet_backd_clean() {
	local w=$PVNET_RUN/vm-$1
	pvnet_boot "$1"
	t_guest_finished $? || return
	[ "$(cat "$w/backd.rc")" = 0 ] || { echo "pvio-backd exited $(cat "$w/backd.rc")"; tail -n 20 "$w/backd.log"; return 1; }
	if grep -Ei 'broke|invalid|bad ' "$w/backd.log"; then
		echo "pvio-backd logged a broken frontend"
		return 1
	fi
	echo "pvio-backd stopped cleanly, no protocol errors logged"
}

# pvnet_register VERSION SHORTVER: the tests of one kernel.
pvnet_register() {
	local ver=$1 k=$2
	t_run vm-pvnet-probe-"$k" pvnet_require "$ver" probe carrier
	t_run vm-pvnet-ping-"$k" pvnet_ping "$ver"
	t_run vm-pvnet-tcp-256m-"$k" pvnet_tcp "$ver"
	t_run vm-pvnet-gso-"$k" pvnet_require "$ver" tso-features tso-used rx-merge-used
	t_run vm-pvnet-udp-"$k" pvnet_udp "$ver"
	t_run vm-pvnet-mtu-"$k" pvnet_mtu "$ver"
	t_run vm-pvnet-ethtool-"$k" pvnet_ethtool "$ver"
	t_run vm-pvnet-link-"$k" pvnet_require "$ver" link-down link-up
	t_run vm-pvnet-restart-"$k" pvnet_restart "$ver"
	t_run vm-pvnet-unload-"$k" pvnet_require "$ver" unload reload
	t_run host-pvnet-backd-clean-"$k" pvnet_backd_clean "$ver"
}

t_clean_stale_runs pvnet-run
t_for_each_kernel vm-pvnet pvnet_register

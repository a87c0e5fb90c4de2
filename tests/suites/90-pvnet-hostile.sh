# pvnet against hostile network backends, in QEMU guests of every kernel
# tools/pvio-kdir --all lists (tests/vm/pvio-vm-run also fails a guest
# whose console shows BUG/Oops/WARNING/KASAN or a hung task's trace). One
# boot per kernel (tests/vm/guest/pvnet-hostile.sh) with one
# build/tests/progs/hostile_netback per device (PVNET_HOSTILE_DEVS): a
# good one and one per hostile mode, each misbehaving from its 4th TX
# frame on (the merge-* ones with RX_MERGE and receive GSO offered, which
# pvnet takes). Checked per mode: the frames before worked, the device is
# dead afterwards (carrier off, nothing sent), exactly one pvnet error
# line names the broken rule (for "silent", which only stops answering:
# no unanswered frame counted as sent, and a disabled device says why).
# Then: the good device still passes every frame after the others died,
# pvnet unloads, and every hostile backend did misbehave (its "MODE from
# frame 4" line) while the good one looped every frame it took. All a
# run makes lives in build/pvnet-hostile-run.PID/.
# Sourced by tests/run-all.

PVNET_HOSTILE_RUN=$TOP/build/pvnet-hostile-run.$$
PVNET_HOSTILE_NB=$TOP/build/tests/progs/hostile_netback
declare -A PVNET_HOSTILE_RC=()
# SLOT MODE AFTER EXPECT: PCI slot (hex), backend mode, good TX frames
# first, text of pvnet's error line ("-": any; "none": the device must
# stop answering, whether pvnet waits or gives up is its choice; see
# front/pvnet/pvnet.c and ring/net_proto.c for the texts).
PVNET_HOSTILE_DEVS=(
	"10 good 0 -"
	"11 bad-id 3 TX response refused (answer for a frame the backend does not hold)"
	"12 dup-id 3 TX response refused (answer for a frame the backend does not hold)"
	"13 bad-status 3 TX response refused (status a TX response cannot carry)"
	"14 reserved 3 TX response refused (reserved response fields not zero)"
	"15 prod-jump 3 TX response refused (producer index out of range)"
	"16 rx-bad-len 3 RX response refused (more bytes than the buffer holds)"
	"17 rx-bad-id 3 RX response refused (answer for a buffer the backend does not hold)"
	"18 more-overflow 3 RX response refused (frame over several buffers without RX_MERGE)"
	"19 garbage 3 -"
	"1a cons-jump 3 TX request ring broken (consumer index out of range)"
	"1b silent 3 none"
	"1c merge-overflow 3 RX response refused (frame over more than 64 buffers)"
	"1d merge-hdr 3 RX response refused (offload header on a buffer other than the first)"
)

# The boot for kernel $1, once; later calls return the first one's status.
pvnet_hostile_boot() {
	local ver=$1 w=$PVNET_HOSTILE_RUN/vm-$1 kd sock spec slot mode after rc p
	local -a qargs=() pids=()
	if [ -n "${PVNET_HOSTILE_RC[$ver]:-}" ]; then
		return "${PVNET_HOSTILE_RC[$ver]}"
	fi
	PVNET_HOSTILE_RC[$ver]=1
	t_guest_can_boot "$ver" || { PVNET_HOSTILE_RC[$ver]=77; return 77; }
	make -C "$TOP" -s build/tests/progs/hostile_netback >/dev/null 2>&1
	[ -x "$PVNET_HOSTILE_NB" ] || { echo "$PVNET_HOSTILE_NB is not built"; return 1; }
	t_kmod_build "$ver" || return 1
	kd=$(t_kmod_dir "$ver")
	for p in hypercall/kernel/pvio_core hypercall/kernel/pvio_ivshmem front/pvnet/pvnet; do
		[ -f "$kd/$p.ko" ] || { echo "$p.ko was not built for $ver"; return 1; }
	done
	rm -rf "$w" && mkdir -p "$w" || return 1
	# Sockets live in /tmp: the tree's path may be long or hold a comma.
	sock=$(mktemp -d /tmp/pvio-nhostile.XXXXXX) || return 1
	printf '%s\n' "${PVNET_HOSTILE_DEVS[@]}" >"$w/devices"
	for spec in "${PVNET_HOSTILE_DEVS[@]}"; do
		read -r slot mode after _ <<<"$spec"
		"$PVNET_HOSTILE_NB" --socket "$sock/$mode" --mode "$mode" --after "$after" \
			--seed $((0x$slot)) --mac "52:56:00:4e:42:$slot" \
			>"$w/$mode.log" 2>&1 &
		pids+=($!)
		qargs+=(--qemu-arg -chardev --qemu-arg "socket,path=$sock/$mode,id=$mode"
			--qemu-arg -device
			--qemu-arg "ivshmem-doorbell,chardev=$mode,vectors=3,addr=0x$slot")
		if ! t_wait_ready '^hostile_netback: ready' "$w/$mode.log"; then
			t_stop "${pids[@]}"
			rm -rf "$sock"
			return 1
		fi
	done
	"$TOP/tests/vm/pvio-vm-run" --kernel "$(t_vmlinuz "$ver")" \
		--module "$kd/hypercall/kernel/pvio_core.ko" \
		--module "$kd/hypercall/kernel/pvio_ivshmem.ko" \
		--module "$kd/front/pvnet/pvnet.ko" \
		--file "$w/devices:/pvio/devices" \
		--file "$TOP/tests/vm/guest/lib-net.sh:/pvio/lib-net.sh" --mem 768 --timeout 600 \
		--script "$TOP/tests/vm/guest/pvnet-hostile.sh" --log "$w/console.log" \
		"${qargs[@]}"
	rc=$?
	# SIGTERM: each backend prints its frame counts and exits 0.
	kill -TERM "${pids[@]}" 2>/dev/null
	: >"$w/backends.rc"
	for p in "${pids[@]}"; do
		wait "$p"
		echo $? >>"$w/backends.rc"
	done
	rm -rf "$sock"
	echo "pvio-vm-run exited $rc"
	PVNET_HOSTILE_RC[$ver]=$rc
	return "$rc"
}

pvnet_hostile_require() {
	pvnet_hostile_boot "$1"
	t_guest_checks $? "$PVNET_HOSTILE_RUN/vm-$1/console.log" pvnet-hostile "${@:2}"
}

# pvnet_hostile_mode VER MODE EXPECT: the guest's checks of one hostile
# device.
pvnet_hostile_mode() {
	if [ "$3" = none ]; then
		pvnet_hostile_require "$1" "worked-$2" "held-$2" "given-up-$2" || return
	else
		pvnet_hostile_require "$1" "worked-$2" "dead-$2" "one-error-$2" "quiet-$2" || return
	fi
	tr -d '\r' <"$PVNET_HOSTILE_RUN/vm-$1/console.log" | grep "^pvnet-hostile: $2: "
}

# Every backend exited 0 on SIGTERM; every hostile one misbehaved from
# the frame after its AFTER; the good one looped every frame it took.
pvnet_hostile_backends() {
	local w=$PVNET_HOSTILE_RUN/vm-$1 spec slot mode after ok=0 t l
	pvnet_hostile_boot "$1"
	t_guest_finished $? || return
	if grep -qv '^0$' "$w/backends.rc"; then
		echo "a backend did not exit 0 on SIGTERM: $(tr '\n' ' ' <"$w/backends.rc")"
		ok=1
	fi
	for spec in "${PVNET_HOSTILE_DEVS[@]}"; do
		read -r slot mode after _ <<<"$spec"
		grep '^hostile_netback: frames' "$w/$mode.log" | sed "s/^/$mode: /"
		if [ "$mode" = good ]; then
			read -r t l < <(sed -n 's/^hostile_netback: frames \([0-9]*\) looped \([0-9]*\)$/\1 \2/p' "$w/$mode.log")
			if [ -z "$t" ] || [ "$t" -lt 20 ] || [ "$t" != "$l" ]; then
				echo "good: took ${t:-?} frames, looped ${l:-?} (20 or more, all)"
				ok=1
			fi
		elif ! grep -q "^hostile_netback: $mode from frame $((after + 1))\$" "$w/$mode.log"; then
			echo "$mode: the backend never misbehaved:"
			cat "$w/$mode.log"
			ok=1
		fi
	done
	return $ok
}

pvnet_hostile_register() {
	local ver=$1 k=$2 spec slot mode after expect
	t_run vm-pvnet-hostile-probe-"$k" pvnet_hostile_require "$ver" probe
	for spec in "${PVNET_HOSTILE_DEVS[@]}"; do
		read -r slot mode after expect <<<"$spec"
		[ "$mode" = good ] && continue
		t_run vm-pvnet-hostile-"$mode"-"$k" pvnet_hostile_mode "$ver" "$mode" "$expect"
	done
	t_run vm-pvnet-hostile-good-"$k" pvnet_hostile_require "$ver" good-flows errors-total
	t_run vm-pvnet-hostile-unload-"$k" pvnet_hostile_require "$ver" unload
	t_run host-pvnet-hostile-backends-"$k" pvnet_hostile_backends "$ver"
}

t_clean_stale_runs pvnet-hostile-run
t_for_each_kernel vm-pvnet-hostile pvnet_hostile_register

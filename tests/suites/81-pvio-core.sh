# The pvio bus (hypercall/kernel/pvio_core.ko) and the in-kernel loop
# transport (pvio_loop.ko), in QEMU guests of every kernel tools/pvio-kdir
# --all lists:
#   - one silent device's probe does not block a second device's probe:
#     pvblk drives two ivshmem-doorbell devices, the first served by
#     test_backend --mode mute (INITWAIT, never an answer), the second by
#     test_backend --mode good; the second disk must appear within 4 s
#     while the first probe still waits out its 10 s bound
#     (tests/vm/guest/pvio-core-probe.sh);
#   - pvio_loop: "add" without a backend class driver fails with ENODEV
#     and says to load pvblkback; with pvblkback a pair's disk carries IO
#     and goes with "remove" and with the module
#     (tests/vm/guest/pvio-loop-check.sh).
# Sourced by tests/run-all.

PCORE_MiB=1048576
declare -A PCORE_PROBE_RC=() PCORE_LOOP_RC=()

# The probe boot for kernel $1, once; console in $LOGDIR.
pcore_probe_boot() {
	local ver=$1 tb=$TOP/build/tests/progs/test_backend km sock rc name
	local log=$LOGDIR/vm-pvio-core-probe-$1
	local -a pids=()
	if [ -n "${PCORE_PROBE_RC[$ver]:-}" ]; then
		return "${PCORE_PROBE_RC[$ver]}"
	fi
	PCORE_PROBE_RC[$ver]=1
	t_guest_can_boot "$ver" || { PCORE_PROBE_RC[$ver]=77; return 77; }
	make -C "$TOP" -s build/tests/progs/test_backend >/dev/null 2>&1
	[ -x "$tb" ] || { echo "build/tests/progs/test_backend is not built"; return 1; }
	t_kmod_build "$ver" || return 1
	km=$(t_kmod_dir "$ver")
	sock=$(mktemp -d /tmp/pvio-pcore.XXXXXX) || return 1
	for name in mute good; do
		"$tb" --socket "$sock/$name" --size $((16 * PCORE_MiB)) --mode "$name" \
			>"$log.$name.log" 2>&1 &
		pids+=($!)
	done
	for name in mute good; do
		if ! t_wait_for "$log.$name.log" '^test_backend: ready' 10; then
			echo "test_backend ($name) did not start:"
			cat "$log.$name.log"
			kill "${pids[@]}" 2>/dev/null
			wait "${pids[@]}" 2>/dev/null
			rm -rf "$sock"
			return 1
		fi
	done
	"$TOP/tests/vm/pvio-vm-run" --kernel "/boot/vmlinuz-$ver" \
		--module "$km/hypercall/kernel/pvio_core.ko" \
		--module "$km/hypercall/kernel/pvio_ivshmem.ko" \
		--module "$km/front/pvblk/pvblk.ko" \
		--script "$TOP/tests/vm/guest/pvio-core-probe.sh" --timeout 180 \
		--log "$log.console.log" \
		--qemu-arg -chardev --qemu-arg "socket,path=$sock/mute,id=mute" \
		--qemu-arg -device --qemu-arg ivshmem-doorbell,chardev=mute,vectors=2,addr=0x10 \
		--qemu-arg -chardev --qemu-arg "socket,path=$sock/good,id=good" \
		--qemu-arg -device --qemu-arg ivshmem-doorbell,chardev=good,vectors=2,addr=0x11
	rc=$?
	kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
	rm -rf "$sock"
	PCORE_PROBE_RC[$ver]=$rc
	return "$rc"
}

# The loop boot for kernel $1, once.
pcore_loop_boot() {
	local ver=$1 km rc
	if [ -n "${PCORE_LOOP_RC[$ver]:-}" ]; then
		return "${PCORE_LOOP_RC[$ver]}"
	fi
	PCORE_LOOP_RC[$ver]=1
	t_guest_can_boot "$ver" || { PCORE_LOOP_RC[$ver]=77; return 77; }
	t_kmod_build "$ver" || return 1
	km=$(t_kmod_dir "$ver")
	"$TOP/tests/vm/pvio-vm-run" --kernel "/boot/vmlinuz-$ver" \
		--module "$km/hypercall/kernel/pvio_core.ko" \
		--module "$km/hypercall/kernel/pvio_loop.ko" \
		--module "$km/back/pvblkback/pvblkback.ko" \
		--module "$km/front/pvblk/pvblk.ko" \
		--script "$TOP/tests/vm/guest/pvio-loop-check.sh" --mem 768 --timeout 180 \
		--log "$LOGDIR/vm-pvio-loop-$ver.console.log"
	rc=$?
	PCORE_LOOP_RC[$ver]=$rc
	return "$rc"
}

# pcore_require BOOTFN VER LOG PREFIX CHECK...: boot if needed, then
# require the guest's PASS line for each check. The guest script exits 1
# when any check fails: that alone does not fail a test whose own checks
# passed; any other harness failure fails every test of the boot.
pcore_require() {
	local boot=$1 ver=$2 log=$3 prefix=$4 rc c ok=0
	shift 4
	"$boot" "$ver"
	rc=$?
	[ "$rc" -ne 77 ] || return 77
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
		echo "pvio-vm-run exited $rc (console: $log)"
		[ -f "$log" ] && tr -d '\r' <"$log" | grep "^$prefix: FAIL"
		return 1
	fi
	tr -d '\r' <"$log" | grep "^$prefix: [a-z]" | grep -v "^$prefix: PASS"
	for c in "$@"; do
		if tr -d '\r' <"$log" | grep -q "^$prefix: PASS $c\$"; then
			echo "guest: $c passed"
		else
			tr -d '\r' <"$log" | grep "^$prefix: FAIL $c:" ||
				echo "guest: no result for $c"
			ok=1
		fi
	done
	return $ok
}

pcore_register() {
	local kdir ver k any=0
	while read -r kdir; do
		[ -n "$kdir" ] || continue
		any=1
		ver=${kdir##*/linux-headers-}
		k=$(echo "$ver" | cut -d. -f1,2)
		t_run vm-pvio-core-probe-not-blocked-"$k" pcore_require pcore_probe_boot "$ver" \
			"$LOGDIR/vm-pvio-core-probe-$ver.console.log" pvio-core \
			probe-not-blocked good-disk-io mute-times-out unload
		t_run vm-pvio-loop-needs-backend-"$k" pcore_require pcore_loop_boot "$ver" \
			"$LOGDIR/vm-pvio-loop-$ver.console.log" pvio-loop \
			add-needs-backend add-bad-line
		t_run vm-pvio-loop-pair-"$k" pcore_require pcore_loop_boot "$ver" \
			"$LOGDIR/vm-pvio-loop-$ver.console.log" pvio-loop \
			loop-io loop-remove loop-unload
	done < <("$TOP/tools/pvio-kdir" --all 2>/dev/null)
	if [ $any -eq 0 ]; then
		t_run vm-pvio-core sh -c 'echo "SKIP: no kernel headers with a matching /boot/vmlinuz (tools/pvio-deps)"; exit 77'
	fi
}

pcore_register

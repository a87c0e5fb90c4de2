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
	if ! t_wait_ready '^test_backend: ready' "$log".{mute,good}.log; then
		t_stop "${pids[@]}"
		rm -rf "$sock"
		return 1
	fi
	"$TOP/tests/vm/pvio-vm-run" --kernel "$(t_vmlinuz "$ver")" \
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
	t_stop "${pids[@]}"
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
	"$TOP/tests/vm/pvio-vm-run" --kernel "$(t_vmlinuz "$ver")" \
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

# pcore_require BOOTFN VER LOG PREFIX CHECK...: boot if needed, print the
# guest's other lines of PREFIX (what it saw on the way), then require its
# PASS line for each check (t_guest_checks).
pcore_require() {
	local boot=$1 ver=$2 log=$3 prefix=$4 rc
	shift 4
	"$boot" "$ver"
	rc=$?
	if [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ]; then
		tr -d '\r' <"$log" | grep "^$prefix: [a-z]" | grep -v "^$prefix: PASS"
	fi
	t_guest_checks "$rc" "$log" "$prefix" "$@"
}

# pcore_register VERSION SHORTVER: the tests of one kernel.
pcore_register() {
	local ver=$1 k=$2
	t_run vm-pvio-core-probe-not-blocked-"$k" pcore_require pcore_probe_boot "$ver" \
		"$LOGDIR/vm-pvio-core-probe-$ver.console.log" pvio-core \
		probe-not-blocked good-disk-io mute-times-out unload
	t_run vm-pvio-loop-needs-backend-"$k" pcore_require pcore_loop_boot "$ver" \
		"$LOGDIR/vm-pvio-loop-$ver.console.log" pvio-loop \
		add-needs-backend add-bad-line
	t_run vm-pvio-loop-pair-"$k" pcore_require pcore_loop_boot "$ver" \
		"$LOGDIR/vm-pvio-loop-$ver.console.log" pvio-loop \
		loop-io loop-remove loop-unload
}

t_for_each_kernel vm-pvio-core pcore_register

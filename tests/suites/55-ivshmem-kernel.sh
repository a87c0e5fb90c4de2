# The ivshmem transport (hypercall/kernel/pvio_ivshmem.ko) on the pvio bus
# (pvio_core.ko), both roles, in a QEMU
# guest with stock ivshmem-doorbell devices served by pvio's ivshmem server
# (build/tests/progs/ivshmem_region). One guest boot covers every case; each
# test below reports its own part of it (tests/vm/guest/ivshmem-kernel.sh
# prints a PASS/FAIL line per check). Sourced by tests/run-all.

IVSK_LOG=$LOGDIR/vm-ivshmem-kernel
IVSK_BOOTED=''
IVSK_RC=''

# The modules of the tree (tests/lib/guest.sh) for the kernel the guest
# boots: pvio_core.ko, pvio_ivshmem.ko and the pvio_class_test.ko stand-in.
IVSK_KVER=''
ivsk_build_module() {
	local kdir
	kdir=$("$TOP/tools/pvio-kdir") || return 1
	IVSK_KVER=${kdir##*/linux-headers-}
	t_kmod_build "$IVSK_KVER"
}

# Boot the guest once with five devices; later calls return the first
# boot's status. Host helper logs: $IVSK_LOG.<name>.log.
ivsk_boot() {
	if [ -n "$IVSK_BOOTED" ]; then
		return "$IVSK_RC"
	fi
	IVSK_BOOTED=1 IVSK_RC=1
	local helper=$TOP/build/tests/progs/ivshmem_region tmp rc name mode vec slot period spec
	local -a pids=() qargs=()
	local park_fd watcher
	t_guest_can_boot || { IVSK_RC=77; return 77; }
	make -C "$TOP" -s build/tests/progs/ivshmem_region || return 1
	ivsk_build_module || return 1

	tmp=$(mktemp -d /tmp/pvio-ivsk.XXXXXX) || return 1
	# name:mode:vectors:pci slot:ms between the host's doorbells to the guest
	for spec in pvio:pvio:2:10:2 zero:zero:2:11:200 corrupt:corrupt:2:12:200 few:pvio:1:13:200; do
		IFS=: read -r name mode vec slot period <<<"$spec"
		"$helper" -m "$mode" -v "$vec" -p "$period" "$tmp/$name.sock" \
			>"$IVSK_LOG.$name.log" 2>&1 &
		pids+=($!)
		qargs+=(--qemu-arg -chardev --qemu-arg "socket,path=$tmp/$name.sock,id=$name"
			--qemu-arg -device
			--qemu-arg "ivshmem-doorbell,chardev=$name,vectors=$vec,addr=0x$slot")
	done
	# The parked region is laid out when the guest says it is ready for
	# that: "layout" on the helper's stdin (a FIFO held open here).
	mkfifo "$tmp/park.in" || return 1
	exec {park_fd}<>"$tmp/park.in"
	"$helper" -m parked -v 2 -p 0 "$tmp/park.sock" <"$tmp/park.in" \
		>"$IVSK_LOG.park.log" 2>&1 &
	pids+=($!)
	qargs+=(--qemu-arg -chardev --qemu-arg "socket,path=$tmp/park.sock,id=park"
		--qemu-arg -device
		--qemu-arg "ivshmem-doorbell,chardev=park,vectors=2,addr=0x14")
	if ! t_wait_ready '^ready' "$IVSK_LOG".{pvio,zero,corrupt,few,park}.log; then
		t_stop "${pids[@]}"
		exec {park_fd}>&-
		rm -rf "$tmp"
		return 1
	fi
	: >"$IVSK_LOG.console.log"
	( t_wait_for "$IVSK_LOG.console.log" 'ivshmem-kernel: parked-ready-for-layout' 600 &&
		echo layout >&"$park_fd" ) &
	watcher=$!

	local km
	km=$(t_kmod_dir "$IVSK_KVER")/hypercall/kernel
	"$TOP/tests/vm/pvio-vm-run" --kernel "$(t_vmlinuz "$IVSK_KVER")" \
		--module "$km/pvio_core.ko" --module "$km/pvio_ivshmem.ko" \
		--module "$km/pvio_class_test.ko" \
		--script "$TOP/tests/vm/guest/ivshmem-kernel.sh" \
		--log "$IVSK_LOG.console.log" "${qargs[@]}"
	rc=$?
	# The helpers log "peer N left" when QEMU goes; give them a moment.
	t_wait_for "$IVSK_LOG.pvio.log" '^peer [0-9]+ left' 5
	kill "$watcher" 2>/dev/null
	wait "$watcher" 2>/dev/null
	exec {park_fd}>&-
	t_stop "${pids[@]}"
	rm -rf "$tmp"
	IVSK_RC=$rc
	return "$rc"
}

# Boot if needed, then require the guest's PASS lines for checks "$@"
# (t_guest_checks).
ivsk_require() {
	ivsk_boot
	t_guest_checks $? "$IVSK_LOG.console.log" ivshmem-kernel "$@"
}

# (a) binds, rings both ways, unloads and reloads cleanly.
ivsk_test_pvio_region() {
	ivsk_require bind guest-rings-host notify-range host-rings-guest rmmod reload || return
	if ! grep -q '^doorbell vector 1$' "$IVSK_LOG.pvio.log"; then
		echo "the host never saw the guest ring vector 1 ($IVSK_LOG.pvio.log)"
		return 1
	fi
	if [ "$(grep -c '^doorbell vector 1$' "$IVSK_LOG.pvio.log")" -lt 2 ]; then
		echo "the host did not see the class driver's doorbell on vector 1"
		return 1
	fi
	if grep -q '^doorbell vector 0$' "$IVSK_LOG.pvio.log"; then
		echo "the host saw a doorbell on vector 0 nobody rang"
		return 1
	fi
	echo "host: doorbell vector 1 seen"
}

# The backend role on the all-zero region: the guest's debugfs notify on
# the backend device rings peer 0 (the line named peer=0), which is the
# helper itself.
ivsk_test_backend_role() {
	ivsk_require backend-bad-lines backend-register backend-busy backend-rings \
		backend-notify backend-remove backend-unload || return
	if ! grep -q '^doorbell vector 1$' "$IVSK_LOG.zero.log"; then
		echo "the host never saw the backend device ring vector 1 ($IVSK_LOG.zero.log)"
		return 1
	fi
	echo "host: the backend device's doorbell on vector 1 seen"
}

# (d) a parked region waits for its backend, and binds once laid out.
ivsk_test_parked() {
	ivsk_require parked-waits parked-unbind parked-binds || return
	if ! grep -q '^laid out$' "$IVSK_LOG.park.log"; then
		echo "the helper never laid the parked region out ($IVSK_LOG.park.log)"
		return 1
	fi
	grep 'parked region bound after' "$IVSK_LOG.console.log"
}

t_run vm-ivshmem-binds-pvio-region ivsk_test_pvio_region
t_run vm-ivshmem-binds-class-driver ivsk_require class-after class-pins-core \
	class-before transport-unload class-unload
t_run vm-ivshmem-leaves-foreign-region ivsk_require foreign
t_run vm-ivshmem-refuses-corrupt-header ivsk_require corrupt few-vectors
t_run vm-ivshmem-waits-for-parked-region ivsk_test_parked
t_run vm-ivshmem-backend-role ivsk_test_backend_role

# pvio-backd's engine dies and comes back under load (issue: "Engine
# restart under load"). The region server (pvio-backd's main process)
# keeps the socket, the region and the doorbells; t_engine_kills
# (tests/lib/restart.sh) SIGKILLs the engine process at random moments,
# each time after the frontend reconnected to the previous one.
#   engine-restart-<kver>: a QEMU guest of every kernel tools/pvio-kdir
#     --all lists writes sequence-stamped 4 KiB blocks with FUA to
#     /dev/pvblk0 (tests/progs/stamp, tests/vm/guest/engine-restart.sh)
#     through 20 engine kills; then, on the host, every acknowledged block
#     is on the image with its last acknowledged content (stamp verify),
#     the guest saw no IO error and pvblk counted 20 reconnects, and the
#     console has no BUG/WARNING/Oops (pvio-vm-run).
#   engine-restart-libpvio: the same through the userspace frontend
#     (stamp write --pvio), 20 kills.
# Wall time: about 90 s per kernel under TCG, 25 s for libpvio. The long
# run: PVIO_ENGINE_KILLS=100 PVIO_TESTS=engine-restart tests/run-all. Runs in
# build/engine-restart.PID/. Sourced by tests/run-all.

ER_RUN=$TOP/build/engine-restart.$$
ER_KILLS=${PVIO_ENGINE_KILLS:-20}
t_clean_stale_runs engine-restart

# er_backd DIR IMAGE SOCK: start pvio-backd on IMAGE; sets ER_BACKD.
er_backd() {
	"$TOP/build/pvio-backd" --blk "$2" --socket "$3" >"$1/backd.log" 2>&1 &
	ER_BACKD=$!
	t_wait_for "$1/backd.log" '^pvio-backd: ready' 10 "$ER_BACKD" || {
		cat "$1/backd.log"
		t_stop "$ER_BACKD"
		return 1
	}
}

er_guest() {
	local ver=$1 w=$ER_RUN/guest-$1 sock dir vm rc
	t_guest_can_boot "$ver" || return
	make -C "$TOP" -s build/pvio-backd build/tests/progs/stamp >/dev/null 2>&1 ||
		{ echo "building pvio-backd and stamp failed"; return 1; }
	t_kmod_build "$ver" || return 1
	dir=$(t_kmod_dir "$ver")
	rm -rf "$w" && mkdir -p "$w" && truncate -s 64M "$w/disk.img" || return 1
	sock=$(mktemp -d /tmp/pvio-er.XXXXXX) || return 1
	er_backd "$w" "$w/disk.img" "$sock/pv" || { rm -rf "$sock"; return 1; }
	printf 'SECONDS=%s\nBLOCKS=%s\nWANT=%s\n' $((ER_KILLS * 3 + 20)) 4096 \
		"$ER_KILLS" >"$w/engine-restart.conf"
	: >"$w/console.log"
	"$TOP/tests/vm/pvio-vm-run" --kernel "$(t_vmlinuz "$ver")" \
		--module "$dir/hypercall/kernel/pvio_core.ko" \
		--module "$dir/hypercall/kernel/pvio_ivshmem.ko" \
		--module "$dir/front/pvblk/pvblk.ko" \
		--file "$TOP/build/tests/progs/stamp:/pvio/stamp" \
		--file "$w/engine-restart.conf:/pvio/engine-restart.conf" \
		--file "$TOP/tests/vm/guest/lib-fs.sh:/pvio/lib-fs.sh" \
		--file "$TOP/tests/vm/guest/lib-stamp.sh:/pvio/lib-stamp.sh" \
		--script "$TOP/tests/vm/guest/engine-restart.sh" \
		--timeout $((ER_KILLS * 6 + 200)) --log "$w/console.log" \
		--qemu-arg -chardev --qemu-arg "socket,path=$sock/pv,id=pv" \
		--qemu-arg -device --qemu-arg ivshmem-doorbell,chardev=pv,vectors=2 \
		>"$w/vm.out" 2>&1 &
	vm=$!
	rc=0
	if t_wait_for "$w/console.log" '^engine-restart: started' 120 "$vm"; then
		t_engine_kills "$ER_BACKD" "$w/backd.log" "$ER_KILLS" 300 1500 \
			"$w/kills" "$vm" || rc=1
	else
		echo "the guest never started writing"
		rc=1
	fi
	wait "$vm"
	vm=$?
	t_stop "$ER_BACKD"
	rm -rf "$sock"
	cat "$w/vm.out"
	[ -f "$w/kills" ] && echo "reconnect ms per kill: $(cut -d' ' -f3 "$w/kills" | tr '\n' ' ')"
	grep -E 'engine \(pid|started .* time' "$w/backd.log" | tail -n 3
	t_stamp_verdict "$vm" "$w/console.log" engine-restart "$w/disk.img" \
		"$w/stamp.log" || rc=1
	return $rc
}

er_libpvio() {
	local w=$ER_RUN/libpvio sock writer rc=0
	make -C "$TOP" -s build/pvio-backd build/tests/progs/stamp >/dev/null 2>&1 ||
		{ echo "building pvio-backd and stamp failed"; return 1; }
	rm -rf "$w" && mkdir -p "$w" && truncate -s 64M "$w/disk.img" || return 1
	sock=$(mktemp -d /tmp/pvio-er.XXXXXX) || return 1
	er_backd "$w" "$w/disk.img" "$sock/pv" || { rm -rf "$sock"; return 1; }
	"$TOP/build/tests/progs/stamp" write --pvio "$sock/pv" --blocks 4096 \
		--seconds 600 --fua --qd 8 --log "$w/stamp.log" 2>"$w/stamp.err" &
	writer=$!
	t_wait_for "$w/backd.log" 'frontend peer [0-9]+ connected' 10 "$writer" ||
		{ echo "the writer never connected"; rc=1; }
	[ $rc -ne 0 ] || t_engine_kills "$ER_BACKD" "$w/backd.log" "$ER_KILLS" 300 1500 \
		"$w/kills" "$writer" || rc=1
	# One second of IO after the last restart, then an orderly end.
	sleep 1
	kill -TERM "$writer" 2>/dev/null
	wait "$writer" || { echo "stamp write failed"; rc=1; }
	t_stop "$ER_BACKD"
	rm -rf "$sock"
	tail -n 3 "$w/stamp.err"
	[ -f "$w/kills" ] && echo "reconnect ms per kill: $(cut -d' ' -f3 "$w/kills" | tr '\n' ' ')"
	grep -q '^ERR' "$w/stamp.log" && { echo "failed writes in the log"; rc=1; }
	"$TOP/build/tests/progs/stamp" verify --dev "$w/disk.img" --log "$w/stamp.log" || rc=1
	return $rc
}

er_register() {
	t_run "engine-restart-$2" er_guest "$1"
}

mkdir -p "$ER_RUN"
t_run engine-restart-libpvio er_libpvio
t_for_each_kernel engine-restart er_register

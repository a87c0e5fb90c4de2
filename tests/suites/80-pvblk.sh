# The block frontend (front/pvblk/pvblk.ko) in QEMU guests of every kernel
# tools/pvio-kdir --all lists, booted with tests/vm/pvio-vm-run (which also
# fails a guest whose console shows BUG/Oops/WARNING/panic). Per kernel:
#   - one boot against build/pvio-backd (tests/vm/guest/pvblk-main.sh):
#     ext4 with checksummed files, fio verification, fstrim, module reload,
#     a read-only disk, unbinding a disk under a writer and binding it
#     again; then on the host, with the daemon stopped: e2fsck, the files
#     read back with debugfs, the read-only image unchanged;
#   - one boot against hostile backends (build/tests/progs/test_backend,
#     tests/vm/guest/pvblk-garbage.sh).
# Everything a run makes lives in build/pvblk-run.PID/ (PID: the test
# runner's), so that two runs at once do not share images or modules; the
# directories of runs that are gone are removed when the suite loads, the
# latest one is kept for inspection. The modules are built per kernel in a
# private copy of the tree (t_kmod_build, tests/lib/guest.sh), so kernels
# never share .ko files and a half-written source in the tree is not picked
# up mid-run.
# Each guest script prints a PASS/FAIL line per check; each test below
# requires its own checks. Sourced by tests/run-all.

PVBLK_MiB=1048576
PVBLK_RUN=$TOP/build/pvblk-run.$$
declare -A PVBLK_MAIN_RC=() PVBLK_GARBAGE_RC=() PVBLK_BUILD_RC=()

# The modules of the tree for kernel $1 (t_kmod_build, tests/lib/guest.sh);
# the guests load pvio_core.ko, pvio_ivshmem.ko and pvblk.ko from there.
pvblk_build() {
	t_kmod_build "$1"
}

# --module arguments for the modules of kernel $1 (pvio_core.ko first).
pvblk_modules() {
	local km
	km=$(t_kmod_dir "$1")
	printf -- '--module\n%s\n' "$km/hypercall/kernel/pvio_core.ko" \
		"$km/hypercall/kernel/pvio_ivshmem.ko" "$km/front/pvblk/pvblk.ko"
}

pvblk_test_build() {
	t_guest_can_boot "$1" || return
	pvblk_build "$1" || return
	modinfo -F vermagic "$(t_kmod_dir "$1")/front/pvblk/pvblk.ko"
	modinfo -F vermagic "$(t_kmod_dir "$1")/front/pvblk/pvblk.ko" | grep -q "^$1 " || {
		echo "pvblk.ko was not built for $1"
		return 1
	}
}

# The boot against pvio-backd for kernel $1, once; later calls return the
# first one's status. Leaves in $PVBLK_RUN/vm-$1/: the images,
# console.log, backd.log, backd.rc (the daemon's exit status after
# SIGTERM), ro.sha256 (the read-only image before the boot), alloc (see
# t_watch_discard, tests/lib/guest.sh).
pvblk_main_boot() {
	local ver=$1 w=$PVBLK_RUN/vm-$1 sock rc backd watcher fio
	local -a mods
	if [ -n "${PVBLK_MAIN_RC[$ver]:-}" ]; then
		return "${PVBLK_MAIN_RC[$ver]}"
	fi
	PVBLK_MAIN_RC[$ver]=1
	t_guest_can_boot "$ver" || { PVBLK_MAIN_RC[$ver]=77; return 77; }
	make -C "$TOP" -s build/pvio-backd >/dev/null 2>&1
	if [ ! -x "$TOP/build/pvio-backd" ]; then
		echo "build/pvio-backd is not built (make build/pvio-backd failed)"
		return 1
	fi
	fio=$(command -v fio) || { echo "fio is not installed (tools/pvio-deps)"; return 1; }
	[ -x /sbin/mkfs.ext4 ] || { echo "/sbin/mkfs.ext4 missing (e2fsprogs)"; return 1; }
	pvblk_build "$ver" || return 1

	rm -rf "$w" && mkdir -p "$w" || return 1
	truncate -s 512M "$w/fs.img" &&
		head -c $((64 * PVBLK_MiB)) /dev/urandom >"$w/ro.img" &&
		truncate -s 128M "$w/scratch.img" || return 1
	sha256sum <"$w/ro.img" | cut -d' ' -f1 >"$w/ro.sha256"
	# Sockets live in /tmp: the tree's path may be long or hold a comma.
	sock=$(mktemp -d /tmp/pvio-pvblk.XXXXXX) || return 1
	"$TOP/build/pvio-backd" --blk "$w/fs.img" --queues 2 --socket "$sock/fs" \
		--blk "$w/ro.img" --ro --socket "$sock/ro" \
		--blk "$w/scratch.img" --socket "$sock/sc" >"$w/backd.log" 2>&1 &
	backd=$!
	if ! t_wait_for "$w/backd.log" '^pvio-backd: ready' 10; then
		echo "pvio-backd did not start:"
		cat "$w/backd.log"
		kill "$backd" 2>/dev/null
		wait "$backd"
		rm -rf "$sock"
		return 1
	fi
	: >"$w/console.log"
	t_watch_discard "$w/console.log" "$w/fs.img" "$w/alloc" pvblk-main &
	watcher=$!

	mapfile -t mods < <(pvblk_modules "$ver")
	"$TOP/tests/vm/pvio-vm-run" --kernel "$(t_vmlinuz "$ver")" \
		"${mods[@]}" \
		--kmod ext4 --kmod crc32c_generic --file /sbin/mkfs.ext4:/pvio/mkfs.ext4 \
		--file "$fio:/pvio/fio" --file /etc/mke2fs.conf:/etc/mke2fs.conf \
		--file "$TOP/tests/vm/guest/lib-fs.sh:/pvio/lib-fs.sh" \
		--script "$TOP/tests/vm/guest/pvblk-main.sh" --mem 1024 --timeout 480 \
		--log "$w/console.log" \
		--qemu-arg -chardev --qemu-arg "socket,path=$sock/fs,id=fs" \
		--qemu-arg -device --qemu-arg ivshmem-doorbell,chardev=fs,vectors=3,addr=0x10 \
		--qemu-arg -chardev --qemu-arg "socket,path=$sock/ro,id=ro" \
		--qemu-arg -device --qemu-arg ivshmem-doorbell,chardev=ro,vectors=2,addr=0x11 \
		--qemu-arg -chardev --qemu-arg "socket,path=$sock/sc,id=sc" \
		--qemu-arg -device --qemu-arg ivshmem-doorbell,chardev=sc,vectors=2,addr=0x12
	rc=$?
	kill "$watcher" 2>/dev/null
	wait "$watcher" 2>/dev/null
	kill -TERM "$backd" 2>/dev/null
	wait "$backd"
	echo $? >"$w/backd.rc"
	rm -rf "$sock"
	echo "pvio-vm-run exited $rc; pvio-backd exited $(cat "$w/backd.rc") after SIGTERM"
	PVBLK_MAIN_RC[$ver]=$rc
	return "$rc"
}

# pvblk_require BOOTFN VER PREFIX CHECK...: boot if needed, then require
# the guest's PASS line for each check (t_guest_checks).
pvblk_require() {
	local boot=$1 ver=$2 prefix=$3 log rc
	shift 3
	"$boot" "$ver"
	rc=$?
	if [ "$prefix" = pvblk-main ]; then
		log=$PVBLK_RUN/vm-$ver/console.log
	else
		log=$PVBLK_RUN/garbage-$ver/console.log
	fi
	t_guest_checks "$rc" "$log" "$prefix" "$@"
}

pvblk_test_ro() {
	pvblk_require pvblk_main_boot "$1" pvblk-main ro-flag ro-write \
		ro-buffered-write ro-discard || return
	t_ro_image_kept "$PVBLK_RUN/vm-$1" pvblk-ro-sum
}

pvblk_test_discard() {
	pvblk_require pvblk_main_boot "$1" pvblk-main discard || return
	t_discard_gave_back "$PVBLK_RUN/vm-$1/alloc"
}

pvblk_test_backd_exit() {
	local w=$PVBLK_RUN/vm-$1 rc
	pvblk_main_boot "$1"
	rc=$?
	[ "$rc" -ne 77 ] || return 77
	if [ ! -f "$w/backd.rc" ]; then
		echo "pvio-backd never ran"
		return 1
	fi
	tail -n 12 "$w/backd.log"
	if [ "$(cat "$w/backd.rc")" != 0 ]; then
		echo "pvio-backd exited $(cat "$w/backd.rc") after SIGTERM"
		return 1
	fi
}

# The file system the guest left must be clean and hold what it wrote.
pvblk_test_fsck() {
	local w=$PVBLK_RUN/vm-$1
	pvblk_main_boot "$1"
	t_guest_finished $? || return
	[ "$(cat "$w/backd.rc" 2>/dev/null)" = 0 ] ||
		{ echo "pvio-backd did not exit cleanly: the image may be stale"; return 1; }
	t_image_fsck "$w/fs.img"
}

pvblk_test_files() {
	local w=$PVBLK_RUN/vm-$1
	pvblk_main_boot "$1"
	t_guest_finished $? || return
	t_image_files_match "$w/fs.img" "$w/console.log" pvblk-sum 8
}

# The boot against hostile backends for kernel $1, once.
pvblk_garbage_boot() {
	local ver=$1 w=$PVBLK_RUN/garbage-$1 tb=$TOP/build/tests/progs/test_backend
	local sock rc spec name mode slot
	local -a pids=() qargs=() mods
	if [ -n "${PVBLK_GARBAGE_RC[$ver]:-}" ]; then
		return "${PVBLK_GARBAGE_RC[$ver]}"
	fi
	PVBLK_GARBAGE_RC[$ver]=1
	t_guest_can_boot "$ver" || { PVBLK_GARBAGE_RC[$ver]=77; return 77; }
	make -C "$TOP" -s build/tests/progs/test_backend >/dev/null 2>&1
	[ -x "$tb" ] || { echo "build/tests/progs/test_backend is not built"; return 1; }
	pvblk_build "$ver" || return 1
	rm -rf "$w" && mkdir -p "$w" || return 1
	sock=$(mktemp -d /tmp/pvio-pvblk.XXXXXX) || return 1
	for spec in badid:bad-id:10 dupid:dup-id:11 badstatus:bad-status:12 \
		prodjump:prod-jump:13 silent:silent:14; do
		IFS=: read -r name mode slot <<<"$spec"
		"$tb" --socket "$sock/$name" --size $((16 * PVBLK_MiB)) --mode "$mode" \
			--after 32 >"$w/$name.log" 2>&1 &
		pids+=($!)
		qargs+=(--qemu-arg -chardev --qemu-arg "socket,path=$sock/$name,id=$name"
			--qemu-arg -device
			--qemu-arg "ivshmem-doorbell,chardev=$name,vectors=2,addr=0x$slot")
	done
	if ! t_wait_ready '^test_backend: ready' "$w"/{badid,dupid,badstatus,prodjump,silent}.log; then
		t_stop "${pids[@]}"
		rm -rf "$sock"
		return 1
	fi
	mapfile -t mods < <(pvblk_modules "$ver")
	"$TOP/tests/vm/pvio-vm-run" --kernel "$(t_vmlinuz "$ver")" \
		"${mods[@]}" \
		--script "$TOP/tests/vm/guest/pvblk-garbage.sh" --timeout 180 \
		--log "$w/console.log" "${qargs[@]}"
	rc=$?
	t_stop "${pids[@]}"
	rm -rf "$sock"
	PVBLK_GARBAGE_RC[$ver]=$rc
	return "$rc"
}

# pvblk_register VERSION SHORTVER: the tests of one kernel.
pvblk_register() {
	local ver=$1 k=$2
	t_run vm-pvblk-build-"$k" pvblk_test_build "$ver"
	t_run vm-pvblk-fs-"$k" pvblk_require pvblk_main_boot "$ver" pvblk-main fs
	t_run vm-pvblk-fio-"$k" pvblk_require pvblk_main_boot "$ver" pvblk-main fio
	t_run vm-pvblk-multiqueue-"$k" pvblk_require pvblk_main_boot "$ver" pvblk-main \
		multiqueue
	t_run vm-pvblk-discard-"$k" pvblk_test_discard "$ver"
	t_run vm-pvblk-reload-"$k" pvblk_require pvblk_main_boot "$ver" pvblk-main reload
	t_run vm-pvblk-unplug-"$k" pvblk_require pvblk_main_boot "$ver" pvblk-main \
		unplug rebind
	t_run vm-pvblk-ro-"$k" pvblk_test_ro "$ver"
	t_run vm-pvblk-unload-"$k" pvblk_require pvblk_main_boot "$ver" pvblk-main unload
	t_run host-backd-sigterm-"$k" pvblk_test_backd_exit "$ver"
	t_run host-image-fsck-"$k" pvblk_test_fsck "$ver"
	t_run host-image-files-"$k" pvblk_test_files "$ver"
	t_run vm-pvblk-garbage-"$k" pvblk_require pvblk_garbage_boot "$ver" \
		pvblk-garbage bad-id
	t_run vm-pvblk-garbage-modes-"$k" pvblk_require pvblk_garbage_boot "$ver" \
		pvblk-garbage dup-id bad-status prod-jump unload
	t_run vm-pvblk-removal-silent-backend-"$k" pvblk_require pvblk_garbage_boot \
		"$ver" pvblk-garbage silent
}

t_clean_stale_runs pvblk-run
t_for_each_kernel vm-pvblk pvblk_register

# The kernel block backend (back/pvblkback/pvblkback.ko) serving pvblk in
# the same guest through pvio_loop, in QEMU guests of every kernel
# tools/pvio-kdir --all lists (tests/vm/pvio-vm-run also fails a guest
# whose console shows BUG/Oops/WARNING/panic). Per kernel, one boot
# (tests/vm/guest/pvblkback-main.sh) with three virtio-blk disks backed by
# raw images here: ext4 with checksummed files, fio verification, flush
# and FUA counted on the backing disk, fstrim giving the image's blocks
# back, a read-only export, regular files (tmpfs, ext4) as backing, and
# unloading everything under IO; then on the host: e2fsck, the files read
# back with debugfs, the read-only image unchanged, the image's allocation
# before and after fstrim.
# Everything a run makes lives in build/pvblkback-run.PID/ (PID: the test
# runner's); directories of runs that are gone are removed when the suite
# loads. Modules come from t_kmod_build (one private copy per kernel).
# Each guest check prints a PASS/FAIL line; each test below requires its
# own checks. Sourced by tests/run-all.

PBB_MiB=1048576
PBB_RUN=$TOP/build/pvblkback-run.$$
declare -A PBB_RC=()

pbb_test_build() {
	local dir m
	t_guest_can_boot "$1" || return
	t_kmod_build "$1" || return
	dir=$(t_kmod_dir "$1")
	for m in hypercall/kernel/pvio_core hypercall/kernel/pvio_loop \
		back/pvblkback/pvblkback front/pvblk/pvblk; do
		modinfo -F vermagic "$dir/$m.ko" | grep -q "^$1 " || {
			echo "$m.ko was not built for $1"
			return 1
		}
	done
	echo "modules for $1 in $dir"
}

# The boot for kernel $1, once; later calls return the first one's status.
# Leaves in $PBB_RUN/vm-$1/: the images, console.log, ro.sha256 (the
# read-only image before the boot), alloc (see t_watch_discard,
# tests/lib/guest.sh).
pbb_boot() {
	local ver=$1 w=$PBB_RUN/vm-$1 dir fio watcher rc
	if [ -n "${PBB_RC[$ver]:-}" ]; then
		return "${PBB_RC[$ver]}"
	fi
	PBB_RC[$ver]=1
	t_guest_can_boot "$ver" || { PBB_RC[$ver]=77; return 77; }
	fio=$(command -v fio) || { echo "fio is not installed (tools/pvio-deps)"; return 1; }
	[ -x /sbin/mkfs.ext4 ] || { echo "/sbin/mkfs.ext4 missing (e2fsprogs)"; return 1; }
	t_kmod_build "$ver" || return 1
	dir=$(t_kmod_dir "$ver")

	rm -rf "$w" && mkdir -p "$w" || return 1
	truncate -s 512M "$w/fs.img" &&
		head -c $((64 * PBB_MiB)) /dev/urandom >"$w/ro.img" &&
		truncate -s 128M "$w/file.img" || return 1
	sha256sum <"$w/ro.img" | cut -d' ' -f1 >"$w/ro.sha256"
	: >"$w/console.log"
	t_watch_discard "$w/console.log" "$w/fs.img" "$w/alloc" pvblkback-main &
	watcher=$!

	"$TOP/tests/vm/pvio-vm-run" --kernel "$(t_vmlinuz "$ver")" \
		--module "$dir/hypercall/kernel/pvio_core.ko" \
		--module "$dir/back/pvblkback/pvblkback.ko" \
		--module "$dir/hypercall/kernel/pvio_loop.ko" \
		--module "$dir/front/pvblk/pvblk.ko" \
		--kmod ext4 --kmod crc32c_generic --kmod virtio_pci --kmod virtio_blk \
		--file /sbin/mkfs.ext4:/pvio/mkfs.ext4 --file "$fio:/pvio/fio" \
		--file /etc/mke2fs.conf:/etc/mke2fs.conf \
		--file "$TOP/tests/vm/guest/lib-fs.sh:/pvio/lib-fs.sh" \
		--script "$TOP/tests/vm/guest/pvblkback-main.sh" --mem 1024 --timeout 900 \
		--log "$w/console.log" \
		--qemu-arg -drive --qemu-arg "file=$w/fs.img,if=none,id=d0,format=raw,cache=none,discard=unmap" \
		--qemu-arg -device --qemu-arg virtio-blk-pci,drive=d0 \
		--qemu-arg -drive --qemu-arg "file=$w/ro.img,if=none,id=d1,format=raw,cache=none" \
		--qemu-arg -device --qemu-arg virtio-blk-pci,drive=d1 \
		--qemu-arg -drive --qemu-arg "file=$w/file.img,if=none,id=d2,format=raw,cache=none,discard=unmap" \
		--qemu-arg -device --qemu-arg virtio-blk-pci,drive=d2
	rc=$?
	kill "$watcher" 2>/dev/null
	wait "$watcher" 2>/dev/null
	echo "pvio-vm-run exited $rc"
	PBB_RC[$ver]=$rc
	return "$rc"
}

# pbb_require VER CHECK...: boot if needed, then require the guest's PASS
# line for each check (t_guest_checks).
pbb_require() {
	pbb_boot "$1"
	t_guest_checks $? "$PBB_RUN/vm-$1/console.log" pvblkback-main "${@:2}"
}

pbb_test_discard() {
	pbb_require "$1" discard || return
	t_discard_gave_back "$PBB_RUN/vm-$1/alloc"
}

pbb_test_ro() {
	pbb_require "$1" ro || return
	t_ro_image_kept "$PBB_RUN/vm-$1" pvblkback-ro-sum
}

# The file system the guest left must be clean and hold what it wrote.
pbb_test_fsck() {
	pbb_boot "$1"
	t_guest_finished $? || return
	t_image_fsck "$PBB_RUN/vm-$1/fs.img"
}

pbb_test_files() {
	pbb_boot "$1"
	t_guest_finished $? || return
	t_image_files_match "$PBB_RUN/vm-$1/fs.img" "$PBB_RUN/vm-$1/console.log" \
		pvblkback-sum 8
}

# pbb_register VERSION SHORTVER: the tests of one kernel.
pbb_register() {
	local ver=$1 k=$2
	t_run vm-pvblkback-build-"$k" pbb_test_build "$ver"
	t_run vm-pvblkback-fs-"$k" pbb_require "$ver" fs
	t_run vm-pvblkback-fio-"$k" pbb_require "$ver" fio
	t_run vm-pvblkback-flush-fua-"$k" pbb_require "$ver" flush fua
	t_run vm-pvblkback-discard-"$k" pbb_test_discard "$ver"
	t_run vm-pvblkback-ro-"$k" pbb_test_ro "$ver"
	t_run vm-pvblkback-file-"$k" pbb_require "$ver" file-tmpfs file-ext4
	t_run vm-pvblkback-unload-"$k" pbb_require "$ver" unload
	t_run host-pvblkback-fsck-"$k" pbb_test_fsck "$ver"
	t_run host-pvblkback-files-"$k" pbb_test_files "$ver"
}

t_clean_stale_runs pvblkback-run
t_for_each_kernel vm-pvblkback pbb_register

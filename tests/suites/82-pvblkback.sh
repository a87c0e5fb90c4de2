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

# Record the fs image's allocated bytes at the guest's two markers.
pbb_watch_discard() {
	local log=$1 img=$2 out=$3
	t_wait_for "$log" 'pvblkback-main: discard-peak' 900 || return
	echo "peak $(du --block-size=1 "$img" | cut -f1)" >>"$out"
	t_wait_for "$log" 'pvblkback-main: discard-trimmed' 900 || return
	echo "trimmed $(du --block-size=1 "$img" | cut -f1)" >>"$out"
}

# The boot for kernel $1, once; later calls return the first one's status.
# Leaves in $PBB_RUN/vm-$1/: the images, console.log, ro.sha256 (the
# read-only image before the boot), alloc (see pbb_watch_discard).
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
	pbb_watch_discard "$w/console.log" "$w/fs.img" "$w/alloc" &
	watcher=$!

	"$TOP/tests/vm/pvio-vm-run" --kernel "/boot/vmlinuz-$ver" \
		--module "$dir/hypercall/kernel/pvio_core.ko" \
		--module "$dir/back/pvblkback/pvblkback.ko" \
		--module "$dir/hypercall/kernel/pvio_loop.ko" \
		--module "$dir/front/pvblk/pvblk.ko" \
		--kmod ext4 --kmod crc32c_generic --kmod virtio_pci --kmod virtio_blk \
		--file /sbin/mkfs.ext4:/pvio/mkfs.ext4 --file "$fio:/pvio/fio" \
		--file /etc/mke2fs.conf:/etc/mke2fs.conf \
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
# line for each check. A guest exit of 1 (some check failed) does not fail
# a test whose own checks passed; any other harness failure (kernel error,
# timeout, no exit marker) fails every test of the boot.
pbb_require() {
	local ver=$1 log=$PBB_RUN/vm-$1/console.log rc c ok=0
	shift
	pbb_boot "$ver"
	rc=$?
	[ "$rc" -ne 77 ] || return 77
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
		echo "pvio-vm-run exited $rc (console: $log)"
		[ -f "$log" ] && tr -d '\r' <"$log" | grep "^pvblkback-main: FAIL"
		return 1
	fi
	for c in "$@"; do
		if tr -d '\r' <"$log" | grep -q "^pvblkback-main: PASS $c\$"; then
			echo "guest: $c passed"
		else
			if ! tr -d '\r' <"$log" | grep "^pvblkback-main: FAIL $c:"; then
				echo "guest: no result for $c; the guest's failures:"
				tr -d '\r' <"$log" | grep "^pvblkback-main: FAIL"
			fi
			ok=1
		fi
	done
	return $ok
}

pbb_test_discard() {
	local w=$PBB_RUN/vm-$1 peak trimmed
	pbb_require "$1" discard || return
	peak=$(sed -n 's/^peak //p' "$w/alloc" 2>/dev/null)
	trimmed=$(sed -n 's/^trimmed //p' "$w/alloc" 2>/dev/null)
	echo "image allocation: ${peak:-?} bytes with the 64 MiB file, ${trimmed:-?} after rm + fstrim"
	if [ -z "$peak" ] || [ -z "$trimmed" ]; then
		echo "no allocation samples (the guest printed no discard markers?)"
		return 1
	fi
	if [ $((peak - trimmed)) -lt $((48 * PBB_MiB)) ]; then
		echo "fstrim gave back less than 48 MiB of the image"
		return 1
	fi
}

pbb_test_ro() {
	local w=$PBB_RUN/vm-$1 before after guest
	pbb_require "$1" ro || return
	before=$(cat "$w/ro.sha256")
	after=$(sha256sum <"$w/ro.img" | cut -d' ' -f1)
	guest=$(tr -d '\r' <"$w/console.log" | sed -n 's/^pvblkback-ro-sum: //p')
	echo "read-only image: before $before, after $after; guest read $guest"
	[ "$before" = "$after" ] || { echo "the read-only image changed"; return 1; }
	[ "$guest" = "$before" ] ||
		{ echo "the guest read the read-only export differently from its image"; return 1; }
}

# The guest finished (cleanly or with failed checks), so the image is final.
pbb_finished() {
	local rc
	pbb_boot "$1"
	rc=$?
	[ "$rc" -ne 77 ] || return 77
	[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || { echo "the guest did not finish (exit $rc)"; return 1; }
}

pbb_test_fsck() {
	local rc
	pbb_finished "$1" || return
	e2fsck -fn "$PBB_RUN/vm-$1/fs.img"
	rc=$?
	[ $rc -eq 0 ] || { echo "e2fsck -fn exited $rc"; return 1; }
}

pbb_test_files() {
	local w=$PBB_RUN/vm-$1 sum path got n=0 bad=0
	pbb_finished "$1" || return
	while read -r sum path; do
		got=$(debugfs -R "cat /$path" "$w/fs.img" 2>/dev/null | sha256sum | cut -d' ' -f1)
		n=$((n + 1))
		if [ "$got" = "$sum" ]; then
			echo "ok  /$path $sum"
		else
			echo "BAD /$path: guest $sum, image $got"
			bad=1
		fi
	done < <(tr -d '\r' <"$w/console.log" | sed -n 's/^pvblkback-sum: //p')
	[ $n -eq 8 ] || { echo "expected 8 checksums from the guest, found $n"; return 1; }
	return $bad
}

pbb_clean_stale() {
	local d pid
	for d in "$TOP"/build/pvblkback-run.*; do
		[ -d "$d" ] || continue
		pid=${d##*.}
		[ "$pid" = $$ ] && continue
		kill -0 "$pid" 2>/dev/null || rm -rf "$d"
	done
}

pbb_register() {
	local kdir ver k any=0
	while read -r kdir; do
		[ -n "$kdir" ] || continue
		any=1
		ver=${kdir##*/linux-headers-}
		k=$(echo "$ver" | cut -d. -f1,2)
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
	done < <("$TOP/tools/pvio-kdir" --all 2>/dev/null)
	if [ $any -eq 0 ]; then
		t_run vm-pvblkback sh -c 'echo "SKIP: no kernel headers with a matching /boot/vmlinuz (tools/pvio-deps)"; exit 77'
	fi
}

pbb_clean_stale
pbb_register

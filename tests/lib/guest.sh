# Helpers for suites that boot guests; sourced by tests/run-all.

# t_guest_can_boot [VERSION]: print a SKIP line and return 77 unless a guest
# of kernel VERSION (default: the one tools/pvio-kdir picks) can be booted
# here with modules built for it: QEMU, the image and its headers (from the
# kernel cache that tools/pvio-deps fills, else the system's).
t_guest_can_boot() {
	local ver=${1:-} kdir
	if ! command -v qemu-system-x86_64 >/dev/null; then
		echo "SKIP: qemu-system-x86_64 not installed (tools/pvio-deps)"
		return 77
	fi
	if [ -z "$ver" ]; then
		if ! kdir=$("$TOP/tools/pvio-kdir"); then
			echo "SKIP: no guest kernel with headers (run tools/pvio-deps)"
			return 77
		fi
		ver=${kdir##*/linux-headers-}
	fi
	if ! t_vmlinuz "$ver" >/dev/null; then
		echo "SKIP: no kernel image of $ver (run tools/pvio-deps)"
		return 77
	fi
	if ! t_kdir "$ver" >/dev/null; then
		echo "SKIP: no headers of $ver (run tools/pvio-deps)"
		return 77
	fi
}

# t_vmlinuz VERSION: the kernel image of VERSION, for pvio-vm-run --kernel
# (tools/pvio-kdir --vmlinuz). When there is none it prints where the cache
# would hold it and fails: pvio-vm-run then skips for a missing image
# rather than boot another kernel (an empty --kernel means the default).
t_vmlinuz() {
	"$TOP/tools/pvio-kdir" --vmlinuz "$1" ||
		{ echo "$("$TOP/tools/pvio-kdir" --cache)/$1/boot/vmlinuz-$1"; return 1; }
}

# t_kdir VERSION: the kernel build directory of VERSION (tools/pvio-kdir
# --kdir).
t_kdir() { "$TOP/tools/pvio-kdir" --kdir "$1"; }

# t_kmod_build VERSION: build every module of the tree (Kbuild) against
# the build directory of VERSION (t_kdir), in a private copy of the sources at
# $TOP/build/kmod-VERSION/ (so that kernels never share .ko files and a
# half-edited source in the work tree is not picked up mid-run); once per
# test run, later calls return the first one's status. The modules are then
# $TOP/build/kmod-VERSION/<path>.ko, e.g. front/pvblk/pvblk.ko.
declare -A T_KMOD_RC=()
t_kmod_build() {
	local ver=$1 dir=$TOP/build/kmod-$1 log=$LOGDIR/kmod-$1.build.log kdir
	if [ -n "${T_KMOD_RC[$ver]:-}" ]; then
		return "${T_KMOD_RC[$ver]}"
	fi
	T_KMOD_RC[$ver]=1
	kdir=$(t_kdir "$ver") || { echo "no headers of $ver (run tools/pvio-deps)"; return 1; }
	rm -rf "$dir" && mkdir -p "$dir" || return 1
	(cd "$TOP" && tar -c --exclude=./build --exclude=./.git \
		--exclude='*.o' --exclude='*.ko' --exclude='*.mod' \
		--exclude='*.mod.c' --exclude='.*.cmd' --exclude=Module.symvers \
		--exclude=modules.order .) | tar -x -C "$dir" || return 1
	if ! make -C "$kdir" M="$dir" modules >"$log" 2>&1; then
		cat "$log"
		echo "building the modules for $ver failed (log: $log)"
		return 1
	fi
	T_KMOD_RC[$ver]=0
}

# t_kmod_dir VERSION: where t_kmod_build put the modules of VERSION.
t_kmod_dir() { echo "$TOP/build/kmod-$1"; }

# t_clean_stale_runs NAME: remove $TOP/build/NAME.PID/, the directories
# that earlier runs of a suite left, whose runner (PID) is gone; this
# run's own directory and those of runs still going are kept.
t_clean_stale_runs() {
	local d pid
	for d in "$TOP/build/$1".*; do
		[ -d "$d" ] || continue
		pid=${d##*.}
		[ "$pid" = $$ ] || kill -0 "$pid" 2>/dev/null || rm -rf "$d"
	done
}

# t_for_each_kernel SKIPNAME FUNC: call FUNC VERSION SHORTVER (e.g.
# 6.1.0-57-amd64 6.1) for every kernel tools/pvio-kdir --all lists, so
# that FUNC registers that kernel's tests; with no kernel at all, register
# the one skipped test SKIPNAME instead.
t_for_each_kernel() {
	local skip=$1 fn=$2 kdir ver any=0
	while read -r kdir; do
		[ -n "$kdir" ] || continue
		any=1
		ver=${kdir##*/linux-headers-}
		"$fn" "$ver" "$(echo "$ver" | cut -d. -f1,2)"
	done < <("$TOP/tools/pvio-kdir" --all 2>/dev/null)
	if [ $any -eq 0 ]; then
		t_run "$skip" sh -c 'echo "SKIP: no guest kernel with headers (run tools/pvio-deps)"; exit 77'
	fi
}

# t_wait_ready PATTERN LOG...: wait up to 10 s for each host helper's LOG
# to show a line matching PATTERN; print the first one that does not, and
# return 1 (the caller stops the helpers).
t_wait_ready() {
	local pattern=$1 log
	shift
	for log in "$@"; do
		if ! t_wait_for "$log" "$pattern" 10; then
			echo "${log##*/}: no \"$pattern\" within 10 s, the helper did not start:"
			cat "$log"
			return 1
		fi
	done
}

# t_stop PID...: end the host helpers PID... (SIGTERM) and reap them.
t_stop() {
	kill "$@" 2>/dev/null
	wait "$@" 2>/dev/null
}

# t_guest_checks RC LOG PREFIX CHECK...: RC is the status of a guest boot
# (pvio-vm-run) whose console is LOG; require a "PREFIX: PASS CHECK" line
# for each CHECK. A guest script exits 1 when any of its checks failed:
# that alone does not fail a test whose own checks passed, but any other
# harness failure (kernel error, timeout, no exit marker) fails every test
# of the boot. Return: 0, 1, or 77 when the boot was skipped.
t_guest_checks() {
	local rc=$1 log=$2 prefix=$3 c ok=0
	shift 3
	[ "$rc" -ne 77 ] || return 77
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
		echo "pvio-vm-run exited $rc (console: $log)"
		[ -f "$log" ] && tr -d '\r' <"$log" | grep "^$prefix: FAIL"
		return 1
	fi
	for c in "$@"; do
		if tr -d '\r' <"$log" | grep -q "^$prefix: PASS $c\$"; then
			echo "guest: $c passed"
		else
			if ! tr -d '\r' <"$log" | grep "^$prefix: FAIL $c:"; then
				echo "guest: no result for $c; the guest's failures:"
				tr -d '\r' <"$log" | grep "^$prefix: FAIL"
			fi
			ok=1
		fi
	done
	return $ok
}

# t_guest_finished RC: the guest boot that returned RC ran its script to
# the end (with or without failed checks), so its disk images are final.
# Return: 0, 1 (with the reason printed), or 77 when it was skipped.
t_guest_finished() {
	[ "$1" -ne 77 ] || return 77
	[ "$1" -eq 0 ] || [ "$1" -eq 1 ] || { echo "the guest did not finish (exit $1)"; return 1; }
}

# t_image_fsck IMG: the ext4 file system in IMG is clean (e2fsck -fn).
t_image_fsck() {
	local rc
	e2fsck -fn "$1"
	rc=$?
	[ $rc -eq 0 ] || { echo "e2fsck -fn exited $rc"; return 1; }
}

# t_image_files_match IMG CONSOLE_LOG PREFIX COUNT: the guest printed
# COUNT lines "PREFIX: SHA256 PATH" (PATH relative to the root of the ext4
# file system in IMG); each file read from IMG with debugfs must have that
# checksum.
t_image_files_match() {
	local img=$1 log=$2 prefix=$3 count=$4 sum path got n=0 bad=0
	while read -r sum path; do
		got=$(debugfs -R "cat /$path" "$img" 2>/dev/null | sha256sum | cut -d' ' -f1)
		n=$((n + 1))
		if [ "$got" = "$sum" ]; then
			echo "ok  /$path $sum"
		else
			echo "BAD /$path: guest $sum, image $got"
			bad=1
		fi
	done < <(tr -d '\r' <"$log" | sed -n "s/^$prefix: //p")
	[ $n -eq "$count" ] || { echo "expected $count checksums from the guest, found $n"; return 1; }
	return $bad
}

# t_watch_discard CONSOLE_LOG IMG OUT PREFIX: append IMG's allocated bytes
# to OUT when the guest prints "PREFIX: discard-peak" (its 64 MiB file is
# written), as "peak BYTES", and again at "PREFIX: discard-trimmed" (the
# file removed and fstrim run), as "trimmed BYTES". Run in the background
# during the boot.
t_watch_discard() {
	local log=$1 img=$2 out=$3 prefix=$4
	t_wait_for "$log" "$prefix: discard-peak" 900 || return
	echo "peak $(du --block-size=1 "$img" | cut -f1)" >>"$out"
	t_wait_for "$log" "$prefix: discard-trimmed" 900 || return
	echo "trimmed $(du --block-size=1 "$img" | cut -f1)" >>"$out"
}

# t_discard_gave_back OUT: the samples t_watch_discard wrote to OUT show
# fstrim giving back at least 48 of the 64 MiB the file took.
t_discard_gave_back() {
	local peak trimmed
	peak=$(sed -n 's/^peak //p' "$1" 2>/dev/null)
	trimmed=$(sed -n 's/^trimmed //p' "$1" 2>/dev/null)
	echo "image allocation: ${peak:-?} bytes with the 64 MiB file, ${trimmed:-?} after rm + fstrim"
	if [ -z "$peak" ] || [ -z "$trimmed" ]; then
		echo "no allocation samples (the guest printed no discard markers?)"
		return 1
	fi
	if [ $((peak - trimmed)) -lt $((48 * 1048576)) ]; then
		echo "fstrim gave back less than 48 MiB of the image"
		return 1
	fi
}

# t_ro_image_kept DIR PREFIX: the read-only image DIR/ro.img still has the
# checksum DIR/ro.sha256 recorded before the boot, and the guest, which
# printed "PREFIX: SHA256" in DIR/console.log, read the same bytes.
t_ro_image_kept() {
	local w=$1 prefix=$2 before after guest
	before=$(cat "$w/ro.sha256")
	after=$(sha256sum <"$w/ro.img" | cut -d' ' -f1)
	guest=$(tr -d '\r' <"$w/console.log" | sed -n "s/^$prefix: //p")
	echo "read-only image: before $before, after $after; guest read $guest"
	[ "$before" = "$after" ] || { echo "the read-only image changed"; return 1; }
	[ "$guest" = "$before" ] ||
		{ echo "the guest read the read-only disk differently from its image"; return 1; }
}

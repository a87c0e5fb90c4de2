# Helpers for suites that boot guests; sourced by tests/run-all.

# t_guest_can_boot [VERSION]: print a SKIP line and return 77 unless a guest
# of kernel VERSION (default: the one tools/pvio-kdir picks) can be booted
# here with modules built for it: QEMU, the image and its headers.
t_guest_can_boot() {
	local ver=${1:-} kdir
	if ! command -v qemu-system-x86_64 >/dev/null; then
		echo "SKIP: qemu-system-x86_64 not installed (tools/pvio-deps)"
		return 77
	fi
	if [ -z "$ver" ]; then
		if ! kdir=$("$TOP/tools/pvio-kdir"); then
			echo "SKIP: no kernel headers with a matching /boot/vmlinuz (tools/pvio-deps)"
			return 77
		fi
		ver=${kdir##*/linux-headers-}
	fi
	if [ ! -r "/boot/vmlinuz-$ver" ]; then
		echo "SKIP: kernel image /boot/vmlinuz-$ver missing"
		return 77
	fi
	if [ ! -f "/usr/src/linux-headers-$ver/Makefile" ]; then
		echo "SKIP: no headers for $ver (/usr/src/linux-headers-$ver)"
		return 77
	fi
}

# t_kmod_build VERSION: build every module of the tree (Kbuild) against
# /usr/src/linux-headers-VERSION, in a private copy of the sources at
# $TOP/build/kmod-VERSION/ (so that kernels never share .ko files and a
# half-edited source in the work tree is not picked up mid-run); once per
# test run, later calls return the first one's status. The modules are then
# $TOP/build/kmod-VERSION/<path>.ko, e.g. front/pvblk/pvblk.ko.
declare -A T_KMOD_RC=()
t_kmod_build() {
	local ver=$1 dir=$TOP/build/kmod-$1 log=$LOGDIR/kmod-$1.build.log
	if [ -n "${T_KMOD_RC[$ver]:-}" ]; then
		return "${T_KMOD_RC[$ver]}"
	fi
	T_KMOD_RC[$ver]=1
	rm -rf "$dir" && mkdir -p "$dir" || return 1
	(cd "$TOP" && tar -c --exclude=./build --exclude=./.git \
		--exclude='*.o' --exclude='*.ko' --exclude='*.mod' \
		--exclude='*.mod.c' --exclude='.*.cmd' --exclude=Module.symvers \
		--exclude=modules.order .) | tar -x -C "$dir" || return 1
	if ! make -C "/usr/src/linux-headers-$ver" M="$dir" modules >"$log" 2>&1; then
		cat "$log"
		echo "building the modules for $ver failed (log: $log)"
		return 1
	fi
	T_KMOD_RC[$ver]=0
}

# t_kmod_dir VERSION: where t_kmod_build put the modules of VERSION.
t_kmod_dir() { echo "$TOP/build/kmod-$1"; }

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

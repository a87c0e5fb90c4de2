# Kernel modules: a warning-free W=1 + sparse build, and guest tests booted
# with tests/vm/pvio-vm-run (which also fails any guest whose console shows
# a kernel BUG/Oops/WARNING/panic/KASAN/UBSAN). Sourced by tests/run-all.

KERNEL_VM_RUN=$TOP/tests/vm/pvio-vm-run

# Print a SKIP line and return 77 unless modules can be built here.
kernel_can_build() {
	if ! "$TOP/tools/pvio-kdir" >/dev/null; then
		echo "SKIP: no guest kernel with headers (run tools/pvio-deps)"
		return 77
	fi
	if ! command -v sparse >/dev/null; then
		echo "SKIP: sparse not installed (tools/pvio-deps)"
		return 77
	fi
}

# Build every module from scratch with W=1 and sparse against kernel
# headers $1, in a private copy of the tree: a clean build shows every
# warning without deleting objects that others are using in the shared tree.
kernel_build_w1_sparse() {
	kernel_can_build || return
	local kdir=$1 ver=${1##*/linux-headers-}
	local dir=$TOP/build/kmod-w1-sparse-$ver out=$TOP/build/kmod-w1-sparse-$ver.out bad
	rm -rf "$dir" && mkdir -p "$dir" || return 1
	(cd "$TOP" && tar -c --exclude=./build --exclude=./.git \
		--exclude='*.o' --exclude='*.ko' --exclude='*.mod' \
		--exclude='*.mod.c' --exclude='.*.cmd' --exclude=Module.symvers \
		--exclude=modules.order .) | tar -x -C "$dir" || return 1
	make -C "$dir" modules KDIR="$kdir" W=1 C=1 >"$out" 2>&1
	local rc=$?
	cat "$out"
	if [ $rc -ne 0 ]; then
		echo "kmod-build-w1-sparse: make modules W=1 C=1 failed (exit $rc)"
		return 1
	fi
	# gcc and sparse print "file:line:col: warning: ..."; modpost prints
	# "WARNING: modpost: ...".
	bad=$(grep -E '(^|[^A-Za-z])(warning|error):|WARNING:' "$out")
	if [ -n "$bad" ]; then
		echo "kmod-build-w1-sparse: the build is not clean:"
		printf '%s\n' "$bad"
		return 1
	fi
	if ! grep -q '^ *CHECK ' "$out"; then
		echo "kmod-build-w1-sparse: sparse did not run (no CHECK lines)"
		return 1
	fi
	local ko
	for ko in ring/pvio_ring_test.ko hypercall/kernel/pvio_core.ko \
		hypercall/kernel/pvio_ivshmem.ko hypercall/kernel/pvio_loop.ko \
		hypercall/kernel/pvio_host.ko hypercall/kernel/pvio_class_test.ko \
		front/pvblk/pvblk.ko back/pvblkback/pvblkback.ko front/pvnet/pvnet.ko; do
		if [ ! -f "$dir/$ko" ]; then
			echo "kmod-build-w1-sparse: $ko was not built"
			return 1
		fi
	done
	echo "kmod-build-w1-sparse: clean against $ver"
}

# Load the ring self-test module in a guest; it runs every ring check in
# kernel space, including the two-kthread stress.
kernel_vm_ring_selftest() {
	t_guest_can_boot || return
	local log=$LOGDIR/vm-ring-selftest.console.log rc
	make -C "$TOP" -s modules || return 1
	"$KERNEL_VM_RUN" --module "$TOP/ring/pvio_ring_test.ko" \
		--script "$TOP/tests/vm/guest/ring-selftest.sh" --log "$log"
	rc=$?
	[ $rc -ne 77 ] || return 77
	tr -d '\r' <"$log" | grep -E 'pvio_ring_test: (PASS|FAIL|stress|check failed)'
	if [ $rc -ne 0 ]; then
		echo "vm-ring-selftest: pvio-vm-run exited $rc (console: $log)"
		return 1
	fi
	if ! tr -d '\r' <"$log" | grep -q '^\[[ 0-9.]*\] pvio_ring_test: PASS ([0-9]* checks)$'; then
		echo "vm-ring-selftest: no PASS line in the console log $log"
		return 1
	fi
}

# The harness must pass the guest script's status through, and with it the
# --kmod (dependency resolution) and --file (ELF + shared libraries) paths.
kernel_vm_harness_status() {
	t_guest_can_boot || return
	local script=$TOP/build/vm-harness-status.sh rc
	mkdir -p "$TOP/build"
	cat >"$script" <<'EOF'
# null_blk depends on configfs: both must have been loaded before we run.
[ -d /sys/module/null_blk ] || { echo "null_blk not loaded"; exit 1; }
[ -d /sys/module/configfs ] || { echo "configfs not loaded"; exit 1; }
# A dynamically linked host program must find its libraries.
out=$(/pvio/host-expr 2 + 3) || { echo "host-expr did not run"; exit 1; }
[ "$out" = 5 ] || { echo "host-expr printed '$out'"; exit 1; }
exit 3
EOF
	"$KERNEL_VM_RUN" --script "$script" --kmod null_blk \
		--file "$(command -v expr):/pvio/host-expr" --timeout 90 \
		--log "$LOGDIR/vm-harness-detects-failure.console.log"
	rc=$?
	[ $rc -ne 77 ] || return 77
	if [ $rc -ne 3 ]; then
		echo "vm-harness-detects-failure: expected exit 3, got $rc"
		return 1
	fi
	echo "vm-harness-detects-failure: guest status 3 passed through"
}

# A kernel WARNING in the console must fail a guest whose script passed.
kernel_vm_harness_warning() {
	t_guest_can_boot || return
	local script=$TOP/build/vm-harness-warning.sh rc
	mkdir -p "$TOP/build"
	printf '%s\n' 'echo "WARNING: CPU: 0 PID: 1 at fake" >/dev/kmsg' 'exit 0' >"$script"
	"$KERNEL_VM_RUN" --script "$script" --timeout 90 \
		--log "$LOGDIR/vm-harness-detects-kernel-warning.console.log"
	rc=$?
	[ $rc -ne 77 ] || return 77
	if [ $rc -ne 126 ]; then
		echo "vm-harness-detects-kernel-warning: expected exit 126, got $rc"
		return 1
	fi
	echo "vm-harness-detects-kernel-warning: flagged"
}

# Every kernel with headers and image (Debian's 6.1 and 6.12 here).
# The DKMS path of the README, against headers $1: make install stages the
# sources and dkms.conf, Debian's dkms adds and builds them in a private
# DKMS tree (nothing under /var/lib/dkms or /lib/modules; unsigned, so dkms
# makes no signing key either), and every module it is to install is there
# with the kernel's vermagic.
kernel_dkms_build() {
	kernel_can_build || return
	command -v dkms >/dev/null || { echo "SKIP: dkms not installed (tools/pvio-deps)"; return 77; }
	local kdir=$1 ver=${1##*/linux-headers-} w m ko got rc pv
	pv=$(make -s -C "$TOP" --no-print-directory version) && [ -n "$pv" ] ||
		{ echo "make version printed nothing"; return 1; }
	w=$TOP/build/dkms-$ver
	rm -rf "$w" && mkdir -p "$w/tree" || return 1
	make -s -C "$TOP" install DESTDIR="$w/root" PREFIX=/usr >"$w/install.log" 2>&1 ||
		{ cat "$w/install.log"; echo "make install failed"; return 1; }
	[ -f "$w/root/usr/src/pvio-$pv/dkms.conf" ] || { echo "no dkms.conf in /usr/src/pvio-$pv"; return 1; }
	dkms add -m pvio -v "$pv" --dkmstree "$w/tree" --sourcetree "$w/root/usr/src" ||
		{ echo "dkms add failed"; return 1; }
	sign_file=/nonexistent dkms build -m pvio -v "$pv" -k "$ver" --dkmstree "$w/tree" \
		--sourcetree "$w/root/usr/src" --kernelsourcedir "$kdir" >"$w/build.log" 2>&1
	rc=$?
	tail -n 5 "$w/build.log"
	[ $rc -eq 0 ] || { cat "$w/tree/pvio/$pv/build/make.log" 2>/dev/null | tail -n 30; echo "dkms build failed ($rc)"; return 1; }
	for m in pvio_core pvio_ivshmem pvio_loop pvio_host pvblk pvblkback pvnet; do
		ko=$(ls "$w/tree/pvio/$pv/$ver"/*/module/"$m".ko* 2>/dev/null | head -n 1)
		[ -n "$ko" ] || { echo "dkms built no $m"; return 1; }
		case $ko in
		*.xz) xz -dc "$ko" >"$w/$m.ko" ;;
		*) cp "$ko" "$w/$m.ko" ;;
		esac
		got=$(modinfo -F vermagic "$w/$m.ko" | awk '{ print $1 }')
		[ "$got" = "$ver" ] || { echo "$m: vermagic '$got', want $ver"; return 1; }
	done
	echo "dkms built pvio/$pv for $ver: 7 modules, vermagic $ver"
	rm -rf "$w"
}

for kdir in $("$TOP/tools/pvio-kdir" --all); do
	t_run "kmod-build-w1-sparse-${kdir##*/linux-headers-}" kernel_build_w1_sparse "$kdir"
	t_run "kmod-dkms-${kdir##*/linux-headers-}" kernel_dkms_build "$kdir"
done
unset kdir
t_run vm-ring-selftest kernel_vm_ring_selftest
t_run vm-harness-detects-failure kernel_vm_harness_status
t_run vm-harness-detects-kernel-warning kernel_vm_harness_warning

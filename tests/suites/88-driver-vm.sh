# Backends in a driver VM: pvio-backd --driver-vm is the ivshmem server of
# one region with two sockets, a driver VM (a stock QEMU guest with the
# disk image as virtio-blk, pvblkback.ko serving it through its own
# ivshmem-doorbell device, peer id 0: tools/pvio-vm's own for the fs test,
# tests/vm/guest/driver-vm-backend.sh for the reboot) and a frontend guest
# with pvblk.ko (peer id 1). In QEMU guests of every kernel tools/pvio-kdir
# --all lists: each kernel's boots take minutes under TCG, not tens of
# minutes, and the modules on that path (pvio_ivshmem's backend role,
# pvblkback, pvblk's reconnect) build against each kernel's own block and
# PCI APIs. PVIO_DRIVER_VM_KERNELS=newest keeps the newest kernel only.
#   driver-vm-fs-<kver>: tools/pvio-vm --backend-vm starts the daemon, the
#     driver VM and the frontend (tests/vm/guest/driver-vm-front-fs.sh:
#     ext4 and 64 MiB of checksummed files on /dev/pvblk0); after both
#     VMs powered off, the image behind the driver VM passes e2fsck -fn
#     and holds every file with the guest's checksum (debugfs), and
#     nothing pvio-vm started is left running.
#   driver-vm-reboot-<kver>: the frontend writes stamped blocks with FUA
#     (tests/vm/guest/driver-vm-front-stamp.sh); the host SIGKILLs the
#     driver VM's QEMU during the writes and boots a new driver VM on the
#     same socket and image; the frontend reconnects (reconnects >= 1, no
#     IO error in the writer or dmesg), neither the frontend's QEMU nor
#     the second driver VM's crashed (QEMU's ivshmem-doorbell does not
#     survive a peer id that comes back with new eventfds, which is why
#     pvio-backd --driver-vm keeps them), and stamp verify passes on the
#     image. The writer's stalls (writes slower than 500 ms) and its
#     longest write, and the time from the kill to pvblk's "backend back",
#     are printed in the test log.
#   driver-vm-print: pvio-vm --print --backend-vm shows the daemon, both
#     QEMU lines and both domains' <shmem> XML, consistent with each other
#     (virt-xml-validate on each domain if it is installed). No boot.
# Wall time under TCG on two host cores: about 1.5 min (fs) and 2.5 min
# (reboot) per kernel, plus the modules' build (t_kmod_build).
# Everything a run makes lives in build/driver-vm-run.PID/ (PID: the test
# runner's), sockets in a private /tmp directory; directories of runs that
# are gone are removed when the suite loads. Sourced by tests/run-all.

DVM_RUN=$TOP/build/driver-vm-run.$$
DVM_VM=$TOP/tools/pvio-vm
DVM_KERNEL_ERRORS='BUG:|Oops|WARNING:|Call Trace|general protection fault|Kernel panic|KASAN|UBSAN'

# dvm_mods VER: the modules of kernel VER built (t_kmod_build); prints
# their directory.
dvm_mods() {
	local dir m
	t_kmod_build "$1" >&2 || return 1
	dir=$(t_kmod_dir "$1")
	for m in hypercall/kernel/pvio_core hypercall/kernel/pvio_ivshmem \
		back/pvblkback/pvblkback front/pvblk/pvblk; do
		modinfo -F vermagic "$dir/$m.ko" 2>/dev/null | grep -q "^$1 " ||
			{ echo "$m.ko was not built for $1" >&2; return 1; }
	done
	echo "$dir"
}

# dvm_start_driver VER MODDIR W NAME SOCK IMAGE: boot a driver VM
# (pvio-vm-run in the background) serving IMAGE through the backend
# socket SOCK; console W/NAME.log, QEMU's pid in W/NAME.qpid, control
# pipe W/NAME.ctl (a line "stop" ends it cleanly). Sets DVM_DRIVER (the
# pvio-vm-run pid) and waits up to 180 s for "driver-vm: serving".
dvm_start_driver() {
	local ver=$1 dir=$2 w=$3 name=$4 sock=$5 img=$6
	rm -f "$w/$name.ctl.in" "$w/$name.ctl.out" "$w/$name.qpid"
	mkfifo "$w/$name.ctl.in" "$w/$name.ctl.out" || return 1
	: >"$w/$name.log"
	"$TOP/tests/vm/pvio-vm-run" --kernel "$(t_vmlinuz "$ver")" --smp 1 --mem 512 \
		--module "$dir/hypercall/kernel/pvio_core.ko" \
		--module "$dir/hypercall/kernel/pvio_ivshmem.ko" \
		--module "$dir/back/pvblkback/pvblkback.ko" \
		--kmod virtio_pci --kmod virtio_blk \
		--script "$TOP/tests/vm/guest/driver-vm-backend.sh" \
		--timeout 900 --log "$w/$name.log" \
		--qemu-arg -drive --qemu-arg "file=$img,if=none,id=d0,format=raw,cache=none" \
		--qemu-arg -device --qemu-arg virtio-blk-pci,drive=d0 \
		--qemu-arg -chardev --qemu-arg "socket,path=$sock,id=pv" \
		--qemu-arg -device --qemu-arg ivshmem-doorbell,chardev=pv,vectors=2 \
		--qemu-arg -chardev --qemu-arg "pipe,path=$w/$name.ctl,id=ctl" \
		--qemu-arg -serial --qemu-arg chardev:ctl \
		--qemu-arg -pidfile --qemu-arg "$w/$name.qpid" \
		>"$w/$name.out" 2>&1 &
	DVM_DRIVER=$!
	if ! t_wait_for "$w/$name.log" '^driver-vm: serving' 180 "$DVM_DRIVER"; then
		echo "driver VM $name did not start serving:"
		cat "$w/$name.out"
		tr -d '\r' <"$w/$name.log" | tail -n 20
		return 1
	fi
}

# dvm_stop_driver W NAME PID: ask driver VM NAME (pvio-vm-run PID) to
# stop, wait for it (60 s, then SIGTERM); return its pvio-vm-run status.
dvm_stop_driver() {
	local w=$1 name=$2 pid=$3 i
	timeout 5 sh -c 'echo stop >"$1"' sh "$w/$name.ctl.in"
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && { echo "driver VM $name did not stop; terminating it"; kill "$pid"; }
	wait "$pid"
}

# dvm_backd W SOCKDIR: pvio-backd --driver-vm with SOCKDIR/b (driver VM)
# and SOCKDIR/f (frontend); sets DVM_BACKD.
dvm_backd() {
	"$TOP/build/pvio-backd" --driver-vm "$2/b" --socket "$2/f" >"$1/backd.log" 2>&1 &
	DVM_BACKD=$!
	t_wait_for "$1/backd.log" '^pvio-backd: ready' 10 "$DVM_BACKD" || {
		cat "$1/backd.log"
		t_stop "$DVM_BACKD"
		return 1
	}
}

# dvm_console_clean LOG: no kernel error in a console log.
dvm_console_clean() {
	local e
	e=$(tr -d '\r' <"$1" | grep -E "$DVM_KERNEL_ERRORS" | head -n 5)
	[ -z "$e" ] || { echo "kernel errors in ${1##*/}:"; echo "$e"; return 1; }
}

# dvm_qemu_clean OUT LOG: QEMU itself did not crash (a pvio-vm-run whose
# guest printed its exit marker does not look at QEMU's own end).
dvm_qemu_clean() {
	local e
	e=$({
		tr -d '\r' <"$1" | grep -E 'Aborted|Segmentation fault|core dumped'
		tr -d '\r' <"$2" |
			grep -E 'malloc\(\)|free\(\)|double free|corrupted|qemu-system.*(assert|Assertion)'
	} 2>/dev/null)
	[ -z "$e" ] || { echo "QEMU crashed:"; echo "$e"; return 1; }
}

# The driver VM reboot with IO in flight, kernel $1.
dvm_reboot() {
	local ver=$1 w=$DVM_RUN/reboot-$1 dir sock front drv1 drv2 qpid rc=0 t0 t1 d2rc
	t_guest_can_boot "$ver" || return
	make -C "$TOP" -s build/pvio-backd build/tests/progs/stamp >/dev/null 2>&1 ||
		{ echo "building pvio-backd and stamp failed"; return 1; }
	dir=$(dvm_mods "$ver") || return 1
	rm -rf "$w" && mkdir -p "$w" && truncate -s 64M "$w/disk.img" || return 1
	sock=$(mktemp -d /tmp/pvio-dvm.XXXXXX) || return 1
	dvm_backd "$w" "$sock" || { rm -rf "$sock"; return 1; }
	if ! dvm_start_driver "$ver" "$dir" "$w" driver1 "$sock/b" "$w/disk.img"; then
		kill "$DVM_DRIVER" 2>/dev/null
		wait "$DVM_DRIVER"
		t_stop "$DVM_BACKD"
		rm -rf "$sock"
		return 1
	fi
	drv1=$DVM_DRIVER
	printf 'SECONDS=%s\nBLOCKS=%s\nWANT=%s\n' 75 4096 1 >"$w/driver-vm-front.conf"
	: >"$w/front.log"
	"$TOP/tests/vm/pvio-vm-run" --kernel "$(t_vmlinuz "$ver")" \
		--module "$dir/hypercall/kernel/pvio_core.ko" \
		--module "$dir/hypercall/kernel/pvio_ivshmem.ko" \
		--module "$dir/front/pvblk/pvblk.ko" \
		--file "$TOP/build/tests/progs/stamp:/pvio/stamp" \
		--file "$w/driver-vm-front.conf:/pvio/driver-vm-front.conf" \
		--file "$TOP/tests/vm/guest/lib-fs.sh:/pvio/lib-fs.sh" \
		--file "$TOP/tests/vm/guest/lib-stamp.sh:/pvio/lib-stamp.sh" \
		--script "$TOP/tests/vm/guest/driver-vm-front-stamp.sh" \
		--timeout 600 --log "$w/front.log" \
		--qemu-arg -chardev --qemu-arg "socket,path=$sock/f,id=pv" \
		--qemu-arg -device --qemu-arg ivshmem-doorbell,chardev=pv,vectors=2 \
		>"$w/front.out" 2>&1 &
	front=$!
	drv2=''
	if t_wait_for "$w/front.log" '^driver-vm-front: started' 180 "$front"; then
		# IO in flight: a few seconds into the writes, at a random moment.
		sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 4 + 4 * r / 32767 }')"
		qpid=$(cat "$w/driver1.qpid" 2>/dev/null)
		if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
			t0=$(date +%s%N)
			kill -KILL "$qpid"
			echo "killed the driver VM's QEMU ($qpid) at $(tr -d '\r' <"$w/front.log" | grep -c '') console lines of the frontend"
			wait "$drv1"
			t_wait_for "$w/backd.log" 'driver VM left' 10 ||
				{ echo "pvio-backd did not see the driver VM leave"; rc=1; }
			if dvm_start_driver "$ver" "$dir" "$w" driver2 "$sock/b" "$w/disk.img"; then
				drv2=$DVM_DRIVER
				if t_wait_for "$w/front.log" 'pvblk0: backend back' 120 "$front"; then
					t1=$(date +%s%N)
					echo "kill to pvblk's 'backend back': $(((t1 - t0) / 1000000)) ms"
				else
					echo "the frontend never said 'backend back'"
					rc=1
				fi
			else
				drv2=$DVM_DRIVER
				rc=1
			fi
		else
			echo "no QEMU pid for the first driver VM"
			rc=1
		fi
	else
		echo "the frontend never started writing"
		rc=1
	fi
	[ $rc -eq 0 ] || kill "$front" 2>/dev/null
	wait "$front"
	front=$?
	if [ -n "$drv2" ]; then
		dvm_stop_driver "$w" driver2 "$drv2"
		d2rc=$?
		[ "$d2rc" -eq 0 ] || { echo "the second driver VM exited $d2rc"; rc=1; }
	else
		kill "$drv1" 2>/dev/null
		wait "$drv1"
	fi
	t_stop "$DVM_BACKD"
	rm -rf "$sock"
	cat "$w/front.out"
	cat "$w/backd.log"
	dvm_console_clean "$w/driver1.log" || rc=1
	[ ! -f "$w/driver2.log" ] || dvm_console_clean "$w/driver2.log" || rc=1
	tr -d '\r' <"$w/driver2.log" 2>/dev/null | grep -E '^driver-vm|pvblkback|req' | tail -n 12
	echo "the writer's stalls (writes over 500 ms) and longest write:"
	tr -d '\r' <"$w/front.log" | grep -E '^driver-vm-front: stamp: (stall|max-latency)|pvblk0: backend'
	dvm_qemu_clean "$w/front.out" "$w/front.log" || rc=1
	[ ! -f "$w/driver2.log" ] || dvm_qemu_clean "$w/driver2.out" "$w/driver2.log" || rc=1
	t_stamp_verdict "$front" "$w/front.log" driver-vm-front "$w/disk.img" \
		"$w/stamp.log" || rc=1
	return $rc
}

# End to end through tools/pvio-vm --backend-vm, kernel $1.
dvm_fs() {
	local ver=$1 w=$DVM_RUN/fs-$1 dir rc left
	t_guest_can_boot "$ver" || return
	make -C "$TOP" -s build/pvio-backd >/dev/null 2>&1 ||
		{ echo "building pvio-backd failed"; return 1; }
	[ -x /sbin/mkfs.ext4 ] || { echo "/sbin/mkfs.ext4 missing (e2fsprogs)"; return 1; }
	dir=$(dvm_mods "$ver") || return 1
	rm -rf "$w" && mkdir -p "$w" && truncate -s 256M "$w/disk.img" || return 1
	"$DVM_VM" --backend-vm --disk "$w/disk.img" --kmod-dir "$dir" \
		--kernel "$(t_vmlinuz "$ver")" --timeout 900 --log "$w/console.log" \
		--file /sbin/mkfs.ext4:/pvio/mkfs.ext4 \
		--file "$TOP/tests/vm/guest/lib-fs.sh:/pvio/lib-fs.sh" \
		--script "$TOP/tests/vm/guest/driver-vm-front-fs.sh" >"$w/vm.out" 2>&1
	rc=$?
	tr -d '\r' <"$w/vm.out" | grep '^pvio-vm' | sed 's/^/    /'
	echo "pvio-vm exited $rc"
	t_guest_checks "$rc" "$w/console.log" driver-vm-front probe fs no-io-errors || {
		tr -d '\r' <"$w/console.log.driver" 2>/dev/null | tail -n 15
		cat "$w/console.log.backd" 2>/dev/null
		return 1
	}
	tr -d '\r' <"$w/console.log.driver" | grep -E '^pvio-vm-driver|pvblkback|^queue' | tail -n 8
	dvm_qemu_clean "$w/vm.out" "$w/console.log" || return 1
	dvm_qemu_clean "$w/console.log.driver.qemu" "$w/console.log.driver" || return 1
	cat "$w/console.log.backd"
	grep -q 'frontend peer 1 left' "$w/console.log.backd" &&
		grep -q 'driver VM left' "$w/console.log.backd" &&
		grep -q 'signal 15' "$w/console.log.backd" ||
		{ echo "pvio-backd did not see both VMs leave and then SIGTERM"; return 1; }
	tr -d '\r' <"$w/console.log.driver" | grep -q '^pvio-vm-driver: stopped' ||
		{ echo "the driver VM did not stop on its own"; return 1; }
	left=$(pgrep -f -- "$w/disk.img|$w/console.log" | tr '\n' ' ')
	[ -z "$left" ] || { echo "still running after pvio-vm exited: $left"; return 1; }
	t_image_fsck "$w/disk.img" || return 1
	t_image_files_match "$w/disk.img" "$w/console.log" driver-vm-sum 8
}

# pvio-vm --print --backend-vm: the daemon, both QEMU lines, both domains.
dvm_print() {
	local w=$DVM_RUN/print rd out rc want x n dom
	rm -rf "$w" && mkdir -p "$w" || return 1
	rd=$w/rd out=$w/print.out
	"$DVM_VM" --print --backend-vm --run-dir "$rd" --disk /srv/dvm.img,queues=2 >"$out" 2>&1
	rc=$?
	cat "$out"
	[ $rc -eq 0 ] || { echo "--print --backend-vm exited $rc"; return 1; }
	[ ! -e "$rd" ] || { echo "--print created $rd"; return 1; }
	for want in \
		"pvio-backd --driver-vm $rd/driver0.sock --queues 2 --socket $rd/pvio0.sock" \
		"-drive file=/srv/dvm.img,if=none,id=disk0,format=raw,cache=none -device virtio-blk-pci,drive=disk0" \
		"-chardev socket,path=$rd/driver0.sock,id=pvio0 -device ivshmem-doorbell,chardev=pvio0,vectors=3," \
		"-chardev socket,path=$rd/pvio0.sock,id=pvio0 -device ivshmem-doorbell,chardev=pvio0,vectors=3," \
		"echo 'blk /dev/vda peer=1 queues=2' > /sys/bus/pci/devices/BDF/pvio_backend" \
		"<source file='/srv/dvm.img'/>" "<target dev='vda' bus='virtio'/>" \
		"<server path='$rd/driver0.sock'/>" "<server path='$rd/pvio0.sock'/>"; do
		grep -qF -- "$want" "$out" || { echo "missing from --print: $want"; return 1; }
	done
	# Two QEMU lines: the driver VM's has the disk and the backend socket
	# only, the frontend's the frontend socket only.
	n=$(grep -c '^[^#]*qemu-system-x86_64 ' "$out")
	[ "$n" -eq 2 ] || { echo "$n QEMU lines, expected 2"; return 1; }
	grep '^[^#]*qemu-system-x86_64 ' "$out" | head -n 1 >"$w/driver.line"
	grep '^[^#]*qemu-system-x86_64 ' "$out" | tail -n 1 >"$w/front.line"
	grep -q "driver0.sock" "$w/driver.line" && ! grep -q "pvio0.sock" "$w/driver.line" ||
		{ echo "the first QEMU line is not the driver VM's"; return 1; }
	grep -q "pvio0.sock" "$w/front.line" && ! grep -q "driver0.sock\|disk0" "$w/front.line" ||
		{ echo "the second QEMU line is not the frontend's"; return 1; }
	# Each domain's elements, wrapped in a minimal domain: well-formed, and
	# valid for libvirt's schema where virt-xml-validate is installed.
	sed -n '/^# libvirt, driver VM/,/^$/{/^[< ]/p}' "$out" >"$w/driver.dev"
	sed -n '/^# libvirt, frontend/,$ {/^[< ]/p}' "$out" >"$w/front.dev"
	grep -q "<disk type='file'" "$w/driver.dev" && grep -q "driver0.sock" "$w/driver.dev" &&
		! grep -q "pvio0.sock" "$w/driver.dev" ||
		{ echo "the driver VM's XML has the wrong devices"; return 1; }
	grep -q "pvio0.sock" "$w/front.dev" && ! grep -q "<disk\|driver0.sock" "$w/front.dev" ||
		{ echo "the frontend's XML has the wrong devices"; return 1; }
	for dom in driver front; do
		x=$w/$dom.xml
		{
			echo "<domain type='qemu'><name>pvio-$dom</name><memory unit='MiB'>512</memory>"
			echo "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>"
			cat "$w/$dom.dev"
			echo "</devices></domain>"
		} >"$x"
		python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$x" ||
			{ echo "$dom: the XML is not well-formed"; return 1; }
		if command -v virt-xml-validate >/dev/null; then
			virt-xml-validate "$x" domain || { echo "$dom: virt-xml-validate failed"; return 1; }
		else
			echo "$dom: XML well-formed; virt-xml-validate not installed (libvirt-clients), schema check skipped"
		fi
	done
	# A read-only export: read-only all the way (the line, the drive, the XML).
	"$DVM_VM" --print --backend-vm --run-dir "$rd" --disk /srv/dvm.img,ro >"$w/ro.out" 2>&1 ||
		{ cat "$w/ro.out"; echo "--print --backend-vm ro failed"; return 1; }
	for want in "echo 'blk /dev/vda ro peer=1 queues=1' >" "cache=none,readonly=on " \
		"<readonly/>" "pvio-backd --driver-vm $rd/driver0.sock --queues 1 --socket"; do
		grep -qF -- "$want" "$w/ro.out" || { echo "missing from --print ro: $want"; return 1; }
	done
	# Usage errors.
	"$DVM_VM" --print --backend-vm --disk a.img --disk b.img >/dev/null 2>&1
	rc=$?
	[ $rc -eq 2 ] || { echo "two disks: expected exit 2, got $rc"; return 1; }
	"$DVM_VM" --print --backend-vm --disk a.img,queue-depth=8 >/dev/null 2>&1
	rc=$?
	[ $rc -eq 2 ] || { echo "queue-depth: expected exit 2, got $rc"; return 1; }
	echo "usage errors: exit 2 as expected"
}

dvm_register() {
	t_run "driver-vm-fs-$2" dvm_fs "$1"
	t_run "driver-vm-reboot-$2" dvm_reboot "$1"
}

dvm_register_kernels() {
	if [ "${PVIO_DRIVER_VM_KERNELS:-all}" = newest ]; then
		local kdir
		if kdir=$("$TOP/tools/pvio-kdir" 2>/dev/null); then
			kdir=${kdir##*/linux-headers-}
			dvm_register "$kdir" "$(echo "$kdir" | cut -d. -f1,2)"
			return
		fi
	fi
	t_for_each_kernel driver-vm dvm_register
}

t_clean_stale_runs driver-vm-run
mkdir -p "$DVM_RUN"
t_run driver-vm-print dvm_print
dvm_register_kernels

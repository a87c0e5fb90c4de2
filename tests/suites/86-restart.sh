# Backend restarts: the frontends hold what their backend took when it
# goes away, connect to the next backend instance and replay
# (include/pvio/region.h, "Backend restart"), within the limits their
# module parameters set. In QEMU guests of every kernel tools/pvio-kdir
# --all lists (tests/vm/pvio-vm-run also fails a guest whose console shows
# BUG/Oops/WARNING/panic).
#
# pvblk: one boot per kernel (tests/vm/guest/pvblk-restart-loop.sh),
# pvblk.ko paired with pvblkback.ko through pvio_loop.ko over a virtio-blk
# disk backed by a raw image here; the backend restart is the driver
# core's unbind and bind of the backend pvio device. Checks: 10 restarts
# under write load with no IO error and the data intact (restart-load); a
# backend away past backend_timeout failing IO in bounded time and a later
# backend serving again (away-limit); rmmod pvblk (rmmod-away) and the
# frontend device's removal (unplug-away) while the backend is away.
# Everything a run makes lives in build/restart-run.PID/ (PID: the test
# runner's); directories of runs that are gone are removed when the suite
# loads. Modules come from t_kmod_build (one private copy per kernel).
# Sourced by tests/run-all.

RST_RUN=$TOP/build/restart-run.$$
declare -A RST_PVBLK_RC=()

# The pvblk boot for kernel $1, once; later calls return the first one's
# status. Leaves $RST_RUN/pvblk-$1/console.log.
rst_pvblk_boot() {
	local ver=$1 w=$RST_RUN/pvblk-$1 dir fio rc
	if [ -n "${RST_PVBLK_RC[$ver]:-}" ]; then
		return "${RST_PVBLK_RC[$ver]}"
	fi
	RST_PVBLK_RC[$ver]=1
	t_guest_can_boot "$ver" || { RST_PVBLK_RC[$ver]=77; return 77; }
	fio=$(command -v fio) || { echo "fio is not installed (tools/pvio-deps)"; return 1; }
	t_kmod_build "$ver" || return 1
	dir=$(t_kmod_dir "$ver")

	rm -rf "$w" && mkdir -p "$w" && truncate -s 64M "$w/disk.img" || return 1
	"$TOP/tests/vm/pvio-vm-run" --kernel "$(t_vmlinuz "$ver")" \
		--module "$dir/hypercall/kernel/pvio_core.ko" \
		--module "$dir/back/pvblkback/pvblkback.ko" \
		--module "$dir/hypercall/kernel/pvio_loop.ko" \
		--module "$dir/front/pvblk/pvblk.ko" \
		--kmod virtio_pci --kmod virtio_blk --file "$fio:/pvio/fio" \
		--file "$TOP/tests/vm/guest/lib-fs.sh:/pvio/lib-fs.sh" \
		--script "$TOP/tests/vm/guest/pvblk-restart-loop.sh" \
		--mem 1024 --timeout 900 --log "$w/console.log" \
		--qemu-arg -drive --qemu-arg "file=$w/disk.img,if=none,id=d0,format=raw,cache=none" \
		--qemu-arg -device --qemu-arg virtio-blk-pci,drive=d0
	rc=$?
	echo "pvio-vm-run exited $rc"
	RST_PVBLK_RC[$ver]=$rc
	return "$rc"
}

# rst_pvblk_require VER CHECK...: boot if needed, then require the guest's
# PASS line for each check (t_guest_checks).
rst_pvblk_require() {
	rst_pvblk_boot "$1"
	t_guest_checks $? "$RST_RUN/pvblk-$1/console.log" pvblk-restart "${@:2}"
}

# rst_pvblk_register VERSION SHORTVER: pvblk's restart tests of one kernel.
rst_pvblk_register() {
	local ver=$1 k=$2
	t_run vm-restart-pvblk-load-"$k" rst_pvblk_require "$ver" restart-load
	t_run vm-restart-pvblk-limit-"$k" rst_pvblk_require "$ver" away-limit
	t_run vm-restart-pvblk-rmmod-"$k" rst_pvblk_require "$ver" rmmod-away
	t_run vm-restart-pvblk-unplug-"$k" rst_pvblk_require "$ver" unplug-away
}

t_clean_stale_runs restart-run
t_for_each_kernel vm-restart-pvblk rst_pvblk_register

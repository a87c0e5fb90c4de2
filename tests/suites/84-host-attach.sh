# The host kernel serving userspace frontends: /dev/pvio-back
# (hypercall/kernel/pvio_host.c) under `pvio-backd --engine kernel`, with
# the kernel block backend (back/pvblkback). For every kernel
# tools/pvio-kdir --all lists, one guest (tests/vm/guest/host-attach.sh)
# acts as the management domain: pvio_core.ko, pvio_host.ko and
# pvblkback.ko from t_kmod_build, the ioctl errors (tests/progs/host_ioctl),
# pvio-bench --verify over 256 MiB of a virtio-blk disk, the hostile
# frontend programs against kernel-served files (and the scribbling one
# next to a good one), then clean stops and module unloads; pvio-vm-run
# fails a guest whose console shows BUG/WARNING/Oops. After the boot the
# host compares the disk image with the bytes pvio-bench --verify writes
# (--make-pattern), so the data is checked from outside the backend.
# Everything a run makes lives in build/host-attach-run.PID/. Sourced by
# tests/run-all.

HA_RUN=$TOP/build/host-attach-run.$$
HA_MiB=1048576
HA_SEED=7
declare -A HA_BOOT_RC=()

# The boot for kernel $1, once; later calls return the first one's status.
ha_boot() {
	local ver=$1 w=$HA_RUN/vm-$1 kd rc p
	if [ -n "${HA_BOOT_RC[$ver]:-}" ]; then
		return "${HA_BOOT_RC[$ver]}"
	fi
	HA_BOOT_RC[$ver]=1
	t_guest_can_boot "$ver" || { HA_BOOT_RC[$ver]=77; return 77; }
	make -C "$TOP" -s build/pvio-backd build/pvio-bench \
		build/tests/progs/hostile_frontend build/tests/progs/host_ioctl \
		build/tests/progs/stamp >/dev/null 2>&1
	for p in pvio-backd pvio-bench tests/progs/hostile_frontend tests/progs/host_ioctl tests/progs/stamp; do
		[ -x "$TOP/build/$p" ] || { echo "build/$p is not built"; return 1; }
	done
	t_kmod_build "$ver" || return 1
	kd=$(t_kmod_dir "$ver")
	for p in hypercall/kernel/pvio_core hypercall/kernel/pvio_host back/pvblkback/pvblkback; do
		[ -f "$kd/$p.ko" ] || { echo "$p.ko was not built for $ver"; return 1; }
	done
	rm -rf "$w" && mkdir -p "$w" || return 1
	truncate -s $((256 * HA_MiB)) "$w/disk.img" || return 1
	"$TOP/tests/vm/pvio-vm-run" --kernel "$(t_vmlinuz "$ver")" \
		--module "$kd/hypercall/kernel/pvio_core.ko" \
		--module "$kd/hypercall/kernel/pvio_host.ko" \
		--module "$kd/back/pvblkback/pvblkback.ko" \
		--file "$TOP/build/pvio-backd" --file "$TOP/build/pvio-bench" \
		--file "$TOP/build/tests/progs/hostile_frontend" \
		--file "$TOP/build/tests/progs/host_ioctl" \
		--file "$TOP/build/tests/progs/stamp" \
		--kmod virtio_pci --kmod virtio_blk --mem 1024 --timeout 1200 \
		--qemu-arg -drive --qemu-arg "file=$w/disk.img,if=virtio,format=raw" \
		--script "$TOP/tests/vm/guest/host-attach.sh" --log "$w/console.log"
	rc=$?
	echo "pvio-vm-run exited $rc"
	HA_BOOT_RC[$ver]=$rc
	return "$rc"
}

# ha_require VER CHECK...: boot if needed, then require the guest's PASS
# line for each check (t_guest_checks).
ha_require() {
	ha_boot "$1"
	t_guest_checks $? "$HA_RUN/vm-$1/console.log" host-attach "${@:2}"
}

# The disk after the boot holds exactly what pvio-bench --verify wrote.
ha_test_disk() {
	local w=$HA_RUN/vm-$1
	ha_require "$1" bench-verify bench-reverify || return
	"$TOP/build/pvio-bench" --make-pattern="$w/pattern" \
		--filesize=$((256 * HA_MiB)) --seed=$HA_SEED || return 1
	if cmp "$w/disk.img" "$w/pattern"; then
		echo "disk.img matches the pattern (256 MiB)"
		rm -f "$w/pattern"
	else
		echo "disk.img differs from what pvio-bench --verify writes"
		return 1
	fi
}

# ha_register VERSION SHORTVER: the tests of one kernel.
ha_register() {
	local ver=$1 k=$2
	t_run vm-host-ioctl-"$k" ha_require "$ver" no-dev-error dev-mode \
		ioctl-errors ioctl-bound
	t_run vm-host-bench-verify-"$k" ha_require "$ver" bench-verify \
		bench-reverify bench-sessions bench-sigterm
	t_run host-host-disk-pattern-"$k" ha_test_disk "$ver"
	t_run vm-host-hostile-"$k" ha_require "$ver" hostile-hostile \
		hostile-flood broken-logged
	t_run vm-host-frontends-"$k" ha_require "$ver" hostile-ro \
		hostile-twofront hostile-good hostile-mq good-bytes \
		good-discard-zero ro-unchanged hostile-sigterm
	t_run vm-host-scribble-"$k" ha_require "$ver" scribble scribble-good \
		scribble-after scribble-sigterm
	t_run vm-host-kernel-restart-"$k" ha_require "$ver" kernel-restart \
		kernel-restart-sigterm
	t_run vm-host-teardown-"$k" ha_require "$ver" no-devices-left unload
}

t_clean_stale_runs host-attach-run
t_for_each_kernel vm-host-attach ha_register

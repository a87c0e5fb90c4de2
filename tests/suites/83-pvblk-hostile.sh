# pvblk against hostile backends (issue 11), in QEMU guests of every kernel
# tools/pvio-kdir --all lists (tests/vm/pvio-vm-run also fails a guest
# whose console shows BUG/Oops/WARNING/panic or a hung task's trace).
# One boot per kernel (tests/vm/guest/pvblk-hostile-peers.sh), four
# build/tests/progs/test_backend devices, checks:
#   probe-silent   finding 3: a backend that connects and never answers
#                  does not hang probe (the partition scan): its IO ends
#                  after io_timeout + backend_timeout, the device is bound
#   silent-io      ... and later IO on it fails at once
#   other-device   ... while another pvio device in the guest works
#   segments       finding 7: max_segments / max_segment_size honoured
#   lost-doorbell  finding 13: fio verifies its data while the device's
#                  bus mastering is toggled (MSI-X messages dropped)
#   flood          notification floods: a backend ringing every vector in
#                  a loop; a second device keeps half its IOPS (the guest
#                  runs at most (IVS_IRQ_BUDGET + 1) * HZ doorbell handlers
#                  a second per vector, pvio_ivshmem.c; the figures depend
#                  on how busy the host is)
# PVIO_HOSTILE_SCRIBBLE_S=N (default 20) is how long a second boot lets a
# backend scribble over the header, config, rings and responses while the
# guest runs IO (tests/vm/guest/pvblk-hostile-scribble.sh).
# A third boot (tests/vm/guest/pvblk-hostile-findings.sh, two devices):
#   big-data       finding 5: a data area over 4 GiB (depth 10240 of
#                  512 KiB slots): fio verifies what it wrote, so no
#                  request's segment offset wrapped at 4 GiB
#   drain-removal  finding 4: a backend that answers during the first
#                  seconds of removal and then falls silent; removal
#                  returns within a bound, because the removal watchdog
#                  looks again every period
# HOSTILE_TB=PATH runs another test_backend build (default
# build/tests/progs/test_backend, built here).
# Everything a run makes lives in build/hostile-run.PID/; directories of
# runs that are gone are removed when the suite loads. Sourced by
# tests/run-all.

HOSTILE_RUN=$TOP/build/hostile-run.$$
declare -A HOSTILE_RC=() SCRIBBLE_RC=() FINDINGS_RC=()
HOSTILE_VMARGS=()
HOSTILE_TB=${HOSTILE_TB:-$TOP/build/tests/progs/test_backend}

# hostile_start DIR SOCKDIR NAME:SLOT:VECTORS:ARGS...: one test_backend
# per spec (ARGS: its options, comma-separated); prints the QEMU
# arguments, one per line, into DIR/qargs and the pids into DIR/pids.
hostile_start() {
	local w=$1 sock=$2 spec name slot nvec args tb=$HOSTILE_TB
	shift 2
	: >"$w/qargs"
	: >"$w/pids"
	for spec in "$@"; do
		IFS=: read -r name slot nvec args <<<"$spec"
		# shellcheck disable=SC2086
		"$tb" --socket "$sock/$name" ${args//,/ } >"$w/$name.log" 2>&1 &
		echo $! >>"$w/pids"
		printf -- '--qemu-arg\n-chardev\n--qemu-arg\nsocket,path=%s,id=%s\n--qemu-arg\n-device\n--qemu-arg\nivshmem-doorbell,chardev=%s,vectors=%s,addr=0x%s\n' \
			"$sock/$name" "$name" "$name" "$nvec" "$slot" >>"$w/qargs"
		t_wait_ready '^test_backend: ready' "$w/$name.log" || return 1
	done
}

# hostile_boot VER KIND SCRIPT TIMEOUT SPEC...: the boot of kernel VER,
# its console in $HOSTILE_RUN/KIND-VER/console.log; HOSTILE_VMARGS holds
# further pvio-vm-run arguments.
hostile_boot() {
	local ver=$1 kind=$2 script=$3 timeout=$4 w=$HOSTILE_RUN/$2-$1 sock dir fio rc
	local -a qargs pids
	shift 4
	t_guest_can_boot "$ver" || return 77
	fio=$(command -v fio) || { echo "fio is not installed (tools/pvio-deps)"; return 1; }
	[ "$HOSTILE_TB" != "$TOP/build/tests/progs/test_backend" ] ||
		make -C "$TOP" -s build/tests/progs/test_backend >/dev/null 2>&1
	[ -x "$HOSTILE_TB" ] || { echo "$HOSTILE_TB is not built"; return 1; }
	t_kmod_build "$ver" || return 1
	dir=$(t_kmod_dir "$ver")
	rm -rf "$w" && mkdir -p "$w" || return 1
	sock=$(mktemp -d /tmp/pvio-hostile.XXXXXX) || return 1
	if ! hostile_start "$w" "$sock" "$@"; then
		mapfile -t pids <"$w/pids"
		t_stop "${pids[@]}"
		rm -rf "$sock"
		return 1
	fi
	mapfile -t qargs <"$w/qargs"
	mapfile -t pids <"$w/pids"
	"$TOP/tests/vm/pvio-vm-run" --kernel "$(t_vmlinuz "$ver")" \
		--module "$dir/hypercall/kernel/pvio_core.ko" \
		--module "$dir/hypercall/kernel/pvio_ivshmem.ko" \
		--module "$dir/front/pvblk/pvblk.ko" \
		--file "$fio:/pvio/fio" --script "$script" --mem 768 \
		--file "$TOP/tests/vm/guest/lib-fs.sh:/pvio/lib-fs.sh" \
		--timeout "$timeout" --log "$w/console.log" "${qargs[@]}" \
		"${HOSTILE_VMARGS[@]}"
	rc=$?
	t_stop "${pids[@]}"
	rm -rf "$sock"
	echo "pvio-vm-run exited $rc"
	return "$rc"
}

hostile_peers_boot() {
	local rc
	if [ -n "${HOSTILE_RC[$1]:-}" ]; then
		return "${HOSTILE_RC[$1]}"
	fi
	hostile_boot "$1" peers "$TOP/tests/vm/guest/pvblk-hostile-peers.sh" 420 \
		good:10:3:--queues,2,--size,67108864 \
		silent:11:2:--mode,silent,--after,0 \
		segs:12:2:--max-segs,4,--max-seg-size,16384 \
		flood:13:2:--mode,flood,--after,200
	rc=$?
	HOSTILE_RC[$1]=$rc
	return "$rc"
}

hostile_require() {
	hostile_peers_boot "$1"
	t_guest_checks $? "$HOSTILE_RUN/peers-$1/console.log" pvblk-hostile "${@:2}"
}

hostile_scribble_boot() {
	local rc s=${PVIO_HOSTILE_SCRIBBLE_S:-20}
	if [ -n "${SCRIBBLE_RC[$1]:-}" ]; then
		return "${SCRIBBLE_RC[$1]}"
	fi
	HOSTILE_VMARGS=(--append "pvblk_scribble_s=$s")
	hostile_boot "$1" scribble "$TOP/tests/vm/guest/pvblk-hostile-scribble.sh" \
		$((s + 240)) good:10:2:--size,33554432 \
		"scribble:11:3:--queues,2,--mode,scribble,--after,64,--seed,$$"
	rc=$?
	HOSTILE_VMARGS=()
	SCRIBBLE_RC[$1]=$rc
	return "$rc"
}

hostile_scribble_require() {
	hostile_scribble_boot "$1"
	t_guest_checks $? "$HOSTILE_RUN/scribble-$1/console.log" pvblk-scribble "${@:2}"
}

# Finding 5's device needs an 8 GiB BAR (a sparse memfd) and finding 4's
# the cgroup v1 blkio throttle of the guest kernel.
hostile_findings_boot() {
	local rc
	if [ -n "${FINDINGS_RC[$1]:-}" ]; then
		return "${FINDINGS_RC[$1]}"
	fi
	hostile_boot "$1" findings "$TOP/tests/vm/guest/pvblk-hostile-findings.sh" 180 \
		big:14:2:--depth,10240,--hold,9000,--max-transfer,1024,--max-seg-size,524288,--data-size,5368709120 \
		drain:15:2:--mode,drain,--drain-ms,6000,--size,16777216
	rc=$?
	FINDINGS_RC[$1]=$rc
	return "$rc"
}

hostile_findings_require() {
	hostile_findings_boot "$1"
	t_guest_checks $? "$HOSTILE_RUN/findings-$1/console.log" pvblk-findings "${@:2}"
}

hostile_register() {
	local ver=$1 k=$2
	t_run vm-pvblk-hostile-probe-silent-"$k" hostile_require "$ver" probe-silent \
		silent-io other-device
	t_run vm-pvblk-hostile-segments-"$k" hostile_require "$ver" segments
	t_run vm-pvblk-hostile-lost-doorbell-"$k" hostile_require "$ver" lost-doorbell
	t_run vm-pvblk-hostile-flood-"$k" hostile_require "$ver" flood unload
	t_run vm-pvblk-hostile-scribble-"$k" hostile_scribble_require "$ver" \
		good-device scribbled unload
	t_run vm-pvblk-hostile-big-data-"$k" hostile_findings_require "$ver" big-data
	t_run vm-pvblk-hostile-drain-removal-"$k" hostile_findings_require "$ver" \
		drain-removal
}

t_clean_stale_runs hostile-run
t_for_each_kernel vm-pvblk-hostile hostile_register

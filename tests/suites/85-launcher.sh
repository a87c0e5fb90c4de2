# tools/pvio-vm, the launcher: what --print tells people who wire the VM up
# themselves, usage errors, and two short real boots (data through
# /dev/pvblk0 into the image; the guest's exit status coming back out);
# and tools/pvio-demo on a small scale.
# Sourced by tests/run-all.

LAUNCH_VM=$TOP/tools/pvio-vm
LAUNCH_DIR=$TOP/build/launcher-test

# --print: the pvio-backd command, the QEMU line and the libvirt <shmem>
# elements must agree on each disk's socket and vector count.
launcher_print() {
	local out=$LAUNCH_DIR/print.out rd=$LAUNCH_DIR/rd rc
	mkdir -p "$LAUNCH_DIR" || return 1
	"$LAUNCH_VM" --print --run-dir "$rd" --disk /srv/a.img,queues=2 \
		--disk /srv/b.img,ro >"$out" 2>&1
	rc=$?
	cat "$out"
	[ $rc -eq 0 ] || { echo "--print exited $rc"; return 1; }
	local want
	for want in \
		"pvio-backd --blk /srv/a.img --queues 2 --socket $rd/pvio0.sock --blk /srv/b.img --ro --queues 1 --socket $rd/pvio1.sock" \
		"qemu-system-x86_64 -machine q35 " \
		"-chardev socket,path=$rd/pvio0.sock,id=pvio0 -device ivshmem-doorbell,chardev=pvio0,vectors=3," \
		"-chardev socket,path=$rd/pvio1.sock,id=pvio1 -device ivshmem-doorbell,chardev=pvio1,vectors=2," \
		"<shmem name='pvio0'>" "<shmem name='pvio1'>" \
		"<model type='ivshmem-doorbell'/>" \
		"<server path='$rd/pvio0.sock'/>" "<server path='$rd/pvio1.sock'/>" \
		"<msi vectors='3' ioeventfd='on'/>" "<msi vectors='2' ioeventfd='on'/>"; do
		grep -qF -- "$want" "$out" || { echo "missing from --print: $want"; return 1; }
	done
	# The XML pairs each socket with its own vector count.
	if ! grep -A1 "<server path='$rd/pvio0.sock'/>" "$out" | grep -qF "<msi vectors='3'"; then
		echo "pvio0's <shmem> does not have 3 vectors"
		return 1
	fi
	[ ! -e "$rd" ] || { echo "--print created $rd"; return 1; }
}

launcher_bad_option() {
	local rc
	"$LAUNCH_VM" --no-such-option 2>&1
	rc=$?
	[ $rc -eq 2 ] || { echo "expected exit 2, got $rc"; return 1; }
	"$LAUNCH_VM" --disk x.img,queues=0 2>&1
	rc=$?
	[ $rc -eq 2 ] || { echo "queues=0: expected exit 2, got $rc"; return 1; }
	"$LAUNCH_VM" 2>&1
	rc=$?
	[ $rc -eq 2 ] || { echo "no --disk: expected exit 2, got $rc"; return 1; }
}

launcher_missing_image() {
	local out rc
	mkdir -p "$LAUNCH_DIR" && echo 'exit 0' >"$LAUNCH_DIR/true.sh" || return 1
	out=$("$LAUNCH_VM" --disk "$LAUNCH_DIR/no-such.img" --script "$LAUNCH_DIR/true.sh" 2>&1)
	rc=$?
	echo "$out"
	[ $rc -eq 1 ] || { echo "expected exit 1, got $rc"; return 1; }
	echo "$out" | grep -q "disk image '$LAUNCH_DIR/no-such.img' does not exist" ||
		{ echo "no clear message about the missing image"; return 1; }
}

# Print SKIP and return 77 unless a guest can boot here; build what the
# launcher needs.
launcher_ready() {
	local kdir
	command -v qemu-system-x86_64 >/dev/null ||
		{ echo "SKIP: qemu-system-x86_64 not installed (tools/pvio-deps)"; return 77; }
	kdir=$("$TOP/tools/pvio-kdir") ||
		{ echo "SKIP: no guest kernel with headers (run tools/pvio-deps)"; return 77; }
	t_vmlinuz "${kdir##*/linux-headers-}" >/dev/null ||
		{ echo "SKIP: no kernel image of ${kdir##*/linux-headers-} (run tools/pvio-deps)"; return 77; }
	make -C "$TOP" -s build/pvio-backd || return 1
	if [ ! -f "$TOP/front/pvblk/pvblk.ko" ] || [ ! -f "$TOP/hypercall/kernel/pvio_core.ko" ] ||
	   [ ! -f "$TOP/hypercall/kernel/pvio_ivshmem.ko" ]; then
		make -C "$TOP" -s modules || return 1
	fi
	mkdir -p "$LAUNCH_DIR"
}

# A guest writes a pattern to /dev/pvblk0 and reads it back; the host then
# finds it in the image, and nothing is left running or lying around.
launcher_boot() {
	launcher_ready || return
	local img=$LAUNCH_DIR/boot.img rd=$LAUNCH_DIR/boot-run script=$LAUNCH_DIR/boot.sh rc
	rm -rf "$rd" && mkdir -p "$rd" && rm -f "$img" && truncate -s 16M "$img" || return 1
	cat >"$script" <<'EOF'
[ -b /dev/pvblk0 ] || { echo "no /dev/pvblk0"; exit 10; }
i=0
while [ $i -lt 64 ]; do echo "pvio-launcher-block-$i"; i=$((i + 1)); done >/tmp/pat
dd if=/tmp/pat of=/tmp/pat.pad bs=4096 conv=sync 2>/dev/null
dd if=/tmp/pat.pad of=/dev/pvblk0 bs=4096 seek=256 oflag=direct 2>/dev/null || exit 11
dd if=/dev/pvblk0 of=/tmp/back bs=4096 skip=256 count=1 iflag=direct 2>/dev/null || exit 12
cmp /tmp/pat.pad /tmp/back || { echo "read back differs"; exit 13; }
echo "launcher-guest: wrote and read back 4096 bytes"
exit 0
EOF
	"$LAUNCH_VM" --no-tools --disk "$img" --run-dir "$rd" --script "$script" \
		--timeout 60 --log "$LOGDIR/launcher-boot.console.log"
	rc=$?
	[ $rc -ne 77 ] || return 77
	[ $rc -eq 0 ] || { echo "pvio-vm exited $rc"; return 1; }
	grep -q 'launcher-guest: wrote and read back' "$LOGDIR/launcher-boot.console.log" ||
		{ echo "the guest's success line is not in the console log"; return 1; }
	dd if="$img" bs=4096 skip=256 count=1 2>/dev/null | grep -q '^pvio-launcher-block-63$' ||
		{ echo "the pattern is not in the image at 1 MiB"; return 1; }
	[ ! -e "$rd/pvio0.sock" ] || { echo "socket $rd/pvio0.sock left behind"; return 1; }
	if pgrep -f "pvio-backd --blk $img" >/dev/null; then
		echo "pvio-backd still running after pvio-vm exited"
		return 1
	fi
	grep -q '^pvio-backd: ready' "$LOGDIR/launcher-boot.console.log.backd" ||
		{ echo "no backend log"; return 1; }
	echo "host: pattern found in the image; backend stopped; socket removed"
}

# The guest script's status is pvio-vm's.
launcher_status() {
	launcher_ready || return
	local img=$LAUNCH_DIR/status.img script=$LAUNCH_DIR/status.sh rc
	rm -f "$img" && truncate -s 16M "$img" || return 1
	printf '%s\n' '[ -b /dev/pvblk0 ] || exit 10' 'exit 5' >"$script"
	"$LAUNCH_VM" --no-tools --disk "$img" --script "$script" --timeout 60 \
		--log "$LOGDIR/launcher-status.console.log"
	rc=$?
	[ $rc -ne 77 ] || return 77
	[ $rc -eq 5 ] || { echo "expected exit 5, got $rc"; return 1; }
	echo "guest status 5 passed through"
}

# A kernel error before /init started is the emulator's (see tools/pvio-vm):
# pvio-vm boots once more and the guest's status still comes back, with the
# first console kept. The same error after /init started is not retried:
# it fails the run as a kernel error (126). A stand-in QEMU first on PATH
# prints the error and runs the real one as the case needs.
launcher_early_retry() {
	launcher_ready || return
	local d=$LAUNCH_DIR/early img=$LAUNCH_DIR/early.img log rc real
	real=$(command -v qemu-system-x86_64) || return 1
	rm -rf "$d" && mkdir -p "$d/bin" && rm -f "$img" && truncate -s 16M "$img" || return 1
	printf '%s\n' '[ -b /dev/pvblk0 ] || exit 10' 'exit 5' >"$d/status.sh"
	cat >"$d/bin/qemu-system-x86_64" <<FAKE
#!/bin/sh
case " \$* " in *" -initrd "*) ;; *) exec "$real" "\$@" ;; esac
if [ "\$PVIO_TEST_FAKE" = before ] && [ ! -e "$d/booted" ]; then
	: >"$d/booted"
	echo 'Oops: int3: 0000 [#1] PREEMPT SMP NOPTI'
	echo 'Kernel panic - not syncing: Fatal exception in interrupt'
	exit 0
fi
: >>"$d/booted"
"$real" "\$@"
rc=\$?
[ "\$PVIO_TEST_FAKE" != after ] || echo 'BUG: kernel NULL pointer dereference, address: 0000000000000000'
exit \$rc
FAKE
	chmod +x "$d/bin/qemu-system-x86_64" || return 1

	log=$LOGDIR/launcher-early-retry.console.log
	rm -f "$log" "$log.early-boot-error"
	PVIO_TEST_FAKE=before PATH="$d/bin:$PATH" "$LAUNCH_VM" --no-tools --disk "$img" \
		--script "$d/status.sh" --timeout 90 --log "$log" 2>"$d/before.err"
	rc=$?
	cat "$d/before.err"
	[ $rc -ne 77 ] || return 77
	[ $rc -eq 5 ] || { echo "early error: expected the retried guest's exit 5, got $rc"; return 1; }
	grep -q 'booting again once' "$d/before.err" || { echo "no retry message"; return 1; }
	grep -q '^Oops: int3' "$log.early-boot-error" ||
		{ echo "the first console log was not kept in $log.early-boot-error"; return 1; }
	! grep -q 'Oops' "$log" || { echo "the second boot's log holds the first one's error"; return 1; }
	echo "early kernel error: booted again, guest status 5 passed through"

	rm -f "$d/booted" "$log" "$log.early-boot-error"
	PVIO_TEST_FAKE=after PATH="$d/bin:$PATH" "$LAUNCH_VM" --no-tools --disk "$img" \
		--script "$d/status.sh" --timeout 90 --log "$log" 2>"$d/after.err"
	rc=$?
	cat "$d/after.err"
	[ $rc -eq 126 ] || { echo "error after /init: expected exit 126, got $rc"; return 1; }
	! grep -q 'booting again' "$d/after.err" || { echo "an error after /init was retried"; return 1; }
	[ ! -e "$log.early-boot-error" ] || { echo "an error after /init was taken for an early one"; return 1; }
	echo "kernel error after /init: not retried, exit 126"
}

# tools/pvio-demo, what `make demo` runs, on a small scale: bad options
# are refused; a short run (ext4 check, two rounds of a 1 s fio job on
# pvblk and virtio-blk) prints its table and the per-run ratio summary,
# and the devices take turns going first.
# "$@" must refuse its arguments: exit 2, a usage error.
usage_refused() {
	local rc
	"$@" 2>&1
	rc=$?
	[ $rc -eq 2 ] || { echo "${*#"$TOP/"}: expected exit 2, got $rc"; return 1; }
}

demo_bad_option() {
	usage_refused "$TOP/tools/pvio-demo" --repeat 0 &&
		usage_refused "$TOP/tools/pvio-demo" --tests 'no-colons'
}

demo_short() {
	launcher_ready || return
	local work=$LAUNCH_DIR/demo out=$LAUNCH_DIR/demo.out rc
	rm -rf "$work"
	"$TOP/tools/pvio-demo" --work-dir "$work" --size 256M --no-vhost-user \
		--tests 'rr4k:randread:4k:4' --repeat 2 --runtime 1 >"$out" 2>&1
	rc=$?
	cat "$out"
	[ $rc -ne 77 ] || return 77
	[ $rc -eq 0 ] || { echo "pvio-demo exited $rc"; return 1; }
	grep -q '^PVIO-DEMO ext4 files=[0-9]* bytes=[0-9]* ok' <(tr -d '\r' <"$work/console.log") ||
		{ echo "no ext4 success line in the console log"; return 1; }
	# Four runs in order: pvblk then virtio-blk, then virtio-blk first.
	local order
	order=$(awk '{ printf "%s ", $1 }' "$work/results.txt")
	[ "$order" = "pvblk virtio-blk virtio-blk pvblk " ] ||
		{ echo "runs in the order '$order'"; return 1; }
	awk '$3 <= 0 { exit 1 }' "$work/results.txt" ||
		{ echo "a run with no IOPS"; return 1; }
	grep -Eq '^  rr4k +[0-9]+\.[0-9]{2} [0-9]+\.[0-9]{2}  \(median [0-9]+\.[0-9]{2}; doorbells/req median [0-9.]+\)$' "$out" ||
		{ echo "no ratio summary with two runs"; return 1; }
}

kbench_bad_option() {
	usage_refused "$TOP/tools/pvio-kbench" --rounds 0 &&
		usage_refused "$TOP/tools/pvio-kbench" --parts 'loop nope'
}

# One short round of both parts: every run gives IOPS and CPU per IO,
# the sides take turns, and the summary has a ratio for every job.
kbench_short() {
	launcher_ready || return
	local work=$LAUNCH_DIR/kbench out=$LAUNCH_DIR/kbench.out rc n
	rm -rf "$work"
	"$TOP/tools/pvio-kbench" --work-dir "$work" --rounds 2 --runtime 1 \
		--file-mb 32 --jobs 'rr4k:randread:4k:4 r128k:read:128k:2' >"$out" 2>&1
	rc=$?
	cat "$out"
	[ $rc -ne 77 ] || return 77
	[ $rc -eq 0 ] || { echo "pvio-kbench exited $rc"; return 1; }
	# 2 parts x 2 jobs x 2 sides x 2 rounds.
	n=$(awk 'NF == 6 && $5 > 0 && $6 > 0' "$work/results.txt" | wc -l)
	[ "$n" -eq 16 ] || { echo "$n runs with IOPS and CPU per IO, expected 16"; return 1; }
	# Round 1 starts with the second side, round 2 with the first.
	[ "$(awk '$1 == "loop" && $2 == "rr4k" { printf "%s ", $3 }' "$work/results.txt")" = \
		"pvblk-loop null_blk null_blk pvblk-loop " ] ||
		{ echo "the loop part's sides did not take turns"; return 1; }
	n=$(grep -Ec '^(rr4k|r128k) +[0-9]+ +[0-9.]+ +[0-9]+ +[0-9.]+ +[0-9]+\.[0-9]{3} ' "$out")
	[ "$n" -eq 4 ] || { echo "$n summary rows, expected 4"; return 1; }
}

t_run launcher-print launcher_print
t_run launcher-bad-option launcher_bad_option
t_run launcher-missing-image launcher_missing_image
t_run launcher-vm-boot-pvblk launcher_boot
t_run launcher-vm-exit-status launcher_status
t_run launcher-early-retry launcher_early_retry
t_run demo-bad-option demo_bad_option
t_run demo-short demo_short
t_run kbench-bad-option kbench_bad_option
t_run kbench-short kbench_short

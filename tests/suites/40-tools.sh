# Smoke tests of the tools in tools/: they run, print what they promise and
# reject bad command lines. Correctness checks, not timed: no thresholds.

# Both modes, every default batch size, --json: one well-formed object per
# configuration with the promised fields and non-zero counts. The bench
# checks every response against its request and exits 1 on a mismatch.
ringbench_smoke() {
	local bench=$TOP/build/pvio-ringbench out rc
	[ -x "$bench" ] || { echo "not built: $bench"; return 1; }
	out=$("$bench" --messages 100003 --mode both --json)
	rc=$?
	printf '%s\n' "$out"
	[ "$rc" -eq 0 ] || { echo "pvio-ringbench exited $rc"; return 1; }
	printf '%s\n' "$out" | python3 -c '
import json, sys
want = {(m, b) for m in ("poll", "sleep") for b in (1, 4, 16, 64)}
seen = set()
for n, line in enumerate(sys.stdin, 1):
    o = json.loads(line)
    for k in ("batch", "mode", "msgs_per_sec", "ns_per_msg",
              "doorbells_per_msg", "messages", "seconds", "machine"):
        if k not in o:
            sys.exit("line %d: no %s" % (n, k))
    key = (o["mode"], o["batch"])
    if key in seen:
        sys.exit("line %d: %s batch %d twice" % (n, *key))
    seen.add(key)
    if o["messages"] != 100003:
        sys.exit("line %d: messages %r, want 100003" % (n, o["messages"]))
    if not o["msgs_per_sec"] > 0 or not o["seconds"] > 0:
        sys.exit("line %d: rate %r over %r s" % (n, o["msgs_per_sec"], o["seconds"]))
    if not o["ns_per_msg"] > 0 or o["doorbells_per_msg"] < 0:
        sys.exit("line %d: bad ns_per_msg or doorbells_per_msg" % n)
if seen != want:
    sys.exit("configurations %s, want %s" % (sorted(seen), sorted(want)))
print("ok: %d configurations" % len(seen))
'
}
t_run ringbench-smoke ringbench_smoke

# A duration run in sleep mode with a small ring exercises the deadline path
# and ring wrap-around (many laps of an 8-entry ring).
ringbench_duration() {
	local out
	out=$("$TOP/build/pvio-ringbench" --duration 0.2 --mode sleep \
		--batch 1,8 --ring-entries 8 --json) || return 1
	printf '%s\n' "$out"
	[ "$(printf '%s\n' "$out" | grep -c '"messages":[1-9]')" -eq 2 ]
}
t_run ringbench-duration ringbench_duration

# Unknown options and impossible values: exit 2 with a message on stderr.
ringbench_bad_option() {
	local bench=$TOP/build/pvio-ringbench err rc args
	for args in "--no-such-option" "--mode fast" "--batch 0" \
		"--ring-entries 100" "--batch 64 --ring-entries 32" \
		"--duration -1" "--duration 1 --messages 5" "--cpus 0" \
		"--messages" "stray"; do
		# shellcheck disable=SC2086 # word splitting wanted
		err=$("$bench" $args 2>&1 >/dev/null)
		rc=$?
		echo "[$args] exit $rc: $err"
		[ "$rc" -eq 2 ] || { echo "want exit 2"; return 1; }
		[ -n "$err" ] || { echo "want a message"; return 1; }
	done
	"$bench" --help | grep -q '^EXIT STATUS' || { echo "--help incomplete"; return 1; }
}
t_run ringbench-bad-option ringbench_bad_option

# Manual pages (make man, tools/pvio-man): one for every program and every
# executable in tools/, each well-formed roff (groff -ww prints nothing),
# its NAME line one whatis(1) can parse, with a DESCRIPTION or OPTIONS
# section.
man_pages() {
	local out=$TOP/build/man p n bad=0 t w
	make -C "$TOP" -s man || { echo "make man failed"; return 1; }
	for t in "$TOP"/tools/* "$TOP/build/pvio-backd" "$TOP/build/pvio-bench" \
		"$TOP/build/pvio-ringbench"; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		n=$(basename "$t")
		p=$(ls "$out/$n".[18] 2>/dev/null | head -n 1)
		if [ -z "$p" ]; then
			echo "no manual page for $n"
			bad=1
			continue
		fi
		w=$(groff -man -Tutf8 -ww -z "$p" 2>&1)
		[ -z "$w" ] || { echo "$n: groff: $w"; bad=1; }
		lexgrog "$p" | grep -q "\"$n - " || { echo "$n: no whatis line: $(lexgrog "$p")"; bad=1; }
		grep -qE '^\.SH (DESCRIPTION|OPTIONS)$' "$p" || { echo "$n: no DESCRIPTION or OPTIONS"; bad=1; }
		echo "$n: $(basename "$p") ok"
	done
	return $bad
}
t_run man-pages man_pages

# tools/pvio-netbench and tools/pvio-demo --net: a manual-shaped --help,
# and bad command lines refused with exit 2 and a message before anything
# is set up (the benchmark itself is timed and runs by hand).
netbench_cli() {
	local nb=$TOP/tools/pvio-netbench err rc args
	"$nb" --help | grep -q '^EXIT STATUS' || { echo "--help incomplete"; return 1; }
	for args in "--no-such-option" "--rounds 0" "--time x" "--queues 9" \
		"--vhost maybe" "--only tcp-tx,nope" "--pings" "stray"; do
		# shellcheck disable=SC2086 # word splitting wanted
		err=$("$nb" $args 2>&1 >/dev/null)
		rc=$?
		echo "[$args] exit $rc: $err"
		[ "$rc" -eq 2 ] || { echo "want exit 2"; return 1; }
		[ -n "$err" ] || { echo "want a message"; return 1; }
	done
	err=$("$TOP/tools/pvio-demo" --net --rounds 0 2>&1 >/dev/null)
	rc=$?
	echo "[pvio-demo --net --rounds 0] exit $rc: $err"
	[ "$rc" -eq 2 ] && [[ $err == *pvio-netbench* ]] ||
		{ echo "pvio-demo --net does not hand its options to pvio-netbench"; return 1; }
}
t_run netbench-cli netbench_cli

# tools/pvio-demo's report, from a canned run (a real sweep boots a guest:
# minutes under TCG): --report-only turns results.txt, run.meta and
# machine.json (the shell machine object) into report.md with a row per
# device and test, a sweep table with a row per depth and a link to
# sweep.svg, an SVG with every curve's title, and results.json with the
# machine and every run. Without sweep rows there is no plot. Bad --sweep
# values exit 2 with a message.
demo_report_canned() {
	local w err rc t args
	command -v gnuplot >/dev/null || { echo "SKIP: gnuplot not installed (tools/pvio-deps)"; return 77; }
	w=$(mktemp -d /var/tmp/pvio-demo-report.XXXXXX) || return 1
	# shellcheck disable=SC2064 # expand now
	trap "rm -rf '$w'" RETURN
	bash -c '. "$1/tools/lib/machine.sh"; pvio_machine_json qemu-system-x86_64 tcg' _ "$TOP" >"$w/machine.json"
	python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
want = ("cpu_model", "cores", "memory_mib", "kernel", "os", "qemu", "accel",
        "pvio_version", "pvio_git", "date_utc")
missing = [k for k in want if k not in m]
if missing or m["accel"] != "tcg" or not m["kernel"] or not m["cores"] > 0:
    sys.exit("bad machine object %r (missing %s)" % (m, missing))
' "$w/machine.json" || return 1
	printf '%s\n' "COMMAND='tools/pvio-demo --sweep 1,16,128'" ENGINE=io_uring RUNTIME=3 \
		QUEUES=1 ACCEL=tcg SECONDS_TOTAL=90 >"$w/run.meta"
	printf '%s\n' "pvblk sweep-qd1 5100 20400 15300 15000 14900 420" \
		"virtio-blk sweep-qd1 4100 16400 0 0 0 530" \
		"pvblk sweep-qd16 21000 84000 63000 9000 8800 1210" \
		"virtio-blk sweep-qd16 15000 60000 0 0 0 1650" \
		"pvblk sweep-qd128 26000 104000 78000 3000 2900 9100" \
		"virtio-blk sweep-qd128 17000 68000 0 0 0 12000" >"$w/results.txt"
	"$TOP/tools/pvio-demo" --report-only --work-dir "$w" --json "$w/copy.json" || return 1
	cat "$w/report.md"
	for t in "| 1 | 5100 / 420.0 | 4100 / 530.0 |" "| 16 | 21000 / 1210.0 | 15000 / 1650.0 |" \
		"| 128 | 26000 / 9100.0 | 17000 / 12000.0 |" "| pvblk | sweep-qd128 | 1 | 26000 |" \
		"(sweep.svg)" "tools/pvio-demo --sweep 1,16,128" '"kernel": '; do
		grep -qF -- "$t" "$w/report.md" || { echo "report.md lacks '$t'"; return 1; }
	done
	head -c 100 "$w/sweep.svg" | grep -q '^<?xml' && grep -q '<svg' "$w/sweep.svg" ||
		{ echo "sweep.svg is not an SVG"; return 1; }
	for t in "pvblk IOPS" "pvblk p99 latency (us)" "virtio-blk IOPS" "virtio-blk p99 latency (us)"; do
		grep -qF ">$t<" "$w/sweep.svg" || { echo "no curve titled '$t' in sweep.svg"; return 1; }
	done
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
if d["machine"]["accel"] != "tcg" or len(d["results"]) != 6 or d["results"][4]["p99_us"] != 9100:
    sys.exit("results.json: %r" % d)
print("ok: results.json with %d runs and the machine" % len(d["results"]))
' "$w/copy.json" || return 1

	# A run without a sweep: the table, no plot.
	printf '%s\n' "pvblk randread-4k-qd32 22000 88000 1 1 1 1500" >"$w/results.txt"
	"$TOP/tools/pvio-demo" --report-only --work-dir "$w" >/dev/null || return 1
	[ ! -e "$w/sweep.svg" ] && ! grep -q 'Queue-depth sweep' "$w/report.md" &&
		grep -qF "| pvblk | randread-4k-qd32 | 1 | 22000 | 90.1 | 1500.0 |" "$w/report.md" ||
		{ echo "report without a sweep is wrong:"; cat "$w/report.md"; return 1; }

	for args in "--sweep 0" "--sweep 4,4" "--sweep 2000" "--sweep x" "--sweep 1 --full"; do
		# shellcheck disable=SC2086 # word splitting wanted
		err=$("$TOP/tools/pvio-demo" $args 2>&1 >/dev/null)
		rc=$?
		echo "[$args] exit $rc: $err"
		[ "$rc" -eq 2 ] && [ -n "$err" ] || { echo "want exit 2 and a message"; return 1; }
	done
}
t_run demo-report-canned demo_report_canned

# tools/pvio-demo --sweep for real, on the newest guest kernel with the
# modules built from a private copy of the tree (t_kmod_build): two depths
# of 1 s on pvblk and virtio-blk (about 45 s under TCG). The printed table
# and report.md have a row per depth and device with IOPS and p99, the
# plot is an SVG, results.json has the machine with the accelerator used,
# and the last line names the report.
demo_sweep_guest() {
	local kdir ver vmlinuz w out t
	kdir=$("$TOP/tools/pvio-kdir" 2>/dev/null) && [ -n "$kdir" ] ||
		{ echo "SKIP: no guest kernel with headers (run tools/pvio-deps)"; return 77; }
	command -v gnuplot >/dev/null || { echo "SKIP: gnuplot not installed (tools/pvio-deps)"; return 77; }
	ver=${kdir##*/linux-headers-}
	vmlinuz=$(t_vmlinuz "$ver") || { echo "SKIP: no kernel image $vmlinuz"; return 77; }
	t_kmod_build "$ver" || return 1
	w=$TOP/build/demo-sweep-test
	rm -rf "$w"
	out=$("$TOP/tools/pvio-demo" --sweep 1,8 --runtime 1 --work-dir "$w" --kernel "$vmlinuz" \
		--kmod-dir "$(t_kmod_dir "$ver")" --json "$w/copy.json") || { echo "$out"; echo "pvio-demo exited $?"; return 1; }
	echo "$out"
	for t in pvblk virtio-blk; do
		for d in 1 8; do
			grep -Eq "^$t +sweep-qd$d +[1-9][0-9]* .* [1-9][0-9]* " <<<"$out" ||
				{ echo "no table row for $t at depth $d with IOPS and p99"; return 1; }
		done
	done
	grep -Eq '^\| 1 \| [1-9][0-9]* / [1-9][0-9.]* \| [1-9][0-9]* / [1-9][0-9.]* \|$' "$w/report.md" &&
		grep -Eq '^\| 8 \| [1-9][0-9]* / [1-9][0-9.]* \| [1-9][0-9]* / [1-9][0-9.]* \|$' "$w/report.md" ||
		{ cat "$w/report.md"; echo "report.md has no sweep row for depth 1 or 8"; return 1; }
	grep -q '<svg' "$w/sweep.svg" && grep -qF '>pvblk p99 latency (us)<' "$w/sweep.svg" ||
		{ echo "no plot in $w/sweep.svg"; return 1; }
	[ "$(tail -n 1 <<<"$out")" = "pvio-demo: report: $w/report.md" ] ||
		{ echo "the last line does not name the report"; return 1; }
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
if d["machine"]["accel"] not in ("kvm", "tcg") or not d["machine"]["qemu"] or len(d["results"]) != 4:
    sys.exit("results.json: %r" % d)
print("ok: %d runs, accel %s, QEMU %s" % (len(d["results"]), d["machine"]["accel"], d["machine"]["qemu"]))
' "$w/copy.json"
}
t_run demo-sweep-guest demo_sweep_guest

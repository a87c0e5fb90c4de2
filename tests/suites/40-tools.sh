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
              "doorbells_per_msg", "messages", "seconds"):
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

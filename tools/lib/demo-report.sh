# SPDX-License-Identifier: MIT
# The report of tools/pvio-demo, sourced by it after tools/lib/machine.sh:
# from the files a run left
# in its work directory it writes, in the same directory,
#
#     results.json  the machine, the command and every fio run
#     report.md     the machine, the command, a table of the runs (median
#                   IOPS and p99 over the rounds) and, after a sweep, a
#                   table by queue depth and a link to the plot
#     sweep.svg     after a sweep: IOPS and p99 latency by queue depth of
#                   every device, drawn with gnuplot
#
# Input files of WORK-DIR:
#     results.txt   one line per fio run: DEVICE TEST IOPS KIB/S REQUESTS
#                   NOTIFIES INTERRUPTS P99_US; a sweep's tests are named
#                   sweep-qdN
#     run.meta      shell assignments: COMMAND, ENGINE (fio's ioengine),
#                   RUNTIME (s per run), QUEUES, ACCEL, SECONDS_TOTAL
#     machine.json  the machine object (tools/lib/machine.sh)
#
#     demo_report WORK-DIR
# returns 0, or 1 with a message on stderr.

demo_report() {
	local w=$1 machine COMMAND='' ENGINE='' RUNTIME='' QUEUES='' ACCEL='' SECONDS_TOTAL=''
	[ -s "$w/results.txt" ] || { echo "demo report: no results in $w/results.txt" >&2; return 1; }
	# shellcheck disable=SC1091 # written by pvio-demo
	. "$w/run.meta" || { echo "demo report: cannot read $w/run.meta" >&2; return 1; }
	machine=$(cat "$w/machine.json" 2>/dev/null)
	[ -n "$machine" ] || machine=null

	pvio_results_json "$machine" "$COMMAND" "$w/results.txt" \
		"device test iops bw_kib requests notifies interrupts p99_us" \
		"\"ioengine\":$(pvio_json_str "$ENGINE"),\"accel\":$(pvio_json_str "$ACCEL"),\"runtime_s\":${RUNTIME:-null},\"queues\":${QUEUES:-null}" \
		>"$w/results.json" || return 1

	# Median over the rounds of every (device, test), in the order first seen.
	awk '
	function median(a, n,    i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{
		k = $1 SUBSEP $2
		if (!(k in n)) { order[++nk] = k; dev[nk] = $1; tst[nk] = $2 }
		n[k]++; iops[k, n[k]] = $3; kib[k, n[k]] = $4; p99[k, n[k]] = (NF >= 8 ? $8 : 0)
	}
	END {
		for (i = 1; i <= nk; i++) {
			k = order[i]
			for (r = 1; r <= n[k]; r++) { a[r] = iops[k, r]; b[r] = kib[k, r]; c[r] = p99[k, r] }
			printf "%s %s %d %.0f %.1f %.1f\n", dev[i], tst[i], n[k], median(a, n[k]),
				median(b, n[k]) * 1024 / 1e6, median(c, n[k])
		}
	}' "$w/results.txt" >"$w/summary.txt" || return 1

	rm -f "$w/sweep.svg" "$w"/sweep-*.dat
	if grep -q ' sweep-qd[0-9]* ' "$w/summary.txt"; then
		demo_report_plot "$w" || return 1
	fi

	{
		echo "# pvio demo report"
		echo
		echo "Written $(date -u +%Y-%m-%dT%H:%M:%SZ) by tools/pvio-demo${SECONDS_TOTAL:+ after a run of ${SECONDS_TOTAL} s}."
		echo
		echo "## Command"
		echo
		echo '```'
		echo "$COMMAND"
		echo '```'
		echo
		echo "fio in the guest: direct=1, ioengine=${ENGINE:-?}, ${RUNTIME:-?} s per run," \
			"${QUEUES:-?} queue(s) per disk, QEMU accelerator ${ACCEL:-?}."
		echo
		echo "## Results"
		echo
		echo "Median over the rounds of each run; p99 is fio's completion latency (clat)."
		echo
		echo "| device | test | rounds | IOPS | MB/s | p99 us |"
		echo "| --- | --- | ---: | ---: | ---: | ---: |"
		awk '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$w/summary.txt"
		if [ -e "$w/sweep.svg" ]; then
			echo
			echo "## Queue-depth sweep"
			echo
			echo "4K random read at each queue depth; IOPS and p99 latency in us."
			echo
			awk '
			$2 ~ /^sweep-qd[0-9]+$/ {
				d = substr($2, 9) + 0
				if (!(d in seen)) { seen[d] = 1; depth[++nd] = d }
				if (!($1 in dseen)) { dseen[$1] = 1; devs[++ndev] = $1 }
				v[$1, d] = sprintf("%s / %s", $4, $6)
			}
			END {
				for (i = 2; i <= nd; i++)
					for (j = i; j > 1 && depth[j - 1] > depth[j]; j--) {
						t = depth[j]; depth[j] = depth[j - 1]; depth[j - 1] = t
					}
				line = "| iodepth |"; sep = "| ---: |"
				for (k = 1; k <= ndev; k++) { line = line " " devs[k] " IOPS / p99 us |"; sep = sep " ---: |" }
				print line; print sep
				for (i = 1; i <= nd; i++) {
					line = "| " depth[i] " |"
					for (k = 1; k <= ndev; k++)
						line = line " " ((devs[k], depth[i]) in v ? v[devs[k], depth[i]] : "-") " |"
					print line
				}
			}' "$w/summary.txt"
			echo
			echo "![IOPS and p99 latency by queue depth](sweep.svg)"
			echo
			echo "[sweep.svg](sweep.svg)"
		fi
		echo
		echo "## Machine"
		echo
		echo '```json'
		python3 -m json.tool <<<"$machine" 2>/dev/null || echo "$machine"
		echo '```'
		echo
		echo "All runs, with the machine: [results.json](results.json)."
	} >"$w/report.md" || return 1
}

# sweep.svg from summary.txt: one data file per device (depth, IOPS, p99).
demo_report_plot() {
	local w=$1 dev plot='' i=1 err
	command -v gnuplot >/dev/null ||
		{ echo "demo report: gnuplot not installed (tools/pvio-deps): no plot" >&2; return 1; }
	for dev in $(awk '$2 ~ /^sweep-qd/ && !s[$1]++ { print $1 }' "$w/summary.txt"); do
		awk -v d="$dev" '$1 == d && $2 ~ /^sweep-qd[0-9]+$/ { print substr($2, 9) + 0, $4, $6 }' \
			"$w/summary.txt" | sort -n >"$w/sweep-$dev.dat"
		plot="$plot${plot:+, }'sweep-$dev.dat' using 1:2 axes x1y1 with linespoints lw 2 lc $i pt 7 title '$dev IOPS'"
		plot="$plot, '' using 1:3 axes x1y2 with linespoints dashtype 2 lc $i pt 4 title '$dev p99 latency (us)'"
		i=$((i + 1))
	done
	err=$(cd "$w" && timeout 30 gnuplot 2>&1 <<EOF
set terminal svg size 900,540 dynamic font 'sans,12' background rgb 'white'
set output 'sweep.svg'
set title 'pvio demo: 4K random read in the guest, IOPS and p99 latency by queue depth'
set xlabel 'queue depth (iodepth)'
set ylabel 'IOPS'
set y2label 'p99 latency (us)'
set logscale x 2
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set grid
set key top left
plot $plot
EOF
	) || { echo "demo report: gnuplot failed: $err" >&2; return 1; }
	[ -s "$w/sweep.svg" ] || { echo "demo report: gnuplot wrote no $w/sweep.svg" >&2; return 1; }
}

# Helpers for tests and tools that restart pvio-backd's engine under load;
# sourced by tests/run-all (through the suites) and tools/pvio-restart-bench.

# t_engine_kills BACKD_PID BACKD_LOG N MIN_MS MAX_MS OUT [ALIVE_PID]: N
# times, wait a random MIN_MS..MAX_MS, SIGKILL the engine process of
# pvio-backd BACKD_PID (its only child), then wait up to 60 s for the next
# "frontend peer N connected" line in BACKD_LOG: the frontend reconnected
# to the new engine. Appends "kill K ms_to_reconnect" to OUT per kill.
# Stops early (return 1, with the reason) if the daemon, ALIVE_PID (the
# guest, say) or a reconnect goes missing.
t_engine_kills() {
	local backd=$1 log=$2 n=$3 lo=$4 hi=$5 out=$6 alive=${7:-} i c0 eng t0 t1 j
	for ((i = 1; i <= n; i++)); do
		sleep "$(awk -v lo="$lo" -v hi="$hi" -v r="$RANDOM" \
			'BEGIN { printf "%.3f", (lo + (hi - lo) * r / 32767) / 1000 }')"
		[ -z "$alive" ] || kill -0 "$alive" 2>/dev/null ||
			{ echo "kill $i: the load ($alive) is gone"; return 1; }
		eng=$(pgrep -P "$backd" | head -n 1)
		[ -n "$eng" ] || { echo "kill $i: pvio-backd $backd has no engine"; return 1; }
		c0=$(grep -c 'frontend peer [0-9]* connected' "$log")
		t0=$(date +%s%N)
		kill -KILL "$eng"
		for ((j = 0; j < 600; j++)); do
			[ "$(grep -c 'frontend peer [0-9]* connected' "$log")" -gt "$c0" ] && break
			kill -0 "$backd" 2>/dev/null || { echo "kill $i: pvio-backd died"; return 1; }
			sleep 0.1
		done
		t1=$(date +%s%N)
		if [ "$j" -ge 600 ]; then
			echo "kill $i: no reconnect within 60 s"
			return 1
		fi
		echo "kill $i $(((t1 - t0) / 1000000))" >>"$out"
	done
}

# t_stamp_verdict RC CONSOLE PREFIX IMAGE OUTLOG: the end of a guest boot
# whose script ran a stamp writer and lib-stamp.sh's stamp_checks (RC is
# pvio-vm-run's status, CONSOLE its log): require the guest's checks, then
# cut the writer's log out of the console into OUTLOG and check every
# acknowledged block on IMAGE (stamp verify). Return: 0 or 1.
t_stamp_verdict() {
	local rc=0
	t_guest_checks "$1" "$2" "$3" writer-no-errors writer-progress \
		no-io-errors reconnects || rc=1
	tr -d '\r' <"$2" |
		sed -n '/^stamp-log: begin$/,/^stamp-log: end$/p' | sed '1d;$d' >"$5"
	"$TOP/build/tests/progs/stamp" verify --dev "$4" --log "$5" || rc=1
	return $rc
}

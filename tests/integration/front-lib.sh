# Helpers for the frontend/bench integration tests; sourced.
# Needs: B (build dir), TMP (scratch dir). Sets BACKD_PID.

fe_need() {
	local f
	for f in "$@"; do
		if [ ! -x "$f" ]; then
			echo "missing $f (make tools progs)"
			exit 1
		fi
	done
}

# fe_bound VALUE OP LIMIT WHAT [WHY]: OP is -lt or -gt. Prints "ok: WHAT"
# when VALUE OP LIMIT holds; else "FAIL: WHAT (... expected[: WHY])" and
# exits 1.
fe_bound() {
	local value=$1 op=$2 limit=$3 what=$4 why=${5:-} rel
	[ "$op" = -lt ] && rel="fewer than" || rel="more than"
	if [ "$value" "$op" "$limit" ]; then
		echo "ok: $what"
	else
		echo "FAIL: $what ($rel $limit expected${why:+: $why})"
		exit 1
	fi
}

# fe_below_in_tries TRIES LIMIT CMD...: run CMD (which prints one integer)
# until it prints a value below LIMIT, at most TRIES times; print the last
# value. This machine has slow phases lasting seconds in which a poll
# window misses what it would catch otherwise: a working poll gets below
# its bound in one of a few short runs, a broken one in none.
fe_below_in_tries() {
	local tries=$1 limit=$2 try v
	shift 2
	for try in $(seq "$tries"); do
		v=$("$@") || return 1
		[ "$v" -ge "$limit" ] || break
		[ "$try" -eq "$tries" ] || echo "try $try: $v, not below $limit; again" >&2
	done
	echo "$v"
}

# fe_backd_bench NAME LOG OUT BACKD-ARGS... -- BENCH-ARGS...: serve $img on
# $sock with pvio-backd (log in LOG), run pvio-bench --socket $sock
# BENCH-ARGS with its output in OUT, stop the backend. Exits 1 on failure.
fe_backd_bench() {
	local name=$1 log=$2 out=$3 a
	local -a backd=()
	shift 3
	while [ $# -gt 0 ]; do
		a=$1
		shift
		[ "$a" = -- ] && break
		backd+=("$a")
	done
	fe_backd_start "$log" --blk "$img" --socket "$sock" "${backd[@]}" || exit 1
	"$B/pvio-bench" --socket "$sock" "$@" >"$out" 2>&1 ||
		{ cat "$out"; echo "FAIL: $name: pvio-bench failed" >&2; exit 1; }
	fe_backd_stop || exit 1
}

# fe_per NAME COUNT TOTAL SCALE FILE: print COUNT * SCALE / TOTAL; with
# COUNT or TOTAL missing or TOTAL at most 100, show FILE and exit 1.
fe_per() {
	[ -n "$2" ] && [ -n "$3" ] && [ "$3" -gt 100 ] ||
		{ cat "$5" >&2; echo "FAIL: $1: too few IOs or no counters" >&2; exit 1; }
	echo $(($2 * $4 / $3))
}

# fe_backd_start LOG ARGS...: start pvio-backd, wait for its ready line.
fe_backd_start() {
	local log=$1 i
	shift
	"$B/pvio-backd" "$@" 2>"$log" &
	BACKD_PID=$!
	for i in $(seq 1 500); do
		grep -q '^pvio-backd: ready' "$log" && return 0
		if ! kill -0 "$BACKD_PID" 2>/dev/null; then
			echo "pvio-backd exited early:"; cat "$log"
			BACKD_PID=
			return 1
		fi
		sleep 0.02
	done
	echo "pvio-backd not ready after 10 s:"; cat "$log"
	return 1
}

# Stop the backend; it must exit 0 on SIGTERM.
fe_backd_stop() {
	local rc
	[ -n "${BACKD_PID:-}" ] || return 0
	kill -TERM "$BACKD_PID"
	wait "$BACKD_PID"
	rc=$?
	BACKD_PID=
	if [ "$rc" -ne 0 ]; then
		echo "pvio-backd exited $rc after SIGTERM"
		return 1
	fi
}

fe_cleanup() {
	if [ -n "${BACKD_PID:-}" ]; then
		kill -KILL "$BACKD_PID" 2>/dev/null
		wait "$BACKD_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}

# fe_expect WHAT GOT WANT
fe_expect() {
	if [ "$2" != "$3" ]; then
		echo "FAIL: $1: got '$2', want '$3'"
		exit 1
	fi
	echo "ok: $1: $2"
}

# fe_mem_scratch NAME: scratch directory TMP in /dev/shm (memory, so that
# timings do not depend on the disk) or else /var/tmp, removed at exit,
# holding a 64 MiB image IMG and the socket path SOCK.
fe_mem_scratch() {
	local dir=/dev/shm
	[ -d "$dir" ] && [ -w "$dir" ] || dir=/var/tmp
	TMP=$(mktemp -d "$dir/pvio-$1.XXXXXX") || exit 1
	trap fe_cleanup EXIT
	IMG=$TMP/disk.img SOCK=$TMP/d.sock
	truncate -s 64M "$IMG" || exit 1
}

# Helpers for the pvio-backd integration tests (sourced, not run).
#
# Each test script takes the build directory (build, build/asan or
# build/tsan) as its first argument and runs that build's pvio-backd and
# hostile_frontend. Under the sanitizer builds any report makes the process
# exit with a distinct code (66 ASan, 67 UBSan, 68 TSan) and fails the test.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-$TOP/build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
BACKD=$BUILD/pvio-backd
HF=$BUILD/tests/progs/hostile_frontend
export ASAN_OPTIONS=halt_on_error=1:exitcode=66:abort_on_error=0:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:exitcode=67:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:exitcode=68

[ -x "$BACKD" ] || { echo "FAIL: $BACKD not built"; exit 1; }
# Tests that speak through another client set BACKD_LIB_NO_HF=1.
[ -n "${BACKD_LIB_NO_HF:-}" ] || [ -x "$HF" ] || { echo "FAIL: $HF not built"; exit 1; }

tmp=$(mktemp -d /tmp/pvio-backd-test.XXXXXX)
backd_pid=''
backd_cleanup() {
	[ -n "$backd_pid" ] && kill -KILL "$backd_pid" 2>/dev/null && wait "$backd_pid" 2>/dev/null
	[ -n "${extra_cleanup:-}" ] && eval "$extra_cleanup"
	rm -rf "$tmp"
}
trap backd_cleanup EXIT
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

fail() {
	echo "FAIL: $*"
	echo "--- daemon log"
	cat "$tmp/backd.log" 2>/dev/null
	exit 1
}

# start_backd ARGS...: run the daemon in the background, wait for "ready".
start_backd() {
	# Emptied first: the child truncates it only after the fork, and an
	# earlier daemon's "ready" must not be taken for this one's.
	: >"$tmp/backd.log"
	"$BACKD" "$@" >"$tmp/backd.out" 2>"$tmp/backd.log" &
	backd_pid=$!
	t_wait_for "$tmp/backd.log" '^pvio-backd: ready$' 20 "$backd_pid" ||
		fail "pvio-backd did not get ready"
}

# stop_backd: SIGTERM, expect exit 0, statistics and no sanitizer report.
stop_backd() {
	local rc
	kill -TERM "$backd_pid"
	wait "$backd_pid"
	rc=$?
	backd_pid=''
	check_no_sanitizer "$tmp/backd.log"
	[ "$rc" -eq 0 ] || fail "pvio-backd exited $rc after SIGTERM"
	grep -q 'queue 0: requests [0-9]*, read' "$tmp/backd.log" ||
		fail "no statistics printed at exit"
}

check_no_sanitizer() {
	if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer' "$1"; then
		fail "sanitizer report in $1"
	fi
}

# run_hf ARGS...: the test client, with its output in the test log.
run_hf() {
	local rc
	timeout 120 "$HF" "$@" >"$tmp/hf.log" 2>&1
	rc=$?
	sed 's/^/    hf| /' "$tmp/hf.log"
	check_no_sanitizer "$tmp/hf.log"
	[ "$rc" -eq 0 ] || fail "hostile_frontend $1 exited $rc"
}

#!/usr/bin/env bash
# pvio-bench rejects bad command lines with exit 2 and a message, and
# runtime failures (missing file, no backend) with exit 1 and a message.
#
# Usage: bench-bad-options.sh BUILD_DIR
set -u
B=${1:-build}
bench=$B/pvio-bench
[ -x "$bench" ] || { echo "missing $bench"; exit 1; }
check() {
	local want=$1 err rc
	shift
	err=$("$bench" "$@" 2>&1 >/dev/null)
	rc=$?
	echo "[$*] exit $rc: $err"
	[ "$rc" -eq "$want" ] || { echo "want exit $want"; exit 1; }
	[ -n "$err" ] || { echo "want a message"; exit 1; }
}
check 2 --no-such-option
check 2 --rw=sideways --socket /x
check 2 --bs 3000 --socket /x
check 2 --bs 0 --socket /x
check 2 --iodepth 0 --socket /x
check 2 --jobs 33 --socket /x
check 2 --runtime -1 --socket /x
check 2 --rwmixread 101 --socket /x
check 2 --engine=other
check 2 --engine=native
check 2 --rw=read
check 2 --compare
check 2 --verify --bs 512 --socket /x
check 2 --socket /x stray
check 1 --engine=native --file /nonexistent/disk.img
check 1 --socket /nonexistent/pvio.sock --runtime 1
check 1 --compare --file /nonexistent/disk.img
"$bench" --help | grep -q '^EXIT STATUS' || { echo "--help incomplete"; exit 1; }
echo "ok"

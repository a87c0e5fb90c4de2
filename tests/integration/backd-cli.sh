#!/usr/bin/env bash
# backd-cli - pvio-backd refuses bad starts: exit 1 for a store or socket it
# cannot use, exit 2 for a bad command line, each with a message naming the
# problem; --help documents every option, the signals and exit status.
#
# Usage: backd-cli.sh [BUILD_DIR]
. "$(dirname "$0")/backd-lib.sh"

cd "$tmp" || exit 1
truncate -s 64M disk.img
truncate -s 512K small.img
truncate -s $((2 * 1024 * 1024 + 100)) odd.img
mkdir dir.d

# expect CODE REGEX ARGS...: the daemon exits CODE at once and says REGEX.
expect() {
	local code=$1 re=$2 rc err
	shift 2
	err=$(timeout 20 "$BACKD" "$@" 2>&1 >/dev/null)
	rc=$?
	echo "[$*] exit $rc: $err"
	check_no_sanitizer <(printf '%s\n' "$err")
	[ "$rc" -eq "$code" ] || fail "[$*]: exit $rc, want $code"
	grep -Eq -- "$re" <<<"$err" || fail "[$*]: message does not match /$re/"
}

expect 1 'nope\.img: No such file' --blk nope.img --socket s.sock
expect 1 'dir\.d is a directory' --blk dir.d --socket s.sock
expect 1 'small\.img is too small' --blk small.img --socket s.sock
expect 1 'odd\.img: size [0-9]+ is not a multiple of 512' --blk odd.img --socket s.sock
expect 2 '--ro given before any --blk' --ro --blk disk.img --socket s.sock
expect 2 '--queues: bad value .0.' --blk disk.img --queues 0 --socket s.sock
expect 2 '--queues: bad value .33.' --blk disk.img --queues 33 --socket s.sock
expect 2 '--queues: bad value .x.' --blk disk.img --queues x --socket s.sock
expect 2 '--queue-depth: bad value .0.' --blk disk.img --queue-depth 0 --socket s.sock
expect 2 '--queue-depth: bad value .4097.' --blk disk.img --queue-depth 4097 --socket s.sock
expect 2 "unknown option '--frobnicate'" --blk disk.img --socket s.sock --frobnicate
expect 2 'has no --socket' --blk disk.img
expect 2 'no device' --poll
expect 2 'needs a value' --blk disk.img --socket
expect 2 "unexpected argument 'stray'" --blk disk.img --socket s.sock stray
# A second device's bad store fails the whole start, naming that device.
expect 1 'dev1: backing store nope2\.img' --blk disk.img --socket a.sock \
	--blk nope2.img --socket b.sock
[ ! -e a.sock ] || fail "socket of the first device left behind"

# A socket a live daemon listens on is refused; the first keeps running.
start_backd --blk disk.img --socket live.sock
expect 1 'socket live\.sock is in use' --blk disk.img --socket live.sock
kill -0 "$backd_pid" || fail "first daemon died"
stop_backd

# A stale socket file (nobody listening) is replaced.
python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.bind("stale.sock")'
start_backd --blk disk.img --socket stale.sock
stop_backd

help=$("$BACKD" --help) || fail "--help exited non-zero"
for word in NAME SYNOPSIS OPTIONS --blk --ro --queues --queue-depth --socket \
	--poll SIGTERM SIGUSR1 'EXIT STATUS' EXAMPLES 'Default: 64' 'Default: 1\.' \
	'ivshmem-doorbell,chardev=pv0,vectors=N\+1' '-chardev socket,path=SOCK,id=pv0'; do
	grep -Eq -- "$word" <<<"$help" || fail "--help lacks '$word'"
done
echo PASS

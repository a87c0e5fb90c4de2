#!/usr/bin/env bash
# ivshmem-qemu-connects - stock QEMU's ivshmem-doorbell device attaches to
# pvio's ivshmem server and maps the region it serves.
#
# Starts build/tests/progs/ivshmem_serve (a pvio ivshmem server whose region
# holds a known pattern, limited to one client), then QEMU with an
# ivshmem-doorbell device on its socket and the HMP monitor on stdin. Checks
# that the server saw the peer join, that `info pci` lists 1af4:1110 with a
# BAR2 of the region's size, that the guest-physical memory behind BAR2
# (placed there by the firmware) holds the server's pattern at both ends of
# the region, that a second QEMU is refused and fails to start, and that the
# server sees the first peer leave when QEMU quits. No guest kernel is
# booted: the firmware alone assigns the BARs, which is why QEMU does not
# run with -S.
#
# Usage: ivshmem-qemu-connects.sh [BUILD_DIR]
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$TOP/build}
SERVE=$BUILD/tests/progs/ivshmem_serve
QEMU=${QEMU:-qemu-system-x86_64}
SIZE=$((1 << 20))
VECTORS=2

command -v "$QEMU" >/dev/null 2>&1 || { echo "SKIP: $QEMU not installed"; exit 77; }
[ -x "$SERVE" ] || { echo "FAIL: $SERVE not built (make progs)"; exit 1; }

tmp=$(mktemp -d /tmp/pvio-ivshmem-qemu.XXXXXX)
srv_pid='' qemu_pid=''
cleanup() {
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
	exec 3>&- 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck source=tests/lib/common.sh
. "$TOP/tests/lib/common.sh"

fail() {
	echo "FAIL: $*"
	echo "--- server log"; cat "$tmp/srv.log"
	echo "--- qemu log"; tr -d '\r' <"$tmp/qemu.log" 2>/dev/null | tail -n 40
	exit 1
}

# The value ivshmem_serve stores at byte offset $1 (see region_pattern()).
pattern() {
	printf '0x%016x' $(( 0x5056494f00000000 ^ ($1 * 0x9e3779b97f4a7c15) ))
}

"$SERVE" "$tmp/sock" "$SIZE" "$VECTORS" 1 >"$tmp/srv.log" 2>&1 &
srv_pid=$!
t_wait_for "$tmp/srv.log" '^listening' 10 "$srv_pid" || fail "server did not start"

mkfifo "$tmp/mon"
exec 3<>"$tmp/mon"
"$QEMU" -accel tcg -machine q35 -display none -nodefaults -m 128 \
	-chardev "socket,path=$tmp/sock,id=c" \
	-device "ivshmem-doorbell,chardev=c,vectors=$VECTORS" \
	-monitor stdio <&3 >"$tmp/qemu.log" 2>&1 &
qemu_pid=$!

t_wait_for "$tmp/srv.log" '^peer [0-9]+ joined' 30 "$qemu_pid" ||
	fail "QEMU never joined (exited: $(kill -0 "$qemu_pid" 2>/dev/null && echo no || echo yes))"
peer=$(sed -n 's/^peer \([0-9]*\) joined/\1/p' "$tmp/srv.log" | head -n 1)
echo "server saw QEMU join as peer $peer"

# The firmware assigns BAR addresses shortly after start; ask until it has.
QMON_LOG=$tmp/qemu.log
qemu_ivshmem_bar2 >"$tmp/bar2.why" || fail "$(cat "$tmp/bar2.why")"
start=$BAR2_START bar_size=$BAR2_SIZE
echo "BAR2 at $start ($bar_size bytes)"
[ "$bar_size" -eq "$SIZE" ] || fail "BAR2 is $bar_size bytes, region is $SIZE"

# The region behind BAR2 is the server's memfd: read both ends of it.
for off in 0 8 $((SIZE / 2)) $((SIZE - 8)); do
	got=$(qemu_xp $(( start + off ))) || fail "no xp output"
	want=$(pattern "$off")
	[ "$((got))" -eq "$((want))" ] || fail "region offset $off: QEMU sees $got, server wrote $want"
	echo "offset $off: $got ok"
done

# One frontend only: a second QEMU is turned away and does not start.
timeout 30 "$QEMU" -accel tcg -machine q35 -display none -nodefaults -m 128 \
	-chardev "socket,path=$tmp/sock,id=c" \
	-device "ivshmem-doorbell,chardev=c,vectors=$VECTORS" \
	-monitor none </dev/null >"$tmp/qemu2.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "second QEMU was not refused (exit $rc)"
grep -q 'refusing connection' "$tmp/srv.log" || fail "server did not log the refusal"
grep -q 'server sent version -2' "$tmp/qemu2.log" || fail "QEMU did not report the refusal"
echo "second QEMU refused: $(tr -d '\r' <"$tmp/qemu2.log" | head -n 1)"

echo quit >&3
wait "$qemu_pid"
qemu_pid=''
t_wait_for "$tmp/srv.log" "^peer $peer left" 10 || fail "server did not see QEMU leave"
echo "server saw peer $peer leave"
echo "PASS"

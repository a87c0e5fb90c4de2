#!/usr/bin/env bash
# backd-qemu - stock QEMU's ivshmem-doorbell device attaches to pvio-backd.
#
# Starts pvio-backd on a file, then QEMU (TCG, firmware only, no guest
# kernel) with `-chardev socket,path=SOCK,id=pv0 -device
# ivshmem-doorbell,chardev=pv0,vectors=2` and the HMP monitor on a fifo.
# Checks that the daemon logs the peer joining, that `info pci` shows
# 1af4:1110 with a BAR2 of the region's size, that the memory behind BAR2
# starts with the pvio region magic, ABI revision and INITWAIT, and that
# the daemon sees QEMU leave and lays the region out again.
#
# Usage: backd-qemu.sh [BUILD_DIR]
. "$(dirname "$0")/backd-lib.sh"
QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null 2>&1 || { echo "SKIP: $QEMU not installed"; exit 77; }

cd "$tmp" || exit 1
truncate -s 32M disk.img
start_backd --blk disk.img --socket pv.sock
size=$(sed -n 's/.*dev0: .* region \([0-9]*\) bytes.*/\1/p' backd.log)
[ -n "$size" ] || fail "region size not logged"

qemu_pid=''
extra_cleanup='[ -n "$qemu_pid" ] && kill $qemu_pid 2>/dev/null; exec 3>&- 2>/dev/null'
mkfifo mon
exec 3<>mon
"$QEMU" -accel tcg -machine q35 -display none -nodefaults -m 128 \
	-chardev socket,path="$tmp/pv.sock",id=pv0 \
	-device ivshmem-doorbell,chardev=pv0,vectors=2 \
	-monitor stdio <&3 >qemu.log 2>&1 &
qemu_pid=$!

t_wait_for backd.log 'dev0: frontend peer [0-9]+ joined' 30 "$qemu_pid" ||
	{ tr -d '\r' <qemu.log | tail; fail "QEMU never joined"; }
peer=$(sed -n 's/.*dev0: frontend peer \([0-9]*\) joined.*/\1/p' backd.log | head -n 1)
echo "daemon saw QEMU join as peer $peer"

QMON_LOG=qemu.log
qemu_ivshmem_bar2 >bar2.why || fail "$(cat bar2.why)"
start=$BAR2_START bar_size=$BAR2_SIZE
echo "BAR2 at $start ($bar_size bytes), region $size bytes"
[ "$bar_size" -eq "$size" ] || fail "BAR2 is $bar_size bytes, region is $size"

# xp ADDR: one 64-bit word of guest-physical memory.
xp() {
	qemu_xp "$1" || fail "no xp output"
}
magic=$(xp "$start")
echo "region magic as QEMU sees it: $magic"
[ "$((magic))" -eq "$((0x4e4745524f495650))" ] || fail "BAR2 does not start with the pvio magic"
# abi_rev (1) and hdr_size (4096) at offset 8; back.state INITWAIT (2) at 64.
w=$(xp $((start + 8)))
[ "$((w))" -eq "$(( (4096 << 32) | 1 ))" ] || fail "abi_rev/hdr_size word is $w"
w=$(xp $((start + 64)))
[ "$(( w & 0xffffffff ))" -eq 2 ] || fail "back.state word is $w, want INITWAIT"

echo quit >&3
wait "$qemu_pid"
qemu_pid=''
t_wait_for backd.log "dev0: frontend peer $peer left; its region and doorbells go with it" 10 ||
	fail "daemon did not see QEMU leave"
stop_backd
echo PASS

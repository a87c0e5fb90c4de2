# Guest side of tests/suites/86-restart.sh: pvblk.ko surviving restarts of
# its backend (pvblkback.ko through pvio_loop.ko, in this kernel). A
# restart is the driver core's unbind and bind of the backend pvio device;
# pvblkback's probe continues the region's generation, so pvblk sees a new
# backend instance, connects to it again and replays what it held.
#   restart-load   writers with known data (dd, O_DIRECT) and fio verify
#                  run while the backend restarts 10 times at random
#                  moments: no IO error, the data reads back, pvblk counts
#                  10 reconnects and logs 10 "backend back" lines
#   away-limit     pvblk reloaded with backend_timeout=3 io_timeout=2: with
#                  the backend away, a write fails (EIO) after about 3 s,
#                  a later one at once; the guest goes on; with the backend
#                  back, new IO succeeds and reads back
#   rmmod-away     rmmod pvblk with the backend away returns in bounded time
#   unplug-away    removing the pair (the frontend device goes) with a
#                  write held during a backend absence: both return in
#                  bounded time, the write with an error
# Needs /pvio/{pvio_core,pvblkback,pvio_loop,pvblk}.ko and /pvio/fio, one
# virtio-blk disk vda of at least 64 MiB (virtio_pci, virtio_blk loaded).
# Prints "pvblk-restart: PASS <check>" or "pvblk-restart: FAIL <check>: why"
# per check; exits 1 if any failed.

PREFIX=pvblk-restart
LOOP=/sys/devices/pvio_loop
DRV=/sys/bus/pvio/drivers/pvblkback
. /pvio/lib-fs.sh

# Centiseconds since boot.
now_cs() { tr -d . </proc/uptime | cut -d' ' -f1; }

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	n=$(($1 * 10))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}

# The pvblk disk and the backend pvio device of pair 0, from "pairs".
disk() {
	for b in $LOOP/pvio*/block/pvblk*; do
		[ -e "$b" ] && basename "$b" && return 0
	done
	return 1
}
backend() { sed -n 's/^0 .* backend \(pvio[0-9]*\)$/\1/p' $LOOP/pairs; }
reconnects() { sed -n 's/^reconnects \([0-9]*\) .*/\1/p' "/sys/block/$DISK/pvio_stats"; }
replayed() { sed -n 's/^reconnects [0-9]* replayed \([0-9]*\)$/\1/p' "/sys/block/$DISK/pvio_stats"; }
has_disk() { DISK=$(disk) && [ -b "/dev/$DISK" ]; }
reconnects_are() { [ "$(reconnects)" = "$1" ]; }
logged() { dmesg | grep -c "$1"; }
gone_logged_more() { [ "$(logged 'backend gone (')" -gt "$1" ]; }

unbind() { echo "$BACK" >$DRV/unbind; }
bind() { echo "$BACK" >$DRV/bind; }

for m in pvio_core pvblkback pvio_loop pvblk; do
	insmod /pvio/$m.ko || fail_all setup "insmod $m.ko failed"
done
wait_for 20 test -b /dev/vda || fail_all setup "virtio disk vda missing"
echo "blk /dev/vda queues=2" >$LOOP/add || fail_all setup "adding the pair failed"
wait_for 30 has_disk || fail_all setup "no pvblk disk for the pair"
BACK=$(backend)
[ -n "$BACK" ] || fail_all setup "no backend device in $LOOP/pairs"
echo "$PREFIX: /dev/vda -> $DISK, backend $BACK"
grep -q '^reconnects 0 replayed 0$' "/sys/block/$DISK/pvio_stats" ||
	fail_all setup "pvio_stats has no 'reconnects 0 replayed 0' line"

# --- restart-load --------------------------------------------------------------

# dd writers of 8 MiB patterns at 0 and 8 MiB, fio verifying at 16..48 MiB;
# each counts its failures in /tmp/err.NAME until /tmp/stop exists.
head -c $((8 * MiB)) /dev/urandom >/tmp/pA
head -c $((8 * MiB)) /dev/urandom >/tmp/pB
rm -f /tmp/stop /tmp/err.*
dd_writer() {
	: >/tmp/err.$1
	while [ ! -e /tmp/stop ]; do
		dd if=/tmp/p$1 of=/dev/$DISK bs=1M seek=$2 oflag=direct 2>/tmp/dd.$1 ||
			{ echo x >>/tmp/err.$1; cat /tmp/dd.$1; }
	done
}
fio_writer() {
	: >/tmp/err.fio
	while [ ! -e /tmp/stop ]; do
		/pvio/fio --name=verify --filename=/dev/$DISK --offset=16m --size=32m \
			--rw=randwrite --bsrange=4k-128k --direct=1 --ioengine=libaio \
			--iodepth=16 --verify=crc32c --do_verify=1 --eta=never \
			--output=/tmp/fio.out 2>&1 ||
			{ echo x >>/tmp/err.fio; tail -n 20 /tmp/fio.out; }
	done
}
dd_writer A 0 &
wa=$!
dd_writer B 8 &
wb=$!
fio_writer &
wf=$!
load_ok=1
t0=$(now_cs)
i=0
while [ $i -lt 10 ]; do
	i=$((i + 1))
	# Random moments: 0.2..1.7 s of load, then 0..0.9 s away.
	sleep "$((RANDOM % 15 / 10)).$((2 + RANDOM % 8))"
	unbind || { load_ok=0; fail restart-load "unbind $BACK failed (cycle $i)"; break; }
	sleep "0.$((RANDOM % 10))"
	bind || { load_ok=0; fail restart-load "bind $BACK failed (cycle $i)"; break; }
	if ! wait_for 60 reconnects_are $i; then
		load_ok=0
		fail restart-load "no reconnect $i within 60 s (counter $(reconnects))"
		break
	fi
done
echo "$PREFIX: $i restarts in $((($(now_cs) - t0) / 100)) s"
touch /tmp/stop
for w in $wa $wb $wf; do
	n=0
	while kill -0 $w 2>/dev/null && [ $n -lt 1200 ]; do sleep 0.1; n=$((n + 1)); done
	kill -0 $w 2>/dev/null && { load_ok=0; fail restart-load "a writer still runs 120 s after the stop"; }
done
wait
cat "/sys/block/$DISK/pvio_stats"
errs=$(cat /tmp/err.A /tmp/err.B /tmp/err.fio 2>/dev/null | wc -l)
sa=$(sha256sum </tmp/pA | cut -d' ' -f1)
sb=$(sha256sum </tmp/pB | cut -d' ' -f1)
ga=$(dd if=/dev/$DISK bs=1M count=8 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
gb=$(dd if=/dev/$DISK bs=1M skip=8 count=8 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
va=$(dd if=/dev/vda bs=1M count=8 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
echo "$PREFIX: pattern A $sa: pvblk $ga, backing $va; pattern B $sb: pvblk $gb"
echo "$PREFIX: writer failures $errs, reconnects $(reconnects), replayed $(replayed)"
[ "$errs" -eq 0 ] || { load_ok=0; fail restart-load "$errs failed writes or fio runs"; }
[ "$sa" = "$ga" ] && [ "$sa" = "$va" ] && [ "$sb" = "$gb" ] ||
	{ load_ok=0; fail restart-load "data read back differs from what was written"; }
[ "$(reconnects)" = 10 ] || { load_ok=0; fail restart-load "reconnect counter $(reconnects), not 10"; }
[ "$(logged 'backend back (generation')" -eq 10 ] && [ "$(logged 'backend gone (')" -eq 10 ] ||
	{ load_ok=0; fail restart-load "not 10 'backend gone' and 10 'backend back' lines"; }
if dmesg | grep -E 'I/O error|failing IO|failing all IO' | grep -v 'vda'; then
	load_ok=0
	fail restart-load "the kernel log shows IO errors"
fi
[ $load_ok = 1 ] && pass restart-load
dmesg | grep -E 'backend (gone|back)' | tail -n 4

# --- away-limit ----------------------------------------------------------------

rmmod pvblk || fail_all away-limit "rmmod pvblk with the backend there failed"
insmod /pvio/pvblk.ko backend_timeout=3 io_timeout=2 ||
	fail_all away-limit "insmod pvblk.ko backend_timeout=3 io_timeout=2 failed"
wait_for 30 has_disk || fail_all away-limit "no pvblk disk after reloading pvblk"
limit_ok=1
[ "$(cat /sys/module/pvblk/parameters/backend_timeout)" = 3 ] &&
	[ "$(cat /sys/module/pvblk/parameters/io_timeout)" = 2 ] &&
	[ "$(cat "/sys/block/$DISK/queue/io_timeout")" = 2000 ] ||
	{ limit_ok=0; fail away-limit "parameters or the queue's io_timeout not taken"; }
head -c $MiB /dev/urandom >/tmp/pC
unbind || fail_all away-limit "unbind $BACK failed"
t0=$(now_cs)
if dd if=/tmp/pC of=/dev/$DISK bs=64k seek=512 oflag=direct 2>/tmp/dd.err; then
	limit_ok=0
	fail away-limit "a write with the backend away succeeded"
fi
dt=$(($(now_cs) - t0))
echo "$PREFIX: write with the backend away: $(tr '\n' ' ' </tmp/dd.err) after $dt cs"
grep -qi 'Input/output error' /tmp/dd.err || { limit_ok=0; fail away-limit "the write did not fail with EIO"; }
[ $dt -ge 150 ] && [ $dt -le 1500 ] ||
	{ limit_ok=0; fail away-limit "the write failed after $dt cs, not 1.5..15 s"; }
[ "$(logged 'backend away for more than 3 s; failing IO')" -eq 1 ] ||
	{ limit_ok=0; fail away-limit "no single 'backend away for more than 3 s' line"; }
t0=$(now_cs)
dd if=/tmp/pC of=/dev/$DISK bs=64k seek=512 oflag=direct 2>/dev/null &&
	{ limit_ok=0; fail away-limit "a second write with the backend away succeeded"; }
dt=$(($(now_cs) - t0))
[ $dt -le 200 ] || { limit_ok=0; fail away-limit "the second write took $dt cs to fail"; }
# The guest goes on: a shell, the file system, the kernel answer.
echo usable >/tmp/usable && [ "$(cat /tmp/usable)" = usable ] && uname -r >/dev/null ||
	{ limit_ok=0; fail away-limit "the guest is not usable"; }
bind || fail_all away-limit "bind $BACK failed"
wait_for 30 reconnects_are 1 ||
	{ limit_ok=0; fail away-limit "no reconnect after the backend came back"; }
if dd if=/tmp/pC of=/dev/$DISK bs=64k seek=512 oflag=direct 2>/dev/null &&
	[ "$(dd if=/dev/$DISK bs=64k skip=512 count=16 iflag=direct 2>/dev/null | sha256sum)" = \
		"$(sha256sum </tmp/pC)" ]; then
	:
else
	limit_ok=0
	fail away-limit "IO after the backend came back failed or read back wrong"
fi
[ $limit_ok = 1 ] && pass away-limit
dmesg | grep -E 'backend (gone|back|away)' | tail -n 3

# --- rmmod-away ----------------------------------------------------------------

gone=$(logged 'backend gone (')
unbind || fail_all rmmod-away "unbind $BACK failed"
wait_for 10 gone_logged_more "$gone" || fail rmmod-away "pvblk did not see the backend go"
t0=$(now_cs)
(rmmod pvblk; echo "exit $?" >/tmp/rmmod.done) &
wait_for 30 test -s /tmp/rmmod.done || fail_all rmmod-away "rmmod pvblk did not return in 30 s"
dt=$(($(now_cs) - t0))
echo "$PREFIX: rmmod pvblk with the backend away: $(cat /tmp/rmmod.done) after $dt cs"
if grep -q 'exit 0' /tmp/rmmod.done && [ $dt -le 1000 ] && ! has_disk; then
	pass rmmod-away
else
	fail rmmod-away "rmmod failed, took more than 10 s, or left the disk"
fi

# --- unplug-away ---------------------------------------------------------------

bind || fail_all unplug-away "bind $BACK failed"
insmod /pvio/pvblk.ko backend_timeout=60 || fail_all unplug-away "insmod pvblk.ko failed"
wait_for 30 has_disk || fail_all unplug-away "no pvblk disk after loading pvblk"
unbind || fail_all unplug-away "unbind $BACK failed"
(dd if=/tmp/pC of=/dev/$DISK bs=64k oflag=direct 2>/dev/null; echo "exit $?" >/tmp/dd.done) &
sleep 2
unplug_ok=1
[ -s /tmp/dd.done ] && { unplug_ok=0; fail unplug-away "the write ended before the unplug: $(cat /tmp/dd.done)"; }
t0=$(now_cs)
(echo 0 >$LOOP/remove; echo "exit $?" >/tmp/remove.done) &
wait_for 30 test -s /tmp/remove.done || fail_all unplug-away "removing the pair did not return in 30 s"
wait_for 30 test -s /tmp/dd.done || fail_all unplug-away "the held write did not end in 30 s"
dt=$(($(now_cs) - t0))
echo "$PREFIX: unplug: remove $(cat /tmp/remove.done), write $(cat /tmp/dd.done), after $dt cs"
grep -q 'exit 0' /tmp/remove.done || { unplug_ok=0; fail unplug-away "removing the pair failed"; }
grep -q 'exit 0' /tmp/dd.done && { unplug_ok=0; fail unplug-away "the held write succeeded"; }
[ $unplug_ok = 1 ] && pass unplug-away

rmmod pvblk && rmmod pvio_loop && rmmod pvblkback && rmmod pvio_core ||
	fail unload "unloading the modules failed"
dmesg | grep -E 'pvblk|pvio' | tail -n 20
sync
exit $failed

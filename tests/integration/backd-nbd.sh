#!/usr/bin/env bash
# backd-nbd - pvio-backd with NBD exports as backing stores (--blk nbd://
# or nbd+unix:// URIs, served through libnbd). One case per run:
#   memory  nbdkit's memory plugin, two queues (it allows multi-conn): the
#           size in the log, the legitimate hostile_frontend round (write
#           and read back, FUA, indirect, flush, discard, write-zeroes),
#           both queues at once, a pvio-bench --verify of 32 MiB; then
#           two queues over TCP (nbd://127.0.0.1:PORT/)
#   qemu    qemu-nbd over a raw file (no multi-conn: one queue, said in
#           the log): what the frontend writes is in the file, byte for
#           byte (cmp, then sha256 of the file against the --verify
#           pattern made independently)
#   ro      read-only exports (nbdkit -r, qemu-nbd -r): the device is
#           read-only, reads work, writes are refused with ROFS
#   kill    the NBD server killed (SIGKILL) during writes: the client
#           gets IO errors within a bound, the daemon logs one line for
#           the export, keeps serving its other device and exits 0
#   errors  no server, a bad URI, a refused TCP port: exit 1 at start-up
#           with a message naming the export
#
# Usage: backd-nbd.sh BUILD_DIR CASE
. "$(dirname "$0")/backd-lib.sh"

case_=${2:-}
BENCH=$TOP/build/pvio-bench
BLKOP=$TOP/build/tests/progs/front_blkop
for p in "$BENCH" "$BLKOP"; do
	[ -x "$p" ] || fail "$p not built"
done
command -v nbdkit >/dev/null ||
	{ echo "SKIP: nbdkit not installed (tools/pvio-deps installs it)"; exit 77; }

cd "$tmp" || exit 1
srv_pids=''
extra_cleanup='for p in $srv_pids; do { kill -KILL $p && wait $p; } 2>/dev/null; done'

# wait_sock NAME SOCK LOG: wait for the server just started ($!) to
# create SOCK; it is killed at exit.
wait_sock() {
	local i
	srv_pid=$!
	srv_pids="$srv_pids $srv_pid"
	for i in $(seq 100); do
		[ -S "$2" ] && return 0
		sleep 0.05
	done
	cat "$3"
	fail "$1 did not create $2"
}

# start_nbdkit SOCK ARGS...: nbdkit in the foreground on a UNIX socket.
start_nbdkit() {
	local sock=$tmp/$1
	shift
	rm -f "$sock"
	nbdkit -f -U "$sock" "$@" >>nbdkit.log 2>&1 &
	wait_sock nbdkit "$sock" nbdkit.log
}

# start_qemu_nbd SOCK ARGS...: qemu-nbd, --persistent: the daemon
# connects more than once.
start_qemu_nbd() {
	local sock=$tmp/$1
	shift
	command -v qemu-nbd >/dev/null ||
		{ echo "SKIP: qemu-nbd not installed (qemu-utils)"; exit 77; }
	rm -f "$sock"
	qemu-nbd -k "$sock" -t "$@" >>qemu-nbd.log 2>&1 &
	wait_sock qemu-nbd "$sock" qemu-nbd.log
}

uri() { echo "nbd+unix:///?socket=$tmp/$1"; }

# blkop SOCK ARGS...: front_blkop with a bound, output kept in blkop.out.
blkop() {
	timeout 20 "$BLKOP" "$@" >blkop.out 2>&1
	sed 's/^/    blkop| /' blkop.out
}

case $case_ in
memory)
	start_nbdkit nbd.sock memory 64M
	start_backd --blk "$(uri nbd.sock)" --socket blk.sock
	grep -q "dev0: $(uri nbd.sock): 67108864 bytes, block size 512, NBD IO; " \
		"$tmp/backd.log" || fail "size or block size of the export wrong"
	blkop blk.sock info
	# FLUSH FUA DISCARD WRITE_ZEROES INDIRECT GET_ID; write cache, not RO.
	grep -q 'features 0x3f attrs 0x2$' blkop.out ||
		fail "features or attributes of the export wrong"
	run_hf good blk.sock expect.bin
	stop_backd
	start_backd --blk "$(uri nbd.sock)" --queues 2 --socket blk.sock
	grep -q "dev0: $(uri nbd.sock): .* 2 queue(s)" "$tmp/backd.log" ||
		fail "not two queues on a multi-conn export"
	run_hf mq blk.sock 2
	timeout 120 "$BENCH" --socket blk.sock --verify --bs 4k,64k,128k \
		--iodepth 16 --filesize $((32 << 20)) --seed 3 --no-progress \
		>bench.out 2>&1 || { cat bench.out; fail "pvio-bench --verify failed"; }
	grep -q '^verify: ok' bench.out || fail "no 'verify: ok' from pvio-bench"
	stop_backd
	# The same over TCP (nbd://): nbdkit returns once it listens.
	for i in 1 2 3; do
		port=$((20000 + RANDOM % 30000))
		nbdkit -P tcp.pid -i 127.0.0.1 -p $port memory 16M 2>>nbdkit.log && break
		port=''
	done
	[ -n "$port" ] || fail "nbdkit found no free TCP port"
	srv_pids="$srv_pids $(cat tcp.pid)"
	start_backd --blk "nbd://127.0.0.1:$port/" --queues 2 --socket blk.sock
	grep -q "dev0: nbd://127.0.0.1:$port/: 16777216 bytes, .* 2 queue(s)" \
		"$tmp/backd.log" || fail "TCP export: size or queues wrong"
	run_hf mq blk.sock 2
	stop_backd
	;;
qemu)
	truncate -s 32M disk.img
	start_qemu_nbd q.sock -f raw --discard=unmap disk.img
	start_backd --blk "$(uri q.sock)" --queues 2 --socket blk.sock
	grep -q "dev0: NBD export $(uri q.sock) does not allow several connections (no multi-conn); serving it with one queue" \
		"$tmp/backd.log" || fail "no line about the missing multi-conn"
	grep -q ': 33554432 bytes, .* 1 queue(s)' "$tmp/backd.log" ||
		fail "size or queue count wrong"
	run_hf good blk.sock expect.bin
	cmp -n 131072 -i $((2048 * 512)):0 disk.img expect.bin ||
		fail "the file under qemu-nbd differs from what was written"
	"$BENCH" --make-pattern pattern.img --filesize $((32 << 20)) --seed 5 ||
		fail "pvio-bench --make-pattern failed"
	timeout 120 "$BENCH" --socket blk.sock --verify --bs 4k,64k,128k \
		--iodepth 16 --seed 5 --no-progress >bench.out 2>&1 ||
		{ cat bench.out; fail "pvio-bench --verify failed"; }
	stop_backd
	want=$(sha256sum <pattern.img) got=$(sha256sum <disk.img)
	echo "sha256: pattern ${want%% *}, file ${got%% *}"
	[ "$want" = "$got" ] || fail "the file under qemu-nbd is not the pattern written"
	;;
ro)
	start_nbdkit ro.sock -r memory 16M
	start_backd --blk "$(uri ro.sock)" --socket blk.sock
	grep -q "dev0: NBD export $(uri ro.sock) is read-only; serving it read-only" \
		"$tmp/backd.log" || fail "no line about the read-only export"
	blkop blk.sock info write 0 4096 1 read 0 4096
	grep -q 'attrs 0x3$' blkop.out || fail "device not read-only"
	grep -q '^write: ROFS$' blkop.out || fail "write not refused with ROFS"
	grep -q '^read: OK zero$' blkop.out || fail "read of the export failed"
	run_hf ro blk.sock
	stop_backd
	if command -v qemu-nbd >/dev/null; then
		truncate -s 16M ro.img
		start_qemu_nbd qro.sock -r -f raw ro.img
		start_backd --blk "$(uri qro.sock)" --socket blk.sock
		run_hf ro blk.sock
		stop_backd
	fi
	;;
kill)
	truncate -s 8M other.img
	start_nbdkit nbd.sock memory 64M
	nbd_pid=$srv_pid
	start_backd --blk "$(uri nbd.sock)" --socket blk.sock \
		--blk other.img --socket other.sock
	timeout 60 "$BENCH" --socket blk.sock --rw randwrite --iodepth 16 \
		--runtime 30 --no-progress >bench.out 2>&1 &
	bench_pid=$!
	sleep 1
	kill -KILL "$nbd_pid"
	t0=$(date +%s%N)
	wait "$bench_pid"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	sed 's/^/    bench| /' bench.out
	echo "pvio-bench exit $rc, $ms ms after the server was killed"
	[ "$rc" -eq 1 ] || fail "pvio-bench exited $rc, want 1 (IO error)"
	[ "$ms" -lt 10000 ] || fail "IO errors took $ms ms"
	blkop blk.sock read 0 4096 write 0 4096 7 flush
	grep -q '^read: IOERR' blkop.out || fail "read after the server went did not fail with IOERR"
	grep -q '^write: IOERR$' blkop.out || fail "write after the server went did not fail with IOERR"
	grep -q '^flush: IOERR$' blkop.out || fail "flush after the server went did not fail with IOERR"
	n=$(grep -c "dev0: NBD export $(uri nbd.sock): connection lost" "$tmp/backd.log")
	[ "$n" -eq 1 ] || fail "$n log lines about the lost export, want 1"
	run_hf good other.sock expect.bin
	stop_backd
	;;
errors)
	for u in "$(uri none.sock)" nbd://127.0.0.1:1/x nbd:bogus nbd+unix:///; do
		: >"$tmp/backd.log"
		timeout 30 "$BACKD" --blk "$u" --socket blk.sock >/dev/null 2>"$tmp/backd.log"
		rc=$?
		sed 's/^/    backd| /' "$tmp/backd.log"
		check_no_sanitizer "$tmp/backd.log"
		[ "$rc" -eq 1 ] || fail "$u: exit $rc, want 1"
		case $u in
		nbd:bogus | nbd+unix:///) want="dev0: bad URI for NBD export $u: " ;;
		*) want="dev0: cannot connect to NBD export $u: " ;;
		esac
		grep -qF "$want" "$tmp/backd.log" || fail "$u: no '$want' message"
		[ ! -S blk.sock ] || fail "$u: the device socket was created"
	done
	;;
*)
	echo "usage: backd-nbd.sh BUILD_DIR memory|qemu|ro|kill|errors"
	exit 2
	;;
esac
echo PASS

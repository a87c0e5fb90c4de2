# Guest side of tools/pvio-kbench, run by tools/pvio-vm's /init after
# pvio_core, pvio_ivshmem and pvblk are loaded. Settings come from
# /pvio/kbench.conf (shell variables written by pvio-kbench):
#   RUNTIME  seconds per run
#   ROUNDS   rounds; within a round the two sides of a comparison take
#            turns going first
#   JOBS     runs, each NAME:RW:BS:QD (RW as fio's --rw)
#   PARTS    "loop" (fio on pvblk over pvio_loop + pvblkback over null_blk
#            against fio on that null_blk) and/or "backend" (pvio-bench
#            through pvblkback and through pvio-backd's io_uring engine on
#            two copies of one file)
#   FILE_MB  size of the backend comparison's file (tmpfs)
# Results go to the console as lines the host parses:
#   KBENCH result part=P job=NAME side=S round=R iops=I cpu_us=C
# where cpu_us is the whole guest's busy CPU time (all CPUs, every
# process and kernel thread: frontend, backend, interrupts) per IO.
# Progress lines start with "kbench:". Exit status: 0 all ran, 1 a run
# failed, 2 set-up failed.

. /pvio/kbench.conf

say() { echo "kbench: $*"; }
die() { echo "kbench: FAIL: $*"; exit "${2:-2}"; }

# Busy and total jiffies of all CPUs from /proc/stat: "BUSY TOTAL".
cpu_now() {
	awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i;
		print t - $5 - $6, t; exit }' /proc/stat
}

# Run "$@" (which prints its IO count on the last line of stdout) and
# print "IOS BUSY_JIFFIES".
measured() {
	local b0 b1 t0 t1 out ios
	read -r b0 t0 <<EOF
$(cpu_now)
EOF
	out=$("$@") || return 1
	read -r b1 t1 <<EOF
$(cpu_now)
EOF
	ios=$(printf '%s\n' "$out" | tail -n 1)
	case "$ios" in '' | *[!0-9]*) return 1 ;; esac
	echo "$ios $((b1 - b0))"
}

for m in pvblkback pvio_loop pvio_host; do
	insmod /pvio/$m.ko || die "insmod $m.ko"
done

ENGINE=io_uring
fio --enghelp 2>/dev/null | grep -q io_uring || ENGINE=libaio

# fio on block device $1: job $2 (RW:BS:QD); prints the IOs done.
fio_ios() {
	local dev=$1 rw bs qd
	IFS=: read -r rw bs qd <<EOF
$2
EOF
	fio --name=kb --filename="$dev" --direct=1 --ioengine=$ENGINE \
		--rw="$rw" --bs="$bs" --iodepth="$qd" --runtime="$RUNTIME" \
		--time_based --size=1G --norandommap --randrepeat=0 \
		--output-format=terse --terse-version=3 2>/dev/null |
		awk -F';' '$1 == 3 {
			# Terse v3: read IOPS and runtime (ms) in fields 8 and 9,
			# write in 49 and 50.
			printf "%.0f\n", $8 * $9 / 1000 + $49 * $50 / 1000 }'
}

# pvio-bench through socket $1: job $2; prints the IOs done.
bench_ios() {
	local sock=$1 rw bs qd
	IFS=: read -r rw bs qd <<EOF
$2
EOF
	/pvio/pvio-bench --engine=pvio --socket="$sock" --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --runtime="$RUNTIME" --no-progress --json |
		sed -n 's/.*"ios": *\([0-9]*\).*/\1/p' | head -n 1
}

report() { # part job side round "IOS BUSY"
	local ios busy hz=100
	read -r ios busy <<EOF
$5
EOF
	[ "$ios" -gt 0 ] || die "$1 $2 $3: no IO done" 1
	awk -v p="$1" -v j="$2" -v s="$3" -v r="$4" -v n="$ios" -v b="$busy" \
		-v hz=$hz -v t="$RUNTIME" 'BEGIN {
		printf "KBENCH result part=%s job=%s side=%s round=%s iops=%.0f cpu_us=%.2f\n",
			p, j, s, r, n / t, b * 1e6 / hz / n }'
}

# Run job $3 of part $1 on the two sides "$4" and "$5" (NAME=COMMAND),
# alternating which goes first with round $2.
pair() {
	local part=$1 round=$2 job=$3 first=$4 second=$5 name rw res side
	name=${job%%:*} rw=${job#*:}
	if [ $((round % 2)) -eq 0 ]; then
		set -- "$first" "$second"
	else
		set -- "$second" "$first"
	fi
	for side in "$@"; do
		res=$(measured ${side#*=} "$rw") || die "$part $name ${side%%=*}: run failed" 1
		report "$part" "$name" "${side%%=*}" "$round" "$res"
	done
}

# Every round of every job of part $1, sides "$2" and "$3" as for pair().
rounds() {
	local r job
	for r in $(seq "$ROUNDS"); do
		for job in $JOBS; do
			pair "$1" "$r" "$job" "$2" "$3"
		done
	done
}

part_loop() {
	local i
	[ -b /dev/nullb0 ] || die "no /dev/nullb0 (null_blk not loaded)"
	[ -w /sys/devices/pvio_loop/add ] || die "no /sys/devices/pvio_loop/add (pvio_loop not loaded)"
	echo "blk /dev/nullb0 queues=2" >/sys/devices/pvio_loop/add ||
		die "pvio_loop refused the pair"
	for i in $(seq 50); do [ -b /dev/pvblk0 ] && break; sleep 0.1; done
	[ -b /dev/pvblk0 ] || die "no /dev/pvblk0 after adding the loop pair"
	say "loop: pvblk0 over pvio_loop + pvblkback over nullb0"
	rounds loop "null_blk=fio_ios /dev/nullb0" "pvblk-loop=fio_ios /dev/pvblk0"
	echo 0 >/sys/devices/pvio_loop/remove || die "removing the loop pair" 1
}

part_backend() {
	local i
	[ -c /dev/pvio-back ] || die "no /dev/pvio-back (pvio_host not loaded)"
	mkdir -p /kb && mount -t tmpfs -o size=$((FILE_MB * 2 + 64))m tmpfs /kb ||
		die "tmpfs for the files"
	# One file per daemon: pvio-backd locks what it exports read-write.
	head -c $((FILE_MB * 1048576)) /dev/urandom >/kb/disk.img &&
		cp /kb/disk.img /kb/disk-k.img || die "writing the files"
	/pvio/pvio-backd --blk /kb/disk.img --socket /kb/uring.sock --queues 1 \
		>/kb/uring.log 2>&1 &
	/pvio/pvio-backd --blk /kb/disk-k.img --socket /kb/kernel.sock --queues 1 \
		--engine kernel >/kb/kernel.log 2>&1 &
	for i in $(seq 100); do
		grep -q '^pvio-backd: ready' /kb/uring.log &&
			grep -q '^pvio-backd: ready' /kb/kernel.log && break
		sleep 0.1
	done
	grep -q '^pvio-backd: ready' /kb/kernel.log ||
		die "pvio-backd --engine kernel did not start: $(cat /kb/kernel.log)"
	grep -q '^pvio-backd: ready' /kb/uring.log ||
		die "pvio-backd did not start: $(cat /kb/uring.log)"
	say "backend: pvio-bench via pvblkback and via pvio-backd (io_uring) on two ${FILE_MB} MiB tmpfs files of the same bytes"
	rounds backend "pvblkback=bench_ios /kb/kernel.sock" "backd-uring=bench_ios /kb/uring.sock"
	kill %1 %2 2>/dev/null
	wait
}

for p in $PARTS; do
	"part_$p"
done
say "done"
exit 0

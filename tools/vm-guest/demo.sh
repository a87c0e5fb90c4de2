# Guest side of tools/pvio-demo, run by tools/pvio-vm's /init after
# pvio_core, pvio_ivshmem and pvblk are loaded. Settings come from /pvio/demo.conf
# (shell variables written by pvio-demo):
#   RUNTIME  seconds per fio run
#   TESTS    fio runs, each NAME:RW:BS:QD (RW as fio's --rw)
#   REPEAT   rounds of TESTS (the devices take turns within each)
#   EXT4     1 to run the ext4 write/remount/verify check on /dev/pvblk0
# Results go to the console as lines the host parses:
#   PVIO-DEMO ext4 files=N bytes=B ok
#   PVIO-DEMO result dev=D test=NAME iops=I bw_kib=K requests=R notifies=N interrupts=Q p99_us=P
# Progress lines start with "demo:". Exit status: 0 all ran, 1 a check or
# a fio run failed, 2 a device is missing.

. /pvio/demo.conf

say() { echo "demo: $*"; }
fail() { echo "demo: FAIL: $*"; exit 1; }

# The block devices: pvblk0, and the virtio-blk disks told apart by the
# serial that the host gives the QEMU virtio-blk device (the vhost-user one
# has none).
[ -b /dev/pvblk0 ] || { echo "demo: FAIL: no /dev/pvblk0"; exit 2; }
devs="pvblk:/dev/pvblk0"
for s in /sys/block/vd*; do
	[ -e "$s" ] || continue
	d=${s##*/}
	serial=$(cat "$s/serial" 2>/dev/null)
	if [ "$serial" = pvio-demo-vblk ]; then
		devs="$devs virtio-blk:/dev/$d"
	else
		vhost="vhost-user-blk:/dev/$d"
	fi
done
[ -z "${vhost:-}" ] || devs="$devs $vhost"
say "devices: $devs"
for want in $WANT_DEVS; do
	case " $devs " in
	*" $want:"*) ;;
	*) echo "demo: FAIL: no $want device in the guest"; exit 2 ;;
	esac
done

# Sum of the pvblk queues' counters: "REQUESTS NOTIFIES INTERRUPTS".
pvstats() {
	awk '$1 == "queue" { r += $4; n += $6; i += $8 } END { print r + 0, n + 0, i + 0 }' \
		/sys/block/pvblk0/pvio_stats
}

if [ "${EXT4:-1}" = 1 ]; then
	say "ext4 on /dev/pvblk0: mkfs, write files, remount, verify"
	mkfs.ext4 -q -F -E lazy_itable_init=1,lazy_journal_init=1 /dev/pvblk0 ||
		fail "mkfs.ext4 /dev/pvblk0"
	mkdir -p /mnt
	mount -t ext4 /dev/pvblk0 /mnt || fail "mount /dev/pvblk0"
	n=0 bytes=0
	for kib in 4 60 512 1024 4096 8192 16384; do
		n=$((n + 1))
		dd if=/dev/urandom of=/mnt/file$n bs=1024 count=$kib 2>/dev/null ||
			fail "writing /mnt/file$n"
		bytes=$((bytes + kib * 1024))
	done
	mkdir -p /mnt/dir/sub && echo "pvio demo" >/mnt/dir/sub/hello
	(cd /mnt && sha256sum file* dir/sub/hello) >/tmp/sums || fail "sha256sum"
	umount /mnt || fail "umount"
	# A clean file system after the unmount, then every byte back.
	e2fsck -fn /dev/pvblk0 >/tmp/fsck.log 2>&1 || { cat /tmp/fsck.log; fail "e2fsck"; }
	echo 3 >/proc/sys/vm/drop_caches
	mount -t ext4 -o ro /dev/pvblk0 /mnt || fail "remount /dev/pvblk0"
	(cd /mnt && sha256sum -c /tmp/sums) >/tmp/check.log 2>&1 ||
		{ cat /tmp/check.log; fail "checksums differ after the remount"; }
	umount /mnt
	say "ext4: $((n + 1)) files, $bytes bytes, checksums match after remount, fsck clean"
	echo "PVIO-DEMO ext4 files=$((n + 1)) bytes=$bytes ok"
	# Give the blocks back, so that the fio runs find pvblk's image as
	# empty as the other two: reads of unwritten blocks cost the host less.
	blkdiscard /dev/pvblk0 || fail "blkdiscard /dev/pvblk0"
	say "ext4: discarded the whole of /dev/pvblk0 again"
fi

engine=libaio
if fio --enghelp 2>/dev/null | grep -qw io_uring &&
	[ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 0 ]; then
	engine=io_uring
fi
say "fio: $engine, direct=1, ${RUNTIME}s per run"
echo "PVIO-DEMO engine=$engine"

rc=0
all=
round=0
while [ $round -lt "${REPEAT:-1}" ]; do
	all="$all $TESTS"
	round=$((round + 1))
done
# Each run starts with the next device in turn, so that no device always
# goes first (after an idle guest) or last.
rotate() {
	_n=$1
	shift
	while [ "$_n" -gt 0 ]; do
		_f=$1
		shift
		set -- "$@" "$_f"
		_n=$((_n - 1))
	done
	echo "$@"
}
ndevs=$(echo $devs | wc -w)
# Warm-up, not measured: under TCG the first run of fio and of each
# driver's paths pays for translating that code, which would count against
# whichever device went first.
IFS=: read -r name rw bs qd <<EOF
${TESTS%% *}
EOF
for d in $devs; do
	fio --name=warmup --filename="${d#*:}" --rw="$rw" --bs="$bs" --iodepth="$qd" \
		--ioengine="$engine" --direct=1 --numjobs=1 --time_based --runtime=1 \
		--norandommap --randrepeat=0 --output-format=terse >/dev/null 2>&1
done
say "warm-up: 1 s of ${name} on each device"
run=0
for t in $all; do
	IFS=: read -r name rw bs qd <<EOF
$t
EOF
	order=$(rotate $((run % ndevs)) $devs)
	run=$((run + 1))
	for d in $order; do
		dev=${d%%:*} path=${d#*:}
		[ "$dev" != pvblk ] || set -- $(pvstats)
		out=$(fio --name="$name" --filename="$path" --rw="$rw" --bs="$bs" \
			--iodepth="$qd" --ioengine="$engine" --direct=1 --numjobs=1 \
			--time_based --runtime="$RUNTIME" --norandommap --randrepeat=0 \
			--output-format=terse --terse-version=3 2>/tmp/fio.err)
		if [ $? -ne 0 ]; then
			cat /tmp/fio.err
			echo "demo: FAIL: fio $name on $dev"
			rc=1
			continue
		fi
		# Terse v3: read KiB/s and IOPS in fields 7 and 8, write in 48,
		# 49; completion latency percentiles "99.000000%=USEC" in 18-37
		# (read) and 59-78 (write): the larger p99 of the two.
		line=$(echo "$out" | awk -F';' '$1 == 3 {
			p99 = 0
			for (i = 18; i <= 78; i++)
				if ($i ~ /^99\.0+%=/ && substr($i, index($i, "=") + 1) + 0 > p99)
					p99 = substr($i, index($i, "=") + 1) + 0
			print $7 + $48, $8 + $49, p99 }' | tail -n 1)
		read -r bw iops p99 <<EOF
$line
EOF
		stats="requests=0 notifies=0 interrupts=0"
		if [ "$dev" = pvblk ]; then
			r0=$1 n0=$2 i0=$3
			set -- $(pvstats)
			stats="requests=$(($1 - r0)) notifies=$(($2 - n0)) interrupts=$(($3 - i0))"
		fi
		say "$dev $name: $iops IOPS, $bw KiB/s"
		echo "PVIO-DEMO result dev=$dev test=$name iops=$iops bw_kib=$bw $stats p99_us=$p99"
	done
done
exit $rc

# Checks shared by the guest scripts that put ext4 on a pvblk disk
# (pvblk-main.sh, pvblkback-main.sh) and result lines and disk lookups for
# others (pvblk-hostile-*.sh, the restart scripts); passed in with pvio-vm-run's
# --file HOST:/pvio/lib-fs.sh and sourced. The script sets, before
# sourcing: PREFIX (its result lines read "PREFIX: PASS <check>" and
# "PREFIX: FAIL <check>: why", which the host suites look for) and MNT
# (the mount point). Sets failed=1 once any check failed.

MiB=1048576
failed=0

pass() { echo "$PREFIX: PASS $1"; }
fail() { echo "$PREFIX: FAIL $1: $2"; failed=1; }
fail_all() {
	fail "$1" "$2"
	dmesg | grep -E 'pvblk|pvio' | tail -n 30
	exit 1
}

# disk_of PCI: the pvblk disk under PCI device PCI's pvio device, or nothing.
disk_of() {
	for b in /sys/bus/pci/devices/"$1"/pvio*/block/pvblk*; do
		[ -e "$b" ] && basename "$b" && return
	done
}

# wait_disk PCI SECONDS: wait for a disk on PCI device PCI; print its name.
wait_disk() {
	i=0
	while [ $i -lt $(($2 * 5)) ]; do
		n=$(disk_of "$1")
		[ -n "$n" ] && [ -b "/dev/$n" ] && echo "$n" && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# fs_files DEV: make ext4 on /dev/DEV, write eight files of random bytes
# (64 MiB in all, most sizes not multiples of a block) under $MNT/data,
# keep their checksums in /tmp/sums, then unmount, drop the caches, mount
# again and compare: check "fs". Leaves the file system mounted on $MNT.
fs_files() {
	fs_ok=1
	/pvio/mkfs.ext4 -q -F "/dev/$1" || fail_all fs-mkfs "mkfs.ext4 /dev/$1 failed"
	mkdir -p "$MNT"
	mount -t ext4 "/dev/$1" "$MNT" || fail_all fs-mount "mounting /dev/$1 failed"
	mkdir -p "$MNT/data/sub"
	n=0 total=0
	for size in 4097 $((MiB + 511)) $((3 * MiB)) $((5 * MiB - 1)) $((7 * MiB + 4095)) \
		$((11 * MiB + 1)) $((16 * MiB)) $((21 * MiB - 4603)); do
		n=$((n + 1))
		f=data/f$n
		[ $n -gt 5 ] && f=data/sub/f$n
		head -c $size /dev/urandom >"$MNT/$f" || { fs_ok=0; fail fs "writing $f failed"; }
		total=$((total + size))
	done
	echo "$PREFIX: wrote $n files, $total bytes"
	sync
	(cd "$MNT" && find data -type f | sort | xargs sha256sum) >/tmp/sums
	[ "$(wc -l </tmp/sums)" = $n ] ||
		{ fs_ok=0; fail fs "checksummed $(wc -l </tmp/sums) files"; }
	umount "$MNT" || fail_all fs-umount "umount failed"
	echo 3 >/proc/sys/vm/drop_caches
	mount -t ext4 "/dev/$1" "$MNT" || fail_all fs-remount "mounting /dev/$1 again failed"
	if (cd "$MNT" && sha256sum -c /tmp/sums >/tmp/check.out 2>&1); then
		[ $fs_ok = 1 ] && pass fs
	else
		fail fs "checksums differ after remounting"
		cat /tmp/check.out
	fi
}

# fs_print_sums TAG: the files' current checksums as "TAG: SHA256 PATH"
# lines (PATH relative to the file system's root), which the host compares
# with the image.
fs_print_sums() {
	(cd "$MNT" && find data -type f | sort | xargs sha256sum) | sed "s/^/$1: /; s/  / /"
}

# fs_discard: write a 64 MiB file, remove it and fstrim $MNT: check
# "discard". The host measures the image's allocation at the markers
# "PREFIX: discard-peak" and "PREFIX: discard-trimmed".
fs_discard() {
	if ! dd if=/dev/zero of="$MNT/big" bs=$MiB count=64 conv=fsync 2>/tmp/dd.err; then
		fail discard "writing the 64 MiB file failed: $(cat /tmp/dd.err)"
		return
	fi
	sync
	echo "$PREFIX: discard-peak"
	sleep 3
	rm "$MNT/big"
	sync
	out=$(fstrim -v "$MNT" 2>&1)
	rc=$?
	sync
	echo "$PREFIX: fstrim: $out (exit $rc)"
	echo "$PREFIX: discard-trimmed"
	sleep 3
	trimmed=$(echo "$out" | sed -n 's/.*: \([0-9]*\) bytes trimmed.*/\1/p')
	if [ $rc -eq 0 ] && [ "${trimmed:-0}" -ge $((64 * MiB)) ]; then
		pass discard
	else
		fail discard "fstrim exited $rc, trimmed '${trimmed}' bytes (< 64 MiB)"
	fi
}

# run_fio NAME FILE SIZE [fio options]: random writes of 4-64 KiB over
# SIZE bytes of FILE, direct, verified with crc32c; output in
# /tmp/NAME.out. Uses libaio, or psync where fio cannot load libaio; sets
# FIO_ENGINE to the one used. Returns 0 if fio verified everything.
run_fio() {
	name=$1 file=$2 size=$3
	shift 3
	FIO_ENGINE=libaio
	/pvio/fio --name="$name" --filename="$file" --rw=randwrite --bsrange=4k-64k \
		--size="$size" --direct=1 --iodepth=8 --verify=crc32c --do_verify=1 \
		--verify_fatal=1 --randrepeat=0 --ioengine=libaio "$@" \
		--output="/tmp/$name.out"
	rc=$?
	if [ $rc -ne 0 ] && grep -q 'engine libaio not loadable\|failed to load engine' \
		"/tmp/$name.out"; then
		FIO_ENGINE=psync
		/pvio/fio --name="$name" --filename="$file" --rw=randwrite --bsrange=4k-64k \
			--size="$size" --direct=1 --verify=crc32c --do_verify=1 \
			--verify_fatal=1 --randrepeat=0 --ioengine=psync "$@" \
			--output="/tmp/$name.out"
		rc=$?
	fi
	grep -E 'WRITE:|READ:|err=' "/tmp/$name.out"
	[ $rc -eq 0 ] && grep -q 'err= 0' "/tmp/$name.out" &&
		! grep -qi 'verify.*bad\|crc32c.*wanted' "/tmp/$name.out"
}

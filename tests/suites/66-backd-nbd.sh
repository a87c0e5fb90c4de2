# pvio-backd on NBD exports (--blk nbd+unix:///?socket=... through
# libnbd): nbdkit's memory plugin with two queues, on a UNIX socket and
# over TCP (write, read back, FUA, flush, discard, write-zeroes, a
# --verify run), qemu-nbd over a raw file (one queue without multi-conn;
# the file holds exactly what was written), read-only exports (writes
# ROFS), the server killed during writes (IO errors within a bound, one
# log line, the daemon's other device keeps serving), start-up errors (no
# server, bad URIs: exit 1). Runs on the plain build and the ASan+UBSan
# build (any report fails the test), the memory and kill cases under
# ThreadSanitizer too. Skipped (77) without nbdkit; the qemu case also
# without qemu-nbd.
#
# Wall times on the 2-core development machine, seconds: each case 1-4,
# about twice that under the sanitizers; builds as in 60-backd.

t_run build-backd-nbd make -s build/pvio-backd build/pvio-bench \
	build/tests/progs/hostile_frontend build/tests/progs/front_blkop
t_run build-backd-nbd-asan make -s SAN=asan build/asan/pvio-backd \
	build/asan/tests/progs/hostile_frontend
t_run build-backd-nbd-tsan make -s SAN=tsan build/tsan/pvio-backd \
	build/tsan/tests/progs/hostile_frontend

for san in '' asan tsan; do
	b=build${san:+/$san}
	sfx=${san:+-$san}
	cases='memory qemu ro kill errors'
	[ "$san" = tsan ] && cases='memory kill'
	for c in $cases; do
		t_run "backd-nbd-$c$sfx" tests/integration/backd-nbd.sh "$b" "$c"
	done
done
unset san b sfx c cases

# pvio-backd, the userspace block backend daemon: its command line, a
# hostile frontend next to a well-behaved one, one frontend at a time and
# reconnects, SIGTERM with IO in flight, several queues and --poll, a block
# device as backing store, stock QEMU attaching; make install and the
# systemd unit (backd-systemd: install, uninstall, systemd-analyze verify,
# the readiness notification). Every daemon test runs on
# the plain build and on the ASan+UBSan build, where any sanitizer report
# fails the test (halt_on_error, exit codes 66/67); the tests that stress
# the IO threads run under ThreadSanitizer too (exit code 68).
#
# Wall times on the 2-core development machine, seconds: builds 2-40 (the
# sanitizer builds, from nothing); each daemon test 1-3 (backd-qemu: QEMU
# with TCG, firmware only, no guest kernel); about twice that under the
# sanitizers; backd-store-lock about 8, backd-stuck-engine 5. The whole
# suite: under a minute when built.

t_run build-backd make -s build/pvio-backd build/tests/progs/hostile_frontend
t_run backd-systemd tests/integration/backd-systemd.sh build
t_run build-backd-asan make -s SAN=asan build/asan/pvio-backd \
	build/asan/tests/progs/hostile_frontend
t_run build-backd-tsan make -s SAN=tsan build/tsan/pvio-backd \
	build/tsan/tests/progs/hostile_frontend

for san in '' asan tsan; do
	b=build${san:+/$san}
	sfx=${san:+-$san}
	tests='cli hostile twofront revoke socket-access sigterm store-lock stuck-engine mq blkdev qemu'
	[ "$san" = tsan ] && tests='hostile twofront sigterm mq'
	for t in $tests; do
		t_run "backd-$t$sfx" tests/integration/backd-$t.sh "$b"
	done
done
unset san b sfx t tests

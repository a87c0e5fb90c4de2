# Hostile peers against the userspace parts (issue 11): pvio-backd out of
# descriptors (finding 9), doorbell floods on one device next to a second
# one (finding 10 and the notification flood), connect/close cycling
# (finding 11), a frontend scribbling over its region while it runs IO
# next to a good one on another device; plain and under ASan+UBSan. The
# library and ivshmem client findings (1, 2, 5, 6) are cmocka cases in
# unit-front-hostile and unit-ivshmem-proto (suites 70 and 50).
#
# Wall times on the 2-core development machine, seconds: backd-emfile 4,
# backd-notify-flood 12-25 (two floods, up to two tries each),
# backd-cycle 4, backd-scribble 25 (PVIO_FRONT_SCRIBBLE_S, default 20 s);
# about twice that under the sanitizers.

t_run build-hostile-user make -s build/pvio-backd build/tests/progs/hostile_frontend
t_run build-hostile-user-asan make -s SAN=asan build/asan/pvio-backd \
	build/asan/tests/progs/hostile_frontend

for san in '' asan; do
	b=build${san:+/$san}
	sfx=${san:+-$san}
	for t in emfile notify-flood cycle scribble; do
		t_run "backd-$t$sfx" tests/integration/backd-$t.sh "$b"
	done
done
unset san b sfx t

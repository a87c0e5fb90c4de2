# Userspace block path: the frontend library (front/libpvio) against a
# hostile test backend (plain, under ASan + UBSan and under TSan), and end to end
# against pvio-backd with pvio-bench: 256 MiB verified write/read-back,
# flush, discard, RANGE, a read-only export, the buffered-IO fallback on a
# file system without O_DIRECT, no pauses with every queue slot in use, the
# adaptive idle poll of the backend and of the library, the backend's poll
# for completions while IO is in flight, a --compare smoke
# run, and the command-line checks. These need build/pvio-backd; without it
# they fail (they do not skip).
#
# Wall times on the 2-core development machine (shared, noisy), seconds:
# builds 0-40 (the sanitizer builds when nothing is built yet);
# unit-front-hostile 1, under ASan 1-2, under TSan 1-2; front-e2e 3-6,
# under ASan 5-8; backd-buffered 1-2; backd-full-ring 5; backd-idle-poll 5;
# backd-io-poll 3; front-adaptive-poll 3; bench-compare-smoke 2-3; bench-bad-options < 1;
# bench-sweep 4-6.

t_run build-front make -s tools unit progs
t_run build-front-asan make -s SAN=asan tools unit progs
t_run build-front-tsan make -s SAN=tsan unit progs

t_cmocka unit-front-hostile build/tests/unit/front/test_front_hostile
t_cmocka unit-front-hostile-asan build/asan/tests/unit/front/test_front_hostile
# Two queues driven by two threads without locks: any ThreadSanitizer report
# exits 66 after cmocka's summary, which t_cmocka counts as a failure.
TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
	t_cmocka unit-front-hostile-tsan build/tsan/tests/unit/front/test_front_hostile

t_run front-e2e tests/integration/front-e2e.sh build
# The same with every program built with ASan + UBSan (a report exits
# non-zero, which fails the step that ran the program).
t_run front-e2e-asan tests/integration/front-e2e.sh build/asan
t_run backd-buffered tests/integration/backd-buffered.sh build
t_run backd-full-ring tests/integration/backd-full-ring.sh build
t_run backd-idle-poll tests/integration/backd-idle-poll.sh build
t_run backd-io-poll tests/integration/backd-io-poll.sh build
t_run front-adaptive-poll tests/integration/front-adaptive-poll.sh build
t_run bench-compare-smoke tests/integration/bench-compare-smoke.sh build
t_run bench-bad-options tests/integration/bench-bad-options.sh build
t_run bench-sweep tests/integration/bench-sweep.sh build

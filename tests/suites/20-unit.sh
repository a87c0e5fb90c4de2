# Userspace unit tests: the ring and the ABI (cmocka), the ring stress test
# and the lost-wakeup test, plain and under ThreadSanitizer.
#
# Wall times on the 2-core development machine (noisy, shared), seconds:
#   build-tsan 1; unit-ring, unit-abi < 1;
#   ring-stress-poll 1, ring-stress-sleep 4-5, ring-wakeup 4-5;
#   under TSan: ring-stress-poll 3-9, ring-stress-sleep 2-4, ring-wakeup 4-6.
# The TSan runs use the same counts as the plain ones: 100 million entries
# take about 3 s under TSan here, well below the budget of a few minutes.
# The sleeping-mode stress run moves 20 million entries rather than 100
# million because every doorbell there is an eventfd system call (about
# 4.5 M entries/s, 22 s for 100 million); the polling run does the full
# 100 million.

# The plain build is also part of 10-build; repeated here so that this suite
# runs alone (PVIO_TESTS=...).
t_run build-unit make -s unit
t_run build-tsan make -s SAN=tsan unit

t_cmocka unit-ring build/tests/unit/ring/test_ring
t_cmocka unit-abi build/tests/unit/abi/test_abi

t_run ring-stress-poll build/tests/unit/ring/test_ring_stress 100000000 poll
t_run ring-stress-sleep build/tests/unit/ring/test_ring_stress 20000000 sleep
t_run ring-wakeup build/tests/unit/ring/test_ring_wakeup 1000000

# Any ThreadSanitizer report stops the program with exit status 66, which
# fails the test.
unit_tsan=(env TSAN_OPTIONS="halt_on_error=1 exitcode=66")
t_run ring-stress-poll-tsan "${unit_tsan[@]}" \
	build/tsan/tests/unit/ring/test_ring_stress 100000000 poll
t_run ring-stress-sleep-tsan "${unit_tsan[@]}" \
	build/tsan/tests/unit/ring/test_ring_stress 20000000 sleep
t_run ring-wakeup-tsan "${unit_tsan[@]}" \
	build/tsan/tests/unit/ring/test_ring_wakeup 1000000
unset unit_tsan

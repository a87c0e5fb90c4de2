# Backend restart: the ring-level reset and replay (cmocka), and the
# frontend library surviving a restarting backend end to end (stamp
# writer and verifier against test_backend --mode restart): hundreds of
# restarts with no error and every acknowledged block intact, a backend
# away longer than reconnect_ms (writes fail with ENOTCONN within a bound,
# then the library connects to the backend that comes back).
#
# Wall times on the 2-core development machine, seconds: build 0-30;
# unit-ring-reconnect < 1; front-restart 12-20.

t_run build-front-restart make -s unit progs
t_cmocka unit-ring-reconnect build/tests/unit/ring/test_reconnect
t_run front-restart tests/integration/front-restart.sh build

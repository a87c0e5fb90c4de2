# Checks shared by the guest scripts whose stamp writer (tests/progs/stamp)
# runs through backend restarts (engine-restart.sh, driver-vm-front-stamp.sh);
# passed in with pvio-vm-run's --file HOST:/pvio/lib-stamp.sh and sourced
# after lib-fs.sh (pass/fail, PREFIX).

# stamp_checks RC WANT WHAT: RC is the writer's exit status, WANT the
# restarts the host made (of WHAT, for the message). Checks: no failed
# write, progress, no IO error in dmesg, pvblk counted at least WANT
# reconnects (the last line of pvio_stats); then prints the writer's log
# between "stamp-log: begin" and "stamp-log: end" for the host's verify.
stamp_checks() {
	if [ "$1" -eq 0 ] && ! grep -q '^ERR' /tmp/stamp.log; then
		pass writer-no-errors
	else
		fail writer-no-errors "stamp exited $1, $(grep -c '^ERR' /tmp/stamp.log) failed writes"
	fi
	acks=$(grep -c '^ACK' /tmp/stamp.log)
	if [ "$acks" -gt 100 ]; then pass writer-progress; else
		fail writer-progress "only $acks acknowledged writes"; fi
	n=$(dmesg | grep -c -E 'I/O error|pvblk[0-9]+: .*failing')
	if [ "$n" -eq 0 ]; then pass no-io-errors; else
		fail no-io-errors "$n error lines in dmesg"; fi
	stats=$(cat /sys/block/pvblk0/pvio_stats)
	echo "$stats"
	rec=$(echo "$stats" | sed -n 's/.*reconnects \([0-9]*\).*/\1/p' | tail -n 1)
	if [ -n "$rec" ] && [ "$rec" -ge "$2" ]; then
		pass reconnects
	else
		fail reconnects "pvblk reconnected ${rec:-?} times, the host restarted the $3 $2 times"
	fi
	dmesg | grep -E 'pvblk' | tail -n 6
	echo "stamp-log: begin"
	cat /tmp/stamp.log
	echo "stamp-log: end"
}

# Helpers shared by test suites (sourced by tests/run-all) and by the test
# scripts under tests/integration/ (which source it themselves).

# t_wait_for FILE REGEX SECONDS [PID]: wait until a line of FILE (carriage
# returns ignored, so console logs work) matches the extended REGEX. Gives
# up after SECONDS, or at once when PID is given and has exited.
t_wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		{ tr -d '\r' <"$1"; } 2>/dev/null | grep -Eq "$2" && return 0
		[ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null && return 1
		sleep 0.1
	done
	return 1
}

# The two helpers below talk to QEMU's HMP monitor, written through file
# descriptor 3, whose output goes to the file named by $QMON_LOG.

# qemu_ivshmem_bar2: wait until the firmware has placed BAR2 of the first
# ivshmem device (1af4:1110); sets BAR2_START and BAR2_SIZE. Prints why and
# returns 1 if the device is missing or the BAR never gets an address.
qemu_ivshmem_bar2() {
	local i out='' bar2=''
	for ((i = 0; i < 60; i++)); do
		: >"$QMON_LOG"
		echo "info pci" >&3
		sleep 0.5
		out=$(tr -d '\r\0' <"$QMON_LOG")
		bar2=$(sed -n '/PCI device 1af4:1110/,/id ""/s/.*BAR2: 64 bit prefetchable memory at \(0x[0-9a-f]*\) \[\(0x[0-9a-f]*\)\].*/\1 \2/p' <<<"$out")
		[ -n "$bar2" ] && [ "${bar2%% *}" != 0xffffffffffffffff ] && break
		bar2=''
	done
	if ! grep -q 'PCI device 1af4:1110' <<<"$out"; then
		echo "info pci does not list 1af4:1110"
		return 1
	fi
	if [ -z "$bar2" ]; then
		echo "BAR2 of 1af4:1110 never got an address"
		return 1
	fi
	BAR2_START=${bar2%% *}
	BAR2_SIZE=$(( ${bar2##* } - BAR2_START + 1 ))
}

# qemu_xp ADDR: print one 64-bit word of guest-physical memory at ADDR.
qemu_xp() {
	: >"$QMON_LOG"
	printf 'xp /1xg 0x%x\n' "$1" >&3
	t_wait_for "$QMON_LOG" ': 0x[0-9a-f]+' 10 || { echo "no xp output"; return 1; }
	tr -d '\r\0' <"$QMON_LOG" | sed -n 's/.*: \(0x[0-9a-f]*\).*/\1/p' | head -n 1
}

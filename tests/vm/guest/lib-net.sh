# Helpers of the guest scripts of the network tests (pvnet-main.sh,
# pvnet-hostile.sh), sourced as /pvio/lib-net.sh after PREFIX is set.
# pass CHECK and fail CHECK WHY print the "PREFIX: PASS/FAIL" lines the
# host reads; fail sets failed=1.

failed=0

pass() { echo "$PREFIX: PASS $1"; }
fail() {
	echo "$PREFIX: FAIL $1: $2"
	failed=1
}

# ifname_of PCI: the network interface whose device sits under PCI
# function PCI (0000:00:SS.0).
ifname_of() {
	for n in /sys/class/net/*; do
		case "$(readlink -f "$n/device" 2>/dev/null)" in
		*/"$1"/*) echo "${n##*/}"; return 0 ;;
		esac
	done
	return 1
}

# wait_file_is FILE VALUE SECONDS: until FILE holds VALUE; 1 on timeout.
wait_file_is() {
	i=0
	while [ "$(cat "$1" 2>/dev/null)" != "$2" ]; do
		[ $i -lt $(($3 * 10)) ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
}

# stat_of IF NAME: one of the interface's standard counters (sysfs).
stat_of() { cat "/sys/class/net/$1/statistics/$2"; }

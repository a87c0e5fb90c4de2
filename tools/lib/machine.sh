# SPDX-License-Identifier: MIT
# The machine a measurement ran on, as one JSON object, for the shell tools
# that write JSON; tools/lib/machine.c is the same object for the C
# programs: keep the two in step. Source this file, then
#
#     pvio_machine_json [QEMU [ACCEL]]
#
# prints the object (one line, no key): cpu_model, cores, memory_mib,
# kernel (uname -r), os (PRETTY_NAME of /etc/os-release), qemu (the first
# line of `QEMU --version` without its "QEMU emulator version " prefix, or
# null without QEMU), accel (ACCEL, e.g. kvm or tcg; "none" without QEMU),
# pvio_version ($PVIO_VERSION, else the Makefile's), pvio_git (git describe
# of the tree, or null) and date_utc (ISO 8601). No host name, no address.
# A field that cannot be read is null.

# A JSON string, or null for an empty argument.
pvio_json_str() {
	[ -n "$1" ] || { printf null; return; }
	printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed 's/[\\"]/\\&/g')"
}

pvio_machine_json() {
	local qemu=${1:-} accel=${2:-} top cpu cores mem os qv='' ver git
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
	cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null)
	mem=$(awk '$1 == "MemTotal:" { print int($2 / 1024) }' /proc/meminfo 2>/dev/null)
	os=$(. /etc/os-release 2>/dev/null && printf '%s' "${PRETTY_NAME:-}")
	if [ -n "$qemu" ]; then
		qv=$("$qemu" --version 2>/dev/null | head -n 1)
		qv=${qv#QEMU emulator version }
		: "${accel:=unknown}"
	else
		accel=none
	fi
	ver=${PVIO_VERSION:-$(sed -n 's/^PVIO_VERSION *:= *//p' "$top/Makefile" 2>/dev/null)}
	git=$(git -C "$top" describe --always --dirty 2>/dev/null)
	printf '{"cpu_model":%s,"cores":%s,"memory_mib":%s,"kernel":%s,"os":%s,' \
		"$(pvio_json_str "$cpu")" "${cores:-null}" "${mem:-null}" \
		"$(pvio_json_str "$(uname -r)")" "$(pvio_json_str "$os")"
	printf '"qemu":%s,"accel":%s,"pvio_version":%s,"pvio_git":%s,"date_utc":%s}' \
		"$(pvio_json_str "$qv")" "$(pvio_json_str "$accel")" \
		"$(pvio_json_str "$ver")" "$(pvio_json_str "$git")" \
		"$(pvio_json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
}

# pvio_cmdline ARGV...: the command line as a shell would read it back,
# quoting only the arguments that need it.
pvio_cmdline() {
	local out='' a
	for a in "$@"; do
		[[ $a =~ ^[A-Za-z0-9_./=,:+@%-]+$ ]] || a="'${a//\'/\'\\\'\'}'"
		out="$out${out:+ }$a"
	done
	printf '%s' "$out"
}

# pvio_vm_accel FILE: the accelerator (kvm or tcg) that a copy of
# tools/pvio-vm's stderr says the guest booted with; empty if it does not
# say. Waits up to 1 s for the line, which a tee may still be copying.
pvio_vm_accel() {
	local i a=''
	for ((i = 0; i < 10; i++)); do
		a=$(sed -n 's/.*: booting .* (\(kvm\|tcg\), .*/\1/p' "$1" 2>/dev/null | head -n 1)
		[ -z "$a" ] || break
		sleep 0.1
	done
	printf '%s' "$a"
}

# pvio_results_json MACHINE COMMAND FILE COLUMNS [MEMBERS]: a results
# file (one run per line, fields separated by blanks) as one JSON object:
# {"machine":MACHINE,"command":COMMAND,MEMBERS,"results":[{...}, ...]}
# (MACHINE: pvio_machine_json's object, empty for null) with
# one object per line whose keys are the space-separated COLUMNS; numbers
# stay numbers, "-" and missing fields become null, anything else a
# string. MEMBERS, if given, is more JSON members ("key":value,...).
pvio_results_json() {
	local machine=${1:-null} cmd=$2 file=$3 cols=$4 members=${5:-}
	printf '{"machine":%s,"command":%s,%s"results":[' "$machine" \
		"$(pvio_json_str "$cmd")" "${members:+$members,}"
	awk -v cols="$cols" '
	BEGIN { nc = split(cols, c, " ") }
	NF {
		printf "%s{", (n++ ? "," : "")
		for (i = 1; i <= nc; i++) {
			v = $i
			if (i > NF || v == "-")
				v = "null"
			else if (v !~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) {
				gsub(/[\\"]/, "\\\\&", v)
				v = "\"" v "\""
			}
			printf "%s\"%s\":%s", (i > 1 ? "," : ""), c[i], v
		}
		printf "}"
	}' "$file"
	printf ']}\n'
}

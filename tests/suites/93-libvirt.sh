# libvirt, for real: the domain XML of tools/pvio-vm --print is valid
# (virt-xml-validate), and a private libvirt daemon boots it. The daemon
# is Debian's libvirtd in session mode, as an unprivileged user (nobody
# when the tests run as root), with its configuration, run, cache and
# state directories all in a private directory: no system service is
# used, started or changed. pvio-backd, started as --print says, serves a
# disk image to the domain's <shmem> device; in the guest, ext4 is made,
# written and checked on /dev/pvblk0 (tests/vm/guest/libvirt-fs.sh).
# Everything started is stopped again in every path.
# Sourced by tests/run-all.

LV_NAME=pvio-libvirt-test

# lv_print OUT [pvio-vm options]: pvio-vm --print into OUT, for one 256 MiB
# image; the domain document alone into OUT.xml.
lv_print() {
	local out=$1
	shift
	"$TOP/tools/pvio-vm" --print --name "$LV_NAME" --mem 512 --smp 2 "$@" >"$out" 2>&1 ||
		{ cat "$out"; echo "pvio-vm --print failed"; return 1; }
	sed -n '/^<domain /,/^<\/domain>$/p' "$out" >"$out.xml"
	[ -s "$out.xml" ] || { cat "$out"; echo "no <domain> document in --print's output"; return 1; }
}

# The XML --print emits is a valid libvirt domain, and the validator is
# not a rubber stamp: the same document with an unknown element is refused.
libvirt_xml_valid() {
	command -v virt-xml-validate >/dev/null ||
		{ echo "SKIP: virt-xml-validate not installed (libvirt-clients, tools/pvio-deps)"; return 77; }
	local d=$TOP/build/libvirt-test
	mkdir -p "$d" || return 1
	lv_print "$d/print.out" --disk /srv/a.img,queues=2 --disk /srv/b.img,ro \
		--run-dir /run/pvio --log /var/log/pvio/console.log || return 1
	cat "$d/print.out.xml"
	virt-xml-validate "$d/print.out.xml" domain || { echo "virt-xml-validate refused it"; return 1; }
	local want
	for want in "<name>$LV_NAME</name>" "<memory unit='MiB'>512</memory>" \
		"<initrd>/run/pvio/initramfs.gz</initrd>" \
		"<source path='/var/log/pvio/console.log'/>" \
		"<server path='/run/pvio/pvio0.sock'/>" "<server path='/run/pvio/pvio1.sock'/>" \
		"slot='0x10'" "slot='0x11'"; do
		grep -qF -- "$want" "$d/print.out.xml" || { echo "missing from the domain: $want"; return 1; }
	done
	sed 's|<devices>|<devices><no-such-device/>|' "$d/print.out.xml" >"$d/broken.xml"
	if virt-xml-validate "$d/broken.xml" domain >/dev/null 2>&1; then
		echo "virt-xml-validate accepted a domain with <no-such-device/>"
		return 1
	fi
	local rc
	"$TOP/tools/pvio-vm" --print --name 'a/b' --disk /srv/a.img 2>&1
	rc=$?
	[ $rc -eq 2 ] || { echo "--name 'a/b': expected exit 2, got $rc"; return 1; }
	echo "valid; a broken copy is refused; a bad --name is a usage error"
}

# The user the daemon, virsh and so the domain's QEMU run as.
lv_user() {
	if [ "$(id -u)" -eq 0 ]; then
		LV_UID=$(id -u nobody 2>/dev/null) && LV_GID=$(id -g nobody 2>/dev/null) ||
			return 1
	else
		LV_UID=$(id -u) LV_GID=$(id -g)
	fi
}

# lv_as_init: set LV_AS, the prefix that runs a command as that user, with
# nothing of the caller's environment but PATH, and every libvirt
# directory under $LV. setpriv and env exec: a command started in the
# background with it has the pid $! says.
lv_as_init() {
	LV_AS=()
	[ "$(id -u)" -ne 0 ] || LV_AS=(setpriv --reuid="$LV_UID" --regid="$LV_GID" --clear-groups)
	LV_AS+=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$LV/home"
		XDG_RUNTIME_DIR="$LV/run" XDG_CONFIG_HOME="$LV/config" XDG_CACHE_HOME="$LV/cache"
		LIBVIRT_DEFAULT_URI="qemu:///session?socket=$LV/run/libvirt/libvirt-sock")
}

# lv_pids_of DIR: the processes whose command line or environment names
# DIR (what was started for the test, whoever its parent is now).
lv_pids_of() {
	local p
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" != "$BASHPID" ] || continue
		{ grep -qzF -- "$1" "$p/cmdline" || grep -qzF -- "$1" "$p/environ"; } 2>/dev/null &&
			echo "${p#/proc/}"
	done
}

lv_virsh() { "${LV_AS[@]}" timeout 60 virsh -q "$@"; }

# lv_stop PID NAME: SIGTERM, up to 10 s, then SIGKILL.
lv_stop() {
	local i
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
	kill -TERM "$1" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "$2 ($1) did not exit on SIGTERM; killing it"
	kill -KILL "$1" 2>/dev/null
}

# Run from the EXIT trap: the domain, the daemon, then the backend. A
# domain QEMU outlives its daemon, so it is stopped before the daemon, and
# by its pid file should destroy have failed.
lv_cleanup() {
	local qpid
	set +e
	if [ -n "$LV_DAEMON" ] && kill -0 "$LV_DAEMON" 2>/dev/null; then
		lv_virsh destroy "$LV_NAME" >/dev/null 2>&1
		lv_virsh undefine "$LV_NAME" >/dev/null 2>&1
	fi
	qpid=$(cat "$LV/run/libvirt/qemu/run/$LV_NAME.pid" 2>/dev/null)
	if [ -n "$qpid" ] && tr '\0' ' ' <"/proc/$qpid/cmdline" 2>/dev/null | grep -qF -- "$LV/"; then
		lv_stop "$qpid" "the domain's QEMU"
	fi
	lv_stop "$LV_DAEMON" libvirtd
	[ -z "$LV_DAEMON" ] || wait "$LV_DAEMON" 2>/dev/null
	lv_stop "$LV_BACKD" pvio-backd
	[ -z "$LV_BACKD" ] || wait "$LV_BACKD" 2>/dev/null
	cp "$LV/console.log" "$LOGDIR/libvirt-boot.console.log" 2>/dev/null
	cp "$LV/libvirtd.log" "$LOGDIR/libvirt-boot.libvirtd.log" 2>/dev/null
	cp "$LV/backd.log" "$LOGDIR/libvirt-boot.backd.log" 2>/dev/null
	cp "$LV/cache/libvirt/qemu/log/$LV_NAME.log" "$LOGDIR/libvirt-boot.qemu.log" 2>/dev/null
	rm -rf "$LV"
}

# libvirtd, the domain, the guest's ext4 check. In a subshell: its EXIT
# trap stops what was started, however the test ends.
libvirt_boot() (
	local kdir kver kernel kroot out xml nonce rc i t0 state backd_cmd=() left p m c
	for p in libvirtd virsh virt-xml-validate setpriv; do
		command -v "$p" >/dev/null || PATH=$PATH:/usr/sbin command -v "$p" >/dev/null ||
			{ echo "SKIP: $p not installed (libvirt-daemon, libvirt-clients: tools/pvio-deps)"; exit 77; }
	done
	PATH=$PATH:/usr/sbin
	t_guest_can_boot || exit 77
	lv_user || { echo "SKIP: no user 'nobody' to run the session daemon as"; exit 77; }
	kdir=$("$TOP/tools/pvio-kdir") && kver=${kdir##*/linux-headers-} &&
		kernel=$(t_vmlinuz "$kver") || exit 77
	# The kernel cache's ROOT/boot/vmlinuz-KVER: modules in ROOT/lib/modules.
	kroot=$(dirname "$(dirname "$kernel")")
	make -C "$TOP" -s build/pvio-backd || exit 1
	for m in hypercall/kernel/pvio_core.ko hypercall/kernel/pvio_ivshmem.ko front/pvblk/pvblk.ko; do
		[ -f "$TOP/$m" ] || make -C "$TOP" -s modules || exit 1
	done

	# Short paths: libvirt's own sockets live under these directories.
	LV=$(mktemp -d "${TMPDIR:-/tmp}/pvio-lv.XXXXXX") || exit 1
	LV_DAEMON='' LV_BACKD=''
	lv_as_init
	trap lv_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
	mkdir -p "$LV/home" "$LV/run" "$LV/config/libvirt" "$LV/cache" "$LV/vm" || exit 1
	chmod 700 "$LV/run"
	# QEMU writes its own log and the console file (no virtlogd to spawn);
	# no network, storage or other drivers' state matters here.
	echo 'stdio_handler = "file"' >"$LV/config/libvirt/qemu.conf"
	printf '%s\n' "log_outputs = \"3:file:$LV/libvirtd.log\"" >"$LV/config/libvirt/libvirtd.conf"
	truncate -s 256M "$LV/vm/disk.img" || exit 1
	chown -R "$LV_UID:$LV_GID" "$LV" || exit 1
	# The domain's QEMU runs as that user: a kernel it cannot read (a tree
	# in root's home) is booted from a copy.
	if ! "${LV_AS[@]}" test -r "$kernel"; then
		cp "$kernel" "$LV/vm/" && chown "$LV_UID:$LV_GID" "$LV/vm/${kernel##*/}" || exit 1
		kernel=$LV/vm/${kernel##*/}
	fi

	# The domain, the backend command and the initramfs path, as --print
	# gives them.
	out=$LV/print.out
	lv_print "$out" --kernel "$kernel" --disk "$LV/vm/disk.img" --run-dir "$LV/vm" \
		--log "$LV/console.log" || exit 1
	xml=$out.xml
	cat "$xml"
	virt-xml-validate "$xml" domain || { echo "virt-xml-validate refused --print's domain"; exit 1; }
	eval "backd_cmd=($(sed -n '/^# 1\. the backend/{n;p}' "$out"))"
	[ ${#backd_cmd[@]} -gt 0 ] || { echo "no pvio-backd command in --print's output"; exit 1; }
	grep -qF "<initrd>$LV/vm/initramfs.gz</initrd>" "$xml" ||
		{ echo "the domain does not boot $LV/vm/initramfs.gz"; exit 1; }

	nonce=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	"$TOP/tools/pvio-initramfs" --out "$LV/vm/initramfs.gz" --kver "$kver" \
		--moddir "$kroot" --marker-id "$nonce" --name pvio-libvirt \
		--kmod crc32c_generic --kmod ext4 \
		--insmod "$TOP/hypercall/kernel/pvio_core.ko" \
		--insmod "$TOP/hypercall/kernel/pvio_ivshmem.ko" \
		--insmod "$TOP/front/pvblk/pvblk.ko" \
		--file /sbin/mkfs.ext4:/pvio/mkfs.ext4 --file /sbin/e2fsck:/pvio/e2fsck \
		--file "$TOP/tests/vm/guest/lib-fs.sh:/pvio/lib-fs.sh" \
		--script "$TOP/tests/vm/guest/libvirt-fs.sh" >/dev/null
	rc=$?
	[ $rc -eq 0 ] || exit $rc
	chown "$LV_UID:$LV_GID" "$LV/vm/initramfs.gz" || exit 1

	# The backend, its socket open to the daemon's user only.
	"${backd_cmd[@]}" --socket-mode 0660 --socket-group "$LV_GID" --allow-uid "$LV_UID" \
		</dev/null >"$LV/backd.log" 2>&1 &
	LV_BACKD=$!
	t_wait_for "$LV/backd.log" '^pvio-backd: ready' 10 "$LV_BACKD" ||
		{ cat "$LV/backd.log"; echo "pvio-backd did not become ready"; exit 1; }

	"${LV_AS[@]}" libvirtd </dev/null >"$LV/libvirtd.out" 2>&1 &
	LV_DAEMON=$!
	for ((i = 0; i < 300; i++)); do
		[ -S "$LV/run/libvirt/libvirt-sock" ] && break
		kill -0 "$LV_DAEMON" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -S "$LV/run/libvirt/libvirt-sock" ]; then
		cat "$LV/libvirtd.out" "$LV/libvirtd.log" 2>/dev/null
		echo "SKIP: libvirtd (session mode) did not start here: $(tail -n 1 "$LV/libvirtd.out" 2>/dev/null)"
		exit 77
	fi
	lv_virsh version || { echo "virsh cannot talk to the private libvirtd"; exit 1; }

	lv_virsh define /dev/stdin <"$xml" || { echo "virsh define refused --print's domain"; exit 1; }
	lv_virsh start "$LV_NAME" ||
		{ cat "$LV/cache/libvirt/qemu/log/$LV_NAME.log" 2>/dev/null; echo "virsh start failed"; exit 1; }
	echo "domain $LV_NAME started; waiting for it to power off"
	# The guest powers off after its script: the domain is shut off then.
	state='' t0=$(date +%s)
	while [ $(($(date +%s) - t0)) -lt 300 ]; do
		state=$(lv_virsh domstate "$LV_NAME" 2>&1)
		[ "$state" != "shut off" ] || break
		sleep 1
	done
	tr -d '\r' <"$LV/console.log" | grep -E '^(libvirt-fs|pvio-libvirt):|PVIO-GUEST-EXIT'
	[ "$state" = "shut off" ] || { echo "the domain is '$state' after 300 s, not shut off"; exit 1; }

	tr -d '\r' <"$LV/console.log" | grep -Eq 'BUG:|Oops|WARNING:|Call Trace|general protection fault|Kernel panic|KASAN|UBSAN' &&
		{ echo "kernel error in the guest's console"; exit 1; }
	rc=$(tr -d '\r' <"$LV/console.log" | sed -n "s/.*PVIO-GUEST-EXIT=\([0-9]*\) id=$nonce\$/\1/p" | tail -n 1)
	[ -n "$rc" ] || { echo "no exit marker in the console: the guest died early"; exit 1; }
	! tr -d '\r' <"$LV/console.log" | grep -q '^libvirt-fs: FAIL' || { echo "a guest check failed"; exit 1; }
	for c in disk fs fsck; do
		tr -d '\r' <"$LV/console.log" | grep -q "^libvirt-fs: PASS $c\$" ||
			{ echo "no 'libvirt-fs: PASS $c' line"; exit 1; }
	done
	[ "$rc" -eq 0 ] || { echo "the guest script exited $rc"; exit 1; }

	# Nothing left behind: the daemon, the domain's QEMU and the backend
	# are gone after the clean-up.
	lv_cleanup
	trap - EXIT
	left=$(lv_pids_of "$LV/" | paste -sd,)
	if [ -n "$left" ]; then
		echo "processes left behind:"
		ps -o pid,user,args -p "$left"
		for p in ${left//,/ }; do lv_stop "$p" "left-over process"; done
		exit 1
	fi
	echo "guest: ext4 on /dev/pvblk0 written and checked; domain undefined, libvirtd and pvio-backd stopped"
)

t_run libvirt-xml-valid libvirt_xml_valid
t_run libvirt-boot-pvblk-ext4 libvirt_boot

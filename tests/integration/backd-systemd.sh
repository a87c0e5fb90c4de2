#!/usr/bin/env bash
# backd-systemd - pvio-backd as a systemd service, without touching the
# host's systemd:
#   - make install DESTDIR=... PREFIX=/usr puts exactly the daemon, the
#     benchmark, their manual pages, pvio-backd@.service (ExecStart at
#     PREFIX/bin) and the example configuration there; make uninstall takes them away and
#     leaves an administrator's own NAME.conf;
#   - systemd-analyze verify accepts the unit (no line printed at all);
#   - the daemon's readiness notification: with NOTIFY_SOCKET set (a
#     path, then an abstract name) it sends READY=1 once its sockets
#     listen, STOPPING=1 on SIGTERM, and exits 0; a NOTIFY_SOCKET that is
#     not a socket name gets a log line, and the daemon serves anyway;
#   - the example configuration's PVIO_BACKD_ARGS, with its paths moved
#     into the test's directory, starts a daemon that gets ready.
#
# Usage: backd-systemd.sh [BUILD_DIR]
. "$(dirname "$0")/backd-lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 not installed (tools/pvio-deps)"; exit 77; }

cd "$tmp" || exit 1
stage=$tmp/stage
rel=${BUILD#"$TOP"/}
make -s -C "$TOP" BUILD="$rel" install DESTDIR="$stage" PREFIX=/usr >install.log 2>&1 ||
	{ cat install.log; fail "make install failed"; }
(cd "$stage" && find . -type f -not -path './usr/src/*' | sort) >files
cat >want <<'W'
./etc/pvio/example.conf
./usr/bin/pvio-backd
./usr/bin/pvio-bench
./usr/lib/systemd/system/pvio-backd@.service
./usr/share/man/man1/pvio-bench.1
./usr/share/man/man8/pvio-backd.8
W
diff want files || fail "make install put other files than these"
# The modules' sources for DKMS (kmod-dkms-* builds them).
[ -f "$stage/usr/src/pvio-$(make -s -C "$TOP" --no-print-directory version)/dkms.conf" ] ||
	fail "make install put no dkms.conf in /usr/src/pvio-VERSION"
grep -qx 'ExecStart=/usr/bin/pvio-backd $PVIO_BACKD_ARGS' "$stage/usr/lib/systemd/system/pvio-backd@.service" ||
	fail "the installed unit does not start /usr/bin/pvio-backd"
echo "ok: make install"
echo 'PVIO_BACKD_ARGS="--blk /x --socket /y"' >"$stage/etc/pvio/mine.conf"
make -s -C "$TOP" BUILD="$rel" uninstall DESTDIR="$stage" PREFIX=/usr >uninstall.log 2>&1 ||
	{ cat uninstall.log; fail "make uninstall failed"; }
left=$(cd "$stage" && find . -type f | sort | paste -sd' ')
[ ! -e "$stage/usr/src/pvio-$(make -s -C "$TOP" --no-print-directory version)" ] ||
	fail "make uninstall left the DKMS source directory"
[ "$left" = "./etc/pvio/mine.conf" ] || fail "after make uninstall: '$left' (only ./etc/pvio/mine.conf should stay)"
echo "ok: make uninstall"

# systemd is Debian's init: systemd-analyze is there wherever pvio runs.
command -v systemd-analyze >/dev/null || fail "systemd-analyze not found (package systemd)"
{
	mkdir -p units
	sed "s|@BINDIR@|$BUILD|g" "$TOP/tools/systemd/pvio-backd@.service.in" >"units/pvio-backd@disk0.service"
	out=$(systemd-analyze verify --man=no "units/pvio-backd@disk0.service" 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify: exit $rc"; }
	echo "ok: systemd-analyze verify"
}

# notify_run SOCKET_NAME: a daemon with NOTIFY_SOCKET=SOCKET_NAME; prints
# what the socket received.
notify_run() {
	local name=$1 got
	truncate -s 16M disk.img
	rm -f n.out
	python3 - "$name" >n.out 2>&1 <<'PY' &
import socket, sys
name = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + name[1:] if name.startswith("@") else name)
open(name + ".bound" if not name.startswith("@") else "abstract.bound", "w").close()
s.settimeout(30)
for _ in range(2):
    print(s.recv(4096).decode().replace("\n", " "), flush=True)
PY
	local lp=$!
	local bound=$name.bound
	case $name in @*) bound=abstract.bound ;; esac
	for _ in $(seq 1 100); do
		[ -e "$bound" ] && break
		sleep 0.1
	done
	[ -e "$bound" ] || fail "the test's notify socket did not come up"
	NOTIFY_SOCKET=$name start_backd --blk disk.img --socket pv.sock
	t_wait_for n.out 'READY=1' 10 || { cat n.out; fail "no READY=1 from the daemon ($name)"; }
	stop_backd
	wait $lp
	got=$(cat n.out)
	echo "$name: $got"
	case $got in
	*READY=1*STOPPING=1*) ;;
	*) fail "NOTIFY_SOCKET=$name: wanted READY=1 then STOPPING=1, got '$got'" ;;
	esac
	rm -f "$bound"
}
notify_run "$tmp/notify.sock"
notify_run "@pvio-test-notify-$$"
echo "ok: readiness notification, path and abstract socket"

NOTIFY_SOCKET=relative/name start_backd --blk disk.img --socket pv.sock
grep -q "NOTIFY_SOCKET 'relative/name' is not a socket path; not notifying" backd.log ||
	fail "a bad NOTIFY_SOCKET was not logged"
run_hf good pv.sock expect.bin
stop_backd
echo "ok: a bad NOTIFY_SOCKET is logged and the daemon serves"

# The example configuration, as systemd would read it.
sed -e "s|/var/lib/pvio/|$tmp/|g" -e "s|/run/pvio/|$tmp/|g" \
	"$TOP/tools/systemd/example.conf" >ex.conf
# shellcheck disable=SC1091
. ./ex.conf
truncate -s 64M disk0.img
# shellcheck disable=SC2086 # split like systemd's $VAR in ExecStart
start_backd $PVIO_BACKD_ARGS
[ -S disk0.sock ] || fail "the example configuration's socket is missing"
stop_backd
echo "ok: the example configuration starts a daemon"
echo PASS

#!/usr/bin/env bash
# backd-socket-access - who may connect: the socket file is created 0600
# whatever the umask; --socket-mode and --socket-group set others; with
# --allow-uid a process of another user is refused (with a log line) and
# one of the allowed user connects.
#
# Usage: backd-socket-access.sh [BUILD_DIR]
. "$(dirname "$0")/backd-lib.sh"

cd "$tmp" || exit 1
truncate -s 16M disk.img
mode_of() { stat -c %a "$1"; }
group_of() { stat -c %G "$1"; }

# 1. The default mode, under a permissive umask.
(umask 000; start_backd --blk disk.img --socket pv.sock
 [ "$(mode_of pv.sock)" = 600 ] || fail "socket mode $(mode_of pv.sock) under umask 000, want 600"
 stop_backd)
echo "ok: socket created 0600 under umask 000"

# 2. --socket-mode and --socket-group.
grp=$(getent group nogroup >/dev/null && echo nogroup || echo daemon)
start_backd --blk disk.img --socket pv.sock --socket-mode 0660 --socket-group "$grp"
[ "$(mode_of pv.sock)" = 660 ] || fail "socket mode $(mode_of pv.sock), want 660"
[ "$(group_of pv.sock)" = "$grp" ] || fail "socket group $(group_of pv.sock), want $grp"
stop_backd
echo "ok: --socket-mode 0660 --socket-group $grp"

# 3. Bad values are usage errors.
"$BACKD" --blk disk.img --socket x.sock --socket-mode 999 >bad.log 2>&1
[ $? -eq 2 ] || fail "--socket-mode 999 did not exit 2"
"$BACKD" --blk disk.img --socket x.sock --allow-uid no-such-user-pvio >bad.log 2>&1
[ $? -eq 2 ] || fail "--allow-uid of an unknown user did not exit 2"

# 4. The peer check: a client running as nobody is refused, root passes.
if ! command -v setpriv >/dev/null || [ "$(id -u)" != 0 ]; then
	echo "SKIP: the peer check needs root and setpriv (util-linux)"
	exit 77
fi
uid=$(id -u daemon)
start_backd --blk disk.img --socket pv.sock --socket-mode 0666 --allow-uid daemon
chmod 755 "$tmp"
# nobody is neither root nor daemon: refused.
setpriv --reuid=nobody --regid=nogroup --clear-groups "$HF" twofront pv.sock >nobody.log 2>&1
grep -q 'refus' nobody.log || { cat nobody.log; fail "a client running as nobody was not refused"; }
grep -q "refusing connection from pid [0-9]*: uid $(id -u nobody) " backd.log ||
	fail "no log line for the refused client"
echo "ok: nobody refused"
# daemon (allowed) connects and does IO.
setpriv --reuid="$uid" --regid="$(id -g daemon)" --clear-groups "$HF" twofront pv.sock >daemon.log 2>&1 ||
	{ cat daemon.log; fail "the allowed user could not use the device"; }
echo "ok: the allowed user connects"
stop_backd
echo PASS

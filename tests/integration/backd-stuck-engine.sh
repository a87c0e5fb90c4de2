#!/usr/bin/env bash
# backd-stuck-engine - the region server never waits on an engine without
# a bound. Device 0's engine is stopped (SIGSTOP: alive, reading nothing)
# while a client connects to device 0 and closes again, 3000 times: every
# join and leave is a message to that engine, and once its channel was
# full the server blocked in sendmsg() for good, device 1 included. Now
# each end of the channel has a send timeout (1 s): the server kills the
# stuck engine, starts another, and device 1 is served throughout. The
# lines the cycling client causes are rate limited (at most 300 here).
#
# Usage: backd-stuck-engine.sh [BUILD_DIR]
. "$(dirname "$0")/backd-lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 not installed (tools/pvio-deps)"; exit 77; }

cd "$tmp" || exit 1
truncate -s 16M d0.img d1.img
start_backd --blk d0.img --socket s0 --blk d1.img --socket s1
eng=$(pgrep -P "$backd_pid" -x pvio-eng-dev0)
[ -n "$eng" ] || fail "no engine process for dev0"
kill -STOP "$eng"
extra_cleanup="kill -KILL $eng 2>/dev/null"
lines0=$(wc -l <backd.log)
timeout 120 python3 - s0 3000 <<'PY' >cycle.log 2>&1 &
import array, os, socket, sys
path, n = sys.argv[1], int(sys.argv[2])
# The server's whole greeting for 2 vectors: version, id, memory, its own
# two doorbells, ours: 7 messages of 8 bytes. Read all of it, so that the
# join completes (a client gone before that is dropped before it joins)
# and every cycle is a join and a leave for the engine to hear about.
want = 7 * 8
done = 0
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(path)
        got = 0
        while got < want:
            data, anc, _, _ = s.recvmsg(want - got, socket.CMSG_SPACE(4 * 8))
            if not data:
                raise OSError("end of file after %d bytes of the greeting" % got)
            got += len(data)
            for level, kind, fds in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    a = array.array("i")
                    a.frombytes(fds[:len(fds) - len(fds) % a.itemsize])
                    for fd in a:
                        os.close(fd)
        done += 1
    except OSError as e:
        print("cycle %d: %s" % (i, e))
        sys.exit(1)
    finally:
        s.close()
print("cycles", done)
PY
cyc=$!
# Device 1 while device 0's client cycles.
run_hf good s1 e1.bin
echo "ok: device 1 served while device 0 cycled"
wait "$cyc" || { cat cycle.log; fail "the cycling client failed: the server stopped answering"; }
cat cycle.log
t_wait_for backd.log "dev0: .* to the engine \\(pid $eng\\): not taken in time; killing it" 20 ||
	fail "the stuck engine was not killed"
t_wait_for backd.log "dev0: engine \\(pid $eng\\) killed by signal 9" 20 ||
	fail "the stuck engine was not reaped"
echo "ok: the stuck engine was killed and reaped"
run_hf good s0 e0.bin
echo "ok: device 0 served by a new engine"
lines=$(($(wc -l <backd.log) - lines0))
echo "$lines log lines for 3000 cycles"
[ "$lines" -le 300 ] || fail "$lines log lines for 3000 connect/close cycles: not rate limited"
stop_backd
echo PASS

#!/bin/bash
# `airlock stop` and `serve --stop` end the broker (ssh-agent -k); a broker
# of another airlock version is replaced when idle and left alone (with a
# word) when busy; `airlock unlock` holds a passphrase vault in a broker,
# `--timeout` locks it again.
. "$(dirname "$0")/lib.sh"

PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
VERSION=$("$AL" --version | sed 's/^airlock //')
broker_pid() { cat "$AIRLOCK_HOME/airlockd.pid" 2>/dev/null; }

FIRST_HOME=$AIRLOCK_HOME
FAKE=""
cleanup_all() {
	[ -n "$FAKE" ] && kill "$FAKE" 2>/dev/null
	[ -f "$FIRST_HOME/airlockd.pid" ] &&
	    kill "$(cat "$FIRST_HOME/airlockd.pid")" 2>/dev/null
	t_cleanup
}
trap cleanup_all EXIT

init_vault
V=$(canary)
add_secret deploy-token "$V"

# --- stop -----------------------------------------------------------------
run "$AL" stop
expect_rc 0 "stop without a broker"
expect_err "no broker is running"
run "$AL" lease ls
expect_rc 0 "a command starts the broker"
pid=$(broker_pid)
run "$AL" stop
expect_rc 0 "stop"
expect_err "stopped the broker (pid $pid)"
if pid_alive "$pid"; then fail "the broker still runs after stop"
else pass; fi
if [ -e "$AIRLOCK_HOME/airlockd.pid" ]; then
	fail "airlockd.pid left after stop"
else pass; fi
run "$AL" lease ls
pid=$(broker_pid)
run "$AL" serve --stop
expect_rc 0 "serve --stop"
expect_err "stopped the broker (pid $pid)"
wait_gone "$pid" && pass || fail "serve --stop left the broker running"

# --- a broker of another version ------------------------------------------
# A stand-in broker that answers health as airlock 0.0.1 on the socket.
fake_broker() {	# fake_broker LEASES: in the background, pid in FAKE
	rm -f "$AIRLOCK_SOCKET"
	"$PY" - "$AIRLOCK_SOCKET" "$AIRLOCK_HOME/airlockd.pid" "$1" \
	    >"$T_ROOT/fake.log" 2>&1 <<'PY' &
import http.server, json, os, signal, socketserver, sys
sock, pidfile, leases = sys.argv[1], sys.argv[2], int(sys.argv[3])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path == "/v1/health":
            b = {"status": "ok", "version": "0.0.1", "pid": os.getpid(),
                 "leases": leases, "approvals": 0}
        else:
            b = {"leases": []}
        d = json.dumps(b).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(d)))
        self.end_headers()
        self.wfile.write(d)
class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
s = S(sock, H)
open(pidfile, "w").write("%d\n" % os.getpid())
def stop(*a):
    os.unlink(pidfile); os._exit(0)
signal.signal(signal.SIGTERM, stop)
s.serve_forever()
PY
	FAKE=$!
	# Its socket is bound before its pid file is written: wait for both.
	for _ in $(seq 200); do
		[ -S "$AIRLOCK_SOCKET" ] && [ -s "$AIRLOCK_HOME/airlockd.pid" ] &&
		    return
		sleep 0.05
	done
	fail "the stand-in broker did not start"
}
fake_broker 1
run "$AL" lease ls
expect_rc 0 "lease ls with a busy broker of another version"
expect_err "the broker runs airlock 0.0.1 and this is airlock $VERSION; it is busy"
if pid_alive "$FAKE"; then pass; else
	fail "a busy broker of another version was stopped"
fi
kill "$FAKE"
wait_gone "$FAKE"
fake_broker 0
run "$AL" lease ls
expect_rc 0 "lease ls with an idle broker of another version"
expect_err "the broker runs airlock 0.0.1 and this is airlock $VERSION: restarting it"
if wait_gone "$FAKE"; then pass; else
	fail "an idle broker of another version was left running"
	kill "$FAKE"
fi
run curl -s --unix-socket "$AIRLOCK_SOCKET" http://airlock/v1/health
expect_out "\"version\":\"$VERSION\""
run "$AL" stop
expect_rc 0 "stop the restarted broker"

# --- unlock a passphrase vault --------------------------------------------
export AIRLOCK_HOME="$T_ROOT/phome"
export AIRLOCK_SOCKET="$AIRLOCK_HOME/airlockd.sock"
P=$(canary)
run "$AL" init --passphrase-fd 3 3<<<"$P"
expect_rc 0 "init a passphrase vault"
printf '%s\n' "$V" >"$T_ROOT/value"
run_in "$T_ROOT/value" "$AL" secret add api --owner o --purpose p \
    --passphrase-fd 3 3<<<"$P"
run "$AL" run -e T=api -- true
expect_rc 125 "a locked vault, no terminal"
expect_err "run \`airlock unlock\`"
run "$AL" unlock --passphrase-fd 3 3<<<"wrong-$P"
expect_rc 2 "unlock with a wrong passphrase"
expect_err "wrong passphrase"
run "$AL" unlock --passphrase-fd 3 3<<<"$P"
expect_rc 0 "unlock"
expect_err "unlocked: the broker holds the vault until \`airlock stop\`"
run "$AL" run -e T=api -- sh -c 'echo "got $T"'
expect_rc 0 "run after unlock"
expect_out "got [REDACTED:api]"
run "$AL" unlock --passphrase-fd 3 3<<<"$P"
expect_rc 0 "unlock again"
expect_err "already holds the unlocked vault"
run "$AL" stop
expect_rc 0 "stop locks it"
run "$AL" run -e T=api -- true
expect_rc 125 "locked again after stop"
run "$AL" unlock --timeout 1s --passphrase-fd 3 3<<<"$P"
expect_rc 0 "unlock --timeout 1s"
expect_err "holds the vault for 1s"
pid=$(broker_pid)
wait_gone "$pid" && pass || fail "the broker outlived unlock --timeout 1s"

# On a terminal, the first command that needs the broker asks for the
# passphrase itself (as ssh-add), then goes on.
"$PY" - "$AL" "$P" >"$OUT" 2>"$ERR" <<'PY'
import os, pty, sys, time
al, pp = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(al, [al, "lease", "ls"])
seen, sent, deadline = b"", False, time.time() + 30
while time.time() < deadline:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if not sent and b"passphrase" in seen:
        os.write(fd, pp.encode() + b"\n")
        sent = True
r = os.waitpid(pid, os.WNOHANG)
if r[0] == 0:
    time.sleep(2)
    r = os.waitpid(pid, os.WNOHANG)
    if r[0] == 0:
        os.kill(pid, 9)    # stuck: fail, never hang the suite
        r = os.waitpid(pid, 0)
_, st = r
print("status", os.waitstatus_to_exitcode(st), "asked", sent, "leases" in seen.decode(errors="replace"))
if os.waitstatus_to_exitcode(st) != 0:
    sys.stderr.write("terminal: %r\n" % seen[-600:])
PY
expect_out "status 0 asked True True" "the first command asks for the passphrase ($(cat "$ERR"))"
run "$AL" stop
expect_rc 0 "stop after the prompt unlocked it"
expect_err "stopped the broker"

check_no_leak "$V"
check_no_leak "$P"
done_testing

#!/bin/bash
# Nothing that holds a value outlives the task: not when `airlock run` or
# `airlock mcp` is killed with SIGKILL (right after start, while a child and
# a grandchild run, during the grace period of a timeout, with a --file
# memfd), and not after the command exits (a daemon that ignores SIGTERM
# gets no time to write the value anywhere).  After each case, every
# process's environment and in-memory files are searched for the canary.
. "$(dirname "$0")/lib.sh"

init_vault
CAN=$(canary)
add_secret tok "$CAN"
"$AL" lease ls >/dev/null 2>&1	# starts the broker

# holders: pids whose environment, or an in-memory file (memfd) or regular
# file (under 1 MiB) open on one of their descriptors, contains the canary,
# one "PID what command" a line.  Pipes and sockets are not read (that would
# take their bytes or block).
PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
holders() {
	CAN=$CAN "$PY" - <<'PY'
import os
can = os.environ.pop("CAN").encode()
me = os.getpid()
for p in os.listdir("/proc"):
    if not p.isdigit() or int(p) == me:
        continue
    what = None
    try:
        with open(f"/proc/{p}/environ", "rb") as f:
            if can in f.read():
                what = "environ"
    except OSError:
        pass
    if what is None:
        try:
            fds = os.listdir(f"/proc/{p}/fd")
        except OSError:
            fds = []
        for fd in fds:
            path = f"/proc/{p}/fd/{fd}"
            try:
                target = os.readlink(path)
                if target.startswith("/memfd:"):
                    kind = "memfd"
                elif target.startswith("/") and os.path.isfile(path) and \
                        os.stat(path).st_size < 1 << 20:
                    kind = "file " + target
                else:
                    continue
                with open(path, "rb") as f:
                    if can in f.read():
                        what = kind
                        break
            except OSError:
                pass
    if what:
        try:
            cmd = open(f"/proc/{p}/cmdline", "rb").read()[:80]
        except OSError:
            cmd = b""
        print(p, what, cmd.replace(b"\0", b" ").decode(errors="replace"))
PY
}

# wait_holders: until some process holds the canary (the task runs), 10 s.
wait_holders() {
	for _i in $(seq 200); do
		[ -n "$(holders)" ] && return 0
		sleep 0.05
	done
	return 1
}

# expect_no_holders WHAT: none within 2 s (the kernel's kill is not
# instantaneous), then none again a little later.
expect_no_holders() {
	_h=""
	for _i in $(seq 40); do
		_h=$(holders)
		[ -z "$_h" ] && break
		sleep 0.05
	done
	if [ -z "$_h" ]; then
		sleep 0.2
		_h=$(holders)
	fi
	if [ -n "$_h" ]; then
		fail "$1: processes still hold the value: $_h"
		# Do not let them spoil the next case.
		for _p in $(echo "$_h" | cut -d' ' -f1); do kill -9 "$_p" 2>/dev/null; done
	else
		pass
	fi
}

# wait_file FILE STRING: until FILE holds STRING, 10 s.
wait_file() {
	for _i in $(seq 200); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

CMD='echo started; sleep 30 & setsid sh -c "sleep 30" & sleep 30'

# Only the kernel can end the task when airlock is killed: where this system
# gives no PID namespace (doctor says so), the kill -9 cases cannot hold.
run "$AL" doctor
if grep -q "isolate   no PID namespace" "$OUT"; then
	echo "$T_NAME: no PID namespace here; the kill -9 cases are skipped: $(grep isolate "$OUT")"
	KILL9=0
else
	KILL9=1
fi

if [ "$KILL9" = 1 ]; then
# --- kill -9 of airlock run right after it starts (before, during and after
# the lease), with an environment variable and a --file memfd.
for d in 0 0.01 0.03 0.1; do
	"$AL" run -e T=tok --file F=tok -- sh -c "$CMD" >"$T_ROOT/r.out" 2>&1 &
	pid=$!
	sleep "$d"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	expect_no_holders "kill -9 of run after ${d}s"
done

# --- while the command, a child and a daemonized grandchild run.
"$AL" run -e T=tok --file F=tok -- sh -c "$CMD" >"$T_ROOT/r.out" 2>&1 &
pid=$!
wait_file "$T_ROOT/r.out" started || fail "run did not start: $(cat "$T_ROOT/r.out")"
wait_holders || fail "no process holds the value while the task runs"
kill -9 "$pid"
wait "$pid" 2>/dev/null
expect_no_holders "kill -9 of run while the task runs"

# --- during the grace period: the command ignores the timeout's SIGTERM.
"$AL" run --timeout 1s --grace 30s -e T=tok --file F=tok -- sh -c \
    'trap "" TERM; echo started; sleep 30 & sleep 30 & wait' \
    >"$T_ROOT/r.out" 2>&1 &
pid=$!
wait_file "$T_ROOT/r.out" started || fail "run did not start: $(cat "$T_ROOT/r.out")"
sleep 1.5
if kill -0 "$pid" 2>/dev/null; then pass; else fail "run ended before its grace period"; fi
kill -9 "$pid"
wait "$pid" 2>/dev/null
expect_no_holders "kill -9 of run during the grace period"

# --- the same for `airlock mcp` and its run tool.
# mcp_kill9 ARGS-JSON DELAY: call run, wait until the task holds the value,
# wait DELAY more, kill -9 the server.
mcp_kill9() {
	coproc MCP { exec "$AL" mcp 2>"$T_ROOT/mcp.err"; }
	_mp=$MCP_PID
	printf '%s\n' \
	    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
	    '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
	    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run","arguments":'"$1"'}}' \
	    >&"${MCP[1]}"
	wait_holders || fail "mcp: no process holds the value while the task runs: $(cat "$T_ROOT/mcp.err")"
	sleep "$2"
	kill -9 "$_mp"
	wait "$_mp" 2>/dev/null
}
mcp_kill9 '{"command":"echo started; sleep 30 & setsid sh -c \"sleep 30\" & sleep 30","env":{"T":"tok"}}' 0
expect_no_holders "kill -9 of mcp while the task runs"
mcp_kill9 '{"command":"trap \"\" TERM; sleep 30 & sleep 30 & wait","env":{"T":"tok"},"timeout_seconds":1}' 1.5
expect_no_holders "kill -9 of mcp during the grace period"
fi

# --- no grace for leftovers: the command exits, a background child that
# ignores SIGTERM tries to write the value to a file afterwards.
leak=$T_ROOT/leak
run "$AL" run -e T=tok -- sh -c '(trap "" TERM; sleep 0.2; while :; do
    printf "%s\n" "$T" >>'"$leak"'; sleep 0.02; done) & echo parent-done'
expect_rc 0 "run with a stubborn background child"
expect_out parent-done
sleep 1
if grep -qF -- "$CAN" "$leak" 2>/dev/null; then
	fail "a leftover wrote the value after the command exited"
else
	pass
fi
expect_no_holders "leftover after the command exited"

# The same where namespaces cannot be made (the subreaper fallback), when
# this system lets us take them away: a user namespace whose limit of
# further user namespaces is 0, and no capabilities.
if unshare -U -r true 2>/dev/null && command -v setpriv >/dev/null; then
	rm -f "$leak"
	run unshare -U -r sh -c 'echo 0 >/proc/sys/user/max_user_namespaces &&
	    exec setpriv --bounding-set=-all --inh-caps=-all "$@"' sh \
	    "$AL" run -e T=tok -- sh -c '(trap "" TERM; sleep 0.2; while :; do
	    printf "%s\n" "$T" >>'"$leak"'; sleep 0.02; done) & echo parent-done'
	expect_rc 0 "run without namespaces"
	expect_out parent-done
	expect_err "note: no PID namespace for the command" "the fallback is said"
	sleep 1
	if grep -qF -- "$CAN" "$leak" 2>/dev/null; then
		fail "without namespaces, a leftover wrote the value after the command exited"
	else
		pass
	fi
	expect_no_holders "leftover after the command exited, without namespaces"
	run unshare -U -r sh -c 'echo 0 >/proc/sys/user/max_user_namespaces &&
	    exec setpriv --bounding-set=-all --inh-caps=-all "$@"' sh \
	    "$AL" doctor
	expect_out "warn  isolate   no PID namespace for commands"
else
	echo "$T_NAME: no user namespaces here; the fallback case is skipped"
fi

# --- inside its namespace, the command works as it did: its own pids in
# /proc, kill of its own jobs, pipes, exit codes, 128+N, python.
run "$AL" run -e T=tok -- sh -c 'sleep 5 & p=$!; [ -d /proc/$p ] && kill $p; wait $p; echo "job $?"; echo "$T" | tr a-z A-Z | wc -l; exit 7'
expect_rc 7 "exit code through the namespace"
expect_out "job 143"
expect_out "1"
run "$AL" run -e T=tok -- sh -c 'kill -USR1 $$'
expect_rc 138 "128+SIGUSR1 through the namespace"
run "$AL" run -e T=tok -- "$PY" -c 'import os; print(os.getpid() == int(open("/proc/self/stat").read().split()[0]), os.environ["T"])'
expect_rc 0 "python"
expect_out "True [REDACTED:tok]"

# --- doctor says what is in force here.
run "$AL" doctor
if grep -q "isolate   commands run in a PID namespace" "$OUT" ||
    grep -q "isolate   no PID namespace" "$OUT"; then pass; else
	fail "doctor does not report the isolation: $(cat "$OUT")"
fi

check_no_leak "$CAN" "$T_ROOT/r.out" "$T_ROOT/mcp.err"
done_testing

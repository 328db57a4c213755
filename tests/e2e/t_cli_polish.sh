#!/bin/bash
# Small habits from git, pass and ssh-agent: -V, "did you mean", help for
# help, aliases, a second init, --value-file -, messages for an empty
# inventory, a past expiry, a revoked task, an unknown audit event.
. "$(dirname "$0")/lib.sh"

run "$AL" -V
expect_rc 0 "-V"
expect_out "airlock "
run "$AL" -v
expect_rc 2 "-v"
expect_err "unknown option '-v'"
run "$AL" scna
expect_rc 2 "a typo"
expect_err "did you mean \`airlock scan\`?"
run "$AL" secrets ls
expect_err "did you mean \`airlock secret\`?"
run "$AL" help help
expect_rc 0 "help help"
expect_out "usage: airlock"
run "$AL" --help run
expect_rc 0 "--help run"
expect_out "usage: airlock run"
run "$AL" help nosuch
expect_rc 2 "help for an unknown command"
expect_err "airlock: usage: unknown command 'nosuch'"
run env AIRLOCK_HOME=relative/home "$AL" secret ls
expect_rc 2 "a relative AIRLOCK_HOME"
expect_err "AIRLOCK_HOME must be an absolute path"

init_vault
run "$AL" init
expect_rc 0 "a second init"
expect_err "a vault already exists"
run "$AL" secret ls
expect_rc 0 "ls on an empty vault"
expect_err "no secrets (add one with"
V=$(canary)
printf '%s' "$V" >"$T_ROOT/v"
run_in "$T_ROOT/v" "$AL" secret add api --owner o --purpose p --value-file -
expect_rc 0 "--value-file - reads stdin"
run "$AL" secret ls --owner nobody
expect_err "no secret matches"
run "$AL" secret get api
expect_rc 2 "secret get"
expect_err "airlock never prints a value"
run "$AL" secret edit api --expires 2020-01-01
expect_rc 0 "an expiry in the past"
expect_err "'api' is expired from now on"
printf 'new-%s' "$V" >"$T_ROOT/v2"
run_in "$T_ROOT/v2" "$AL" secret rotate api
expect_err "'api' has a new value but is still expired"
run "$AL" secret edit api --expires never
printf 'x-%s' "$V" | "$AL" secret add tmp --owner o --purpose p 2>/dev/null
run "$AL" secret delete tmp
expect_rc 0 "secret delete (rm)"
run "$AL" secret show tmp
expect_rc 2 "deleted"

# Revoking a task's leases says what it does not do.
"$AL" run --task T-9 -e T=api -- sleep 2 >/dev/null 2>&1 &
RP=$!
for _ in $(seq 100); do
	"$AL" lease ls 2>/dev/null | grep -q api && break
	sleep 0.05
done
run "$AL" lease revoke --task T-9
expect_out "revoked 1 lease of task T-9"
expect_err "keeps it until it exits"
wait "$RP"
run "$AL" lease rm --task T-9
expect_rc 0 "lease rm is lease revoke"

# At a terminal, secret add asks for owner and purpose (echoed) and the
# value (twice, not echoed): a first secret needs no flags.
W=$(canary)
PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
"$PY" - "$AL" "$W" >"$OUT" 2>"$ERR" <<'PY'
import os, pty, sys, time
al, value = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(al, [al, "secret", "add", "quick"])
answers = [(b"Owner", b"me\n"), (b"Purpose", b"a quick try\n"),
           (b"Value for", value.encode() + b"\n"), (b"Again", value.encode() + b"\n")]
seen = b""
deadline = time.time() + 20
while time.time() < deadline:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    while answers and answers[0][0] in seen:
        os.write(fd, answers.pop(0)[1])
        seen = b""
r = os.waitpid(pid, os.WNOHANG)
if r[0] == 0:
    time.sleep(2)
    r = os.waitpid(pid, os.WNOHANG)
    if r[0] == 0:
        os.kill(pid, 9)    # stuck: fail, never hang the suite
        r = os.waitpid(pid, 0)
_, st = r
print("status", os.waitstatus_to_exitcode(st), "left", len(answers))
PY
expect_out "status 0 left 0"
run "$AL" secret show quick --json
expect_out '"owner": "me"'
expect_out '"purpose": "a quick try"'
check_no_leak "$W"

# At a terminal, rm asks first; "n" keeps the secret.
"$PY" - "$AL" >"$OUT" 2>"$ERR" <<'PY'
import os, pty, sys, time
al = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execv(al, [al, "secret", "rm", "quick"])
seen, sent, deadline = b"", False, time.time() + 20
while time.time() < deadline:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if not sent and b"[y/N]" in seen:
        os.write(fd, b"n\n")
        sent = True
r = os.waitpid(pid, os.WNOHANG)
if r[0] == 0:
    time.sleep(2)
    r = os.waitpid(pid, os.WNOHANG)
    if r[0] == 0:
        os.kill(pid, 9)    # stuck: fail, never hang the suite
        r = os.waitpid(pid, 0)
_, st = r
print("status", os.waitstatus_to_exitcode(st), "asked", sent)
PY
expect_out "status 2 asked True"
run "$AL" secret show quick
expect_rc 0 "kept after answering n"
run "$AL" secret rm quick --force
expect_rc 0 "rm --force"

# The inventory's columns stay aligned: a due rotation, a long owner, labels.
printf 'v-%s' "$V" | "$AL" secret add legacy --owner platform-infrastructure-team \
    --purpose "old thing" --rotate-every 1d --last-rotated 2026-01-01 \
    --label env=prod >/dev/null 2>&1
run "$AL" secret ls
expect_out "platform-infrastructure~"
expect_out "LABELS"
expect_out "env=prod"
hdr=$(head -1 "$OUT" | awk '{ print index($0, "PURPOSE") }')
row=$(grep legacy "$OUT" | awk '{ print index($0, "old thing") }')
expect_eq "$row" "$hdr" "PURPOSE column of a row with a due rotation"

run "$AL" audit --event grnat
expect_err "airlock records no event named 'grnat'"
run "$AL" scan --list-rules --format json
expect_rc 2 "--list-rules as JSON"
# make install puts the pages the help texts point at beside the binary.
run cmake --install "$AIRLOCK_BUILD" --prefix "$T_ROOT/inst"
expect_rc 0 "cmake --install"
for page in $("$AL" help run | sed -n 's/.*See docs\/\(commands\/[a-z]*\.md\).*/\1/p') \
    commands/stop.md commands/unlock.md cli.md; do
	if [ -f "$T_ROOT/inst/share/doc/airlock/$page" ]; then pass; else
		fail "make install left out docs/$page"
	fi
done

check_no_leak "$V"
done_testing

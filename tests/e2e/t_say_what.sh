#!/bin/bash
# Saying what is happening: run waiting for an approval says so at once
# with the approve command; scan counts what git ignores, names ignored
# files that look like credentials, scans a file named on the command line,
# exits 2 when it read nothing and says "not inside a git repository".
. "$(dirname "$0")/lib.sh"

export XDG_CACHE_HOME="$T_ROOT/cache"
init_vault
V=$(canary)
add_secret pay-key "$V" --label approval=required
# Approving needs the approver PIN, typed on a terminal of the approver's.
export PIN=2718-say TYPER
set_approver_pin "$PIN"

# --- approval -------------------------------------------------------------
"$AL" run --approval-wait 20s -e K=pay-key -- sh -c 'echo "got $K"' \
    >"$T_ROOT/run.out" 2>"$T_ROOT/run.err" &
RUNPID=$!
id=""
for _ in $(seq 200); do
	id=$(sed -n 's/.*waiting for approval \([0-9a-f]*\):.*/\1/p' \
	    "$T_ROOT/run.err" 2>/dev/null | head -1)
	[ -n "$id" ] && break
	sleep 0.05
done
if [ -n "$id" ]; then pass; else
	fail "run said nothing while waiting: $(cat "$T_ROOT/run.err")"
fi
if grep -qF "run \`airlock approve $id\` (rule '" "$T_ROOT/run.err"; then
	pass; else fail "no approve command: $(cat "$T_ROOT/run.err")"
fi
# What an approver needs to decide: the executable and who started it.
run "$AL" approvals
expect_rc 0 "approvals"
expect_out "requester: uid $(id -u) ($(id -un)) pid"
expect_out ", $AL"
expect_out "started by: $(readlink -f "$BASH")"
run with_tty "$PIN" "$AL" approve "$id"
expect_rc 0 "approve"
run "$AL" approvals --all
expect_out "decided by: uid $(id -u)"
expect_out "lease: "
wait "$RUNPID"
expect_eq "$?" 0 "run after approval"
expect_eq "$(cat "$T_ROOT/run.out")" "got [REDACTED:pay-key]" "run output"
cat "$T_ROOT/run.out" "$T_ROOT/run.err" >>"$ALL_OUTPUT"
run "$AL" run --approval-wait 1s -e K=pay-key -- true
expect_rc 125 "approval timed out"
expect_err "still waiting for approval after 1 s (an approver runs \`airlock approve"

# On a terminal, a ticker says the wait goes on (not a silent terminal).
PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
"$PY" - "$AL" >"$OUT" 2>"$ERR" <<'PY'
import os, pty, re, subprocess, sys, time
al = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execv(al, [al, "run", "--approval-wait", "20s", "-e", "K=pay-key", "--", "true"])
seen, approved, deadline = b"", False, time.time() + 30
while time.time() < deadline:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    m = re.search(rb"waiting for approval ([0-9a-f]{32})", seen)
    if m and not approved and b"still waiting for approval (2 s)" in seen:
        subprocess.run([sys.executable, os.environ["TYPER"], os.environ["PIN"],
                        al, "approve", m.group(1).decode()], capture_output=True)
        approved = True
r = os.waitpid(pid, os.WNOHANG)
if r[0] == 0:
    time.sleep(2)
    r = os.waitpid(pid, os.WNOHANG)
    if r[0] == 0:
        os.kill(pid, 9)    # stuck: fail, never hang the suite
        r = os.waitpid(pid, 0)
_, st = r
print("status", os.waitstatus_to_exitcode(st), "ticked", approved)
PY
expect_out "status 0 ticked True"

# The MCP run tool's progress says it waits for approval, with the id.
"$PY" - "$AL" >"$OUT" 2>"$ERR" <<'PY'
import json, os, re, subprocess, sys, time
al = sys.argv[1]
p = subprocess.Popen([al, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.DEVNULL, text=True)
def send(m):
    p.stdin.write(json.dumps(m) + "\n"); p.stdin.flush()
send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "t", "version": "1"}}})
while json.loads(p.stdout.readline()).get("id") != 1:
    pass
send({"jsonrpc": "2.0", "method": "notifications/initialized"})
send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
    "name": "run", "_meta": {"progressToken": "tok"}, "arguments": {
        "command": "echo ran", "env": {"K": "pay-key"},
        "approval_wait_seconds": 20}}})
first, approved = None, False
while True:
    m = json.loads(p.stdout.readline())
    if m.get("method") == "notifications/progress":
        msg = m["params"].get("message", "")
        r = re.search(r"waiting for approval ([0-9a-f]{32})", msg)
        if r and not approved:
            first = msg
            subprocess.run([sys.executable, os.environ["TYPER"], os.environ["PIN"],
                            al, "approve", r.group(1)], capture_output=True)
            approved = True
    elif m.get("id") == 2:
        print("progress:", first)
        print("error:", m["result"].get("isError", False))
        break
p.stdin.close(); p.wait()
PY
expect_out "progress: waiting for approval "
expect_out " (0 s): an approver runs"
expect_out ": an approver runs \`airlock approve "
expect_out "error: False"

# --- scan -----------------------------------------------------------------
R="$T_ROOT/repo"
git init -q "$R"
cd "$R" || exit 1
GH="ghp_$(head -c 300 /dev/urandom | tr -dc A-Za-z0-9 | head -c 36)"
printf '.env\nbuild/\n' >.gitignore
mkdir -p build/keys
printf 'GITHUB_TOKEN=%s\n' "$GH" >.env
: >build/keys/id_rsa
: >build/a.o
printf 'print(1)\n' >app.py
run "$AL" scan .
expect_rc 0 "scan . with ignored files"
expect_err "2 ignored by git (--no-ignore scans them)"
expect_err "look like credentials: .env, build/keys/id_rsa"
run "$AL" scan .env
expect_rc 1 "a file named on the command line is scanned"
expect_out "github-pat"
run "$AL" scan --no-ignore --quiet .
expect_rc 1 "--no-ignore scans it"
# Nothing read: exit 2, saying why.
mkdir "$T_ROOT/empty"
run "$AL" scan "$T_ROOT/empty"
expect_rc 2 "scan of an empty directory"
expect_err "nothing was scanned"
cd "$T_ROOT/empty" || exit 1
for src in --staged --git "--git HEAD~1..HEAD"; do
	# shellcheck disable=SC2086
	run "$AL" scan $src
	expect_rc 2 "scan $src outside a repository"
	expect_eq "$(cat "$ERR")" "airlock: error: not inside a git repository" \
	    "scan $src outside a repository"
done
cd "$R" || exit 1
run "$AL" scan --staged
expect_rc 0 "scan --staged with nothing staged"
git add app.py .gitignore
git -c user.email=t@example.com -c user.name=t commit -qm one
run "$AL" scan --git
expect_rc 0 "scan --git"
expect_err "in 2 files of 1 commit"

check_no_leak "$V"
done_testing

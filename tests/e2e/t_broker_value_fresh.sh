#!/bin/bash
# A value is released to the caller as it is at the value request, not as
# it was at the grant: on one kept-alive connection, a lease is granted and
# its value released once; then the caller's parent calls exec, or exits
# (the caller is moved to init), or the caller itself calls exec and asks
# on the connection it inherited: the next value request is refused.
#
# In a PID namespace of its own where it can make one (T_OWN_PIDNS, see
# lib.sh).  Elsewhere an ancestor of the caller's user may be unreadable,
# which makes every ancestor unknown; the test is then skipped.
T_OWN_PIDNS=1
. "$(dirname "$0")/lib.sh"

init_vault
V=$(canary)
add_secret deploy-token "$V"
run "$AL" lease ls
expect_rc 0 "the broker starts"

# Programs only this test runs: the caller's parent (a copy of python3),
# what that parent becomes by exec (a copy of sleep), and what the caller
# itself becomes by exec (another copy of python3).
PY=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')
mkdir -p "$T_ROOT/bin"
cp "$PY" "$T_ROOT/bin/lease-parent"
cp "$PY" "$T_ROOT/bin/caller-after-exec"
cp "$(readlink -f /bin/sleep)" "$T_ROOT/bin/parent-after-exec"
(umask 077 && cat >"$AIRLOCK_HOME/policy.yaml.new" <<EOF
version: 1
rules:
  - id: not-under-the-exec
    effect: deny
    callers: ["unix:ancestor-exe:$T_ROOT/bin/parent-after-exec"]
    secrets: [deploy-token]
    reason: the parent ran another program
  - id: under-the-parent
    effect: allow
    callers: ["unix:ancestor-exe:$T_ROOT/bin/lease-parent"]
    secrets: [deploy-token]
EOF
) && mv "$AIRLOCK_HOME/policy.yaml.new" "$AIRLOCK_HOME/policy.yaml"

# c.py MODE: run by lease-parent, which forks the caller and then, on the
# caller's word, calls exec (MODE parent-exec), exits (parent-exit) or
# waits (self-exec: the caller calls exec).  The caller prints one line a
# step: the step, the status and the rule or message of a refusal; never
# a value.
cat >"$T_ROOT/c.py" <<'PY'
import json, os, socket, sys, time, brokerhttp
mode, sock_path, bindir = sys.argv[1], sys.argv[2], sys.argv[3]

def ask(s, method, path, body=None):
    status, reply = brokerhttp.request(s, method, path, body)
    try:
        return status, json.loads(reply)
    except ValueError:
        return status, {}	# the value itself: not kept

def say(step, status, j):
    err = j.get("error", {}) if isinstance(j, dict) else {}
    print(step, status, err.get("rule", "") or err.get("message", ""),
          flush=True)

if mode == "after-exec":
    # The caller after its exec, on the connection it inherited.
    s = socket.socket(fileno=int(sys.argv[4]))
    say("after-self-exec", *ask(s, "GET", "/v1/leases/%s/value" % sys.argv[5]))
    sys.exit(0)

r, w = os.pipe()
child = os.fork()
if child != 0:
    os.close(w)
    os.read(r, 1)
    if mode == "parent-exec":
        os.execv(bindir + "/parent-after-exec",
                 [bindir + "/parent-after-exec", "30"])
    if mode == "parent-exit":
        os._exit(0)
    os.waitpid(child, 0)
    sys.exit(0)
os.close(r)
parent = os.getppid()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock_path)
status, j = ask(s, "POST", "/v1/leases", {"secret": "deploy-token",
    "task": "t", "intent": "test", "ttl": 60, "uses": 5})
say("grant", status, j)
if status != 201:
    if "could not be read" in json.dumps(j):
        print("skip: the ancestors cannot be read here", flush=True)
    os.write(w, b"x")
    sys.exit(0)
lid = j["lease"]["id"]
say("value", *ask(s, "GET", "/v1/leases/%s/value" % lid))
if mode == "self-exec":
    os.set_inheritable(s.fileno(), True)
    after = bindir + "/caller-after-exec"
    os.execv(after, [after, sys.argv[0], "after-exec", sock_path, bindir,
                     str(s.fileno()), lid])
os.write(w, b"x")
for _ in range(600):
    try:
        if mode == "parent-exec" and \
           os.readlink("/proc/%d/exe" % parent).endswith("/parent-after-exec"):
            break
    except OSError:
        pass
    if mode == "parent-exit" and os.getppid() != parent:
        break
    time.sleep(0.05)
say("value-after", *ask(s, "GET", "/v1/leases/%s/value" % lid))
if mode == "parent-exec":
    os.kill(parent, 9)
PY

for mode in parent-exec parent-exit self-exec; do
	# Through cat: read until the caller, which may outlive its
	# parent, is done.
	bash -c '"$@"; exit 0' sh "$T_ROOT/bin/lease-parent" "$T_ROOT/c.py" \
	    "$mode" "$AIRLOCK_SOCKET" "$T_ROOT/bin" 2>"$ERR" </dev/null |
	    cat >"$OUT"
	cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
	if grep -q '^skip:' "$OUT"; then
		echo "# skip: the caller's ancestors cannot be read here"
		check_no_leak "$V"
		done_testing
	fi
	expect_out "grant 201 " "$mode: a lease below lease-parent"
	expect_out "value 200 " "$mode: its value released at once"
	case $mode in
	parent-exec)
		expect_out "value-after 403 the caller no longer passes the policy: the parent ran another program" \
		    "the parent's exec since the grant is seen at the value" ;;
	parent-exit)
		expect_out "value-after 403 " \
		    "the caller moved to init since the grant is refused" ;;
	self-exec)
		expect_out "after-self-exec 403 process" \
		    "the caller's own exec since the grant is refused"
		expect_out "started another program since it connected" \
		    "the refusal says why" ;;
	esac
done
check_no_leak "$V"
done_testing

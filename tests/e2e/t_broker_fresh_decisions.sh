#!/bin/bash
# Every lease request on one kept-alive connection is decided on the policy
# as it is now and on the caller as it is now: an edited policy.yaml is in
# force from the next request on, and so is an ancestor that called exec
# since the caller connected (the broker holds ancestors open between
# requests, and must see that one changed).
#
# In a PID namespace of its own where it can make one (T_OWN_PIDNS, see
# lib.sh).  Elsewhere an ancestor of the caller's user may be unreadable
# (a container's init), which makes every ancestor unknown; the exec step
# is then skipped.
T_OWN_PIDNS=1
. "$(dirname "$0")/lib.sh"

init_vault
V=$(canary)
add_secret deploy-token "$V"
run "$AL" lease ls
expect_rc 0 "the broker starts"

# The ancestor's program after exec: a copy of sleep only this test runs.
mkdir -p "$T_ROOT/bin"
cp "$(readlink -f /bin/sleep)" "$T_ROOT/bin/parent-after-exec"
ME=$(id -u)
# policy N: write version N of the policy (atomically, mode 0600).
policy() {
	if [ "$1" = deny-all ]; then
		rules="  - id: nobody
    effect: deny
    secrets: [deploy-token]
    reason: closed for the test"
	else
		rules="  - id: not-under-the-exec
    effect: deny
    callers: [\"unix:ancestor-exe:$T_ROOT/bin/parent-after-exec\"]
    secrets: [deploy-token]
    reason: the parent ran another program
  - id: owner
    effect: allow
    callers: [\"unix:uid:$ME\"]
    secrets: [deploy-token]"
	fi
	(umask 077 && printf 'version: 1\nrules:\n%s\n' "$rules" \
	    >"$AIRLOCK_HOME/policy.yaml.new") &&
	    mv "$AIRLOCK_HOME/policy.yaml.new" "$AIRLOCK_HOME/policy.yaml"
}
policy allow
export -f policy
export T_ROOT ME

# P forks C and waits; C connects once and asks four times: allowed;
# denied after the policy is closed; allowed after it is opened again; and
# denied after P, its parent, became parent-after-exec.  P runs below a
# shell of its own, so that it is not init's child (the broker holds open
# only ancestors below that).
cat >"$T_ROOT/c.py" <<'PY'
import json, os, socket, subprocess, sys, time, brokerhttp
sock_path, after = sys.argv[1], sys.argv[2]
r, w = os.pipe()
if os.fork() != 0:
    os.close(w)
    os.read(r, 1)
    os.execv(after, [after, "30"])
os.close(r)
parent = os.getppid()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock_path)
def ask():
    st, reply = brokerhttp.request(s, "POST", "/v1/leases", {
        "secret": "deploy-token", "task": "t", "intent": "test", "ttl": 60,
        "uses": 1})
    return st, json.loads(reply or b"{}")

last_message = ""
def say(step, status, j):
    global last_message
    err = j.get("error", {}) if isinstance(j, dict) else {}
    last_message = err.get("message", "")
    print(step, status, err.get("rule", ""), flush=True)

say("first", *ask())
if "could not be read" in last_message:
    print("skip: the ancestors cannot be read here", flush=True)
    os.kill(parent, 9)
    sys.exit(0)
subprocess.run(["bash", "-c", "policy deny-all"], check=True)
say("closed", *ask())
subprocess.run(["bash", "-c", "policy allow"], check=True)
say("reopened", *ask())
os.write(w, b"x")
for _ in range(600):
    try:
        if os.readlink("/proc/%d/exe" % parent) == after:
            break
    except OSError:
        pass
    time.sleep(0.05)
say("after-exec", *ask())
os.kill(parent, 9)
PY
bash -c 'python3 "$@"; exit $?' sh "$T_ROOT/c.py" "$AIRLOCK_SOCKET" \
    "$T_ROOT/bin/parent-after-exec" >"$OUT" 2>"$ERR"
expect_eq "$?" 137 "the parent was killed by its child at the end"
if grep -q '^skip:' "$OUT"; then
	echo "# skip: the caller's ancestors cannot be read here"
	check_no_leak "$V"
	done_testing
fi
expect_out "first 201 " "a lease on the first request"
expect_out "closed 403 nobody" "the closed policy decides the next request"
expect_out "reopened 201 " "the reopened policy decides the one after"
expect_out "after-exec 403 not-under-the-exec" \
    "the parent's exec is seen on the same connection"
check_no_leak "$V"
done_testing

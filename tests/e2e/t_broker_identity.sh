#!/bin/bash
# The broker's identity and approvals end to end: unix:exe and repository
# rules matched from the socket and /proc, the approval flow through
# `airlock approvals`, `approve` and `deny --reason`, and a second OS user
# refused or served exactly as the policy says.
. "$(dirname "$0")/lib.sh"

PROBE=$(readlink -f "$AIRLOCK_BUILD/tests/e2e/helpers/al-probe")
S="$AIRLOCK_SOCKET"
ME=$(id -u)
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

init_vault
V1=$(canary); V2=$(canary); V3=$(canary)
add_secret deploy-token "$V1"
add_secret repo-token "$V2"
add_secret prod-db "$V3" --label approval=required
cat >"$AIRLOCK_HOME/policy.yaml" <<EOF2
version: 1
rules:
  - id: probe-in-acme
    effect: allow
    callers: ["unix:exe:$PROBE"]
    secrets: [repo-token]
    repos: ["github.com/acme/*"]
  - id: repo-token-elsewhere
    effect: deny
    secrets: [repo-token]
    reason: repo-token is only for the probe in acme repositories
  - id: prod-approval
    effect: approval
    labels: {approval: required}
    callers: ["unix:uid:$ME"]
    approvers: ["unix:uid:$ME"]
  - id: second-user
    effect: allow
    callers: ["unix:user:airlock-e2e2"]
    secrets: [deploy-token]
    intents: ["read *"]
    max_uses: 1
  - id: owner
    effect: allow
    callers: ["unix:uid:$ME"]
    secrets: [deploy-token]
EOF2

# --- unix:exe and repos: identity from /proc, repository from the cwd -------
REPO="$T_ROOT/acme-api"
mkdir -p "$REPO/src/deep"
git -C "$REPO" init -q
git -C "$REPO" remote add origin git@github.com:acme/api.git
OTHER="$T_ROOT/other"
mkdir -p "$OTHER"
git -C "$OTHER" init -q
git -C "$OTHER" remote add origin https://gitlab.com/evil/api.git

(cd "$REPO/src/deep" && "$PROBE" --fetch 1 repo-token) >"$OUT" 2>"$ERR"
expect_eq "$?" 0 "probe in acme/api (subdirectory) gets repo-token"
expect_out "value sha256=$(sha "$V2") len=${#V2}"
(cd "$OTHER" && "$PROBE" --fetch 1 repo-token) >"$OUT" 2>"$ERR"
expect_eq "$?" 3 "probe in another repository is denied"
expect_err "repo-token is only for the probe in acme repositories"
# Same repository, another executable (curl): not the probe.
(cd "$REPO" && curl -s --unix-socket "$S" -X POST \
    -H 'Content-Type: application/json' \
    --data-binary '{"secret":"repo-token"}' http://airlock/v1/leases) >"$OUT"
expect_out '"rule":"repo-token-elsewhere"' "curl is not the probe"
# The audit line names the caller as identified (exe, repo), never a value.
python3 - "$AIRLOCK_HOME/audit.log" "$PROBE" <<'PY' && pass || fail "no grant naming the probe and repo"
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    c = e.get("caller") or {}
    if e["event"] == "grant" and c.get("exe") == sys.argv[2] and \
       c.get("repo") == "github.com/acme/api":
        sys.exit(0)
sys.exit(1)
PY

# --- approvals: list, approve, deny --reason ---------------------------------
PIN="pin-$RANDOM-$RANDOM"
set_approver_pin "$PIN"
"$PROBE" --wait 30 --fetch 1 --task migrate --intent "run migration" prod-db \
    >"$T_ROOT/ap1" 2>&1 &
AP1=$!
for _ in $(seq 50); do grep -q '^pending' "$T_ROOT/ap1" && break; sleep 0.1; done
ID1=$(sed -n 's/^pending //p' "$T_ROOT/ap1")
expect_eq "${#ID1}" 32 "approval id"
run "$AL" approvals
expect_rc 0 "approvals"
expect_out "$ID1"
expect_out "secret prod-db"
expect_out "rule: prod-approval"
run "$AL" approvals --json
expect_eq "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$OUT")" "$ID1" "approvals --json"
run with_tty "$PIN" "$AL" approve nosuchid
expect_rc 2 "approve an unknown id"
run with_tty "$PIN" "$AL" approve "$ID1"
expect_rc 0 "approve"
expect_out "approved request $ID1: lease "
wait "$AP1"
expect_eq "$?" 0 "the waiting request got its lease"
grep -qF "value sha256=$(sha "$V3") len=${#V3}" "$T_ROOT/ap1" && pass ||
    fail "approved value: $(cat "$T_ROOT/ap1")"
run with_tty "$PIN" "$AL" approve "$ID1"
expect_rc 2 "approve twice"
expect_out "already approved"

"$PROBE" --wait 30 --fetch 1 prod-db >"$T_ROOT/ap2" 2>&1 &
AP2=$!
for _ in $(seq 50); do grep -q '^pending' "$T_ROOT/ap2" && break; sleep 0.1; done
ID2=$(sed -n 's/^pending //p' "$T_ROOT/ap2")
run "$AL" deny "$ID2"
expect_rc 2 "deny without --reason"
run "$AL" deny "$ID2" --reason "not during the freeze"
expect_rc 0 "deny"
expect_out "denied request $ID2"
wait "$AP2"
expect_eq "$?" 3 "the waiting request was denied"
grep -qF "not during the freeze" "$T_ROOT/ap2" && pass || fail "deny reason not shown"
for ev in approve deny_approval; do
	grep -q "\"event\":\"$ev\"" "$AIRLOCK_HOME/audit.log" && pass ||
	    fail "no $ev event in the audit log"
done

# --- a second OS user --------------------------------------------------------
if [ "$ME" -ne 0 ]; then
	echo "# skip: second OS user (needs root to create one)"
else
	getent group airlock-e2e >/dev/null || groupadd airlock-e2e
	id airlock-e2e2 >/dev/null 2>&1 || useradd -M -N -g airlock-e2e airlock-e2e2
	kill "$(cat "$AIRLOCK_HOME/airlockd.pid")"
	# Gone means its lock is free: it removes its socket first, and a
	# broker started before it lets go refuses ("already running").
	for _ in $(seq 150); do
		flock -n "$AIRLOCK_HOME/airlockd.lock" true && break
		sleep 0.1
	done
	PUB="$T_ROOT/pub"
	mkdir -p "$PUB"
	chmod 711 "$T_ROOT"
	chgrp airlock-e2e "$PUB" && chmod 750 "$PUB"
	"$AL" serve --foreground --socket "$PUB/airlockd.sock" --group airlock-e2e \
	    >"$T_ROOT/serve.log" 2>&1 &
	SP=$!
	# A loaded machine may take a while to start it; say why if it never did.
	for _ in $(seq 300); do [ -S "$PUB/airlockd.sock" ] && break; sleep 0.1; done
	expect_eq "$(stat -c '%a %G' "$PUB/airlockd.sock" 2>&1)" "660 airlock-e2e" \
	    "group socket ($(tr '\n' ' ' <"$T_ROOT/serve.log"))"
	u2() {	# u2 METHOD PATH [BODY]: curl as the second user
		runuser -u airlock-e2e2 -- curl -s -o - -w '\n%{http_code}' \
		    --unix-socket "$PUB/airlockd.sock" -X "$1" \
		    -H 'Content-Type: application/json' ${3:+--data-binary "$3"} \
		    "http://airlock$2"
	}
	u2 POST /v1/leases '{"secret":"deploy-token","intent":"write things"}' >"$OUT"
	expect_eq "$(tail -1 "$OUT")" 403 "second user, intent outside the rule"
	u2 POST /v1/leases '{"secret":"repo-token","intent":"read it"}' >"$OUT"
	expect_eq "$(tail -1 "$OUT")" 403 "second user, secret outside the rule"
	# One process takes the lease and its uses (the holder is the process).
	cat >"$T_ROOT/u2.py" <<'PY'
import hashlib, http.client, json, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sys.argv[1])
c = C("airlock")
def req(m, p, b=None):
    c.request(m, p, body=b, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, r.read()
st, b = req("POST", "/v1/leases", '{"secret":"deploy-token","intent":"read config"}')
print("grant", st)
lid = json.loads(b)["lease"]["id"]
st, b = req("GET", "/v1/leases/%s/value" % lid)
print("use", st, hashlib.sha256(b).hexdigest())
st, b = req("GET", "/v1/leases/%s/value" % lid)
print("use", st)
PY
	chmod 644 "$T_ROOT/u2.py"
	runuser -u airlock-e2e2 -- /usr/bin/python3 "$T_ROOT/u2.py" "$PUB/airlockd.sock" >"$OUT" 2>&1
	expect_out "grant 201" "second user served by rule second-user"
	expect_out "use 200 $(sha "$V1")" "second user's value"
	expect_out "use 410" "second user, max_uses 1"
	# Root's lease is not the second user's to use or see.
	R=$(curl -s --unix-socket "$PUB/airlockd.sock" -X POST -H 'Content-Type: application/json' \
	    --data-binary '{"secret":"deploy-token"}' http://airlock/v1/leases |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["lease"]["id"])')
	u2 GET "/v1/leases/$R/value" >"$OUT"
	expect_eq "$(tail -1 "$OUT")" 404 "second user, someone else's lease"
	grep -q '"user": *"airlock-e2e2"' "$AIRLOCK_HOME/audit.log" ||
	    grep -q '"user":"airlock-e2e2"' "$AIRLOCK_HOME/audit.log" && pass ||
	    fail "the second user is not named in the audit log"
	kill "$SP"
	wait "$SP" 2>/dev/null
	userdel airlock-e2e2 2>/dev/null || true
	groupdel airlock-e2e 2>/dev/null || true
fi
"$AL" audit verify >"$OUT" 2>&1
expect_eq "$?" 0 "audit verify"
check_no_leak "$V1" "$T_ROOT/ap1" "$T_ROOT/ap2"
check_no_leak "$V2"
check_no_leak "$V3" "$T_ROOT/ap1" "$T_ROOT/ap2"
done_testing

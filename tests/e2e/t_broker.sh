#!/bin/bash
# The broker end to end: autostart and readiness, grant/use/revoke, denial
# with reason and rule, bad input, connection-bound leases, expiry, restart.
. "$(dirname "$0")/lib.sh"

PROBE="$AIRLOCK_BUILD/tests/e2e/helpers/al-probe"
S="$AIRLOCK_SOCKET"
api() {	# api METHOD PATH [BODY]: curl over the socket; body in $OUT, code in $CODE
	if [ $# -ge 3 ]; then
		CODE=$(curl -s -o "$OUT" -w '%{http_code}' --unix-socket "$S" \
		    -X "$1" -H 'Content-Type: application/json' \
		    --data-binary "$3" "http://airlock$2")
	else
		CODE=$(curl -s -o "$OUT" -w '%{http_code}' --unix-socket "$S" \
		    -X "$1" "http://airlock$2")
	fi
	cat "$OUT" >>"$ALL_OUTPUT"
}
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d=d[int(k)] if isinstance(d,list) else d[k]
print(d)' "$OUT" "$1"; }
broker_pid() { cat "$AIRLOCK_HOME/airlockd.pid" 2>/dev/null; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

init_vault
V1=$(canary)
add_secret deploy-token "$V1"

# --- autostart: the first command that needs the broker starts it --------
expect_eq "$([ -e "$S" ] && echo yes || echo no)" no "socket before use"
run "$AL" lease ls
expect_rc 0 "lease ls autostarts"
expect_out "no live leases"
P1=$(broker_pid)
[ -n "$P1" ] && kill -0 "$P1" 2>/dev/null && pass || fail "no broker pid"
expect_eq "$(stat -c %a "$S")" 600 "socket mode"
# Fully detached: own session, stdio not ours, nothing held open.
BSID=$(ps -o sid= -p "$P1" | tr -d ' ')
[ "$BSID" != "$(ps -o sid= -p $$ | tr -d ' ')" ] && pass || fail "broker in our session"
# Nothing inherited from the client: no pipe, no terminal.
if ls -l /proc/"$P1"/fd | grep -q -e 'pipe:' -e '/dev/pts' -e '/dev/tty'; then
	fail "broker holds a pipe or terminal: $(ls -l /proc/"$P1"/fd)"
else
	pass
fi
start=$(date +%s%N)
"$AL" lease ls | cat >/dev/null
el=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$el" -lt 2000 ] && pass || fail "lease ls | cat took ${el} ms"
# A second serve refuses: one broker per state directory.
run "$AL" serve
expect_rc 2 "second serve"
expect_err "a broker is already running for $AIRLOCK_HOME (pid $P1)"

# --- health and unknown routes -------------------------------------------
api GET /v1/health
expect_eq "$CODE" 200 "health"
expect_eq "$(jget status)" ok "health status"
api GET /v1/nope
expect_eq "$CODE" 404 "unknown route"
expect_eq "$(jget error.code)" not-found "unknown route code"
api PUT /v1/health
expect_eq "$CODE" 405 "wrong method"

# --- grant, use, revoke ----------------------------------------------------
run "$PROBE" --task build-1 --intent "deploy staging" --uses 2 --fetch 2 \
    deploy-token
expect_rc 0 "probe grant+use"
expect_out "value sha256=$(sha "$V1") len=${#V1}"
[ "$(grep -c '^value' "$OUT")" = 2 ] && pass || fail "two uses"
LID=$(sed -n 's/^lease //p' "$OUT")
# Used up: a third use is refused.
run "$PROBE" --lease "$LID" --fetch 1
expect_rc 5 "third use refused"
expect_err "the lease's uses are used up"

run "$PROBE" --task build-2 --fetch 0 deploy-token
L2=$(sed -n 's/^lease //p' "$OUT")
run "$AL" lease ls
expect_out "$L2"
expect_out "build-2"
run "$AL" lease ls --json
expect_out "\"id\": \"$L2\""
# Not the holder: this process did not ask for the lease.
api GET "/v1/leases/$L2/value"
expect_eq "$CODE" 403 "value to a non-holder"
expect_eq "$(jget error.message)" "only the process that holds a lease may use it" \
    "non-holder message"
run "$AL" lease revoke "$L2"
expect_rc 0 "revoke"
expect_out "revoked lease $L2"
run "$AL" lease revoke "$L2"
expect_rc 2 "revoke twice"
expect_err "lease $L2 has ended (revoked)"
run "$PROBE" --lease "$L2" --fetch 1
expect_rc 5 "use after revoke"
# Revoke by task.
run "$PROBE" --task t-many --fetch 0 deploy-token
run "$PROBE" --task t-many --fetch 0 deploy-token
run "$AL" lease revoke --task t-many
expect_rc 0 "revoke --task"
expect_out "revoked 2 leases of task t-many"
run "$AL" lease revoke
expect_rc 2 "revoke without id"
expect_err "'lease revoke' takes a lease ID or --task TASK"

# --- denial with reason and rule ------------------------------------------
cat >"$AIRLOCK_HOME/policy.yaml" <<EOF
version: 1
rules:
  - id: no-prod
    effect: deny
    callers: ["unix:uid:$(id -u)"]
    secrets: ["prod-*"]
    reason: production secrets are not leased here
  - id: mine
    effect: allow
    callers: ["unix:uid:$(id -u)"]
    secrets: ["*"]
    max_ttl: 1m
    max_uses: 3
EOF
chmod 600 "$AIRLOCK_HOME/policy.yaml"
add_secret prod-db "$(canary)"
kill -HUP "$P1"
sleep 0.3
run "$PROBE" --fetch 0 prod-db
expect_rc 3 "denied"
expect_err "denied by policy rule 'no-prod': production secrets are not leased here"
api POST /v1/leases '{"secret":"prod-db"}'
expect_eq "$CODE" 403 "denied over HTTP"
expect_eq "$(jget error.rule)" no-prod "denial names the rule"
# The new rule's limits clip what is asked for.
api POST /v1/leases '{"secret":"deploy-token","ttl":3600,"uses":10}'
expect_eq "$CODE" 201 "clipped grant"
expect_eq "$(jget lease.uses_left)" 3 "uses clipped to max_uses"
# Nobody waits on a grant, yet its line reaches the disk (and the head)
# within the broker's short sync delay.
sleep 0.3
run "$AL" audit verify
expect_rc 0 "audit intact after a grant"
n=$(wc -l <"$AIRLOCK_HOME/audit.log")
expect_out "head checked at line $n"
# A bad policy on SIGHUP is rejected and the old one stays.
printf 'version: 1\nrules: [ {id: x, effect: allow, max_tll: 5m} ]\n' \
    >"$AIRLOCK_HOME/policy.yaml"
kill -HUP "$P1"
sleep 0.3
run "$PROBE" --fetch 0 prod-db
expect_rc 3 "old policy still in force"
grep -q '"event":"policy_reload","outcome":"rejected"' "$AIRLOCK_HOME/audit.log" &&
    pass || fail "rejected reload not audited"
api GET /metrics
expect_eq "$CODE" 200 "metrics"
grep -q '^airlock_policy_reload_failures_total 1$' "$OUT" && pass ||
    fail "metrics lack the failed reload"
grep -q '^airlock_denials_total 3$' "$OUT" && pass || fail "denials metric: $(grep denials "$OUT")"
grep -q 'airlock_request_duration_seconds_bucket{le="+Inf"}' "$OUT" && pass ||
    fail "no latency histogram"

# --- bad input ---------------------------------------------------------------
api POST /v1/leases '{"secret":'
expect_eq "$CODE" 400 "malformed JSON"
expect_eq "$(jget error.message)" "malformed JSON body at byte 10" "JSON error by position"
api POST /v1/leases '{"secret":"deploy-token","ttl":"5m"}'
expect_eq "$CODE" 400 "wrong type"
expect_eq "$(jget error.message)" "field 'ttl' has the wrong type" "type message"
api POST /v1/leases '{"secret":"deploy-token","colour":1}'
expect_eq "$(jget error.message)" "unknown field 'colour' (see docs/api.md)" "unknown field"
api POST /v1/leases '[1,2]'
expect_eq "$(jget error.message)" "the body must be a JSON object" "array body"
api POST /v1/leases "{\"secret\":\"deploy-token\",\"task\":\"$(head -c 20000 /dev/zero | tr '\0' a)\"}"
expect_eq "$CODE" 413 "oversized body"
api GET /v1/leases/zzz
expect_eq "$CODE" 404 "bad lease id"
# The broker still serves after all that.
api GET /v1/health
expect_eq "$CODE" 200 "health after bad input"

# --- connection-bound leases end with their connection ----------------------
"$PROBE" --bind --task bound --fetch 1 --hold 30 deploy-token >"$T_ROOT/hold" 2>&1 &
HP=$!
for _ in $(seq 50); do grep -q holding "$T_ROOT/hold" && break; sleep 0.1; done
BL=$(sed -n 's/^lease //p' "$T_ROOT/hold")
api GET "/v1/leases/$BL"
expect_eq "$(jget lease.state)" live "bound lease live"
killed_ms=$(date +%s%3N)
kill -9 "$HP"
wait "$HP" 2>/dev/null
sleep 1
api GET "/v1/leases/$BL"
expect_eq "$(jget lease.state)" connection-closed "bound lease after kill -9"
# When the broker ended it, by the audit log's clock (milliseconds).
ended_ms=$(python3 -c 'import json,sys,datetime
for l in open(sys.argv[1]):
    e=json.loads(l)
    if e.get("lease")==sys.argv[2] and e["event"]=="expire":
        t=datetime.datetime.strptime(e["time"],"%Y-%m-%dT%H:%M:%S.%fZ")
        print(int(t.replace(tzinfo=datetime.timezone.utc).timestamp()*1000))' \
    "$AIRLOCK_HOME/audit.log" "$BL")
el=$((ended_ms - killed_ms))
[ -n "$ended_ms" ] && [ "$el" -le 1000 ] && pass ||
    fail "bound lease ended ${el} ms after its holder died"

# --- expiry ------------------------------------------------------------------
run "$PROBE" --ttl 1 --task short --fetch 0 deploy-token
SL=$(sed -n 's/^lease //p' "$OUT")
sleep 2
api GET "/v1/leases/$SL"
expect_eq "$(jget lease.state)" expired "expired lease"

# --- restart: revoked stays revoked, live stays live, expired stays expired --
run "$PROBE" --task keep --fetch 0 deploy-token
KL=$(sed -n 's/^lease //p' "$OUT")
run "$PROBE" --ttl 2 --task soon --fetch 0 deploy-token
XL=$(sed -n 's/^lease //p' "$OUT")
cat >"$AIRLOCK_HOME/policy.yaml" <<EOF
version: 1
rules:
  - id: mine
    effect: allow
    callers: ["unix:uid:$(id -u)"]
    secrets: ["*"]
    max_ttl: 1m
EOF
kill "$P1"
for _ in $(seq 50); do [ -e "$S" ] || break; sleep 0.1; done
expect_eq "$([ -e "$S" ] && echo yes || echo no)" no "socket removed on SIGTERM"
sleep 2
run "$AL" lease ls
expect_rc 0 "restart by autostart"
expect_out "$KL"
if grep -qF -e "$L2" -e "$XL" -e "$BL" "$OUT"; then
	fail "an ended lease is live after restart"
else
	pass
fi
api GET "/v1/leases/$L2"
expect_eq "$(jget lease.state)" revoked "revoked after restart"
api GET "/v1/leases/$XL"
expect_eq "$(jget lease.state)" expired "expired during restart"

# --- the audit trail --------------------------------------------------------
for ev in grant use deny revoke expire; do
	grep -q "\"event\":\"$ev\"" "$AIRLOCK_HOME/audit.log" && pass ||
	    fail "no $ev event in the audit log"
done
api GET '/v1/audit?n=3'
expect_eq "$CODE" 200 "audit tail"
expect_eq "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["events"]))' "$OUT")" 3 "tail length"

check_no_leak "$V1" "$T_ROOT/hold"
done_testing

#!/bin/bash
# The revocation queue seen from outside, against a real, throwaway
# PostgreSQL: with the database stopped, a credential whose task ended is
# listed as revoking (with its time-to-revoke so far and the last error),
# counted by `airlock doctor` and by /metrics; when the database is back the
# queue drains and the time-to-revoke lands in the histogram.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
PG_DB=postgres apsql -c "CREATE DATABASE app" || { fail "create database"; exit 1; }
apsql -c "CREATE ROLE app_rw NOLOGIN" || fail "group role"
init_vault
CANARY=$(canary)
printf '%s\n' "$PG_ADMIN_PW" >"$T_ROOT/adminpw"
run_in "$T_ROOT/adminpw" "$AL" secret add app-db --engine postgres \
    --connection "$PG_CONN" --group app_rw --owner dba --purpose "$CANARY"
expect_rc 0 "secret add --engine postgres"
rm -f "$T_ROOT/adminpw"

# jrun CMD...: run, with its JSON output made compact (one line) in $OUT.
jrun() {
	run "$@"
	python3 -c 'import json, sys
print(json.dumps(json.load(sys.stdin), separators=(",", ":")))' <"$OUT" >"$OUT.c" &&
	    mv "$OUT.c" "$OUT"
}
metrics() {
	curl -s --unix-socket "$AIRLOCK_SOCKET" http://airlock/metrics >"$T_ROOT/metrics"
}
metric() {	# metric NAME: its value in the last metrics fetched
	awk -v n="$1" '$1 == n { print $2 }' "$T_ROOT/metrics"
}

jrun "$AL" doctor --json
expect_out '"check":"revoke","status":"ok"' "doctor: nothing queued before any lease"

# --- a task ends while the database is down ------------------------------
"$AL" run -e DATABASE_URL=app-db -- sh -c '
	psql -X -At "$DATABASE_URL" -c "select current_user" >"$1/role"
	printf %s "$DATABASE_URL" >"$1/url"
	while [ ! -e "$1/go" ]; do sleep 0.05; done' sh "$T_ROOT" \
    >>"$ALL_OUTPUT" 2>&1 &
RUNPID=$!
n=0; while [ ! -s "$T_ROOT/role" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
ROLE=$(cat "$T_ROOT/role")
PW=$(sed 's|^postgresql://[^:]*:\([0-9a-f]*\)@.*|\1|' "$T_ROOT/url")
rm -f "$T_ROOT/url"
expect_eq "${#PW}" 64 "the task got a credential"
pg_stop
touch "$T_ROOT/go"
wait "$RUNPID"
# Down for at least a second: the time-to-revoke cannot be less.
sleep 1.2

jrun "$AL" lease ls --json
expect_out '"state":"revoking"' "lease ls: the credential is revoking"
expect_out "\"role\":\"$ROLE\""
expect_out '"error":"' "lease ls: the last error"
TTR=$(grep -o '"ttr_ms":[0-9]*' "$OUT" | head -1 | cut -d: -f2)
[ -n "$TTR" ] && [ "$TTR" -ge 1000 ] && pass ||
	fail "lease ls --json: ttr_ms '$TTR' should count the time since the task ended"
grep -q '"ended_unix":[1-9]' "$OUT" && pass || fail "lease ls --json: no ended_unix"
# Between its retries no attempt is under way (one to a stopped server
# fails at once, so null is all but certain; a number is allowed).
grep -q '"attempt_ms":\(null\|[0-9]\)' "$OUT" && pass ||
	fail "lease ls --json: no attempt_ms"
run "$AL" lease ls
expect_out "revoking role $ROLE for " "lease ls: the table says for how long"

run "$AL" doctor
expect_rc 0 "doctor: a queued revocation is a warning, not a failure"
grep -q "^warn  revoke .*1 credential of ended leases not destroyed yet" "$OUT" && pass ||
	fail "doctor does not count the queued credential: $(grep revoke "$OUT")"
grep "^warn  revoke" "$OUT" | grep -q "secret app-db, role $ROLE" && pass ||
	fail "doctor does not name the secret and role"
grep "^warn  revoke" "$OUT" | grep -q "attempt.*: .\+" && pass ||
	fail "doctor does not give the last error"
jrun "$AL" doctor --json
expect_out '"check":"revoke","status":"warn"'

metrics
expect_eq "$(metric airlock_credentials_revoking)" 1 "metrics: one credential revoking"
[ "$(metric airlock_credential_revoke_failures_total)" -ge 1 ] && pass ||
	fail "metrics: no failed attempt counted"
expect_eq "$(metric airlock_credential_revoke_seconds_count)" 0 \
    "metrics: nothing confirmed revoked yet"

# --- the database is back: the queue drains -------------------------------
pg_start
wait_role_gone "$ROLE" 40 && pass || fail "the role outlived the database's return"
n=0
while [ $n -lt 100 ]; do
	metrics
	[ "$(metric airlock_credential_revoke_seconds_count)" = 1 ] && break
	sleep 0.1; n=$((n + 1))
done
expect_eq "$(metric airlock_credentials_revoking)" 0 "metrics: the queue drained"
expect_eq "$(metric airlock_credential_revoke_seconds_count)" 1 \
    "metrics: one time-to-revoke observed"
expect_eq "$(metric 'airlock_credential_revoke_seconds_bucket{le="1"}')" 0 \
    "metrics: it took over a second (the database was down)"
expect_eq "$(metric 'airlock_credential_revoke_seconds_bucket{le="+Inf"}')" 1
awk '$1 == "airlock_credential_revoke_seconds_sum" { exit !($2 >= 1.0) }' \
    "$T_ROOT/metrics" && pass || fail "metrics: the sum is under a second"
jrun "$AL" lease ls --json
if grep -q revoking "$OUT"; then fail "still listed as revoking"; else pass; fi
jrun "$AL" doctor --json
expect_out '"check":"revoke","status":"ok"' "doctor: nothing queued once drained"
"$AL" audit --json >"$T_ROOT/audit.json" 2>>"$ALL_OUTPUT"
grep "\"event\":\"credential_revoke\"" "$T_ROOT/audit.json" | grep "\"role\":\"$ROLE\"" |
    grep -q '"ttr_ms":[1-9][0-9][0-9][0-9]' && pass ||
	fail "the audit line lacks a time-to-revoke of over a second"

# --- doctor reads the queue without a broker --------------------------------
rm -f "$T_ROOT/go" "$T_ROOT/role"
"$AL" run -e DATABASE_URL=app-db -- sh -c '
	psql -X -At "$DATABASE_URL" -c "select current_user" >"$1/role"
	while [ ! -e "$1/go" ]; do sleep 0.05; done' sh "$T_ROOT" \
    >>"$ALL_OUTPUT" 2>&1 &
RUNPID=$!
n=0; while [ ! -s "$T_ROOT/role" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
ROLE2=$(cat "$T_ROOT/role")
pg_stop
touch "$T_ROOT/go"
wait "$RUNPID"
n=0
while [ $n -lt 40 ]; do
	"$AL" lease ls --json 2>/dev/null | grep -q "\"role\":\"$ROLE2\"" && break
	sleep 0.05; n=$((n + 1))
done
"$AL" stop >>"$ALL_OUTPUT" 2>&1
run "$AL" doctor
grep "^warn  revoke" "$OUT" | grep -q "role $ROLE2" && pass ||
	fail "doctor without a broker does not see the queue: $(grep revoke "$OUT")"
expect_eq "$(ls "$AIRLOCK_HOME"/airlockd.pid 2>/dev/null)" "" "doctor started no broker"
pg_start
run "$AL" lease ls		# a new broker works the queue
wait_role_gone "$ROLE2" 40 && pass || fail "the queue did not survive the broker's restart"

check_no_leak "$PW" "$PG_LOG"
check_no_leak "$PG_ADMIN_PW" "$PG_LOG"
echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]

#!/bin/bash
# Dynamic PostgreSQL credentials against a real, throwaway PostgreSQL: a
# role exists only while its lease lives, is destroyed however the lease
# ends (even with open sessions and owned tables, the database down for a
# while, or the broker killed), and no password reaches a log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
PG_DB=postgres apsql -c "CREATE DATABASE app" || { fail "create database"; exit 1; }
apsql -c "CREATE ROLE app_rw NOLOGIN; CREATE TABLE t (x int);
	INSERT INTO t VALUES (42); GRANT SELECT ON t TO app_rw;
	GRANT CREATE ON SCHEMA public TO app_rw" || fail "schema"
init_vault

# --- secret add: a dry run of the grants --------------------------------
printf '%s\n' "$PG_ADMIN_PW" >"$T_ROOT/adminpw"
run_in "$T_ROOT/adminpw" "$AL" secret add bad-db --engine postgres \
    --connection "$PG_CONN" --grant 'GRANT SELECT ON t TOO {{role}}' \
    --owner dba --purpose test
expect_rc 2 "a grant with a syntax error is refused"
expect_err '--grant 1: syntax error at or near "TOO"'
run "$AL" secret show bad-db
expect_rc 2 "nothing stored for a refused secret"
run_in "$T_ROOT/adminpw" "$AL" secret add bad-db --engine postgres \
    --connection "$PG_CONN password=x" --group app_rw --owner dba --purpose t
expect_rc 2 "a password in the connection string is refused"
expect_err "must not hold a password"
run_in "$T_ROOT/adminpw" "$AL" secret add app-db --engine postgres \
    --connection "$PG_CONN" --group app_rw --owner dba --purpose test
expect_rc 0 "secret add --engine postgres"
run_in "$T_ROOT/adminpw" "$AL" secret add app-grants --engine postgres \
    --connection "$PG_CONN" --role-prefix airlock_g_ \
    --grant 'GRANT SELECT ON t TO {{role}}' --owner dba --purpose test
expect_rc 0 "secret add with a grant statement"
run "$AL" secret ls
expect_out "postgres" "secret ls shows the engine"
[ "$(PG_DB=postgres apsql -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'airlock%'")" = 0 ] ||
	fail "the dry run left a role behind"

# --- a lease: the role exists during the task, is gone after ------------
run "$AL" run -e DATABASE_URL=app-db -- sh -c '
	psql -X -At "$DATABASE_URL" -c "select current_user" >"$1/role"
	psql -X -At "$DATABASE_URL" -c "select x from t"
	printf %s "$DATABASE_URL" >"$1/url"' sh "$T_ROOT"
expect_rc 0 "the child connects with DATABASE_URL"
expect_out 42
ROLE=$(cat "$T_ROOT/role")
# The prefix, this airlock's own 12 hex digits, 16 random hex digits.
case "$ROLE" in airlock_????????????????????????????) pass ;; *) fail "role name '$ROLE'" ;; esac
STEM=${ROLE%????????????????}
URL=$(cat "$T_ROOT/url")
case "$URL" in "postgresql://$ROLE:"*"@/app?host="*) pass ;; *) fail "URL shape" ;; esac
PW=$(printf %s "$URL" | sed 's|^postgresql://[^:]*:\([0-9a-f]*\)@.*|\1|')
expect_eq "${#PW}" 64 "a 256-bit password"
rm -f "$T_ROOT/url"
wait_role_gone "$ROLE" 3 && pass || fail "role $ROLE still exists after the task"
# The broker audits a confirmed revocation at its next turn.
n=0
while [ $n -lt 40 ]; do
	"$AL" audit --json >"$T_ROOT/audit.json" 2>>"$ALL_OUTPUT"
	grep -q "\"event\":\"credential_revoke\".*\"role\":\"$ROLE\"" "$T_ROOT/audit.json" && break
	sleep 0.05; n=$((n + 1))
done
grep -q '"event":"credential_revoke".*"ttr_ms":' "$T_ROOT/audit.json" && pass ||
	fail "no credential_revoke line with ttr_ms"
grep -q "\"role\":\"$ROLE\"" "$T_ROOT/audit.json" && pass || fail "role not audited"

# Fields of one credential: one lease, one role.
run "$AL" run -e PGUSER=app-db.user -e PGPASSWORD=app-db.password \
    -e PGHOST=app-db.host -e PGPORT=app-db.port -e PGDATABASE=app-db.dbname \
    -e U=app-db.url -- sh -c '
	psql -X -At -c "select current_user, current_database(), (select x from t)"
	case "$U" in "postgresql://$PGUSER:$PGPASSWORD@"*) echo url-matches;; esac
	echo "pw $PGPASSWORD"'
expect_rc 0 "fields of the credential"
expect_out "|app|42"
expect_out url-matches "the fields belong to the same credential"
expect_out "pw [REDACTED:app-db" "the password on its own is masked"
FROLE=$(head -1 "$OUT" | cut -d'|' -f1)
wait_role_gone "$FROLE" 3 && pass || fail "the fields' role still exists"
expect_eq "$("$AL" audit --json 2>/dev/null | grep -c '"event":"mint"')" 2 "one mint per run"

# Grant statements instead of a group, and the VALID UNTIL safety net.
run "$AL" run --ttl 120 -e U=app-grants -- sh -c '
	psql -X -At "$U" -c "select x from t; select rolvaliduntil > now() + interval '"'"'100 s'"'"' and rolvaliduntil < now() + interval '"'"'200 s'"'"' from pg_roles where rolname = current_user; select current_user"'
expect_rc 0 "grant statements"
expect_out 42
expect_out t "VALID UNTIL is the expiry plus a margin"
GROLE=$(tail -1 "$OUT")
wait_role_gone "$GROLE" 3 && pass || fail "granted role still exists"

# The lease's TTL ends it while the task still runs: the role goes then,
# and so does the task.
run "$AL" run --ttl 1 -e DATABASE_URL=app-db -- sh -c '
	psql -X -At "$DATABASE_URL" -c "select current_user" >"$1/role"
	sleep 2.5
	psql -X -At "$DATABASE_URL" -c "select 1"' sh "$T_ROOT"
expect_eq "$RC" 143 "the task ended with its lease"
expect_err "ended (expired); the task was ended"
ROLE=$(cat "$T_ROOT/role")
role_exists "$ROLE" && fail "role $ROLE outlived its lease's TTL" || pass

# --- a role that owns a table and has open sessions is still revoked ----
rm -f "$T_ROOT/go" "$T_ROOT/url"
"$AL" run -e DATABASE_URL=app-db -- sh -c '
	psql -X -q "$DATABASE_URL" -c "create table owned (y int)"
	printf %s "$DATABASE_URL" >"$1/url"
	while [ ! -e "$1/go" ]; do sleep 0.05; done' sh "$T_ROOT" \
    >>"$ALL_OUTPUT" 2>&1 &
RUNPID=$!
pg_task_url
psql -X -q "$URL" -c "select pg_sleep(30)" >/dev/null 2>&1 &
S1=$!
psql -X -q "$URL" -c "set role app_rw; select pg_sleep(30)" >/dev/null 2>&1 &
S2=$!
n=0
while [ "$(apsql -c "SELECT count(*) FROM pg_stat_activity WHERE usename = '$ROLE' AND query LIKE '%pg_sleep%'")" != 2 ] &&
    [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
PIDS=$(apsql -c "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE usename = '$ROLE'")
case "$PIDS" in *,*) pass ;; *) fail "the two sessions are not open ($PIDS)" ;; esac
touch "$T_ROOT/go"
wait "$RUNPID"; expect_eq "$?" 0 "the task ends"
wait_role_gone "$ROLE" 8 && pass || fail "role with sessions and a table still exists"
# The sessions are gone (a dropped role's session would go on working).
expect_eq "$(apsql -c "SELECT count(*) FROM pg_stat_activity WHERE pid IN ($PIDS)")" 0 \
    "sessions of the revoked role"
kill "$S1" "$S2" 2>/dev/null
wait "$S1" "$S2" 2>/dev/null
expect_eq "$(apsql -c "SELECT tableowner FROM pg_tables WHERE tablename = 'owned'")" admin \
    "the table is reassigned"

# --- the database stopped during revocation: queued, done when back -----
rm -f "$T_ROOT/go" "$T_ROOT/role"
"$AL" run -e DATABASE_URL=app-db -- sh -c '
	psql -X -At "$DATABASE_URL" -c "select current_user" >"$1/role"
	while [ ! -e "$1/go" ]; do sleep 0.05; done' sh "$T_ROOT" \
    >>"$ALL_OUTPUT" 2>&1 &
RUNPID=$!
n=0; while [ ! -s "$T_ROOT/role" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
ROLE=$(cat "$T_ROOT/role")
pg_stop
touch "$T_ROOT/go"
wait "$RUNPID"
# Until its first attempt has failed (a loaded or sanitized build is slow).
for _ in $(seq 200); do
	run "$AL" lease ls --json
	grep -q '"error":' "$OUT" && break
	sleep 0.05
done
run "$AL" lease ls
expect_out revoking "lease ls shows the credential as revoking"
expect_out "$ROLE"
run "$AL" lease ls --json
expect_out '"error":' "the last error is shown"
pg_start
wait_role_gone "$ROLE" 10 && pass || fail "queued revocation not done when the database came back"
n=0
while [ $n -lt 40 ]; do
	"$AL" lease ls --json 2>/dev/null | grep -q revoking || break
	sleep 0.1; n=$((n + 1))
done
run "$AL" lease ls --json
if grep -q revoking "$OUT"; then fail "still listed as revoking"; else pass; fi

# --- kill -9 of the broker with a live credential; restart destroys it --
rm -f "$T_ROOT/go" "$T_ROOT/role"
"$AL" run -e DATABASE_URL=app-db -- sh -c '
	psql -X -At "$DATABASE_URL" -c "select current_user" >"$1/role"
	while [ ! -e "$1/go" ]; do sleep 0.05; done' sh "$T_ROOT" \
    >>"$ALL_OUTPUT" 2>&1 &
RUNPID=$!
n=0; while [ ! -s "$T_ROOT/role" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
ROLE=$(cat "$T_ROOT/role")
# Roles airlock never recorded: one with its own stem (an orphan of its
# own) and one of another airlock using the same prefix (not its to drop).
apsql -c "CREATE ROLE ${STEM}00000000deadbeef LOGIN"
apsql -c "CREATE ROLE airlock_0123456789ab00000000deadbeef LOGIN"
kill -9 "$(cat "$AIRLOCK_HOME/airlockd.pid")"
touch "$T_ROOT/go"
wait "$RUNPID" 2>/dev/null
role_exists "$ROLE" && pass || fail "the role should outlive the killed broker"
run "$AL" lease ls		# starts a new broker
expect_rc 0 "a new broker starts"
wait_role_gone "$ROLE" 5 && pass || fail "restart did not destroy the killed broker's role"
wait_role_gone "${STEM}00000000deadbeef" 5 && pass || fail "restart did not drop an orphan role"
role_exists airlock_0123456789ab00000000deadbeef && pass ||
	fail "restart dropped a role of another airlock with the same prefix"
role_exists app_rw && pass || fail "the group role must stay"

# --- /metrics ------------------------------------------------------------
run "$AL" run -e U=app-db -- true
expect_rc 0 "one more task on the new broker"
n=0
while [ $n -lt 40 ]; do
	curl -s --unix-socket "$AIRLOCK_SOCKET" http://airlock/metrics >"$T_ROOT/metrics"
	grep -q '^airlock_credentials_revoking 0$' "$T_ROOT/metrics" && break
	sleep 0.05; n=$((n + 1))
done
grep -q '^airlock_credentials_minted_total [1-9]' "$T_ROOT/metrics" && pass ||
	fail "metrics lack minted credentials"
grep -q '^airlock_credentials_revoking 0$' "$T_ROOT/metrics" && pass ||
	fail "metrics: nothing should be revoking"
grep -q '^airlock_credential_revoke_seconds_count [1-9]' "$T_ROOT/metrics" && pass ||
	fail "metrics lack the time-to-revoke histogram"

# --- revocations one after another: one connection does them -----------
# (a database session used again at once finds its caches warm)
from=$(wc -l <"$PG_LOG")
for i in 1 2 3 4 5 6; do
	run "$AL" run -e U=app-db -- true
	expect_rc 0 "task $i"
	n=0
	while [ $n -lt 100 ]; do
		curl -s --unix-socket "$AIRLOCK_SOCKET" http://airlock/metrics |
		    grep -q '^airlock_credentials_revoking 0$' && break
		sleep 0.05; n=$((n + 1))
	done
done
tail -n +"$((from + 1))" "$PG_LOG" | grep 'NOLOGIN;COMMIT' |
    sed -n 's/.*\[\([0-9]*\)\].*/\1/p' | sort -u >"$T_ROOT/revokers"
expect_eq "$(wc -l <"$T_ROOT/revokers")" 1 \
    "six revocations in turn used one database session"
# Minting into a group shares the revoking connections: each session the
# server keeps costs it at every other one's work.
tail -n +"$((from + 1))" "$PG_LOG" | grep -E 'NOLOGIN;COMMIT|CREATE ROLE' |
    sed -n 's/.*\[\([0-9]*\)\].*/\1/p' | sort -u >"$T_ROOT/sessions"
expect_eq "$(wc -l <"$T_ROOT/sessions")" 1 \
    "six tasks' mints and revocations used one database session"
# The orphan search's sessions at broker start are closed once it is done.
grep 'SELECT rolname FROM pg_roles WHERE' "$PG_LOG" |
    sed -n 's/.*\[\([0-9]*\)\].*/\1/p' | sort -u | paste -sd, >"$T_ROOT/searchers"
[ -s "$T_ROOT/searchers" ] && pass || fail "no orphan search in the server's log"
expect_eq "$(PG_DB=postgres apsql -c "SELECT count(*) FROM pg_stat_activity WHERE pid IN ($(cat "$T_ROOT/searchers"))")" 0 \
    "the orphan search's sessions are closed"

# --- no password anywhere it must not be ---------------------------------
check_no_leak "$PG_ADMIN_PW" "$PG_LOG"
check_no_leak "$PW" "$PG_LOG"
grep -q "CREATE ROLE" "$PG_LOG" && pass || fail "log_statement=all logged nothing"
grep -q 'SCRAM-SHA-256\$16:' "$PG_LOG" && pass || fail "CREATE ROLE did not get a SCRAM verifier"

echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]

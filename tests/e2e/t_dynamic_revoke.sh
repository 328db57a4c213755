#!/bin/bash
# Revocation of a dynamic PostgreSQL credential reaches everything the role
# could touch: a table it owns in a second database (reassigned there, in
# the database airlock's connection does not name), a session of another
# login role that did SET ROLE to it (ended: it would go on working after
# DROP ROLE), and its own session; the role is gone when the task ends,
# and the admin and the minted password appear in no log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
PG_DB=postgres apsql -c "CREATE DATABASE app" || { fail "create database"; exit 1; }
PG_DB=postgres apsql -c "CREATE DATABASE app2" || { fail "create database"; exit 1; }
apsql -c "CREATE ROLE app_rw NOLOGIN; GRANT CREATE ON SCHEMA public TO app_rw" ||
	fail "schema"
PG_DB=app2 apsql -c "GRANT CREATE ON SCHEMA public TO app_rw" || fail "schema 2"
MEMBER_PW=$(canary)
PG_DB=postgres apsql -c "CREATE ROLE aldy_member LOGIN PASSWORD '$MEMBER_PW'" ||
	fail "member role"
pg_app_vault

"$AL" run -e DATABASE_URL=app-db -- sh -c '
	psql -X -q "$(printf %s "$DATABASE_URL" | sed "s|@/app?|@/app2?|")" \
	    -c "create table mine (y int)" || exit 1
	printf %s "$DATABASE_URL" >"$1/url.tmp" && mv "$1/url.tmp" "$1/url"
	while [ ! -e "$1/go" ]; do sleep 0.05; done' sh "$T_ROOT" \
    >>"$ALL_OUTPUT" 2>&1 &
RUNPID=$!
pg_task_url
expect_eq "${#PW}" 64 "the task got its credential"
expect_eq "$(PG_DB=app2 apsql -c "SELECT tableowner FROM pg_tables WHERE tablename = 'mine'")" \
    "$ROLE" "the role owns a table in the second database"
# Another login role, made a member of the minted role, takes it on in a
# session of its own and makes a second table as it there.
PG_DB=postgres apsql -c "GRANT \"$ROLE\" TO aldy_member" || fail "grant membership"
PGPASSWORD="$MEMBER_PW" psql -X -q -h "$PG_SOCK" -p "$PG_PORT" -U aldy_member \
    -d app2 -c "set role \"$ROLE\"" -c "create table also_mine (z int)" \
    -c "select pg_sleep(30)" >/dev/null 2>&1 &
S1=$!
# And a session of the role itself.
psql -X -q "$URL" -c "select pg_sleep(30)" >/dev/null 2>&1 &
S2=$!
n=0
while [ "$(apsql -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND usename IN ('aldy_member', '$ROLE')")" != 2 ] &&
    [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
PIDS=$(apsql -c "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND usename IN ('aldy_member', '$ROLE')")
case "$PIDS" in *,*) pass ;; *) fail "the two sessions are not open ($PIDS)" ;; esac
expect_eq "$(PG_DB=app2 apsql -c "SELECT tableowner FROM pg_tables WHERE tablename = 'also_mine'")" \
    "$ROLE" "the member's session made a table as the role"

touch "$T_ROOT/go"
wait "$RUNPID"; expect_eq "$?" 0 "the task ends"
wait_role_gone "$ROLE" 8 && pass || fail "role $ROLE still exists after its task"
expect_eq "$(apsql -c "SELECT count(*) FROM pg_stat_activity WHERE pid IN ($PIDS)")" 0 \
    "the role's session and the member's SET ROLE session are ended"
kill "$S1" "$S2" 2>/dev/null
wait "$S1" "$S2" 2>/dev/null
expect_eq "$(PG_DB=app2 apsql -c "SELECT string_agg(tableowner, ',' ORDER BY tablename) FROM pg_tables WHERE tablename IN ('mine', 'also_mine')")" \
    "admin,admin" "both tables in the second database are reassigned"
# The member role itself is untouched: it was not airlock's.
role_exists aldy_member && pass || fail "the member role was dropped"
PG_DB=postgres apsql -c "DROP ROLE aldy_member" >/dev/null 2>&1
n=0
while [ $n -lt 40 ]; do
	"$AL" audit --json >"$T_ROOT/audit.json" 2>>"$ALL_OUTPUT"
	grep -q "\"event\":\"credential_revoke\".*\"role\":\"$ROLE\"" \
	    "$T_ROOT/audit.json" && break
	sleep 0.1; n=$((n + 1))
done
grep -q "\"event\":\"credential_revoke\".*\"role\":\"$ROLE\".*\"ttr_ms\":" \
    "$T_ROOT/audit.json" && pass ||
	fail "no credential_revoke line with its time-to-revoke"
check_no_leak "$PW" "$PG_LOG"
check_no_leak "$PG_ADMIN_PW" "$PG_LOG"
echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]

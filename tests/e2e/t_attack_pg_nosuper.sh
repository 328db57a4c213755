#!/bin/bash
# With an admin user that is not a superuser (CREATEROLE, the group WITH
# ADMIN OPTION), PostgreSQL refuses it the ending of a minted role's
# sessions unless it has pg_signal_backend.  A session the lease's holder
# keeps open from outside the task must then not keep the role able to log
# in: NOLOGIN is applied whatever the ending of sessions can do, and the
# revocation shows as revoking with PostgreSQL's reason; with
# pg_signal_backend granted, it completes, and the table the role made is
# reassigned (REASSIGN OWNED needs the role's rights, which such an admin
# does not have by itself).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
PG_DB=postgres apsql -c "CREATE DATABASE app" || { fail "create database"; exit 1; }
ADM_PW=$(canary)
# (Its password out of the server's log, which is checked below.)
apsql -c "SET log_statement = 'none'" \
    -c "CREATE ROLE alat4_adm LOGIN CREATEROLE PASSWORD '$ADM_PW'" || fail "admin role"
apsql -c "CREATE ROLE app_rw NOLOGIN; CREATE TABLE t (x int);
	INSERT INTO t VALUES (42); GRANT SELECT ON t TO app_rw;
	GRANT CREATE ON SCHEMA public TO app_rw;
	GRANT app_rw TO alat4_adm WITH ADMIN OPTION" || fail "schema"
init_vault
printf '%s\n' "$ADM_PW" >"$T_ROOT/adminpw"
run_in "$T_ROOT/adminpw" "$AL" secret add app-db --engine postgres \
    --connection "host=$PG_SOCK port=$PG_PORT user=alat4_adm dbname=app" \
    --group app_rw --owner dba --purpose test
expect_rc 0 "secret add --engine postgres, admin not a superuser"
HOLDER=
trap '[ -z "$HOLDER" ] || kill "$HOLDER" 2>/dev/null; pg_cleanup' EXIT

# The task makes a table and hands its URL out; a session from outside the
# task holds on.
"$AL" run -e U=app-db -- sh -c '
	psql -X -q "$U" -c "create table mine (y int)" || exit 1
	printf %s "$U" >"$1/url.tmp" && mv "$1/url.tmp" "$1/url"
	while [ ! -e "$1/go" ]; do sleep 0.05; done' sh "$T_ROOT" \
    >>"$ALL_OUTPUT" 2>&1 &
RUNPID=$!
pg_task_url
case "$ROLE" in airlock_*) pass ;; *) fail "the task got no credential" ;; esac
psql -X -At "$URL" -c "select pg_sleep(60)" >/dev/null 2>&1 </dev/null &
HOLDER=$!
n=0
while [ "$(apsql -c "SELECT count(*) FROM pg_stat_activity WHERE usename = '$ROLE'")" != 1 ] &&
    [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
touch "$T_ROOT/go"
wait "$RUNPID"; expect_eq "$?" 0 "the task ends"

n=0
while ! "$AL" lease ls 2>&1 | grep -q 'pg_signal_backend' && [ $n -lt 100 ]; do
	sleep 0.05; n=$((n + 1)); done
run "$AL" lease ls
expect_out "revoking" "the revocation is shown as revoking"
expect_out "pg_signal_backend" "with PostgreSQL's reason"
expect_eq "$(apsql -c "SELECT rolcanlogin FROM pg_roles WHERE rolname = '$ROLE'")" f \
    "the role can no longer log in"
psql -X -At "$URL" -c "select 'in'" >/dev/null 2>&1 &&
	fail "the task's URL logs in after its lease" || pass

# Given the right, the revocation completes (ending the session), the
# table reassigned to the admin (which needs the role's rights).
apsql -c "GRANT pg_signal_backend TO alat4_adm" || fail "grant pg_signal_backend"
wait_role_gone "$ROLE" 40 && pass || fail "role $ROLE still exists: $("$AL" lease ls 2>&1)"
expect_eq "$(apsql -c "SELECT tableowner FROM pg_tables WHERE tablename = 'mine'")" alat4_adm \
    "the role's table is reassigned to the admin"
expect_eq "$(apsql -c "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = 'alat4_adm' AND m.roleid::regrole::text NOT IN ('app_rw', 'pg_signal_backend')")" 0 \
    "the admin is a member of no role of airlock's left"
kill -0 "$HOLDER" 2>/dev/null && fail "the holder's session was not ended" || pass
check_no_leak "$ADM_PW" "$PG_LOG"

echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]

#!/bin/bash
# Where PostgreSQL allows prepared transactions (max_prepared_transactions
# above 0), a task's PREPARE TRANSACTION outlives its sessions and keeps
# their locks: one that changed the role's own password keeps the role's
# row locked, so NOLOGIN waits on it however many sessions are ended, and
# the role goes on logging in after its lease (until VALID UNTIL, and its
# revocation never ends); one in another database holds a table the role
# created.  The revocation must roll back the role's prepared transactions
# wherever they are, and drop the role.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
echo "max_prepared_transactions = 4" >>"$PG_DATA/postgresql.conf"
pg_start
PG_DB=postgres apsql -c "CREATE DATABASE app" || { fail "create database"; exit 1; }
PG_DB=postgres apsql -c "CREATE DATABASE app2" || { fail "create database"; exit 1; }
apsql -c "CREATE ROLE app_rw NOLOGIN; GRANT CREATE ON SCHEMA public TO app_rw" ||
	fail "schema"
PG_DB=app2 apsql -c "GRANT CREATE ON SCHEMA public TO app_rw" || fail "schema 2"
pg_app_vault
KNOWN=$(canary)

# The task prepares two transactions (a gid with a quote in it) and hands
# its URL out (to a file: files are not masked).
cat >"$T_ROOT/p1.sql" <<SQL
BEGIN;
ALTER ROLE CURRENT_USER PASSWORD '$KNOWN';
PREPARE TRANSACTION 'alat4 row';
SQL
cat >"$T_ROOT/p2.sql" <<SQL
BEGIN;
CREATE TABLE held (x int);
LOCK TABLE held;
PREPARE TRANSACTION 'alat4 ''x';
SQL
run "$AL" run -e U=app-db -- sh -c '
	psql -X -q -v ON_ERROR_STOP=1 "$U" -f "$1/p1.sql" &&
	psql -X -q -v ON_ERROR_STOP=1 "${U%%/app?*}/app2?${U#*/app?}" -f "$1/p2.sql" &&
	printf %s "$U" >"$1/url" &&
	psql -X -At "$U" -c "select current_user"' sh "$T_ROOT"
expect_rc 0 "the task prepares its transactions"
ROLE=$(tail -1 "$OUT")
case "$ROLE" in airlock_*) pass ;; *) fail "no role: $(cat "$ERR")" ;; esac
URL=$(cat "$T_ROOT/url")

wait_role_gone "$ROLE" 12 && pass ||
	fail "role $ROLE still exists: its prepared transaction holds its row"
expect_eq "$(PG_DB=postgres apsql -c "SELECT count(*) FROM pg_prepared_xacts")" 0 \
    "no prepared transaction of the role is left"
psql -X -At "$URL" -c "select 'in'" >"$T_ROOT/login.out" 2>&1 &&
	fail "the task's URL logs in after its lease" || pass
PGPASSWORD="$KNOWN" psql -X -At -h "$PG_SOCK" -p "$PG_PORT" -U "$ROLE" -d app \
    -c "select 'in'" >"$T_ROOT/login.out" 2>&1 &&
	fail "the password the task chose logs in after its lease" || pass
expect_eq "$(PG_DB=app2 apsql -c "SELECT count(*) FROM pg_class WHERE relname = 'held'")" 0 \
    "the prepared table was never made"
run "$AL" lease ls
expect_rc 0 "lease ls"
grep -q revoking "$OUT" && fail "a credential is still revoking: $(cat "$OUT")" || pass
check_no_leak "$PG_ADMIN_PW" "$PG_LOG"

echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]

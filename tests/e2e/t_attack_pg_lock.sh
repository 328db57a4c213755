#!/bin/bash
# A task holds a lock that revocation needs: it changes its own role's
# password (any role may) in a transaction it never ends, so the row of
# pg_authid that ALTER ROLE ... NOLOGIN must update stays locked.  A
# revocation that waits on that lock before it ends the role's sessions
# waits forever, and the session, detached from the task, goes on working
# after the lease, past VALID UNTIL (which stops new logins only).  The
# revocation must end the sessions first, never wait on a lock without a
# limit, and drop the role.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
PG_DB=postgres apsql -c "CREATE DATABASE app" || { fail "create database"; exit 1; }
apsql -c "CREATE ROLE app_rw NOLOGIN; CREATE TABLE t (x int);
	INSERT INTO t VALUES (42); GRANT SELECT ON t TO app_rw" || fail "schema"
pg_app_vault
KNOWN=$(canary)
HOLDER=
LOCKER=
t_kill() {
	[ -z "$HOLDER" ] || kill "$HOLDER" 2>/dev/null
	[ -z "$LOCKER" ] || kill "$LOCKER" 2>/dev/null
}
trap 't_kill; pg_cleanup' EXIT

# The task hands its URL out (to a file: files are not masked) and waits;
# from outside the task, as the agent's own shell, a session logs in with
# it and, in a transaction it never ends, takes the lock of its role's row,
# then asks every 0.2 s who it is and reads the table.
"$AL" run -e U=app-db -- sh -c '
	printf %s "$U" >"$1/url.tmp" && mv "$1/url.tmp" "$1/url"
	while [ ! -e "$1/go" ]; do sleep 0.05; done' sh "$T_ROOT" \
    >>"$ALL_OUTPUT" 2>&1 &
RUNPID=$!
pg_task_url
case "$ROLE" in airlock_*) pass ;; *) fail "the task got no credential" ;; esac
mkfifo "$T_ROOT/fifo"
psql -X -At "$URL" -f "$T_ROOT/fifo" >"$T_ROOT/held.out" 2>&1 </dev/null &
HOLDER=$!
( echo "BEGIN; ALTER ROLE CURRENT_USER PASSWORD '$KNOWN'; SELECT 'locked';"
  while :; do echo "SELECT 'alive', current_user, x FROM t;"; sleep 0.2; done
) >"$T_ROOT/fifo" 2>/dev/null </dev/null &
LOCKER=$!
n=0; while ! grep -q locked "$T_ROOT/held.out" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
grep -q locked "$T_ROOT/held.out" && pass || fail "the session did not take the lock"
touch "$T_ROOT/go"
wait "$RUNPID"; expect_eq "$?" 0 "the task ends"
wait_role_gone "$ROLE" 12 && pass ||
	fail "role $ROLE still exists: the revocation waits on the task's lock"
: >"$T_ROOT/held.out"
sleep 1
grep -q alive "$T_ROOT/held.out" &&
	fail "the task's session still works after its lease: $(tail -1 "$T_ROOT/held.out")" || pass
expect_eq "$(PG_DB=postgres apsql -c "SELECT count(*) FROM pg_stat_activity WHERE usename = '$ROLE'")" 0 \
    "no session of the role is left"
run "$AL" lease ls
expect_rc 0 "lease ls"
grep -q revoking "$OUT" && fail "a credential is still revoking: $(cat "$OUT")" || pass
t_kill
check_no_leak "$PG_ADMIN_PW" "$PG_LOG"

echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]

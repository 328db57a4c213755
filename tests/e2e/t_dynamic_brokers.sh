#!/bin/bash
# Two brokers (two $AIRLOCK_HOME) minting from one real, throwaway
# PostgreSQL with the same role prefix, concurrently: every task gets a
# working role, every role is gone after, and the orphan search of a
# broker that starts drops its own leftovers but never a live role of the
# other broker.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
HB="$T_ROOT/homeb"
# inb CMD...: CMD as the second airlock.
inb() { AIRLOCK_HOME="$HB" AIRLOCK_SOCKET="$HB/airlockd.sock" "$@"; }
two_cleanup() {
	[ -f "$HB/airlockd.pid" ] && kill "$(cat "$HB/airlockd.pid")" 2>/dev/null
	pg_cleanup
}
trap two_cleanup EXIT
pg_start
PG_DB=postgres apsql -c "CREATE DATABASE app" || { fail "create database"; exit 1; }
apsql -c "CREATE ROLE app_rw NOLOGIN; CREATE TABLE t (x int);
	INSERT INTO t VALUES (42); GRANT SELECT ON t TO app_rw" || fail "schema"
init_vault
inb "$AL" init >/dev/null 2>&1 || { fail "second airlock init"; exit 1; }
printf '%s\n' "$PG_ADMIN_PW" >"$T_ROOT/adminpw"
run_in "$T_ROOT/adminpw" "$AL" secret add app-db --engine postgres \
    --connection "$PG_CONN" --group app_rw --owner dba --purpose test
expect_rc 0 "first airlock: secret add"
run_in "$T_ROOT/adminpw" inb "$AL" secret add app-db --engine postgres \
    --connection "$PG_CONN" --group app_rw --owner dba --purpose test
expect_rc 0 "second airlock: secret add, same prefix"
rm -f "$T_ROOT/adminpw"

# --- concurrent tasks on both brokers --------------------------------------
# task HOME-FUNCTION N: N tasks one after the other, each reading the table
# with its own role; the roles go to $T_ROOT/roles.N.
task() {
	_f=$1; _n=$2; _i=0
	while [ $_i -lt 6 ]; do
		$_f "$AL" run -e DATABASE_URL=app-db -- sh -c '
			psql -X -At "$DATABASE_URL" -c "select current_user, (select x from t)"' \
		    >>"$T_ROOT/roles.$_n" 2>>"$ALL_OUTPUT" || echo "failed" >>"$T_ROOT/roles.$_n"
		_i=$((_i + 1))
	done
}
ina() { "$@"; }
pids=""
for k in 1 2 3 4; do
	task ina "a$k" & pids="$pids $!"
	task inb "b$k" & pids="$pids $!"
done
for p in $pids; do wait "$p"; done
cat "$T_ROOT"/roles.* >"$T_ROOT/roles"
expect_eq "$(grep -c '|42$' "$T_ROOT/roles")" 48 "48 tasks, each read the table"
expect_eq "$(grep -c failed "$T_ROOT/roles")" 0 "no task failed"
expect_eq "$(cut -d'|' -f1 "$T_ROOT/roles" | sort -u | wc -l)" 48 "48 distinct roles"
ROLEA=$(cut -d'|' -f1 "$T_ROOT/roles.a1" | head -1)
ROLEB=$(cut -d'|' -f1 "$T_ROOT/roles.b1" | head -1)
STEMA=${ROLEA%????????????????}
STEMB=${ROLEB%????????????????}
[ "$STEMA" != "$STEMB" ] && pass || fail "both airlocks name their roles alike ($STEMA)"
n=0
while [ $n -lt 100 ]; do
	[ "$(PG_DB=postgres apsql -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'airlock%'")" = 0 ] && break
	sleep 0.1; n=$((n + 1))
done
expect_eq "$(PG_DB=postgres apsql -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'airlock%'")" 0 \
    "every role of both brokers is gone after the tasks"

# --- a broker's start leaves the other's live roles alone ------------------
"$AL" run -e DATABASE_URL=app-db -- sh -c '
	psql -X -At "$DATABASE_URL" -c "select current_user" >"$1/role"
	while [ ! -e "$1/go" ]; do sleep 0.05; done
	psql -X -At "$DATABASE_URL" -c "select x from t" >"$1/after"' sh "$T_ROOT" \
    >>"$ALL_OUTPUT" 2>&1 &
RUNPID=$!
n=0; while [ ! -s "$T_ROOT/role" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
LIVE=$(cat "$T_ROOT/role")
# A leftover of the second broker (as a crash would leave), then its restart.
apsql -c "CREATE ROLE ${STEMB}00000000deadbeef LOGIN" || fail "leftover role"
kill -9 "$(cat "$HB/airlockd.pid")"
run inb "$AL" lease ls
expect_rc 0 "the second broker starts again"
wait_role_gone "${STEMB}00000000deadbeef" 10 && pass ||
	fail "the second broker did not drop its own leftover role"
role_exists "$LIVE" && pass ||
	fail "the second broker's start dropped the first broker's live role $LIVE"
touch "$T_ROOT/go"
wait "$RUNPID"
expect_eq "$?" 0 "the first broker's task ends well"
expect_eq "$(cat "$T_ROOT/after")" 42 "the first broker's task kept working"
wait_role_gone "$LIVE" 5 && pass || fail "the live role outlived its task"

echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]

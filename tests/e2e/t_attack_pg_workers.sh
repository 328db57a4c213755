#!/bin/bash
# One live lease's session locks the tables of eight other leases' roles
# (their tasks granted them to PUBLIC) and holds the locks.  When those
# eight leases end, each revocation must reassign its table and waits on
# the lock: waiting without a limit, they hold all eight revoking threads,
# so when the locking lease ends in turn its own revocation finds no
# thread, its session is never ended and keeps its locks: nine roles that
# never go, and a session that works on after its lease.  Every role must
# be gone soon after the last lease ends.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
pg_start
pg_app_secret
HOLDER=
FEEDER=
trap '[ -z "$HOLDER" ] || kill "$HOLDER" 2>/dev/null; [ -z "$FEEDER" ] || kill "$FEEDER" 2>/dev/null; pg_cleanup' EXIT

# task N: makes table bN, granted to PUBLIC, hands its URL out, waits.
task() {
	"$AL" run -e U=app-db -- sh -c '
		psql -X -q "$U" -c "create table b$2 (x int); grant all on b$2 to public" || exit 1
		printf %s "$U" >"$1/url$2.tmp" && mv "$1/url$2.tmp" "$1/url$2"
		while [ ! -e "$1/go$2" ]; do sleep 0.05; done' sh "$T_ROOT" "$1" \
	    >>"$ALL_OUTPUT" 2>&1
}
pids=
for i in 0 1 2 3 4 5 6 7 8; do
	task "$i" & pids="$pids $!"
done
n=0
while [ "$(ls "$T_ROOT"/url? 2>/dev/null | wc -l)" -lt 9 ] && [ $n -lt 600 ]; do
	sleep 0.05; n=$((n + 1)); done
ROLES=
for i in 0 1 2 3 4 5 6 7 8; do
	ROLES="$ROLES $(sed 's|^postgresql://\([^:]*\):.*|\1|' "$T_ROOT/url$i")"
done
expect_eq "$(echo $ROLES | wc -w)" 9 "nine tasks got their credentials"

# Task 0's credential, from outside its task, locks the eight others' tables.
mkfifo "$T_ROOT/fifo"
psql -X -At "$(cat "$T_ROOT/url0")" -f "$T_ROOT/fifo" >"$T_ROOT/held.out" 2>&1 </dev/null &
HOLDER=$!
( echo "BEGIN; LOCK TABLE b1, b2, b3, b4, b5, b6, b7, b8; SELECT 'locked';"
  while :; do echo "SELECT 'alive';"; sleep 0.2; done ) >"$T_ROOT/fifo" 2>/dev/null </dev/null &
FEEDER=$!
n=0; while ! grep -q locked "$T_ROOT/held.out" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
grep -q locked "$T_ROOT/held.out" && pass || fail "the session did not take the locks"

# The eight lessees end, then the locker's.
for i in 1 2 3 4 5 6 7 8; do touch "$T_ROOT/go$i"; done
sleep 1
touch "$T_ROOT/go0"
for p in $pids; do wait "$p"; done
LIST=$(echo $ROLES | sed "s/\([^ ]*\)/'\1'/g; s/ /, /g")
wait_roles_gone "$LIST" 30
expect_eq "$(roles_left "$LIST")" 0 \
    "every role is gone within 30 s of the last lease's end"
: >"$T_ROOT/held.out"
sleep 0.5
grep -q alive "$T_ROOT/held.out" && fail "the locking session works on after its lease" || pass
expect_eq "$(apsql -c "SELECT count(*) FROM pg_tables WHERE tablename ~ '^b[1-8]\$' AND tableowner = 'admin'")" 8 \
    "the eight tables are reassigned"
run "$AL" lease ls
grep -q revoking "$OUT" && fail "credentials still revoking: $(cat "$OUT")" || pass
check_no_leak "$PG_ADMIN_PW" "$PG_LOG"

echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]

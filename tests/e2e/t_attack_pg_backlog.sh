#!/bin/bash
# A lease's holder makes the revocations of its own credentials slow: from
# a session of one live lease (M), in a transaction it never ends, it
# grants something to forty of its other credentials' roles, which keeps
# each role locked against DROP ROLE; then it ends those forty leases at
# once.  Each revocation waits for the lock at every attempt.
#  - Mints of every other task must not wait for that queue: it does not
#    move any faster for them (they waited a second each, for as long as
#    the holder kept its lock).
#  - A lease ended just after them (L, with a session working) must not
#    wait behind their first attempts: its session worked on for 11 s.
#  - Their retries must not keep the revocation of other leases'
#    credentials waiting (they went on logging in long after their lease).
#  - The failed attempts leave no transaction open on airlock's sessions,
#    and when the locking lease ends, every role goes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
N=40
pg_start
pg_app_secret
PIDS=
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; touch "$T_ROOT/goM" "$T_ROOT/goL" "$T_ROOT/goall"; pg_cleanup' EXIT

# task NAME: hands its URL out, waits for go<NAME> (or goall, but M and L).
task() {
	"$AL" run -e U=app-db -- sh -c '
		printf %s "$U" >"$1/url$2.tmp" && mv "$1/url$2.tmp" "$1/url$2"
		while [ ! -e "$1/go$2" ] && { [ "$2" = M ] || [ "$2" = L ] ||
		    [ ! -e "$1/goall" ]; }
		do sleep 0.05; done' sh "$T_ROOT" "$1" >>"$ALL_OUTPUT" 2>&1
}
role_of() { sed 's|^postgresql://\([^:]*\):.*|\1|' "$T_ROOT/url$1"; echo; }
task M & MPID=$!
task L & LPID=$!
pids=
for i in $(seq 1 $N); do task "$i" & pids="$pids $!"; done
n=0
while [ "$(ls "$T_ROOT" | grep -c '^url[0-9LM]*$')" -lt $((N + 2)) ] && [ $n -lt 1200 ]; do
	sleep 0.05; n=$((n + 1)); done
expect_eq "$(ls "$T_ROOT" | grep -c '^url[0-9LM]*$')" $((N + 2)) "every task got its credential"
ROLES=$(for i in $(seq 1 $N); do role_of "$i"; done)
QUOTED=$(printf '"%s"\n' $ROLES | paste -sd,)
LIST=$(printf "'%s'\n" $ROLES $(role_of M) $(role_of L) | paste -sd,)
LROLE=$(role_of L)

# session NAME SQL: a session of task NAME's credential runs SQL, then
# says 'alive' every 0.2 s, into NAME.out.
session() {
	mkfifo "$T_ROOT/fifo$1"
	psql -X -At "$(cat "$T_ROOT/url$1")" -f "$T_ROOT/fifo$1" >"$T_ROOT/$1.out" 2>&1 </dev/null &
	PIDS="$PIDS $!"
	( echo "$2"; while :; do echo "SELECT 'alive';"; sleep 0.2; done ) \
	    >"$T_ROOT/fifo$1" 2>/dev/null </dev/null &
	PIDS="$PIDS $!"
	n=0; while ! grep -q alive "$T_ROOT/$1.out" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
}
session M "BEGIN; CREATE TABLE lk (x int); GRANT SELECT ON lk TO $QUOTED; SELECT 'locked';"
grep -q locked "$T_ROOT/M.out" && pass || fail "the session did not take the locks: $(head -3 "$T_ROOT/M.out")"
session L "SELECT 'in';"
grep -q alive "$T_ROOT/L.out" && pass || fail "L's session did not start"

# The forty leases end at once.
touch "$T_ROOT/goall"
for p in $pids; do wait "$p"; done

# Another task's five runs, one after another, right then: a mint each.
start=$(date +%s%N)
for k in 1 2 3 4 5; do "$AL" run -e U=app-db -- true >>"$ALL_OUTPUT" 2>&1 || fail "run $k"; done
ms=$((($(date +%s%N) - start) / 1000000))
echo "five runs of another task took $ms ms" >&2
[ "$ms" -lt 4000 ] && pass ||
	fail "five runs of another task took $ms ms: each mint waited for the held-up revocations"

# L's lease ends now, behind most of the forty's first attempts.
touch "$T_ROOT/goL"
wait "$LPID"
wait_role_gone "$LROLE" 5 && pass ||
	fail "L's role is still there 5 s after its lease's end, behind the held-up first attempts"
: >"$T_ROOT/L.out"
sleep 0.5
grep -q alive "$T_ROOT/L.out" && fail "L's session works on after its lease" || pass

# Once each of the forty has failed once, their retries fill the queue.
n=0
while [ $n -lt 600 ]; do
	"$AL" lease ls --json >"$T_ROOT/ls.json" 2>/dev/null
	[ "$(python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); print(sum(1 for x in l if x.get("state") == "revoking" and x.get("attempts", 0) >= 1))' "$T_ROOT/ls.json")" -ge $N ] && break
	sleep 0.1; n=$((n + 1))
done
[ $n -lt 600 ] && pass || fail "the forty revocations were not all tried"
# Their retries wait for the lock (2 s each): lease ls names one under way.
n=0
while [ $n -lt 100 ]; do
	"$AL" lease ls >"$T_ROOT/ls.txt" 2>/dev/null
	grep -q "attempts, one under way for [1-9][0-9]*s)" "$T_ROOT/ls.txt" && break
	sleep 0.1; n=$((n + 1))
done
[ $n -lt 100 ] && pass || fail "lease ls names no revocation held up: $(grep revoking "$T_ROOT/ls.txt" | head -3)"
xs=
for k in 1 2 3 4 5 6 7 8; do
	"$AL" run -e U=app-db -- sh -c 'printf %s "$U" >"$1/urlX$2"' sh "$T_ROOT" "$k" >>"$ALL_OUTPUT" 2>&1
	xs="$xs $(role_of "X$k")"
done
expect_eq "$(echo $xs | wc -w)" 8 "eight other tasks got their credentials"
XLIST=$(printf "'%s'\n" $xs | paste -sd,)
wait_roles_gone "$XLIST" 4
echo "the eight other tasks' roles: gone after $WAITED_MS ms" >&2
expect_eq "$(roles_left "$XLIST")" 0 \
    "eight other tasks' roles are gone within 4 s of their leases' end (the held-up retries took every worker)"

expect_eq "$(PG_DB=postgres apsql -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'admin' AND state LIKE 'idle in transaction%'")" 0 \
    "no session of airlock's is left inside a transaction"

# The locking lease ends: its session is ended, and every role goes.
touch "$T_ROOT/goM"
wait "$MPID"
wait_roles_gone "$LIST" 30
expect_eq "$(roles_left "$LIST")" 0 \
    "every role is gone within 30 s of the locking lease's end"
: >"$T_ROOT/M.out"
sleep 0.5
grep -q alive "$T_ROOT/M.out" && fail "the locking session works on after its lease" || pass
run "$AL" lease ls
grep -q revoking "$OUT" && fail "credentials still revoking: $(cat "$OUT")" || pass
check_no_leak "$PG_ADMIN_PW" "$PG_LOG"

echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]

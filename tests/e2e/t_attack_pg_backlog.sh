#!/bin/bash
# A lease's holder makes the revocations of its own credentials slow: from
# a session of one live lease, in a transaction it never ends, it grants
# something to forty of its other credentials' roles, which keeps each
# role locked against DROP ROLE; then it ends those forty leases at once.
# Each revocation waits the lock timeout (2 s) at every attempt.
#  - Mints of every other task must not wait for that queue: it does not
#    move any faster for them (they waited a second each, for as long as
#    the holder kept its lock).
#  - Their retries must not keep the revocation of another lease's
#    credential waiting (it went on logging in long after its lease).
#  - When the locking lease ends, every role goes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"
N=40
pg_start
pg_app_secret
HOLDER=
FEEDER=
trap '[ -z "$HOLDER" ] || kill "$HOLDER" 2>/dev/null; [ -z "$FEEDER" ] || kill "$FEEDER" 2>/dev/null; touch "$T_ROOT/goL" "$T_ROOT/goall"; pg_cleanup' EXIT

# task NAME: hands its URL out, waits for go<NAME> (or goall, but L).
task() {
	"$AL" run -e U=app-db -- sh -c '
		printf %s "$U" >"$1/url$2.tmp" && mv "$1/url$2.tmp" "$1/url$2"
		while [ ! -e "$1/go$2" ] && { [ "$2" = L ] || [ ! -e "$1/goall" ]; }
		do sleep 0.05; done' sh "$T_ROOT" "$1" >>"$ALL_OUTPUT" 2>&1
}
role_of() { sed 's|^postgresql://\([^:]*\):.*|\1|' "$T_ROOT/url$1"; echo; }
task L & LPID=$!
pids=
for i in $(seq 1 $N); do task "$i" & pids="$pids $!"; done
n=0
while [ "$(ls "$T_ROOT" | grep -c '^url[0-9L]*$')" -lt $((N + 1)) ] && [ $n -lt 1200 ]; do
	sleep 0.05; n=$((n + 1)); done
expect_eq "$(ls "$T_ROOT" | grep -c '^url[0-9L]*$')" $((N + 1)) "every task got its credential"
ROLES=$(for i in $(seq 1 $N); do role_of "$i"; done)
QUOTED=$(printf '"%s"\n' $ROLES | paste -sd,)
LIST=$(printf "'%s'\n" $ROLES $(role_of L) | paste -sd,)

mkfifo "$T_ROOT/fifo"
psql -X -At "$(cat "$T_ROOT/urlL")" -f "$T_ROOT/fifo" >"$T_ROOT/held.out" 2>&1 </dev/null &
HOLDER=$!
( echo "BEGIN; CREATE TABLE lk (x int); GRANT SELECT ON lk TO $QUOTED; SELECT 'locked';"
  while :; do echo "SELECT 'alive';"; sleep 0.2; done ) >"$T_ROOT/fifo" 2>/dev/null </dev/null &
FEEDER=$!
n=0; while ! grep -q locked "$T_ROOT/held.out" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
grep -q locked "$T_ROOT/held.out" && pass || fail "the session did not take the locks: $(head -3 "$T_ROOT/held.out")"

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

# Once each of the forty has failed once, their retries fill the queue.
n=0
while [ $n -lt 600 ]; do
	"$AL" lease ls --json >"$T_ROOT/ls.json" 2>/dev/null
	[ "$(python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); print(sum(1 for x in l if x.get("state") == "revoking" and x.get("attempts", 0) >= 1))' "$T_ROOT/ls.json")" -ge $N ] && break
	sleep 0.1; n=$((n + 1))
done
[ $n -lt 600 ] && pass || fail "the forty revocations were not all tried"
xs=
for k in 1 2 3 4 5 6 7 8; do
	"$AL" run -e U=app-db -- sh -c 'printf %s "$U" >"$1/urlX$2"' sh "$T_ROOT" "$k" >>"$ALL_OUTPUT" 2>&1
	xs="$xs $(role_of "X$k")"
done
expect_eq "$(echo $xs | wc -w)" 8 "eight other tasks got their credentials"
XLIST=$(printf "'%s'\n" $xs | paste -sd,)
n=0
while [ "$(PG_DB=postgres apsql -c "SELECT count(*) FROM pg_roles WHERE rolname IN ($XLIST)")" != 0 ] &&
    [ $n -lt 40 ]; do sleep 0.1; n=$((n + 1)); done
echo "the eight other tasks' roles: gone after $((n * 100)) ms" >&2
expect_eq "$(PG_DB=postgres apsql -c "SELECT count(*) FROM pg_roles WHERE rolname IN ($XLIST)")" 0 \
    "eight other tasks' roles are gone within 4 s of their leases' end (the held-up retries took every worker)"

# The locking lease ends: its session is ended, and every role goes.
touch "$T_ROOT/goL"
wait "$LPID"
n=0
while [ "$(PG_DB=postgres apsql -c "SELECT count(*) FROM pg_roles WHERE rolname IN ($LIST)")" != 0 ] &&
    [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
expect_eq "$(PG_DB=postgres apsql -c "SELECT count(*) FROM pg_roles WHERE rolname IN ($LIST)")" 0 \
    "every role is gone within 30 s of the locking lease's end"
: >"$T_ROOT/held.out"
sleep 0.5
grep -q alive "$T_ROOT/held.out" && fail "the locking session works on after its lease" || pass
run "$AL" lease ls
grep -q revoking "$OUT" && fail "credentials still revoking: $(cat "$OUT")" || pass
check_no_leak "$PG_ADMIN_PW" "$PG_LOG"

echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]

#!/bin/bash
# The broker's group commit: a grant's audit line is not synced on its own
# when the lease's first use follows at once; one fdatasync covers both.
# An `airlock run` then costs two syncs (use, revoke), not three.  Every
# value still leaves only after its use line is durable (t_broker_load).
. "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || { echo "1..0 # SKIP strace missing"; exit 0; }
init_vault
T=$(canary)
add_secret deploy-token "$T"
run "$AL" lease ls
expect_rc 0 "broker started"
P=$(cat "$AIRLOCK_HOME/airlockd.pid")

# strace may be slowed by a loaded machine: the best of three runs counts.
best=
for _ in 1 2 3; do
	strace -qq -f -e trace=fdatasync -o "$T_ROOT/syncs" -p "$P" &
	sp=$!
	# Wait until strace has attached (the broker shows a tracer).
	for _ in $(seq 1 200); do
		grep -q '^TracerPid:[[:space:]]*[1-9]' "/proc/$P/status" && break
		sleep 0.01
	done
	run "$AL" run --no-rules -e TOKEN=deploy-token -- sh -c 'echo "$TOKEN"'
	expect_rc 0 "run"
	expect_out "[REDACTED:deploy-token]"
	sleep 0.1	# the revoke's sync is answered before strace stops
	kill "$sp"
	wait "$sp" 2>/dev/null
	n=$(grep -c 'fdatasync(' "$T_ROOT/syncs")
	echo "# one run: $n fdatasync calls in the broker"
	if [ -z "$best" ] || [ "$n" -lt "$best" ]; then best=$n; fi
done
expect_eq "$best" 2 "broker syncs per run (use and revoke; the grant rides on the use)"

# A grant nobody uses is still made durable, shortly after.
run "$AL" lease ls --json
expect_eq "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT")" 0 "no lease left"
strace -qq -f -e trace=fdatasync -o "$T_ROOT/syncs2" -p "$P" &
sp=$!
for _ in $(seq 1 200); do
	grep -q '^TracerPid:[[:space:]]*[1-9]' "/proc/$P/status" && break
	sleep 0.01
done
run curl -s --unix-socket "$AIRLOCK_HOME/airlockd.sock" -X POST \
    -H 'Content-Type: application/json' -d '{"secret":"deploy-token"}' \
    http://airlock/v1/leases
expect_out '"lease"' "a grant"
sleep 0.3
kill "$sp"
wait "$sp" 2>/dev/null
[ "$(grep -c 'fdatasync(' "$T_ROOT/syncs2")" -ge 1 ] ||
	fail "an unused grant was never synced"
check_no_leak "$T"
done_testing

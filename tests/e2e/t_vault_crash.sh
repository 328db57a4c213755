#!/bin/bash
# Concurrency and crashes: two writers at once both land; kill -9 in the
# middle of `secret add` never corrupts the vault.
. "$(dirname "$0")/lib.sh"
init_vault

C=$(canary)
printf '%s\n' "$C" >"$T_ROOT/in"

# Two processes adding 40 secrets each, at the same time.
writer() {
	for i in $(seq 1 40); do
		"$AL" secret add "w$1-$i" --owner o --purpose p <"$T_ROOT/in" \
		    >>"$T_ROOT/w$1.log" 2>&1 || echo "fail w$1-$i" >>"$T_ROOT/w$1.log"
	done
}
writer 1 &
writer 2 &
wait
cat "$T_ROOT/w1.log" "$T_ROOT/w2.log" >>"$ALL_OUTPUT"
grep -q fail "$T_ROOT/w1.log" "$T_ROOT/w2.log" && fail "a concurrent add failed: $(cat "$T_ROOT"/w*.log | head -5)"
expect_eq "$(sqlite3 "$AIRLOCK_HOME/vault.db" 'SELECT count(*) FROM secrets')" 80 "both writers landed"

# kill -9 at random moments during adds of a large value.
head -c 60000 /dev/urandom >"$T_ROOT/big"
before=$(sqlite3 "$AIRLOCK_HOME/vault.db" 'SELECT count(*) FROM secrets')
for i in $(seq 1 40); do
	"$AL" secret add "k$i" --owner o --purpose p --value-file "$T_ROOT/big" \
	    >/dev/null 2>&1 &
	pid=$!
	# 0-20 ms: lands before, during and after the transaction.
	sleep "0.0$(( RANDOM % 20 ))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
done
expect_eq "$(sqlite3 "$AIRLOCK_HOME/vault.db" 'PRAGMA integrity_check')" ok "integrity after kill -9"
after=$(sqlite3 "$AIRLOCK_HOME/vault.db" 'SELECT count(*) FROM secrets')
[ "$after" -ge "$before" ] || fail "secrets were lost: $before before, $after after"
echo "kill -9 test: $((after - before)) of 40 killed adds landed"
run "$AL" doctor --json
expect_rc 0 "every record opens after the crashes"
expect_out "all $after secret records open"
run "$AL" secret ls
expect_rc 0 "ls after the crashes"
check_no_leak "$C"
done_testing

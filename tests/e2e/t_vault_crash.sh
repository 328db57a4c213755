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

# kill -9 at every write: strace stops the process with SIGKILL exactly at
# the Nth call of each syscall that writes or syncs, for every N until the
# add completes without reaching it.
head -c 60000 /dev/urandom >"$T_ROOT/big"
count() { sqlite3 "$AIRLOCK_HOME/vault.db" 'SELECT count(*) FROM secrets'; }
kills=0
landed=0
for sc in pwrite64 write fdatasync fsync ftruncate rename unlink; do
	n=1
	while [ "$n" -le 200 ]; do
		before=$(count)
		strace -f -o /dev/null -e trace="$sc" \
		    -e inject="$sc":signal=SIGKILL:when="$n" \
		    "$AL" secret add "k-$sc-$n" --owner o --purpose p \
		    --value-file "$T_ROOT/big" >/dev/null 2>&1
		rc=$?
		after=$(count)
		ic=$(sqlite3 "$AIRLOCK_HOME/vault.db" 'PRAGMA integrity_check')
		[ "$ic" = ok ] || fail "integrity after kill at $sc #$n: $ic"
		[ "$after" -eq "$before" ] || [ "$after" -eq $((before + 1)) ] ||
		    fail "kill at $sc #$n: $before secrets before, $after after"
		[ "$rc" -ne 137 ] && break	# the add finished: no Nth call
		kills=$((kills + 1))
		[ "$after" -gt "$before" ] && landed=$((landed + 1))
		n=$((n + 1))
	done
done
echo "kill -9 test: killed at $kills write/sync calls; $landed of those adds had landed"
[ "$kills" -ge 10 ] || fail "only $kills kill points: strace injection not working"
after=$(count)
expect_eq "$(sqlite3 "$AIRLOCK_HOME/vault.db" 'PRAGMA integrity_check')" ok "integrity after kill -9"
after=$(sqlite3 "$AIRLOCK_HOME/vault.db" 'SELECT count(*) FROM secrets')
run "$AL" doctor --json
expect_rc 0 "every record opens after the crashes"
expect_out "all $after secret records open"
run "$AL" secret ls
expect_rc 0 "ls after the crashes"
check_no_leak "$C"
done_testing

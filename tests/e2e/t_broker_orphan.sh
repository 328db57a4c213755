#!/bin/bash
# A broker whose socket file is gone (its state directory deleted or moved)
# or was bound anew by another broker can be reached by no client: it
# stops by itself within seconds, as gpg-agent does, and never removes a
# socket that is not its own on the way out.
. "$(dirname "$0")/lib.sh"

B1="" B2=""
trap 'for p in $B1 $B2; do kill "$p" 2>/dev/null; done; t_cleanup' EXIT

# --- the state directory moved away, and a new one made at its path ------
init_vault
add_secret t1 "$(canary)"
run "$AL" lease ls
expect_rc 0 "the first broker starts"
B1=$(cat "$AIRLOCK_HOME/airlockd.pid")
pid_alive "$B1" && pass || fail "no first broker"
mv "$AIRLOCK_HOME" "$T_ROOT/moved"
init_vault
run "$AL" lease ls
expect_rc 0 "a second broker starts on the same path"
B2=$(cat "$AIRLOCK_HOME/airlockd.pid")
[ "$B2" != "$B1" ] && pass || fail "the same broker answered"
wait_gone "$B1" 12 && pass || fail "the first broker still runs, its socket replaced"
[ -S "$AIRLOCK_HOME/airlockd.sock" ] && pass ||
	fail "the first broker removed the second one's socket"
run "$AL" lease ls
expect_rc 0 "the second broker still answers"
pid_alive "$B2" && pass || fail "the second broker stopped"

# --- the state directory deleted -------------------------------------------
rm -rf "$AIRLOCK_HOME"
wait_gone "$B2" 12 && pass || fail "the broker still runs, its directory deleted"
grep -q 'was removed or replaced: stopping' "$T_ROOT/moved/airlockd.log" && pass ||
	fail "the first broker's log does not say why it stopped"
done_testing

#!/bin/bash
# A command started while the previous broker is still going away (its
# pid file removed, the state directory's lock not yet released) starts
# a new broker once the old one is gone, instead of taking the old one
# for a broker that is running and waiting in vain for it to answer.
. "$(dirname "$0")/lib.sh"

init_vault
add_secret t1 "$(canary)"
# The stopping broker: holds the lock, no pid file, gone after 1 s.
flock "$AIRLOCK_HOME/airlockd.lock" sleep 1 &
HOLDER=$!
trap 'kill $HOLDER 2>/dev/null; t_cleanup' EXIT
sleep 0.2
run timeout 30 "$AL" lease ls
expect_rc 0 "a command during the old broker's exit starts a new one"
[ -s "$AIRLOCK_HOME/airlockd.pid" ] && pass || fail "no new broker"
run "$AL" stop
expect_rc 0 "the new broker stops"
done_testing

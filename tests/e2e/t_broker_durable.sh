#!/bin/bash
# No value leaves the broker before the audit line of its use is on disk:
# with every fdatasync of the broker failing (injected by strace into all
# of its threads, the sync thread included), a grant still answers (it
# releases nothing) but a value request gets 503 and no value, and the
# broker refuses every release after that.
. "$(dirname "$0")/lib.sh"

PROBE="$AIRLOCK_BUILD/tests/e2e/helpers/al-probe"
command -v strace >/dev/null || { echo "1..0 # SKIP strace missing"; exit 0; }

init_vault
V1=$(canary)
add_secret deploy-token "$V1"
run "$AL" lease ls
expect_rc 0 "broker started"
P=$(cat "$AIRLOCK_HOME/airlockd.pid")

sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
# A healthy round first: the value comes back.
run "$PROBE" --fetch 1 deploy-token
expect_rc 0 "value while the disk works"
expect_out "value sha256=$(sha "$V1") len=${#V1}"

strace -f -qq --seccomp-bpf -p "$P" -e trace=fdatasync \
    -e inject=fdatasync:error=EIO -o "$T_ROOT/strace.log" &
ST=$!
sleep 1
# The lease is granted (that releases nothing); its value waits for the
# sync of its use line, which fails: no value, and the reason.  (When the
# broker's own timer syncs the grant first, the failure is already known
# and the value is refused for it.)
run "$PROBE" --fetch 1 deploy-token
expect_rc 2 "value refused when its line cannot be synced"
expect_out "lease "
grep -q "value sha256" "$OUT" && fail "a value was released" || pass
grep -q -e "nothing was released" -e "nothing is granted or released" \
    "$ERR" && pass || fail "no reason given: $(cat "$ERR")"
grep -q "EIO (Input/output error) (INJECTED)" "$T_ROOT/strace.log" && pass ||
    fail "no fdatasync failed: $(head -5 "$T_ROOT/strace.log")"
kill "$ST" 2>/dev/null
wait "$ST" 2>/dev/null
# With the disk back, the broker opens the log again by itself (as a
# restart would: the same checks) and serves again.
ok=0
for i in $(seq 50); do
	curl -s --unix-socket "$AIRLOCK_SOCKET" http://airlock/v1/health |
	    grep -q '"status": *"ok"' && { ok=1; break; }
	sleep 0.1
done
expect_eq "$ok" 1 "health ok again once syncs work"
run "$PROBE" --fetch 1 deploy-token
expect_rc 0 "value again once syncs work"
expect_out "value sha256=$(sha "$V1") len=${#V1}"
run "$AL" audit verify
expect_rc 0 "audit verify after the failed sync"
kill "$P"
check_no_leak "$V1"
done_testing

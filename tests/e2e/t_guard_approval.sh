#!/bin/bash
# `airlock guard` and a secret that needs an approval to be leased (label
# approval=required, the policy `airlock init` writes): its value is masked
# all the same, read from the vault as for an exposed secret (a mask
# releases nothing), and the guard asks an approver once per version, not
# at every refresh.  With a vault it cannot read (a passphrase), it does not
# start rather than forward the value unmasked.
. "$(dirname "$0")/lib.sh"
HELP="$(cd "$(dirname "$0")/helpers" && pwd)"
init_vault
V=$(canary)
add_secret prod-token "$V" --label approval=required
REC="$T_ROOT/rec"
mkdir -p "$REC"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; t_cleanup' EXIT

start_fake_provider "$REC"

"$AL" guard --upstream "http://127.0.0.1:$FP" --refresh 100ms >"$T_ROOT/g.out" 2>"$T_ROOT/g.err" &
PIDS+=($!)
for _ in $(seq 400); do [ -s "$T_ROOT/g.out" ] && break; sleep 0.05; done
G=$(head -1 "$T_ROOT/g.out")
[ -n "$G" ] || { fail "the guard did not start: $(cat "$T_ROOT/g.err")"; done_testing; }

# 12 refreshes and more: one approval request, not one a minute.
sleep 2
run "$AL" approvals --json
expect_rc 0 "approvals"
N=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d=d.get("approvals", d) if isinstance(d, dict) else d; print(len(d))' "$OUT")
expect_eq "$N" 1 "pending approval requests of the guard"

# The value in a request: masked, and the secret is exposed from then on,
# which denies the guard's pending approval.
CODE=$(printf '{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"the prod token is %s"}]}' "$V" |
    curl -s -o "$OUT" -w '%{http_code}' -H 'x-api-key: sk-provider-key' \
    -H 'content-type: application/json' --data-binary @- "$G/v1/messages")
expect_eq "$CODE" 200 "a request with the value"
grep -qF '[REDACTED:prod-token]' "$REC"/*.body && pass || fail "the provider got no mask"
grep -rqF -- "$V" "$REC" && fail "the value reached the provider" || pass
for _ in $(seq 100); do
	run "$AL" approvals --json
	N=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d=d.get("approvals", d) if isinstance(d, dict) else d; print(len([a for a in d if a.get("state") == "pending"]))' "$OUT")
	[ "$N" = 0 ] && break
	sleep 0.1
done
expect_eq "$N" 0 "pending approvals once the value was seen"
check_no_leak "$V" "$REC" "$T_ROOT/g.out" "$T_ROOT/g.err"
run "$AL" stop

# A vault locked by a passphrase, unlocked in the broker only: the value
# cannot be read here, so the guard does not start.
export AIRLOCK_HOME="$T_ROOT/home2" AIRLOCK_SOCKET="$T_ROOT/home2/airlockd.sock"
PW="pass-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
run "$AL" init --passphrase-fd 3 3<<<"$PW"
expect_rc 0 "init with a passphrase"
printf '%s\n' "$V" | "$AL" secret add prod-token --owner test --purpose "e2e test" \
    --label approval=required --passphrase-fd 3 3<<<"$PW" >>"$ALL_OUTPUT" 2>&1 ||
    fail "adding the secret failed"
"$AL" serve --passphrase-fd 3 3<<<"$PW" >>"$ALL_OUTPUT" 2>&1 || fail "serve --passphrase-fd"
run timeout 20 "$AL" guard --upstream "http://127.0.0.1:$FP"
expect_rc 2 "a guard that cannot mask a secret needing approval"
expect_err "secret 'prod-token' needs an approval to be leased and its value cannot be read here"
check_no_leak "$V" "$REC"
done_testing

#!/bin/bash
# `airlock guard` counts what it answered in the broker's /metrics:
# requests by outcome (forwarded, masked, blocked, refused) and what it
# found by secret or rule name -- never a value.  /metrics is read before
# and after requests through a guard in front of the fake provider.  The
# route the guard reports through refuses reports it cannot bound.
. "$(dirname "$0")/lib.sh"
HELP="$(cd "$(dirname "$0")/helpers" && pwd)"
init_vault
V=$(canary)
add_secret deploy-token "$V"
export GUARD_CANARY="$V"
REC="$T_ROOT/rec"
mkdir -p "$REC"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; t_cleanup' EXIT

start_fake_provider "$REC"

metrics() {	# metrics FILE: the broker's /metrics into FILE
	curl -s --unix-socket "$AIRLOCK_SOCKET" http://airlock/metrics >"$1"
	cat "$1" >>"$ALL_OUTPUT"
}
value() {	# value FILE SERIES: a series' value, 0 when absent
	awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }' "$1"
}
# wait_value SERIES WANT: until /metrics shows WANT (reports are periodic).
wait_value() {
	for _ in $(seq 100); do
		metrics "$T_ROOT/m.now"
		[ "$(value "$T_ROOT/m.now" "$1")" = "$2" ] && { pass; return; }
		sleep 0.1
	done
	fail "$1 is $(value "$T_ROOT/m.now" "$1"), expected $2"
}
post() {	# post URL JSON: the HTTP status
	curl -s -o "$T_ROOT/post.out" -w '%{http_code}' -H 'x-api-key: sk-provider-key' \
	    -H 'content-type: application/json' --data-binary @- "$1/v1/messages"
}

REQ='airlock_guard_requests_total{outcome="%s"}'
MASKS='airlock_guard_masks_total{kind="secret",name="deploy-token"}'
RULE='airlock_guard_masks_total{kind="rule",name="github-pat"}'

# Before: the series exist at zero, no name is listed.
run "$AL" secret ls
metrics "$T_ROOT/m0"
for o in forwarded masked blocked refused upstream_failed; do
	expect_eq "$(value "$T_ROOT/m0" "$(printf "$REQ" $o)")" 0 "$o before"
done
grep -q 'airlock_guard_masks_total{' "$T_ROOT/m0" && fail "a name counted before any request" || pass

start_guard g1 --refresh 200ms --upstream "http://127.0.0.1:$FP"
GH="ghp_$(head -c 64 /dev/urandom | base64 | tr -dc A-Za-z0-9 | head -c 36)"
clean='{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hello"}]}'
masked="{\"model\":\"m\",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"a $V and $V and $GH\"}]}"
expect_eq "$(printf %s "$clean" | post "$GURL")" 200 "a request with no secret"
expect_eq "$(printf %s "$masked" | post "$GURL")" 200 "a request with secrets, masked"
expect_eq "$(printf %s "$masked" | post "$GURL")" 200 "the same again"
expect_eq "$(printf %s 'not json, but {"type":"thinking"' | post "$GURL")" 200 "text"
wait_value "$(printf "$REQ" masked)" 2
wait_value "$(printf "$REQ" forwarded)" 2
wait_value "$MASKS" 4
wait_value "$RULE" 2

# --block: counted as blocked; a body over the limit as refused.
start_guard g2 --refresh 200ms --block --upstream "http://127.0.0.1:$FP"
expect_eq "$(printf %s "$masked" | post "$GURL")" 400 "blocked"
wait_value "$(printf "$REQ" blocked)" 1
wait_value "$MASKS" 6
head -c $((33 * 1024 * 1024)) /dev/zero | tr '\0' a >"$T_ROOT/big"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
    --data-binary @"$T_ROOT/big" "$GURL/v1/messages")
expect_eq "$CODE" 413 "a body over 32 MiB"
wait_value "$(printf "$REQ" refused)" 1
# The upstream down: upstream_failed.
start_guard g3 --refresh 200ms --upstream "http://127.0.0.1:1"
expect_eq "$(printf %s "$clean" | post "$GURL")" 502 "upstream down"
wait_value "$(printf "$REQ" upstream_failed)" 1

# No value in /metrics, the guards' output or the broker's log.
metrics "$T_ROOT/m.end"
check_no_leak "$V" "$T_ROOT/m.end" "$T_ROOT"/g*.out "$T_ROOT"/g*.err
grep -q "$GH" "$T_ROOT/m.end" && fail "a rule hit's text is in /metrics" || pass

# The route refuses what it cannot bound, and counts nothing of it.
api() {
	CODE=$(curl -s -o "$OUT" -w '%{http_code}' --unix-socket "$AIRLOCK_SOCKET" \
	    -H 'Content-Type: application/json' --data-binary "$1" \
	    http://airlock/v1/guard/counts)
	cat "$OUT" >>"$ALL_OUTPUT"
}
api '{"requests":{"masked":1},"masks":[{"name":"a\"b} 9\n","rule":false,"count":1}]}'
expect_eq "$CODE" 400 "a name outside the alphabet"
api '{"requests":{"sent":1}}'
expect_eq "$CODE" 400 "an unknown outcome"
api '{"requests":{"masked":-1}}'
expect_eq "$CODE" 400 "a negative count"
wait_value "$(printf "$REQ" masked)" 2
api '{"requests":{"masked":1},"masks":[{"name":"other-secret","rule":false,"count":3}]}'
expect_eq "$CODE" 200 "a good report"
wait_value 'airlock_guard_masks_total{kind="secret",name="other-secret"}' 3
done_testing

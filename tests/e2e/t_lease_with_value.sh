#!/bin/bash
# A lease request that asks for the value with the grant ("value": true):
# one request, one identification of the caller, one decision; the answer
# is the raw value with the lease's id in Airlock-Lease, audited as a grant
# and a use.  Where the grant cannot release a value at once (an approval,
# a refusal) the answer is the lease request's own.
. "$(dirname "$0")/lib.sh"
init_vault
V=$(canary); V2=$(canary)
add_secret tok "$V"
add_secret prod-db "$V2" --label approval=required
run "$AL" lease ls
expect_rc 0 "autostart"
S=$AIRLOCK_SOCKET
post() {	# post JSON: status to $T_ROOT/code, head to hdrs, body to body
	curl -s --unix-socket "$S" -X POST -H 'Content-Type: application/json' \
	    --data "$1" -D "$T_ROOT/hdrs" -o "$T_ROOT/body" \
	    -w '%{http_code}' http://airlock/v1/leases >"$T_ROOT/code"
}

# --- the value with the grant ------------------------------------------
post '{"secret":"tok","task":"T-1","intent":"deploy","value":true}'
expect_eq "$(cat "$T_ROOT/code")" 200 "a granted lease with value:true answers 200"
printf '%s' "$V" >"$T_ROOT/want"
cmp -s "$T_ROOT/body" "$T_ROOT/want" && pass || fail "the body is not the value"
rm -f "$T_ROOT/body" "$T_ROOT/want"
grep -qi '^content-type: application/octet-stream' "$T_ROOT/hdrs" && pass ||
	fail "the value is not application/octet-stream"
grep -qi '^cache-control: no-store' "$T_ROOT/hdrs" && pass || fail "no Cache-Control: no-store"
ID=$(sed -n 's/^[Aa]irlock-[Ll]ease: \([0-9a-f]\{32\}\)\r$/\1/p' "$T_ROOT/hdrs")
expect_eq "${#ID}" 32 "Airlock-Lease names the lease"
# One use taken; the lease is live and revocable by its id.
run "$AL" lease ls --json
expect_rc 0 "lease ls"
python3 -c '
import json, sys
ls = json.load(open(sys.argv[1]))
ls = ls.get("leases", ls) if isinstance(ls, dict) else ls
l = [x for x in ls if x.get("id") == sys.argv[2]]
assert l and l[0]["uses"] == 1 and l[0]["state"] == "live", l
' "$T_ROOT/out" "$ID" && pass || fail "the lease is not live with one use: $(cat "$T_ROOT/out")"
# Audited as a grant and a use of that lease, the use with its fingerprint.
run "$AL" audit --json
grep "\"$ID\"" "$T_ROOT/out" >"$T_ROOT/lines"
grep -q '"event":"grant".*"outcome":"ok"' "$T_ROOT/lines" && pass || fail "no grant line"
grep '"event":"use"' "$T_ROOT/lines" | grep -q '"outcome":"ok"' && pass || fail "no use line"
grep '"event":"use"' "$T_ROOT/lines" | grep -q '"value_fp"' && pass ||
	fail "the use line has no fingerprint: $(cat "$T_ROOT/lines")"
curl -s --unix-socket "$S" -X DELETE -o /dev/null -w '%{http_code}' \
    "http://airlock/v1/leases/$ID" >"$T_ROOT/code"
expect_eq "$(cat "$T_ROOT/code")" 200 "the lease is revoked by the id in Airlock-Lease"

# --- no value where the grant cannot release one at once ---------------
post '{"secret":"prod-db","task":"T-2","value":true}'
expect_eq "$(cat "$T_ROOT/code")" 202 "a rule that wants an approver answers 202"
grep -q '"approval"' "$T_ROOT/body" && pass || fail "no approval in the 202"
grep -qi '^airlock-lease:' "$T_ROOT/hdrs" && fail "a 202 named a lease" || pass
post '{"secret":"no-such","value":true}'
expect_eq "$(cat "$T_ROOT/code")" 403 "an unknown secret is refused"
post '{"secret":"tok","value":"yes"}'
expect_eq "$(cat "$T_ROOT/code")" 400 "value must be a boolean"
grep -q "field 'value' has the wrong type" "$T_ROOT/body" && pass ||
	fail "the 400 does not name the field: $(cat "$T_ROOT/body")"
post '{"secret":"tok","value":false}'
expect_eq "$(cat "$T_ROOT/code")" 201 "value:false is the plain lease request"
grep -q '"lease"' "$T_ROOT/body" && pass || fail "no lease in the 201"

# --- airlock run takes its values with their grants -----------------------
run "$AL" run -e X=tok -- sh -c 'printf %s "$X" >"$1"' sh "$T_ROOT/seen"
expect_rc 0 "run"
printf '%s' "$V" >"$T_ROOT/want"
cmp -s "$T_ROOT/seen" "$T_ROOT/want" && pass || fail "run's command did not get the value"
rm -f "$T_ROOT/seen" "$T_ROOT/want"

rm -f "$T_ROOT/hdrs"
check_no_leak "$V"
check_no_leak "$V2"
done_testing

#!/bin/bash
# A value typed where a secret name goes never reaches the audit log, the
# broker's log or any message: `run -e VAR=<value>`, `redact --secret
# <value>`, the MCP `run` tool's env, and values given to `secret add` on
# the command line.  Two canaries: the live value of a stored secret (40
# hex digits, a valid name), and a token-shaped string stored nowhere.
. "$(dirname "$0")/lib.sh"

init_vault
LIVE=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')	# 40 hex
TOKEN="tk$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')x9q"
add_secret prod "$LIVE"

# The client refuses a token-shaped "name" before sending it.
for v in "$LIVE" "$TOKEN"; do
	run "$AL" run -e KEY="$v" -- true
	expect_rc 125 "run -e KEY=<value>"
	expect_err "this looks like a value, not a secret name" "run -e"
	expect_err "airlock secret add" "run -e hint"
	run "$AL" redact --secret "$v" </dev/null
	expect_rc 2 "redact --secret <value>"
	expect_err "this looks like a value" "redact --secret"
done

# The MCP run tool's env.
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"run\",\"arguments\":{\"command\":[\"true\"],\"env\":{\"K\":\"$LIVE\"}}}}" \
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"request_access\",\"arguments\":{\"secret\":\"$TOKEN\"}}}" \
    >"$T_ROOT/mcp.in"
run_in "$T_ROOT/mcp.in" "$AL" mcp
expect_rc 0 "mcp"
expect_out "this looks like a value" "mcp run env"
if grep -qF -- "$LIVE" "$OUT" || grep -qF -- "$TOKEN" "$OUT"; then
	fail "the MCP reply echoes the value"
else
	pass
fi

# A name that passes the client but is unknown: the broker logs and echoes
# only a keyed fingerprint (the name itself could be a value).
UNKNOWN="x$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
run "$AL" run -e KEY="$UNKNOWN" -- true
expect_rc 125 "run -e KEY=<unknown>"
expect_err "no secret by that name (name fingerprint " "unknown name"
if grep -qF -- "$UNKNOWN" "$ERR" "$AIRLOCK_HOME/audit.log" \
    "$AIRLOCK_HOME/airlockd.log"; then
	fail "an unknown name was echoed or logged"
else
	pass
fi
FP=$(sed -n "s/.*name fingerprint \([0-9a-f]*\).*/\1/p" "$ERR" | head -1)
expect_eq "${#FP}" 12 "fingerprint length"
if grep -qF "\"event\":\"deny\"" "$AIRLOCK_HOME/audit.log" &&
    grep -qF "name fingerprint $FP" "$AIRLOCK_HOME/audit.log"; then
	pass
else
	fail "the deny line does not carry the fingerprint"
fi
# A typo still gets a suggestion: existing names are not secret.
run "$AL" run -e KEY=prd -- true
expect_err "did you mean 'prod'?" "suggestion"

# secret add: values on the command line are refused, never echoed.
run "$AL" secret add api "$TOKEN"
expect_rc 2 "secret add NAME VALUE"
expect_err "a value is never taken on the command line" "positional"
for opt in "--value=$TOKEN" "--value" "--val=$TOKEN"; do
	if [ "$opt" = "--value" ]; then
		run "$AL" secret add api --value "$TOKEN"
	else
		run "$AL" secret add api "$opt"
	fi
	expect_rc 2 "secret add $(printf '%s' "$opt" | cut -d= -f1)"
	expect_err "a value is never taken on the command line" "--value"
done
run "$AL" secret add "$TOKEN" </dev/null
expect_rc 2 "secret add <value as name>"
expect_err "NAME looks like a value" "value as name"
run "$AL" secret add api --owner me --purpose p --bogus="$TOKEN" </dev/null
expect_rc 2 "unknown option with a value"
expect_err "unknown option '--bogus'" "unknown option"
run "$AL" secret ls
expect_rc 0 "secret ls"
if grep -q '^api' "$OUT"; then fail "a secret was stored"; else pass; fi

"$AL" audit verify >/dev/null 2>&1 || fail "audit verify"
for v in "$LIVE" "$TOKEN"; do
	if grep -rqaF -- "$v" "$AIRLOCK_HOME/audit.log" \
	    "$AIRLOCK_HOME/airlockd.log" "$ALL_OUTPUT"; then
		fail "a canary is in the audit log, airlockd.log or output"
	else
		pass
	fi
done
check_no_leak "$TOKEN"
done_testing

#!/bin/bash
# `airlock mcp` against the official MCP TypeScript clients (tests/mcp/):
# installs the pinned npm packages when node_modules is missing, then runs
# the node test suite with the real binary.
. "$(dirname "$0")/lib.sh"

MCPDIR="$(cd "$(dirname "$0")/../mcp" && pwd)"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	fail "node and npm are needed for the MCP client tests (scripts/deps.sh installs them)"
	done_testing
fi
if [ ! -d "$MCPDIR/node_modules/@modelcontextprotocol/client" ] ||
    [ ! -d "$MCPDIR/node_modules/@modelcontextprotocol/sdk" ]; then
	# One installer at a time, whatever runs the tests in parallel.
	(
		flock 9
		cd "$MCPDIR" && { npm ci --no-audit --no-fund ||
		    npm install --no-audit --no-fund; }
	) 9>"$MCPDIR/.npm-lock" >"$T_ROOT/npm.log" 2>&1 ||
	    { fail "npm install in tests/mcp failed: $(tail -5 "$T_ROOT/npm.log")"; done_testing; }
fi

init_vault
export AIRLOCK_CANARIES=""
export AIRLOCK_CANARY_FILE="$T_ROOT/canaries"
(cd "$MCPDIR" && node --test --test-reporter=spec sdk.test.mjs) >"$OUT" 2>"$ERR"
RC=$?
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
if [ "$RC" -ne 0 ]; then
	fail "node test suite failed:"
	grep -E '✖|not ok|Error|assert' "$OUT" | head -40 >&2
else
	pass
fi
grep -E '^ℹ (tests|pass|fail)' "$OUT" | sed 's/^ℹ /node: /'
# The secrets the tool cases made up: nowhere under $AIRLOCK_HOME (audit
# log, broker log, store) nor in anything the suite printed.
[ -s "$AIRLOCK_CANARY_FILE" ] || fail "the suite wrote no canaries"
while read -r c; do
	[ -n "$c" ] && check_no_leak "$c"
done <"$AIRLOCK_CANARY_FILE"
done_testing

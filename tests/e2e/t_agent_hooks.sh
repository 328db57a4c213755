#!/bin/bash
# `airlock hook claude|codex|cursor` on recorded inputs in each agent's
# documented format (tests/data/hooks/): exact answers and exit codes, the
# secrets marked exposed and audited, canaries nowhere.  HOOKS_RECORD=1
# rewrites the expected answers instead (review the diff before commit).
. "$(dirname "$0")/lib.sh"
DATA="$(cd "$(dirname "$0")/../data/hooks" && pwd)"
init_vault
T=$(canary)
add_secret deploy-token "$T"
B64=$(printf %s "$T" | base64 -w0)
HEX=$(printf %s "$T" | od -An -tx1 | tr -d ' \n')
GHP=ghp_$(head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 36)
[ ${#GHP} -eq 40 ] || { fail "could not make a token shape"; done_testing; }

status_of() {
	"$AL" secret ls --json | python3 -c 'import json,sys
print({s["name"]: s["status"] for s in json.load(sys.stdin)}.get(sys.argv[1], "?"))' "$1"
}

for in in "$DATA"/*/*.json; do
	agent=$(basename "$(dirname "$in")")
	case=${in%.json}
	name="$agent/$(basename "$case")"
	sed -e "s|@CANARY@|$T|g" -e "s|@CANARY_B64@|$B64|g" \
	    -e "s|@CANARY_HEX@|$HEX|g" -e "s|@GHP@|$GHP|g" "$in" >"$T_ROOT/in"
	"$AL" hook "$agent" <"$T_ROOT/in" >"$OUT" 2>"$ERR"
	RC=$?
	cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
	if [ -n "${HOOKS_RECORD:-}" ]; then
		echo "$RC" >"$case.rc"
		if [ -s "$OUT" ]; then cp "$OUT" "$case.out"; else rm -f "$case.out"; fi
	else
		expect_eq "$RC" "$(cat "$case.rc")" "$name: exit status"
		if [ -f "$case.out" ]; then
			cmp -s "$OUT" "$case.out" && pass ||
			    fail "$name: answer differs: $(diff "$case.out" "$OUT" | head -5)"
		else
			expect_empty "$OUT" "$name: no answer"
		fi
		if [ -f "$case.out" ] && ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$OUT"; then
			fail "$name: the answer is not JSON"
		fi
	fi
	# Nothing the agent gets back holds the value, the token, or encodings.
	for v in "$T" "$B64" "$HEX" "$GHP"; do
		grep -qF -- "$v" "$OUT" "$ERR" && fail "$name: a secret in the answer"
	done
	want=$(cat "$case.exposed" 2>/dev/null || echo active)
	if [ "$want" = active ]; then
		expect_eq "$(status_of deploy-token)" active "$name: not exposed"
	else
		expect_eq "$(status_of deploy-token)" exposed "$name: marked exposed"
		"$AL" secret edit deploy-token --status active >>"$ALL_OUTPUT" 2>&1
	fi
done

# Every exposure is in the audit log (never with the value).
n=$(grep -c '"event":"secret_exposed"' "$AIRLOCK_HOME/audit.log")
expect_eq "$n" "$(cat "$DATA"/*/*.exposed | wc -l)" "one secret_exposed event per exposure"
grep -q '"event":"agent_hook","outcome":"block"' "$AIRLOCK_HOME/audit.log" && pass ||
    fail "a blocked prompt with a rule hit is audited"
"$AL" audit verify >>"$ALL_OUTPUT" 2>&1
expect_eq $? 0 "the audit chain verifies"

# An exposed secret is no longer leased, but its value is still masked.
"$AL" secret edit deploy-token --status exposed >>"$ALL_OUTPUT" 2>&1
sed -e "s|@CANARY_B64@|$B64|g" "$DATA/claude/post-bash-b64.json" >"$T_ROOT/in"
run "$AL" hook claude <"$T_ROOT/in"
expect_rc 0 "exposed secret still masked"
expect_out '"updatedToolOutput":{"stdout":"PATH=/usr/bin\nTOKEN_B64=[REDACTED:deploy-token]\n"'
"$AL" secret edit deploy-token --status active >>"$ALL_OUTPUT" 2>&1

# Fail closed: no vault to ask, so every guarded event blocks, saying why.
sed -e "s|@CANARY@|x|g" "$DATA/claude/pre-edit-clean.json" >"$T_ROOT/in"
run env -u AIRLOCK_SOCKET AIRLOCK_HOME="$T_ROOT/none" "$AL" hook claude <"$T_ROOT/in"
expect_rc 0 "fail closed: PreToolUse"
expect_out '"permissionDecision":"deny","permissionDecisionReason":"airlock hook failed, so this was blocked to be safe: '
expect_err "airlock hook failed, so this was blocked to be safe: cannot start the broker: no vault at $T_ROOT/none"
sed -e "s|@CANARY@|x|g" "$DATA/cursor/shell-clean.json" >"$T_ROOT/in"
run env -u AIRLOCK_SOCKET AIRLOCK_HOME="$T_ROOT/none" "$AL" hook cursor <"$T_ROOT/in"
expect_rc 2 "fail closed: Cursor"
expect_out '{"permission":"deny","user_message":"airlock hook failed'

run "$AL" hook claude extra </dev/null
expect_rc 2 "extra argument"
expect_err "unexpected argument 'extra' (the hook input is read from stdin)"

check_no_leak "$T"
check_no_leak "$GHP"
done_testing

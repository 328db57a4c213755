#!/bin/bash
# The real Claude Code (pinned in tests/agents), wired by `airlock agent
# setup claude`, against a local stand-in for the model provider that
# scripts the model's tool calls: what the provider receives never holds a
# vault secret's value.  A shell command printing a file with the value comes
# back masked by the PostToolUse hook; one reading .env is refused by the
# permissions.deny entries setup wrote.
. "$(dirname "$0")/lib.sh"

PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
AGENTS="$AIRLOCK_SRC/tests/agents"
agents_install
CLAUDE="$AGENTS/node_modules/.bin/claude"

export HOME="$T_ROOT/userhome"
mkdir -p "$HOME"
# The hooks and the MCP entry name `airlock`: the one under test.
mkdir -p "$T_ROOT/bin"
ln -s "$AL" "$T_ROOT/bin/airlock"
export PATH="$T_ROOT/bin:$PATH"
init_vault
V=$(canary)
add_secret api-key "$V"
P="$T_ROOT/proj"
git init -q "$P"
cd "$P" || exit 1
printf 'API_KEY=%s\n' "$V" >.env
printf 'key = %s\n' "$V" >config.ini
printf 'notes\n' >notes.txt
run airlock agent setup claude
expect_rc 0 "setup claude"

# turn CMD: one agent turn whose model runs CMD with Bash; the provider's
# log in $T_ROOT/provider.log, the tool results it received in $OUT.
FP=""
trap '[ -n "$FP" ] && kill "$FP" 2>/dev/null; t_cleanup' EXIT
turn() {
	: >"$T_ROOT/provider.log"
	rm -f "$T_ROOT/port"
	"$PY" "$AGENTS/fake_provider.py" "$T_ROOT/provider.log" \
	    "$("$PY" -c 'import json,sys;print(json.dumps({"name":"Bash","input":{"command":sys.argv[1],"description":"look"}}))' "$1")" \
	    >"$T_ROOT/port" &
	FP=$!
	for _ in $(seq 100); do [ -s "$T_ROOT/port" ] && break; sleep 0.05; done
	ANTHROPIC_BASE_URL="http://127.0.0.1:$(cat "$T_ROOT/port")" \
	    ANTHROPIC_API_KEY=sk-ant-airlock-test \
	    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 \
	    timeout 120 "$CLAUDE" -p "look at the files" --allowedTools Bash \
	    --output-format json >"$T_ROOT/claude.out" 2>"$T_ROOT/claude.err"
	RC=$?
	kill "$FP" 2>/dev/null
	wait "$FP" 2>/dev/null
	FP=""
	cat "$T_ROOT/claude.out" "$T_ROOT/claude.err" >>"$ALL_OUTPUT"
	"$PY" - "$T_ROOT/provider.log" >"$OUT" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
for body in lines[1::2]:
    for m in json.loads(body).get("messages", []):
        if isinstance(m.get("content"), list):
            for b in m["content"]:
                if b.get("type") == "tool_result":
                    c = b["content"]
                    print(c if isinstance(c, str) else json.dumps(c))
PY
}

turn "cat notes.txt config.ini"
expect_rc 0 "claude -p, a command printing the value"
expect_out "key = [REDACTED:api-key]"
if grep -qF -- "$V" "$T_ROOT/provider.log"; then
	fail "the provider received the value"
else pass; fi
run airlock audit --json --event secret_exposed
expect_out '"secret":"api-key"'

turn "cat .env"
expect_rc 0 "claude -p, a command reading .env"
expect_out "denied"
if grep -qF -- "$V" "$T_ROOT/provider.log"; then
	fail "the provider received the value from .env"
else pass; fi
check_no_leak "$V" "$T_ROOT/claude.out"
done_testing

#!/bin/bash
# An agent hook input the JSON parser cannot load -- a tool output holding a
# NUL character or a lone surrogate escape, nesting deeper than the parser
# goes -- is still answered in its event's terms: a PostToolUse output is
# withheld (Claude Code: updatedToolOutput; Codex: decision "block", whose
# reason replaces the result), a PreToolUse denied.  An exit status alone
# would let the output through: the tool already ran.  A tool output that
# spells "hook_event_name" inside a string does not change the event.  Then
# the real Claude Code (tests/agents), a command printing a file with its
# lines NUL-separated: the value never reaches the provider.
. "$(dirname "$0")/lib.sh"
init_vault
V=$(canary)
add_secret nul-token "$V"
run "$AL" lease ls
expect_rc 0 "broker"
export V

# hook AGENT PYTHON-EXPR: the hook input is the expression (V is the value)
# as json.dumps writes it: \u0000 for a NUL and \udcff for a lone surrogate,
# as JSON.stringify does; its answer in $OUT, exit status in $RC.
hook() {
	python3 -c 'import json,os,sys; V=os.environ["V"]; x=eval(sys.argv[1]); sys.stdout.write(x if isinstance(x, str) else json.dumps(x))' "$2" >"$T_ROOT/in"
	run "$AL" hook "$1" <"$T_ROOT/in"
}
POST='{"hook_event_name":"PostToolUse","tool_name":"mcp__x__y","tool_input":{},"tool_response":'
NUL=$POST'{"stdout":"k="+V+"\x00\"hook_event_name\":\"Stop\""}}'
SUR=$POST'"\udcff k="+V}'
DEEP='json.dumps('$POST'0}).replace("0}", "["*3000 + json.dumps(V) + "]"*3000 + "}")'
PRE='{"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"echo "+V+"\x00"}}'

W='[airlock: output withheld: the hook could not check it]'
# Loaded (a NUL): the output's own shape, every string withheld.
hook claude "$NUL"
expect_rc 0 "claude NUL: answered"
expect_out '"updatedToolOutput":{"stdout":"'"$W"'"}' "claude NUL: output withheld in its shape"
# Not loaded: a string, for MCP tools too, and the agent stopped.
for case in SUR DEEP; do
	hook claude "${!case}"
	expect_rc 0 "claude $case: answered"
	expect_out '"updatedToolOutput":"'"$W"'"' "claude $case: output withheld"
	expect_out '"updatedMCPToolOutput":"'"$W"'"' "claude $case: MCP output withheld"
	expect_out '"continue":false' "claude $case: the agent is stopped"
done
# Not loaded, Bash: Bash's shape.
BASHSUR='{"hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":"x"},"tool_response":{"stdout":"\udcff k="+V,"stderr":"","interrupted":False,"isImage":False}}'
hook claude "$BASHSUR"
expect_out '"updatedToolOutput":{"stdout":"'"$W"'","stderr":"","interrupted":false,"isImage":false}' "claude Bash, not loaded: Bash's shape"
for case in NUL SUR DEEP; do
	hook codex "${!case}"
	expect_rc 0 "codex $case: answered"
	expect_out '"decision":"block","reason":"'"$W"' airlock hook failed' "codex $case: output withheld"
done
for ag in claude codex; do
	hook "$ag" "$PRE"
	expect_rc 0 "$ag: a PreToolUse with a NUL is answered"
	expect_out '"permissionDecision":"deny"' "$ag: a PreToolUse with a NUL is denied"
done
# Still exit 2 when no event can be read at all.
printf '{"tool_name":' >"$T_ROOT/in"
run "$AL" hook claude <"$T_ROOT/in"
expect_rc 2 "an input with no event"

# The real Claude Code, wired by agent setup.
PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
AGENTS="$AIRLOCK_SRC/tests/agents"
agents_install
CLAUDE="$AGENTS/node_modules/.bin/claude"
export HOME="$T_ROOT/userhome"
mkdir -p "$HOME" "$T_ROOT/bin"
ln -s "$AL" "$T_ROOT/bin/airlock"
export PATH="$T_ROOT/bin:$PATH"
P="$T_ROOT/proj"
git init -q "$P"
cd "$P" || exit 1
printf 'name = app\nkey = %s\n' "$V" >config.ini
run airlock agent setup claude
expect_rc 0 "setup claude"
FP=""
trap '[ -n "$FP" ] && kill "$FP" 2>/dev/null; t_cleanup' EXIT
"$PY" "$AGENTS/fake_provider.py" "$T_ROOT/provider.log" \
    '{"name":"Bash","input":{"command":"tr \"\\n\" \"\\0\" < config.ini","description":"look"}}' \
    >"$T_ROOT/port" &
FP=$!
for _ in $(seq 100); do [ -s "$T_ROOT/port" ] && break; sleep 0.05; done
ANTHROPIC_BASE_URL="http://127.0.0.1:$(cat "$T_ROOT/port")" \
    ANTHROPIC_API_KEY=sk-ant-airlock-test \
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 \
    timeout 120 "$CLAUDE" -p "look at the files" --allowedTools Bash \
    --output-format json >"$T_ROOT/claude.out" 2>"$T_ROOT/claude.err"
expect_eq "$?" 0 "claude -p, a command printing NUL-separated lines"
kill "$FP" 2>/dev/null
wait "$FP" 2>/dev/null
FP=""
cat "$T_ROOT/claude.out" "$T_ROOT/claude.err" >>"$ALL_OUTPUT"
grep -qF 'output withheld' "$T_ROOT/provider.log" && pass ||
    fail "the tool result the provider got was not withheld"
check_no_leak "$V" "$T_ROOT/provider.log" "$T_ROOT/claude.out"
done_testing

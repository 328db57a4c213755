#!/bin/bash
# Agent hooks search every string of the hook input, object keys included:
# a tool call whose arguments carry a value as a key (an MCP tool's map of
# headers, say) is denied, and a tool output carrying one as a key comes
# back with the key masked, for Claude Code, Codex and Cursor alike.  Values
# stay as they were, keys that hold none are kept, and the value is printed
# nowhere.
. "$(dirname "$0")/lib.sh"
init_vault
V=$(canary)
add_secret key-token "$V"
run "$AL" lease ls
expect_rc 0 "broker"
export V

# hook AGENT JSON-TEMPLATE: the template with @V@ replaced by the value.
hook() {
	python3 -c 'import os,sys; sys.stdout.write(sys.argv[1].replace("@V@", os.environ["V"]))' "$2" >"$T_ROOT/in"
	run "$AL" hook "$1" <"$T_ROOT/in"
}

# Tool calls: the value as a key, at any depth.
hook claude '{"hook_event_name":"PreToolUse","tool_name":"mcp__http__get","tool_input":{"url":"https://example.com","headers":{"@V@":"1"}}}'
expect_rc 0 "claude: a key in a tool call"
expect_out '"permissionDecision":"deny"' "claude: a value as a key is denied"
expect_out "the live value of secret 'key-token'" "claude: the secret is named"
hook codex '{"hook_event_name":"PreToolUse","tool_name":"mcp__x__y","tool_input":{"a":[{"b":{"x @V@ y":null}}]}}'
expect_rc 0 "codex: a nested key in a tool call"
expect_out '"permissionDecision":"deny"' "codex: a nested key is denied"
hook cursor '{"hook_event_name":"beforeMCPExecution","tool_name":"x","tool_input":{"@V@":true}}'
expect_rc 0 "cursor: a key in an MCP call"
expect_out '"permission":"deny"' "cursor: a value as a key is denied"

# Tool outputs: the key is masked, everything else is kept.
hook claude '{"hook_event_name":"PostToolUse","tool_name":"mcp__gh__tokens","tool_input":{},"tool_response":{"tokens":{"@V@":{"scope":"repo"}},"count":1}}'
expect_rc 0 "claude: a key in a tool output"
python3 - "$OUT" <<'PY' && pass || fail "claude: the output's key is not masked: $(cat "$OUT")"
import json, sys
o = json.load(open(sys.argv[1]))["hookSpecificOutput"]
for k in ("updatedToolOutput", "updatedMCPToolOutput"):
    assert o[k] == {"tokens": {"[REDACTED:key-token]": {"scope": "repo"}}, "count": 1}, o[k]
PY
hook codex '{"hook_event_name":"PostToolUse","tool_name":"mcp__gh__tokens","tool_input":{},"tool_response":{"@V@":"x"}}'
expect_rc 0 "codex: a key in a tool output"
expect_out '"decision":"block"' "codex: the output is withheld"
expect_out '[REDACTED:key-token]' "codex: the masked output is the reason"

# A clean input with keys is let through as it is.
hook claude '{"hook_event_name":"PreToolUse","tool_name":"mcp__http__get","tool_input":{"headers":{"Accept":"text/plain"}}}'
expect_rc 0 "a clean call"
expect_eq "$(cat "$OUT")" "" "a clean call with keys is allowed"

check_no_leak "$V"
done_testing

#!/bin/bash
# airlock agent setup|status: merging into Claude Code, Codex and Cursor
# configuration in a scratch project and a scratch $HOME.
. "$(dirname "$0")/lib.sh"

PROJ="$T_ROOT/proj"
PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
export HOME="$T_ROOT/userhome"
mkdir -p "$PROJ/.claude" "$HOME/.codex"
cd "$PROJ" || exit 1

printf '{"permissions":{"allow":["Bash(ls)"]}}\n' >.claude/settings.json
printf '{"mcpServers":{"github":{"command":"gh-mcp"}}}\n' >.mcp.json
chmod 640 .mcp.json
before=$(cat .mcp.json)

# --dry-run prints a diff and writes nothing.
run "$AL" agent setup claude --dry-run --command /usr/bin/airlock
expect_rc 0 "setup --dry-run"
expect_out "--- $PROJ/.mcp.json"
expect_out "+++ $PROJ/.mcp.json"
expect_out '+      "command": "/usr/bin/airlock",'
expect_eq "$(cat .mcp.json)" "$before" ".mcp.json after --dry-run"

# setup merges, keeps the other server and the file's mode.
run "$AL" agent setup claude --command /usr/bin/airlock
expect_rc 0 "setup claude"
expect_out "updated   $PROJ/.mcp.json"
expect_eq "$(stat -c %a .mcp.json)" 640 "mode kept"
expect_eq "$("$PY" -c 'import json;d=json.load(open(".mcp.json"));print(d["mcpServers"]["github"]["command"], d["mcpServers"]["airlock"]["args"], "env" in d["mcpServers"]["airlock"])')" \
    "gh-mcp ['mcp'] False" "merged .mcp.json (no per-user AIRLOCK_HOME in a project file)"
ls -a "$PROJ" | grep -q 'airlock-' && fail "a temporary file was left behind" || pass
# The hooks: every guarded event runs `airlock hook claude`, other keys kept.
expect_out "updated   $PROJ/.claude/settings.json"
expect_eq "$("$PY" -c 'import json;d=json.load(open(".claude/settings.json"));h=d["hooks"]
print(d["permissions"]["allow"], [(e, g.get("matcher"), [x["command"] for x in g["hooks"]]) for e in h for g in h[e]])')" \
    "['Bash(ls)'] [('PreToolUse', 'Bash|Write|Edit|MultiEdit|NotebookEdit|mcp__.*', ['/usr/bin/airlock hook claude']), ('PostToolUse', '*', ['/usr/bin/airlock hook claude']), ('PostToolUseFailure', '*', ['/usr/bin/airlock hook claude']), ('UserPromptSubmit', None, ['/usr/bin/airlock hook claude'])]" \
    "hooks merged into .claude/settings.json"

# Running it again changes nothing.
run "$AL" agent setup claude --command /usr/bin/airlock
expect_out "unchanged $PROJ/.mcp.json"
run "$AL" agent setup claude --dry-run --command /usr/bin/airlock
expect_out "claude (project) is already wired; nothing to change"

# Codex, user scope: TOML appended after the user's own content.
printf '# mine\nmodel = "o3"\n' >"$HOME/.codex/config.toml"
run "$AL" agent setup codex --user --command /usr/bin/airlock
expect_rc 0 "setup codex --user"
expect_eq "$(head -2 "$HOME/.codex/config.toml")" "$(printf '# mine\nmodel = "o3"')" "config.toml head kept"
grep -qx '\[mcp_servers.airlock\]' "$HOME/.codex/config.toml" && pass || fail "no [mcp_servers.airlock] table"
grep -qx 'args = \["mcp"\]' "$HOME/.codex/config.toml" && pass || fail "no args line"

# A symlinked config is written through to its target.
mkdir -p "$T_ROOT/dotfiles" "$PROJ/.cursor"
printf '{}' >"$T_ROOT/dotfiles/mcp.json"
ln -s "$T_ROOT/dotfiles/mcp.json" "$PROJ/.cursor/mcp.json"
run "$AL" agent setup cursor --command /usr/bin/airlock
expect_rc 0 "setup cursor through a symlink"
[ -L "$PROJ/.cursor/mcp.json" ] && pass || fail "the symlink was replaced"
grep -q '"airlock"' "$T_ROOT/dotfiles/mcp.json" && pass || fail "target not updated"

# status shows what is wired.
run "$AL" agent status
expect_rc 0 "status"
expect_out "claude  project  mcp: yes (/usr/bin/airlock)  hooks: PreToolUse,PostToolUse,PostToolUseFailure,UserPromptSubmit"
expect_out "cursor  project  mcp: yes (/usr/bin/airlock)  hooks: beforeShellExecution,afterShellExecution,beforeMCPExecution,beforeReadFile,beforeSubmitPrompt"
expect_out "codex   user     mcp: yes (/usr/bin/airlock)"
expect_out "cursor  project  mcp: yes (/usr/bin/airlock)"
run "$AL" agent status --json
expect_eq "$("$PY" -c 'import json,sys;d=json.load(open(sys.argv[1]));print(sorted((x["agent"],x["scope"]) for x in d if x["mcp"]))' "$OUT")" \
    "[('claude', 'project'), ('codex', 'user'), ('cursor', 'project')]" "status --json"

# A file that is not JSON is reported by position and left alone.
printf '{\n  "mcpServers": {,}\n}\n' >.mcp.json
run "$AL" agent setup claude --command /usr/bin/airlock
expect_rc 2 "setup on a broken .mcp.json"
expect_err ".mcp.json:2:"
expect_eq "$(sed -n 2p .mcp.json)" '  "mcpServers": {,}' "broken file untouched"

# Usage errors.
run "$AL" agent setup vim
expect_rc 2 "unknown agent"
expect_err "unknown agent 'vim' (claude, codex or cursor)"
run "$AL" agent setup
expect_rc 2 "no agent"
expect_err "which agent? claude, codex or cursor"
run "$AL" agent setup claude --project --user
expect_rc 2 "both scopes"
expect_err "--project and --user exclude each other"
run "$AL" agent frob
expect_rc 2 "unknown subcommand"
expect_err "unknown subcommand 'frob' (setup or status)"
run "$AL" help agent
expect_rc 0 "help agent"
expect_out "usage: airlock agent setup claude|codex|cursor"

done_testing

#!/bin/bash
# agent setup writes to the repository root, says created or updated
# truthfully, keeps this user's paths ($AIRLOCK_HOME, the binary's full
# path) out of files meant to be committed, and denies Claude Code reads
# of secret files; hook install never writes into a tracked hooks
# directory (husky) and prints the line to add instead.
. "$(dirname "$0")/lib.sh"

PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
export HOME="$T_ROOT/userhome"
mkdir -p "$HOME"
R="$T_ROOT/repo"
git init -q "$R"
git -C "$R" config user.email t@example.com
git -C "$R" config user.name t
mkdir -p "$R/src/deep"
cd "$R/src/deep" || exit 1

# From a subdirectory, with this user's AIRLOCK_HOME and a binary that is
# not `airlock` on $PATH.
run "$AL" agent setup claude
expect_rc 0 "setup claude from a subdirectory"
expect_out "created   $R/.mcp.json"
expect_out "created   $R/.claude/settings.json"
if [ -e "$R/src/deep/.mcp.json" ]; then fail "wrote into the subdirectory"
else pass; fi
expect_err "the project files name \`airlock\`"
expect_err "\$AIRLOCK_HOME is not written into project files"
for f in "$R/.mcp.json" "$R/.claude/settings.json"; do
	if grep -qF -e "$AIRLOCK_HOME" -e "$AL" "$f"; then
		fail "a per-user path in $f: $(cat "$f")"
	else pass; fi
done
expect_eq "$(cd "$R" && "$PY" -c 'import json;print(json.load(open(".mcp.json"))["mcpServers"]["airlock"]["command"])')" \
    "airlock" "the MCP entry names airlock"
deny=$(cd "$R" && "$PY" -c 'import json;print(" ".join(json.load(open(".claude/settings.json"))["permissions"]["deny"]))')
for want in "Read(./.env)" "Read(./.env.*)" "Read(./**/*.pem)" "Read(./**/*.key)"; do
	case " $deny " in
	*" $want "*) pass ;;
	*) fail "settings.json does not deny $want: $deny" ;;
	esac
done
# Again: unchanged; an edit of ours keeps the user's own deny entries.
"$PY" - "$R/.claude/settings.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["permissions"]["deny"].insert(0, "Bash(rm:*)")
json.dump(d, open(sys.argv[1], "w"))
PY
run "$AL" agent setup claude
expect_out "unchanged $R/.mcp.json"
expect_out "unchanged $R/.claude/settings.json"
grep -qF 'Bash(rm:*)' "$R/.claude/settings.json" && pass ||
    fail "the user's own deny entry was dropped"
# --user records the full path and AIRLOCK_HOME, in the user's own file.
run "$AL" agent setup claude --user
expect_out "created   $HOME/.claude.json"
grep -qF "$AIRLOCK_HOME" "$HOME/.claude.json" && pass ||
    fail "--user did not record AIRLOCK_HOME"

# Outside a repository: the current directory, said.
mkdir -p "$T_ROOT/plain"
cd "$T_ROOT/plain" || exit 1
run "$AL" agent setup cursor
expect_rc 0 "setup outside a repository"
expect_err "is not inside a git repository: the project files go here"
expect_out "created   $T_ROOT/plain/.cursor/mcp.json"

# A tracked hooks directory (husky): nothing written, the line printed.
cd "$R" || exit 1
mkdir -p .husky
printf '#!/bin/sh\nnpm test\n' >.husky/pre-commit
chmod +x .husky/pre-commit
git add .husky/pre-commit
git commit -qm husky
git config core.hooksPath .husky
run "$AL" hook install
expect_rc 0 "hook install into a tracked hooks directory"
expect_err "is tracked by git"
expect_out "airlock scan --staged"
expect_eq "$(cat .husky/pre-commit)" "$(printf '#!/bin/sh\nnpm test')" \
    "the tracked hook is untouched"
if [ -e .husky/pre-commit.pre-airlock ]; then fail "the hook was moved"
else pass; fi
done_testing

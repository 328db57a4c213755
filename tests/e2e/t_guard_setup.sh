#!/bin/bash
# `airlock agent setup codex|claude --user --guard`: the real Codex CLI and
# Claude Code (pinned in tests/agents), with only what setup wrote into
# their own settings -- Codex: a model provider pointing at the guard,
# selected, in config.toml; Claude Code: env.ANTHROPIC_BASE_URL in
# settings.json -- send their requests through the guards the broker runs,
# in front of the fake provider: the canary in the prompt and in a file the
# agent reads arrives masked (no hook runs: the hooks are removed).
# --no-guard removes exactly what --guard added: Codex's file is byte for
# byte what it was.
. "$(dirname "$0")/lib.sh"
HELP="$(cd "$(dirname "$0")/helpers" && pwd)"
AGDIR="$(cd "$(dirname "$0")/../agents" && pwd)"
agents_install
CLAUDE=
for f in "$AGDIR"/node_modules/@anthropic-ai/claude-code-linux-*/claude; do
	[ -x "$f" ] && CLAUDE=$f
done
[ -n "$CLAUDE" ] || { fail "no Claude Code binary for this platform"; done_testing; }
CODEX=
for f in "$AGDIR"/node_modules/@openai/codex-linux-*/vendor/*/bin/codex; do
	[ -x "$f" ] && CODEX=$f
done
[ -n "$CODEX" ] || { fail "no Codex binary for this platform"; done_testing; }

init_vault
V=$(canary)
add_secret deploy-token "$V"
export GUARD_CANARY="$V"
export HOME="$T_ROOT/h"
export CODEX_HOME="$HOME/.codex"
WORK="$T_ROOT/work"
mkdir -p "$WORK" "$CODEX_HOME" "$T_ROOT/rec"
printf 'service: deploy\napi_token: %s\n' "$V" >"$WORK/config.yml"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; t_cleanup' EXIT

# provider DIR: a scripted fake provider recording into DIR; port in $FP.
provider() {
	mkdir -p "$1"
	FAKE_PROVIDER_SCRIPT=agent FAKE_PROVIDER_COMMAND="cat config.yml" \
	    python3 "$HELP/fake_provider.py" "$1" >"$1.out" 2>"$1.err" &
	PIDS+=($!)
	for _ in $(seq 100); do [ -s "$1.out" ] && break; sleep 0.05; done
	FP=$(head -1 "$1.out")
	[ -n "$FP" ] || { fail "the fake provider did not start"; done_testing; }
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 600); do
		python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1)' "$1" 2>/dev/null && return
		sleep 0.05
	done
	fail "nothing listens on $1: $(tail -3 "$AIRLOCK_HOME/airlockd.log")"
}
# leaks_in DIR: how many recorded bodies hold the canary (any form).
leaks_in() {
	python3 - "$1" <<'PY'
import base64, os, sys
v = os.environ["GUARD_CANARY"].encode()
forms = [v, base64.b64encode(v), v.hex().encode(),
         "".join("\\u%04x" % c for c in v).encode()]
d = sys.argv[1]
print(sum(any(x in open(os.path.join(d, f), "rb").read() for x in forms)
          for f in os.listdir(d) if f.endswith(".body")))
PY
}
provider "$T_ROOT/rec"
P=$(free_port)

# The user's own config: comments, a key, a table.
CFG="$CODEX_HOME/config.toml"
cat >"$CFG" <<'TOML'
# my settings
model = "gpt-test"   # the one I use

[tui]
notifications = false
TOML
run "$AL" agent setup codex --user
expect_rc 0 "setup codex"
cp "$CFG" "$T_ROOT/cfg.before"
run "$AL" agent setup codex --user --guard "127.0.0.1:$P" --upstream "http://127.0.0.1:$FP"
expect_rc 0 "setup codex --guard"
expect_out "http://127.0.0.1:$P, an \`airlock guard --listen 127.0.0.1:$P --upstream http://127.0.0.1:$FP\` that the broker runs"
expect_out "undo with \`airlock agent setup codex --user --no-guard\`"
expect_eq "$(head -1 "$CFG")" 'model_provider = "airlock-guard"' "the provider is selected first"
grep -qx "base_url = \"http://127.0.0.1:$P/v1\"" "$CFG" && pass || fail "no base_url for the guard"
run "$AL" agent setup codex --user --guard "127.0.0.1:$P" --upstream "http://127.0.0.1:$FP"
expect_out "unchanged $CFG" "setup --guard twice"
# No hook: what masks is the guard.
rm -f "$CODEX_HOME/hooks.json"

run "$AL" lease ls
expect_rc 0 "the broker (and its guard) start"
wait_port "$P"

(cd "$WORK" && OPENAI_API_KEY=sk-test-provider-key timeout 120 "$CODEX" exec \
    --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox \
    "my deploy token is $V -- check it against config.yml" </dev/null) >"$OUT" 2>"$ERR"
RC=$?
expect_rc 0 "codex, through the guard the broker runs"
expect_out "done" "codex's answer"
n=$(ls "$T_ROOT"/rec/*.body 2>/dev/null | wc -l)
[ "$n" -ge 2 ] && pass || fail "the provider recorded $n requests, expected a tool call and its result"
grep -q '"function_call_output"' "$T_ROOT"/rec/*.body && pass || fail "codex did not run the command"
grep -q 'REDACTED:deploy-token' "$T_ROOT"/rec/*.body && pass || fail "no mask: the requests did not go through the guard"
grep -qi '^authorization: Bearer sk-test-provider-key' "$T_ROOT"/rec/*.headers && pass ||
    fail "the provider's API key was not forwarded"
expect_eq "$(leaks_in "$T_ROOT/rec")" 0 "bodies holding the canary"
run "$AL" audit --json
grep -q '"egress_masked"' "$OUT" && pass || fail "no egress_masked audit line"
check_no_leak "$V" "$T_ROOT/rec" "$AIRLOCK_HOME/airlockd.log"

# Undo: exactly what --guard added goes.
run "$AL" agent setup codex --user --no-guard
expect_rc 0 "--no-guard"
cmp -s "$CFG" "$T_ROOT/cfg.before" && pass ||
    fail "config.toml differs after --no-guard: $(diff "$T_ROOT/cfg.before" "$CFG" | head -5)"
grep -q "# codex" "$AIRLOCK_HOME/guards" && fail "the guard is still listed" || pass
# A provider the user selected is theirs: refused, nothing written.
sed -i '1i model_provider = "azure"' "$CFG"
cp "$CFG" "$T_ROOT/cfg.azure"
run "$AL" agent setup codex --user --guard "127.0.0.1:$P"
expect_rc 2 "--guard over the user's provider"
expect_err "model_provider already selects 'azure'"
cmp -s "$CFG" "$T_ROOT/cfg.azure" && pass || fail "config.toml changed on a refusal"

# Claude Code: setup --user with the broker running; its settings' env
# sends it to the guard, which the running broker started.
provider "$T_ROOT/rec-claude"
PC=$(free_port)
run "$AL" agent setup claude --user --guard "127.0.0.1:$PC" --upstream "http://127.0.0.1:$FP"
expect_rc 0 "setup claude --user --guard"
expect_out "the running broker started it"
# No hook: what masks is the guard.
python3 - "$HOME/.claude/settings.json" <<'PY'
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d.pop("hooks", None)
json.dump(d, open(p, "w"))
PY
wait_port "$PC"
(cd "$WORK" && ANTHROPIC_API_KEY=sk-ant-test-provider-key \
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 \
    DISABLE_AUTOUPDATER=1 timeout 120 "$CLAUDE" -p \
    "my deploy token is $V -- check it against config.yml" \
    --allowedTools Bash --model claude-sonnet-4-5 </dev/null) >"$OUT" 2>"$ERR"
RC=$?
expect_rc 0 "claude, through the guard the broker runs"
expect_out "done" "claude's answer"
grep -q '"tool_result"' "$T_ROOT"/rec-claude/*.body && pass || fail "claude did not run the command"
grep -q 'REDACTED:deploy-token' "$T_ROOT"/rec-claude/*.body && pass ||
    fail "no mask: claude's requests did not go through the guard"
expect_eq "$(leaks_in "$T_ROOT/rec-claude")" 0 "claude: bodies holding the canary"
check_no_leak "$V" "$T_ROOT/rec-claude" "$AIRLOCK_HOME/airlockd.log"
run "$AL" stop
done_testing

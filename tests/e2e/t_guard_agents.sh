#!/bin/bash
# The real Claude Code and Codex CLI (pinned in tests/agents/package.json),
# with no hooks, talking to a fake provider (tests/e2e/helpers/
# fake_provider.py, scripted: it has the agent run `cat config.yml`; the
# Messages API for Claude Code, the Responses API for Codex).  A canary
# pasted in the prompt and read by the agent from a file reaches the
# provider when the agent talks to it directly (the check can fail), and
# never through `airlock guard`, while the agent still completes its turn.
. "$(dirname "$0")/lib.sh"
HELP="$(cd "$(dirname "$0")/helpers" && pwd)"
AGDIR="$(cd "$(dirname "$0")/../agents" && pwd)"
# The platforms' native binaries, used as they are: no install scripts.
claude_bin() {
	for f in "$AGDIR"/node_modules/@anthropic-ai/claude-code-linux-*/claude; do
		[ -x "$f" ] && { echo "$f"; return; }
	done
}
codex_bin() {
	for f in "$AGDIR"/node_modules/@openai/codex-linux-*/vendor/*/bin/codex; do
		[ -x "$f" ] && { echo "$f"; return; }
	done
}
agents_install
CLAUDE=$(claude_bin)
CODEX=$(codex_bin)
[ -n "$CLAUDE" ] || { fail "no Claude Code binary for this platform"; done_testing; }
[ -n "$CODEX" ] || { fail "no Codex binary for this platform"; done_testing; }

init_vault
V=$(canary)
add_secret deploy-token "$V"
export GUARD_CANARY="$V"
WORK="$T_ROOT/work"
mkdir -p "$WORK"
printf 'service: deploy\napi_token: %s\n' "$V" >"$WORK/config.yml"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; t_cleanup' EXIT

# provider NAME: a scripted fake provider recording into rec-NAME; port in $PORT.
provider() {
	mkdir -p "$T_ROOT/rec-$1"
	FAKE_PROVIDER_SCRIPT=agent FAKE_PROVIDER_COMMAND="cat config.yml" \
	    python3 "$HELP/fake_provider.py" "$T_ROOT/rec-$1" \
	    >"$T_ROOT/fp-$1" 2>"$T_ROOT/fp-$1.err" &
	PIDS+=($!)
	for _ in $(seq 100); do [ -s "$T_ROOT/fp-$1" ] && break; sleep 0.05; done
	PORT=$(head -1 "$T_ROOT/fp-$1")
}

PROMPT="my deploy token is $V -- check it against config.yml"

# claude BASE_URL: one non-interactive turn, no hooks, its own empty home.
claude() {
	mkdir -p "$T_ROOT/home-claude"
	(cd "$WORK" && HOME="$T_ROOT/home-claude" ANTHROPIC_BASE_URL="$1" \
	    ANTHROPIC_API_KEY=sk-ant-test-provider-key \
	    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 \
	    DISABLE_AUTOUPDATER=1 timeout 120 "$CLAUDE" -p "$PROMPT" \
	    --allowedTools Bash --model claude-sonnet-4-5 </dev/null)
}

# codex BASE_URL: one `codex exec` turn with a provider at BASE_URL/v1.
codex() {
	mkdir -p "$T_ROOT/home-codex/.codex"
	cat >"$T_ROOT/home-codex/.codex/config.toml" <<-EOF
	model = "gpt-test"
	model_provider = "test"
	[model_providers.test]
	name = "test"
	base_url = "$1/v1"
	env_key = "TEST_PROVIDER_KEY"
	wire_api = "responses"
	EOF
	(cd "$WORK" && HOME="$T_ROOT/home-codex" \
	    CODEX_HOME="$T_ROOT/home-codex/.codex" \
	    TEST_PROVIDER_KEY=sk-test-provider-key timeout 120 "$CODEX" exec \
	    --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox \
	    "$PROMPT" </dev/null)
}

leaks_in() {	# leaks_in DIR: how many recorded bodies hold V (any form)
	python3 - "$1" <<'PY'
import base64, os, sys
v = os.environ["GUARD_CANARY"].encode()
forms = [v, base64.b64encode(v), v.hex().encode(),
         "".join("\\u%04x" % c for c in v).encode()]
n = 0
for f in os.listdir(sys.argv[1]):
    if f.endswith(".body"):
        b = open(os.path.join(sys.argv[1], f), "rb").read()
        n += any(x in b for x in forms)
print(n)
PY
}

# scenario AGENT RESULT-TYPE KEY-HEADER
scenario() {
	_a=$1 _result=$2 _key=$3
	# Directly: the provider receives the canary (the check can fail).
	provider "$_a-direct"
	"$_a" "http://127.0.0.1:$PORT" >"$OUT" 2>"$ERR"
	RC=$?
	expect_rc 0 "$_a, direct"
	expect_out "done" "$_a's answer, direct"
	_d="$T_ROOT/rec-$_a-direct"
	n=$(ls "$_d"/*.body 2>/dev/null | wc -l)
	[ "$n" -ge 2 ] && pass || fail "$_a direct: the provider recorded $n requests, expected a tool call and its result"
	[ "$(leaks_in "$_d")" -ge 2 ] && pass ||
	    fail "$_a direct: the canary should reach the provider in the prompt and the tool result"
	grep -q "\"$_result\"" "$_d"/*.body && pass ||
	    fail "$_a direct: no $_result was sent (the agent did not run the command)"

	# Through the guard: the same scenario, nothing of the canary arrives.
	_g=$(head -1 "$T_ROOT/g-$_a.out")
	# (The agent's own output is not checked: Codex echoes the prompt.)
	"$_a" "$_g" >"$OUT" 2>"$ERR"
	RC=$?
	expect_rc 0 "$_a, through the guard"
	expect_out "done" "$_a's answer through the guard"
	_d="$T_ROOT/rec-$_a-guard"
	n=$(ls "$_d"/*.body 2>/dev/null | wc -l)
	[ "$n" -ge 2 ] && pass || fail "$_a guard: the provider recorded $n requests"
	expect_eq "$(leaks_in "$_d")" 0 "$_a: bodies holding the canary through the guard"
	grep -q "\"$_result\"" "$_d"/*.body && pass ||
	    fail "$_a guard: no $_result was sent"
	grep -q 'REDACTED:deploy-token' "$_d"/*.body && pass ||
	    fail "$_a guard: no mask in what the provider received"
	grep -qi "^$_key" "$_d"/*.headers && pass ||
	    fail "$_a guard: the provider's API key was not forwarded"
	check_no_leak "$V" "$_d" "$T_ROOT/g-$_a.out" "$T_ROOT/g-$_a.err"
}

# A provider and a guard in front of it for each agent.
guard_for() {	# guard_for AGENT: a provider and a guard in front of it
	provider "$1-guard"
	"$AL" guard --upstream "http://127.0.0.1:$PORT" >"$T_ROOT/g-$1.out" \
	    2>"$T_ROOT/g-$1.err" &
	PIDS+=($!)
	for _ in $(seq 200); do [ -s "$T_ROOT/g-$1.out" ] && break; sleep 0.05; done
	[ -s "$T_ROOT/g-$1.out" ] || { fail "the guard for $1 did not start: $(cat "$T_ROOT/g-$1.err")"; done_testing; }
}
guard_for claude
guard_for codex
scenario claude tool_result "x-api-key: sk-ant-test-provider-key"
scenario codex function_call_output "authorization: Bearer sk-test-provider-key"
done_testing

#!/bin/bash
# The real Claude Code (pinned in tests/agents/package.json), with no hooks,
# talking to a fake provider (tests/e2e/helpers/fake_provider.py, scripted:
# it asks the agent to run `cat config.yml`).  A canary pasted in the prompt
# and read by the agent from a file reaches the provider when the agent
# talks to it directly (the check can fail), and never through
# `airlock guard`, while the agent still completes its turn.
. "$(dirname "$0")/lib.sh"
HELP="$(cd "$(dirname "$0")/helpers" && pwd)"
AGDIR="$(cd "$(dirname "$0")/../agents" && pwd)"
if ! command -v npm >/dev/null 2>&1; then
	fail "npm is needed to install Claude Code (scripts/deps.sh installs it)"
	done_testing
fi
claude_bin() {
	for f in "$AGDIR"/node_modules/@anthropic-ai/claude-code-linux-*/claude; do
		[ -x "$f" ] && { echo "$f"; return; }
	done
}
if [ -z "$(claude_bin)" ]; then
	# One installer at a time, whatever runs the tests in parallel.  The
	# platform's native binary is used as it is: no install scripts.
	(
		flock 9
		cd "$AGDIR" && { npm ci --no-audit --no-fund --ignore-scripts ||
		    npm install --no-audit --no-fund --ignore-scripts; }
	) 9>"$AGDIR/.npm-lock" >"$T_ROOT/npm.log" 2>&1 ||
	    { fail "npm install in tests/agents failed: $(tail -5 "$T_ROOT/npm.log")"; done_testing; }
fi
CLAUDE=$(claude_bin)
[ -n "$CLAUDE" ] || { fail "no Claude Code binary for this platform"; done_testing; }

init_vault
V=$(canary)
add_secret deploy-token "$V"
WORK="$T_ROOT/work"
mkdir -p "$WORK" "$T_ROOT/cchome" "$T_ROOT/rec-direct" "$T_ROOT/rec-guard"
printf 'service: deploy\napi_token: %s\n' "$V" >"$WORK/config.yml"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; t_cleanup' EXIT

# provider NAME: a scripted fake provider recording into rec-NAME; port in $PORT.
provider() {
	FAKE_PROVIDER_SCRIPT=agent FAKE_PROVIDER_COMMAND="cat config.yml" \
	    python3 "$HELP/fake_provider.py" "$T_ROOT/rec-$1" \
	    >"$T_ROOT/fp-$1" 2>"$T_ROOT/fp-$1.err" &
	PIDS+=($!)
	for _ in $(seq 100); do [ -s "$T_ROOT/fp-$1" ] && break; sleep 0.05; done
	PORT=$(head -1 "$T_ROOT/fp-$1")
}

# agent BASE_URL: one non-interactive Claude Code turn, no hooks, no
# settings but its own; the secret goes in the prompt and comes from a file.
agent() {
	(cd "$WORK" && HOME="$T_ROOT/cchome" ANTHROPIC_BASE_URL="$1" \
	    ANTHROPIC_API_KEY=sk-ant-test-provider-key \
	    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 \
	    DISABLE_AUTOUPDATER=1 timeout 120 "$CLAUDE" -p \
	    "my deploy token is $V -- check it against config.yml" \
	    --allowedTools Bash --model claude-sonnet-4-5 </dev/null)
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
export GUARD_CANARY="$V"

# Directly: the provider receives the canary (proof the check can fail).
provider direct
agent "http://127.0.0.1:$PORT" >"$OUT" 2>"$ERR"
RC=$?
expect_rc 0 "claude, direct"
expect_out "done" "claude's answer, direct"
n=$(ls "$T_ROOT/rec-direct"/*.body 2>/dev/null | wc -l)
[ "$n" -ge 2 ] && pass || fail "direct: the provider recorded $n requests, expected a tool call and its result"
[ "$(leaks_in "$T_ROOT/rec-direct")" -ge 2 ] && pass ||
    fail "direct: the canary should reach the provider in the prompt and the tool result"
grep -lq '"tool_result"' "$T_ROOT/rec-direct"/*.body && pass ||
    fail "direct: no tool result was sent (the agent did not run the command)"

# Through the guard: the same scenario, nothing of the canary arrives.
provider guard
"$AL" guard --upstream "http://127.0.0.1:$PORT" >"$T_ROOT/g.out" 2>"$T_ROOT/g.err" &
PIDS+=($!)
for _ in $(seq 200); do [ -s "$T_ROOT/g.out" ] && break; sleep 0.05; done
G=$(head -1 "$T_ROOT/g.out")
agent "$G" >"$OUT" 2>"$ERR"
RC=$?
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
expect_rc 0 "claude, through the guard"
expect_out "done" "claude's answer through the guard"
n=$(ls "$T_ROOT/rec-guard"/*.body 2>/dev/null | wc -l)
[ "$n" -ge 2 ] && pass || fail "guard: the provider recorded $n requests"
expect_eq "$(leaks_in "$T_ROOT/rec-guard")" 0 "bodies holding the canary through the guard"
grep -q '"tool_result"' "$T_ROOT/rec-guard"/*.body && pass ||
    fail "guard: no tool result was sent"
grep -q 'REDACTED:deploy-token' "$T_ROOT/rec-guard"/*.body && pass ||
    fail "guard: no mask in what the provider received"
grep -qi '^x-api-key: sk-ant-test-provider-key' "$T_ROOT/rec-guard"/*.headers && pass ||
    fail "guard: the provider's API key was not forwarded"
check_no_leak "$V" "$T_ROOT/rec-guard" "$T_ROOT/g.out" "$T_ROOT/g.err"
done_testing

#!/bin/bash
# A tool that fails (a Bash command exiting non-zero) reaches Claude Code's
# PostToolUseFailure, not PostToolUse, and that event takes no replacement
# output: `agent setup claude` wires it too, and a failed tool's output
# carrying a value (its "error" field) marks the secret exposed (its live
# leases revoked) and tells the agent and the user.  The real Claude Code
# (tests/agents), running `cat config.ini; exit 3` with a value in
# config.ini: the secret is exposed and its lease revoked; behind `airlock
# guard` (the documented way to keep it from the provider) the provider
# gets it masked.  A clean failure goes on as usual.
. "$(dirname "$0")/lib.sh"
PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
AGENTS="$AIRLOCK_SRC/tests/agents"
agents_install
CLAUDE="$AGENTS/node_modules/.bin/claude"
export HOME="$T_ROOT/userhome"
mkdir -p "$HOME" "$T_ROOT/bin"
ln -s "$AL" "$T_ROOT/bin/airlock"
export PATH="$T_ROOT/bin:$PATH"
init_vault
V=$(canary)
add_secret fail-token "$V"
status_of() {
	"$AL" secret ls --json | "$PY" -c 'import json,sys
print({s["name"]: s["status"] for s in json.load(sys.stdin)}.get(sys.argv[1], "?"))' "$1"
}

# The hook alone.
printf '{"hook_event_name":"PostToolUseFailure","tool_name":"Bash","tool_input":{"command":"x"},"error":"Exit code 1\\nall fine","is_interrupt":false}' >"$T_ROOT/in"
run "$AL" hook claude <"$T_ROOT/in"
expect_rc 0 "a clean failed tool"
expect_eq "$(cat "$OUT")" "" "a clean failed tool goes on"

P="$T_ROOT/proj"
git init -q "$P"
cd "$P" || exit 1
printf 'name = app\nkey = %s\n' "$V" >config.ini
run airlock agent setup claude
expect_rc 0 "setup claude"
"$PY" -c 'import json; h = json.load(open(".claude/settings.json"))["hooks"]["PostToolUseFailure"]; assert h[0]["hooks"][0]["command"].endswith("airlock hook claude")' &&
    pass || fail "PostToolUseFailure is not wired"

run "$AL" lease ls
expect_rc 0 "broker"
LID=$("$PY" - "$AIRLOCK_SOCKET" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
b = json.dumps({"secret": "fail-token", "intent": "test"}).encode()
s.sendall(b"POST /v1/leases HTTP/1.1\r\nHost: airlock\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % len(b) + b)
r = b""
while b"\r\n\r\n" not in r:
    r += s.recv(65536)
head, _, body = r.partition(b"\r\n\r\n")
n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
while len(body) < n:
    body += s.recv(65536)
print(json.loads(body)["lease"]["id"])
PY
)
expect_eq "$(live_of fail-token)" "$LID" "a live lease of the secret"

FP="" GP=""
trap '[ -n "$FP" ] && kill "$FP" 2>/dev/null; [ -n "$GP" ] && kill "$GP" 2>/dev/null; t_cleanup' EXIT
# turn LOG [GUARD]: one agent turn; the provider (behind the guard when
# GUARD is given) logs into LOG.
turn() {
	"$PY" "$AGENTS/fake_provider.py" "$1" \
	    '{"name":"Bash","input":{"command":"cat config.ini; exit 3","description":"look"}}' \
	    >"$T_ROOT/port" &
	FP=$!
	for _ in $(seq 100); do [ -s "$T_ROOT/port" ] && break; sleep 0.05; done
	_url="http://127.0.0.1:$(cat "$T_ROOT/port")"
	if [ -n "${2:-}" ]; then
		"$AL" guard --upstream "$_url" >"$T_ROOT/g.out" 2>"$T_ROOT/g.err" &
		GP=$!
		for _ in $(seq 200); do [ -s "$T_ROOT/g.out" ] && break; sleep 0.05; done
		_url=$(head -1 "$T_ROOT/g.out")
	fi
	ANTHROPIC_BASE_URL="$_url" ANTHROPIC_API_KEY=sk-ant-airlock-test \
	    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 \
	    timeout 120 "$CLAUDE" -p "look at the files" --allowedTools Bash \
	    --output-format json >"$T_ROOT/claude.out" 2>"$T_ROOT/claude.err"
	kill "$FP" $GP 2>/dev/null
	wait "$FP" $GP 2>/dev/null
	FP="" GP=""
}

# Straight to the provider: the hook records what it cannot take back.
turn "$T_ROOT/direct.log"
expect_eq "$(status_of fail-token)" exposed "the secret is marked exposed"
expect_eq "$(live_of fail-token)" "" "the lease was revoked"
"$AL" audit --json --event agent_hook >"$T_ROOT/hooks.json"
grep -qF '"PostToolUseFailure"' "$T_ROOT/hooks.json" && pass ||
    fail "no agent_hook line for PostToolUseFailure: $(tail -c 300 "$T_ROOT/hooks.json")"
grep -qF "Claude Code cannot have a failed tool's output replaced" "$T_ROOT/direct.log" && pass ||
    fail "the agent was not told"
rm -f "$T_ROOT/direct.log"

# Behind the guard: the provider gets it masked.
turn "$T_ROOT/provider.log" guard
cat "$T_ROOT/claude.out" "$T_ROOT/claude.err" >>"$ALL_OUTPUT"
grep -qF 'Exit code 3' "$T_ROOT/provider.log" && pass || fail "the failed tool's result did not reach the provider"
grep -qF '[REDACTED:fail-token]' "$T_ROOT/provider.log" && pass || fail "the guard did not mask it"
check_no_leak "$V" "$T_ROOT/provider.log" "$T_ROOT/claude.out" "$T_ROOT/g.out" "$T_ROOT/g.err"
done_testing

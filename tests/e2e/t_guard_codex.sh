#!/bin/bash
# `airlock agent setup codex --user --guard`: the real Codex CLI (pinned in
# tests/agents) with only what setup wrote into its config.toml -- a model
# provider pointing at the guard, selected -- sends its requests through the
# guard the broker runs, in front of the fake provider: the canary in the
# prompt and in a file the agent reads arrives masked (no hook runs: the
# hooks file is removed).  --no-guard removes exactly what --guard added:
# the file is byte for byte what it was.
. "$(dirname "$0")/lib.sh"
HELP="$(cd "$(dirname "$0")/helpers" && pwd)"
AGDIR="$(cd "$(dirname "$0")/../agents" && pwd)"
agents_install
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

FAKE_PROVIDER_SCRIPT=agent FAKE_PROVIDER_COMMAND="cat config.yml" \
    python3 "$HELP/fake_provider.py" "$T_ROOT/rec" >"$T_ROOT/fp.out" 2>"$T_ROOT/fp.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T_ROOT/fp.out" ] && break; sleep 0.05; done
FP=$(head -1 "$T_ROOT/fp.out")
[ -n "$FP" ] || { fail "the fake provider did not start"; done_testing; }
P=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

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
for _ in $(seq 600); do
	python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1)' "$P" 2>/dev/null && break
	sleep 0.05
done

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
n=$(python3 - "$T_ROOT/rec" <<'PY'
import base64, os, sys
v = os.environ["GUARD_CANARY"].encode()
forms = [v, base64.b64encode(v), v.hex().encode(),
         "".join("\\u%04x" % c for c in v).encode()]
d = sys.argv[1]
print(sum(any(x in open(os.path.join(d, f), "rb").read() for x in forms)
          for f in os.listdir(d) if f.endswith(".body")))
PY
)
expect_eq "$n" 0 "bodies holding the canary"
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
run "$AL" stop
done_testing

#!/bin/bash
# Codex runs a hook only once its user trusted it (a hash per hook in
# ~/.codex/config.toml; an untrusted hook is skipped in silence).  agent
# setup codex trusts the hooks it installs, agent status says whether they
# are trusted, and the real Codex (pinned in tests/agents) agrees: its
# app-server lists each of airlock's hooks as trusted, with our hash.
. "$(dirname "$0")/lib.sh"

PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3)
AGENTS="$AIRLOCK_SRC/tests/agents"
export HOME="$T_ROOT/userhome"
export CODEX_HOME="$HOME/.codex"
mkdir -p "$HOME"
P="$T_ROOT/proj"
git init -q "$P"
cd "$P" || exit 1
printf '# mine\nmodel = "o3"\n\n[hooks.state."/elsewhere/hooks.json:stop:0:0"]\nenabled = false\n' \
    >"$T_ROOT/seed.toml"
mkdir -p "$CODEX_HOME"
cp "$T_ROOT/seed.toml" "$CODEX_HOME/config.toml"

run "$AL" agent setup codex
expect_rc 0 "setup codex"
expect_out "updated   $CODEX_HOME/config.toml"
run "$AL" agent status
expect_out "hooks: PreToolUse,PostToolUse,UserPromptSubmit (trusted)"
expect_eq "$(head -5 "$CODEX_HOME/config.toml")" "$(cat "$T_ROOT/seed.toml")" \
    "the user's config is kept"

# The hash, computed here the way Codex documents it: SHA-256 over the
# compact, key-sorted JSON of the hook's normalized identity.
"$PY" - "$P/.codex/hooks.json" "$CODEX_HOME/config.toml" >"$OUT" 2>"$ERR" <<'PY'
import hashlib, json, sys, tomllib
hooks_path, cfg = sys.argv[1], sys.argv[2]
hooks = json.load(open(hooks_path))["hooks"]
state = tomllib.load(open(cfg, "rb"))["hooks"]["state"]
labels = {"PreToolUse": "pre_tool_use", "PostToolUse": "post_tool_use",
          "UserPromptSubmit": "user_prompt_submit"}
n = 0
for ev, label in labels.items():
    for gi, g in enumerate(hooks[ev]):
        for hi, h in enumerate(g["hooks"]):
            ident = {"event_name": label, "hooks": [{"async": False,
                     "command": h["command"], "timeout": h.get("timeout", 600),
                     "type": "command"}]}
            if "matcher" in g and ev != "UserPromptSubmit":
                ident["matcher"] = g["matcher"]
            want = "sha256:" + hashlib.sha256(json.dumps(ident, sort_keys=True,
                separators=(",", ":")).encode()).hexdigest()
            key = "%s:%s:%d:%d" % (hooks_path, label, gi, hi)
            got = state.get(key, {}).get("trusted_hash")
            print(key, "ok" if got == want else "MISMATCH %s %s" % (got, want))
            n += 1
print("hooks", n)
PY
expect_out "hooks 3"
if grep -q MISMATCH "$OUT"; then fail "trust hashes: $(cat "$OUT")"; else pass; fi

# Changing a hook by hand makes it untrusted, and status says so.
sed -i 's/"airlock hook codex"/"airlock hook codex "/' "$P/.codex/hooks.json"
run "$AL" agent status
expect_out "NOT trusted"
run "$AL" agent setup codex
run "$AL" agent status
expect_out "(trusted)"
# Running setup again changes nothing.
run "$AL" agent setup codex
expect_out "unchanged $CODEX_HOME/config.toml"

# The real Codex, pinned: once the user trusts the project (Codex asks when
# it first starts there), its app-server lists our hooks as trusted.
printf '\n[projects."%s"]\ntrust_level = "trusted"\n' "$P" >>"$CODEX_HOME/config.toml"
agents_install
timeout 120 "$PY" - "$AGENTS/node_modules/.bin/codex" "$P" >"$OUT" 2>"$ERR" <<'PY'
import json, subprocess, sys
codex, cwd = sys.argv[1], sys.argv[2]
p = subprocess.Popen([codex, "app-server"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                     text=True, cwd=cwd)
def send(m):
    p.stdin.write(json.dumps(m) + "\n"); p.stdin.flush()
def reply(i):
    while True:
        m = json.loads(p.stdout.readline())
        if m.get("id") == i:
            return m
send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "clientInfo": {"name": "airlock-test", "version": "1"},
    "capabilities": {"experimentalApi": True}}})
reply(1)
send({"jsonrpc": "2.0", "method": "initialized"})
send({"jsonrpc": "2.0", "id": 2, "method": "hooks/list", "params": {"cwds": [cwd]}})
for d in reply(2)["result"]["data"]:
    for h in d["hooks"]:
        print(h["key"], h.get("command"), h["trustStatus"])
    for w in d.get("warnings", []) + d.get("errors", []):
        print("warning:", w)
p.kill()
PY
RC=$?
expect_rc 0 "codex app-server hooks/list"
expect_eq "$(grep -c 'airlock hook codex trusted$' "$OUT")" 3 "hooks Codex lists as trusted: $(cat "$OUT")"

# One turn of the real Codex: the model (scripted) runs a command printing a
# file that holds a vault secret; the provider must get it masked.
mkdir -p "$T_ROOT/bin"
ln -s "$AL" "$T_ROOT/bin/airlock"
export PATH="$T_ROOT/bin:$PATH"
init_vault
V=$(canary)
add_secret api-key "$V"
printf 'key = %s\n' "$V" >"$P/config.ini"
"$PY" "$AIRLOCK_SRC/tests/agents/fake_provider.py" "$T_ROOT/provider.log" \
    '{"name":"Bash","input":{"command":"cat config.ini"}}' >"$T_ROOT/port" &
FP=$!
trap 'kill "$FP" 2>/dev/null; t_cleanup' EXIT
for _ in $(seq 100); do [ -s "$T_ROOT/port" ] && break; sleep 0.05; done
# Root keys first: after a [table] they would belong to it.
{
	printf 'model = "fake-model"\nmodel_provider = "fake"\n\n'
	grep -v '^model = ' "$CODEX_HOME/config.toml"
	printf '\n[model_providers.fake]\nname = "fake"\nbase_url = "http://127.0.0.1:%s/v1"\nenv_key = "FAKE_API_KEY"\nwire_api = "responses"\n' \
	    "$(cat "$T_ROOT/port")"
} >"$T_ROOT/config.toml"
cp "$T_ROOT/config.toml" "$CODEX_HOME/config.toml"
FAKE_API_KEY=airlock-test timeout 120 "$AGENTS/node_modules/.bin/codex" exec \
    --skip-git-repo-check --dangerously-bypass-approvals-and-sandbox \
    "look at config.ini" </dev/null >"$OUT" 2>"$ERR"
RC=$?
# (codex exec shows the user, on their own terminal, what the command
# printed: that transcript is not what the model or the provider gets.)
expect_rc 0 "codex exec"
"$PY" - "$T_ROOT/provider.log" >"$OUT" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
for body in lines[1::2]:
    for i in json.loads(body).get("input", []):
        if isinstance(i, dict) and i.get("type") == "function_call_output":
            print(i.get("output"))
PY
expect_out "key = [REDACTED:api-key]"
if grep -qF -- "$V" "$T_ROOT/provider.log"; then
	fail "the provider received the value"
else pass; fi
check_no_leak "$V"
done_testing

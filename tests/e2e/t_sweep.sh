#!/bin/bash
# airlock sweep end to end: a home holding a Claude Code transcript, a Codex
# session, a bash history and a .env, each with a stored value in another
# encoding; found by name, masked in place (JSON Lines stay valid), the
# secret exposed, its lease revoked, run refused until rotation.
. "$(dirname "$0")/lib.sh"

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export HOME="$T_ROOT/h"
W="$T_ROOT/repo"
mkdir -p "$HOME/.claude/projects/-w" "$HOME/.codex/sessions/2026/12/07" "$W"
cd "$W" && git init -q . || exit 1

init_vault
# A non-ASCII letter and a quote: JSON writers escape them (\u00e9, \").
V="$(canary)é\"q"
add_secret deploy-token "$V"
OTHER=$(canary)
add_secret other-token "$OTHER"

enc() {	# enc FORM: the value in FORM
	python3 - "$1" "$V" <<'EOF'
import base64, json, sys, urllib.parse
form, v = sys.argv[1], sys.argv[2]
if form == "json-u":
	print(json.dumps(v)[1:-1])
elif form == "base64":
	print(base64.b64encode(v.encode()).decode())
elif form == "url":
	print(urllib.parse.quote(v + "/x", safe=""))
EOF
}
CL="$HOME/.claude/projects/-w/session.jsonl"
CX="$HOME/.codex/sessions/2026/12/07/rollout.jsonl"
BH="$HOME/.bash_history"
EV="$W/.env.local"
printf '{"type":"user","message":{"content":"deploy with %s please"}}\nnot json at all\n{"type":"assistant","n":1}\n' "$(enc json-u)" >"$CL"
printf '{"payload":{"output":"token: %s"}}\n' "$(enc base64)" >"$CX"
printf 'ls -la\nexport DEPLOY=%s\ngit status\n' "$V" >"$BH"
printf 'A=1\nDEPLOY_URL=https://x.example/?t=%s\n' "$(enc url)" >"$EV"
chmod 640 "$EV"
cp "$CL" "$T_ROOT/cl.orig"

# ---- the places, and a clean run before anything is there ----------------
run "$AL" sweep --list-places
expect_rc 0 "list places"
expect_out "claude-code"
expect_out "$HOME/.bash_history"
expect_out "$W"

# ---- a live lease that the exposure must end --------------------------------
"$AL" run -e T=deploy-token -- sleep 30 >/dev/null 2>&1 &
RUNPID=$!
for _ in $(seq 50); do
	"$AL" lease ls 2>/dev/null | grep -q deploy-token && break
	sleep 0.1
done

# ---- report only: every trace by name, never the value ---------------------
run "$AL" sweep --no-mark
expect_rc 1 "sweep finds"
expect_out "$CL:1:"
expect_out "$CX:1:"
expect_out "$BH:2:15: deploy-token (known value)"
expect_out "$EV:2:"
n=$(grep -c "deploy-token (known value)" "$OUT")
expect_eq "$n" 4 "four hits"
check_no_leak "$V"
run "$AL" secret show deploy-token --json
expect_out '"status": "active"' "--no-mark leaves it active"

run "$AL" sweep --no-mark --format sarif
expect_rc 1 "sarif"
got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d["runs"][0]; print(len(r["results"]), r["results"][0]["ruleId"], r["tool"]["driver"]["rules"][r["results"][0]["ruleIndex"]]["id"])' "$OUT")
expect_eq "$got" "4 airlock/known-value airlock/known-value" "sarif results"
python3 - "$AIRLOCK_SRC/tests/data/scan/sarif-schema-2.1.0.json" "$OUT" <<'EOF' >"$T_ROOT/v.out" 2>&1 && pass || fail "SARIF schema: $(head -c 600 "$T_ROOT/v.out")"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
errors = list(jsonschema.Draft4Validator(schema).iter_errors(json.load(open(sys.argv[2]))))
for e in errors[:5]:
	print(list(e.absolute_path), e.message)
sys.exit(1 if errors else 0)
EOF
grep -q '"uri": "file:///' "$OUT" && pass || fail "SARIF uri is not a file URI"

# ---- --fix: masked in place, JSON Lines valid, mode kept --------------------
run "$AL" sweep --fix --json
expect_rc 1 "fix"
got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["summary"]["fixed"], sorted({h["secret"] for h in d["hits"]}), all(h["masked"] for h in d["hits"]))' "$OUT")
expect_eq "$got" "4 ['deploy-token'] True" "fixed"
for f in "$CL" "$CX" "$BH" "$EV"; do
	if grep -qF "[REDACTED:deploy-token]" "$f"; then pass; else
		fail "$f not masked: $(cat "$f")"; fi
done
check_no_leak "$V" "$HOME" "$W"
for e in json-u base64 url; do
	if grep -rqaF -- "$(enc $e)" "$HOME" "$W"; then fail "$e form left"
	else pass; fi
done
# Byte for byte apart from the mask; line 2 (not JSON) untouched.
want=$(python3 -c 'import sys; print(open(sys.argv[1]).read().replace(sys.argv[2], "[REDACTED:deploy-token]"), end="")' "$T_ROOT/cl.orig" "$(enc json-u)")
expect_eq "$(cat "$CL")" "$want" "transcript byte-exact"
python3 -c '
import json, sys
for f in sys.argv[1:]:
	for i, l in enumerate(open(f)):
		if l.strip() == "not json at all":
			continue
		json.loads(l)
' "$CL" "$CX" && pass || fail "JSON Lines broken"
expect_eq "$(stat -c %a "$EV")" 640 "mode kept"
expect_eq "$(cat "$BH")" "$(printf 'ls -la\nexport DEPLOY=[REDACTED:deploy-token]\ngit status')" "history"
ls -a "$HOME/.claude/projects/-w" | grep -q airlock-sweep && fail "temp left" || pass

# ---- exposure: marked, lease revoked, run refused, audited -------------------
run "$AL" secret show deploy-token --json
expect_out '"status": "exposed"'
expect_out 'exposed-since'
run "$AL" run -e T=deploy-token -- true
expect_rc 125 "run refused"
expect_err "secret 'deploy-token' is exposed since 20"
expect_err ": rotate it"
run "$AL" lease ls --json
got=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for l in (d["leases"] if isinstance(d, dict) else d) if l["secret"] == "deploy-token" and l["state"] == "live"))' "$OUT")
expect_eq "$got" 0 "no live lease of the exposed secret"
kill "$RUNPID" 2>/dev/null; wait "$RUNPID" 2>/dev/null
run "$AL" audit --json
got=$(python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ex = [e for e in ev if e.get("event") == "secret_exposed"]
rv = [e for e in ev if e.get("event") == "exposure_revoke"]
print(len(ex), ex[0].get("secret"), ex[0]["detail"]["where"].endswith(".jsonl") or ex[0]["detail"]["where"].endswith("history") or ".env" in ex[0]["detail"]["where"], len(rv), rv[0]["detail"]["leases_revoked"], rv[0]["detail"]["time_to_revoke_ms"] >= 0)
' "$OUT")
expect_eq "$got" "1 deploy-token True 1 1 True" "audit of the exposure"
check_no_leak "$V"

# A second sweep finds nothing: the masks are not values.
run "$AL" sweep
expect_rc 0 "clean after fix"

# ---- rotation ends the exposure ---------------------------------------------
NEW=$(canary)
printf '%s\n' "$NEW" | "$AL" secret rotate deploy-token >>"$ALL_OUTPUT" 2>&1 ||
    fail "rotate"
run "$AL" run -e T=deploy-token -- true
expect_rc 0 "run after rotation"
run "$AL" audit --json
got=$(python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [e for e in ev if e.get("event") == "exposure_rotate"]
print(len(r), r[0]["detail"]["time_to_rotate_ms"] >= 0)
' "$OUT")
expect_eq "$got" "1 True" "time to rotate audited"
run "$AL" secret show deploy-token --json
if grep -q exposed "$OUT"; then fail "still exposed: $(cat "$OUT")"; else pass; fi

# ---- an unreadable place: listed, the sweep goes on, exit 2 ----------------
printf 'x %s\n' "$OTHER" >"$T_ROOT/elsewhere"
printf 'echo %s\n' "$OTHER" >"$HOME/.zsh_history"
# A history kept elsewhere behind a link is searched (and fixed) there.
rm -f "$BH"
ln -s "$T_ROOT/elsewhere" "$BH"
# A link that loops cannot be read: listed, the sweep goes on, exit 2.
ln -s "$HOME/.histfile" "$HOME/.histfile"
run "$AL" sweep --no-mark
expect_rc 2 "unreadable place"
expect_err "$HOME/.histfile: cannot read"
expect_out "$HOME/.zsh_history:1:6: other-token (known value)"
expect_out "$T_ROOT/elsewhere:1:3: other-token (known value)"
run "$AL" sweep --no-mark --fix
expect_eq "$(cat "$BH")" "x [REDACTED:other-token]" "the link's target fixed"
[ -L "$BH" ] && pass || fail "the link was replaced"

# ---- --git: a value committed once and removed since ------------------------
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com
export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
printf 'key: %s\n' "$OTHER" >config.yml
git add config.yml && git commit -qm one
c1=$(git rev-parse HEAD | cut -c1-12)
git rm -q config.yml && git commit -qm two
run "$AL" sweep --no-mark --no-rules --git "$T_ROOT/leak.none"
expect_out "git@$c1:config.yml: other-token (known value)"
expect_err "in git history: cannot be rewritten"
check_no_leak "$OTHER"

# ---- a vault that cannot be opened: rules only, said so ---------------------
GHP="ghp_$(head -c 4096 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 36)"
printf 'token = "%s"\n' "$GHP" >"$T_ROOT/leak.txt"
run env AIRLOCK_HOME="$T_ROOT/novault" "$AL" sweep "$T_ROOT/leak.txt"
expect_rc 1 "rules without a vault"
expect_err "known values were not checked"
expect_out "leak.txt:1:10: github-pat ghp_..."
check_no_leak "$GHP"

# ---- a pending approval of an exposed secret is denied ---------------------
ME=$(id -u)
cat >"$AIRLOCK_HOME/policy.yaml" <<EOF2
version: 1
rules:
  - id: gated
    effect: approval
    labels: {approval: required}
    callers: ["unix:uid:$ME"]
    approvers: ["unix:uid:$ME"]
  - id: owner
    effect: allow
    callers: ["unix:uid:$ME"]
    secrets: ["*"]
EOF2
chmod 600 "$AIRLOCK_HOME/policy.yaml"
kill -HUP "$(cat "$AIRLOCK_HOME/airlockd.pid")"
sleep 0.3
G=$(canary)
add_secret gated-token "$G" --label approval=required
"$AL" run --approval-wait 30s -e T=gated-token -- true >"$T_ROOT/gated.out" 2>&1 &
GPID=$!
for _ in $(seq 50); do
	"$AL" approvals 2>/dev/null | grep -q gated-token && break
	sleep 0.1
done
run "$AL" approvals
expect_out "gated-token"
printf 'curl -H "Authorization: %s"\n' "$G" >"$HOME/.zsh_history"
run "$AL" sweep "$HOME/.zsh_history"
expect_rc 1 "gated found"
wait "$GPID"
grc=$?
[ "$grc" -ne 0 ] && pass || fail "the pending run went on after the exposure"
run "$AL" approvals
if grep -q gated-token "$OUT"; then fail "still pending: $(cat "$OUT")"; else pass; fi
run "$AL" audit --json
got=$(python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [e for e in ev if e.get("event") == "exposure_revoke" and e.get("secret") == "gated-token"]
print(len(r), r[0]["detail"]["approvals_denied"])
' "$OUT")
expect_eq "$got" "1 1" "pending approval denied and audited"
check_no_leak "$G"

# ---- an exposure seen by an agent hook: since when, what saw it ------------
H=$(canary)
add_secret hook-token "$H"
HB64=$(printf %s "$H" | base64 -w0)
printf '{"session_id":"s","transcript_path":"/dev/null","cwd":"/","hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":"env | base64"},"tool_response":{"stdout":"T=%s\\n","stderr":""},"tool_use_id":"t1"}\n' "$HB64" >"$T_ROOT/hook.json"
run_in "$T_ROOT/hook.json" "$AL" hook claude
run "$AL" secret show hook-token --json
expect_out '"status": "exposed"'
expect_out '"exposed-where": "claude hook PostToolUse"' "the hook's exposure labelled"
run "$AL" run -e T=hook-token -- true
expect_err "secret 'hook-token' is exposed since 20"
printf '%s\n' "$(canary)" | "$AL" secret rotate hook-token >>"$ALL_OUTPUT" 2>&1
run "$AL" report --format json
got=$(python3 -c 'import json,sys; d={s["name"]: s for s in json.load(open(sys.argv[1]))["secrets"]}; x=d["hook-token"]["exposures"]; print(len(x), x[0]["time_to_rotate_ms"] is not None)' "$OUT")
expect_eq "$got" "1 True" "the hook's exposure ends at rotation"
# Re-activated by hand: the labels go too.
"$AL" secret edit hook-token --status exposed >>"$ALL_OUTPUT" 2>&1
"$AL" secret edit hook-token --status active >>"$ALL_OUTPUT" 2>&1
run "$AL" secret show hook-token --json
if grep -q exposed "$OUT"; then fail "labels left: $(cat "$OUT")"; else pass; fi
check_no_leak "$H"

# ---- agent setup --sweep: Claude Code's SessionEnd runs sweep --fix -------
mkdir -p "$T_ROOT/proj"
cd "$T_ROOT/proj" || exit 1
run "$AL" agent setup claude --sweep --command "$AL"
expect_rc 0 "agent setup --sweep"
cmd=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hooks"]["SessionEnd"][0]["hooks"][0]["command"])' .claude/settings.json)
# A project file is shared: no per-user path such as $AIRLOCK_HOME in it.
expect_eq "$cmd" "$AL sweep --fix" "SessionEnd command"
run "$AL" agent setup claude --sweep --command "$AL"
expect_out "unchanged $T_ROOT/proj/.claude/settings.json"
run "$AL" agent setup codex --sweep
expect_rc 2 "codex has no session end hook"
# The hook as Claude Code runs it: session JSON on stdin.
printf '{"type":"user","message":{"content":"k=%s"}}\n' "$OTHER" >"$CL"
echo '{"session_id":"s1","hook_event_name":"SessionEnd","reason":"exit"}' |
    sh -c "$cmd" >"$OUT" 2>"$ERR"
expect_eq "$(cat "$CL")" '{"type":"user","message":{"content":"k=[REDACTED:other-token]"}}' "swept at session end"
check_no_leak "$OTHER" "$CL"

done_testing

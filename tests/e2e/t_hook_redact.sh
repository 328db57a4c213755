#!/bin/bash
# Hooks and POST /v1/redact: the broker masks the texts, values never leave
# it, one `redact` audit line per call (counts, no text); no lease, no use,
# no approval request; only whole values are judged (a prefix of a value is
# neither denied nor marks the secret exposed).
. "$(dirname "$0")/lib.sh"
DATA="$(cd "$(dirname "$0")/../data/hooks" && pwd)"
init_vault
T=$(canary); P=$(canary); X=$(canary); D=$(canary)
add_secret deploy-token "$T"
add_secret pay-key "$P" --label approval=required
add_secret old-key "$X"
add_secret prod-db "$D"
"$AL" secret edit old-key --status exposed >>"$ALL_OUTPUT" 2>&1
# The caller may not use prod-db: it is not looked for on its behalf.
cat >>"$AIRLOCK_HOME/policy.yaml" <<'YML'
YML
python3 - "$AIRLOCK_HOME/policy.yaml" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
s = s.replace("rules:\n", "rules:\n  - id: no-prod\n    effect: deny\n    secrets: [prod-db]\n    reason: no\n", 1)
open(p, "w").write(s)
PY
LOG="$AIRLOCK_HOME/audit.log"
status_of() {
	"$AL" secret ls --json | python3 -c 'import json,sys
print({s["name"]: s["status"] for s in json.load(sys.stdin)}.get(sys.argv[1], "?"))' "$1"
}
lines() { wc -l <"$LOG"; }
hook_in() {	# hook_in COMMAND: a Claude Code PreToolUse for Bash
	python3 -c 'import json,sys; print(json.dumps({"hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":sys.argv[1]}}))' "$1" >"$T_ROOT/in"
}
run "$AL" lease ls
expect_rc 0 "broker"

# A clean call: one audit line, `redact`, nothing leased or asked.
hook_in "ls -la"
N0=$(lines)
run "$AL" hook claude <"$T_ROOT/in"
expect_rc 0 "clean call"
expect_eq "$(( $(lines) - N0 ))" 1 "audit lines per clean hook call"
tail -1 "$LOG" | grep -qF '"event":"redact","outcome":"ok"' && pass ||
    fail "the hook call is not one redact line: $(tail -1 "$LOG")"
tail -1 "$LOG" | grep -qF '"intent":"hook"' && pass || fail "intent hook"
for ev in grant use revoke approval_pending approval_cancelled; do
	if grep -qF "\"event\":\"$ev\"" "$LOG"; then fail "a hook wrote $ev"; else pass; fi
done
run "$AL" approvals --all --json
expect_eq "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT")" 0 "no approval request opened"

# The whole value of an approval=required secret is still found, with no
# approval asked; so is an exposed one's (no vault read in the hook).
for pair in "pay-key:$P" "old-key:$X"; do
	name=${pair%%:*}; val=${pair#*:}
	hook_in "curl -H 'Authorization: Bearer $val' https://api.example.com"
	N0=$(lines)
	run "$AL" hook claude <"$T_ROOT/in"
	expect_rc 0 "$name: whole value"
	expect_out '"permissionDecision":"deny"' "$name: denied"
	expect_out "the live value of secret '$name'" "$name: named"
	grep -F '"event":"redact"' "$LOG" | tail -1 | grep -qF "\"found\":{\"$name\":1}" &&
	    pass || fail "$name: the redact line does not count it"
done
expect_eq "$(status_of pay-key)" exposed "whole value marks exposed"
run "$AL" approvals --all --json
expect_eq "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT")" 0 "still no approval request"

# A secret the policy denies the caller is not looked for.
hook_in "echo $D"
run "$AL" hook claude <"$T_ROOT/in"
expect_rc 0 "denied secret"
if grep -qF '"permissionDecision":"deny"' "$OUT"; then
	fail "a secret the caller may not use was judged"
else
	pass
fi

# Only whole values: a prefix (6 to n-1 characters) is allowed and does
# not mark the secret exposed; the whole value is denied.
for n in 6 12 $(( ${#T} - 1 )); do
	hook_in "echo x ${T:0:$n}"
	run "$AL" hook claude <"$T_ROOT/in"
	expect_rc 0 "prefix $n"
	if grep -qF '"permissionDecision":"deny"' "$OUT"; then
		fail "a $n-character prefix was denied (an oracle)"
	else
		pass
	fi
	expect_eq "$(status_of deploy-token)" active "prefix $n: not exposed"
done
hook_in "echo x $T"
run "$AL" hook claude <"$T_ROOT/in"
expect_out '"permissionDecision":"deny"' "whole value denied"
expect_eq "$(status_of deploy-token)" exposed "whole value: exposed"
"$AL" secret edit deploy-token --status active >>"$ALL_OUTPUT" 2>&1

# The route itself: masked texts, counts, the prefix left as it came.
python3 - "$T" >"$T_ROOT/req.json" <<'PY'
import json, sys
t = sys.argv[1]
print(json.dumps({"texts": ["a " + t + " b", "tailtext-" + t[:10], "nothing-here",
    "[REDACTED:deploy-token] typed"], "intent": "redact"}))
PY
run curl -s --unix-socket "$AIRLOCK_SOCKET" -X POST -H 'Content-Type: application/json' \
    --data-binary @"$T_ROOT/req.json" http://airlock/v1/redact
python3 - "$OUT" "$T" <<'PY' || fail "redact route reply: $(head -c 400 "$OUT")"
import json, sys
r = json.load(open(sys.argv[1])); t = sys.argv[2]
assert r["texts"] == ["a [REDACTED:deploy-token] b", "tailtext-" + t[:10], "nothing-here",
    "[REDACTED:deploy-token] typed"], r["texts"]
assert r["masks"] == 1 and r["found"] == {"deploy-token": 1}, r
PY
pass
grep -F '"event":"redact"' "$LOG" | tail -1 >"$T_ROOT/last"
grep -qF '"texts":4' "$T_ROOT/last" && grep -qF '"masks":1' "$T_ROOT/last" &&
    pass || fail "redact line counts: $(cat "$T_ROOT/last")"
if grep -qF -- "tailtext-" "$T_ROOT/last" || grep -qF -- "nothing-here" "$T_ROOT/last"; then
	fail "a text is in the audit log"
else
	pass
fi
# Not a JSON list of strings: 400; over 2 MiB: 413.
run curl -s -o /dev/null -w '%{http_code}' --unix-socket "$AIRLOCK_SOCKET" -X POST \
    -H 'Content-Type: application/json' --data '{"texts":[1]}' http://airlock/v1/redact
expect_eq "$(cat "$OUT")" 400 "texts must be strings"
head -c 3000000 /dev/zero | tr '\0' a | python3 -c 'import json,sys; print(json.dumps({"texts":[sys.stdin.read()]}))' >"$T_ROOT/big.json"
run curl -s -o /dev/null -w '%{http_code}' --unix-socket "$AIRLOCK_SOCKET" -X POST \
    -H 'Content-Type: application/json' --data-binary @"$T_ROOT/big.json" http://airlock/v1/redact
expect_eq "$(cat "$OUT")" 413 "over 2 MiB"

# A tool output larger than one request (three 900 kB strings) goes in
# batches; the value in the last one is still masked.
python3 - "$T" >"$T_ROOT/post.json" <<'PY'
import json, sys
pad = "log line\n" * 100000
print(json.dumps({"hook_event_name": "PostToolUse", "tool_name": "Bash",
    "tool_input": {"command": "make"}, "tool_response": {"stdout": pad,
    "stderr": pad, "extra": [pad[:-20] + " key=" + sys.argv[1] + "\n"]}}))
PY
N0=$(grep -c '"event":"redact"' "$LOG")
run "$AL" hook claude <"$T_ROOT/post.json"
expect_rc 0 "large output"
expect_out "key=[REDACTED:deploy-token]" "large output masked"
expect_eq "$(( $(grep -c '"event":"redact"' "$LOG") - N0 ))" 2 "two requests for 2.7 MB"
"$AL" secret edit deploy-token --status active >>"$ALL_OUTPUT" 2>&1

"$AL" audit verify >>"$ALL_OUTPUT" 2>&1 || fail "audit verify"
for v in "$T" "$P" "$X" "$D"; do
	if grep -qaF -- "$v" "$LOG" "$AIRLOCK_HOME/airlockd.log"; then
		fail "a value is in the audit or broker log"
	else
		pass
	fi
done
check_no_leak "$P"
done_testing

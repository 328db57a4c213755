#!/bin/bash
# `airlock guard` in front of a fake provider (tests/e2e/helpers/
# fake_provider.py, loopback, records every body): a canary in a user
# message, a tool result, \u-escaped and base64 never reaches the provider,
# the rest of the body is byte-identical, masking is deterministic; --block,
# thinking blocks, a value outside any string, 413, upstream down (502),
# streaming, rotation without a restart, values unavailable (503), audit.
# The same request sent straight to the provider leaks (the check can fail).
. "$(dirname "$0")/lib.sh"
HELP="$(cd "$(dirname "$0")/helpers" && pwd)"
init_vault
V=$(canary)
DIGITS=$(head -c 8 /dev/urandom | od -An -tu8 | tr -dc 0-9 | head -c 14)
add_secret deploy-token "$V"
add_secret pin-code "$DIGITS"
export GUARD_CANARY="$V" GUARD_DIGITS="$DIGITS"
export FAKE_PROVIDER_PAUSE=2.0
REC="$T_ROOT/rec"
mkdir -p "$REC"
PIDS=()
stop_all() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}
trap 'stop_all; t_cleanup' EXIT

start_fake_provider "$REC"

drive() {	# drive CASE URL [ARGS...]
	python3 "$HELP/guard_drive.py" "$@" "$REC" >"$OUT" 2>"$ERR"
	RC=$?
	cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
	cat "$OUT"
	[ "$RC" -eq 0 ] && pass || fail "$1: $(cat "$ERR")"
}
drive_args() {	# drive_args CASE URL REC-ARGS...
	_c=$1 _u=$2
	shift 2
	python3 "$HELP/guard_drive.py" "$_c" "$_u" "$REC" "$@" >"$OUT" 2>"$ERR"
	RC=$?
	cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
	cat "$OUT"
	[ "$RC" -eq 0 ] && pass || fail "$_c: $(cat "$ERR")"
}

# Usage errors.
run "$AL" guard
expect_rc 2 "guard without --upstream"
expect_err "--upstream URL is required"
run "$AL" guard --upstream http://example.com
expect_rc 2 "plain http to a remote host"
expect_err "plain http:// only to a loopback host"
run "$AL" guard --upstream "http://127.0.0.1:$FP" --listen 0.0.0.0:0
expect_rc 2 "a listen address that is not loopback"
expect_err "not a loopback IPv4 address"

# agent setup claude --guard: the settings' env sends the agent's requests
# to the guard; other env entries stay; --no-guard removes only ours; a URL
# that is not a loopback one is the user's and is not replaced.
mkdir -p "$T_ROOT/proj/.claude"
# A free port: a running broker starts the guard setup lists.
SP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '{"env": {"KEEP_ME": "1"}}\n' >"$T_ROOT/proj/.claude/settings.json"
in_proj() {	# run in the project directory
	cd "$T_ROOT/proj" && run "$@"
	cd - >/dev/null || exit 1
}
envof() {
	python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])).get("env"), sort_keys=True))' \
	    "$T_ROOT/proj/.claude/settings.json"
}
in_proj "$AL" agent setup claude --guard 127.0.0.1:$SP
expect_rc 0 "agent setup claude --guard"
expect_out "airlock guard --listen 127.0.0.1:$SP --upstream https://api.anthropic.com\` that the broker runs"
expect_out "undo with \`airlock agent setup claude --no-guard\`"
expect_eq "$(envof)" "{\"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:$SP\", \"KEEP_ME\": \"1\"}" "env after --guard"
in_proj "$AL" agent setup claude --no-guard
expect_rc 0 "agent setup claude --no-guard"
expect_eq "$(envof)" '{"KEEP_ME": "1"}' "env after --no-guard"
printf '{"env": {"ANTHROPIC_BASE_URL": "https://gw.example.com"}}\n' \
    >"$T_ROOT/proj/.claude/settings.json"
in_proj "$AL" agent setup claude --guard 127.0.0.1:$SP
expect_rc 2 "--guard over another gateway"
expect_err "already sends the agent's requests to 'https://gw.example.com'"
in_proj "$AL" agent setup claude --no-guard
expect_eq "$(envof)" '{"ANTHROPIC_BASE_URL": "https://gw.example.com"}' "another gateway kept"
in_proj "$AL" agent setup cursor --guard 127.0.0.1:$SP
expect_rc 2 "--guard for cursor"
expect_err "--guard wires Claude Code and Codex"
expect_eq "$(cat "$AIRLOCK_HOME/guards")" "" "no guard listed after --no-guard"

# A secret the policy refuses at first: the guard asks again now and then,
# so once the policy grants it (no restart) it is masked.
LATE=$(canary)
add_secret late-token "$LATE"
cp "$AIRLOCK_HOME/policy.yaml" "$T_ROOT/policy.orig"
python3 - "$AIRLOCK_HOME/policy.yaml" "$(id -u)" <<'PY'
import sys
p, uid = sys.argv[1], sys.argv[2]
s = open(p).read()
s = s.replace("rules:\n", "rules:\n  - id: deny-late\n    effect: deny\n"
              "    callers: [\"unix:uid:%s\"]\n    secrets: [\"late-token\"]\n" % uid, 1)
open(p, "w").write(s)
PY
"$AL" policy lint >>"$ALL_OUTPUT" 2>&1 || fail "the test policy does not lint"
# Reloaded once the audit log has one more policy_reload line.
n0=$(grep -c '"event":"policy_reload"' "$AIRLOCK_HOME/audit.log")
[ -f "$AIRLOCK_HOME/airlockd.pid" ] && kill -HUP "$(cat "$AIRLOCK_HOME/airlockd.pid")"
for _ in $(seq 200); do
	[ "$(grep -c '"event":"policy_reload"' "$AIRLOCK_HOME/audit.log")" -gt "$n0" ] && break
	sleep 0.05
done

# A TLS provider with its own CA: refused unless AIRLOCK_UPSTREAM_CA_FILE
# names it (the certificate is verified, host name included).
mkdir -p "$T_ROOT/rec-tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$T_ROOT/tls.key" \
    -out "$T_ROOT/tls.crt" >/dev/null 2>&1 || fail "openssl could not make a certificate"
FAKE_PROVIDER_TLS_CERT="$T_ROOT/tls.crt" FAKE_PROVIDER_TLS_KEY="$T_ROOT/tls.key" \
    python3 "$HELP/fake_provider.py" "$T_ROOT/rec-tls" >"$T_ROOT/fps.out" 2>"$T_ROOT/fps.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T_ROOT/fps.out" ] && break; sleep 0.05; done
FPS=$(head -1 "$T_ROOT/fps.out")

# The guards: masking (g1), blocking (g2), upstream down (g3), TLS with an
# unknown CA (g4) and with AIRLOCK_UPSTREAM_CA_FILE (g5).
start_guard g1 --upstream "http://127.0.0.1:$FP" --refresh 200ms
G1=$GURL
start_guard g2 --upstream "http://127.0.0.1:$FP/" --block
G2=$GURL
# Upstream down: a port nothing listens on.
python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' >"$T_ROOT/dead"
start_guard g3 --upstream "http://127.0.0.1:$(cat "$T_ROOT/dead")"
G3=$GURL
start_guard g4 --upstream "https://127.0.0.1:$FPS"
G4=$GURL
AIRLOCK_UPSTREAM_CA_FILE="$T_ROOT/tls.crt" start_guard g5 --upstream "https://127.0.0.1:$FPS"
G5=$GURL
# Proof that the checks below can fail: straight to the provider it leaks.
drive direct "http://127.0.0.1:$FP"
drive mask "$G1"
drive thinking "$G1"
drive text "$G1"
drive residue "$G1"
drive_args stream "$G1" 2.0
drive too_big "$G1"
drive target "$G1"
drive openai "$G1"
drive compressed "$G1"

# Rotation: the new value is masked without a restart (and the old one).
V2=$(canary)
printf '%s\n' "$V2" | "$AL" secret rotate deploy-token >>"$ALL_OUTPUT" 2>&1 ||
    fail "rotate failed"
sleep 1
GUARD_CANARY2="$V2" drive rotated "$G1"

sleep 0.6	# the guard has seen the list as it is now (deploy-token exposed)
cp "$T_ROOT/policy.orig" "$AIRLOCK_HOME/policy.yaml"
kill -HUP "$(cat "$AIRLOCK_HOME/airlockd.pid")"
sleep 3.5	# 12 refreshes of 200 ms, and some
GUARD_CANARY2="$LATE" drive granted "$G1"

# The audit log cannot be written (a symlink is refused): nothing is sent.
mv "$AIRLOCK_HOME/audit.log" "$T_ROOT/audit.keep"
ln -s "$T_ROOT/audit.keep" "$AIRLOCK_HOME/audit.log"
drive unaudited "$G1"
rm "$AIRLOCK_HOME/audit.log"
mv "$T_ROOT/audit.keep" "$AIRLOCK_HOME/audit.log"

# Audited by name, the secret marked exposed, never a value.
"$AL" audit --json >"$T_ROOT/audit.json" 2>>"$ALL_OUTPUT"
python3 - "$T_ROOT/audit.json" <<'PY' && pass || fail "audit: egress_masked missing or wrong"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
evs = evs if evs and isinstance(evs[0], dict) else evs[0]
m = [e for e in evs if e.get("event") == "egress_masked"]
assert any(e.get("secret") == "deploy-token" and e.get("detail", e).get("endpoint") == "/v1/messages" for e in m), m[:3]
assert any(e.get("outcome") == "denied" for e in m), "refusals audited"
PY
run "$AL" audit verify
expect_rc 0 "the audit log verifies after the guard's records"
"$AL" secret ls --json >"$OUT" 2>>"$ALL_OUTPUT"
python3 -c 'import json,sys
s={x["name"]: x["status"] for x in json.load(open(sys.argv[1]))}
assert s["deploy-token"] == "exposed", s' "$OUT" && pass ||
    fail "deploy-token is not marked exposed"

REC="$T_ROOT/rec-tls" drive tls_unverified "$G4"
REC="$T_ROOT/rec-tls" drive tls "$G5"
drive block "$G2"
drive down "$G3"

# deploy-token is exposed now (the broker leases it no more): a guard
# started now reads it from the vault and masks it all the same.
start_guard g6 --upstream "http://127.0.0.1:$FP"
GUARD_CANARY2="$V2" drive exposed "$GURL"

# The broker is gone and cannot be started again (no vault): every request
# is refused, nothing forwarded.
OLD=$(cat "$AIRLOCK_HOME/airlockd.pid")
kill "$OLD" 2>/dev/null
for _ in $(seq 300); do kill -0 "$OLD" 2>/dev/null || break; sleep 0.1; done
mv "$AIRLOCK_HOME" "$T_ROOT/home.away"
mkdir -m 700 "$AIRLOCK_HOME"
sleep 1
drive unavailable "$G1"
rm -rf "$AIRLOCK_HOME"
mv "$T_ROOT/home.away" "$AIRLOCK_HOME"

stop_all
check_no_leak "$V" "$REC"/*.body "$T_ROOT/rec-tls" "$T_ROOT"/g*.out "$T_ROOT"/g*.err "$T_ROOT/audit.json"
check_no_leak "$LATE" "$REC" "$T_ROOT"/g*.out "$T_ROOT"/g*.err
check_no_leak "$V2" "$REC" "$T_ROOT"/g*.out "$T_ROOT"/g*.err "$T_ROOT/audit.json"
done_testing

#!/bin/bash
# An exposure reported by a caller that is not the broker's owner (an
# agent's hook running as the agent's own user while the broker runs as
# another): refused on a name alone, accepted with the broker's proof that
# this caller sent it text holding the value (POST /v1/redact gives one per
# secret it found), and then the same as the owner's report: the secret is
# exposed and its live leases revoked at once.  A proof is bound to its
# caller and its secret and cannot be forged.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v runuser >/dev/null; then
	echo "# skip: needs root to create a second user"
	done_testing
fi
U=alpos-u
G=alpos-g
getent group "$G" >/dev/null || acct groupadd "$G"
id "$U" >/dev/null 2>&1 || acct useradd -M -N -g "$G" "$U"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null
	acct userdel "$U" 2>/dev/null; acct groupdel "$G" 2>/dev/null; t_cleanup' EXIT

init_vault
V=$(canary)
V2=$(canary)
add_secret deploy-token "$V"
add_secret other-token "$V2"
cat >"$AIRLOCK_HOME/policy.yaml" <<EOF2
version: 1
rules:
  - id: agent-hooks
    effect: allow
    callers: ["unix:user:$U"]
    secrets: [deploy-token, other-token]
    intents: ["hook"]
  - id: owner
    effect: allow
    callers: ["unix:uid:0"]
EOF2

PUB="$T_ROOT/pub"
mkdir -p "$PUB"
chmod 711 "$T_ROOT"
chgrp "$G" "$PUB" && chmod 750 "$PUB"
export AIRLOCK_SOCKET="$PUB/airlockd.sock"
"$AL" serve --foreground --socket "$AIRLOCK_SOCKET" --group "$G" \
    >"$T_ROOT/serve.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do [ -S "$AIRLOCK_SOCKET" ] && break; sleep 0.1; done
[ -S "$AIRLOCK_SOCKET" ] && pass || { fail "the broker did not start: $(cat "$T_ROOT/serve.log")"; done_testing; }

# The owner's task holds a live lease of deploy-token.
"$AL" run -e T=deploy-token -- sh -c 'touch "$1/ready"; sleep 30' sh "$T_ROOT" \
    >>"$ALL_OUTPUT" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do [ -e "$T_ROOT/ready" ] && break; sleep 0.05; done
[ -e "$T_ROOT/ready" ] && pass || fail "the owner's run did not start"

# The second user's calls, on one connection.
cat >"$T_ROOT/u.py" <<'PY'
import base64, http.client, json, os, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(os.environ["AIRLOCK_SOCKET"])
c = C("airlock")
def req(p, body):
    c.request("POST", p, body=json.dumps(body),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, json.loads(r.read() or b"{}")
def expose(secret, proof=None):
    b = {"secret": secret, "where": "claude hook PostToolUse", "source": "hook"}
    if proof is not None:
        b["proof"] = proof
    st, j = req("/v1/exposures", b)
    print("expose", secret, st, j.get("error", {}).get("message", ""),
          j.get("revoked", ""))
expose("deploy-token")
v = os.environ["VALUE"]
st, j = req("/v1/redact", {"texts": ["T=" + base64.b64encode(v.encode()).decode()],
                           "intent": "hook"})
print("redact", st, sorted(j.get("found", {})), sorted(j.get("proofs", {})))
p = j["proofs"]["deploy-token"]
expose("other-token", p)
bad = ("0" if p[0] != "0" else "1") + p[1:]
expose("deploy-token", bad)
old = p.split(".")[0] + ".1"
expose("deploy-token", old)
expose("deploy-token", p)
PY
chmod 644 "$T_ROOT/u.py"
VALUE="$V" runuser -u "$U" -w VALUE,AIRLOCK_SOCKET -- /usr/bin/python3 "$T_ROOT/u.py" \
    >"$OUT" 2>"$ERR"
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
expect_out "expose deploy-token 403 only the broker's owner may report an exposure without a proof" \
    "a name alone is refused"
expect_out "redact 200 ['deploy-token'] ['deploy-token']" "the redaction gives a proof"
expect_out "expose other-token 403 the proof is not this caller's for this secret" \
    "a proof is for its secret only"
[ "$(grep -c '^expose deploy-token 403 the proof is not' "$OUT")" = 2 ] && pass ||
    fail "a changed or expired proof was accepted: $(cat "$OUT" "$ERR")"
expect_out "expose deploy-token 200  1" "with the proof: exposed, one lease revoked"

run "$AL" secret ls
grep -E '^deploy-token +exposed' "$OUT" >/dev/null && pass || fail "deploy-token not exposed: $(cat "$OUT")"
grep -E '^other-token +active' "$OUT" >/dev/null && pass || fail "other-token changed: $(cat "$OUT")"

# A proof is the caller's: the owner's proof does not serve another user
# (the owner needs none; its proof is checked as the second user's).
P0=$(printf '{"texts":["T=%s"],"intent":"x"}' "$V2" |
    curl -s --unix-socket "$AIRLOCK_SOCKET" -H 'Content-Type: application/json' \
    --data-binary @- http://airlock/v1/redact |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["proofs"]["other-token"])')
[ -n "$P0" ] && pass || fail "the owner got no proof"
runuser -u "$U" -- curl -s -o /dev/null -w '%{http_code}' --unix-socket "$AIRLOCK_SOCKET" \
    -H 'Content-Type: application/json' --data-binary \
    "{\"secret\":\"other-token\",\"where\":\"w\",\"source\":\"hook\",\"proof\":\"$P0\"}" \
    http://airlock/v1/exposures >"$OUT"
expect_eq "$(cat "$OUT")" 403 "another caller's proof"

# The real hook, as the agent's user: other-token's value in a tool's
# output is masked and the secret becomes exposed through the proof.
UH="$T_ROOT/uhome"
mkdir -p "$UH" && chown "$U" "$UH" && chmod 700 "$UH"
printf '{"session_id":"s","transcript_path":"/dev/null","cwd":"/","hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":"env"},"tool_response":{"stdout":"T=%s\\n","stderr":""},"tool_use_id":"t1"}\n' "$V2" >"$T_ROOT/hook.json"
chmod 644 "$T_ROOT/hook.json"
runuser -u "$U" -- env HOME="$UH" AIRLOCK_HOME="$UH/airlock" \
    AIRLOCK_SOCKET="$AIRLOCK_SOCKET" "$AL" hook claude <"$T_ROOT/hook.json" \
    >"$OUT" 2>"$ERR"
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
expect_out "[REDACTED:other-token]" "the hook masks the value"
run "$AL" secret ls
grep -E '^other-token +exposed' "$OUT" >/dev/null && pass ||
    fail "the hook of another user did not expose other-token: $(cat "$OUT")"

check_no_leak "$V" "$T_ROOT/serve.log"
check_no_leak "$V2" "$T_ROOT/serve.log"
done_testing

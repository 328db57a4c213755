#!/bin/bash
# The exec engine: a credential issued by a command for each use of a
# lease and revoked by another when the lease ends; a failing revocation is
# retried until it succeeds; a hung command is killed at its timeout; the
# value is masked in the output and stored nowhere.
. "$(dirname "$0")/lib.sh"
init_vault
ST="$T_ROOT/issuer-state"
mkdir -p "$ST/issued" "$ST/revoked"
TOKEN_BASE=$(canary)
cat >"$T_ROOT/issuer" <<ISSUER
#!/bin/sh
# A fake issuer: issue prints a fresh token, revoke moves it to revoked/.
case "\$1" in
issue)
	cat >"$ST/request"
	id="cred-\$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	echo "$TOKEN_BASE-\$id" >"$ST/issued/\$id"
	printf '{"expires": 1, "value": "%s-%s\\\\u00e9", "id": "%s", "extra": {"a": [1, "}"]}}\n' "$TOKEN_BASE" "\$id" "\$id"
	echo "issuer stderr is never kept" >&2 ;;
revoke)
	[ -e "$ST/fail" ] && { echo "backend down" >&2; exit 1; }
	mv "$ST/issued/\$2" "$ST/revoked/\$2" ;;
esac
ISSUER
chmod 755 "$T_ROOT/issuer"

run "$AL" secret add tok --engine exec --issue "$T_ROOT/issuer issue" \
    --owner o --purpose p
expect_rc 2 "--engine exec needs --revoke"
expect_err "--engine exec needs --issue CMD and --revoke CMD"
run "$AL" secret add tok --engine exec --issue "$T_ROOT/issuer issue" \
    --revoke "$T_ROOT/issuer revoke \"\$1\"" --timeout 3s --owner o --purpose p
expect_rc 0 "secret add --engine exec"
run "$AL" secret ls
expect_out "(exec)"

# --- issue, use, revoke --------------------------------------------------
run "$AL" run --task T-7 -e TOKEN=tok -- sh -c '
	printf %s "$TOKEN" >"$1/seen"; ls "$2/issued"; echo "token $TOKEN"' \
    sh "$T_ROOT" "$ST"
expect_rc 0 "the child gets the issued value"
ID=$(head -1 "$OUT")
case "$ID" in cred-????????????) pass ;; *) fail "issued id '$ID'" ;; esac
expect_eq "$(cat "$T_ROOT/seen")" "$TOKEN_BASE-$ID$(printf '\303\251')" \
    "the value, JSON escapes decoded"
expect_out "token [REDACTED:tok]" "the value is masked"
grep -q '"secret":"tok"' "$ST/request" && pass || fail "request lacks the secret"
grep -q '"ttl":' "$ST/request" && pass || fail "request lacks the ttl"
grep -q '"task":"T-7"' "$ST/request" && pass || fail "request lacks the task"
n=0; while [ ! -e "$ST/revoked/$ID" ] && [ $n -lt 60 ]; do sleep 0.05; n=$((n + 1)); done
[ -e "$ST/revoked/$ID" ] && pass || fail "the credential was not revoked"
VALUE=$(cat "$T_ROOT/seen")
rm -f "$T_ROOT/seen"

# --- a failing revocation is retried until it succeeds --------------------
touch "$ST/fail"
run "$AL" run -e TOKEN=tok -- sh -c 'ls "$1/issued"' sh "$ST"
expect_rc 0 "second task"
ID2=$(head -1 "$OUT")
# Until its first attempt has failed (a loaded or sanitized build is slow).
for _ in $(seq 200); do
	run "$AL" lease ls
	grep -q "the revoke command exited with status 1" "$OUT" && break
	sleep 0.05
done
expect_out revoking "lease ls shows the revocation pending"
expect_out "the revoke command exited with status 1"
grep -q "backend down" "$OUT" "$AIRLOCK_HOME/airlockd.log" "$AIRLOCK_HOME/audit.log" &&
	fail "a command's stderr was kept" || pass
rm -f "$ST/fail"
n=0; while [ ! -e "$ST/revoked/$ID2" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
[ -e "$ST/revoked/$ID2" ] && pass || fail "the failed revocation was not retried"

# --- a hung issuer is killed at the timeout ---------------------------------
# (The broker has just audited revocations on its own: the log must be free
# for another writer at once, not after the broker's next wake-up.)
run timeout 10 "$AL" secret add slow --engine exec --issue "sleep 30.17" \
    --revoke "true" --timeout 1s --owner o --purpose p
expect_rc 0 "secret add while the broker is idle after revocations"
t0=$(date +%s)
run "$AL" run -e TOKEN=slow -- true
expect_rc 125 "a hung issue command fails the run"
expect_err "killed after 1 s"
[ $(($(date +%s) - t0)) -lt 10 ] && pass || fail "the timeout did not hold"
pgrep -f "sleep 30.17" >/dev/null && fail "the hung command survived" || pass

# --- an issuer that takes its time holds up nobody else ----------------------
# It waits for $ST/go: while it does, the broker answers other requests and
# mints other credentials.
cat >"$T_ROOT/slow-issuer" <<ISSUER
#!/bin/sh
cat >/dev/null
id="slow-\$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo "$TOKEN_BASE-\$id" >"$ST/issued/\$id"
echo "\$id" >"$ST/started.tmp" && mv "$ST/started.tmp" "$ST/started"
while [ ! -e "$ST/go" ]; do sleep 0.05; done
printf '{"value": "%s-%s", "id": "%s"}\n' "$TOKEN_BASE" "\$id" "\$id"
ISSUER
chmod 755 "$T_ROOT/slow-issuer"
run "$AL" secret add waits --engine exec --issue "$T_ROOT/slow-issuer" \
    --revoke "$T_ROOT/issuer revoke \"\$1\"" --timeout 60s --owner o --purpose p
expect_rc 0 "secret add of a slow issuer"
rm -f "$ST/go" "$ST/started"
"$AL" run --task T-W -e TOKEN=waits -- sh -c 'printf %s "$TOKEN" >"$1/slow-seen"' \
    sh "$T_ROOT" >>"$ALL_OUTPUT" 2>&1 &
RUNPID=$!
n=0; while [ ! -e "$ST/started" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
[ -e "$ST/started" ] && pass || fail "the slow issuer did not start"
run timeout 20 "$AL" lease ls
expect_rc 0 "the broker answers while an issue command runs"
expect_out "T-W" "the lease being served is listed"
run timeout 20 "$AL" run -e TOKEN=tok -- sh -c 'ls "$1/issued" | grep -c cred-' sh "$ST"
expect_rc 0 "another credential is minted meanwhile"
touch "$ST/go"
wait "$RUNPID"
expect_eq "$?" 0 "the slow issuer's task gets its value in the end"
expect_eq "$(cut -d- -f1-2 "$T_ROOT/slow-seen" | cut -c1-${#TOKEN_BASE})" "$TOKEN_BASE"
rm -f "$T_ROOT/slow-seen"

# The lease ends while its credential is being issued: the credential is
# not handed out, and is revoked.
rm -f "$ST/go" "$ST/started"
"$AL" run --task T-X -e TOKEN=waits -- sh -c 'printf %s "$TOKEN" >"$1/slow-seen"' \
    sh "$T_ROOT" >>"$ALL_OUTPUT" 2>&1 &
RUNPID=$!
n=0; while [ ! -e "$ST/started" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
SLOW=$(cat "$ST/started")
run "$AL" lease revoke --task T-X
expect_out "revoked 1 lease" "the lease ends while its credential is issued"
touch "$ST/go"
wait "$RUNPID"
[ "$?" -ne 0 ] && pass || fail "the task of the ended lease ran"
[ ! -e "$T_ROOT/slow-seen" ] && pass || fail "the credential of an ended lease was handed out"
n=0; while [ ! -e "$ST/revoked/$SLOW" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
[ -n "$SLOW" ] && [ -e "$ST/revoked/$SLOW" ] && pass ||
	fail "the credential issued for an ended lease was not revoked"

# The broker stops while a credential is being issued: the task is told,
# the broker ends once the issuer is done, and the next one revokes it.
rm -f "$ST/go" "$ST/started" "$T_ROOT/slow-seen"
MINTS=$("$AL" audit --json 2>/dev/null | grep -c '"event":"mint"')
"$AL" run -e TOKEN=waits -- sh -c 'printf %s "$TOKEN" >"$1/slow-seen"' \
    sh "$T_ROOT" >"$T_ROOT/stop-run" 2>&1 &
RUNPID=$!
n=0; while [ ! -e "$ST/started" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
SLOW=$(cat "$ST/started")
BPID=$(cat "$AIRLOCK_HOME/airlockd.pid")
kill -TERM "$BPID"
wait "$RUNPID"
[ "$?" -ne 0 ] && pass || fail "the task ran without its credential"
grep -q "the broker is stopping" "$T_ROOT/stop-run" && pass ||
	fail "the task was not told the broker stops: $(cat "$T_ROOT/stop-run")"
cat "$T_ROOT/stop-run" >>"$ALL_OUTPUT"
touch "$ST/go"
wait_gone "$BPID" 10
pid_alive "$BPID" && fail "the broker did not end after the issuer" || pass
[ ! -e "$T_ROOT/slow-seen" ] && pass || fail "a credential was handed out while stopping"
expect_eq "$("$AL" audit --json 2>/dev/null | grep -c '"event":"mint"')" $((MINTS + 1)) \
    "the credential issued while the broker stopped is audited"
run "$AL" lease ls		# a new broker
expect_rc 0 "a new broker starts"
n=0; while [ ! -e "$ST/revoked/$SLOW" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
[ -e "$ST/revoked/$SLOW" ] && pass ||
	fail "the credential issued while the broker stopped was not revoked"

# --- an answer that is not the expected JSON ---------------------------------
run "$AL" secret add bad --engine exec --issue "echo not json" --revoke "true" \
    --owner o --purpose p
run "$AL" run -e TOKEN=bad -- true
expect_rc 125 "bad issuer output"
expect_err 'is not {"value": "...", "id": "..."}'

check_no_leak "$VALUE"
grep -q "issuer stderr" "$AIRLOCK_HOME/airlockd.log" && fail "stderr in the broker log" || pass
echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]

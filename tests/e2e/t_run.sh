#!/bin/bash
# airlock run and airlock redact through the real binary and a real broker:
# the value reaches the command and never comes back out, in any encoding,
# however it is written.
. "$(dirname "$0")/lib.sh"
init_vault
T=$(canary)
add_secret deploy-token "$T"
PEM_LINE=$(canary)$(canary)
printf -- '-----BEGIN TEST KEY-----\n%s\n%s\n-----END TEST KEY-----\n' "$PEM_LINE" "$(canary)" >"$T_ROOT/pem"
"$AL" secret add tls-key --owner o --purpose p --value-file "$T_ROOT/pem" >>"$ALL_OUTPUT" 2>&1

# --- the value reaches the command -------------------------------------
run "$AL" run -e TOKEN=deploy-token -- sh -c 'test "$TOKEN" = "$1" && echo same' sh "$T"
expect_rc 0 "the command sees the value"
expect_out same
run "$AL" run --file KEY=tls-key -- sh -c 'case "$KEY" in /dev/fd/*) cat "$KEY" | sha256sum;; *) echo "bad path $KEY";; esac'
expect_rc 0 "--file"
expect_eq "$(cut -d' ' -f1 "$OUT")" "$(sha256sum <"$T_ROOT/pem" | cut -d' ' -f1)" "memfd content"
run "$AL" run --file KEY=tls-key -- sh -c 'readlink "$KEY"'
expect_out "memfd:" "--file is a memfd"

# --- nothing comes back out ---------------------------------------------
run "$AL" run -e TOKEN=deploy-token -- sh -c '
	echo "plain $TOKEN end"
	printf %s "$TOKEN" | base64
	printf "xx%s" "$TOKEN" | base64 -w0; echo
	printf "%s" "$TOKEN" | basenc --base64url
	printf %s "$TOKEN" | od -An -tx1 | tr -d " \n"; echo
	printf %s "$TOKEN" | od -An -tx1 | tr -d " \n" | tr a-f A-F; echo
	python3 -c "import urllib.parse,sys,json; t=sys.argv[1]; print(urllib.parse.quote(t+\"/\")); print(json.dumps({\"t\": t}))" "$TOKEN"
	echo "err $TOKEN" >&2'
expect_rc 0 "encodings"
expect_out "plain [REDACTED:deploy-token] end"
expect_err "err [REDACTED:deploy-token]"
[ "$(grep -c 'REDACTED:deploy-token' "$OUT")" -ge 7 ] || fail "not every encoding was masked: $(cat "$OUT")"

# One byte at a time with pauses, interleaved on stdout and stderr.
run "$AL" run -e TOKEN=deploy-token -- sh -c '
	i=0; n=${#TOKEN}
	while [ $i -lt $n ]; do
		printf "%s" "$(printf %s "$TOKEN" | cut -c$((i+1)))"
		printf "." >&2
		sleep 0.01; i=$((i+1))
	done; echo'
expect_rc 0 "byte at a time"
expect_out "[REDACTED:deploy-token]"

# set -x prints the value in the trace.
run "$AL" run -e TOKEN=deploy-token -- sh -xc 'x="$TOKEN"; : "$x"'
expect_rc 0 "set -x"
expect_err "[REDACTED:deploy-token]"

# A multi-line PEM value, each line masked.
run "$AL" run --file KEY=tls-key -- sh -c 'cat "$KEY"; sed -n 2p "$KEY"'
expect_rc 0 "pem"
grep -qF -- "$PEM_LINE" "$OUT" && fail "a PEM line leaked"

# Binary output around the value, and a huge line.
run "$AL" run -e TOKEN=deploy-token -- sh -c 'head -c 3000 /dev/urandom; printf "\0%s\0" "$TOKEN"; head -c 5000000 /dev/zero | tr "\0" a; printf "%s\n" "$TOKEN"'
expect_rc 0 "binary and huge line"
grep -qaF -- "$T" "$OUT" && fail "value in binary output"
[ "$(stat -c %s "$OUT")" -gt 5000000 ] || fail "huge line truncated"

# A grandchild that daemonizes and keeps writing is ended with the task.
# (Its pid may be one of the task's own namespace: watch its ticks instead.)
run "$AL" run --grace 200ms -e TOKEN=deploy-token -- sh -c '
	setsid sh -c "while :; do echo \"bg \$TOKEN\"; echo tick >>'"$T_ROOT"'/bgticks; sleep 0.05; done" &
	sleep 0.3; echo fg-done'
expect_rc 0 "daemonizing grandchild"
n1=$(wc -l <"$T_ROOT/bgticks")
sleep 0.3
if [ "$(wc -l <"$T_ROOT/bgticks")" != "$n1" ]; then
	fail "the daemonized grandchild outlived the task"
fi

# /dev/tty cannot bypass the redactor.
run "$AL" run -e TOKEN=deploy-token -- sh -c 'echo "$TOKEN" >/dev/tty && echo WROTE-TTY'
grep -q WROTE-TTY "$OUT" && fail "the command could write to a terminal"

# --- exit statuses -------------------------------------------------------
run "$AL" run -e TOKEN=deploy-token -- sh -c 'exit 3'
expect_rc 3 "exit 3"
run "$AL" run -e TOKEN=deploy-token -- sh -c 'kill -TERM $$'
expect_rc 143 "killed by SIGTERM"
run "$AL" run -e TOKEN=deploy-token -- "$T_ROOT/no-such-command"
expect_rc 127 "not found"
printf 'echo hi\n' >"$T_ROOT/noexec"
run "$AL" run -e TOKEN=deploy-token -- "$T_ROOT/noexec"
expect_rc 126 "not executable"
run "$AL" run -e TOKEN=deploy-tokn -- true
expect_rc 125 "unknown secret"
expect_err "did you mean 'deploy-token'?"
# An unknown name is never echoed: it may be a value typed as a name.
if grep -qF deploy-tokn "$ERR"; then fail "unknown name echoed"; else pass; fi
run "$AL" run --timeout 1s --grace 100ms -e TOKEN=deploy-token -- sleep 30
expect_rc 143 "timeout"
expect_err "timed out after 1s"
run "$AL" run -- true
expect_rc 0 "no secret: a plain redacting boundary"
run "$AL" run -e TOKEN=deploy-token
expect_rc 125 "no command"
run "$AL" run -e 1BAD=deploy-token -- true
expect_rc 125 "bad variable name"

# A prompt without a newline reaches the reader at once (pty).
start=$(date +%s%N)
"$AL" run --pty -e TOKEN=deploy-token -- sh -c 'printf "Password: "; sleep 2' >"$T_ROOT/prompt" 2>&1 &
pid=$!
lat=""
for _ in $(seq 1 300); do
	if grep -q "Password: " "$T_ROOT/prompt" 2>/dev/null; then
		lat=$(( ($(date +%s%N) - start) / 1000000 )); break
	fi
	sleep 0.005
done
wait $pid
cat "$T_ROOT/prompt" >>"$ALL_OUTPUT"
[ -n "$lat" ] || fail "the prompt never arrived"
echo "prompt reached the reader after ${lat} ms (process start included)"

# Scanner rule hits are masked too (a token the vault never held), unless
# --no-rules.
GH="ghp_$(head -c 300 /dev/urandom | tr -dc A-Za-z0-9 | head -c 36)"
run "$AL" run -e TOKEN=deploy-token -- sh -c "echo 'config has $GH in it'"
expect_rc 0 "rule hit in run"
expect_out "config has [REDACTED:github-pat] in it"
run "$AL" run --no-rules -e TOKEN=deploy-token -- sh -c "echo 'x $GH'"
expect_out "x $GH" "--no-rules leaves rule hits"

# The rules are loaded only once the command prints: a silent command never
# builds (nor caches) the scanner's database; the first output does.
mkdir -p "$T_ROOT/xdg"
run env XDG_CACHE_HOME="$T_ROOT/xdg" "$AL" run -e TOKEN=deploy-token -- true
expect_rc 0 "silent run"
[ -z "$(ls "$T_ROOT/xdg/airlock" 2>/dev/null)" ] ||
	fail "a run that printed nothing loaded the scanner's rules"
run env XDG_CACHE_HOME="$T_ROOT/xdg" "$AL" run -e TOKEN=deploy-token -- sh -c "echo 'late $GH'"
expect_out "late [REDACTED:github-pat]" "rules loaded at the first output"
ls "$T_ROOT/xdg/airlock/"*.hsdb >/dev/null 2>&1 ||
	fail "the first output did not load the scanner's rules"

# With rules on, an unfinished line is held only until the command goes
# quiet: a prompt without a newline still shows while the command waits.
"$AL" run -e TOKEN=deploy-token -- sh -c 'printf "Continue? "; sleep 1; echo yes' >"$T_ROOT/p2" 2>&1 &
pid=$!
seen=0
for _ in $(seq 1 160); do
	if grep -q "Continue? " "$T_ROOT/p2" && ! grep -q yes "$T_ROOT/p2"; then
		seen=1; break
	fi
	sleep 0.005
done
wait $pid
cat "$T_ROOT/p2" >>"$ALL_OUTPUT"
[ "$seen" = 1 ] || fail "the prompt was held until the command wrote more"

# Leases end with the run.
run "$AL" lease ls --json
expect_eq "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT")" 0 "live leases after the runs"

# A private key no vault holds, printed a line at a time with pauses (as a
# terminal shows `cat key.pem`): the rule sees the whole block, nothing of
# it comes out.
{
	echo "-----BEGIN RSA PRIVATE KEY-----"
	i=0
	while [ "$i" -lt 20 ]; do
		head -c 48 /dev/urandom | base64 -w0
		echo
		i=$((i + 1))
	done
	echo "-----END RSA PRIVATE KEY-----"
} >"$T_ROOT/rsa"
run "$AL" run -e T=deploy-token -- sh -c 'while IFS= read -r l; do printf "%s\n" "$l";
    sleep 0.01; done <"$1"; echo done' sh "$T_ROOT/rsa"
expect_rc 0 "run printing a key line by line"
expect_eq "$(cat "$OUT")" "[REDACTED:private-key-rsa]
done" "a key printed line by line is masked whole"
sed -n 2,21p "$T_ROOT/rsa" >"$T_ROOT/rsa-lines"
grep -qF -f "$T_ROOT/rsa-lines" "$OUT" "$ERR" &&
	fail "a line of the key came out"

# --- airlock redact ------------------------------------------------------
printf 'a %s b\n%s\n' "$T" "$(printf %s "$T" | base64)" >"$T_ROOT/log"
run_in "$T_ROOT/log" "$AL" redact
expect_rc 0 "redact"
expect_out "a [REDACTED:deploy-token] b"
run_in "$T_ROOT/log" "$AL" redact --check --secret deploy-token
expect_rc 1 "redact --check with a hit"
printf 'key %s\n' "$GH" >"$T_ROOT/ghlog"
run_in "$T_ROOT/ghlog" "$AL" redact
expect_out "key [REDACTED:github-pat]" "redact masks rule hits"
run_in "$T_ROOT/ghlog" "$AL" redact --no-rules --check
expect_rc 0 "redact --no-rules leaves rule hits"
# Bulk input: reads fill the buffer, so the rules run beside the automaton
# and overlap the next read; every occurrence is masked, every line kept.
awk -v t="$T" -v g="$GH" 'BEGIN { for (i = 0; i < 60000; i++)
	if (i % 997 == 0) printf "line %d %s and %s end\n", i, t, g
	else printf "line %d INFO request path=/api/v1/items status=200\n", i }' \
    >"$T_ROOT/big"
run_in "$T_ROOT/big" "$AL" redact
expect_rc 0 "redact of bulk input"
expect_eq "$(wc -l <"$OUT" | tr -d ' ')" 60000 "bulk redact keeps every line"
expect_eq "$(grep -c 'INFO request path=/api/v1/items status=200$' "$OUT")" \
    59939 "bulk redact keeps the text"
expect_eq "$(grep -c '\[REDACTED:deploy-token\] and \[REDACTED:github-pat\] end$' \
    "$OUT")" 61 "bulk redact masks every value and rule hit"
printf 'nothing here\n' >"$T_ROOT/clean"
run_in "$T_ROOT/clean" "$AL" redact --check
expect_rc 0 "redact --check clean"
expect_out "nothing here"
run_in "$T_ROOT/clean" "$AL" redact --secret nope
expect_rc 2 "redact of an unknown secret"
run "$AL" redact extra
expect_rc 2 "redact with an argument"

# A secret that cannot be fetched (its record tampered with) fails redact:
# the stream is not passed through with that value unmasked.  Its fourth
# byte is changed (set to 0, or to 1 when it is 0 already: one record in
# 256 has a 0 there, and was left intact).
add_secret fragile "$(canary)"
sqlite3 "$AIRLOCK_HOME/vault.db" "UPDATE secrets SET ct = substr(ct, 1, 3) || CASE WHEN substr(ct, 4, 1) = x'00' THEN x'01' ELSE x'00' END || substr(ct, 5) WHERE name = 'fragile';"
expect_eq "$(sqlite3 "$AIRLOCK_HOME/vault.db" "SELECT count(*) FROM secrets WHERE name = 'fragile'")" 1 \
    "the tampered record is there"
run_in "$T_ROOT/clean" "$AL" redact
expect_rc 2 "redact with an unreadable secret"
expect_err "fragile"
expect_empty "$OUT" "redact output when a secret cannot be fetched"

# --- canaries: every file under $AIRLOCK_HOME (audit log, lease table,
# broker log) and everything printed.
check_no_leak "$T"
check_no_leak "$PEM_LINE"
done_testing

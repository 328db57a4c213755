#!/bin/bash
# A secret's value typed into a free-text field (a task, an intent, a
# denial's reason, an exposure's where and source) is never written to the
# audit log, the lease table, the broker's log or a reply.  The client
# refuses token-shaped text before sending it; the broker refuses text
# holding the whole value of any secret in its vault, plain ones too, and
# withholds it from an exposure report (which still ends access).  Through
# the CLI, `airlock mcp` and raw HTTP to the broker's socket; ordinary
# texts still pass.
. "$(dirname "$0")/lib.sh"

init_vault
rnd() { head -c 256 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c "$1"; }
PW="$(rnd 8)"					# a plain password
TOK=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')	# 40 hex
add_secret pw "$PW"
add_secret tok "$TOK"
add_secret victim "$(canary)"
V2=$(canary)
add_secret victim2 "$V2"
CANARIES=("$PW" "$TOK")

# One uid's refusals are limited to ten a minute (test_broker checks that):
# a new broker for each part of this test.
new_broker() {
	"$AL" stop >>"$ALL_OUTPUT" 2>&1
	"$AL" lease ls >>"$ALL_OUTPUT" 2>&1
}

# no_canary FILE WHAT: none of the canaries is in FILE.
no_canary() {
	for _c in "${CANARIES[@]}"; do
		if grep -qaF -- "$_c" "$1"; then
			fail "$2 holds a canary"
			return
		fi
	done
	pass
}

# --- the CLI: run --task/--intent, lease revoke --task, deny --reason.
for v in "$PW" "$TOK"; do
	case "$v" in
	"$TOK") want="looks like it holds a value" ;;	# the client
	*) want="holds the value of a secret" ;;	# the broker
	esac
	run "$AL" run --task "$v" -e T=pw -- true
	expect_rc 125 "run --task <value>"
	expect_err "'task' $want" "run --task"
	run "$AL" run --task t1 --intent "deploy-$v-now" -e T=pw -- true
	expect_rc 125 "run --intent <value>"
	expect_err "'intent' $want" "run --intent"
	run "$AL" lease revoke --task "$v"
	expect_rc 2 "lease revoke --task <value>"
	expect_err "'task' $want" "lease revoke --task"
	run "$AL" deny 0123456789abcdef0123456789abcdef --reason "no: $v"
	expect_rc 2 "deny --reason <value>"
	expect_err "'reason' $want" "deny --reason"
done
no_canary "$ALL_OUTPUT" "the CLI's output"

# The broker names the field and the secret to the auditor, never the text.
if grep '"event":"deny"' "$AIRLOCK_HOME/audit.log" |
    grep -qF "'intent' held the value of secret 'pw'"; then pass; else
	fail "no deny line names the field and the secret"
fi

# A secret added, or a value rotated, by the CLI while the broker runs is
# caught at once.
PW2="$(rnd 9)"
add_secret late "$PW2"
run "$AL" run --task "x $PW2" -e T=pw -- true
expect_rc 125 "a value added while the broker runs"
expect_err "'task' holds the value of a secret" "added value"
PW3="$(rnd 10)"
printf '%s\n' "$PW3" | "$AL" secret rotate late >>"$ALL_OUTPUT" 2>&1 ||
    fail "secret rotate"
run "$AL" run --intent "x $PW3" -e T=pw -- true
expect_rc 125 "a value rotated while the broker runs"
expect_err "'intent' holds the value of a secret" "rotated value"
CANARIES+=("$PW2" "$PW3")

# --- ordinary texts still pass.
run "$AL" run --task fix-issue-4211 --intent "deploy 2026-12-07 to staging" \
    -e T=pw -- true
expect_rc 0 "run with an ordinary task and intent"
run "$AL" run --task "deploy 2026-12-07" --intent "rotate the staging \
database password before the release (commit 3f2a9c1d4e5b)" -e T=pw -- true
expect_rc 0 "run with an ordinary English intent"
run "$AL" lease revoke --task fix-issue-4211
expect_rc 0 "lease revoke --task fix-issue-4211"
run "$AL" deny 0123456789abcdef0123456789abcdef --reason "not today"
expect_rc 2 "deny an unknown approval"
expect_err "no such approval" "an ordinary reason reaches the lookup"
if grep -qF '"task":"fix-issue-4211"' "$AIRLOCK_HOME/audit.log"; then pass
else fail "the ordinary task is not in the audit log"; fi

# --- airlock mcp: request_access, run and revoke.
new_broker
mcp_call() {	# mcp_call ID TOOL ARGS-JSON
	printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"%s","arguments":%s}}' \
	    "$1" "$2" "$3"
}
lines=('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}'
    '{"jsonrpc":"2.0","method":"notifications/initialized"}')
id=2
for v in "$PW" "$TOK"; do
	lines+=("$(mcp_call $id request_access "{\"secret\":\"pw\",\"task\":\"$v\"}")")
	lines+=("$(mcp_call $((id + 1)) request_access "{\"secret\":\"pw\",\"intent\":\"use $v\"}")")
	lines+=("$(mcp_call $((id + 2)) run "{\"command\":[\"true\"],\"env\":{\"T\":\"pw\"},\"intent\":\"x $v\"}")")
	lines+=("$(mcp_call $((id + 3)) revoke "{\"task\":\"$v\"}")")
	id=$((id + 4))
done
lines+=("$(mcp_call $id request_access '{"secret":"pw","task":"fix-issue-4212","intent":"read the staging database"}')")
: >"$OUT"
coproc MCP { exec "$AL" mcp 2>"$ERR"; }
mcp_pid=$MCP_PID
printf '%s\n' "${lines[@]}" >&"${MCP[1]}"
for _ in $(seq "$id"); do
	IFS= read -r -t 60 line <&"${MCP[0]}" || break
	printf '%s\n' "$line" >>"$OUT"
done
exec {MCP[1]}>&-
wait "$mcp_pid"
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
expect_eq "$(grep -c "holds the value of a secret" "$OUT")" 4 \
    "MCP calls the broker refused"
expect_eq "$(grep -c "looks like it holds a value" "$OUT")" 4 \
    "MCP calls the client refused"
expect_out '"status":"granted"' "an ordinary MCP request"
no_canary "$OUT" "the MCP replies"

# --- raw HTTP to the broker's socket, past the client.  One uid's refusals
# are limited to ten a minute: a new broker for each round.
# http METHOD PATH [JSON]: status in $HS, body in $OUT.
http() {
	HS=$(curl -s --unix-socket "$AIRLOCK_SOCKET" -o "$OUT" -w '%{http_code}' \
	    -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} \
	    "http://airlock$2")
	cat "$OUT" >>"$ALL_OUTPUT"
}
for v in "$PW" "$TOK"; do
	new_broker
	http POST /v1/leases "{\"secret\":\"pw\",\"task\":\"$v\"}"
	expect_eq "$HS" 400 "POST /v1/leases task"
	expect_out "'task' holds the value of a secret" "lease task"
	http POST /v1/leases "{\"secret\":\"pw\",\"intent\":\"x${v}y\"}"
	expect_eq "$HS" 400 "POST /v1/leases intent"
	expect_out "'intent' holds the value of a secret" "lease intent"
	http POST /v1/leases "{\"secret\":\"nosuch\",\"task\":\"$v\"}"
	expect_eq "$HS" 400 "an unknown secret's task"
	http POST /v1/leases/revoke "{\"task\":\"$v\"}"
	expect_eq "$HS" 400 "POST /v1/leases/revoke"
	expect_out "'task' holds the value of a secret" "revoke task"
	http POST /v1/approvals/0123456789abcdef0123456789abcdef/deny \
	    "{\"reason\":\"no $v\"}"
	expect_eq "$HS" 400 "deny reason"
	expect_out "'reason' holds the value of a secret" "deny reason"
	http POST /v1/redact "{\"texts\":[\"hello\"],\"task\":\"$v\"}"
	expect_eq "$HS" 400 "POST /v1/redact task"
	http POST /v1/redact "{\"texts\":[\"hello\"],\"intent\":\"$v\"}"
	expect_eq "$HS" 400 "POST /v1/redact intent"
	expect_out "'intent' holds the value of a secret" "redact intent"
	http POST "/v1/redact/stream?task=$v"
	expect_eq "$HS" 400 "POST /v1/redact/stream task"
	expect_out "'task' holds the value of a secret" "redact stream"
done
new_broker
http POST /v1/redact '{"texts":["hello"],"task":"fix-issue-4211","intent":"check a log"}'
expect_eq "$HS" 200 "POST /v1/redact with ordinary texts"
no_canary "$ALL_OUTPUT" "the broker's replies"

# An exposure report is acted on whatever its where and source hold; a
# value in them is withheld.
http POST /v1/exposures "{\"secret\":\"victim\",\"where\":\"file /tmp/$PW.txt\",\"source\":\"sweep $TOK\"}"
expect_eq "$HS" 200 "an exposure report holding values"
expect_out '"first":true' "the exposure was marked"
if grep '"event":"secret_exposed"' "$AIRLOCK_HOME/audit.log" |
    grep -qF '"where":"file /tmp/[withheld].txt"'; then pass; else
	fail "the exposure's where is not recorded with the value withheld"
fi
run "$AL" secret show victim --json
expect_rc 0 "secret show victim"
expect_out "exposed" "victim is exposed"

# With no broker, `sweep` marks the exposure itself: a value in the path
# it records as where is withheld there too.  (sweep prints the path it
# searched, as given: that output is kept apart.)
"$AL" stop >>"$ALL_OUTPUT" 2>&1
mkdir -p "$T_ROOT/w"
printf 'token=%s\n' "$V2" >"$T_ROOT/w/notes-$PW.txt"
"$AL" sweep --no-rules "$T_ROOT/w" >"$T_ROOT/sweep.out" 2>&1
expect_eq "$?" 1 "sweep finds the value"
if grep '"event":"secret_exposed"' "$AIRLOCK_HOME/audit.log" |
    grep -F '"secret":"victim2"' | grep -qF 'notes-[withheld].txt'; then pass
else fail "sweep's exposure of victim2 does not withhold the value in its path"; fi
"$AL" audit verify >/dev/null 2>&1 && pass || fail "audit verify"
for c in "${CANARIES[@]}"; do
	check_no_leak "$c"
done
done_testing

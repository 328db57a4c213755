#!/bin/bash
# `airlock approvals` is what an approver reads before approving: who asks,
# from which program, started by what.  The requester chooses the path of
# its executable and its parents' (any copy of a program, in a directory
# of any name), so that text must not reach the approver's terminal as
# control characters: a newline would add lines of the requester's making
# (a fake "started by"), a carriage return or an escape sequence would
# overwrite or hide the real ones.
. "$(dirname "$0")/lib.sh"

init_vault
V=$(canary)
add_secret stripe-live "$V"
cat >"$AIRLOCK_HOME/policy.yaml" <<EOF
version: 1
rules:
  - id: payments-need-approval
    effect: approval
    secrets: [stripe-live]
    approvers: ["unix:uid:$(id -u)"]
EOF
chmod 600 "$AIRLOCK_HOME/policy.yaml"

# The requester: airlock itself, copied into a directory whose name holds
# a newline, a carriage return and escape sequences (erase the line, then
# conceal what follows), run by a shell copied the same way.
D="$T_ROOT/$(printf 'x\x1b[2K\r    requester: uid 0 (root) pid 1, /usr/bin/gitlab-runner\n    started by: /usr/lib/systemd/systemd\x1b[8m')"
mkdir -p "$D" || { fail "cannot make the requester's directory"; done_testing; }
cp "$AL" "$D/airlock" && cp "$(command -v sh)" "$D/sh" ||
    { fail "cannot copy the requester's programs"; done_testing; }
"$D/sh" -c '"$0" run --task t1 -e T=stripe-live -- true' "$D/airlock" \
    >"$T_ROOT/req.out" 2>&1 &
REQ=$!
trap 'kill $REQ 2>/dev/null; t_cleanup' EXIT
for _ in $(seq 100); do
	"$AL" approvals >"$T_ROOT/list" 2>&1
	grep -q pending "$T_ROOT/list" && break
	sleep 0.1
done
run "$AL" approvals
expect_rc 0 "airlock approvals"
expect_out "pending" "the request is listed"
if grep -q "$(printf '\x1b')" "$OUT"; then
	fail "an escape character from the requester's path reached the approver"
else pass; fi
if grep -q "$(printf '\r')" "$OUT"; then
	fail "a carriage return from the requester's path reached the approver"
else pass; fi
# Six lines for the one request: id, requester, started by, task, rule,
# approvers; none added by the requester.
expect_eq "$(wc -l <"$OUT" | tr -d ' ')" 6 "lines shown for one request"
expect_eq "$(grep -c '^    started by:' "$OUT")" 1 "'started by' lines"
expect_eq "$(grep -c '^    requester:' "$OUT")" 1 "'requester' lines"
# What the path held is still shown, escaped.
expect_out '\x1b[2K\r' "the requester's path, escaped"
expect_out '\n    started by: /usr/lib/systemd/systemd\x1b[8m/airlock' \
    "the requester's path, escaped"

kill "$REQ" 2>/dev/null
wait "$REQ" 2>/dev/null
"$AL" stop >>"$ALL_OUTPUT" 2>&1
check_no_leak "$V"
done_testing

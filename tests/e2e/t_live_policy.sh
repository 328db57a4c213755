#!/bin/bash
# Live policy: the broker enforces policy.yaml as soon as it is edited (no
# SIGHUP); a bad edit is refused, audited, and said by the next command,
# `policy reload`, `policy lint/check` and `doctor`; doctor also checks the
# policy file, the broker and the audit log.
. "$(dirname "$0")/lib.sh"

init_vault
V=$(canary)
add_secret deploy-token "$V"
POL="$AIRLOCK_HOME/policy.yaml"
cp "$POL" "$T_ROOT/policy.good"

run "$AL" run -e T=deploy-token -- true
expect_rc 0 "allowed by the default policy"

# An edit is in force at the next request.
{
	sed -n '1,/^rules:/p' "$T_ROOT/policy.good"
	printf '  - id: no-deploy\n    effect: deny\n    secrets: ["deploy-*"]\n'
	sed -n '/^rules:/,$p' "$T_ROOT/policy.good" | sed 1d
} >"$T_ROOT/policy.deny"
cp "$T_ROOT/policy.deny" "$POL"
run "$AL" run -e T=deploy-token -- true
expect_rc 125 "denied right after the edit"
expect_err "no-deploy"

# A bad edit: refused, the previous policy stays, everyone says so.
printf '  - id: broken\n    effect: alow\n' >>"$POL"
run "$AL" run -e T=deploy-token -- true
expect_rc 125 "the previous policy (deny) stays in force"
expect_err "the broker refused its edited policy and keeps the previous one"
expect_err "expected allow, deny or approval"
run "$AL" policy reload
expect_rc 1 "policy reload of a bad file"
expect_err "the broker refused $POL and still enforces its previous policy"
run "$AL" policy check --as "unix:uid:$(id -u)" --secret deploy-token
expect_err "the running broker refused this file"
run "$AL" doctor
expect_rc 1 "doctor with a refused policy"
expect_out "refused the edited policy"
expect_out "fail  policy"
run "$AL" audit --json --event policy_reload
if grep -q '"outcome": *"rejected"' "$OUT"; then pass; else
	fail "no rejected policy_reload in the audit log: $(head -c 300 "$OUT")"
fi

# Put right: reload says so, the default allows again.
cp "$T_ROOT/policy.good" "$POL"
run "$AL" policy reload
expect_rc 0 "policy reload of a good file"
expect_err "the broker enforces $POL"
run "$AL" run -e T=deploy-token -- true
expect_rc 0 "allowed again"
run "$AL" doctor
expect_rc 0 "doctor"
expect_out "ok    policy"
expect_out "ok    broker    running"
expect_out "ok    audit"

# doctor looks at the file's mode, and at the audit log.
chmod 666 "$POL"
run "$AL" doctor
expect_rc 1 "doctor with a world-writable policy"
expect_out "writable by group or others"
chmod 600 "$POL"
"$AL" stop >/dev/null 2>&1
sed -i '2s/"event":"[a-z_]*"/"event":"tampered"/' "$AIRLOCK_HOME/audit.log"
run "$AL" doctor
expect_rc 1 "doctor with a tampered audit log"
expect_out "fail  audit"

check_no_leak "$V"
done_testing

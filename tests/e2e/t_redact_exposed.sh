#!/bin/bash
# airlock redact and a secret marked exposed: the broker no longer hands out
# its value, yet the value is still live until rotated.  redact must not copy
# the stream with it unmasked: it fails before reading anything, names the
# secret, and works again once the secret is rotated.
. "$(dirname "$0")/lib.sh"
init_vault
T=$(canary); X=$(canary); X2=$(canary)
add_secret deploy-token "$T"
add_secret old-key "$X"
printf 'token %s\nold %s\nend\n' "$T" "$X" >"$T_ROOT/in"
LOG="$AIRLOCK_HOME/audit.log"

# Before: both are masked.
for opt in --no-rules ""; do
	run_in "$T_ROOT/in" "$AL" redact $opt
	expect_rc 0 "redact $opt, nothing exposed"
	expect_eq "$(cat "$OUT")" "token [REDACTED:deploy-token]
old [REDACTED:old-key]
end" "redact $opt masks both"
done

"$AL" secret edit old-key --status exposed >>"$ALL_OUTPUT" 2>&1 ||
    fail "marking old-key exposed"

# Exposed: redact fails closed, copies nothing, says which and why.
for opt in --no-rules ""; do
	run_in "$T_ROOT/in" "$AL" redact $opt
	expect_rc 2 "redact $opt with an exposed secret"
	expect_empty "$OUT" "redact $opt output with an exposed secret"
	expect_err "secret 'old-key' is marked exposed" "redact $opt names it"
	expect_err "airlock secret rotate old-key" "redact $opt says what to do"
done
# Named, it is refused as before (its lease is denied).
run_in "$T_ROOT/in" "$AL" redact --secret old-key
expect_rc 2 "redact --secret old-key (exposed)"
expect_empty "$OUT" "redact --secret old-key output"
expect_err "old-key" "redact --secret old-key names it"
# Naming only the others is the caller's explicit choice.
# (Its output holds old-key's value, as asked: kept out of $ALL_OUTPUT.)
"$AL" redact --secret deploy-token <"$T_ROOT/in" >"$T_ROOT/named" 2>"$ERR"
RC=$?
cat "$ERR" >>"$ALL_OUTPUT"
expect_rc 0 "redact --secret deploy-token"
grep -qxF "token [REDACTED:deploy-token]" "$T_ROOT/named" && pass ||
    fail "the named secret is not masked: $(head -c 300 "$T_ROOT/named")"
# The refusal is audited as a denial of old-key, without its value.
grep -F '"event":"deny"' "$LOG" | grep -qF '"secret":"old-key"' && pass ||
    fail "no deny line for old-key in the audit log"

# Rotated, it is active again and its new value is masked.
printf '%s\n' "$X2" | "$AL" secret rotate old-key >>"$ALL_OUTPUT" 2>&1 ||
    fail "rotating old-key"
printf 'token %s\nold %s\nend\n' "$T" "$X2" >"$T_ROOT/in2"
run_in "$T_ROOT/in2" "$AL" redact --no-rules
expect_rc 0 "redact after rotation"
expect_eq "$(cat "$OUT")" "token [REDACTED:deploy-token]
old [REDACTED:old-key]
end" "redact masks the rotated value"

check_no_leak "$T"
check_no_leak "$X2"
check_no_leak "$X"
done_testing

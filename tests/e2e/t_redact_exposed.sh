#!/bin/bash
# airlock redact and a secret marked exposed: its value is still live until
# it is rotated, so it must still be masked.  The values never leave the
# broker (redact streams the text there), so being exposed -- which stops
# the broker from leasing a value -- does not stop it from being masked.
. "$(dirname "$0")/lib.sh"
init_vault
T=$(canary); X=$(canary); X2=$(canary)
add_secret deploy-token "$T"
add_secret old-key "$X"
printf 'token %s\nold %s\nend\n' "$T" "$X" >"$T_ROOT/in"
LOG="$AIRLOCK_HOME/audit.log"
WANT="token [REDACTED:deploy-token]
old [REDACTED:old-key]
end"

for opt in --no-rules ""; do
	run_in "$T_ROOT/in" "$AL" redact $opt
	expect_rc 0 "redact $opt, nothing exposed"
	expect_eq "$(cat "$OUT")" "$WANT" "redact $opt masks both"
done

"$AL" secret edit old-key --status exposed >>"$ALL_OUTPUT" 2>&1 ||
    fail "marking old-key exposed"
run "$AL" lease old-key
[ "$RC" -ne 0 ] && pass || fail "an exposed secret was leased"

# Exposed: still masked, every way redact is asked.
for opt in --no-rules "" "--secret old-key --secret deploy-token"; do
	run_in "$T_ROOT/in" "$AL" redact $opt
	expect_rc 0 "redact $opt with old-key exposed"
	expect_eq "$(cat "$OUT")" "$WANT" "redact $opt masks the exposed one"
done
printf 'old %s\n' "$X" >"$T_ROOT/in1"
run_in "$T_ROOT/in1" "$AL" redact --check --secret old-key
expect_rc 1 "redact --check finds the exposed value"
expect_eq "$(cat "$OUT")" "old [REDACTED:old-key]" "redact --secret old-key"
# No lease was taken for it, and the audit says what was found.
if grep -F '"event":"grant"' "$LOG" | grep -qF '"secret":"old-key"'; then
	fail "a lease of old-key was granted"
else
	pass
fi
tail -1 "$LOG" | grep -qF '"event":"redact","outcome":"ok"' && pass ||
    fail "the last line is not a redact line: $(tail -1 "$LOG")"
tail -1 "$LOG" | grep -qF '"found":{"old-key":1}' && pass ||
    fail "the redact line does not count old-key: $(tail -1 "$LOG")"

# Rotated, it is active again and its new value is masked.
printf '%s\n' "$X2" | "$AL" secret rotate old-key >>"$ALL_OUTPUT" 2>&1 ||
    fail "rotating old-key"
printf 'token %s\nold %s\nend\n' "$T" "$X2" >"$T_ROOT/in2"
run_in "$T_ROOT/in2" "$AL" redact --no-rules
expect_rc 0 "redact after rotation"
expect_eq "$(cat "$OUT")" "$WANT" "redact masks the rotated value"

check_no_leak "$T"
check_no_leak "$X"
check_no_leak "$X2"
done_testing

#!/bin/bash
# Every secret change is in the audit log (edit and rm were not), and the
# small wording fixes: a 1-byte value, the default state directory.
. "$(dirname "$0")/lib.sh"

init_vault
V=$(canary)
add_secret api "$V"
run "$AL" secret edit api --label team=web
expect_rc 0 "secret edit"
run "$AL" secret rm api
expect_rc 0 "secret rm"
run "$AL" audit --json
for ev in secret_add secret_edit secret_rm; do
	if grep -q "\"event\": *\"$ev\"" "$OUT"; then pass; else
		fail "no $ev event in the audit log"
	fi
done
run "$AL" audit verify
expect_rc 0 "the log verifies after edit and rm"
printf 'x\n' >"$T_ROOT/one"
run_in "$T_ROOT/one" "$AL" secret add tiny --owner o --purpose p
expect_err "the value is only 1 byte long"
expect_err "under 4 bytes \`run\` and \`redact\` refuse it"
run "$AL" --help
expect_out "else
~/.local/share/airlock"
check_no_leak "$V"
done_testing

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
expect_rc 2 "a 1-byte value"
expect_err "the value is only 1 byte long: airlock needs at least 8 bytes"
run "$AL" secret show tiny
expect_rc 2 "nothing stored"
add_secret four "$(canary)"
run_in "$T_ROOT/one" "$AL" secret rotate four
expect_rc 2 "rotating to a 1-byte value"
printf 'SHORT=ab\n' >"$T_ROOT/short.env"
run "$AL" secret import "$T_ROOT/short.env" --owner o --purpose p
expect_rc 2 "importing a 2-byte value"
expect_err "nothing was imported"
# What an edit changed is in its line: labels decide what policy allows.
"$AL" secret edit four --label approval=required >/dev/null 2>&1
"$AL" secret edit four --unlabel approval >/dev/null 2>&1
run "$AL" audit --json --event secret_edit -n 1
python3 -c 'import json,sys
e = json.loads(sys.stdin.read().strip().splitlines()[-1])
d = e["detail"]
assert d["before"]["labels"] == {"approval": "required"}, d
assert not d["after"].get("labels"), d' <"$OUT" && pass || fail "the edit line lacks the labels before and after: $(cat "$OUT")"
run "$AL" --help
expect_out "else
~/.local/share/airlock"
check_no_leak "$V"
done_testing

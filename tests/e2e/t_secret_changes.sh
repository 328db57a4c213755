#!/bin/bash
# Changes to a secret: values under 8 bytes are refused at add and rotate;
# edit and rm are audited with the metadata before and after, and need the
# passphrase on a passphrase vault.
. "$(dirname "$0")/lib.sh"

P1="pass-$(canary)"
C=$(canary)
C2=$(canary)

run "$AL" init --passphrase-fd 3 3<<<"$P1"
expect_rc 0 "init --passphrase-fd"
printf '%s\n' "$C" >"$T_ROOT/in"
run_in "$T_ROOT/in" "$AL" secret add api --owner o --purpose p --label env=dev --passphrase-fd 3 3<<<"$P1"
expect_rc 0 "add"

# --- values under 8 bytes ------------------------------------------------
for v in x abc 1234567; do
	printf '%s\n' "$v" >"$T_ROOT/short"
	run_in "$T_ROOT/short" "$AL" secret add "short${#v}" --owner o --purpose p --passphrase-fd 3 3<<<"$P1"
	expect_rc 2 "add of a ${#v}-byte value"
	expect_err "the value is only ${#v} byte"
	expect_err "airlock needs at least 8 bytes"
	run "$AL" secret show "short${#v}"
	expect_rc 2 "nothing stored for a ${#v}-byte value"
	run_in "$T_ROOT/short" "$AL" secret rotate api --passphrase-fd 3 3<<<"$P1"
	expect_rc 2 "rotate to a ${#v}-byte value"
	expect_err "airlock needs at least 8 bytes"
done
run "$AL" secret show api --json
expect_out '"version": 1' "version after refused rotations"
printf '12345678' >"$T_ROOT/eight"
run "$AL" secret add eight --owner o --purpose p --value-file "$T_ROOT/eight" --passphrase-fd 3 3<<<"$P1"
expect_rc 0 "an 8-byte value"

# --- edit needs the passphrase and is audited -----------------------------
run "$AL" secret edit api --status revoked
expect_rc 2 "edit without a passphrase source"
run "$AL" secret edit api --status revoked --passphrase-fd 3 3<<<"wrong-$P1"
expect_rc 2 "edit with a wrong passphrase"
expect_err "wrong passphrase"
run "$AL" secret show api --json
expect_out '"status": "active"' "unchanged after refused edits"
run "$AL" secret edit api --status revoked --label env=prod --passphrase-fd 3 3<<<"$P1"
expect_rc 0 "edit with the passphrase"

# --- rm needs the passphrase and is audited --------------------------------
run "$AL" secret rm eight
expect_rc 2 "rm without a passphrase source"
run "$AL" secret show eight
expect_rc 0 "still there after a refused rm"
run "$AL" secret rm eight --passphrase-fd 3 3<<<"$P1"
expect_rc 0 "rm with the passphrase"

python3 - "$AIRLOCK_HOME/audit.log" >"$OUT" 2>"$ERR" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
ed = [e for e in ev if e["event"] == "secret_edit"]
rm = [e for e in ev if e["event"] == "secret_rm"]
assert len(ed) == 1, ed
d = ed[0]["detail"]
assert ed[0]["secret"] == "api" and ed[0]["outcome"] == "ok", ed
assert d["before"]["status"] == "active" and d["after"]["status"] == "revoked", d
assert d["before"]["labels"] == {"env": "dev"}, d["before"]["labels"]
assert d["after"]["labels"] == {"env": "prod"}, d["after"]["labels"]
assert len(rm) == 1 and rm[0]["secret"] == "eight", rm
assert rm[0]["detail"]["before"]["status"] == "active", rm
assert "after" not in rm[0]["detail"], rm
print("ok")
PY
expect_eq "$(cat "$OUT")" ok "edit and rm lines: $(cat "$ERR")"
printf '%s\n' "$P1" >"$T_ROOT/pass"
run "$AL" audit verify --passphrase-fd 3 3<"$T_ROOT/pass"
expect_rc 0 "audit verify after edit and rm"
check_no_leak "$C"
check_no_leak "$P1"

done_testing

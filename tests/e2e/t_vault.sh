#!/bin/bash
# The vault through the real binary: init, secret add/ls/show/rotate/edit/rm,
# key change, doctor, and every error the vault issue lists.
. "$(dirname "$0")/lib.sh"

DB="$AIRLOCK_HOME/vault.db"
ctlen() {	# length of the sealed value of $1 (value length + 16)
	sqlite3 "$DB" "SELECT length(ct) FROM secrets WHERE name='$1'"
}

# --- no vault yet -------------------------------------------------------
run "$AL" secret ls
expect_rc 2 "ls without a vault"
expect_err "no vault at $AIRLOCK_HOME: run \`airlock init\`"

# --- init ---------------------------------------------------------------
run "$AL" init
expect_rc 0 "init"
expect_eq "$(stat -c %a "$AIRLOCK_HOME")" 700 "state dir mode"
expect_eq "$(stat -c %a "$AIRLOCK_HOME/master.key")" 600 "master.key mode"
expect_eq "$(stat -c %a "$DB")" 600 "vault.db mode"
expect_eq "$(stat -c %s "$AIRLOCK_HOME/master.key")" 56 "master.key size"
expect_eq "$(sqlite3 "$DB" 'PRAGMA journal_mode')" wal "WAL mode"

cp "$AIRLOCK_HOME/master.key" "$T_ROOT/key.before"
run "$AL" init
expect_rc 0 "second init (as git init: nothing to do)"
expect_err "a vault already exists in $AIRLOCK_HOME: nothing changed"
cmp -s "$AIRLOCK_HOME/master.key" "$T_ROOT/key.before" || fail "init changed master.key"

# --- add ----------------------------------------------------------------
C1=$(canary)
printf '%s\n' "$C1" >"$T_ROOT/in"
run_in "$T_ROOT/in" "$AL" secret add deploy-token --owner alice \
    --purpose "deploy the web app" --host api.example.com --host cdn.example.com \
    --label env=prod --label team=web --rotate-every 30d --expires 2099-01-01
expect_rc 0 "secret add"
expect_empty "$OUT" "stdout of secret add"
expect_eq "$(ctlen deploy-token)" $(( ${#C1} + 16 )) "trailing newline stripped"

printf '%s\n' "$C1" >"$T_ROOT/in"
run_in "$T_ROOT/in" "$AL" secret add nl-kept --owner a --purpose p --keep-newline
expect_rc 0 "add --keep-newline"
expect_eq "$(ctlen nl-kept)" $(( ${#C1} + 1 + 16 )) "--keep-newline keeps it"

# A PEM-like multi-line value from a file, bytes as they are.
C2=$(canary)
printf -- '-----BEGIN KEY-----\n%s\n%s\n-----END KEY-----\n' "$C2" "$C2" >"$T_ROOT/pem"
run "$AL" secret add tls-key --owner ops --purpose "tls" --value-file "$T_ROOT/pem"
expect_rc 0 "add --value-file"
expect_eq "$(ctlen tls-key)" $(( $(stat -c %s "$T_ROOT/pem") + 16 )) "file bytes kept"

# Binary value with NUL bytes.
head -c 4096 /dev/urandom >"$T_ROOT/bin"
run "$AL" secret add blob --owner ops --purpose "binary" --value-file "$T_ROOT/bin"
expect_rc 0 "binary value"
expect_eq "$(ctlen blob)" $((4096 + 16)) "binary length"

# 64 KiB is the limit.
head -c 65536 /dev/urandom >"$T_ROOT/max"
run "$AL" secret add max --owner o --purpose p --value-file "$T_ROOT/max"
expect_rc 0 "64 KiB value"
# Ending in a byte that is not a newline: one that is (one draw in 256) is
# taken off stdin's value, which then fits.
{ head -c 65536 /dev/urandom; printf x; } >"$T_ROOT/over"
run "$AL" secret add over --owner o --purpose p --value-file "$T_ROOT/over"
expect_rc 2 "value over 64 KiB"
expect_err "larger than 65536 bytes"
run_in "$T_ROOT/over" "$AL" secret add over --owner o --purpose p
expect_rc 2 "stdin over 64 KiB"

: >"$T_ROOT/empty"
run_in "$T_ROOT/empty" "$AL" secret add empty --owner o --purpose p
expect_rc 2 "empty value"
expect_err "the value is empty"
printf '\n' >"$T_ROOT/nl"
run_in "$T_ROOT/nl" "$AL" secret add empty --owner o --purpose p
expect_rc 2 "value of only a newline"

printf 'short\n' >"$T_ROOT/short"
run_in "$T_ROOT/short" "$AL" secret add short --owner o --purpose p
expect_rc 2 "short value is refused"
expect_err "the value is only 5 bytes long: airlock needs at least 8 bytes"
printf 'short-ok\n' >"$T_ROOT/short"
run_in "$T_ROOT/short" "$AL" secret add short --owner o --purpose p
expect_rc 0 "an 8-byte value is accepted"

run_in "$T_ROOT/in" "$AL" secret add noowner --purpose p
expect_rc 2 "add without --owner"
expect_err "needs --owner and --purpose (no terminal to ask on)"
run_in "$T_ROOT/in" "$AL" secret add bad//name --owner o --purpose p
expect_rc 2 "bad name"
expect_err "invalid secret name"
run_in "$T_ROOT/in" "$AL" secret add deploy-token --owner o --purpose p
expect_rc 2 "duplicate name"
expect_err "a secret named 'deploy-token' already exists"
run_in "$T_ROOT/in" "$AL" secret add x1 --owner o --purpose p --expires soon
expect_rc 2 "bad --expires"
expect_err "--expires: expected a date"
run_in "$T_ROOT/in" "$AL" secret add x1 --owner o --purpose p --rotate-every 0d
expect_rc 2 "bad --rotate-every"
expect_err "--rotate-every: duration must be between 1s and 100 years"
run_in "$T_ROOT/in" "$AL" secret add x1 --owner o --purpose p --label novalue
expect_rc 2 "bad --label"
expect_err "--label: expected KEY=VALUE, got 'novalue'"
run "$AL" secret add x1 --owner o --purpose p --value-file "$T_ROOT/missing"
expect_rc 2 "missing --value-file"
expect_err "cannot open --value-file $T_ROOT/missing"

# --- ls / show ----------------------------------------------------------
run "$AL" secret ls
expect_rc 0 "ls"
expect_out "deploy-token"
expect_out "NAME"
expect_out "alice"

run "$AL" secret ls --json
expect_rc 0 "ls --json"
python3 - "$OUT" <<'PY' || fail "ls --json content"
import json, sys
rows = json.load(open(sys.argv[1]))
names = [r["name"] for r in rows]
assert names == sorted(names), names
d = [r for r in rows if r["name"] == "deploy-token"][0]
assert d["owner"] == "alice" and d["purpose"] == "deploy the web app", d
assert d["hosts"] == ["api.example.com", "cdn.example.com"], d
assert d["labels"] == {"env": "prod", "team": "web"}, d
assert d["version"] == 1 and d["status"] == "active", d
assert d["rotate_every"] == "30d" and d["expires"] == "2099-01-01T00:00:00Z", d
assert "value" not in d
PY

run "$AL" secret show deploy-token --json
expect_rc 0 "show --json"
expect_eq "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$OUT")" deploy-token "show --json name"
run "$AL" secret show deploy-token
expect_rc 0 "show"
expect_out "purpose          deploy the web app"
expect_out "hosts            api.example.com, cdn.example.com"

run "$AL" secret show deploy-tokn
expect_rc 2 "show unknown"
expect_err "no secret named 'deploy-tokn' (did you mean 'deploy-token'?)"

# Filters.
printf 'old-value-123456\n' >"$T_ROOT/old"
run_in "$T_ROOT/old" "$AL" secret add legacy --owner bob --purpose "imported" \
    --expires 2020-01-01 --rotate-every 90d --last-rotated 2019-06-01
expect_rc 0 "add an already expired secret"
expect_err "warning: 'legacy' is already expired"
run "$AL" secret ls --expired --json
expect_eq "$(python3 -c 'import json,sys; print(",".join(r["name"] for r in json.load(open(sys.argv[1]))))' "$OUT")" legacy "ls --expired"
run "$AL" secret ls --due --json
expect_eq "$(python3 -c 'import json,sys; print(",".join(r["name"] for r in json.load(open(sys.argv[1]))))' "$OUT")" legacy "ls --due"
run "$AL" secret ls --owner bob
expect_out legacy
grep -q deploy-token "$OUT" && fail "ls --owner bob lists alice's secret"

# --- rotate -------------------------------------------------------------
C3=$(canary)x
printf '%s\n' "$C3" >"$T_ROOT/in3"
run_in "$T_ROOT/in3" "$AL" secret rotate deploy-token
expect_rc 0 "rotate"
expect_eq "$(ctlen deploy-token)" $(( ${#C3} + 16 )) "rotated value stored"
run "$AL" secret show deploy-token --json
python3 - "$OUT" <<'PY' || fail "rotate metadata"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == 2, d
assert d["last_rotated"] >= d["created"], d
PY
run_in "$T_ROOT/in3" "$AL" secret rotate nope
expect_rc 2 "rotate unknown"
expect_err "no secret named 'nope'"

# --- edit ---------------------------------------------------------------
run "$AL" secret edit deploy-token --owner carol --label env=staging \
    --unlabel team --host only.example.com --status exposed
expect_rc 0 "edit"
run "$AL" secret show deploy-token --json
python3 - "$OUT" <<'PY' || fail "edit result"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["owner"] == "carol", d
assert d["labels"] == {"env": "staging"}, d
assert d["hosts"] == ["only.example.com"], d
assert d["status"] == "exposed" and d["rotation_due"] is True, d
assert d["version"] == 2, d
PY
run "$AL" secret edit deploy-token --status bogus
expect_rc 2 "edit bad status"
expect_err "--status: expected active, exposed or revoked, got 'bogus'"
run "$AL" secret edit deploy-token
expect_rc 2 "edit with nothing to change"
run "$AL" secret edit deploy-token --expires never --rotate-every never --clear-hosts
expect_rc 0 "edit clears"
run "$AL" secret show deploy-token --json
python3 - "$OUT" <<'PY' || fail "edit clears result"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["expires"] is None and d["rotate_every"] is None and d["hosts"] == [], d
PY

# --- rm -----------------------------------------------------------------
run "$AL" secret rm short
expect_rc 0 "rm"
run "$AL" secret show short
expect_rc 2 "show after rm"
run "$AL" secret rm short
expect_rc 2 "rm twice"
expect_err "no secret named 'short'"
expect_eq "$(sqlite3 "$DB" "SELECT count(*) FROM secrets WHERE name='short'")" 0 "row gone"

# --- doctor and tampering ----------------------------------------------
run "$AL" doctor --json
expect_rc 0 "doctor on a healthy vault"
expect_out '"all 6 secret records open"'
# Swap the sealed values of two records: both must fail by name, the rest open.
sqlite3 "$DB" "UPDATE secrets SET ct=(SELECT ct FROM secrets WHERE name='legacy'),
    nonce=(SELECT nonce FROM secrets WHERE name='legacy') WHERE name='blob';"
run "$AL" doctor
expect_rc 1 "doctor on a tampered vault"
expect_out "secret 'blob': the record is corrupted or was tampered with"
grep -q "secret 'legacy'" "$OUT" && fail "doctor blamed the intact record"
run "$AL" secret ls
expect_rc 0 "metadata still lists after tampering"

chmod 755 "$AIRLOCK_HOME"
run "$AL" secret ls
expect_rc 2 "unsafe state dir"
expect_err "$AIRLOCK_HOME has mode 0755: group or others can access it"
run "$AL" doctor
expect_rc 1 "doctor reports the unsafe dir"
chmod 700 "$AIRLOCK_HOME"
chmod 644 "$AIRLOCK_HOME/master.key"
run_in "$T_ROOT/in" "$AL" secret add x2 --owner o --purpose p
expect_rc 2 "unsafe key file"
expect_err "$AIRLOCK_HOME/master.key has mode 0644"
chmod 600 "$AIRLOCK_HOME/master.key"

# --- key change ---------------------------------------------------------
cp "$AIRLOCK_HOME/master.key" "$T_ROOT/key.old"
run "$AL" key change
expect_rc 0 "key change (new key file)"
cmp -s "$AIRLOCK_HOME/master.key" "$T_ROOT/key.old" && fail "master.key unchanged"
run "$AL" doctor --json
expect_out '"secret '"'"'blob'"'"': the record is corrupted'
expect_out '"check": "records"'
run "$AL" secret rm blob
run "$AL" doctor --json
expect_rc 0 "records open under the new key"
expect_out '"all 5 secret records open"'
cp "$T_ROOT/key.old" "$AIRLOCK_HOME/master.key"
run "$AL" doctor
expect_rc 1 "the old key no longer opens the vault"
expect_out "master.key does not open this vault"

# --- canaries: no value, base64 or hex anywhere under $AIRLOCK_HOME or in
# anything printed.
for v in "$C1" "$C2" "$C3"; do
	check_no_leak "$v"
done
done_testing

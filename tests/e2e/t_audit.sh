#!/bin/bash
# The audit log through the real binary: events recorded by secret add and
# rotate, listing with filters, verify on an intact log and after each kind
# of tampering, repair of a torn line, and whoami.
. "$(dirname "$0")/lib.sh"

LOG="$AIRLOCK_HOME/audit.log"
SAVED="$T_ROOT/audit.saved"

# edit_line N PYTHON-EXPR: replace line N (1-based, bytes) by EXPR of `l`.
edit_line() {
	python3 - "$LOG" "$1" "$2" <<'EOF'
import sys
path, n, expr = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = open(path, 'rb').read().split(b'\n')
l = lines[n - 1]
lines[n - 1] = eval(expr)
open(path, 'wb').write(b'\n'.join(lines))
EOF
}

lines_of() { wc -l <"$1" | tr -d ' '; }

# --- nothing yet --------------------------------------------------------
run "$AL" audit verify
expect_rc 2 "verify without a vault"
expect_err "no vault at $AIRLOCK_HOME"

init_vault
run "$AL" audit
expect_rc 0 "audit with no log yet"
expect_empty "$OUT" "stdout of audit with no log"
expect_err "no audit log at $LOG (nothing has been recorded yet)"
run "$AL" audit verify
expect_rc 2 "verify with no log yet"
expect_err "no audit log at $LOG"

# --- events from secret add / rotate ------------------------------------
C1=$(canary)
C2=$(canary)
add_secret deploy-token "$C1"
add_secret db-password "$(canary)"
add_secret npm-token "$(canary)"
printf '%s\n' "$C2" >"$T_ROOT/in"
run_in "$T_ROOT/in" "$AL" secret rotate deploy-token
expect_rc 0 "rotate"
add_secret github-token "$(canary)"
expect_eq "$(lines_of "$LOG")" 5 "five audit lines"
expect_eq "$(stat -c %a "$LOG")" 600 "audit.log mode"
expect_eq "$(stat -c %a "$LOG.head")" 600 "audit.log.head mode"
grep -q '"value_fp":"[0-9a-f]\{64\}"' "$LOG" && pass ||
    fail "no value fingerprint in the log"

run "$AL" audit
expect_rc 0 "audit"
expect_out "secret_add"
expect_out "secret_rotate"
expect_out "deploy-token"
expect_eq "$(head -1 "$OUT" | tr -s ' ')" "TIME SEQ EVENT OUTCOME SECRET TASK CALLER REASON" "table header"
expect_eq "$(lines_of "$OUT")" 6 "header and five rows"

run "$AL" audit --json
expect_rc 0 "audit --json"
expect_eq "$(python3 -c 'import json,sys
print(",".join(str(json.loads(l)["seq"]) for l in sys.stdin))' <"$OUT")" \
    "1,2,3,4,5" "JSON lines in order"
expect_eq "$(head -1 "$OUT" | python3 -c 'import json,sys
o = json.load(sys.stdin); print(o["event"], o["secret"], o["caller"]["kind"], o["caller"]["uid"])')" \
    "secret_add deploy-token unix $(id -u)" "first line"

run "$AL" audit --json --event secret_rotate
expect_eq "$(lines_of "$OUT")" 1 "--event filter"
expect_out '"seq":4'
run "$AL" audit --json --secret deploy-token
expect_eq "$(lines_of "$OUT")" 2 "--secret filter"
run "$AL" audit --json --event secret_add,secret_rotate --secret npm-token
expect_eq "$(lines_of "$OUT")" 1 "--event list and --secret"
run "$AL" audit --json -n 2
expect_eq "$(python3 -c 'import json,sys
print(",".join(str(json.loads(l)["seq"]) for l in sys.stdin))' <"$OUT")" \
    "4,5" "-n 2 keeps the last two"
run "$AL" audit --json --since 1h
expect_eq "$(lines_of "$OUT")" 5 "--since 1h"
run "$AL" audit --json --since 2099-01-01
expect_rc 0 "--since in the future"
expect_empty "$OUT" "--since 2099"
run "$AL" audit --json --task no-such-task
expect_empty "$OUT" "--task filter"

# --- usage errors -------------------------------------------------------
run "$AL" audit --bogus
expect_rc 2 "unknown option"
expect_err "unknown option '--bogus'"
run "$AL" audit -n 0
expect_rc 2 "-n 0"
expect_err "-n"
run "$AL" audit --since yesterday-ish
expect_rc 2 "bad --since"
expect_err "--since: expected a date"
run "$AL" audit verify --task T-1
expect_rc 2 "verify with a filter"
expect_err "'audit verify' checks the whole log and takes no filter"
run "$AL" audit frobnicate
expect_rc 2 "unknown argument"
expect_err "unexpected argument 'frobnicate'"
run "$AL" help audit
expect_rc 0 "help audit"
expect_out "usage: airlock audit"
run "$AL" audit --help
expect_rc 0 "audit --help"

# --- verify: intact -----------------------------------------------------
run "$AL" audit verify
expect_rc 0 "verify intact"
expect_out "$LOG: intact: 5 lines"
expect_out "head checked at line 5"
run "$AL" audit --verify --json
expect_rc 0 "--verify --json"
expect_eq "$(python3 -c 'import json,sys; o = json.load(sys.stdin)
print(o["intact"], o["problem"], o["line"], o["lines"], o["head_seq"])' <"$OUT")" \
    "True intact None 5 5" "verify JSON"
cp "$LOG" "$SAVED"

# --- verify: each kind of tampering, named by line ----------------------
expect_tampered() {	# expect_tampered PROBLEM LINE what
	run "$AL" audit verify
	expect_rc 1 "$3"
	expect_out "TAMPERED ($1) at line $2" "$3"
	run "$AL" audit verify --json
	expect_rc 1 "$3 (json)"
	expect_eq "$(python3 -c 'import json,sys; o = json.load(sys.stdin)
print(o["intact"], o["problem"], o["line"])' <"$OUT")" "False $1 $2" "$3 (json)"
	cp "$SAVED" "$LOG"
}

edit_line 3 "l.replace(b'npm-token', b'npm-tokem')"
expect_tampered changed 3 "one byte changed"
edit_line 2 "l.replace(b'\"seq\":2', b'\"seq\" :2')"
expect_tampered changed 2 "whitespace inserted"
edit_line 4 "l[:10]"
expect_tampered malformed 4 "line cut short"
python3 - "$LOG" <<'EOF'
import sys
p = sys.argv[1]
ls = open(p, 'rb').read().split(b'\n')
del ls[2]
open(p, 'wb').write(b'\n'.join(ls))
EOF
expect_tampered removed 3 "line removed"
python3 - "$LOG" <<'EOF'
import sys
p = sys.argv[1]
ls = open(p, 'rb').read().split(b'\n')
ls[1], ls[2] = ls[2], ls[1]
open(p, 'wb').write(b'\n'.join(ls))
EOF
expect_tampered reordered 2 "lines swapped"
head -n 3 "$SAVED" >"$LOG"
expect_tampered truncated 4 "tail cut"
head -n 3 "$SAVED" >"$LOG"
printf '%s\n' "$(canary)" >"$T_ROOT/in"
run_in "$T_ROOT/in" "$AL" secret add after-cut --owner o --purpose p
expect_rc 2 "no append to a truncated log"
expect_err "was added, but the audit log could not record it"
expect_err "the log was truncated or rewritten"
cp "$SAVED" "$LOG"
# (rm is audited: one more line, secret_rm)
"$AL" secret rm after-cut >/dev/null 2>&1 || fail "secret rm after-cut"
# (secret rm is audited: line 6)
cp "$LOG.head" "$T_ROOT/head.saved"
rm "$LOG.head"
run "$AL" audit verify
expect_rc 1 "head deleted"
expect_out "TAMPERED (head)"
expect_out "the head file is missing or empty"
cp "$T_ROOT/head.saved" "$LOG.head"

# --- a torn last line: named, then repaired by the next writer ----------
run "$AL" audit verify
expect_rc 0 "intact again"
printf '{"time":"2027-01-31T12:00:0' >>"$LOG"
run "$AL" audit verify
expect_rc 1 "torn line"
expect_out "TAMPERED (torn) at line 7"
add_secret after-crash "$(canary)"
run "$AL" audit verify
expect_rc 0 "repaired"
expect_out "intact: 8 lines"
expect_out "note: 1 recovery record (first at line 7)"
expect_eq "$(cat "$LOG.cut.7")" '{"time":"2027-01-31T12:00:0' "cut bytes saved"
run "$AL" audit --json --event recover
expect_out '"cut_bytes":27'
expect_out '"saved_to":"audit.log.cut.7"'

# --- no value anywhere --------------------------------------------------
check_no_leak "$C1"
check_no_leak "$C2"

# --- whoami -------------------------------------------------------------
run "$AL" whoami
expect_rc 0 "whoami"
expect_out "unix:uid:$(id -u)"
expect_out "unix:gid:$(id -g)"
expect_out "unix:ancestor-exe:"
run "$AL" whoami --json
expect_rc 0 "whoami --json"
expect_eq "$(python3 -c 'import json,sys; o = json.load(sys.stdin)
print(o["kind"], o["uid"], any(s.startswith("unix:pid:") for s in o["selectors"]),
      type(o["privileged_selectors"]).__name__)' <"$OUT")" \
    "unix $(id -u) True list" "whoami JSON"
run "$AL" whoami extra
expect_rc 2 "whoami with an argument"
expect_err "unexpected argument 'extra'"

done_testing

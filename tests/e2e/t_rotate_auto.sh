#!/bin/bash
# secret rotate --auto end to end: a secret's rotation command prints the
# new value, which airlock run then masks (and the old value no longer); the
# command's stderr is shown masked; a failing, silent or hanging command
# changes nothing; an exposure past the owner's rotation SLA is overdue in
# secret ls/show, report and doctor; dynamic secrets refuse --auto.
. "$(dirname "$0")/lib.sh"

export HOME="$T_ROOT/h"
mkdir -p "$HOME"
cd "$T_ROOT" || exit 1

V1=$(canary)
V2=$(canary)
printf '%s' "$V1" >"$T_ROOT/oldval"
printf '%s\n' "$V2" >"$T_ROOT/newval"
version() { "$AL" secret show tok --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'; }
jfield() { "$AL" secret show tok --json | python3 -c "import json,sys; print(json.load(sys.stdin).get('$1'))"; }

init_vault
add_secret tok "$V1" --rotate-within 1h
run "$AL" secret rotate tok --auto
expect_rc 2 "--auto without a rotation command"
expect_err "has no rotation command"

# The command echoes both values on stderr: they must be shown masked.
run "$AL" secret edit tok --rotate-with "cat '$T_ROOT/newval'; echo \"old \$(cat '$T_ROOT/oldval') new \$(cat '$T_ROOT/newval')\" >&2"
expect_rc 0 "edit --rotate-with"
run "$AL" secret show tok --json
expect_out '"airlock.rotate-with"'

# ---- exposed, then overdue past the 1 s SLA ------------------------------
printf 'echo %s\n' "$V1" >"$HOME/.bash_history"
run "$AL" sweep
expect_rc 1 "sweep marks tok exposed"
expect_eq "$(jfield overdue)" "False" "not overdue within the SLA"
# The SLA shortened to 1 s: past it 1.2 s later.
run "$AL" secret edit tok --rotate-within 1s
expect_rc 0 "edit --rotate-within"
sleep 1.2
expect_eq "$(jfield overdue)" "True" "overdue after the SLA"
run "$AL" secret ls
expect_out "overdue"
run "$AL" secret ls --json
got=$(python3 -c 'import json,sys; print([s["overdue"] for s in json.load(open(sys.argv[1]))])' "$OUT")
expect_eq "$got" "[True]" "ls --json overdue"
run "$AL" report --format json
got=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["secrets"][0]; print(s["attention"], s["exposures"][0]["overdue"])' "$OUT")
expect_eq "$got" "exposed, rotation overdue True" "report attention"
run "$AL" doctor
expect_out "1 exposed secret not rotated, 1 overdue"

# ---- failures change nothing ---------------------------------------------
fails() {	# fails WHAT CMD [extra rotate options]
	_what=$1
	run "$AL" secret edit tok --rotate-with "$2"
	shift 2
	run "$AL" secret rotate tok --auto "$@"
	expect_rc 2 "$_what refused"
	expect_eq "$(version)" 1 "$_what: version unchanged"
	expect_eq "$(jfield status)" exposed "$_what: still exposed"
}
fails "a non-zero exit" "cat '$T_ROOT/newval'; cat '$T_ROOT/oldval' '$T_ROOT/newval' >&2; exit 3"
expect_err "exited with status 3"
expect_err "[REDACTED:tok]"
fails "an empty output" "true"
expect_err "printed nothing"
fails "a short output" "echo abc"
start=$(date +%s%N)
fails "a hanging command" "cat '$T_ROOT/newval'; sleep 30 & echo \$! >'$T_ROOT/sleeper'; wait" --timeout 1s
expect_err "killed after 1 s"
el=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$el" -lt 10000 ] && pass || fail "the hanging command took ${el} ms"
# Its whole process group is gone, the background child with it.
sleeper=$(cat "$T_ROOT/sleeper")
gone() {	# gone PID: no such process, or a zombie not yet reaped
	[ ! -e "/proc/$1/stat" ] || awk '{exit $3 != "Z"}' "/proc/$1/stat" 2>/dev/null
}
for _ in $(seq 20); do gone "$sleeper" && break; sleep 0.1; done
if [ -n "$sleeper" ] && gone "$sleeper"; then pass; else
	fail "the rotation command's child $sleeper still runs"
	kill "$sleeper" 2>/dev/null
fi

# ---- the good command ----------------------------------------------------
run "$AL" secret edit tok --rotate-with "cat '$T_ROOT/newval'; echo \"old \$(cat '$T_ROOT/oldval') new \$(cat '$T_ROOT/newval')\" >&2"
run "$AL" secret rotate tok --auto
expect_rc 0 "rotate --auto"
expect_err "old [REDACTED:tok] new [REDACTED:tok]"
expect_eq "$(version)" 2 "new version"
expect_eq "$(jfield status) $(jfield overdue)" "active False" "exposure ended"
run "$AL" audit
expect_out "exposure_rotate"
run "$AL" report --format json
got=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["secrets"][0]; e=s["exposures"][0]; print(repr(s["attention"]), e["overdue"], e["time_to_rotate_ms"] >= 1000)' "$OUT")
expect_eq "$got" "'' False True" "report after rotation"

# Neither value reached the vault's files, the audit log or any output.
check_no_leak "$V1"
check_no_leak "$V2"

# airlock run masks the new value, and no longer the old one (kept out of
# ALL_OUTPUT: V1 is printed on purpose).
"$AL" run -e T=tok -- sh -c "printf '%s|' \"\$T\"; cat '$T_ROOT/oldval'" \
    >"$T_ROOT/run.out" 2>"$T_ROOT/run.err"
expect_eq "$(cat "$T_ROOT/run.out")" "[REDACTED:tok]|$V1" "run masks the new value only"
check_no_leak "$V2" "$T_ROOT/run.out" "$T_ROOT/run.err"

# ---- dynamic secrets need no rotation ------------------------------------
run "$AL" secret add dyn --engine exec --issue "echo x" --revoke "true" \
    --rotate-with "echo y" --owner o --purpose p
expect_rc 2 "--rotate-with on a dynamic secret"
expect_err "dynamic secret"
run "$AL" secret add dyn --engine exec --issue "echo x" --revoke "true" \
    --owner o --purpose p
expect_rc 0 "add dyn"
run "$AL" secret rotate dyn --auto
expect_rc 2 "--auto on a dynamic secret"
expect_err "'dyn' is a dynamic secret: it needs no rotation"

done_testing

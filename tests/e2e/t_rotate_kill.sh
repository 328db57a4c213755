#!/bin/bash
# secret rotate --auto killed with kill -9 while its rotation command runs:
# before it printed, midway through the value, after it closed its output,
# with children that left its process group or were orphaned.  Nothing of
# the command is left running, and the secret keeps its old value and
# version.  Killed around the command's end: the secret is at the old
# version with the old value or at the new one with the new value, never a
# mix, and a later rotation works.
. "$(dirname "$0")/lib.sh"

export HOME="$T_ROOT/h"
mkdir -p "$HOME"
cd "$T_ROOT" || exit 1
D="$T_ROOT/d"
mkdir -p "$D"

KEEP=""
cleanup() {
	for p in $KEEP $(cat "$D"/*.pids 2>/dev/null); do
		kill -9 "$p" 2>/dev/null
	done
	t_cleanup
}
trap cleanup EXIT

init_vault

wait_for() {	# wait_for FILE: up to 20 s
	for _ in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.1; done
	return 1
}

state_of() {	# state_of NAME: "VERSION old|new|other"
	_ver=$("$AL" secret show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
	_val=$("$AL" run -e T="$1" -- sh -c 'if [ "$T" = "$(cat "$1")" ]; then echo old; elif [ "$T" = "$(cat "$2")" ]; then echo new; else echo other; fi' sh "$D/$1.old" "$D/$1.new" 2>>"$ALL_OUTPUT")
	echo "$_ver $_val"
}

# killed NAME CMD: run `secret rotate NAME --auto` with CMD as the rotation
# command, kill -9 airlock once CMD touched $D/NAME.ready, then check that
# every pid CMD wrote to $D/NAME.pids ends and the secret is unchanged.
killed() {
	_n=$1
	canary >"$D/$_n.old"
	canary >"$D/$_n.new"
	add_secret "$_n" "$(cat "$D/$_n.old")"
	"$AL" secret edit "$_n" --rotate-with "$2" >>"$ALL_OUTPUT" 2>&1 ||
	    fail "$_n: --rotate-with"
	"$AL" secret rotate "$_n" --auto >"$D/$_n.out" 2>&1 &
	_pid=$!
	KEEP="$KEEP $_pid"
	wait_for "$D/$_n.ready" || fail "$_n: the rotation command did not start"
	kill -9 "$_pid"
	wait "$_pid" 2>/dev/null
	expect_eq "$?" 137 "$_n: airlock killed"
	_left=""
	for _ in $(seq 100); do
		_left=""
		for p in $(cat "$D/$_n.pids"); do pid_alive "$p" && _left="$_left $p"; done
		[ -z "$_left" ] && break
		sleep 0.1
	done
	expect_eq "$_left" "" "$_n: nothing of the rotation command left running"
	expect_eq "$(state_of "$_n")" "1 old" "$_n: old version, old value"
}

# Killed before it printed anything: sh, waiting for its child.
killed before "echo \$\$ >'$D/before.pids'; sleep 97 & echo \$! >>'$D/before.pids'; touch '$D/before.ready'; wait; cat '$D/before.new'"
# Midway through the value.
killed midway "echo \$\$ >'$D/midway.pids'; head -c 10 '$D/midway.new'; touch '$D/midway.ready'; exec sleep 97"
# Its output closed, still running.
killed closed "echo \$\$ >'$D/closed.pids'; cat '$D/closed.new'; exec >&- 2>&-; touch '$D/closed.ready'; exec sleep 97"
# Children that left its process group (setsid) or lost their parent.
killed escaped "echo \$\$ >'$D/escaped.pids'; setsid sleep 97 </dev/null >/dev/null 2>&1 & echo \$! >>'$D/escaped.pids'; (sleep 97 </dev/null >/dev/null 2>&1 & echo \$! >>'$D/escaped.pids'); touch '$D/escaped.ready'; exec sleep 97"

# The command ends by itself, leaving a child that left its group: the
# child is ended with it, and the rotation is done.
canary >"$D/leaver.old"
canary >"$D/leaver.new"
add_secret leaver "$(cat "$D/leaver.old")"
"$AL" secret edit leaver --rotate-with "setsid sleep 97 </dev/null >/dev/null 2>&1 & echo \$! >'$D/leaver.pids'; cat '$D/leaver.new'" >>"$ALL_OUTPUT" 2>&1
run "$AL" secret rotate leaver --auto
expect_rc 0 "leaver: rotated"
p=$(cat "$D/leaver.pids")
for _ in $(seq 100); do pid_alive "$p" || break; sleep 0.1; done
if pid_alive "$p"; then fail "leaver: its child $p outlived it"; else pass; fi
expect_eq "$(state_of leaver)" "2 new" "leaver: new version, new value"

# Killed around the command's end, at several delays: old or new, whole.
for d in 0 0.01 0.03 0.06 0.1 0.2; do
	n="race${d#0.}"
	canary >"$D/$n.old"
	canary >"$D/$n.new"
	add_secret "$n" "$(cat "$D/$n.old")"
	"$AL" secret edit "$n" --rotate-with "cat '$D/$n.new'; touch '$D/$n.ready'" >>"$ALL_OUTPUT" 2>&1
	"$AL" secret rotate "$n" --auto >"$D/$n.out" 2>&1 &
	pid=$!
	KEEP="$KEEP $pid"
	wait_for "$D/$n.ready"
	sleep "$d"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	got=$(state_of "$n")
	case "$got" in
	"1 old"|"2 new") pass ;;
	*) fail "$n: killed after $d s: '$got'" ;;
	esac
	run "$AL" secret rotate "$n" --auto
	expect_rc 0 "$n: a later rotation works"
done

"$AL" audit verify >>"$ALL_OUTPUT" 2>&1
expect_eq $? 0 "the audit chain verifies"
for f in "$D"/*.out; do cat "$f" >>"$ALL_OUTPUT"; done
for f in "$D"/*.old; do check_no_leak "$(cat "$f")"; done
done_testing

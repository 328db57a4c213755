#!/bin/bash
# The audit log cannot be written (an immutable file: EPERM; a full disk:
# ENOSPC): the broker answers 503 `unavailable`, says so in /v1/health,
# records no use of a value it did not release, and serves again by itself
# once the log can be written.  A log replaced under the running broker is
# refused with a message that says how to recover.
. "$(dirname "$0")/lib.sh"

api() {	# api METHOD PATH [BODY]: body in $OUT, code in $CODE
	if [ $# -ge 3 ]; then
		CODE=$(curl -s -o "$OUT" -w '%{http_code}' --unix-socket "$AIRLOCK_SOCKET" \
		    -X "$1" -H 'Content-Type: application/json' \
		    --data-binary "$3" "http://airlock$2")
	else
		CODE=$(curl -s -o "$OUT" -w '%{http_code}' --unix-socket "$AIRLOCK_SOCKET" \
		    -X "$1" "http://airlock$2")
	fi
	cat "$OUT" >>"$ALL_OUTPUT"
}
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d=d[int(k)] if isinstance(d,list) else d[k]
print(d)' "$OUT" "$1"; }
# wait_health STATUS: /v1/health says STATUS within 5 s.
wait_health() {
	for _i in $(seq 50); do
		api GET /v1/health
		[ "$CODE" = 200 ] && [ "$(jget status)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
stop_broker() {
	_p=$(cat "$AIRLOCK_HOME/airlockd.pid" 2>/dev/null) || return 0
	kill "$_p" 2>/dev/null
	for _i in $(seq 50); do kill -0 "$_p" 2>/dev/null || return 0; sleep 0.1; done
}
# check_log: every use recorded "ok" was a value some run printed (count
# given), every granted lease has its end recorded, the chain verifies.
check_log() {
	python3 - "$AIRLOCK_HOME/audit.log" "$1" >"$OUT" 2>"$ERR" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
ok = {e["lease"] for e in ev if e["event"] == "use" and e.get("outcome") == "ok"}
withheld = {e["lease"] for e in ev if e["event"] == "use" and e.get("outcome") == "withheld"}
released = ok - withheld
assert len(released) == int(sys.argv[2]), ("use ok without a release", sorted(released), sys.argv[2])
granted = {e["lease"] for e in ev if e["event"] == "grant"}
ended = {e.get("lease") for e in ev if e["event"] in ("revoke", "expire")}
ended |= {e["lease"] for e in ev if e["event"] == "use" and e.get("reason") == "last use"}
assert granted <= ended, ("leases without an end", sorted(granted - ended))
assert any(e["event"] == "audit_resume" for e in ev), "no audit_resume line"
print("ok")
PY
	expect_eq "$(cat "$OUT")" ok "audit log after the failure: $(cat "$ERR")"
	run "$AL" audit verify
	expect_rc 0 "audit verify after the failure"
}

init_vault
V=$(canary)
add_secret tok "$V"
run "$AL" lease ls
expect_rc 0 "broker up"
api GET /v1/health
expect_eq "$(jget audit.writable)" True "health: audit writable"

# --- EPERM: an immutable log ----------------------------------------------
# A run holding a bound lease when the log fails: its end, when it exits
# meanwhile, is recorded once the log works again.
"$AL" run -e T=tok -- sh -c 'printf %s "$T" >"$0"; sleep 1.5' "$T_ROOT/held" \
    >>"$ALL_OUTPUT" 2>&1 &
HELD=$!
for _ in $(seq 50); do [ -s "$T_ROOT/held" ] && break; sleep 0.1; done
if chattr +i "$AIRLOCK_HOME/audit.log" 2>/dev/null; then
	wait "$HELD"
	expect_eq "$(cat "$T_ROOT/held")" "$V" "value of the run that held its lease"
	rm -f "$T_ROOT/held"
	api POST /v1/leases '{"secret":"tok"}'
	expect_eq "$CODE" 503 "grant while the log is immutable"
	expect_eq "$(jget error.code)" unavailable "error code"
	api GET /v1/health
	expect_eq "$CODE" 200 "health answers"
	expect_eq "$(jget status)" unavailable "health status while failing"
	expect_eq "$(jget audit.writable)" False "health: audit not writable"
	case "$(jget audit.error)" in
	*"Operation not permitted"*) pass ;;
	*) fail "health error: $(jget audit.error)" ;;
	esac
	run "$AL" run -e T=tok -- sh -c 'printf %s "$T" >"$0"' "$T_ROOT/got1"
	[ "$RC" -ne 0 ] && pass || fail "run succeeded with an immutable log"
	expect_err "Operation not permitted; nothing is granted or released until the audit log can be written"
	[ -e "$T_ROOT/got1" ] && fail "a value was released unaudited" || pass
	chattr -i "$AIRLOCK_HOME/audit.log"
	wait_health ok && pass || fail "not back to ok after chattr -i: $(cat "$OUT")"
	run "$AL" run -e T=tok -- sh -c 'printf %s "$T" >"$0"' "$T_ROOT/got2"
	expect_rc 0 "run after recovery"
	expect_eq "$(cat "$T_ROOT/got2" 2>/dev/null)" "$V" "value after recovery"
	rm -f "$T_ROOT/got2"
	stop_broker
	check_log 2
else
	wait "$HELD"
	echo "$T_NAME: chattr +i not supported here: EPERM variant skipped"
fi

# --- the log replaced under the broker (sed -i) ----------------------------
run "$AL" lease ls
expect_rc 0 "broker up again"
sed -i 's/"broker_start"/"broker_start"/' "$AIRLOCK_HOME/audit.log"
api POST /v1/leases '{"secret":"tok"}'
expect_eq "$CODE" 503 "grant after the log was replaced"
case "$(jget error.message)" in
*"was replaced while in use"*"put the original file back"*"move the log and its .head aside"*"until the audit log can be written"*) pass ;;
*) fail "replaced-log message: $(jget error.message)" ;;
esac
api GET /v1/health
expect_eq "$(jget status)" unavailable "health after the log was replaced"
# sed -i left the same lines: the broker reads the file at the path again.
wait_health ok && pass || fail "not back to ok after the replacement: $(cat "$OUT")"
# Rotation: the log moved away and a new empty file in its place.
mv "$AIRLOCK_HOME/audit.log" "$AIRLOCK_HOME/audit.log.1"
install -m 600 /dev/null "$AIRLOCK_HOME/audit.log"
api POST /v1/leases '{"secret":"tok"}'
expect_eq "$CODE" 503 "grant after rotation"
sleep 1.2
api GET /v1/health
expect_eq "$(jget status)" unavailable "an empty log under a head is not taken"
case "$(jget audit.error)" in
*"empty but its head records"*) pass ;;
*) fail "rotation error: $(jget audit.error)" ;;
esac
mv "$AIRLOCK_HOME/audit.log.1" "$AIRLOCK_HOME/audit.log"
wait_health ok && pass || fail "not back after the original was put back: $(cat "$OUT")"
stop_broker

# --- ENOSPC: a full file system ---------------------------------------------
SMALL="$T_ROOT/small"
mkdir -p "$SMALL"
if mount -t tmpfs -o size=1m,mode=700 tmpfs "$SMALL" 2>/dev/null; then
	trap 'umount -l "$SMALL" 2>/dev/null; t_cleanup' EXIT
	export AIRLOCK_HOME="$SMALL/home"
	export AIRLOCK_SOCKET="$SMALL/home/airlockd.sock"
	init_vault
	add_secret tok "$V"
	run "$AL" run -e T=tok -- true
	expect_rc 0 "run on the small file system"
	dd if=/dev/zero of="$SMALL/fill" bs=4k 2>/dev/null
	got503=0
	for i in $(seq 60); do
		api POST /v1/leases "{\"secret\":\"nope-$i\"}"
		if [ "$CODE" = 503 ]; then got503=1; break; fi
	done
	expect_eq "$got503" 1 "503 once the disk is full"
	api GET /v1/health
	expect_eq "$(jget status)" unavailable "health while the disk is full"
	case "$(jget audit.error)" in
	*"No space left on device"*|*"database or disk is full"*) pass ;;
	*) fail "ENOSPC health error: $(jget audit.error)" ;;
	esac
	okruns=1
	for i in 1 2 3; do
		rm -f "$T_ROOT/got"
		run "$AL" run -e T=tok -- sh -c 'printf %s "$T" >"$0"' "$T_ROOT/got"
		if [ "$RC" -eq 0 ]; then
			okruns=$((okruns + 1))
		else
			[ -e "$T_ROOT/got" ] && fail "a failed run got the value"
		fi
		sleep 0.4
	done
	rm -f "$SMALL/fill"
	wait_health ok && pass || fail "not back to ok after the disk was freed: $(cat "$OUT")"
	run "$AL" run -e T=tok -- sh -c 'printf %s "$T" >"$0"' "$T_ROOT/got"
	expect_rc 0 "run after the disk was freed"
	okruns=$((okruns + 1))
	stop_broker
	check_log "$okruns"
	grep -q '"event":"audit_resume"' "$AIRLOCK_HOME/audit.log" && pass || fail "no resume line"
	umount -l "$SMALL" 2>/dev/null
	export AIRLOCK_HOME="$T_ROOT/home"
else
	echo "$T_NAME: cannot mount a tmpfs here: ENOSPC variant skipped"
fi
rm -f "$T_ROOT/got" "$T_ROOT/got1" "$T_ROOT/got2"
check_no_leak "$V"

done_testing

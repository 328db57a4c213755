#!/bin/bash
# An exec issuer's commands run below a keeper process the broker starts
# and waits for.  Run as the same user, an agent can stop (SIGSTOP) every
# process the broker starts.  A stopped keeper must not hold a thread of
# the broker forever: revocations (all secrets share the revoking threads)
# and mints would stall, and credentials outlive their leases.  Once the
# agent stops stopping them, every credential is revoked and runs work.
. "$(dirname "$0")/lib.sh"

init_vault
ST="$T_ROOT/st"
mkdir -p "$ST/issued" "$ST/revoked"
BASE=$(canary)
cat >"$T_ROOT/issuer" <<ISSUER
#!/bin/sh
# Credentials named by airlock's name for them, so one whose issue was cut
# short is revoked by that name too.
case "\$1" in
issue)
	name=\$(sed 's/.*"name": *"\([^"]*\)".*/\1/')
	: >"$ST/issued/\$name"
	printf '{"value": "%s-%s", "id": "%s"}\n' "$BASE" "\$name" "\$name" ;;
revoke)
	rm -f "$ST/issued/\$2" && : >"$ST/revoked/\$2" ;;
esac
ISSUER
chmod 755 "$T_ROOT/issuer"
run "$AL" secret add tok --engine exec --issue "$T_ROOT/issuer issue" \
    --revoke "$T_ROOT/issuer revoke \"\$1\"" --timeout 3s --owner o --purpose p
expect_rc 0 "secret add --engine exec"
run "$AL" run -e T=tok -- true
expect_rc 0 "a first run"
BP=$(cat "$AIRLOCK_HOME/airlockd.pid")

# The agent: for 3 s, stop every process the broker starts.
cat >"$T_ROOT/stopper.sh" <<'SH'
end=$(( $(date +%s) + 3 ))
while [ "$(date +%s)" -lt "$end" ]; do
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		kill -STOP "$c" 2>/dev/null
	done
done
SH
bash "$T_ROOT/stopper.sh" "$BP" >"$T_ROOT/stopper.out" 2>&1 &
STOPPER=$!
PIDS=""
for i in 1 2 3 4 5 6; do
	timeout 60 "$AL" run -e T=tok -- true >"$T_ROOT/run$i.out" 2>&1 &
	PIDS="$PIDS $!"
done
trap 'kill $STOPPER $PIDS 2>/dev/null; t_cleanup' EXIT
wait "$STOPPER"
# Nothing the broker started stays stopped for good.
stopped() {
	for c in $(cat /proc/"$BP"/task/*/children 2>/dev/null); do
		case "$(sed 's/.*) //' "/proc/$c/stat" 2>/dev/null | cut -c1)" in
		T) echo "$c" ;;
		esac
	done
}
n=0
while [ -n "$(stopped)" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
expect_eq "$(stopped | wc -l | tr -d ' ')" 0 \
    "processes of the broker still stopped 10 s after the agent stopped"
for p in $PIDS; do wait "$p"; done
# Every credential issued is revoked, none left revoking.
n=0
while { [ -n "$(ls "$ST/issued")" ] || "$AL" lease ls 2>/dev/null |
    grep -q revoking; } && [ $n -lt 150 ]; do
	sleep 0.1
	n=$((n + 1))
done
expect_eq "$(ls "$ST/issued" | wc -l | tr -d ' ')" 0 \
    "credentials not revoked 15 s after the agent stopped"
run "$AL" lease ls
if grep -q revoking "$OUT"; then
	fail "revocations still pending: $(cat "$OUT")"
else pass; fi
run timeout 20 "$AL" run -e T=tok -- sh -c 'test -n "$T"'
expect_rc 0 "a run after the agent stopped"
[ -n "$(ls "$ST/revoked")" ] && pass || fail "nothing was revoked"

"$AL" stop >>"$ALL_OUTPUT" 2>&1
check_no_leak "$BASE"
done_testing

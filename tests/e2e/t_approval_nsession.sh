#!/bin/bash
# A requester whose session leader is outside the broker's PID namespace (a
# container entered with `exec`, a CI runner) reads as session 0: sessions
# cannot be compared, so the terminals are.  The approver on a terminal of
# its own approves; an approver on the requester's own terminal, or on none,
# is refused.  Before, every such approval was refused, `make demo` included.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null ||
    ! unshare -pf --mount-proc true 2>/dev/null; then
	echo "# skip: needs a PID namespace of its own (root and unshare)"
	done_testing
fi
init_vault
V=$(canary)
PIN="pin-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
add_secret pay-key "$V" --label approval=required
set_approver_pin "$PIN"
"$AL" stop >/dev/null 2>&1

# In a PID namespace whose /proc cannot see this script's session leader:
# the broker started there reads the requester's session as 0.
cat >"$T_ROOT/inner.sh" <<'SH'
set -u
[ "$(cut -d' ' -f6 /proc/self/stat)" = 0 ] || { echo "session visible"; exit 3; }
"$AL" run --approval-wait 20s -e K=pay-key -- sh -c 'echo "got $K"' \
    >"$T_ROOT/run.out" 2>"$T_ROOT/run.err" &
RP=$!
id=""
for _ in $(seq 200); do
	id=$(sed -n 's/.*waiting for approval \([0-9a-f]*\):.*/\1/p' \
	    "$T_ROOT/run.err" 2>/dev/null | head -1)
	[ -n "$id" ] && break
	sleep 0.05
done
# No terminal at all: refused (the PIN is read from a terminal anyway; the
# API is asked directly, as a process without one would).
python3 - "$id" "$PIN" <<'PY' >"$T_ROOT/notty.out" 2>&1
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(os.environ["AIRLOCK_SOCKET"])
b = json.dumps({"pin": sys.argv[2]}).encode()
s.sendall(b"POST /v1/approvals/%s/approve HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (sys.argv[1].encode(), len(b)) + b)
print(s.recv(65536).decode(errors="replace"))
PY
python3 "$TYPER" "$PIN" "$AL" approve "$id" >"$T_ROOT/approve.out" 2>&1
echo "approve rc=$?"
wait "$RP"
echo "run rc=$?"
SH
run unshare -pf --mount-proc env AL="$AL" T_ROOT="$T_ROOT" PIN="$PIN" \
    TYPER="$TYPER" bash "$T_ROOT/inner.sh"
expect_out "approve rc=0" "approved from a terminal of its own ($(cat "$T_ROOT/approve.out"))"
expect_out "run rc=0"
expect_eq "$(cat "$T_ROOT/run.out")" "got [REDACTED:pay-key]" "the command got the value"
if grep -q "403" "$T_ROOT/notty.out" &&
    grep -q "approver has no terminal" "$T_ROOT/notty.out"; then pass
else fail "an approver without a terminal: $(cat "$T_ROOT/notty.out")"; fi
"$AL" stop >/dev/null 2>&1
check_no_leak "$V"
done_testing

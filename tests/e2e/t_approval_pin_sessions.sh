#!/bin/bash
# Wrong approver PINs back off per user and session: an approver (an agent
# the policy counts as one) sending wrong PINs from its session does not
# delay the approver at another terminal; each refusal is audited; past a
# total of wrong PINs from all sessions, every session waits too.
T_OWN_SESSION=1
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { fail "python3 is needed"; done_testing; }
init_vault
V=$(canary)
PIN="pin-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
add_secret pay-key "$V" --label approval=required
set_approver_pin "$PIN"

# pins.py ID N PIN...: N sessions of their own (setsid), each sending the
# PINs in turn on one connection; prints "session I: STATUS" per reply.
cat >"$T_ROOT/pins.py" <<'PY'
import os, socket, sys, brokerhttp
aid, n, pins = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def call(s, body):
    st, reply = brokerhttp.request(s, 'POST', '/v1/approvals/%s/approve' % aid,
                                   body)
    return st, reply.decode()
for i in range(n):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.setsid()
        s = socket.socket(socket.AF_UNIX)
        s.connect(os.environ['AIRLOCK_SOCKET'])
        out = ''
        for p in pins:
            st, body = call(s, {'pin': p})
            out += 'session %d: %d %s\n' % (i, st, body)
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    data = b''
    while True:
        d = os.read(r, 65536)
        if not d:
            break
        data += d
    os.waitpid(pid, 0)
    sys.stdout.write(data.decode())
PY

# A pending request from `airlock run`, in this session.
"$AL" run --approval-wait 60s -e P=pay-key -- sh -c 'printf "%s" "$P" | wc -c' \
    >"$T_ROOT/req.out" 2>"$T_ROOT/req.err" &
REQ=$!
ID=
for _ in $(seq 100); do
	ID=$("$AL" approvals --json 2>/dev/null | python3 -c 'import json,sys
a=[x["id"] for x in json.load(sys.stdin) if x["state"]=="pending"]
print(a[0] if a else "")')
	[ -n "$ID" ] && break
	sleep 0.1
done
[ -n "$ID" ] || { fail "no pending approval"; done_testing; }

# One session: a wrong PIN, then at once the right one: its own back-off
# holds the right one unchecked.
run python3 "$T_ROOT/pins.py" "$ID" 1 wrong-1 "$PIN"
expect_out "session 0: 403" "wrong PIN refused"
expect_out "wrong approver PIN (1 in a row" "wrong PIN message"
expect_out "session 0: 429" "same session waits"
expect_out "too many wrong approver PINs: try again in" "back-off message"

# The approver at another terminal (a session of its own) is not delayed.
run with_tty "$PIN" "$AL" approve "$ID"
expect_rc 0 "approve from another session right after"
expect_out "approved request $ID" "approved"
wait $REQ
expect_eq "$?" 0 "requester exit"
expect_eq "$(tr -d ' ' <"$T_ROOT/req.out")" "${#V}" "the command got the value"

# Every wrong PIN is audited, with the session it came from.
run "$AL" audit --json
python3 - "$OUT" <<'PY' && pass || fail "the wrong PIN is not audited with its session"
import json, sys
txt = open(sys.argv[1]).read()
try:
    ev = json.loads(txt)
except ValueError:
    ev = [json.loads(l) for l in txt.splitlines() if l.strip()]
if isinstance(ev, dict):
    ev = ev.get('events', [])
hits = [e for e in ev if e.get('event') == 'approve' and
        e.get('outcome') == 'refused' and
        'wrong approver PIN' in json.dumps(e) and
        'session' in json.dumps(e.get('detail', {}))]
sys.exit(0 if hits else 1)
PY

if grep -F '"event":"approve"' "$AIRLOCK_HOME/audit.log" |
    grep -F '"outcome":"refused"' | grep -qF "too many wrong approver PINs"
then pass; else fail "the held-back PIN is not audited"; fi

# Many sessions: past the total of wrong PINs from all sessions, a new
# session waits too (the overall back-off).
"$AL" run --approval-wait 60s -e P=pay-key -- true >/dev/null 2>&1 &
REQ=$!
ID=
for _ in $(seq 100); do
	ID=$("$AL" approvals --json 2>/dev/null | python3 -c 'import json,sys
a=[x["id"] for x in json.load(sys.stdin) if x["state"]=="pending"]
print(a[0] if a else "")')
	[ -n "$ID" ] && break
	sleep 0.1
done
[ -n "$ID" ] || { fail "no second pending approval"; done_testing; }
run python3 "$T_ROOT/pins.py" "$ID" 33 wrong-2
expect_eq "$(grep -c ': 403 ' "$OUT")" 33 "33 wrong PINs from 33 sessions"
run with_tty "$PIN" "$AL" approve "$ID"
expect_rc 2 "a new session after 33 wrong PINs in all"
expect_out "too many wrong approver PINs (from all sessions)" "overall back-off"
sleep 1.2
run with_tty "$PIN" "$AL" approve "$ID"
expect_rc 0 "approve once the overall wait is over"
wait $REQ
check_no_leak "$V"
check_no_leak "$PIN"

done_testing

#!/bin/bash
# The broker keeps serving whatever its clients do: queries a route does not
# take are refused, short-lived connections leave no trace in airlockd.log,
# and a log that cannot be opened is named in the error.
. "$(dirname "$0")/lib.sh"

S="$AIRLOCK_SOCKET"
api() {	# api METHOD PATH: curl over the socket; body in $OUT, code in $CODE
	CODE=$(curl -s -o "$OUT" -w '%{http_code}' --unix-socket "$S" \
	    -X "$1" "http://airlock$2")
	cat "$OUT" >>"$ALL_OUTPUT"
}
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d=d[int(k)] if isinstance(d,list) else d[k]
print(d)' "$OUT" "$1"; }

# --- a symlinked airlockd.log: the error names the log, not "see" it -------
mkdir -p "$AIRLOCK_HOME"
chmod 700 "$AIRLOCK_HOME"
init_vault
ln -s "$T_ROOT/elsewhere.log" "$AIRLOCK_HOME/airlockd.log"
run "$AL" lease ls
expect_rc 2 "broker start with a symlinked log"
expect_err "cannot open the broker's log $AIRLOCK_HOME/airlockd.log: it is a symbolic link"
if grep -q "see .*airlockd.log" "$ERR"; then
	fail "the error sends the user to the symlinked log: $(cat "$ERR")"
else
	pass
fi
rm -f "$AIRLOCK_HOME/airlockd.log"

V1=$(canary)
add_secret deploy-token "$V1"
run "$AL" lease ls
expect_rc 0 "lease ls starts the broker"

# --- a query string a route does not take is 400 --------------------------
for p in /v1/health /v1/secrets /v1/leases /metrics; do
	api GET "$p?x=1"
	expect_eq "$CODE" 400 "GET $p?x=1"
done
api GET "/v1/health?x"
expect_eq "$CODE" 400 "GET /v1/health?x"
expect_eq "$(jget error.message)" "this route takes no query string (see docs/api.md)" "no-query message"
api GET "/v1/audit?n=2&bogus=1"
expect_eq "$CODE" 400 "audit with an unknown parameter"
expect_eq "$(jget error.message)" "unknown query parameter: this route takes only n task secret lease (see docs/api.md)" "audit message"
api GET "/v1/audit?n=2"
expect_eq "$CODE" 200 "audit with n"
api GET "/v1/approvals?all=1"
expect_eq "$CODE" 200 "approvals with all"
api GET "/v1/health"
expect_eq "$CODE" 200 "health without a query"
# A value asked for with a query is refused and spends no use.
cat >"$T_ROOT/valq.py" <<'PY'
import json, os, socket, sys
from brokerhttp import request
s = socket.socket(socket.AF_UNIX); s.connect(os.environ["AIRLOCK_SOCKET"])
st, b = request(s, "POST", "/v1/leases", {"secret": "deploy-token", "uses": 2})
lid = json.loads(b)["lease"]["id"]
st1, _ = request(s, "GET", f"/v1/leases/{lid}/value?x=1")
st2, b2 = request(s, "GET", f"/v1/leases/{lid}")
print(st1, json.loads(b2)["lease"]["uses"])
PY
run python3 "$T_ROOT/valq.py"
expect_eq "$(cat "$OUT")" "400 0" "value with a query: status and uses spent"

# --- connections whose process is gone: no line each in airlockd.log -----
# With the broker stopped, 200 processes connect, send a request and exit;
# it finds each peer gone when it gets to it.
BP=$(cat "$AIRLOCK_HOME/airlockd.pid")
L0=$(wc -l <"$AIRLOCK_HOME/airlockd.log")
kill -STOP "$BP"
python3 -c '
import os, socket
for i in range(200):
    if os.fork() == 0:
        s = socket.socket(socket.AF_UNIX); s.connect(os.environ["AIRLOCK_SOCKET"])
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: a\r\n\r\n"); os._exit(0)
    os.wait()
'
kill -CONT "$BP"
run "$AL" lease ls
expect_rc 0 "lease ls after the connect-and-exit burst"
L1=$(wc -l <"$AIRLOCK_HOME/airlockd.log")
[ $((L1 - L0)) -le 2 ] && pass || fail "airlockd.log grew by $((L1 - L0)) lines for 200 vanished peers"
grep -q "has exited" "$AIRLOCK_HOME/airlockd.log" && pass ||
    fail "no line at all about the unidentified peers: $(tail -3 "$AIRLOCK_HOME/airlockd.log")"

done_testing

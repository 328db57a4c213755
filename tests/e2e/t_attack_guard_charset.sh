#!/bin/bash
# `airlock guard`, a request body the guard would search as other bytes
# than the provider reads: JSON in UTF-16 or UTF-32 (a byte order mark, or
# the zero bytes of its first character: parsers such as Python's
# json.loads decode such bytes) and a Content-Type charset other than
# UTF-8.  Each is refused (415) and never reaches the provider; the same
# body in UTF-8, and "charset=utf-8", are masked and sent as before.  The
# fake provider decodes what it got as Python does: no canary in it.
. "$(dirname "$0")/lib.sh"
init_vault
V=$(canary)
add_secret deploy-token "$V"
REC="$T_ROOT/rec"
mkdir -p "$REC"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; t_cleanup' EXIT
start_fake_provider "$REC"

start_guard g --upstream "http://127.0.0.1:$FP"

# send ENCODING [CONTENT-TYPE]: POST /v1/messages with the canary in a
# user message, the body in ENCODING; prints the status code.
send() {
	python3 - "$GURL" "$1" "${2:-application/json}" <<'PY'
import json, os, sys, urllib.parse, http.client
u = urllib.parse.urlparse(sys.argv[1])
msg = {"model": "m", "max_tokens": 5, "messages": [
    {"role": "user", "content": "the token is " + os.environ["V"]}]}
body = json.dumps(msg).encode(sys.argv[2])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
c.request("POST", "/v1/messages", body, {"Content-Type": sys.argv[3]})
r = c.getresponse()
r.read()
print(r.status)
PY
}
export V
nrec() { find "$REC" -name '*.body' | wc -l; }

for enc in utf-16 utf-16-le utf-16-be utf-32 utf-32-le utf-32-be; do
	before=$(nrec)
	got=$(send "$enc")
	expect_eq "$got" 415 "a body in $enc is refused"
	expect_eq "$(nrec)" "$before" "a body in $enc never reaches the provider"
done
for ct in 'application/json; charset=utf-16le' \
    'application/json;charset="UTF-16"' 'application/json; charset=latin1'; do
	before=$(nrec)
	got=$(send utf-8 "$ct")
	expect_eq "$got" 415 "Content-Type '$ct' is refused"
	expect_eq "$(nrec)" "$before" "Content-Type '$ct' never reaches the provider"
done
# UTF-8, declared or not, is masked and sent.
for ct in application/json 'application/json; charset=UTF-8'; do
	before=$(nrec)
	got=$(send utf-8 "$ct")
	expect_eq "$got" 200 "a UTF-8 body with '$ct' is sent"
	expect_eq "$(nrec)" "$((before + 1))" "a UTF-8 body with '$ct' reaches the provider"
done
grep -qaF '[REDACTED:deploy-token]' "$REC"/*.body && pass ||
    fail "the UTF-8 body was not masked"

# Nothing the provider got decodes (as Python's json.loads does) to the value.
python3 - "$REC" <<'PY' && pass || fail "the provider got the value"
import glob, json, os, sys
v = os.environ["V"]
for f in glob.glob(sys.argv[1] + "/*.body"):
    b = open(f, "rb").read()
    try:
        t = json.dumps(json.loads(b))
    except ValueError:
        t = b.decode("latin-1")
    if v in t or v.encode("utf-16-le") in b or v.encode("utf-32-le") in b:
        sys.exit(1)
PY
check_no_leak "$V" "$REC" "$T_ROOT/g.out" "$T_ROOT/g.err"
done_testing

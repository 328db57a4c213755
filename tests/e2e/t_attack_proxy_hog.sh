#!/bin/bash
# A broker serving several users runs one proxy for all their runs.  One
# user's run holding every connection the proxy takes (authenticated with
# its own credential, TLS done, idle) must not keep another user's run from
# its proxy: one user's runs hold at most PROXY_USER_CONNS_MAX (448) of the
# 512 connections, and a CONNECT past that gets 503.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "# skip: needs root to create the test user alat-v"
	done_testing
fi
for t in runuser useradd groupadd curl python3 openssl; do
	command -v "$t" >/dev/null || { echo "# skip: $t is missing"; done_testing; }
done
. "$(dirname "$0")/proxylib.sh"

UV=alat-v	# the other user, whose run must still be served
GV=alat-g	# the group that may use the broker's socket
HOG=""
t_users_cleanup() {
	[ -n "$HOG" ] && kill "$HOG" 2>/dev/null
	for p in $(pgrep -u "$UV" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	"$AL" serve --stop >/dev/null 2>&1
	acct userdel "$UV" 2>/dev/null
	acct groupdel "$UV" 2>/dev/null
	acct groupdel "$GV" 2>/dev/null
	stop_servers
}
trap t_users_cleanup EXIT
acct userdel "$UV" 2>/dev/null; acct groupdel "$UV" 2>/dev/null
acct groupdel "$GV" 2>/dev/null
acct groupadd "$GV" && acct useradd -M -U -s /bin/sh -G "$GV" "$UV" ||
    { fail "cannot create the test user"; done_testing; }

serve_bound_tok
BP=$(cat "$T_ROOT/bound.port")
cat >"$AIRLOCK_HOME/policy.yaml" <<EOF
version: 1
rules:
  - id: both
    effect: allow
    callers: ["unix:uid:0", "unix:user:$UV"]
    secrets: [tok]
EOF
chmod 600 "$AIRLOCK_HOME/policy.yaml"
chmod 711 "$T_ROOT"
R="$T_ROOT/run"
mkdir -p "$R" "$T_ROOT/vh/.airlock"
chown "root:$GV" "$R"; chmod 750 "$R"
chown -R "$UV" "$T_ROOT/vh"; chmod 700 "$T_ROOT/vh" "$T_ROOT/vh/.airlock"
export AIRLOCK_SOCKET="$R/airlockd.sock"
"$AL" serve --socket "$AIRLOCK_SOCKET" --group "$GV" >"$T_ROOT/serve.out" 2>&1 ||
    { fail "serve: $(cat "$T_ROOT/serve.out")"; done_testing; }

# The first user's run opens 520 tunnels with its credential and holds them.
cat >"$T_ROOT/hog.py" <<'PY'
import base64, os, socket, ssl, sys, time, urllib.parse
port, n, ready, stop = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
p = urllib.parse.urlparse(os.environ["HTTPS_PROXY"])
cred = base64.b64encode(("%s:%s" % (p.username, p.password)).encode()).decode()
ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
ctx.check_hostname = False
held, refused = [], 0
for i in range(n):
    try:
        s = socket.create_connection((p.hostname, p.port), timeout=5)
        s.sendall(("CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Proxy-Authorization: Basic %s\r\n\r\n" % (port, port, cred)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            c = s.recv(4096)
            if not c:
                break
            head += c
        if not head.startswith(b"HTTP/1.1 200"):
            refused += 1
            s.close()
            continue
        held.append(ctx.wrap_socket(s))
    except OSError:
        refused += 1
open(ready, "w").write("%d %d\n" % (len(held), refused))
while not os.path.exists(stop):
    time.sleep(0.1)
PY
"$AL" run --proxy --no-isolation -e TOK=tok -- python3 "$T_ROOT/hog.py" "$BP" 520 \
    "$T_ROOT/ready" "$T_ROOT/stop" >"$T_ROOT/hog.out" 2>&1 &
HOG=$!
n=0; while [ ! -s "$T_ROOT/ready" ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n + 1)); done
read -r HELD REFUSED <"$T_ROOT/ready" 2>/dev/null
[ "${HELD:-0}" -gt 400 ] && pass ||
	fail "the first run did not hold its connections: ${HELD:-none} ($(head -c 300 "$T_ROOT/hog.out"))"
[ "${HELD:-0}" -le 448 ] && pass ||
	fail "one user's runs hold $HELD of the proxy's connections"

# The other user's run is served meanwhile.
: >"$LOG"
runuser -u "$UV" -- env -i PATH=/usr/bin:/bin HOME="$T_ROOT/vh" \
    AIRLOCK_HOME="$T_ROOT/vh/.airlock" AIRLOCK_SOCKET="$AIRLOCK_SOCKET" \
    "$AL" run --proxy --no-isolation -e TOK=tok -- sh -c '
	curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $TOK" "'"$B"'/other-user"' \
    >"$OUT" 2>"$ERR"
cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
expect_eq "$(cat "$OUT")" 200 "the other user's request while one user's run holds the proxy"
grep -q '"/other-user"' "$LOG" && pass || fail "the server did not get the other user's request: $(cat "$ERR")"
touch "$T_ROOT/stop"
wait "$HOG" 2>/dev/null
HOG=""
check_no_leak "$V" "$T_ROOT/hog.out"

echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]

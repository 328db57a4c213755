#!/bin/bash
# The github-app engine against a local fake of the two GitHub endpoints
# (which checks the App's JWT with its public key): a token limited to the
# caller's repository for each task, deleted when the task ends; no
# repository, no token; the key and the token are stored nowhere else.
. "$(dirname "$0")/lib.sh"
init_vault
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$T_ROOT/app.pem" 2>/dev/null || { fail "openssl genpkey"; exit 1; }
openssl pkey -in "$T_ROOT/app.pem" -pubout -out "$T_ROOT/app.pub" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$T_ROOT/other.pem" 2>/dev/null
TOKEN_BASE="ghs_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
FAKE="$T_ROOT/fake"
mkdir -p "$FAKE"
cat >"$T_ROOT/fake.py" <<'PY'
import base64, http.server, json, os, sys, time
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
d, pub, base = sys.argv[1], sys.argv[2], sys.argv[3]
key = serialization.load_pem_public_key(open(pub, "rb").read())
issued = {}
def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def reply(self, code, obj=None):
        body = json.dumps(obj).encode() if obj is not None else b""
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        if self.path != "/app/installations/42/access_tokens":
            return self.reply(404, {"message": "Not Found"})
        auth = self.headers.get("Authorization", "")
        try:
            h, c, s = auth.split(" ", 1)[1].split(".")
            assert json.loads(b64d(h))["alg"] == "RS256"
            key.verify(b64d(s), (h + "." + c).encode(), padding.PKCS1v15(),
                       hashes.SHA256())
            claims = json.loads(b64d(c))
            assert claims["iss"] == "1234" and claims["exp"] > time.time()
        except Exception as e:
            open(os.path.join(d, "rejected"), "a").write(repr(e) + "\n")
            return self.reply(401, {"message": "A JSON web token could not be decoded"})
        n = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(n))
        open(os.path.join(d, "request"), "w").write(json.dumps(req, sort_keys=True))
        tok = "%s_%d" % (base, len(issued) + 1)
        issued[tok] = True
        self.reply(201, {"token": tok, "expires_at": "2099-01-01T00:00:00Z",
                         "permissions": req.get("permissions", {})})
    def do_DELETE(self):
        tok = self.headers.get("Authorization", "").replace("token ", "", 1)
        if self.path != "/installation/token" or not issued.pop(tok, False):
            return self.reply(401, {"message": "Bad credentials"})
        open(os.path.join(d, "revoked"), "a").write(tok + "\n")
        self.reply(204)
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
open(os.path.join(d, "port.tmp"), "w").write(str(srv.server_address[1]))
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
srv.serve_forever()
PY
python3 "$T_ROOT/fake.py" "$FAKE" "$T_ROOT/app.pub" "$TOKEN_BASE" &
FAKE_PID=$!
trap 'kill $FAKE_PID 2>/dev/null; t_cleanup' EXIT
n=0; while [ ! -s "$FAKE/port" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
API="http://127.0.0.1:$(cat "$FAKE/port")"

run "$AL" secret add gh --engine github-app --app-id 1234 --installation-id 42 \
    --api-url "http://example.com" --value-file "$T_ROOT/app.pem" --owner o --purpose p
expect_rc 2 "plain http to another host is refused"
run "$AL" secret add gh --engine github-app --app-id 1234 --installation-id 42 \
    --value-file "$T_ROOT/app.pub" --owner o --purpose p
expect_rc 2 "a public key is not the App's private key"
expect_err "not the App's RSA private key"
run "$AL" secret add gh --engine github-app --app-id 1234 --installation-id 42 \
    --api-url "$API" --permission contents=read --permission issues=write \
    --value-file "$T_ROOT/app.pem" --owner o --purpose p
expect_rc 0 "secret add --engine github-app"
run "$AL" secret add gh-other --engine github-app --app-id 1234 \
    --installation-id 42 --api-url "$API" --value-file "$T_ROOT/other.pem" \
    --owner o --purpose p
expect_rc 0 "secret add with a key GitHub does not know"

# --- a token for the caller's repository, deleted at the end --------------
mkdir -p "$T_ROOT/widgets"
git -C "$T_ROOT/widgets" init -q
git -C "$T_ROOT/widgets" remote add origin https://github.com/acme/widgets.git
run sh -c 'cd "$1/widgets" && "$2" run -e GH_TOKEN=gh -- sh -c '"'"'
	printf %s "$GH_TOKEN" >../seen; echo "token $GH_TOKEN"'"'" sh "$T_ROOT" "$AL"
expect_rc 0 "the child gets an installation token"
expect_out "token [REDACTED:gh]" "the token is masked"
TOK=$(cat "$T_ROOT/seen")
case "$TOK" in "${TOKEN_BASE}_"*) pass ;; *) fail "token '$TOK'" ;; esac
expect_eq "$(cat "$FAKE/request")" \
    '{"permissions": {"contents": "read", "issues": "write"}, "repositories": ["widgets"]}' \
    "the token is limited to the repository and the permissions"
n=0; while ! grep -qx "$TOK" "$FAKE/revoked" 2>/dev/null && [ $n -lt 60 ]; do sleep 0.05; n=$((n + 1)); done
grep -qx "$TOK" "$FAKE/revoked" && pass || fail "the token was not deleted"
rm -f "$T_ROOT/seen"

# --- no repository, no token; a key GitHub refuses -------------------------
mkdir -p "$T_ROOT/norepo"
run sh -c 'cd "$1/norepo" && "$2" run -e GH_TOKEN=gh -- true' sh "$T_ROOT" "$AL"
expect_rc 125 "no repository"
expect_err "the caller's repository is unknown"
run sh -c 'cd "$1/widgets" && "$2" run -e GH_TOKEN=gh-other -- true' sh "$T_ROOT" "$AL"
expect_rc 125 "a JWT signed by another key"
expect_err "HTTP 401"
[ -s "$FAKE/rejected" ] && pass || fail "the fake did not check the signature"

check_no_leak "$TOK"
check_no_leak "$(sed -n 2p "$T_ROOT/app.pem")"
echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]

# Shared by the proxy tests (t_proxy_*.sh), sourced after lib.sh: a test CA
# in $D (ca.pem), a server certificate for 127.0.0.1 and 127.0.0.2 signed
# by it (srv.pem, srv.key), and start_server to run a local HTTPS server
# (helpers/https_echo.py or another helper) that writes its port to
# $T_ROOT/NAME.port.  The broker trusts the test CA upstream.

command -v openssl >/dev/null && command -v curl >/dev/null &&
    command -v python3 >/dev/null || { echo "skip: openssl/curl/python3"; exit 0; }

D="$T_ROOT/pki"
mkdir -p "$D"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$D/ca.key" -out "$D/ca.pem" -days 2 -subj /CN=airlock-test-ca \
    2>/dev/null || { fail "test CA"; done_testing; }
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$D/srv.key" -out "$D/srv.csr" -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,IP:127.0.0.2\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >"$D/ext"
openssl x509 -req -in "$D/srv.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" \
    -CAcreateserial -out "$D/srv.pem" -days 2 -extfile "$D/ext" 2>/dev/null ||
    { fail "server certificate"; done_testing; }
export AIRLOCK_UPSTREAM_CA_FILE="$D/ca.pem"

HELPERS="$(dirname "$0")/helpers"
SRV_PIDS=""
# start_server IP NAME [HELPER [CERT KEY [ARG...]]]: the server's output
# goes to NAME.srv; an empty HELPER, CERT or KEY is the default one.
start_server() {
	touch "$T_ROOT/$2.log"
	"${PY:-python3}" "${3:-$HELPERS/https_echo.py}" "${4:-$D/srv.pem}" \
	    "${5:-$D/srv.key}" "$1" "$T_ROOT/$2.port" "$T_ROOT/$2.log" "${@:6}" \
	    >"$T_ROOT/$2.srv" 2>&1 &
	SRV_PIDS="$SRV_PIDS $!"
	for _ in $(seq 200); do
		[ -s "$T_ROOT/$2.port" ] && return 0
		sleep 0.05
	done
	fail "server $2 did not start: $(head -c 300 "$T_ROOT/$2.srv")"
}
# serve_bound_tok: the server "bound" on 127.0.0.1 (its URL in B, what it
# received in LOG) and a vault holding tok, a canary (V) bound to that host.
serve_bound_tok() {
	start_server 127.0.0.1 bound
	B="https://127.0.0.1:$(cat "$T_ROOT/bound.port")"
	LOG="$T_ROOT/bound.log"
	init_vault
	V=$(canary)
	add_secret tok "$V" --host 127.0.0.1
}
stop_servers() {
	for p in $SRV_PIDS; do kill "$p" 2>/dev/null; done
	t_cleanup
}
trap stop_servers EXIT

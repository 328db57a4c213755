#!/bin/bash
# Node.js and airlock run --proxy.  Node trusts the run's CA through
# NODE_EXTRA_CA_CERTS; its https module and fetch use the proxy variables
# only from Node 24 on with NODE_USE_ENV_PROXY=1 (earlier: a proxy agent,
# shown here by a CONNECT made by hand).  A Node that ignores the proxy
# reaches nothing: the network namespace stops its direct connection.
. "$(dirname "$0")/lib.sh"
command -v node >/dev/null || { echo "skip: node"; exit 0; }
. "$(dirname "$0")/proxylib.sh"

serve_bound_tok
J="$HELPERS/node_proxy.js"
MAJOR=$(node -p 'process.versions.node.split(".")[0]')

# A proxy agent (CONNECT through $HTTPS_PROXY) and NODE_EXTRA_CA_CERTS:
# Node's own TLS trusts the run's CA, the server gets the value.
run "$AL" run --proxy -e TOK=tok -- node "$J" connect "$B/agent"
expect_rc 0 "node through the proxy"
expect_out 'status 200 {"method": "GET", "path": "/agent"' "node's request went through"
expect_out '"Authorization": "Bearer [REDACTED:tok]"' "the echo comes back masked"
if grep -qF "\"Authorization\": \"Bearer $V\"" "$LOG"; then pass
else fail "the server did not get the value from node"; fi
# Without the run's CA Node refuses the proxy's certificate: it is the
# variable that makes it trust it.
run "$AL" run --proxy -e TOK=tok -- env -u NODE_EXTRA_CA_CERTS \
    node "$J" connect "$B/no-ca"
expect_out "error SELF_SIGNED_CERT_IN_CHAIN" "without NODE_EXTRA_CA_CERTS node refuses the run's CA"

# https.get and fetch as they are, with NODE_USE_ENV_PROXY=1.
: >"$LOG"
run "$AL" run --proxy -e TOK=tok -- sh -c '
	NODE_USE_ENV_PROXY=1 node "'"$J"'" direct "'"$B"'/env-https"
	NODE_USE_ENV_PROXY=1 node "'"$J"'" fetch "'"$B"'/env-fetch"'
cp "$ERR" "$T_ROOT/env.err"
if [ "$MAJOR" -ge 24 ]; then
	expect_eq "$(grep -c '^status 200 ' "$OUT")" "2" \
	    "node $MAJOR: https and fetch use the proxy with NODE_USE_ENV_PROXY=1"
	expect_eq "$(grep -cF "\"Authorization\": \"Bearer $V\"" "$LOG")" "2" \
	    "node $MAJOR: the value reached the server"
elif grep -q 'warning: run: --proxy' "$T_ROOT/env.err"; then
	echo "note: no network namespaces here; isolation not tested" >&2
else
	# Node before 24 ignores the variables: it goes direct, and the
	# namespace stops it.
	expect_eq "$(grep -c '^error ' "$OUT")" "2" \
	    "node $MAJOR ignores the proxy variables and cannot connect directly"
	expect_eq "$(grep -c . "$LOG")" "0" "nothing reached the server directly"
fi
if grep -qF "$V" "$OUT"; then fail "the value in node's output"; else pass; fi

"$AL" serve --stop >/dev/null 2>&1 || true
check_no_leak "$V"
done_testing

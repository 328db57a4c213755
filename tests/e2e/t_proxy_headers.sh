#!/bin/bash
# airlock run --proxy: a placeholder is replaced by the value only in
# headers that carry credentials (Authorization, Cookie, *-Token, *-Key,
# and a secret's own airlock.headers list), whatever the case of the name.
# Anywhere else in the headers — an Origin a CORS server echoes, a debug
# header the server logs, a header name — the request is refused (403,
# egress_blocked) and nothing reaches the server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxylib.sh"

serve_bound_tok
V2=$(canary)
add_secret custom "$V2" --host 127.0.0.1 --label 'airlock.headers=X-Custom-Auth, X-Other'

# Credential headers: the server gets the value.
run "$AL" run --proxy -e TOK=tok -e C=custom -- sh -c '
	w() { curl -s -o /dev/null -w "%{http_code}\n" "$@"; }
	w -H "Authorization: Bearer $TOK" "'"$B"'/ok/authorization"
	w -u "me:$TOK" "'"$B"'/ok/basic"
	w -H "X-Api-Key: $TOK" "'"$B"'/ok/x-api-key"
	w -H "x-auth-token: $TOK" "'"$B"'/ok/x-auth-token"
	w -H "PRIVATE-TOKEN: $TOK" "'"$B"'/ok/private-token"
	w -H "Cookie: session=$TOK" "'"$B"'/ok/cookie"
	w -H "x-custom-auth: $C" "'"$B"'/ok/custom"'
expect_rc 0 "requests with credential headers"
expect_eq "$(sort -u "$OUT" | tr '\n' ' ')" "200 " \
    "credential headers pass"
for h in '"Authorization": "Bearer '"$V"'"' \
    '"Authorization": "Basic '"$(printf 'me:%s' "$V" | base64 -w0)"'"' \
    '"X-Api-Key": "'"$V"'"' '"x-auth-token": "'"$V"'"' \
    '"PRIVATE-TOKEN": "'"$V"'"' '"Cookie": "session='"$V"'"' \
    '"x-custom-auth": "'"$V2"'"'; do
	if grep -qF -- "$h" "$LOG"; then pass
	else fail "the server did not get $(printf %s "$h" | cut -d'"' -f2) with the value"; fi
done

# Proxy-Authorization inside the tunnel is for the proxy: never forwarded.
: >"$LOG"
run "$AL" run --proxy -e TOK=tok -- sh -c '
	curl -s -o /dev/null -w "%{http_code}\n" \
	    -H "Proxy-Authorization: Basic YWlybG9jazp4" "'"$B"'/proxy-auth"'
expect_eq "$(cat "$OUT")" "200" "a request with Proxy-Authorization passes"
if grep -qi 'proxy-authorization' "$LOG"; then
	fail "Proxy-Authorization was forwarded upstream"; else pass; fi

# Any other header: refused, and the server sees nothing of the request.
: >"$LOG"
run "$AL" run --proxy -e TOK=tok -e C=custom -- sh -c '
	w() { curl -s -o /dev/null -w "%{http_code}\n" "$@"; }
	w -H "Origin: https://$TOK.example" "'"$B"'/no/origin"
	w -H "X-Debug: $TOK" "'"$B"'/no/x-debug"
	w -H "x-debug: $TOK" "'"$B"'/no/lower"
	w -H "X-DEBUG: $(printf %s "$TOK" | base64 -w0)" "'"$B"'/no/base64"
	w -H "User-Agent: $TOK" "'"$B"'/no/ua"
	w -H "Idempotency-Key: $TOK" "'"$B"'/no/idempotency"
	w -H "Sec-WebSocket-Key: $TOK" "'"$B"'/no/sec"
	w -H "Proxy-Authorization: Bearer $TOK" "'"$B"'/no/proxy-auth"
	w -H "X-$TOK: 1" "'"$B"'/no/name"
	w -H "Authorization: Bearer $TOK" -H "Referer: https://x/$TOK" \
	    "'"$B"'/no/both"
	w -H "X-Custom-Auth: $TOK" "'"$B"'/no/not-its-list"
	w -H "Authorizations: $TOK" "'"$B"'/no/near-name"
	w "'"$B"'/clean"'
expect_rc 0 "requests with a placeholder elsewhere"
expect_eq "$(head -12 "$OUT" | sort -u | tr '\n' ' ')" "403 " \
    "a placeholder outside the credential headers is refused"
expect_eq "$(sed -n 13p "$OUT")" "200" "a request without placeholder passes"
expect_eq "$(grep -c . "$LOG")" "1" "only the clean request reached the server"
if grep -qF "$V" "$LOG"; then fail "the value reached the server"; else pass; fi

# The client is told why; the audit log names the header.
run "$AL" run --proxy -e TOK=tok -- sh -c '
	curl -s -H "Origin: https://$TOK.example" "'"$B"'/why"'
expect_out "refused: the request carries secret 'tok' in header 'Origin'" \
    "the 403 names the header"
run "$AL" audit --json --event egress_blocked
for h in Origin X-Debug x-debug X-DEBUG User-Agent Idempotency-Key \
    Sec-WebSocket-Key Proxy-Authorization Referer X-Custom-Auth Authorizations; do
	expect_out "in header '$h'" "egress_blocked for $h"
done
expect_out "in a header name" "egress_blocked for a header name"

"$AL" serve --stop >/dev/null 2>&1 || true
check_no_leak "$V"
check_no_leak "$V2"
done_testing

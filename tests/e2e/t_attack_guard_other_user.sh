#!/bin/bash
# `airlock guard` listens on a loopback port, which every local user can
# reach.  Its answers tell whether a text held one of its user's values (a
# thinking block holding one is refused, 400; without one the request is
# forwarded), and a hit marks the secret exposed: another user could test
# guesses at this user's passwords through it by the thousand, and send
# requests on its behalf.  Only the guard's own user is served; another
# user's connection is closed unanswered and nothing of it is forwarded.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "# skip: needs root to create the other user"
	done_testing
fi
command -v python3 >/dev/null && command -v runuser >/dev/null ||
    { echo "# skip: python3, runuser"; done_testing; }
U=alat3o
PIDS=()
t_other_cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	acct userdel "$U" 2>/dev/null
	t_cleanup
}
trap t_other_cleanup EXIT
acct userdel "$U" 2>/dev/null
acct useradd -M -s /bin/sh "$U" || { fail "cannot create user $U"; done_testing; }

init_vault
PW="Pw$(head -c 256 /dev/urandom | tr -dc 'a-z0-9' | head -c 10)"
add_secret svc-pw "$PW"
REC="$T_ROOT/rec"
mkdir -p "$REC"
start_fake_provider "$REC"
start_guard g --upstream "http://127.0.0.1:$FP"

# A request with guesses in a thinking block, the password among them:
# prints the status, or "closed" when no answer came.
cat >"$T_ROOT/probe.py" <<'PY'
import json, sys, urllib.request, urllib.error
url, guess = sys.argv[1], sys.argv[2]
body = json.dumps({"model": "m", "max_tokens": 1, "messages": [
    {"role": "assistant", "content": [{"type": "thinking", "signature": "s",
     "thinking": "tries: Pwaaaaaaaaaa Pwbbbbbbbbbb " + guess}]}]}).encode()
req = urllib.request.Request(url + "/v1/messages", data=body,
                             headers={"Content-Type": "application/json"})
try:
    print(urllib.request.urlopen(req, timeout=10).status)
except urllib.error.HTTPError as e:
    print(e.code)
except (OSError, urllib.error.URLError):
    print("closed")
PY
chmod 711 "$T_ROOT"
chmod 644 "$T_ROOT/probe.py"
before=$(ls "$REC" | wc -l)
run runuser -u "$U" -- python3 "$T_ROOT/probe.py" "$GURL" "$PW"
expect_eq "$(cat "$OUT")" closed "another user's request with the password"
run runuser -u "$U" -- python3 "$T_ROOT/probe.py" "$GURL" Pwcccccccccc
expect_eq "$(cat "$OUT")" closed "another user's request without it"
expect_eq "$(ls "$REC" | wc -l)" "$before" \
    "requests of another user forwarded to the provider"
run "$AL" secret ls
if grep -q exposed "$OUT"; then
	fail "another user's request marked the secret exposed"
else pass; fi

# The guard's own user is served as before: forwarded without a value,
# refused (and the secret marked exposed) with one.
run python3 "$T_ROOT/probe.py" "$GURL" Pwcccccccccc
expect_eq "$(cat "$OUT")" 200 "this user's request without a value"
run python3 "$T_ROOT/probe.py" "$GURL" "$PW"
expect_eq "$(cat "$OUT")" 400 "this user's request with the value in a thinking block"
rm -f "$OUT"

"$AL" stop >>"$ALL_OUTPUT" 2>&1
check_no_leak "$PW" "$REC"
done_testing

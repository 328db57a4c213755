#!/bin/bash
# `airlock guard` and a secret marked exposed (the broker leases it no
# more) whose value the guard cannot read itself (here: a vault locked by a
# passphrase, held unlocked by the broker only): a guard does not start,
# and a running one refuses every request (503) and forwards nothing,
# rather than let the exposed value through unmasked.  Once the secret is
# rotated, it serves and masks again.
. "$(dirname "$0")/lib.sh"
HELP="$(cd "$(dirname "$0")/helpers" && pwd)"
P="pass-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
V=$(canary)
REC="$T_ROOT/rec"
mkdir -p "$REC"
PIDS=()
stop_all() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
}
trap 'stop_all; t_cleanup' EXIT

run "$AL" init --passphrase-fd 3 3<<<"$P"
expect_rc 0 "init with a passphrase"
printf '%s\n' "$V" | "$AL" secret add deploy-token --owner test \
    --purpose "e2e test" --passphrase-fd 3 3<<<"$P" >>"$ALL_OUTPUT" 2>&1 ||
    fail "adding the secret failed"
run "$AL" secret edit deploy-token --status exposed --passphrase-fd 3 3<<<"$P"
expect_rc 0 "mark exposed"
"$AL" serve --passphrase-fd 3 3<<<"$P" >>"$ALL_OUTPUT" 2>&1 ||
    fail "serve --passphrase-fd"

start_fake_provider "$REC"

# A guard started now cannot read the exposed value: it does not start.
run timeout 10 "$AL" guard --upstream "http://127.0.0.1:$FP"
expect_rc 2 "a guard that cannot mask an exposed secret"
expect_err "secret 'deploy-token' is marked exposed and its value cannot be read"
expect_err "airlock secret rotate deploy-token"
[ -s "$OUT" ] && fail "it printed an address: $(head -1 "$OUT")" || pass

# Rotated: the exposure ends, the new value is leased and masked.
V2=$(canary)
printf '%s\n' "$V2" | "$AL" secret rotate deploy-token \
    --passphrase-fd 3 3<<<"$P" >>"$ALL_OUTPUT" 2>&1 || fail "rotate failed"

start_guard g --upstream "http://127.0.0.1:$FP" --refresh 3s
# A running guard: a secret added and marked exposed before the guard
# leased it (the guard is stopped meanwhile, so no refresh of its falls
# between the two).  Every request is refused from the next refresh on.
V3=$(canary)
kill -STOP "$GPID"
printf '%s\n' "$V3" | "$AL" secret add late-token --owner test \
    --purpose "e2e test" --passphrase-fd 3 3<<<"$P" >>"$ALL_OUTPUT" 2>&1 ||
    fail "adding the second secret failed"
"$AL" secret edit late-token --status exposed --passphrase-fd 3 3<<<"$P" \
    >>"$ALL_OUTPUT" 2>&1 || fail "mark late-token exposed"
kill -CONT "$GPID"
# post.py URL: one request carrying $GUARD_CANARY; prints the status.
cat >"$T_ROOT/post.py" <<'PY'
import http.client, os, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
v = os.environ['GUARD_CANARY']
c.request('POST', '/v1/messages', body=('{"messages":[{"role":"user",'
          '"content":"here %s"}]}' % v).encode(),
          headers={'Content-Type': 'application/json'})
r = c.getresponse()
print(r.status, r.read().decode(errors='replace'))
PY
# Until the guard's next refresh (3 s, later on a loaded machine) requests
# pass; from then on every one is refused, one that carries nothing too.
for _ in $(seq 60); do
	GUARD_CANARY="nothing-secret-$$" run python3 "$T_ROOT/post.py" "$GURL"
	grep -q '^503' "$OUT" && break
	sleep 0.5
done
expect_out "503" "refused, whatever it carries, once the guard knows"
rm -f "$REC"/*
export GUARD_CANARY="$V3"
run python3 "$T_ROOT/post.py" "$GURL"
expect_out "503" "refused while the exposed value cannot be masked"
expect_out "marked exposed" "says why"
if grep -rqaF -- "$V3" "$REC"; then
	fail "the exposed value reached the provider"
else
	pass
fi
expect_eq "$(find "$REC" -name '*.body' | wc -l)" 0 "nothing forwarded"

# Rotated too: served again, the new value masked.
V4=$(canary)
printf '%s\n' "$V4" | "$AL" secret rotate late-token \
    --passphrase-fd 3 3<<<"$P" >>"$ALL_OUTPUT" 2>&1 || fail "rotate failed"
for _ in $(seq 60); do
	GUARD_CANARY="nothing-secret-$$" run python3 "$T_ROOT/post.py" "$GURL"
	grep -q '^200' "$OUT" && break
	sleep 0.5
done
expect_out "200" "served again after rotation"
# (A request carrying a value is masked but, with the vault locked by a
# passphrase, cannot be audited by the guard: it is refused as well.)
for x in "$V2" "$V4"; do
	GUARD_CANARY="$x" run python3 "$T_ROOT/post.py" "$GURL"
	if grep -rqaF -- "$x" "$REC"; then
		fail "a rotated value reached the provider"
	else
		pass
	fi
done

stop_all
"$AL" stop >/dev/null 2>&1
check_no_leak "$V" "$REC" "$T_ROOT/g.out" "$T_ROOT/g.err"
for x in "$V2" "$V3" "$V4"; do
	check_no_leak "$x" "$REC" "$T_ROOT/g.out" "$T_ROOT/g.err"
done
done_testing

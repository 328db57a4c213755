#!/bin/bash
# The proxy's handoff socket (an abstract Unix socket, listed in
# /proc/net/unix) takes the connections a run accepts in its network
# namespace, passed as descriptors.  Any local process can connect to it,
# of any user, and pass whatever it likes: a message with several
# descriptors, a pipe, a Unix socket.  None of them may stay open in the
# broker (a local user repeating such messages would leave it without
# descriptors, and every client refused), and the runs' own connections
# must still be handed over and served.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxylib.sh"

serve_bound_tok

run "$AL" run --proxy --no-isolation -e TOK=tok -- sh -c '
	curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $TOK" "'"$B"'/first"'
expect_rc 0 "a first proxied run"
expect_eq "$(cat "$OUT")" 200 "a request through the proxy"
BP=$(cat "$AIRLOCK_HOME/airlockd.pid")
# This broker's own: other brokers' (tests running alongside) are listed too.
INODES=" $(ls -l "/proc/$BP/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ')"
NAME=$(awk -v mine="$INODES" '$8 ~ /^@airlock-proxy-[0-9a-f]+$/ &&
    index(mine, " " $7 " ") { print substr($8, 2); exit }' /proc/net/unix)
[ -n "$NAME" ] && pass || { fail "no handoff socket in /proc/net/unix"; done_testing; }

# Count the broker's descriptors once its proxy threads are done.
nfds() { ls "/proc/$BP/fd" | wc -l; }
settle() {	# settle MAX: wait until the broker holds at most MAX
	for _ in $(seq 100); do
		[ "$(nfds)" -le "$1" ] && break
		sleep 0.05
	done
	nfds
}
sleep 0.3
BEFORE=$(nfds)

cat >"$T_ROOT/hand.py" <<'PY'
import os, socket, sys
name, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("\0" + name)
    if kind == "many":          # several descriptors in one message
        fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(3)]
    elif kind == "two-tcp":     # two TCP sockets where one is taken
        a = socket.socket(); b = socket.socket()
        fds = [a.detach(), b.detach()]
    elif kind == "pipe":
        r, w = os.pipe(); os.close(w); fds = [r]
    else:                       # a Unix socket
        x, y = socket.socketpair(); y.close(); fds = [x.detach()]
    socket.send_fds(s, [b"x"], fds)
    for f in fds:
        os.close(f)
    s.settimeout(5)
    try:
        s.recv(1)               # the proxy closes the connection
    except OSError:
        pass
    s.close()
PY
for kind in many two-tcp pipe unix; do
	BEFORE=$(nfds)
	python3 "$T_ROOT/hand.py" "$NAME" "$kind" 40 >"$T_ROOT/hand.out" 2>&1 ||
	    fail "handing over $kind: $(head -c 300 "$T_ROOT/hand.out")"
	AFTER=$(settle "$BEFORE")
	[ "$AFTER" -le "$BEFORE" ] && pass ||
	    fail "40 handoff messages ($kind) left $((AFTER - BEFORE)) descriptors open in the broker"
done

# Another user, one with no access to the broker's socket, reaches the
# handoff socket all the same and must leave nothing behind either.
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null &&
    acct useradd -M -s /bin/sh alat3h 2>/dev/null; then
	chmod 755 "$T_ROOT"
	BEFORE=$(nfds)
	runuser -u alat3h -- python3 "$T_ROOT/hand.py" "$NAME" many 40 \
	    >"$T_ROOT/hand.out" 2>&1 ||
	    fail "another user handing over: $(head -c 300 "$T_ROOT/hand.out")"
	acct userdel alat3h
	chmod 700 "$T_ROOT"
	AFTER=$(settle "$BEFORE")
	[ "$AFTER" -le "$BEFORE" ] && pass ||
	    fail "another user's 40 handoff messages left $((AFTER - BEFORE)) descriptors open in the broker"
fi

# A run's own connections are still handed over and served.
run "$AL" run --proxy -e TOK=tok -- sh -c '
	curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $TOK" "'"$B"'/after"'
expect_rc 0 "a proxied run after the handoff messages"
expect_eq "$(cat "$OUT")" 200 "a request through the proxy after the handoff messages"
grep -q '"/after"' "$LOG" && pass || fail "the server did not get the run's request"
check_no_leak "$V"

"$AL" serve --stop >/dev/null 2>&1 || true
done_testing

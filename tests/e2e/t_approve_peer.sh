#!/bin/bash
# `airlock approve` sends the approver PIN only to an airlock broker of the
# user that owns the socket's directory: a socket path pointed at something
# else (AIRLOCK_SOCKET set by whoever controls the environment) collects
# nothing.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { fail "python3 is needed"; done_testing; }
PIN="pin-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
VERSION=$("$AL" --version | awk '{print $NF}')

# fake.py SOCKET LOG: answers like a broker (health, then any request with a
# 200) and keeps every byte it is sent in LOG.
cat >"$T_ROOT/fake.py" <<'PY'
import json, os, socket, sys
path, log, ver = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(8)
open(path + '.ready', 'w').close()
while True:
    c, _ = s.accept()
    buf = b''
    while True:
        d = c.recv(65536)
        if not d:
            break
        buf += d
        with open(log, 'ab') as f:
            f.write(d)
        while b'\r\n\r\n' in buf:
            head, rest = buf.split(b'\r\n\r\n', 1)
            n = 0
            for line in head.split(b'\r\n')[1:]:
                k, _, v = line.partition(b':')
                if k.strip().lower() == b'content-length':
                    n = int(v)
            if len(rest) < n:
                break
            buf = rest[n:]
            if b'/v1/health' in head.split(b'\r\n')[0]:
                b = json.dumps({'version': ver, 'pid': os.getpid(),
                                'leases': 1, 'approvals': 1}).encode()
            else:
                b = json.dumps({'approval': {'id': 'x', 'state': 'approved',
                                'lease': 'fakelease'}}).encode()
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json'
                      b'\r\nContent-Length: %d\r\n\r\n' % len(b) + b)
    c.close()
PY

# start_fake DIR [runuser -u USER --] PYTHON: the fake listening in DIR.
FAKE=
start_fake() {
	_d=$1
	shift
	rm -f "$_d/s.sock" "$_d/s.sock.ready" "$_d/log"
	"$@" "$T_ROOT/fake.py" "$_d/s.sock" "$_d/log" "$VERSION" \
	    >/dev/null 2>&1 &
	FAKE=$!
	for _ in $(seq 100); do
		[ -e "$_d/s.sock.ready" ] && return 0
		sleep 0.05
	done
	fail "the fake broker did not start"
}
stop_fake() { kill "$FAKE" 2>/dev/null; wait "$FAKE" 2>/dev/null; }

# 1. Same user, but not airlock (a python program): no PIN.
mkdir -p "$T_ROOT/same"
start_fake "$T_ROOT/same" python3
run env AIRLOCK_SOCKET="$T_ROOT/same/s.sock" python3 "$TYPER" "$PIN" \
    "$AL" approve abcdef0123456789abcdef0123456789
expect_rc 2 "approve through a non-airlock peer"
expect_out "refusing to send the approver PIN" "non-airlock peer refused"
expect_out "not an airlock broker" "says why"
stop_fake
grep -q "/v1/health" "$T_ROOT/same/log" 2>/dev/null && pass ||
    fail "the fake broker was not reached at all"
if grep -qaF -- "$PIN" "$T_ROOT/same/log"; then
	fail "the PIN reached a non-airlock peer"
else
	pass
fi

# 2. Another user, even one whose program is named airlock, listening on a
# socket in a directory it does not own: no PIN.
# The system python (not a per-user install the other user cannot read).
SYSPY=$(readlink -f /usr/bin/python3 2>/dev/null)
if [ "$(id -u)" -eq 0 ] && command -v useradd >/dev/null && [ -x "$SYSPY" ]
then
	U=alsf$$
	OTHER=$(mktemp -d /tmp/airlock-alsf.XXXXXX)
	trap 'stop_fake; acct userdel "$U" 2>/dev/null; rm -rf "$OTHER"; t_cleanup' EXIT
	acct useradd --system --no-create-home --shell /usr/sbin/nologin "$U" ||
	    fail "useradd"
	chmod 0777 "$OTHER"
	cp "$SYSPY" "$OTHER/airlock"
	chmod 0755 "$OTHER/airlock"
	cp "$T_ROOT/fake.py" "$OTHER/fake.py"
	chmod 0644 "$OTHER/fake.py"
	# fake.py is read from OTHER: T_ROOT is not readable by that user.
	start_fake_other() {
		rm -f "$OTHER/s.sock" "$OTHER/s.sock.ready" "$OTHER/log"
		runuser -u "$U" -- "$OTHER/airlock" "$OTHER/fake.py" \
		    "$OTHER/s.sock" "$OTHER/log" "$VERSION" >/dev/null 2>&1 &
		FAKE=$!
		for _ in $(seq 100); do
			[ -e "$OTHER/s.sock.ready" ] && return 0
			sleep 0.05
		done
		fail "the other user's fake broker did not start"
	}
	start_fake_other
	expect_eq "$(stat -c %U "$OTHER/s.sock")" "$U" "socket owned by $U"
	run env AIRLOCK_SOCKET="$OTHER/s.sock" python3 "$TYPER" "$PIN" \
	    "$AL" approve abcdef0123456789abcdef0123456789
	expect_rc 2 "approve through another user's socket"
	expect_out "refusing to send the approver PIN" "other uid refused"
	expect_out "not the broker" "says whose"
	stop_fake
	grep -q "/v1/health" "$OTHER/log" 2>/dev/null && pass ||
	    fail "the other user's fake broker was not reached at all"
	if grep -qaF -- "$PIN" "$OTHER/log"; then
		fail "the PIN reached another user's process"
	else
		pass
	fi
	rm -rf "$OTHER"
	acct userdel "$U" 2>/dev/null || fail "userdel"
else
	echo "# note: not root or no /usr/bin/python3: the other-user case" \
	    "is not run" >&2
fi

# 3. The real broker still gets it, even one running a binary since
# replaced (here: a copy, removed once the broker runs).
init_vault
add_secret pay-key "$(canary)" --label approval=required
set_approver_pin "$PIN"
mkdir -p "$T_ROOT/old"
cp "$AL" "$T_ROOT/old/airlock"
"$T_ROOT/old/airlock" serve >>"$ALL_OUTPUT" 2>&1 || fail "serve from a copy"
rm -f "$T_ROOT/old/airlock"
BPID=$(cat "$AIRLOCK_HOME/airlockd.pid" 2>/dev/null)
case "$(readlink "/proc/$BPID/exe" 2>/dev/null)" in
*"/old/airlock (deleted)") pass ;;
*) fail "the broker does not run the removed copy" ;;
esac
"$AL" run --approval-wait 60s -e P=pay-key -- true >/dev/null 2>&1 &
REQ=$!
ID=
for _ in $(seq 100); do
	ID=$("$AL" approvals --json 2>/dev/null | python3 -c 'import json,sys
a=[x["id"] for x in json.load(sys.stdin) if x["state"]=="pending"]
print(a[0] if a else "")')
	[ -n "$ID" ] && break
	sleep 0.1
done
[ -n "$ID" ] || { fail "no pending approval"; done_testing; }
run python3 "$TYPER" "$PIN" "$AL" approve "$ID"
expect_rc 0 "approve through the real broker"
expect_out "approved request $ID" "approved"
wait $REQ
expect_eq "$?" 0 "requester exit"

done_testing

# Shared helpers for end-to-end tests: source this from tests/e2e/t_*.sh.
# Every test drives the real binary ($AIRLOCK_BIN) in a fresh $AIRLOCK_HOME
# that is removed when the test ends.
set -u

: "${AIRLOCK_BIN:?AIRLOCK_BIN must point at the airlock binary}"
AL="$AIRLOCK_BIN"
T_NAME=$(basename "$0" .sh)

# A test that sets T_OWN_PIDNS=1 before sourcing this file runs, where it
# can make one (as root), in a PID namespace of its own with its own /proc:
# its init is then the test script itself, whose executable the broker can
# read.  Elsewhere it runs where it is, and must expect an ancestor of the
# caller's user that may be unreadable (a container's init).
if [ "${T_OWN_PIDNS:-0}" = 1 ] && [ -z "${T_OWN_PIDNS_TRIED:-}" ] &&
    [ "$(id -u)" -eq 0 ] && unshare -pf --mount-proc true 2>/dev/null; then
	export T_OWN_PIDNS_TRIED=1
	exec unshare -pf --mount-proc "${BASH:-bash}" "$0" "$@"
fi
# A test that sets T_OWN_SESSION=1 before sourcing this file runs as the
# leader of a session of its own, as a login terminal gives.  The approval
# rules compare the requester's session with the approver's; under a CI
# runner or `docker exec` the session leader may sit outside this PID
# namespace, where the session reads as 0 and cannot be compared
# (t_approval_nsession covers that case).
if [ "${T_OWN_SESSION:-0}" = 1 ]; then
	_sid=$(sed 's/.*) //' "/proc/$$/stat" | cut -d' ' -f4)
	if [ "$_sid" != "$$" ]; then
		[ -z "${T_OWN_SESSION_TRIED:-}" ] ||
		    { echo "FAIL [$T_NAME]: cannot lead a session" >&2; exit 1; }
		export T_OWN_SESSION_TRIED=1
		exec setsid -w "${BASH:-bash}" "$0" "$@"
	fi
fi
# The Python modules of tests/e2e/helpers/pylib (brokerhttp.py: raw
# requests on the broker's socket) can be imported by any python3 a test
# starts; none leaves bytecode in the source tree.
export PYTHONPATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/helpers/pylib${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
T_FAILS=0
T_COUNT=0

T_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/airlock-e2e.XXXXXX")
chmod 700 "$T_ROOT"
export AIRLOCK_HOME="$T_ROOT/home"
export AIRLOCK_SOCKET="$T_ROOT/home/airlockd.sock"
export NO_COLOR=1
OUT="$T_ROOT/out"
ERR="$T_ROOT/err"
# Everything any command printed, for the canary checks.
ALL_OUTPUT="$T_ROOT/all-output"
: >"$ALL_OUTPUT"

t_cleanup() {
	# Stop a broker this test may have started.
	if [ -f "$AIRLOCK_HOME/airlockd.pid" ]; then
		kill "$(cat "$AIRLOCK_HOME/airlockd.pid")" 2>/dev/null || true
	fi
	rm -rf "$T_ROOT"
}
trap t_cleanup EXIT

# acct CMD ARGS...: useradd, groupadd, userdel or groupdel, tried again
# while another test running at the same time holds the lock of
# /etc/passwd or /etc/group ("cannot lock"), up to 10 s.
acct() {
	_i=0
	while :; do
		_m=$("$@" 2>&1) && return 0
		_rc=$?
		case "$_m" in
		*lock*) ;;
		*) [ -z "$_m" ] || echo "$_m" >&2; return "$_rc" ;;
		esac
		_i=$((_i + 1))
		[ "$_i" -lt 100 ] || { echo "$_m" >&2; return "$_rc"; }
		sleep 0.1
	done
}

fail() {
	T_FAILS=$((T_FAILS + 1))
	echo "FAIL [$T_NAME]: $*" >&2
}

pass() {
	T_COUNT=$((T_COUNT + 1))
}

# run CMD...: run with stdin from /dev/null unless redirected by the caller;
# stdout in $OUT, stderr in $ERR, status in $RC.
run() {
	"$@" >"$OUT" 2>"$ERR"
	RC=$?
	cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
	return 0
}

# run_in INPUT CMD...: like run, with INPUT (a file) on stdin.
run_in() {
	_in=$1
	shift
	"$@" <"$_in" >"$OUT" 2>"$ERR"
	RC=$?
	cat "$OUT" "$ERR" >>"$ALL_OUTPUT"
	return 0
}

expect_rc() {
	if [ "$RC" -ne "$1" ]; then
		fail "${2:-command}: exit $RC, expected $1; stderr: $(head -c 600 "$ERR")"
	else
		pass
	fi
}

expect_out() {	# expect_out FIXED-STRING [what]
	if grep -qF -- "$1" "$OUT"; then pass; else
		fail "${2:-stdout} lacks '$1'; got: $(head -c 600 "$OUT")"
	fi
}

expect_err() {	# expect_err FIXED-STRING [what]
	if grep -qF -- "$1" "$ERR"; then pass; else
		fail "${2:-stderr} lacks '$1'; got: $(head -c 600 "$ERR")"
	fi
}

expect_eq() {	# expect_eq GOT WANT [what]
	if [ "$1" = "$2" ]; then pass; else
		fail "${3:-value}: got '$1', expected '$2'"
	fi
}

expect_empty() {	# expect_empty FILE [what]
	if [ -s "$1" ]; then
		fail "${2:-$1} should be empty; got: $(head -c 600 "$1")"
	else
		pass
	fi
}

# A random canary value: printable, 32 bytes, never seen anywhere else.
canary() {
	printf 'cnry-%s' "$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
}

# check_no_leak VALUE [FILES...]: VALUE, its base64 and hex appear nowhere
# under $AIRLOCK_HOME, in anything printed so far, nor in FILES.
check_no_leak() {
	_v=$1
	shift
	_b64=$(printf '%s' "$_v" | base64 -w0)
	_hex=$(printf '%s' "$_v" | od -An -tx1 | tr -d ' \n')
	for _needle in "$_v" "$_b64" "$_hex"; do
		if grep -rqaF -- "$_needle" "$AIRLOCK_HOME" "$ALL_OUTPUT" "$@" \
		    2>/dev/null; then
			fail "secret value (or its encoding) found: $(grep -rlaF -- "$_needle" "$AIRLOCK_HOME" "$ALL_OUTPUT" "$@" 2>/dev/null | head -3)"
			return
		fi
	done
	pass
}

# pid_alive PID: running, and not a zombie nobody reaped yet.
pid_alive() {
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$_st" ] && [ "$_st" != Z ]
}
# wait_gone PID [SECONDS]: wait until PID is not alive (5 s by default).
wait_gone() {
	for _ in $(seq $((${2:-5} * 20))); do
		pid_alive "$1" || return 0
		sleep 0.05
	done
	return 1
}

# Initialise a vault in $AIRLOCK_HOME with a key file.
init_vault() {
	"$AL" init >/dev/null 2>&1 || { fail "airlock init failed"; exit 1; }
}

# add_secret NAME VALUE [options...]: add VALUE through stdin.
add_secret() {
	_n=$1
	_v=$2
	shift 2
	printf '%s\n' "$_v" | "$AL" secret add "$_n" --owner test \
	    --purpose "e2e test" "$@" >>"$ALL_OUTPUT" 2>&1 ||
	    fail "adding secret $_n failed"
}

# agents_install: the real agents pinned in tests/agents, installed once
# (npm ci under a lock, then a stamp naming the package lock's hash).  The
# check is made under the lock too, so a test running in parallel never
# reinstalls (npm ci empties node_modules) under an agent another test runs.
agents_install() {
	_ad="$(cd "$(dirname "${BASH_SOURCE[0]}")/../agents" && pwd)"
	if ! command -v npm >/dev/null 2>&1; then
		fail "npm is needed to install the pinned agents (scripts/deps.sh installs it)"
		done_testing
	fi
	(
		flock 9
		_want=$(sha256sum "$_ad/package-lock.json" | cut -d' ' -f1)
		[ "$(cat "$_ad/node_modules/.airlock-stamp" 2>/dev/null)" = "$_want" ] &&
		    exit 0
		cd "$_ad" && npm ci --no-audit --no-fund &&
		    echo "$_want" >node_modules/.airlock-stamp
	) 9>"$_ad/.npm-lock" >"$T_ROOT/npm.log" 2>&1 ||
	    { fail "npm install in tests/agents failed: $(tail -5 "$T_ROOT/npm.log")"; done_testing; }
}

# with_tty INPUTS CMD...: CMD on a pseudo-terminal of its own, typing the
# comma-separated INPUTS at its PIN prompts (see helpers/typer.py).
TYPER="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/helpers/typer.py"
with_tty() { python3 "$TYPER" "$@"; }

# set_approver_pin PIN: what `airlock approve` will ask for.
set_approver_pin() {
	with_tty "$1,$1" "$AL" approver set-pin >>"$ALL_OUTPUT" 2>&1 ||
	    fail "airlock approver set-pin failed"
}

# start_fake_provider DIR: the stand-in model provider (helpers/
# fake_provider.py) on a free loopback port, recording every request into
# DIR; its port in FP, its pid added to the caller's PIDS (for its trap).
start_fake_provider() {
	python3 "$AIRLOCK_SRC/tests/e2e/helpers/fake_provider.py" "$1" \
	    >"$T_ROOT/fp.out" 2>"$T_ROOT/fp.err" &
	PIDS+=($!)
	for _ in $(seq 200); do [ -s "$T_ROOT/fp.out" ] && break; sleep 0.05; done
	FP=$(head -1 "$T_ROOT/fp.out")
	[ -n "$FP" ] || { fail "the fake provider did not start"; done_testing; }
}

# start_guard NAME [ARG...]: `airlock guard ARG...` in the background (in
# front of the fake provider: --upstream "http://127.0.0.1:$FP"), writing
# to $T_ROOT/NAME.out and NAME.err; its pid in GPID and added to the
# caller's PIDS, its URL in GURL.  A guard that prints no loopback URL ends
# the test.
start_guard() {
	_g=$1
	shift
	"$AL" guard "$@" >"$T_ROOT/$_g.out" 2>"$T_ROOT/$_g.err" &
	GPID=$!
	PIDS+=("$GPID")
	for _ in $(seq 200); do [ -s "$T_ROOT/$_g.out" ] && break; sleep 0.05; done
	GURL=$(head -1 "$T_ROOT/$_g.out")
	case "$GURL" in
	http://127.0.0.1:*) pass ;;
	*) fail "guard $_g did not start: first line '$GURL'; stderr: $(head -c 400 "$T_ROOT/$_g.err")"
	   done_testing ;;
	esac
}

# live_of SECRET: the ids of SECRET's live leases, on one line.
live_of() {
	"$AL" lease ls --json | python3 -c 'import json,sys
d = json.load(sys.stdin)
d = d["leases"] if isinstance(d, dict) else d
print(" ".join(l["id"] for l in d if l["secret"] == sys.argv[1] and l["state"] == "live"))' "$1"
}

# api_get [-s] PATH: the body of the broker's reply to GET PATH (with -s,
# "STATUS BODY").
api_get() {
	_st=0
	[ "$1" = -s ] && { _st=1; shift; }
	python3 - "$AIRLOCK_SOCKET" "$1" "$_st" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"GET " + sys.argv[2].encode() +
    b" HTTP/1.1\r\nHost: airlock\r\nConnection: close\r\n\r\n")
data = b""
while True:
	b = s.recv(65536)
	if not b:
		break
	data += b
head, body = data.split(b"\r\n\r\n", 1)
if sys.argv[3] == "1":
	print(head.split(b" ")[1].decode(), body.decode())
else:
	print(body.decode())
PY
}

done_testing() {
	if [ "$T_FAILS" -ne 0 ]; then
		echo "$T_NAME: $T_FAILS failed, $T_COUNT passed" >&2
		exit 1
	fi
	echo "$T_NAME: $T_COUNT checks passed"
	exit 0
}

#!/bin/bash
# An idle broker sleeps until something happens: it watches its socket's
# directory (and the directories above it, and the mount table) instead of
# looking at the socket file every few seconds, so no thread of it wakes at
# a fixed period, and a socket removed, replaced, or moved away with a
# directory above it stops it at once.  Where nothing can be watched (a
# symbolic link on the path), it says so in its log and looks every 5 s.
. "$(dirname "$0")/lib.sh"

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; t_cleanup' EXIT

# start_broker: a broker for $AIRLOCK_HOME (started by a command, as a user
# would), its pid in BP.
start_broker() {
	run "$AL" lease ls
	expect_rc 0 "${1:-a command} starts the broker"
	BP=$(cat "$AIRLOCK_HOME/airlockd.pid")
	PIDS+=("$BP")
}

# expect_gone SECONDS WHAT: the broker BP stops within SECONDS (if not, it
# is stopped, so that what follows starts from a clean slate).
expect_gone() {
	if wait_gone "$BP" "$1"; then pass; else
		fail "the broker still runs $1 s after $2"
		kill "$BP" 2>/dev/null
		wait_gone "$BP"
	fi
}

# wakes PID: "TID:N" for each thread, N its voluntary context switches (a
# thread asleep in epoll_wait or on a condition variable counts none).
wakes() {
	for _t in /proc/"$1"/task/*; do
		printf '%s:%s ' "${_t##*/}" \
		    "$(awk '/^voluntary_ctxt_switches/ { print $2 }' "$_t/status")"
	done
}

# --- removed right after the start: stops at once, not at a next look -----
init_vault
start_broker
rm "$AIRLOCK_SOCKET"
expect_gone 3 "its socket was removed"
grep -q 'airlockd.sock was removed or replaced: stopping' \
    "$AIRLOCK_HOME/airlockd.log" && pass ||
	fail "the log does not say why the broker stopped"
if grep -q 'cannot watch' "$AIRLOCK_HOME/airlockd.log"; then
	fail "the socket was not watched: $(grep 'cannot watch' "$AIRLOCK_HOME/airlockd.log")"
else pass; fi

# --- idle: no thread wakes at a period; then replaced by another file ------
# A sanitizer build is not held to the count: in one run under
# AddressSanitizer, among other tests, two threads its normal build does not
# have woke ten times a second.
SANITIZED=0
grep -qa 'AddressSanitizer\|ThreadSanitizer' "$AL" && SANITIZED=1
start_broker "a second command"
sleep 1		# the first request's audit sync, and its connection, end
before=$(wakes "$BP")
sleep 11
after=$(wakes "$BP")
for tw in $before; do
	tid=${tw%%:*}
	n1=${tw#*:}
	n2=$(printf '%s\n' $after | sed -n "s/^$tid://p")
	[ -n "$n2" ] || continue	# a thread that ended
	# A period of 5 s or less would wake it at least twice in 11 s.
	if [ $((n2 - n1)) -le 1 ]; then pass
	elif [ "$SANITIZED" = 1 ]; then
		echo "thread $tid woke $((n2 - n1)) times in 11 s (a sanitizer build: not held to it)"
	else
		fail "thread $tid of the idle broker woke $((n2 - n1)) times in 11 s"
	fi
done
echo "idle 11 s, voluntary context switches per thread: before $before; after $after"
printf 'not a socket\n' >"$T_ROOT/other"
mv "$T_ROOT/other" "$AIRLOCK_SOCKET"
expect_gone 3 "its socket was replaced"
[ -f "$AIRLOCK_SOCKET" ] && pass ||
	fail "the broker removed the file that replaced its socket"
rm -f "$AIRLOCK_SOCKET"

# --- a directory above the socket moved away --------------------------------
export AIRLOCK_HOME="$T_ROOT/up/home"
export AIRLOCK_SOCKET="$AIRLOCK_HOME/airlockd.sock"
mkdir -p "$T_ROOT/up"
init_vault
start_broker "a command in a deeper home"
mv "$T_ROOT/up" "$T_ROOT/up2"
expect_gone 3 "a directory above its socket moved"
grep -q 'was removed or replaced: stopping' "$T_ROOT/up2/home/airlockd.log" &&
    pass || fail "the log does not say why the broker stopped (moved)"

# --- a file system mounted over the socket's directory ---------------------
# (root, in a mount namespace of its own, where the broker runs too)
if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
	mkdir "$T_ROOT/mnt"
	export AIRLOCK_HOME="$T_ROOT/up2/home"
	export AIRLOCK_SOCKET="$T_ROOT/mnt/airlockd.sock"
	unshare -m --propagation private bash -c '
		"$1" lease ls >/dev/null 2>&1 || exit 3
		cat "$AIRLOCK_HOME/airlockd.pid"
		mount -t tmpfs tmpfs "$2" || exit 4' sh "$AL" "$T_ROOT/mnt" \
	    >"$OUT" 2>"$ERR" </dev/null
	RC=$?
	expect_rc 0 "a broker started, then a tmpfs mounted over its socket"
	BP=$(head -1 "$OUT")
	[ -n "$BP" ] && PIDS+=("$BP")
	[ -n "$BP" ] && expect_gone 3 "a file system was mounted over its socket"
	# The mount went with the namespace: the socket file is there again.
	[ -S "$AIRLOCK_SOCKET" ] && pass ||
		fail "the broker removed its socket, hidden under the mount"
	rm -f "$AIRLOCK_SOCKET"
else
	echo "not root, or no mount namespaces: the mount case is not run"
fi

# --- a symbolic link on the path: looked at every 5 s, said once ------------
mkdir "$T_ROOT/sockdir"
ln -s "$T_ROOT/sockdir" "$T_ROOT/link"
export AIRLOCK_HOME="$T_ROOT/up2/home"
export AIRLOCK_SOCKET="$T_ROOT/link/airlockd.sock"
start_broker "a command with a socket through a symbolic link"
LOG="$AIRLOCK_HOME/airlockd.log"
n=$(grep -c "cannot watch $AIRLOCK_SOCKET for changes ($T_ROOT/link is a symbolic link or not a directory): looking at it every 5 s instead" "$LOG")
expect_eq "$n" 1 "the fallback to looking every 5 s, in the log"
rm "$AIRLOCK_SOCKET"
expect_gone 12 "its socket was removed"
expect_eq "$(grep -c 'cannot watch' "$LOG")" 1 "the fallback said once"
done_testing

#!/bin/bash
# The free-text guard limits each user's guesses (see t_attack_text_guess).
# A user with subordinate ids (/etc/subuid, which useradd gives every new
# user on Debian and Ubuntu) can, through newuidmap, run processes under
# tens of thousands of uids that have no account, keeping its groups, so
# reaching a broker whose socket is open to one of them.  Those uids must
# not each get a limit of their own.  Here root plays that user: each
# batch of guesses comes from another uid of 100000 + N, in the socket's
# group.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "# skip: needs root to connect as other uids"
	done_testing
fi
command -v python3 >/dev/null || { echo "# skip: python3"; done_testing; }
G=alat3g
t_group_cleanup() {
	[ -n "${BP:-}" ] && kill "$BP" 2>/dev/null && wait "$BP" 2>/dev/null
	acct groupdel "$G" 2>/dev/null
	t_cleanup
}
trap t_group_cleanup EXIT
acct groupdel "$G" 2>/dev/null
acct groupadd "$G" || { fail "cannot create group $G"; done_testing; }
GID=$(getent group "$G" | cut -d: -f3)

init_vault
PW="Pw$(head -c 256 /dev/urandom | tr -dc 'a-z0-9' | head -c 10)"
add_secret prod-db "$PW"
R="$T_ROOT/run"
mkdir -p "$R"
chown "root:$G" "$R"
chmod 750 "$R"
chmod 711 "$T_ROOT"
"$AL" serve --foreground --socket "$R/airlockd.sock" --group "$G" \
    >"$T_ROOT/serve.log" 2>&1 &
BP=$!
for _ in $(seq 100); do [ -S "$R/airlockd.sock" ] && break; sleep 0.05; done
[ -S "$R/airlockd.sock" ] && pass || { fail "the broker did not start: $(cat "$T_ROOT/serve.log")"; done_testing; }

python3 -m textguess dict "$PW" >"$T_ROOT/dict"
# 18 candidates a text (helpers/pylib/textguess.py), each text from a new uid.
cat >"$T_ROOT/guess.py" <<'PY'
import json, os, socket, sys, textguess
sock, gid, words = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read().split()
def ask(uid, task):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.setgroups([gid]); os.setgid(100000 + uid); os.setuid(100000 + uid)
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        b = json.dumps({"secret": "!", "task": task}).encode()
        s.sendall(b"POST /v1/leases HTTP/1.1\r\nHost: x\r\nContent-Type: "
                  b"application/json\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n" % len(b) + b)
        d = b""
        while True:
            k = s.recv(65536)
            if not k:
                break
            d += k
        os.write(w, d)
        os._exit(0)
    os.close(w)
    d = b""
    while True:
        k = os.read(r, 65536)
        if not k:
            break
        d += k
    os.close(r)
    os.waitpid(pid, 0)
    return int(d.split()[1]), d
uid = 0
def ask_next(task):
    global uid
    uid += 1
    return ask(uid, task)
textguess.search(words, ask_next)
PY
run python3 "$T_ROOT/guess.py" "$R/airlockd.sock" "$GID" "$T_ROOT/dict"
expect_rc 0 "the guessing client"
[ "$(head -1 "$OUT")" != "$PW" ] && pass ||
    fail "guesses from 170 uids without an account found the password ($(tail -1 "$OUT"))"
case "$(tail -1 "$OUT")" in
*429:*) pass ;;
*) fail "no guess was refused unchecked: $(tail -1 "$OUT")" ;;
esac
rm -f "$OUT"
kill "$BP" 2>/dev/null
wait "$BP" 2>/dev/null
BP=
check_no_leak "$PW"
done_testing

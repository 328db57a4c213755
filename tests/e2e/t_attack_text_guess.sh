#!/bin/bash
# The broker refuses free text that holds a secret's value, which answers
# whether a guess was right.  A caller on the broker's socket must not be
# able to try a dictionary against a plain password through that answer:
# a text that passes says every window of it was wrong, and costs nothing
# in refusals, and one text holds dozens of guesses.  So each user may have
# only so much new text checked a minute; texts it repeats stay free.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { echo "skip: python3"; exit 0; }
init_vault
PW="Pw$(head -c 256 /dev/urandom | tr -dc 'a-z0-9' | head -c 10)"
add_secret prod-db "$PW"
"$AL" lease ls >>"$ALL_OUTPUT" 2>&1	# starts the broker

# 3,000 candidate passwords of the same shape, the real one 2,500th.
python3 -m textguess dict "$PW" >"$T_ROOT/dict"

# Raw requests on one kept-alive connection: a lease of a name that cannot
# be a secret, the candidates in its task (helpers/pylib/textguess.py).
cat >"$T_ROOT/guess.py" <<'PY'
import os, socket, sys, brokerhttp, textguess
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["AIRLOCK_SOCKET"])
textguess.search(open(sys.argv[1]).read().split(),
                 lambda task: brokerhttp.request(s, "POST", "/v1/leases",
                                                {"secret": "!", "task": task}))
PY
run python3 "$T_ROOT/guess.py" "$T_ROOT/dict"
expect_rc 0 "the guessing client"
FOUND=$(head -1 "$OUT")
[ "$FOUND" != "$PW" ] && pass ||
    fail "a dictionary of 3,000 guesses on the broker's socket found the password ($(tail -1 "$OUT"))"
case "$(tail -1 "$OUT")" in
*429:*) pass ;;
*) fail "no guess was refused unchecked: $(tail -1 "$OUT")" ;;
esac
rm -f "$OUT"

# A user who sent too much new text this minute is told so (what is left
# of the minute's bytes is less than one batch of guesses).
LONG=$(for i in $(seq 25); do printf 'step %03d, ' "$i"; done)
run "$AL" run --task "$LONG" -e T=prod-db -- true
expect_rc 125 "a run with new text past the user's limit"
expect_err "more new free text this minute than is checked"

# Texts a caller repeats are checked again at no cost: a fresh broker, one
# task and intent sent by 200 leases.
"$AL" stop >>"$ALL_OUTPUT" 2>&1
"$AL" lease ls >>"$ALL_OUTPUT" 2>&1
cat >"$T_ROOT/repeat.py" <<'PY'
import os, socket, brokerhttp
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["AIRLOCK_SOCKET"])
codes = {}
for i in range(200):
    st, _ = brokerhttp.request(s, "POST", "/v1/leases", {
        "secret": "prod-db", "ttl": 5,
        "task": "fix the login form's validation (issue 4211)",
        "intent": "run the integration tests against staging before the "
                  "release of the new login form"})
    codes[st] = codes.get(st, 0) + 1
print(" ".join("%d:%d" % kv for kv in sorted(codes.items())))
PY
run python3 "$T_ROOT/repeat.py"
expect_eq "$(cat "$OUT")" "201:200" "200 leases repeating one task and intent"
run "$AL" run --task "another task" -e T=prod-db -- true
expect_rc 0 "a run with a new task after 200 repeated ones"

"$AL" stop >>"$ALL_OUTPUT" 2>&1
check_no_leak "$PW"
done_testing

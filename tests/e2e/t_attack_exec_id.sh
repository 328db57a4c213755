#!/bin/bash
# An exec issuer that answers with the credential's value as its id (an
# API that revokes a token by the token): the id is stored on disk in the
# engine's state and given to the revoke command as $1, where any local
# user reads it in the process list.  Such an answer is refused: nothing is
# handed out, the value is written nowhere, and the credential is revoked
# by its name.  An id that does not hold the value still works.
. "$(dirname "$0")/lib.sh"
init_vault
ST="$T_ROOT/issuer-state"
mkdir -p "$ST"
BASE=$(canary)
cat >"$T_ROOT/issuer" <<ISSUER
#!/bin/sh
case "\$1" in
issue)
	v="$BASE-\$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	if [ -e "$ST/good" ]; then id="id-\$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	else id="revoke-me:\$v"; fi
	printf '{"value": "%s", "id": "%s"}\n' "\$v" "\$id" ;;
revoke)
	printf '%s\n' "\$2" | sed 's/$BASE/VALUE/' >>"$ST/revoked" ;;
esac
ISSUER
chmod 755 "$T_ROOT/issuer"
run "$AL" secret add tok --engine exec --issue "$T_ROOT/issuer issue" \
    --revoke "$T_ROOT/issuer revoke \"\$1\"" --timeout 5s --owner o --purpose p
expect_rc 0 "secret add --engine exec"

run "$AL" run -e T=tok -- sh -c 'echo "got $T"; sleep 0.3
	grep -rlaF "$1" "$AIRLOCK_HOME" | sed "s/^/on disk: /"' sh "$BASE"
grep -q "on disk" "$OUT" && fail "the value was stored on disk: $(grep "on disk" "$OUT")" || pass
expect_rc 125 "an answer whose id holds the value is refused"
expect_err "the issue command's id holds the credential's value"
grep -q "got" "$OUT" && fail "the command ran with the value" || pass
# Revoked by its name, never by the value.
n=0; while [ ! -s "$ST/revoked" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
case "$(cat "$ST/revoked" 2>/dev/null)" in
airlock_*) pass ;;
*) fail "the credential was not revoked by its name: $(cat "$ST/revoked" 2>/dev/null)" ;;
esac
grep -q VALUE "$ST/revoked" && fail "the revoke command was given the value" || pass

# An id of its own: issued, used, revoked by that id.
touch "$ST/good"
: >"$ST/revoked"
run "$AL" run -e T=tok -- sh -c 'echo "got $T"'
expect_rc 0 "an answer with an id of its own"
expect_out "got [REDACTED:tok]"
n=0; while [ ! -s "$ST/revoked" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
case "$(cat "$ST/revoked" 2>/dev/null)" in
id-*) pass ;;
*) fail "not revoked by its id: $(cat "$ST/revoked" 2>/dev/null)" ;;
esac

"$AL" stop >/dev/null 2>&1 || true
# No value anywhere under $AIRLOCK_HOME (engine state, logs) nor printed.
check_no_leak "$BASE"

echo "$T_NAME: $T_COUNT checks, $T_FAILS failures"
[ "$T_FAILS" -eq 0 ]

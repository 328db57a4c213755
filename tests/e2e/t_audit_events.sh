#!/bin/bash
# The events airlock records, three ways: the list in docs/audit.md, the
# names `airlock audit --event` knows (it warns about any other) and the
# names written in the code.  A new event must be in all three.
. "$(dirname "$0")/lib.sh"

DOC="$AIRLOCK_SRC/docs/audit.md"
SRC="$AIRLOCK_SRC/src"
init_vault

# Names in the table under "### Events": `name` in the first column.
documented=$(sed -n '/^### Events/,/^## /p' "$DOC" | grep '^| `' |
    cut -d'|' -f2 | grep -o '`[a-z_]*`' | tr -d '`' | sort -u)
n=$(printf '%s\n' "$documented" | grep -c .)
[ "$n" -ge 30 ] && pass || fail "docs/audit.md lists only $n events"

for ev in $documented; do
	run "$AL" audit --event "$ev"
	if grep -q "records no event" "$ERR"; then
		fail "audit --event $ev warns, but docs/audit.md lists it"
	else pass; fi
done
run "$AL" audit --event "grant,no_such_event"
expect_err "airlock records no event named 'no_such_event'"

# Names the code writes: a literal given to the broker's record functions
# or set as an audit event's name.
written=$(grep -rhoE '(record|record_fact)\([a-z_>.-]*, "[a-z_]+"|\.event = "[a-z_]+"|audit_step\(cli, v, "[a-z_]+"|(event|emit)\(c, "[a-z_]+"' \
    "$SRC" | grep -oE '"[a-z_]+"$' | tr -d '"' | sort -u)
n=$(printf '%s\n' "$written" | grep -c .)
[ "$n" -ge 20 ] && pass || fail "found only $n event names in the code"
for ev in $written; do
	if printf '%s\n' "$documented" | grep -qx "$ev"; then pass; else
		fail "the code records '$ev', which docs/audit.md does not list"
	fi
done
done_testing

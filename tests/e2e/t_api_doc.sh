#!/bin/bash
# Every example in docs/api.md, run in order against a fresh broker: each
# ```sh block is sourced into one shell (so LEASE, APPROVAL carry over) and
# the status of its last curl must be the block's "# => NNN".
. "$(dirname "$0")/lib.sh"

DOC="$AIRLOCK_SRC/docs/api.md"
[ -f "$DOC" ] || DOC="$(dirname "$0")/../../docs/api.md"
init_vault
V1=$(canary); V2=$(canary)
add_secret deploy-token "$V1"
add_secret prod-db "$V2" --label approval=required
run "$AL" lease ls
expect_rc 0 "autostart"
PIN="pin-$RANDOM-$RANDOM"
set_approver_pin "$PIN"

# Split the doc into blocks: block N in $T_ROOT/blk.N, its status in .want.
python3 - "$DOC" "$T_ROOT" <<'PY'
import re, sys
doc = open(sys.argv[1]).read()
n = 0
for m in re.finditer(r"```sh\n(.*?)```", doc, re.S):
    body = m.group(1)
    w = re.search(r"^# => (\d{3})$", body, re.M)
    open("%s/blk.%d" % (sys.argv[2], n), "w").write(body)
    open("%s/blk.%d.want" % (sys.argv[2], n), "w").write(w.group(1) if w else "")
    n += 1
PY
NB=$(ls "$T_ROOT"/blk.*.want | wc -l)
[ "$NB" -ge 20 ] && pass || fail "only $NB examples found in $DOC"
# curl as the doc writes it, also recording the status of each call.
# Each in a session of its own, as separate terminals would be: an approval
# from the requester's own session is refused.
curl() { setsid -w curl -w '%{stderr}%{http_code}\n' "$@" 2>>"$T_ROOT/codes"; }
for i in $(seq 0 $((NB - 1))); do
	: >"$T_ROOT/codes"
	. "$T_ROOT/blk.$i" >>"$ALL_OUTPUT"
	want=$(cat "$T_ROOT/blk.$i.want")
	[ -z "$want" ] && continue
	expect_eq "$(tail -1 "$T_ROOT/codes")" "$want" "docs/api.md example $i: $(grep -m1 -o 'http://airlock[^ "]*' "$T_ROOT/blk.$i")"
done
expect_eq "${#LEASE}" 32 "the lease example set LEASE"
expect_eq "${#APPROVAL}" 32 "the approval example set APPROVAL"
check_no_leak "$V1"
check_no_leak "$V2"
done_testing

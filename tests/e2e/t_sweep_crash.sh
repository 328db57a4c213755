#!/bin/bash
# airlock sweep --fix killed with SIGKILL at random moments over many files:
# every file is either its old or its new version, never a mix, and what a
# kill leaves beside it holds no value.
. "$(dirname "$0")/lib.sh"

init_vault
V=$(canary)
add_secret crash-token "$V"
N=60
SRC="$T_ROOT/src"
mkdir -p "$SRC"
# Sizes from a few bytes to ~300 KB so kills land inside writes.
python3 - "$SRC" "$V" "$N" <<'EOF'
import json, sys
d, v, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(1, n + 1):
	with open("%s/f%d.jsonl" % (d, i), "w") as f:
		for k in range((i * 37) % 400 + 1):
			f.write(json.dumps({"n": k, "t": "x" * (i * 13 % 700),
			    "v": v if k % 50 == 0 else "-"}) + "\n")
EOF

# The new versions, from an uninterrupted run.
cp -r "$SRC" "$T_ROOT/new"
t0=$(date +%s%N)
run "$AL" sweep --fix --no-mark --no-rules "$T_ROOT/new"
expect_rc 1 "reference fix"
# Kills land within the time a whole sweep took here (a fixed window would
# miss it on a machine much faster or slower than this one).
took=$((($(date +%s%N) - t0) / 1000000))
[ "$took" -ge 2 ] || took=2
n=$(grep -c "(known value), masked" "$OUT")
[ "$n" -ge "$N" ] && pass || fail "reference: $n masks"

WORK="$T_ROOT/work"
mixed=0
for round in $(seq 8); do
	rm -rf "$WORK"
	cp -r "$SRC" "$WORK"
	"$AL" sweep --fix --no-mark --no-rules "$WORK" >/dev/null 2>&1 &
	pid=$!
	d=$((RANDOM % took))
	sleep "$((d / 1000)).$(printf "%03d" $((d % 1000)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	old=0 new=0
	for i in $(seq $N); do
		if cmp -s "$WORK/f$i.jsonl" "$SRC/f$i.jsonl"; then
			old=$((old + 1))
		elif cmp -s "$WORK/f$i.jsonl" "$T_ROOT/new/f$i.jsonl"; then
			new=$((new + 1))
		else
			fail "round $round: f$i.jsonl is neither old nor new"
		fi
	done
	[ $old -gt 0 ] && [ $new -gt 0 ] && mixed=$((mixed + 1))
	# Stray temporary files hold masked bytes only.
	if grep -rqaF -- "$V" $(find "$WORK" -name '*airlock-sweep*') /dev/null
	then fail "round $round: a temporary file holds the value"; else pass; fi
done
echo "t_sweep_crash: $mixed of 8 kills landed mid-sweep"
[ $mixed -gt 0 ] && pass || fail "no kill landed mid-sweep"

# The next sweep finishes the job.
run "$AL" sweep --fix --no-mark --no-rules "$WORK"
for i in $(seq $N); do
	cmp -s "$WORK/f$i.jsonl" "$T_ROOT/new/f$i.jsonl" ||
	    fail "f$i.jsonl not fixed by the second run"
done
pass
check_no_leak "$V" "$T_ROOT/new"

done_testing

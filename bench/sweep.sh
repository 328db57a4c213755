#!/bin/sh
# airlock sweep throughput over a synthetic home (Claude Code transcripts,
# Codex sessions, a bash history) holding 100 live secrets, beside
# `airlock scan` on the same bytes.
# Usage: bench/sweep.sh [MB]   (default 1024; AIRLOCK_BUILD: build directory)
set -eu
BUILD=${AIRLOCK_BUILD:-build}
MB=${1:-1024}
AL="$(cd "$BUILD" && pwd)/src/cli/airlock"
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/airlock-bench-sweep.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT
trap 'exit 130' INT TERM HUP PIPE	# sh runs no EXIT trap on a signal
export AIRLOCK_HOME="$ROOT/airlock" AIRLOCK_SOCKET="$ROOT/airlock/s.sock"
export HOME="$ROOT/home"
"$AL" init >/dev/null 2>&1
i=0
while [ $i -lt 100 ]; do
	head -c 24 /dev/urandom | base64 | tr -d '\n' >"$ROOT/v$i"
	"$AL" secret add "bench-$i" --owner bench --purpose benchmark \
	    --value-file "$ROOT/v$i" >/dev/null
	i=$((i + 1))
done
# Transcript-like JSON lines; one value in some encoding every ~2 MB.
python3 - "$HOME" "$MB" "$ROOT" <<'PY'
import base64, json, os, random, sys
home, mb, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
vals = [open("%s/v%d" % (root, i)).read() for i in range(100)]
words = ("the build failed because the test expected a different value "
         "retry with verbose output and check the log for details").split()
rnd = random.Random(7)
block = "".join(json.dumps({"type": "assistant", "message": {"content":
    " ".join(rnd.choice(words) for _ in range(rnd.randint(5, 60)))}}) + "\n"
    for _ in range(4000))
dirs = [os.path.join(home, ".claude/projects/-w"),
        os.path.join(home, ".codex/sessions/2026/12")]
for d in dirs:
	os.makedirs(d, exist_ok=True)
total, n = 0, 0
while total < mb * 1024 * 1024:
	d = dirs[n % 2]
	with open(os.path.join(d, "s%05d.jsonl" % n), "w") as f:
		for k in range(8):
			f.write(block)
			v = vals[rnd.randrange(100)]
			form = rnd.randrange(3)
			v = v if form == 0 else base64.b64encode(v.encode()).decode() if form == 1 else json.dumps(v)[1:-1]
			f.write(json.dumps({"type": "tool_result", "content": "token " + v}) + "\n")
		total += f.tell()
	n += 1
with open(os.path.join(home, ".bash_history"), "w") as f:
	f.write("ls\n" * 1000)
PY
bytes=$(du -sb "$HOME" | cut -f1)
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }')
cd "$ROOT"
# Warm up: the compiled rule database is cached on first use.
mkdir -p "$ROOT/empty"
"$AL" sweep --no-mark "$ROOT/empty" >/dev/null 2>&1 || true
"$AL" scan --no-config "$ROOT/empty" >/dev/null 2>&1 || true
echo "sweep vs scan over $mb MB, 100 secrets ($(nproc) cores):"
t0=$(date +%s.%N)
"$AL" sweep --no-mark >/dev/null 2>"$ROOT/sweep.err" || true
t1=$(date +%s.%N)
"$AL" scan --no-config --no-ignore --max-size 1G "$HOME" >/dev/null 2>"$ROOT/scan.err" || true
t2=$(date +%s.%N)
tail -1 "$ROOT/sweep.err"; tail -1 "$ROOT/scan.err"
awk -v a="$t0" -v b="$t1" -v c="$t2" -v m="$mb" 'BEGIN {
	printf "  airlock sweep  %6.2f s  %7.0f MB/s\n", b - a, m / (b - a)
	printf "  airlock scan   %6.2f s  %7.0f MB/s\n", c - b, m / (c - b)
}'

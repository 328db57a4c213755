#!/bin/sh
# The cost of the exec boundary (exec_run, the core of `airlock run`):
#   - added latency on `true`: median of exec_run against fork+execve+waitpid;
#   - throughput of `cat` on a 1 GiB file through exec_run with a
#     pass-through filter, against `cat FILE | cat` (target ratio >= 0.5).
# Needs a build ($AIRLOCK_BUILD, default ./build).  BENCH_EXEC_MB sets the
# file size (default 1024), BENCH_EXEC_RUNS the number of `true` runs.
set -eu
cd "$(dirname "$0")/.."
BUILD=${AIRLOCK_BUILD:-build}
DRIVER="$BUILD/bench/exec_bench"
MB=${BENCH_EXEC_MB:-1024}
RUNS=${BENCH_EXEC_RUNS:-300}
[ -x "$DRIVER" ] || { echo "exec.sh: $DRIVER missing (build first)" >&2; exit 2; }

dir=/dev/shm
[ -d "$dir" ] && [ -w "$dir" ] || dir=${TMPDIR:-/tmp}
file=$(mktemp "$dir/airlock-bench-exec.XXXXXX")
trap 'rm -f "$file"' EXIT
trap 'exit 130' INT TERM HUP PIPE	# sh runs no EXIT trap on a signal
yes 'INFO 2024-05-01T12:00:00Z request id=42 path=/api/v1/items status=200' |
	head -c "$((MB * 1024 * 1024))" >"$file"

"$DRIVER" true "$RUNS"

ms() { echo $(( $(date +%s%N) / 1000000 )); }
# best of three, in ms
best() {
	b=""
	for _ in 1 2 3; do
		t0=$(ms)
		sh -c "$1" >/dev/null
		t=$(( $(ms) - t0 ))
		if [ -z "$b" ] || [ "$t" -lt "$b" ]; then b=$t; fi
	done
	echo "$b"
}
base=$(best "cat '$file' | cat")
raw=$(best "'$DRIVER' catraw '$file'")
pass=$(best "'$DRIVER' cat '$file'")
mbps() { awk -v mb="$MB" -v ms="$1" 'BEGIN { printf "%.0f", mb / (ms / 1000) }'; }
echo "cat ${MB} MiB: cat|cat ${base} ms ($(mbps "$base") MiB/s)," \
	"exec_run no filter ${raw} ms ($(mbps "$raw") MiB/s)," \
	"pass-through filter ${pass} ms ($(mbps "$pass") MiB/s)"
awk -v b="$base" -v p="$pass" 'BEGIN { printf "cat throughput ratio (exec_run pass-through / cat|cat): %.2f (target >= 0.5)\n", b / p }'

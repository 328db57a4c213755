#!/bin/sh
# The cost of `airlock run` against a running broker (issue 4 figures):
#   - added latency: wall time of `airlock run -e T=secret -- true` minus
#     that of `true` measured in the same run (both started the same way,
#     alternating), median and 90th percentile, with scanner rules on (the
#     default) and with --no-rules; CPU time per run too;
#   - throughput: `airlock run -e ... -- cat FILE` with the most secrets a
#     run may bind (EXEC_VARS_MAX, 64) of 100 live ones, against
#     `cat FILE | cat`, on a 1 GiB file (target ratio >= 0.5).
# Usage: bench/run.sh   ($AIRLOCK_BUILD: build directory, default ./build;
# BENCH_RUN_N: runs per latency figure, default 100; BENCH_RUN_MB: file size,
# default 1024; BENCH_RUN_SKIP_CAT=1: latency only).
set -eu
cd "$(dirname "$0")/.."
BUILD=${AIRLOCK_BUILD:-build}
AL=$(cd "$BUILD/src/cli" && pwd)/airlock
N=${BENCH_RUN_N:-100}
MB=${BENCH_RUN_MB:-1024}
[ -x "$AL" ] || { echo "run.sh: $AL missing (build first)" >&2; exit 2; }

export AIRLOCK_HOME
AIRLOCK_HOME=$(mktemp -d "${TMPDIR:-/tmp}/airlock-bench-run.XXXXXX")
export AIRLOCK_SOCKET="$AIRLOCK_HOME/airlockd.sock"
dir=/dev/shm
[ -d "$dir" ] && [ -w "$dir" ] || dir=${TMPDIR:-/tmp}
file=$(mktemp "$dir/airlock-bench-run.XXXXXX")
cleanup() {
	[ -f "$AIRLOCK_HOME/airlockd.pid" ] &&
		kill "$(cat "$AIRLOCK_HOME/airlockd.pid")" 2>/dev/null || true
	sleep 0.3
	rm -rf "$AIRLOCK_HOME" "$file"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE	# sh runs no EXIT trap on a signal
"$AL" init >/dev/null
i=1
while [ "$i" -le 100 ]; do
	head -c 24 /dev/urandom | base64 | "$AL" secret add "bench-$i" \
	    --owner bench --purpose benchmark >/dev/null
	i=$((i + 1))
done
"$AL" lease ls >/dev/null	# starts the broker

# ms of wall and CPU (user+sys of children) for one run of "$@"
now_ns() { date +%s%N; }
one() {
	t0=$(now_ns)
	"$@" >/dev/null
	echo $(( ($(now_ns) - t0) / 1000 ))
}
# median and 90th percentile of N runs, in microseconds; the two commands
# alternate so that the load of the machine weighs on both alike.
pct() {
	sort -n | awk -v p="$1" '{ v[NR] = $1 }
	    END { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print v[i] }'
}
latency() {
	label=$1
	shift
	: >"$AIRLOCK_HOME/a" && : >"$AIRLOCK_HOME/b"
	k=0
	while [ "$k" -lt "$N" ]; do
		one true >>"$AIRLOCK_HOME/a"
		one "$@" >>"$AIRLOCK_HOME/b"
		k=$((k + 1))
	done
	a=$(pct 50 <"$AIRLOCK_HOME/a")
	b=$(pct 50 <"$AIRLOCK_HOME/b")
	a9=$(pct 90 <"$AIRLOCK_HOME/a")
	b9=$(pct 90 <"$AIRLOCK_HOME/b")
	# CPU (user + system, the broker's not included) over 20 runs, as
	# /usr/bin/time counts in 10 ms steps.
	cpu=$( { /usr/bin/time -f "%U %S" sh -c \
	    'for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	    "$@" >/dev/null; done' sh "$@"; } 2>&1 | tail -1 |
	    awk '{ printf "%.1f", ($1 + $2) * 1000 / 20 }')
	awk -v l="$label" -v a="$a" -v b="$b" -v a9="$a9" -v b9="$b9" \
	    -v c="$cpu" -v n="$N" 'BEGIN {
	    printf "%-34s median %6.1f ms (true %.1f ms): added %6.1f ms; " \
	    "p90 %6.1f ms (true %.1f ms): added %6.1f ms (target <= 10); " \
	    "CPU %s ms a run; %d runs each\n", l, b / 1000, a / 1000, (b - a) / 1000,
	    b9 / 1000, a9 / 1000, (b9 - a9) / 1000, c, n }'
}
echo "airlock run against a running broker ($(nproc) cores, load" \
    "$(cut -d' ' -f1 /proc/loadavg)):"
latency "run -e T=bench-1 -- true" "$AL" run -e T=bench-1 -- true
latency "run --no-rules -e T=bench-1 -- true" "$AL" run --no-rules \
    -e T=bench-1 -- true
# Memory-protection work of one run (each guarded allocation maps guard
# pages, locks and later unlocks and unmaps its region), when strace is
# there to count it.
if command -v strace >/dev/null 2>&1; then
	strace -f -c -o "$AIRLOCK_HOME/strace" "$AL" run -e T=bench-1 -- true \
	    >/dev/null 2>&1 || true
	# Columns: % time, seconds, usecs/call, calls, [errors,] syscall.
	awk '$NF ~ /^(mmap|munmap|mprotect|mlock|munlock|madvise)$/ {
	    n[$NF] = $4 }
	    END { printf "one run -e T=bench-1 -- true (strace -c -f): mmap " \
	    "%d, munmap %d, mprotect %d, mlock %d, munlock %d, madvise %d\n",
	    n["mmap"], n["munmap"], n["mprotect"], n["mlock"], n["munlock"],
	    n["madvise"] }' "$AIRLOCK_HOME/strace"
fi

[ "${BENCH_RUN_SKIP_CAT:-0}" = 1 ] && exit 0
yes 'INFO 2024-05-01T12:00:00Z request id=42 path=/api/v1/items status=200' |
	head -c "$((MB * 1024 * 1024))" >"$file"
set --
i=1
while [ "$i" -le 64 ]; do
	set -- "$@" -e "V$i=bench-$i"
	i=$((i + 1))
done
ms_of() {
	t0=$(now_ns)
	sh -c "$1" >/dev/null
	echo $(( ($(now_ns) - t0) / 1000000 ))
}
best() {
	b=""
	for _ in 1 2; do
		t=$(ms_of "$1")
		if [ -z "$b" ] || [ "$t" -lt "$b" ]; then b=$t; fi
	done
	echo "$b"
}
base=$(best "cat '$file' | cat")
args=$*
run=$(best "'$AL' run $args -- cat '$file'")
runnr=$(best "'$AL' run --no-rules $args -- cat '$file'")
awk -v mb="$MB" -v b="$base" -v r="$run" -v n="$runnr" 'BEGIN {
    printf "cat %d MiB, 64 of 100 live secrets bound: cat|cat %d ms " \
    "(%.0f MiB/s); airlock run %d ms (%.0f MiB/s, ratio %.2f); " \
    "--no-rules %d ms (%.0f MiB/s, ratio %.2f) (target ratio >= 0.5)\n",
    mb, b, mb / (b / 1000), r, mb / (r / 1000), b / r, n,
    mb / (n / 1000), b / n }'

#!/bin/sh
# The floor under bench/broker.sh: the same load (bench_broker's lean
# clients, full lease cycles at 1, 16 and 128 clients) against
# bench_http_floor, a server that does nothing but the HTTP transport, in
# each of its modes:
#   mhd        libmicrohttpd driven exactly as the broker drives it
#   mhd+sync   the same, each value and revoke waiting for a group-committed
#              fdatasync of a log line, as the broker's do
#   raw        a bare epoll loop, no HTTP library
#   raw+sync   the same, with the synced log
# One line per mode and client count (and, with the synced log, what its
# fdatasync rounds did); the load average before each mode and at the end.
# Builds nothing: needs bench_broker and bench_http_floor in $AIRLOCK_BUILD
# (default ./build).
# Usage: bench/http_floor.sh [SECONDS-PER-RUN]   (default 10)
set -eu
cd "$(dirname "$0")/.."
BUILD=${AIRLOCK_BUILD:-build}
SECS=${1:-10}
LOAD="$BUILD/bench/bench_broker"
FLOOR="$BUILD/bench/bench_http_floor"
for b in "$LOAD" "$FLOOR"; do
	[ -x "$b" ] || { echo "http_floor.sh: $b missing (build first)" >&2; exit 2; }
done

# The temporary directory is where bench/broker.sh puts the broker's state,
# so that the synced log pays for the same file system.
dir=""
pid=""
stop() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	pid=""
}
# shellcheck disable=SC2317 # called from the trap
cleanup() {
	stop
	[ -n "$dir" ] && rm -rf "$dir"
	dir=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A fresh server for each run, so that what it says of its log at exit
# (fdatasync rounds and times) is that run's.
start() {
	dir=$(mktemp -d "${TMPDIR:-/tmp}/airlock-bench-floor.XXXXXX")
	# shellcheck disable=SC2086 # flags are words
	"$FLOOR" $1 "$dir" 2>"$dir/floor.err" &
	pid=$!
	i=0
	while [ ! -S "$dir/airlockd.sock" ] || [ ! -s "$dir/airlockd.pid" ]; do
		i=$((i + 1))
		if [ "$i" -gt 50 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "http_floor.sh: bench_http_floor $1 did not start:" >&2
			cat "$dir/floor.err" >&2
			exit 2
		fi
		sleep 0.1
	done
}

echo "transport floor ($(nproc) cores, $(df -T "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2}'), ${SECS} s per run)"
rc=0
for mode in mhd mhd+sync raw raw+sync; do
	case $mode in
	mhd)		flags="" ;;
	mhd+sync)	flags="--sync" ;;
	raw)		flags="--raw" ;;
	raw+sync)	flags="--raw --sync" ;;
	esac
	echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	for c in 1 16 128; do
		start "$flags"
		# bench_broker prints a figures line and a CPU line: join them.
		# Without figures (it printed none and failed), say so.
		if out=$("$LOAD" "$dir" bench-token "$c" "$SECS"); then :; else
			rc=1
		fi
		stop
		# cycles/s of this mode and client count, for the ratios below
		eval "cps_$(printf '%s' "$mode" | tr '+' '_')_$c=$(printf '%s\n' \
		    "$out" | awk 'NR == 1 { for (i = 1; i <= NF; i++)
		    if ($i == "cycles/s,") r = $(i - 1) } END { print r + 0 }')"
		printf '%s\n' "$out" | awk -v m="$mode" -v c="$c" '
		    NR == 1 { line = substr($0, index($0, ":") + 1)
			sub(/, broker RSS.*/, "", line); gsub(/  +/, " ", line) }
		    NR == 2 { sub(/.*broker /, "")
			line = line ", CPU/cycle server " $0 }
		    END { if (line == "") line = " no figures: bench_broker failed"
			printf "%-8s %3d clients:%s\n", m, c, line }'
		sed 's/^/                 /' "$dir/floor.err"
		rm -rf "$dir"
		dir=""
	done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# What libmicrohttpd costs against the bare loop, with and without the
# synced log (1.00: nothing measurable).
for c in 1 16 128; do
	eval "a=\$cps_mhd_$c b=\$cps_raw_$c s=\$cps_mhd_sync_$c t=\$cps_raw_sync_$c"
	awk -v c="$c" -v a="$a" -v b="$b" -v s="$s" -v t="$t" 'BEGIN {
	    printf "ratio mhd/raw, %3d clients: %.2f; with the synced log %.2f\n",
	    c, (b > 0 ? a / b : 0), (t > 0 ? s / t : 0) }'
done
exit "$rc"

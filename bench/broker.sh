#!/bin/sh
# Full lease cycles (request -> use -> revoke) per second and latency with
# 1, 16 and 128 concurrent clients, durable audit on; broker RSS before and
# after each run; after each, the same load against the transport floor
# (bench_http_floor --sync) and the ratios to it.  Where perf can count
# them, also the system calls each server makes per cycle.
# Usage: bench/broker.sh [SECONDS-PER-RUN]   (AIRLOCK_BUILD: build directory,
# MEM_CYCLES: cycles of the memory check, default 1000000; 0 skips it;
# SYSCALLS=0: no system call counts)
set -eu
BUILD=${AIRLOCK_BUILD:-build}
SECS=${1:-10}
AL="$BUILD/src/cli/airlock"
export AIRLOCK_HOME
AIRLOCK_HOME=$(mktemp -d "${TMPDIR:-/tmp}/airlock-bench-broker.XXXXXX")
export AIRLOCK_SOCKET="$AIRLOCK_HOME/airlockd.sock"
cleanup() {
	[ -f "$AIRLOCK_HOME/airlockd.pid" ] &&
		kill "$(cat "$AIRLOCK_HOME/airlockd.pid")" 2>/dev/null || true
	sleep 0.3
	rm -rf "$AIRLOCK_HOME"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE	# sh runs no EXIT trap on a signal
"$AL" init >/dev/null
head -c 24 /dev/urandom | base64 | "$AL" secret add bench-token --owner bench --purpose benchmark >/dev/null
"$AL" lease ls >/dev/null	# starts the broker
# The floor, measured in the same run right after each broker run: the
# same load against bench_http_floor --sync, the HTTP transport and a
# group-committed fdatasync'd log and nothing else (see http_floor.sh).
# FLOOR=0 skips it.
FLOOR=${FLOOR:-1}
fdir=""
fpid=""
floor_stop() {
	if [ -n "$fpid" ]; then
		kill "$fpid" 2>/dev/null || true
		wait "$fpid" 2>/dev/null || true
	fi
	fpid=""
	[ -n "$fdir" ] && rm -rf "$fdir"
	fdir=""
}
trap 'floor_stop; cleanup' EXIT
# System calls per cycle of the server under test, counted by perf.
SYSCALLS=${SYSCALLS:-1}
if [ "$SYSCALLS" = 1 ] && ! perf stat -e raw_syscalls:sys_enter \
    -o /dev/null true >/dev/null 2>&1; then
	SYSCALLS=0
fi
# bench DIR CLIENTS: bench_broker's two lines against the server whose
# socket and pid file are in DIR, then (counted) its system calls per cycle.
bench() {
	spid=$(cat "$1/airlockd.pid")
	if [ "$SYSCALLS" = 1 ]; then
		perf stat -x, -e raw_syscalls:sys_enter -p "$spid" \
		    -o "$1/syscalls" 2>/dev/null &
		cpid=$!
		sleep 0.2
	fi
	brc=0
	bout=$("$BUILD/bench/bench_broker" "$1" bench-token "$2" "$SECS") ||
	    brc=$?
	printf '%s\n' "$bout"
	if [ "$SYSCALLS" = 1 ]; then
		kill -INT "$cpid" 2>/dev/null || true
		wait "$cpid" 2>/dev/null || true
		n=$(printf '%s\n' "$bout" | awk 'NR == 1 {print $3}')
		awk -F, -v n="${n:-0}" '$3 ~ /raw_syscalls/ && n > 0 {
		    printf "              system calls per cycle: %.0f\n",
		    $1 / n }' "$1/syscalls"
	fi
	return "$brc"
}
floor_run() {
	fdir=$(mktemp -d "${TMPDIR:-/tmp}/airlock-bench-floor.XXXXXX")
	"$BUILD/bench/bench_http_floor" --sync "$fdir" 2>"$fdir/floor.err" &
	fpid=$!
	i=0
	while [ ! -S "$fdir/airlockd.sock" ] || [ ! -s "$fdir/airlockd.pid" ]; do
		i=$((i + 1))
		if [ "$i" -gt 50 ] || ! kill -0 "$fpid" 2>/dev/null; then
			echo "broker.sh: bench_http_floor did not start" >&2
			floor_stop
			return 1
		fi
		sleep 0.1
	done
	bench "$fdir" "$1" || true
	floor_stop
}
# "cycles/s p99-ms broker-CPU-us syscalls" from bench's lines.
figures() {
	awk 'NR == 1 { for (i = 1; i <= NF; i++) {
		if ($i == "cycles/s,") r = $(i - 1)
		if ($i == "p99") p = $(i + 1) } }
	    NR == 2 { for (i = 1; i <= NF; i++) if ($i == "broker") c = $(i + 1) }
	    /system calls per cycle:/ { s = $NF }
	    END { print r + 0, p + 0, c + 0, s + 0 }'
}
echo "broker lease cycles ($(nproc) cores, $(df -T "$AIRLOCK_HOME" | awk 'NR==2 {print $2}'), ${SECS} s per run):"
for c in 1 16 128; do
	out=$(bench "$AIRLOCK_HOME" "$c")
	printf '%s\n' "$out"
	[ "$FLOOR" = 1 ] || continue
	fout=$(floor_run "$c")
	printf '%s\n' "$fout" | sed 's/^clients/floor  /'
	b=$(printf '%s\n' "$out" | figures)
	f=$(printf '%s\n' "$fout" | figures)
	echo "$b $f" | awk -v c="$c" '$5 > 0 && $6 > 0 && $7 > 0 {
	    printf "ratio to the floor, %d clients: cycles/s %.2f " \
	    "(%d vs %d), p99 %.2fx (%.2f vs %.2f ms), broker CPU per " \
	    "cycle %.2fx (%d vs %d us)", c, $1 / $5, $1, $5, $2 / $6, $2,
	    $6, $3 / $7, $3, $7
	    if ($4 > 0 && $8 > 0)
		printf ", system calls per cycle %.1fx (%d vs %d)", $4 / $8,
		    $4, $8
	    printf "\n" }'
done
# Memory: keep going on the same broker until MEM_CYCLES cycles in all have
# run (default one million); its RSS should stay where it was.
MEM_CYCLES=${MEM_CYCLES:-1000000}
echo "memory check: 16 clients until $MEM_CYCLES cycles on the same broker"
total=0
rss() { awk '/VmRSS/ {print $2}' "/proc/$(cat "$AIRLOCK_HOME/airlockd.pid")/status"; }
first=$(rss)
while [ "$total" -lt "$MEM_CYCLES" ]; do
	n=$("$BUILD/bench/bench_broker" "$AIRLOCK_HOME" bench-token 16 30 |
	    awk 'NR == 1 {print $3}')
	total=$((total + n))
	echo "  $total cycles: broker RSS $(rss) kB (lease table $(du -ck "$AIRLOCK_HOME"/leases.db* | tail -1 | cut -f1) kB)" >&2
done
echo "memory: broker RSS $first kB before, $(rss) kB after $total more cycles"
echo "audit lines: $(wc -l <"$AIRLOCK_HOME/audit.log")"
"$AL" audit verify

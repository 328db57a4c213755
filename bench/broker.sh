#!/bin/sh
# Full lease cycles (request -> use -> revoke) per second and latency with
# 1, 16 and 128 concurrent clients, durable audit on; broker RSS before and
# after each run.
# Usage: bench/broker.sh [SECONDS-PER-RUN]   (AIRLOCK_BUILD: build directory,
# MEM_CYCLES: cycles of the memory check, default 1000000; 0 skips it)
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
"$AL" init >/dev/null
head -c 24 /dev/urandom | base64 | "$AL" secret add bench-token --owner bench --purpose benchmark >/dev/null
"$AL" lease ls >/dev/null	# starts the broker
echo "broker lease cycles ($(nproc) cores, $(df -T "$AIRLOCK_HOME" | awk 'NR==2 {print $2}'), ${SECS} s per run):"
for c in 1 16 128; do
	"$BUILD/bench/bench_broker" "$AIRLOCK_HOME" bench-token "$c" "$SECS"
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

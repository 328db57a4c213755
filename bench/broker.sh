#!/bin/sh
# Full lease cycles (request -> use -> revoke) per second and latency with
# 1, 16 and 128 concurrent clients, durable audit on; broker RSS before and
# after each run.
# Usage: bench/broker.sh [SECONDS-PER-RUN]   (AIRLOCK_BUILD: build directory,
# MEMRUNS: extra 16-client runs for the memory check, default 3)
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
# Memory: more cycles on the same broker; RSS should stay where it was.
echo "memory check (same broker, ${MEMRUNS:-3} more runs of 16 clients):"
for _ in $(seq "${MEMRUNS:-3}"); do
	"$BUILD/bench/bench_broker" "$AIRLOCK_HOME" bench-token 16 "$SECS"
done
echo "audit lines: $(wc -l <"$AIRLOCK_HOME/audit.log")"
"$AL" audit verify

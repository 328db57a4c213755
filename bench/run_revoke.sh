#!/bin/bash
# How soon `airlock run` ends its command once its lease is revoked: the
# wall time from starting `airlock lease revoke ID` to the run's exit (a
# command SIGTERM ends: `sh -c 'sleep 30'`), and the time the revoke
# command itself took, N times (BENCH_REVOKE_N, default 20); median and
# maximum of each.  Usage: bench/run_revoke.sh  ($AIRLOCK_BUILD: build
# directory, default ./build).
set -eu
cd "$(dirname "$0")/.."
BUILD=${AIRLOCK_BUILD:-build}
AL=$(cd "$BUILD/src/cli" && pwd)/airlock
N=${BENCH_REVOKE_N:-20}
[ -x "$AL" ] || { echo "run_revoke.sh: $AL missing (build first)" >&2; exit 2; }
export AIRLOCK_HOME
AIRLOCK_HOME=$(mktemp -d "${TMPDIR:-/tmp}/airlock-bench-revoke.XXXXXX")
export AIRLOCK_SOCKET="$AIRLOCK_HOME/airlockd.sock"
cleanup() {
	[ -f "$AIRLOCK_HOME/airlockd.pid" ] &&
		kill "$(cat "$AIRLOCK_HOME/airlockd.pid")" 2>/dev/null || true
	sleep 0.3
	rm -rf "$AIRLOCK_HOME"
}
trap cleanup EXIT
"$AL" init >/dev/null 2>&1
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' |
    "$AL" secret add bench-token --owner bench --purpose bench >/dev/null 2>&1
live() {
	"$AL" lease ls --json | python3 -c 'import json,sys
print(" ".join(l["id"] for l in json.load(sys.stdin) if l["state"] == "live"))'
}
: >"$AIRLOCK_HOME/times"
for _ in $(seq "$N"); do
	"$AL" run -e T=bench-token -- sh -c 'sleep 30' >/dev/null 2>&1 &
	p=$!
	id=
	for _ in $(seq 500); do id=$(live); [ -n "$id" ] && break; sleep 0.01; done
	sleep 0.1
	t0=$(date +%s%N)
	"$AL" lease revoke "$id" >/dev/null 2>&1
	t1=$(date +%s%N)
	wait "$p" || true
	t2=$(date +%s%N)
	echo "$(( (t1 - t0) / 1000 )) $(( (t2 - t0) / 1000 ))" >>"$AIRLOCK_HOME/times"
done
python3 - "$AIRLOCK_HOME/times" <<'PY'
import statistics, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
for i, what in ((1, "revoke -> run exited"), (0, "the revoke command")):
    v = sorted(r[i] / 1000 for r in rows)
    print("%-22s median %.1f ms, max %.1f ms (%d runs)" %
          (what, statistics.median(v), v[-1], len(v)))
PY

#!/bin/bash
# From an agent hook seeing a value to access ended: N rounds, each a fresh
# secret whose lease a waiting `airlock run` holds; `airlock hook claude`
# sees the value in a tool's output.  Prints, per round, the hook's wall
# time (it answers the agent after the broker ended access) and the time to
# revoke the broker recorded, then the medians.
# Usage: bench/exposure.sh [N]   (default 20; AIRLOCK_BUILD: build directory)
set -eu
BUILD=${AIRLOCK_BUILD:-build}
N=${1:-20}
AL="$(cd "$BUILD" && pwd)/src/cli/airlock"
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/airlock-bench-exposure.XXXXXX")
RUNS=""
cleanup() {
	for p in $RUNS; do kill "$p" 2>/dev/null || true; done
	[ -f "$ROOT/a/airlockd.pid" ] && kill "$(cat "$ROOT/a/airlockd.pid")" 2>/dev/null
	rm -rf "$ROOT"
}
trap cleanup EXIT
export AIRLOCK_HOME="$ROOT/a" AIRLOCK_SOCKET="$ROOT/a/s.sock"
"$AL" init >/dev/null 2>&1
"$AL" lease ls >/dev/null 2>&1	# the broker is up
live() {
	"$AL" lease ls --json | python3 -c 'import json,sys
d = json.load(sys.stdin); d = d["leases"] if isinstance(d, dict) else d
print(sum(1 for l in d if l["secret"] == sys.argv[1] and l["state"] == "live"))' "$1"
}
i=0
while [ "$i" -lt "$N" ]; do
	head -c 24 /dev/urandom | base64 | tr -d '\n' >"$ROOT/v"
	"$AL" secret add "b-$i" --owner bench --purpose benchmark \
	    --value-file "$ROOT/v" >/dev/null 2>&1
	"$AL" run -e "T=b-$i" -- sleep 60 >/dev/null 2>&1 &
	RUNS="$RUNS $!"
	until [ "$(live "b-$i")" = 1 ]; do sleep 0.05; done
	printf '{"session_id":"s","transcript_path":"/dev/null","cwd":"/","hook_event_name":"PostToolUse","tool_name":"Bash","tool_input":{"command":"env"},"tool_response":{"stdout":"T=%s\\n","stderr":""},"tool_use_id":"t"}\n' \
	    "$(cat "$ROOT/v")" >"$ROOT/in"
	t0=$(date +%s%N)
	"$AL" hook claude <"$ROOT/in" >/dev/null 2>&1
	t1=$(date +%s%N)
	[ "$(live "b-$i")" = 0 ] || { echo "round $i: the lease is still live" >&2; exit 1; }
	echo "$(( (t1 - t0) / 1000 ))" >>"$ROOT/hook_us"
	i=$((i + 1))
done
"$AL" audit --json --event exposure_revoke | python3 -c 'import json,sys
for l in sys.stdin:
	if l.strip():
		print(json.loads(l)["detail"]["time_to_revoke_ms"])' >"$ROOT/ttr_ms"
python3 - "$ROOT/hook_us" "$ROOT/ttr_ms" <<'PY'
import statistics, sys
hook = [int(x) / 1000 for x in open(sys.argv[1])]
ttr = [int(x) for x in open(sys.argv[2])]
print("rounds %d: airlock hook claude (value seen, lease revoked) median %.1f ms, "
      "max %.1f ms; time to revoke in the broker median %d ms, max %d ms"
      % (len(hook), statistics.median(hook), max(hook),
         statistics.median(ttr), max(ttr)))
PY

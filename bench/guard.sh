#!/bin/sh
# Added latency of `airlock guard` (issue figures: a 200 KB request body
# with 100 live secrets, p50 <= 2 ms, p99 <= 10 ms; first streamed byte
# <= 1 ms added at p50), against the fake provider of the end-to-end tests
# directly.  Two bodies: one with no secret in it (the walk and the search
# alone) and one with 5 values to mask (masking, and the audit record each
# masked request costs).
# Usage: bench/guard.sh   ($AIRLOCK_BUILD: build directory, default ./build;
# BENCH_GUARD_N: requests per path, default 400)
set -eu
cd "$(dirname "$0")/.."
BUILD=${AIRLOCK_BUILD:-build}
AL=$(cd "$BUILD/src/cli" && pwd)/airlock
N=${BENCH_GUARD_N:-400}
[ -x "$AL" ] || { echo "guard.sh: $AL missing (build first)" >&2; exit 2; }

export AIRLOCK_HOME
AIRLOCK_HOME=$(mktemp -d "${TMPDIR:-/tmp}/airlock-bench-guard.XXXXXX")
export AIRLOCK_SOCKET="$AIRLOCK_HOME/airlockd.sock"
rec="$AIRLOCK_HOME/rec"
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	[ -f "$AIRLOCK_HOME/airlockd.pid" ] &&
		kill "$(cat "$AIRLOCK_HOME/airlockd.pid")" 2>/dev/null || true
	sleep 0.3
	rm -rf "$AIRLOCK_HOME"
}
trap cleanup EXIT INT TERM

"$AL" init >/dev/null 2>&1
mkdir -p "$rec" "$AIRLOCK_HOME/v"
i=0
while [ $i -lt 100 ]; do
	head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$AIRLOCK_HOME/v/$i"
	"$AL" secret add "bench-$i" --owner bench --purpose bench \
	    <"$AIRLOCK_HOME/v/$i" >/dev/null 2>&1
	i=$((i + 1))
done

FAKE_PROVIDER_PAUSE=0 python3 tests/e2e/helpers/fake_provider.py "$rec" \
    >"$AIRLOCK_HOME/fp" 2>/dev/null &
pids="$pids $!"
while [ ! -s "$AIRLOCK_HOME/fp" ]; do sleep 0.05; done
direct="http://127.0.0.1:$(head -1 "$AIRLOCK_HOME/fp")"
"$AL" guard --upstream "$direct" >"$AIRLOCK_HOME/g" 2>/dev/null &
pids="$pids $!"
while [ ! -s "$AIRLOCK_HOME/g" ]; do sleep 0.05; done
guard=$(head -1 "$AIRLOCK_HOME/g")

# A conversation of ~200 KB: turns of prose and tool results.
body() {	# body N-VALUES
	python3 - "$AIRLOCK_HOME/v" "$1" <<'PY'
import json, os, random, sys
random.seed(7)
vals = [open(os.path.join(sys.argv[1], str(i))).read() for i in range(int(sys.argv[2]))]
words = ("the build failed because the config file was missing a key so "
         "we retried with the staging credentials and it passed").split()
msgs = []
size = 0
k = 0
while size < 200 * 1024:
    text = " ".join(random.choice(words) for _ in range(300))
    if k < len(vals) and len(msgs) % 7 == 3:
        text += " TOKEN=" + vals[k] + "\n"
        k += 1
    if len(msgs) % 2:
        msgs.append({"role": "user", "content": [{"type": "tool_result",
                     "tool_use_id": "t%d" % len(msgs), "content": text}]})
    else:
        msgs.append({"role": "assistant", "content": [{"type": "text",
                     "text": text}]})
    size += len(text) + 100
b = json.dumps({"model": "m", "max_tokens": 1024, "messages": msgs})
sys.stdout.write(b)
PY
}
echo "guard: 100 live secrets, scanner rules on"
echo "-- no secret in the body"
body 0 | python3 bench/guard_client.py "$direct" "$guard" "$N"
echo "-- 5 secrets in the body (masked and audited)"
body 5 | python3 bench/guard_client.py "$direct" "$guard" "$((N / 4))"

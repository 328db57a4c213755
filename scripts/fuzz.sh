#!/bin/sh
# Run every fuzzer in BUILD_DIR for FUZZ_SECONDS (default 60) each, starting
# from its seed corpus in fuzz/corpus/<name>/.  Crashes land in fuzz/crashes/.
set -eu
build=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-60}
cd "$(dirname "$0")/.."
mkdir -p fuzz/crashes
status=0
for f in "$build"/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	corpus="fuzz/corpus/${name#fuzz_}"
	[ -d "$corpus" ] || corpus="fuzz/corpus/$(echo "${name#fuzz_}" | cut -d_ -f1)"
	work=$(mktemp -d)
	state=$(mktemp -d)	# the target's own files (TMPDIR), removed after
	[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
	echo "fuzz: $name for ${secs}s" >&2
	if ! TMPDIR="$state" "$f" -max_total_time="$secs" \
	    -artifact_prefix=fuzz/crashes/ "$work" >"$work.log" 2>&1; then
		tail -40 "$work.log" >&2
		status=1
	fi
	grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' "$work.log" >&2 || true
	rm -rf "$work" "$work.log" "$state"
done
exit $status

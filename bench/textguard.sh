#!/bin/sh
# The broker's free-text check: time to build the set of value hashes, and
# nanoseconds per checked field for texts of 14, 57 and 284 bytes, with 10,
# 100 and 1000 secrets in the vault.
# Usage: bench/textguard.sh [ITERATIONS]   (AIRLOCK_BUILD: build directory)
set -eu
BUILD=${AIRLOCK_BUILD:-build}
for n in 10 100 1000; do
	"$BUILD/bench/bench_textguard" "$n" "${1:-200000}"
done

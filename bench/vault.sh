#!/bin/sh
# Add and read 10,000 secrets through the vault; prints ops/s.
set -eu
: "${AIRLOCK_BUILD:=build}"
"$AIRLOCK_BUILD/bench/bench_vault" "${1:-10000}"

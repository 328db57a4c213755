#!/bin/sh
# Redactor throughput with 100 secrets and all their encodings (MB/s).
# Run by `make bench`; AIRLOCK_BUILD points at the build directory.
set -eu
: "${AIRLOCK_BUILD:=build}"
exec "$AIRLOCK_BUILD/bench/bench_redact" "${1:-256}"

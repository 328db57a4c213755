#!/bin/sh
# Audit log appends per second, with and without group commit.
# Usage: bench/audit.sh [N]   (AIRLOCK_BUILD: the build directory)
set -eu
BUILD=${AIRLOCK_BUILD:-build}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/airlock-bench-audit.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
trap 'exit 130' INT TERM HUP PIPE	# sh runs no EXIT trap on a signal
echo "audit log appends ($(df -T "$DIR" | awk 'NR==2 {print $2}') on $(uname -r)):"
"$BUILD/bench/bench_audit" "$DIR" "${1:-2000}"

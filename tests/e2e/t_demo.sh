#!/bin/bash
# `make demo` must keep working: run the tour and check it leaves nothing.
. "$(dirname "$0")/lib.sh"
before=$(ls -d "${TMPDIR:-/tmp}"/airlock-demo.* 2>/dev/null | wc -l)
AIRLOCK_BIN="$AL" run bash "$AIRLOCK_SRC/demo/tour.sh"
expect_rc 0 "demo/tour.sh"
expect_out "Tour complete"
after=$(ls -d "${TMPDIR:-/tmp}"/airlock-demo.* 2>/dev/null | wc -l)
expect_eq "$after" "$before" "temporary directories left by the demo"
done_testing

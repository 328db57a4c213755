#!/bin/bash
# `make demo` must keep working: run the tour and check it leaves nothing.
. "$(dirname "$0")/lib.sh"
# A temporary directory of its own: another demo running at the same time
# must not count as one left behind.
mkdir -m 700 "$T_ROOT/tmp"
AIRLOCK_BIN="$AL" TMPDIR="$T_ROOT/tmp" run bash "$AIRLOCK_SRC/demo/tour.sh"
expect_rc 0 "demo/tour.sh"
expect_out "Tour complete"
left=$(ls -A "$T_ROOT/tmp" | wc -l)
expect_eq "$left" 0 "files left by the demo in its temporary directory"
done_testing

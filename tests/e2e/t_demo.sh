#!/bin/bash
# `make demo` must keep working: run the tour (it checks what each step
# claims and fails otherwise) and check it leaves nothing behind: no
# directory, no process (its PostgreSQL cluster, its stand-in provider).
. "$(dirname "$0")/lib.sh"
# The tour's directories go into one of this test's own, so tours others run
# at the same time are not counted.  Others may traverse it (not list it):
# as root, the tour's PostgreSQL runs as nobody.
DEMO_TMP=$(mktemp -d "${TMPDIR:-/tmp}/airlock-e2e-demo.XXXXXX")
chmod 711 "$DEMO_TMP"
trap 'rm -rf "$DEMO_TMP"; t_cleanup' EXIT
TMPDIR="$DEMO_TMP" AIRLOCK_BIN="$AL" run bash "$AIRLOCK_SRC/demo/tour.sh"
expect_rc 0 "demo/tour.sh"
expect_out "Tour complete"
expect_out "DEPLOY_TOKEN=[REDACTED:deploy-token]" "the guard step"
expect_out "migration check: 1 pending" "the dynamic credential step"
expect_eq "$(ls -A "$DEMO_TMP")" "" "what the demo left in its temporary directory"
n=0
while pgrep -f "$DEMO_TMP/" >/dev/null && [ $n -lt 40 ]; do sleep 0.05; n=$((n + 1)); done
left=$(pgrep -af "$DEMO_TMP/")
expect_eq "$left" "" "processes the demo left running"
done_testing

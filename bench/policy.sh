#!/bin/sh
# Cost of one policy decision (printed, not asserted): the example team
# policy down to its last rule, and time windows evaluated through ICU.
set -eu
: "${AIRLOCK_BUILD:?AIRLOCK_BUILD must point at the build directory}"
cd "$(dirname "$0")/.."
B="$AIRLOCK_BUILD/bench/bench_policy"
D=tests/data/policy
AGENT="unix:uid:1000 unix:user:dev unix:exe:/usr/bin/bash unix:ancestor-exe:/usr/bin/bash unix:ancestor-exe:/home/dev/.local/bin/claude"
# shellcheck disable=SC2086
"$B" $D/team.yaml deploy-web $AGENT        # third rule
# shellcheck disable=SC2086
"$B" $D/team.yaml api-token $AGENT         # last rule
"$B" $D/team.yaml api-token unix:uid:4242  # default deny, every rule tried
"$B" $D/windows.yaml batch-1 unix:uid:1000 # two windows (ICU calendar)
"$B" $D/windows.yaml ny-1 unix:uid:1000    # three zones tried

#!/bin/bash
# Dynamic PostgreSQL credentials: create + revoke cycles per second at 1 and
# 8 concurrent tasks (durable audit on), beside a floor measured in the same
# run: the same SQL statements from a bare libpq loop.  A cycle through the
# broker is what `airlock run` does: a lease request that takes the value
# with the grant (the credential minted then), and the lease's revocation
# (bench_broker --with-value).  Then time-to-revoke
# (lease end -> role confirmed gone) p50 and p99, from the audit log.
# A throwaway cluster (tests/e2e/pglib.sh), removed at the end.
# Usage: bench/dynamic.sh [SECONDS-PER-RUN [ROUNDS]]   (AIRLOCK_BUILD: build dir)
# ROUNDS (default 1) alternates the floor and airlock that many times at
# each concurrency and prints each round's share and their median: on a
# machine whose other load comes and goes, one pair of runs can land on
# either side of it.
set -u
BUILD=$(cd "${AIRLOCK_BUILD:-build}" && pwd)
SECS=${1:-5}
ROUNDS=${2:-1}
export AIRLOCK_BIN="$BUILD/src/cli/airlock"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../tests/e2e/lib.sh"
. "$HERE/../tests/e2e/pglib.sh"
pg_start
PG_DB=postgres apsql -c "CREATE DATABASE app"
apsql -c "CREATE ROLE app_rw NOLOGIN; CREATE TABLE t (x int); GRANT SELECT ON t TO app_rw"
# The floor's roles and airlock's share nothing but the group.
init_vault
printf '%s\n' "$PG_ADMIN_PW" | "$AL" secret add app-db --engine postgres \
    --connection "$PG_CONN" --group app_rw --owner bench --purpose bench >/dev/null ||
	exit 1
"$AL" lease ls >/dev/null	# starts the broker
echo "dynamic PostgreSQL credentials ($(nproc) cores, PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'), ${SECS} s per run, log_statement=all):"
# PostgreSQL's own CPU per cycle, where a cpuacct cgroup can be made (root,
# cgroup v1): every server process in a group of its own, read around each
# run (the floor's backends, gone by then, are counted too).  Other
# PostgreSQL servers on the machine are not counted.
CG=""
if [ -w /sys/fs/cgroup/cpuacct ] && mkdir "/sys/fs/cgroup/cpuacct/airlock-bench-$$" 2>/dev/null; then
	CG=/sys/fs/cgroup/cpuacct/airlock-bench-$$
	# This cluster's only: its postmaster and the processes it started
	# (backends started later are its children, in its group too).
	PM=$(head -1 "$PG_DATA/postmaster.pid")
	for p in "$PM" $(pgrep -P "$PM"); do echo "$p" >"$CG/cgroup.procs"; done
	cg_done() {
		for p in $(cat "$CG/cgroup.procs"); do
			echo "$p" >/sys/fs/cgroup/cpuacct/cgroup.procs
		done 2>/dev/null
		rmdir "$CG"
	}
	trap 'cg_done; pg_cleanup' EXIT
fi
pg_cpu() {	# pg_cpu NS0 CYCLES: PostgreSQL's CPU per cycle since NS0
	[ -n "$CG" ] && [ "$2" -gt 0 ] && awk -v a="$1" -v b="$(cat "$CG/cpuacct.usage")" -v n="$2" \
	    'BEGIN { printf "              CPU per cycle: postgres %.0f us\n", (b - a) / 1e3 / n }'
	return 0
}
pg_ns() { [ -n "$CG" ] && cat "$CG/cpuacct.usage" || echo 0; }
metric() {
	curl -s --unix-socket "$AIRLOCK_SOCKET" http://airlock/metrics |
	    awk -v m="$1" '$1 == m {print $2}'
}
# Every run starts from the same catalogs: each cycle leaves a dead row in
# pg_authid, pg_auth_members and pg_shdepend, and a run after another pays
# for the one before it (the floor at 8 ran at 2,300-2,500 cycles/s on
# vacuumed catalogs, 1,750-1,950 after 4,000 dead cycles).
fresh() { PG_DB=postgres apsql -c "VACUUM pg_authid, pg_auth_members, pg_shdepend"; }
for c in 1 8; do
shares=""
for round in $(seq 1 "$ROUNDS"); do
	fresh
	g0=$(pg_ns)
	out=$("$BUILD/bench/bench_pg_floor" "$PG_CONN" "$PG_ADMIN_PW" app_rw "$c" "$SECS")
	echo "$out"
	floor=$(echo "$out" | sed -n 's/.* = *\([0-9]*\) cycles\/s.*/\1/p')
	pg_cpu "$g0" "$(echo "$out" | awk '{print $3}')"
	fresh
	g0=$(pg_ns)
	r0=$(metric airlock_credentials_revoked_total)
	t0=$(date +%s.%N)
	out=$("$BUILD/bench/bench_broker" --with-value "$AIRLOCK_HOME" app-db "$c" "$SECS")
	# Until every credential minted is confirmed gone.
	while [ "$(metric airlock_credentials_revoking)" != 0 ]; do sleep 0.01; done
	t1=$(date +%s.%N)
	r1=$(metric airlock_credentials_revoked_total)
	echo "$out" | sed '1s/^/  lease cycles (value with the grant, as run asks): /' | head -2
	awk -v n=$((r1 - r0)) -v a="$t0" -v b="$t1" -v c="$c" 'BEGIN {
	    printf "airlock %3d: %7d create+revoke cycles in %.1f s = %6.0f cycles/s (lease, mint, revoke, role confirmed gone)\n",
	    c, n, b - a, n / (b - a) }'
	pg_cpu "$g0" $((r1 - r0))
	share=$(awk -v n=$((r1 - r0)) -v a="$t0" -v b="$t1" -v f="${floor:-0}" \
	    'BEGIN { if (f > 0) printf "%.0f", 100 * n / (b - a) / f }')
	shares="$shares $share"
done
[ "$ROUNDS" -gt 1 ] && echo "$shares" | tr ' ' '\n' | sed '/^$/d' | sort -n |
    awk -v c="$c" '{ v[NR] = $1; l = l (NR > 1 ? ", " : "") $1 "%" } END {
	printf "share of the floor at %d task(s), %d rounds: %s; median %s%%\n", c, NR, l,
	    NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
done
"$AL" audit --json 2>/dev/null | sed -n 's/.*"ttr_ms":\([0-9]*\).*/\1/p' | sort -n |
    awk '{ v[NR] = $1 } END { if (NR) printf "time-to-revoke over %d credentials: p50 %d ms, p99 %d ms, max %d ms\n",
        NR, v[int(NR * 0.5) + (NR * 0.5 > int(NR * 0.5))], v[int(NR * 0.99) + (NR * 0.99 > int(NR * 0.99))], v[NR] }'
[ "$(PG_DB=postgres apsql -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'airlock%' OR rolname LIKE 'floor%'")" = 0 ] ||
	echo "roles left behind!" >&2

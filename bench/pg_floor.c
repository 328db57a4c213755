/*
 * bench_pg_floor: the floor under bench/dynamic.sh: the SQL statements
 * airlock's postgres engine issues for one credential, in the same round
 * trips (create with a SCRAM verifier, VALID UNTIL and group membership in
 * one transaction; then NOLOGIN committed, end sessions and find databases
 * in a second; DROP ROLE and verify in a third), issued by a bare libpq
 * loop, one connection per process, CLIENTS processes.
 *
 * usage: bench_pg_floor CONNINFO PASSWORD GROUP CLIENTS SECONDS
 * (PASSWORD may be ""; one verifier, computed once, is used for every role:
 * the floor is the database's share.  Its iteration count is airlock's,
 * ENGINE_SCRAM_ITER: CREATE ROLE checks that the password is not the empty
 * one by running the verifier's PBKDF2, so the count is part of what the
 * statement costs the server: 2.3 ms of its CPU at 4096 iterations.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

static const char verifier[] = "SCRAM-SHA-256$16:c2FsdHNhbHRzYWx0c2FsdA==$"
    "7d0Yfs5BMHXjyV0lVlo0cx7X9uvd2QavJ0NU7XRHAuA=:"
    "hhYQ2g5bJ1nT8UOqkdUR9WfY+wA6I7VHexRjQv4vZxk=";

static int64_t
now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Send sql; 0 when every statement in it ran, *rows the last's row count. */
static int
batch(PGconn *c, const char *sql, int *rows)
{
	PGresult *r;
	int bad = !PQsendQuery(c, sql);

	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			*rows = PQntuples(r);
		else if (PQresultStatus(r) != PGRES_COMMAND_OK)
			bad = 1;
		PQclear(r);
	}
	return bad ? -1 : 0;
}

#define OID_OF(role) "(SELECT oid FROM pg_roles WHERE rolname = '" role "')"

static int
cycle(PGconn *c, const char *group, unsigned long k)
{
	char sql[4096], role[64];
	int rows = 0;

	(void)snprintf(role, sizeof(role), "floor_%d_%lu", (int)getpid(), k);
	(void)snprintf(sql, sizeof(sql), "BEGIN;CREATE ROLE \"%s\" LOGIN "
	    "PASSWORD '%s' VALID UNTIL '2099-01-01 00:00:00+00';GRANT \"%s\" "
	    "TO \"%s\";COMMIT", role, verifier, group, role);
	if (batch(c, sql, &rows) != 0)
		return -1;
	/* Revocation: airlock's two round trips for a role owning nothing. */
#define FLOOR_SESSIONS_OF \
	" FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND (usesysid =" \
	" " OID_OF("%s") " OR (pg_has_role(usesysid, " OID_OF("%s") ", 'MEMBER')" \
	" AND NOT (SELECT rolsuper FROM pg_roles WHERE oid = usesysid) AND" \
	" usesysid <> (SELECT oid FROM pg_roles WHERE rolname = current_user)))"
	(void)snprintf(sql, sizeof(sql), "SELECT oid FROM pg_roles WHERE "
	    "rolname = '%s';SELECT gid, database FROM pg_prepared_xacts WHERE "
	    "owner = '%s';BEGIN;SET LOCAL lock_timeout = '200ms';ALTER ROLE "
	    "\"%s\" NOLOGIN;COMMIT;SELECT count(*), "
	    "count(pg_terminate_backend(pid))" FLOOR_SESSIONS_OF ";SELECT "
	    "DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid "
	    "= s.dbid WHERE s.refclassid = 'pg_authid'::regclass AND "
	    "s.refobjid = " OID_OF("%s"), role, role, role, role, role, role);
	if (batch(c, sql, &rows) != 0)
		return -1;
	(void)snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS \"%s\";SELECT 1 "
	    "FROM pg_roles WHERE rolname = '%s'", role, role);
	return batch(c, sql, &rows) == 0 && rows == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	const char *kw[3] = { "dbname", "password", NULL };
	const char *val[3];
	unsigned long *counts, n = 0;
	int clients, secs, i, errors = 0;
	int64_t t0, stop;
	pid_t pid;

	if (argc != 6 || (clients = atoi(argv[4])) <= 0 || clients > 256 ||
	    (secs = atoi(argv[5])) <= 0) {
		fprintf(stderr, "usage: bench_pg_floor CONNINFO PASSWORD GROUP "
		    "CLIENTS SECONDS\n");
		return 2;
	}
	val[0] = argv[1];
	val[1] = argv[2][0] ? argv[2] : NULL;
	if (val[1] == NULL)
		kw[1] = NULL;
	val[2] = NULL;
	counts = mmap(NULL, (size_t)clients * sizeof(*counts) * 2,
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (counts == MAP_FAILED)
		return 2;
	t0 = now_ns();
	stop = t0 + (int64_t)secs * 1000000000;
	for (i = 0; i < clients; i++) {
		if ((pid = fork()) < 0)
			return 2;
		if (pid == 0) {
			PGconn *c = PQconnectdbParams(kw, val, 1);
			unsigned long k = 0;

			if (PQstatus(c) != CONNECTION_OK) {
				fprintf(stderr, "%s", PQerrorMessage(c));
				counts[clients + i] = 1;
				_exit(1);
			}
			while (now_ns() < stop) {
				if (cycle(c, argv[3], k++) != 0) {
					fprintf(stderr, "%s", PQerrorMessage(c));
					counts[clients + i]++;
					break;
				}
				counts[i]++;
			}
			PQfinish(c);
			_exit(0);
		}
	}
	while (wait(NULL) > 0 || errno == EINTR)
		;
	for (i = 0; i < clients; i++) {
		n += counts[i];
		errors += (int)counts[clients + i];
	}
	printf("floor  %3d: %7lu create+revoke cycles in %.1f s = %6.0f "
	    "cycles/s (bare libpq, same SQL), errors %d\n", clients, n,
	    (now_ns() - t0) / 1e9, n / ((now_ns() - t0) / 1e9), errors);
	return errors != 0;
}

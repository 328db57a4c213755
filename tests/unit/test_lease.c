/* Unit tests for src/lease: an injected clock, so nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "airlock/lease.h"

struct fake_clock {
	int64_t	now;
};

static int64_t
fake_now(void *arg)
{
	return ((struct fake_clock *)arg)->now;
}

static int64_t
fake_now_ms(void *arg)
{
	return ((struct fake_clock *)arg)->now * 1000;
}

struct fixture {
	struct fake_clock	 fc;
	struct al_clock		 clock;
	struct lease_table	*t;
	char			 dir[64];
	char			 path[128];
	int			 ended;		/* on_end calls */
	enum lease_state	 last_state;
};

static void
on_end(const struct lease *l, void *arg)
{
	struct fixture *f = arg;

	f->ended++;
	f->last_state = l->state;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || sodium_init() < 0)
		return -1;
	f->fc.now = 1700000000;
	f->clock.now = fake_now;
	f->clock.now_ms = fake_now_ms;
	f->clock.arg = &f->fc;
	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/al-lease.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	(void)snprintf(f->path, sizeof(f->path), "%s/%s", f->dir,
	    LEASE_DB_FILE);
	if (lease_table_open(f->path, &f->clock, on_end, f, &f->t, NULL) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char p[160];

	lease_table_close(f->t);
	(void)unlink(f->path);
	(void)snprintf(p, sizeof(p), "%s-wal", f->path);
	(void)unlink(p);
	(void)snprintf(p, sizeof(p), "%s-journal", f->path);
	(void)unlink(p);
	(void)rmdir(f->dir);
	free(f);
	return 0;
}

static void
reopen(struct fixture *f)
{
	lease_table_close(f->t);
	f->t = NULL;
	assert_int_equal(lease_table_open(f->path, &f->clock, on_end, f,
	    &f->t, NULL), 0);
}

static struct lease_spec
spec(const char *task, int64_t ttl, int uses, uint64_t conn)
{
	struct lease_spec s = { "deploy-token", "unix:uid:1000", task,
	    "deploy", ttl, uses, 0, conn };

	return s;
}

static void
test_lease_issue_gives_random_ids_and_deadline(void **state)
{
	struct fixture *f = *state;
	struct lease_spec s = spec("t1", 300, 1, 0);
	struct lease a, b;

	assert_int_equal(lease_issue(f->t, &s, &a, NULL), 0);
	assert_int_equal(lease_issue(f->t, &s, &b, NULL), 0);
	assert_true(lease_id_valid(a.id));
	assert_string_not_equal(a.id, b.id);
	assert_int_equal(a.expires, f->fc.now + 300);
	assert_int_equal(a.state, LEASE_LIVE);
	assert_int_equal(lease_next_deadline(f->t), f->fc.now + 300);
	assert_int_equal(lease_count_live(f->t), 2);
}

static void
test_lease_expired_refuses_use(void **state)
{
	struct fixture *f = *state;
	struct lease_spec s = spec("t1", 60, LEASE_USES_UNLIMITED, 0);
	struct lease l, u;
	struct al_err err;

	assert_int_equal(lease_issue(f->t, &s, &l, NULL), 0);
	f->fc.now += 59;
	assert_int_equal(lease_use(f->t, l.id, &u, NULL), 0);
	f->fc.now += 1;
	assert_int_equal(lease_use(f->t, l.id, &u, &err), AL_EEXPIRED);
	assert_int_equal(u.state, LEASE_EXPIRED);
	assert_non_null(strstr(err.msg, "has ended (expired)"));
	assert_int_equal(lease_count_live(f->t), 0);
	assert_int_equal(lease_next_deadline(f->t), 0);
}

static void
test_lease_uses_exhausted_ends_lease(void **state)
{
	struct fixture *f = *state;
	struct lease_spec s = spec("t1", 300, 2, 0);
	struct lease l, u;

	assert_int_equal(lease_issue(f->t, &s, &l, NULL), 0);
	assert_int_equal(lease_use(f->t, l.id, &u, NULL), 0);
	assert_int_equal(u.state, LEASE_LIVE);
	assert_int_equal(u.uses, 1);
	assert_int_equal(lease_use(f->t, l.id, &u, NULL), 0);
	assert_int_equal(u.state, LEASE_USED_UP);
	assert_int_equal(lease_use(f->t, l.id, &u, NULL), AL_EEXPIRED);
	assert_int_equal(u.uses, 2);
}

static void
test_lease_idle_timeout_ends_before_expiry(void **state)
{
	struct fixture *f = *state;
	struct lease_spec s = spec("t1", 600, LEASE_USES_UNLIMITED, 0);
	struct lease l, u;

	s.idle_timeout = 30;
	assert_int_equal(lease_issue(f->t, &s, &l, NULL), 0);
	assert_int_equal(lease_next_deadline(f->t), f->fc.now + 30);
	f->fc.now += 20;
	assert_int_equal(lease_use(f->t, l.id, &u, NULL), 0);
	assert_int_equal(lease_next_deadline(f->t), f->fc.now + 30);
	f->fc.now += 30;
	assert_int_equal(lease_sweep(f->t, on_end, f, NULL, NULL), 0);
	assert_int_equal(f->ended, 1);
	assert_int_equal(f->last_state, LEASE_IDLE);
	assert_int_equal(lease_get(f->t, l.id, &u, NULL), 0);
	assert_int_equal(u.state, LEASE_IDLE);
}

static void
test_lease_revoke_by_task_leaves_other_tasks(void **state)
{
	struct fixture *f = *state;
	struct lease_spec a = spec("build-1", 300, 1, 0);
	struct lease_spec b = spec("build-2", 300, 1, 0);
	struct lease l1, l2, l3, u;
	size_t n;

	assert_int_equal(lease_issue(f->t, &a, &l1, NULL), 0);
	assert_int_equal(lease_issue(f->t, &a, &l2, NULL), 0);
	assert_int_equal(lease_issue(f->t, &b, &l3, NULL), 0);
	assert_int_equal(lease_revoke_task(f->t, "build-1", on_end, f, &n,
	    NULL), 0);
	assert_int_equal(n, 2);
	assert_int_equal(f->ended, 2);
	assert_int_equal(lease_use(f->t, l1.id, &u, NULL), AL_EEXPIRED);
	assert_int_equal(u.state, LEASE_REVOKED);
	assert_int_equal(lease_use(f->t, l3.id, &u, NULL), 0);
	assert_int_equal(lease_revoke_task(f->t, "build-1", NULL, NULL, &n,
	    NULL), 0);
	assert_int_equal(n, 0);
}

static void
test_lease_revoke_twice_reports_ended(void **state)
{
	struct fixture *f = *state;
	struct lease_spec s = spec("t", 300, 1, 0);
	struct lease l, u;
	struct al_err err;

	assert_int_equal(lease_issue(f->t, &s, &l, NULL), 0);
	assert_int_equal(lease_revoke(f->t, l.id, LEASE_REVOKED, &u, NULL), 0);
	assert_int_equal(lease_revoke(f->t, l.id, LEASE_REVOKED, &u, &err),
	    AL_EEXPIRED);
	assert_non_null(strstr(err.msg, "(revoked)"));
	assert_int_equal(lease_revoke(f->t, "00000000000000000000000000000000",
	    LEASE_REVOKED, &u, &err), AL_ENOENT);
	assert_int_equal(lease_get(f->t, "../etc", &u, &err), AL_ENOENT);
}

static void
test_lease_connection_close_ends_bound_only(void **state)
{
	struct fixture *f = *state;
	struct lease_spec bound = spec("t", 300, 1, 42);
	struct lease_spec other = spec("t", 300, 1, 43);
	struct lease_spec free_ = spec("t", 300, 1, 0);
	struct lease a, b, c, u;
	size_t n;

	assert_int_equal(lease_issue(f->t, &bound, &a, NULL), 0);
	assert_int_equal(lease_issue(f->t, &other, &b, NULL), 0);
	assert_int_equal(lease_issue(f->t, &free_, &c, NULL), 0);
	assert_int_equal(lease_revoke_conn(f->t, 42, on_end, f, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(f->last_state, LEASE_CLOSED);
	assert_int_equal(lease_get(f->t, a.id, &u, NULL), 0);
	assert_int_equal(u.state, LEASE_CLOSED);
	assert_int_equal(lease_get(f->t, b.id, &u, NULL), 0);
	assert_int_equal(u.state, LEASE_LIVE);
	assert_int_equal(lease_count_live(f->t), 2);
}

static void
test_lease_persists_across_reopen(void **state)
{
	struct fixture *f = *state;
	struct lease_spec s = spec("t", 300, 3, 0);
	struct lease_spec shortl = spec("t", 10, 3, 0);
	struct lease_spec bound = spec("t", 300, 3, 7);
	struct lease live, revoked, expiring, conn, u;

	assert_int_equal(lease_issue(f->t, &s, &live, NULL), 0);
	assert_int_equal(lease_use(f->t, live.id, &u, NULL), 0);
	assert_int_equal(lease_issue(f->t, &s, &revoked, NULL), 0);
	assert_int_equal(lease_issue(f->t, &shortl, &expiring, NULL), 0);
	assert_int_equal(lease_issue(f->t, &bound, &conn, NULL), 0);
	assert_int_equal(lease_revoke(f->t, revoked.id, LEASE_REVOKED, &u,
	    NULL), 0);
	assert_int_equal(lease_table_sync(f->t, NULL), 0);
	f->fc.now += 11;
	f->ended = 0;
	reopen(f);
	/* Expired while the broker was down, and the bound one. */
	assert_int_equal(f->ended, 2);
	assert_int_equal(lease_get(f->t, live.id, &u, NULL), 0);
	assert_int_equal(u.state, LEASE_LIVE);
	assert_int_equal(u.uses, 1);
	assert_int_equal(lease_get(f->t, revoked.id, &u, NULL), 0);
	assert_int_equal(u.state, LEASE_REVOKED);
	assert_int_equal(lease_get(f->t, expiring.id, &u, NULL), 0);
	assert_int_equal(u.state, LEASE_EXPIRED);
	assert_int_equal(lease_get(f->t, conn.id, &u, NULL), 0);
	assert_int_equal(u.state, LEASE_RESTARTED);
	assert_int_equal(lease_count_live(f->t), 1);
}

/* Set the boot id the table recorded, as if the machine had restarted. */
static void
set_recorded_boot(struct fixture *f, const char *id)
{
	sqlite3 *db = NULL;
	char sql[128];

	lease_table_close(f->t);
	f->t = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	(void)snprintf(sql, sizeof(sql), "UPDATE boot SET boot_id = '%s'", id);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(db), 1);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void
test_lease_machine_restart_ends_every_live_lease(void **state)
{
	struct fixture *f = *state;
	struct lease_spec s = spec("t", 300, 3, 0);
	struct lease a, b, u;

	assert_int_equal(lease_issue(f->t, &s, &a, NULL), 0);
	assert_int_equal(lease_issue(f->t, &s, &b, NULL), 0);
	assert_int_equal(lease_table_sync(f->t, NULL), 0);
	/* Same boot: an unbound lease survives the broker. */
	f->ended = 0;
	reopen(f);
	assert_int_equal(f->ended, 0);
	assert_int_equal(lease_count_live(f->t), 2);
	/* Another boot: its last commits may be lost, so end them all. */
	set_recorded_boot(f, "00000000-0000-0000-0000-000000000000");
	f->t = NULL;
	assert_int_equal(lease_table_open(f->path, &f->clock, on_end, f,
	    &f->t, NULL), 0);
	assert_int_equal(f->ended, 2);
	assert_int_equal(f->last_state, LEASE_RESTARTED);
	assert_int_equal(lease_get(f->t, a.id, &u, NULL), 0);
	assert_int_equal(u.state, LEASE_RESTARTED);
	assert_int_equal(lease_count_live(f->t), 0);
	assert_int_equal(lease_use(f->t, b.id, &u, NULL), AL_EEXPIRED);
	/* And the new boot id is recorded: the next open ends nothing. */
	assert_int_equal(lease_issue(f->t, &s, &a, NULL), 0);
	assert_int_equal(lease_table_sync(f->t, NULL), 0);
	f->ended = 0;
	reopen(f);
	assert_int_equal(f->ended, 0);
	assert_int_equal(lease_count_live(f->t), 1);
}

static void
test_lease_ended_rows_are_pruned_after_an_hour(void **state)
{
	struct fixture *f = *state;
	struct lease_spec s = spec("t", 60, 1, 0);
	struct lease l, u;

	assert_int_equal(lease_issue(f->t, &s, &l, NULL), 0);
	assert_int_equal(lease_revoke(f->t, l.id, LEASE_REVOKED, &u, NULL), 0);
	f->fc.now += LEASE_KEEP_ENDED + 1;
	reopen(f);
	assert_int_equal(lease_get(f->t, l.id, &u, NULL), AL_ENOENT);
}

/*
 * A running table forgets ended leases too, in bounded batches, once their
 * keep time is over; live ones and recently ended ones stay.
 */
static void
test_lease_prune_forgets_only_old_ended_leases(void **state)
{
	struct fixture *f = *state;
	struct lease_spec s = spec("t", 3 * LEASE_KEEP_ENDED, 1, 0);
	struct lease l[5], u;
	uint64_t w;
	size_t n;
	int i;

	for (i = 0; i < 5; i++)
		assert_int_equal(lease_issue(f->t, &s, &l[i], NULL), 0);
	assert_int_equal(lease_revoke(f->t, l[0].id, LEASE_REVOKED, &u, NULL),
	    0);
	assert_int_equal(lease_use(f->t, l[1].id, &u, NULL), 0);
	assert_int_equal(u.state, LEASE_USED_UP);
	assert_int_equal(lease_revoke(f->t, l[2].id, LEASE_REVOKED, &u, NULL),
	    0);
	f->fc.now += LEASE_KEEP_ENDED - 1;
	assert_int_equal(lease_table_prune(f->t, 10, &n, NULL), 0);
	assert_int_equal(n, 0);
	assert_int_equal(lease_revoke(f->t, l[3].id, LEASE_REVOKED, &u, NULL),
	    0);
	f->fc.now += 2;
	w = lease_table_writes(f->t);
	assert_int_equal(lease_table_prune(f->t, 2, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_true(lease_table_writes(f->t) > w);
	assert_int_equal(lease_table_prune(f->t, 2, &n, NULL), 0);
	assert_int_equal(n, 1);
	for (i = 0; i < 3; i++)
		assert_int_equal(lease_get(f->t, l[i].id, &u, NULL), AL_ENOENT);
	assert_int_equal(lease_get(f->t, l[3].id, &u, NULL), 0);
	assert_int_equal(u.state, LEASE_REVOKED);
	assert_int_equal(lease_get(f->t, l[4].id, &u, NULL), 0);
	assert_int_equal(u.state, LEASE_LIVE);
	assert_int_equal(lease_table_sync(f->t, NULL), 0);
}

/* A table of the first format (rows in id order) is converted on open. */
static void
test_lease_first_format_is_migrated_with_live_leases(void **state)
{
	struct fixture *f = *state;
	char boot[64] = "", *msg = NULL, sql[1024];
	struct lease u;
	sqlite3 *db;
	sqlite3_stmt *st;
	FILE *fp;

	lease_table_close(f->t);
	f->t = NULL;
	assert_int_equal(unlink(f->path), 0);
	fp = fopen("/proc/sys/kernel/random/boot_id", "r");
	assert_non_null(fp);
	assert_non_null(fgets(boot, sizeof(boot), fp));
	fclose(fp);
	boot[strcspn(boot, "\n")] = '\0';
	(void)snprintf(sql, sizeof(sql),
	    "CREATE TABLE leases (id TEXT PRIMARY KEY, secret TEXT NOT NULL,"
	    " holder TEXT NOT NULL, task TEXT NOT NULL, intent TEXT NOT NULL,"
	    " issued INTEGER NOT NULL, expires INTEGER NOT NULL,"
	    " last_used INTEGER NOT NULL, idle_timeout INTEGER NOT NULL,"
	    " ended INTEGER NOT NULL, max_uses INTEGER NOT NULL,"
	    " uses INTEGER NOT NULL, conn INTEGER NOT NULL,"
	    " state INTEGER NOT NULL, deadline INTEGER NOT NULL) WITHOUT ROWID;"
	    "CREATE INDEX leases_deadline ON leases(state, deadline);"
	    "CREATE INDEX leases_task ON leases(task) WHERE state = 0;"
	    "CREATE TABLE boot (one INTEGER PRIMARY KEY CHECK (one = 1),"
	    " boot_id TEXT NOT NULL);"
	    "INSERT INTO boot VALUES (1, '%s');"
	    "INSERT INTO leases VALUES ('%032d', 'deploy-token', 'h', 't', 'i',"
	    " %lld, %lld, 0, 0, 0, 2, 0, 0, 0, %lld);", boot, 7,
	    (long long)f->fc.now, (long long)f->fc.now + 300,
	    (long long)f->fc.now + 300);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(chmod(f->path, 0600), 0);
	assert_int_equal(lease_table_open(f->path, &f->clock, on_end, f,
	    &f->t, NULL), 0);
	(void)snprintf(sql, sizeof(sql), "%032d", 7);
	assert_int_equal(lease_get(f->t, sql, &u, NULL), 0);
	assert_int_equal(u.state, LEASE_LIVE);
	assert_int_equal(lease_use(f->t, sql, &u, NULL), 0);
	assert_int_equal(u.uses, 1);
	assert_int_equal(lease_table_sync(f->t, NULL), 0);
	lease_table_close(f->t);
	f->t = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master"
	    " WHERE name = 'leases'", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_null(strstr((const char *)sqlite3_column_text(st, 0),
	    "WITHOUT ROWID"));
	sqlite3_finalize(st);
	sqlite3_close(db);
	reopen(f);
	assert_int_equal(lease_get(f->t, u.id, &u, NULL), 0);
	assert_int_equal(u.uses, 1);
}

static void
test_lease_file_is_private(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void
test_lease_deadline_is_earliest_of_many(void **state)
{
	struct fixture *f = *state;
	struct lease_spec a = spec("t", 300, 1, 0), b = spec("t", 40, 1, 0);
	struct lease la, lb;
	size_t n;

	assert_int_equal(lease_issue(f->t, &a, &la, NULL), 0);
	assert_int_equal(lease_issue(f->t, &b, &lb, NULL), 0);
	assert_int_equal(lease_next_deadline(f->t), f->fc.now + 40);
	f->fc.now += 40;
	assert_int_equal(lease_sweep(f->t, on_end, f, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(f->last_state, LEASE_EXPIRED);
	assert_int_equal(lease_next_deadline(f->t), f->fc.now + 260);
}

static int
count_fn(const struct lease *l, void *arg)
{
	(void)l;
	(*(int *)arg)++;
	return 0;
}

static void
test_lease_list_filters_by_holder(void **state)
{
	struct fixture *f = *state;
	struct lease_spec a = spec("t", 300, 1, 0), b = spec("t", 300, 1, 0);
	struct lease l;
	int n = 0;

	b.holder = "unix:uid:1001";
	assert_int_equal(lease_issue(f->t, &a, &l, NULL), 0);
	assert_int_equal(lease_issue(f->t, &b, &l, NULL), 0);
	assert_int_equal(lease_list(f->t, "", count_fn, &n, NULL), 0);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(lease_list(f->t, "unix:uid:1001", count_fn, &n,
	    NULL), 0);
	assert_int_equal(n, 1);
}

static void
test_lease_issue_rejects_bad_spec(void **state)
{
	struct fixture *f = *state;
	struct lease_spec s = spec("t", 0, 1, 0);
	struct lease l;
	struct al_err err;
	char longtask[LEASE_TEXT_MAX + 2];

	assert_int_equal(lease_issue(f->t, &s, &l, &err), AL_EINVAL);
	assert_string_equal(err.msg, "lease ttl must be between 1 second and "
	    "a year");
	s = spec("t", 10, 0, 0);
	assert_int_equal(lease_issue(f->t, &s, &l, &err), AL_EINVAL);
	memset(longtask, 'x', sizeof(longtask) - 1);
	longtask[sizeof(longtask) - 1] = '\0';
	s = spec(longtask, 10, 1, 0);
	assert_int_equal(lease_issue(f->t, &s, &l, &err), AL_EINVAL);
	assert_string_equal(err.msg, "lease task is longer than 256 bytes");
	s = spec("t", 10, 1, 0);
	s.secret = "";
	assert_int_equal(lease_issue(f->t, &s, &l, &err), AL_EINVAL);
	assert_string_equal(err.msg, "lease secret is empty");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_lease_issue_gives_random_ids_and_deadline),
		T(test_lease_expired_refuses_use),
		T(test_lease_uses_exhausted_ends_lease),
		T(test_lease_idle_timeout_ends_before_expiry),
		T(test_lease_revoke_by_task_leaves_other_tasks),
		T(test_lease_revoke_twice_reports_ended),
		T(test_lease_connection_close_ends_bound_only),
		T(test_lease_persists_across_reopen),
		T(test_lease_machine_restart_ends_every_live_lease),
		T(test_lease_ended_rows_are_pruned_after_an_hour),
		T(test_lease_prune_forgets_only_old_ended_leases),
		T(test_lease_first_format_is_migrated_with_live_leases),
		T(test_lease_file_is_private),
		T(test_lease_deadline_is_earliest_of_many),
		T(test_lease_list_filters_by_holder),
		T(test_lease_issue_rejects_bad_spec),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

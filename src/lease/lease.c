/*
 * The lease table, kept in SQLite.  SQLite is both the index (by id, task,
 * connection and deadline) and the persistence, so there is one source of
 * truth and no hand-written hash table to keep in step with a journal.
 *
 * Writes accumulate in one open transaction; lease_table_sync() commits it.
 * The database is opened with locking_mode=EXCLUSIVE: only the broker that
 * holds the state directory's lock ever opens it.
 *
 * Durability: a commit is written to the WAL but not fsynced
 * (synchronous=NORMAL); the broker's one fdatasync per batch is the audit
 * log's, and the audit line of every change is durable before the change is
 * written.  A process crash loses nothing (the kernel keeps what was
 * written).  Only an operating-system crash or power loss can drop the last
 * commits, and that is detected: the table records the kernel's boot id
 * durably at open, and a table opened under another boot id ends every live
 * lease (LEASE_RESTARTED).  So a revoked or used-up lease never comes back
 * to life, and nothing outlives its expiry.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "airlock/lease.h"

#define NSTMT 12

enum stmt_id {
	S_INSERT, S_GET, S_USE, S_END, S_DUE, S_NEXT, S_COUNT, S_LIST,
	S_LIST_HOLDER, S_BY_TASK, S_BY_CONN, S_PRUNE,
};

static const char *const stmt_sql[NSTMT] = {
	[S_INSERT] = "INSERT INTO leases (id, secret, holder, task, intent,"
	    " issued, expires, last_used, idle_timeout, ended, max_uses, uses,"
	    " conn, state, deadline) VALUES (?1,?2,?3,?4,?5,?6,?7,0,?8,0,?9,0,"
	    "?10,0,?11)",
	[S_GET] = "SELECT id, secret, holder, task, intent, issued, expires,"
	    " last_used, idle_timeout, ended, max_uses, uses, conn, state"
	    " FROM leases WHERE id = ?1",
	[S_USE] = "UPDATE leases SET uses = uses + 1, last_used = ?2,"
	    " deadline = ?3, state = ?4, ended = ?5 WHERE id = ?1 AND state = 0",
	[S_END] = "UPDATE leases SET state = ?2, ended = ?3, deadline = ?4"
	    " WHERE id = ?1 AND state = 0",
	[S_DUE] = "SELECT id FROM leases WHERE state = 0 AND deadline <= ?1"
	    " ORDER BY deadline",
	[S_NEXT] = "SELECT min(deadline) FROM leases WHERE state = 0",
	[S_COUNT] = "SELECT count(*) FROM leases WHERE state = 0",
	[S_LIST] = "SELECT id FROM leases WHERE state = 0 ORDER BY issued, id",
	[S_LIST_HOLDER] = "SELECT id FROM leases WHERE state = 0 AND"
	    " holder = ?1 ORDER BY issued, id",
	[S_BY_TASK] = "SELECT id FROM leases WHERE state = 0 AND task = ?1",
	[S_BY_CONN] = "SELECT id FROM leases WHERE state = 0 AND conn = ?1",
	/* An ended lease's deadline is when it may go (see row_deadline). */
	[S_PRUNE] = "DELETE FROM leases WHERE seq IN (SELECT seq FROM leases"
	    " WHERE state IN (1, 2, 3, 4, 5, 6) AND deadline < ?1 LIMIT ?2)",
};

/*
 * Rows are stored in the order leases are issued (seq), so a busy table
 * writes near its end, where the pages are in cache, however many ended
 * leases it keeps; the random ids are in their own, denser index.  (The
 * first format kept rows in id order: each new lease landed on a random
 * page; migrate() converts it.)
 */
#define LEASE_COLUMNS							\
	"id, secret, holder, task, intent, issued, expires, last_used,"	\
	" idle_timeout, ended, max_uses, uses, conn, state, deadline"

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS leases ("
	"  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
	"  secret TEXT NOT NULL, holder TEXT NOT NULL,"
	"  task TEXT NOT NULL, intent TEXT NOT NULL,"
	"  issued INTEGER NOT NULL, expires INTEGER NOT NULL,"
	"  last_used INTEGER NOT NULL, idle_timeout INTEGER NOT NULL,"
	"  ended INTEGER NOT NULL, max_uses INTEGER NOT NULL,"
	"  uses INTEGER NOT NULL, conn INTEGER NOT NULL,"
	"  state INTEGER NOT NULL, deadline INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS leases_deadline ON leases(state, deadline);"
	"CREATE INDEX IF NOT EXISTS leases_task ON leases(task) WHERE state = 0;"
	"CREATE INDEX IF NOT EXISTS leases_conn ON leases(conn)"
	"  WHERE state = 0 AND conn <> 0;"
	"CREATE TABLE IF NOT EXISTS boot (one INTEGER PRIMARY KEY CHECK"
	"  (one = 1), boot_id TEXT NOT NULL);";

#define BOOT_ID_FILE	"/proc/sys/kernel/random/boot_id"
#define BOOT_ID_MAX	64

/* Ended leases forgotten per statement (recovery repeats it). */
#define PRUNE_BATCH	10000

struct lease_table {
	sqlite3			*db;
	sqlite3_stmt		*st[NSTMT];
	const struct al_clock	*clock;
	int			 in_txn;
	uint64_t		 writes;	/* calls that may write */
	char			 path[256];
};

static int
db_fail(struct lease_table *t, struct al_err *err, const char *what)
{
	return al_err_set(err, AL_EDB, "lease table %s: %s: %s",
	    t->path, what, sqlite3_errmsg(t->db));
}

static int
exec_sql(struct lease_table *t, const char *sql, struct al_err *err)
{
	if (sqlite3_exec(t->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(t, err, "cannot update");
	return 0;
}

/* Every write runs inside the batch transaction that sync commits. */
static int
begin(struct lease_table *t, struct al_err *err)
{
	int rc;

	t->writes++;
	if (t->in_txn)
		return 0;
	if ((rc = exec_sql(t, "BEGIN IMMEDIATE", err)) == 0)
		t->in_txn = 1;
	return rc;
}

int
lease_table_sync(struct lease_table *t, struct al_err *err)
{
	int rc;

	if (!t->in_txn)
		return 0;
	rc = exec_sql(t, "COMMIT", err);
	t->in_txn = 0;
	return rc;
}

const char *
lease_state_name(enum lease_state s)
{
	switch (s) {
	case LEASE_LIVE:	return "live";
	case LEASE_EXPIRED:	return "expired";
	case LEASE_USED_UP:	return "used-up";
	case LEASE_IDLE:	return "idle";
	case LEASE_REVOKED:	return "revoked";
	case LEASE_CLOSED:	return "connection-closed";
	case LEASE_RESTARTED:	return "broker-restarted";
	}
	return "unknown";
}

int
lease_id_valid(const char *id)
{
	size_t i;

	for (i = 0; i < LEASE_ID_LEN; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return id[LEASE_ID_LEN] == '\0';
}

static void
copy_col(char *dst, size_t dstsz, sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	(void)snprintf(dst, dstsz, "%s", s ? (const char *)s : "");
}

static int64_t
deadline_of(const struct lease *l)
{
	int64_t d = l->expires, last;

	if (l->idle_timeout > 0) {
		last = l->last_used ? l->last_used : l->issued;
		if (last + l->idle_timeout < d)
			d = last + l->idle_timeout;
	}
	return d;
}

/*
 * The deadline column: for a live lease when it ends, for an ended one
 * when it is forgotten (lease_table_prune), which keeps both on one index.
 */
static int64_t
row_deadline(const struct lease *l)
{
	return l->state == LEASE_LIVE ? deadline_of(l) : l->ended +
	    LEASE_KEEP_ENDED;
}

/* Read one row without looking at the clock. */
static int
load(struct lease_table *t, const char *id, struct lease *out,
    struct al_err *err)
{
	sqlite3_stmt *st = t->st[S_GET];
	int rc;

	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = al_err_set(err, AL_ENOENT, "no lease '%.40s' (it may "
		    "have ended more than an hour ago)", id);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		rc = db_fail(t, err, "cannot read a lease");
		goto out;
	}
	memset(out, 0, sizeof(*out));
	copy_col(out->id, sizeof(out->id), st, 0);
	copy_col(out->secret, sizeof(out->secret), st, 1);
	copy_col(out->holder, sizeof(out->holder), st, 2);
	copy_col(out->task, sizeof(out->task), st, 3);
	copy_col(out->intent, sizeof(out->intent), st, 4);
	out->issued = sqlite3_column_int64(st, 5);
	out->expires = sqlite3_column_int64(st, 6);
	out->last_used = sqlite3_column_int64(st, 7);
	out->idle_timeout = sqlite3_column_int64(st, 8);
	out->ended = sqlite3_column_int64(st, 9);
	out->max_uses = sqlite3_column_int(st, 10);
	out->uses = sqlite3_column_int(st, 11);
	out->conn = (uint64_t)sqlite3_column_int64(st, 12);
	out->state = (enum lease_state)sqlite3_column_int(st, 13);
	rc = 0;
out:
	sqlite3_reset(st);
	return rc;
}

/* End a live lease with state at time now (row and struct). */
static int
end_lease(struct lease_table *t, struct lease *l, enum lease_state state,
    int64_t now, struct al_err *err)
{
	sqlite3_stmt *st = t->st[S_END];
	int rc;

	if ((rc = begin(t, err)) != 0)
		return rc;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, l->id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)state);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, now + LEASE_KEEP_ENDED);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 :
	    db_fail(t, err, "cannot end a lease");
	sqlite3_reset(st);
	if (rc == 0) {
		l->state = state;
		l->ended = now;
	}
	return rc;
}

/* Which state a live lease past a deadline ends in. */
static enum lease_state
overdue_state(const struct lease *l)
{
	return deadline_of(l) < l->expires ? LEASE_IDLE : LEASE_EXPIRED;
}

/* Load and, if a deadline has passed, end it first. */
static int
load_current(struct lease_table *t, const char *id, struct lease *out,
    int *ended_now, struct al_err *err)
{
	int64_t now = t->clock->now(t->clock->arg);
	int rc;

	*ended_now = 0;
	if ((rc = load(t, id, out, err)) != 0)
		return rc;
	if (out->state == LEASE_LIVE && deadline_of(out) <= now) {
		if ((rc = end_lease(t, out, overdue_state(out), now, err)))
			return rc;
		*ended_now = 1;
	}
	return 0;
}

/* Collect ids from a statement, then end each (no cursor open on writes). */
static int
end_matching(struct lease_table *t, sqlite3_stmt *st,
    enum lease_state forced, lease_end_fn fn, void *arg, size_t *n,
    struct al_err *err)
{
	int64_t now = t->clock->now(t->clock->arg);
	char (*ids)[LEASE_ID_LEN + 1] = NULL, (*grown)[LEASE_ID_LEN + 1];
	size_t nids = 0, cap = 0, i, count = 0;
	struct lease l;
	int rc, step;

	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (nids == cap) {
			cap = cap ? cap * 2 : 16;
			if ((grown = realloc(ids, cap * sizeof(*ids))) == NULL) {
				rc = al_err_set(err, AL_ENOMEM, "out of memory");
				goto out;
			}
			ids = grown;
		}
		copy_col(ids[nids++], sizeof(ids[0]), st, 0);
	}
	if (step != SQLITE_DONE) {
		rc = db_fail(t, err, "cannot search leases");
		goto out;
	}
	sqlite3_reset(st);
	for (i = 0; i < nids; i++) {
		if ((rc = load(t, ids[i], &l, err)) != 0)
			goto out;
		if (l.state != LEASE_LIVE)
			continue;
		if ((rc = end_lease(t, &l, forced == LEASE_LIVE ?
		    overdue_state(&l) : forced, now, err)) != 0)
			goto out;
		count++;
		if (fn != NULL)
			fn(&l, arg);
	}
	rc = 0;
out:
	sqlite3_reset(st);
	free(ids);
	if (n != NULL)
		*n = count;
	return rc;
}

static int
create_file(const char *path, struct al_err *err)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0 && errno != EEXIST)
		return al_err_set(err, AL_ESYS, "cannot create %s: %s", path,
		    strerror(errno));
	if (fd >= 0)
		(void)close(fd);
	return al_fs_check_private(path, 0, err);
}

/* What cannot have survived a restart: overdue and connection-bound. */
/* The kernel's boot id, or "" when it cannot be read. */
static void
boot_id(char *out, size_t n)
{
	ssize_t len = -1;
	int fd;

	out[0] = '\0';
	if ((fd = open(BOOT_ID_FILE, O_RDONLY | O_CLOEXEC)) >= 0) {
		len = read(fd, out, n - 1);
		(void)close(fd);
	}
	out[len > 0 ? len : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

/*
 * Commits since the last fsync may be lost only if the machine restarted:
 * when the recorded boot id is not this one (or cannot be known), end every
 * live lease, then record this boot id (made durable by recover's commit,
 * which runs with synchronous=FULL).
 */
static int
recover_boot(struct lease_table *t, lease_end_fn fn, void *arg,
    struct al_err *err)
{
	sqlite3_stmt *st = NULL;
	char now_id[BOOT_ID_MAX], was[BOOT_ID_MAX] = "";
	int rc = 0;

	boot_id(now_id, sizeof(now_id));
	if (sqlite3_prepare_v2(t->db, "SELECT boot_id FROM boot WHERE one = 1",
	    -1, &st, NULL) != SQLITE_OK) {
		rc = db_fail(t, err, "cannot prepare");
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		copy_col(was, sizeof(was), st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (now_id[0] != '\0' && strcmp(was, now_id) == 0)
		goto out;
	if (sqlite3_prepare_v2(t->db, "SELECT id FROM leases WHERE state = 0",
	    -1, &st, NULL) != SQLITE_OK) {
		rc = db_fail(t, err, "cannot prepare");
		goto out;
	}
	if ((rc = end_matching(t, st, LEASE_RESTARTED, fn, arg, NULL,
	    err)) != 0)
		goto out;
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = begin(t, err)) != 0)
		goto out;
	if (sqlite3_prepare_v2(t->db, "INSERT OR REPLACE INTO boot (one, "
	    "boot_id) VALUES (1, ?1)", -1, &st, NULL) != SQLITE_OK) {
		rc = db_fail(t, err, "cannot prepare");
		goto out;
	}
	sqlite3_bind_text(st, 1, now_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(t, err, "cannot record the boot id");
out:
	sqlite3_finalize(st);
	return rc;
}

static int
recover(struct lease_table *t, lease_end_fn fn, void *arg,
    struct al_err *err)
{
	sqlite3_stmt *st = NULL;
	int64_t now = t->clock->now(t->clock->arg);
	size_t n;
	int rc;

	sqlite3_reset(t->st[S_DUE]);
	sqlite3_bind_int64(t->st[S_DUE], 1, now);
	if ((rc = end_matching(t, t->st[S_DUE], LEASE_LIVE, fn, arg, NULL,
	    err)) != 0)
		goto out;
	if (sqlite3_prepare_v2(t->db, "SELECT id FROM leases WHERE state = 0"
	    " AND conn <> 0", -1, &st, NULL) != SQLITE_OK) {
		rc = db_fail(t, err, "cannot prepare");
		goto out;
	}
	if ((rc = end_matching(t, st, LEASE_RESTARTED, fn, arg, NULL,
	    err)) != 0)
		goto out;
	if ((rc = recover_boot(t, fn, arg, err)) != 0)
		goto out;
	do {
		if ((rc = lease_table_prune(t, PRUNE_BATCH, &n, err)) != 0)
			goto out;
	} while (n == PRUNE_BATCH);
	rc = lease_table_sync(t, err);
out:
	sqlite3_finalize(st);
	return rc;
}

/*
 * A table of the first format (rows in id order, WITHOUT ROWID) is copied
 * into the current one, in one transaction: nothing live is lost.
 */
static int
migrate(struct lease_table *t, struct al_err *err)
{
	sqlite3_stmt *st = NULL;
	int old = 0, rc;

	if (sqlite3_prepare_v2(t->db, "SELECT sql FROM sqlite_master WHERE"
	    " type = 'table' AND name = 'leases'", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_fail(t, err, "cannot read the schema");
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
	    strstr((const char *)sqlite3_column_text(st, 0), "WITHOUT ROWID"))
		old = 1;
	sqlite3_finalize(st);
	if (!old)
		return 0;
	if ((rc = exec_sql(t, "BEGIN IMMEDIATE;"
	    "DROP INDEX IF EXISTS leases_deadline;"
	    "DROP INDEX IF EXISTS leases_task;"
	    "DROP INDEX IF EXISTS leases_conn;"
	    "ALTER TABLE leases RENAME TO leases_v1;", err)) != 0 ||
	    (rc = exec_sql(t, schema_sql, err)) != 0 ||
	    (rc = exec_sql(t, "INSERT INTO leases (" LEASE_COLUMNS ") SELECT "
	    LEASE_COLUMNS " FROM leases_v1 ORDER BY issued, id;"
	    "DROP TABLE leases_v1; COMMIT;", err)) != 0) {
		(void)sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return 0;
}

int
lease_table_open(const char *path, const struct al_clock *clock,
    lease_end_fn on_end, void *arg, struct lease_table **out,
    struct al_err *err)
{
	struct lease_table *t = NULL;
	int rc, i;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	t->clock = clock;
	(void)snprintf(t->path, sizeof(t->path), "%s", path ? path :
	    ":memory:");
	if (path != NULL && (rc = create_file(path, err)) != 0)
		goto out;
	if (sqlite3_open_v2(path ? path : ":memory:", &t->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW,
	    NULL) != SQLITE_OK) {
		rc = db_fail(t, err, "cannot open");
		goto out;
	}
	/*
	 * WAL, fully synced while recovering, then synchronous=NORMAL (see
	 * the top of this file).  Exclusive locking keeps the WAL index in
	 * private memory (no -shm file).
	 */
	if ((rc = exec_sql(t, "PRAGMA locking_mode=EXCLUSIVE;"
	    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err)) != 0 ||
	    (rc = migrate(t, err)) != 0 ||
	    (rc = exec_sql(t, schema_sql, err)) != 0)
		goto out;
	for (i = 0; i < NSTMT; i++) {
		if (sqlite3_prepare_v3(t->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &t->st[i], NULL) != SQLITE_OK) {
			rc = db_fail(t, err, "cannot prepare");
			goto out;
		}
	}
	if ((rc = recover(t, on_end, arg, err)) != 0 ||
	    (rc = exec_sql(t, "PRAGMA synchronous=NORMAL;", err)) != 0)
		goto out;
	*out = t;
	t = NULL;
out:
	lease_table_close(t);
	return rc;
}

void
lease_table_close(struct lease_table *t)
{
	int i;

	if (t == NULL)
		return;
	if (t->in_txn && t->db != NULL)
		(void)sqlite3_exec(t->db, "COMMIT", NULL, NULL, NULL);
	for (i = 0; i < NSTMT; i++)
		sqlite3_finalize(t->st[i]);
	sqlite3_close(t->db);
	free(t);
}

static int
check_text(const char *s, int required, const char *field,
    struct al_err *err)
{
	size_t n;

	if (s == NULL || s[0] == '\0')
		return required ? al_err_set(err, AL_EINVAL, "lease %s is "
		    "empty", field) : 0;
	n = strlen(s);
	if (n > LEASE_TEXT_MAX)
		return al_err_set(err, AL_EINVAL, "lease %s is longer than %d "
		    "bytes", field, LEASE_TEXT_MAX);
	return 0;
}

int
lease_issue(struct lease_table *t, const struct lease_spec *spec,
    struct lease *out, struct al_err *err)
{
	sqlite3_stmt *st = t->st[S_INSERT];
	unsigned char raw[16];
	struct lease l;
	int rc;

	memset(&l, 0, sizeof(l));
	if ((rc = check_text(spec->secret, 1, "secret", err)) != 0 ||
	    (rc = check_text(spec->holder, 1, "holder", err)) != 0 ||
	    (rc = check_text(spec->task, 0, "task", err)) != 0 ||
	    (rc = check_text(spec->intent, 0, "intent", err)) != 0)
		return rc;
	if (spec->ttl <= 0 || spec->ttl > 366 * 86400)
		return al_err_set(err, AL_EINVAL, "lease ttl must be between "
		    "1 second and a year");
	if (spec->max_uses == 0 || spec->max_uses < LEASE_USES_UNLIMITED)
		return al_err_set(err, AL_EINVAL, "lease max uses must be "
		    "positive or unlimited");
	if (spec->idle_timeout < 0)
		return al_err_set(err, AL_EINVAL, "lease idle timeout is "
		    "negative");
	randombytes_buf(raw, sizeof(raw));
	al_hex(raw, sizeof(raw), l.id);
	(void)snprintf(l.secret, sizeof(l.secret), "%s", spec->secret);
	(void)snprintf(l.holder, sizeof(l.holder), "%s", spec->holder);
	(void)snprintf(l.task, sizeof(l.task), "%s", spec->task ?
	    spec->task : "");
	(void)snprintf(l.intent, sizeof(l.intent), "%s", spec->intent ?
	    spec->intent : "");
	l.issued = t->clock->now(t->clock->arg);
	l.expires = l.issued + spec->ttl;
	l.idle_timeout = spec->idle_timeout;
	l.max_uses = spec->max_uses;
	l.conn = spec->conn;
	l.state = LEASE_LIVE;
	if ((rc = begin(t, err)) != 0)
		return rc;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, l.id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, l.secret, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, l.holder, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, l.task, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, l.intent, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, l.issued);
	sqlite3_bind_int64(st, 7, l.expires);
	sqlite3_bind_int64(st, 8, l.idle_timeout);
	sqlite3_bind_int(st, 9, l.max_uses);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)l.conn);
	sqlite3_bind_int64(st, 11, deadline_of(&l));
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 :
	    db_fail(t, err, "cannot store a lease");
	sqlite3_reset(st);
	if (rc == 0)
		*out = l;
	return rc;
}

int
lease_get(struct lease_table *t, const char *id, struct lease *out,
    struct al_err *err)
{
	int ended;

	if (!lease_id_valid(id))
		return al_err_set(err, AL_ENOENT, "no lease '%.40s' (a lease "
		    "id is %d hex digits)", id, LEASE_ID_LEN);
	return load_current(t, id, out, &ended, err);
}

static int
ended_err(const struct lease *l, struct al_err *err)
{
	return al_err_set(err, AL_EEXPIRED, "lease %s has ended (%s)", l->id,
	    lease_state_name(l->state));
}

int
lease_use(struct lease_table *t, const char *id, struct lease *out,
    struct al_err *err)
{
	sqlite3_stmt *st = t->st[S_USE];
	struct lease l;
	int64_t now;
	int rc;

	if ((rc = lease_get(t, id, &l, err)) != 0)
		return rc;
	if (l.state != LEASE_LIVE) {
		*out = l;
		return ended_err(&l, err);
	}
	now = t->clock->now(t->clock->arg);
	l.uses++;
	l.last_used = now;
	if (l.max_uses != LEASE_USES_UNLIMITED && l.uses >= l.max_uses) {
		l.state = LEASE_USED_UP;
		l.ended = now;
	}
	if ((rc = begin(t, err)) != 0)
		return rc;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, l.id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, row_deadline(&l));
	sqlite3_bind_int(st, 4, (int)l.state);
	sqlite3_bind_int64(st, 5, l.ended);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 :
	    db_fail(t, err, "cannot record a use");
	sqlite3_reset(st);
	if (rc == 0)
		*out = l;
	return rc;
}

int
lease_revoke(struct lease_table *t, const char *id, enum lease_state state,
    struct lease *out, struct al_err *err)
{
	struct lease l;
	int rc;

	if ((rc = lease_get(t, id, &l, err)) != 0)
		return rc;
	if (l.state != LEASE_LIVE) {
		*out = l;
		return ended_err(&l, err);
	}
	if ((rc = end_lease(t, &l, state, t->clock->now(t->clock->arg),
	    err)) != 0)
		return rc;
	*out = l;
	return 0;
}

int
lease_revoke_task(struct lease_table *t, const char *task, lease_end_fn fn,
    void *arg, size_t *n, struct al_err *err)
{
	sqlite3_stmt *st = t->st[S_BY_TASK];

	*n = 0;
	if (task == NULL || task[0] == '\0')
		return al_err_set(err, AL_EINVAL, "no task given to revoke");
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, task, -1, SQLITE_TRANSIENT);
	return end_matching(t, st, LEASE_REVOKED, fn, arg, n, err);
}

int
lease_revoke_conn(struct lease_table *t, uint64_t conn, lease_end_fn fn,
    void *arg, size_t *n, struct al_err *err)
{
	sqlite3_stmt *st = t->st[S_BY_CONN];

	*n = 0;
	if (conn == 0)
		return 0;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)conn);
	return end_matching(t, st, LEASE_CLOSED, fn, arg, n, err);
}

int
lease_sweep(struct lease_table *t, lease_end_fn fn, void *arg, size_t *n,
    struct al_err *err)
{
	sqlite3_stmt *st = t->st[S_DUE];

	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, t->clock->now(t->clock->arg));
	return end_matching(t, st, LEASE_LIVE, fn, arg, n, err);
}

int
lease_table_prune(struct lease_table *t, size_t max, size_t *n,
    struct al_err *err)
{
	sqlite3_stmt *st = t->st[S_PRUNE];
	int rc;

	*n = 0;
	if ((rc = begin(t, err)) != 0)
		return rc;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, t->clock->now(t->clock->arg));
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(t, err, "cannot forget ended leases");
	else
		*n = (size_t)sqlite3_changes(t->db);
	sqlite3_reset(st);
	return rc;
}

uint64_t
lease_table_writes(const struct lease_table *t)
{
	return t->writes;
}

int64_t
lease_next_deadline(struct lease_table *t)
{
	sqlite3_stmt *st = t->st[S_NEXT];
	int64_t d = 0;

	sqlite3_reset(st);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		d = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return d;
}

size_t
lease_count_live(struct lease_table *t)
{
	sqlite3_stmt *st = t->st[S_COUNT];
	size_t n = 0;

	sqlite3_reset(st);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

int
lease_list(struct lease_table *t, const char *holder,
    int (*fn)(const struct lease *l, void *arg), void *arg,
    struct al_err *err)
{
	sqlite3_stmt *st = NULL;
	struct lease l;
	int rc = 0, step;

	/* A private statement: fn may call back into the table. */
	if (sqlite3_prepare_v2(t->db, stmt_sql[holder && holder[0] ?
	    S_LIST_HOLDER : S_LIST], -1, &st, NULL) != SQLITE_OK)
		return db_fail(t, err, "cannot prepare");
	if (holder && holder[0])
		sqlite3_bind_text(st, 1, holder, -1, SQLITE_TRANSIENT);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = load(t, (const char *)sqlite3_column_text(st, 0),
		    &l, err)) != 0)
			goto out;
		if ((rc = fn(&l, arg)) != 0)
			goto out;
	}
	if (step != SQLITE_DONE)
		rc = db_fail(t, err, "cannot list leases");
out:
	sqlite3_finalize(st);
	return rc;
}

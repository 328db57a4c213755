/*
 * The records of the engine's state file: every credential minted, by
 * name, written before the credential exists (names are reserved in synced
 * batches), and kept until its revocation is confirmed.
 *
 * Only the record of an intent must be durable: a lost update (revoking,
 * attempts) or deletion after a crash only means the next broker finds a
 * record whose lease is gone and revokes it again, which succeeds at once
 * for a credential that no longer exists.  So those writes are not synced,
 * and they ride in one open transaction, committed every ENGINE_BATCH_MS
 * and whenever the workers fall idle: three transactions per credential
 * (its lease filled in, its end, its deletion) cost the broker more than
 * the rest of its bookkeeping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "state_int.h"

int64_t
engine_now_ms(struct engine *e)
{
	return e->clock->now_ms(e->clock->arg);
}

/* ---- records (mu held) -------------------------------------------------- */

int
engine_db_exec(struct engine *e, const char *sql, struct al_err *err)
{
	char *msg = NULL;

	if (sqlite3_exec(e->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		(void)al_err_set(err, AL_EDB, "engine state: %s",
		    msg ? msg : sqlite3_errmsg(e->db));
		sqlite3_free(msg);
		return AL_EDB;
	}
	return 0;
}

/*
 * The statement sql, prepared once and kept in *slot (a credential's
 * record is written three times in its life: parsing the statement each
 * time cost more than the write).  Reset and unbound by put_stmt.
 */
static sqlite3_stmt *
get_stmt(struct engine *e, sqlite3_stmt **slot, const char *sql)
{
	if (*slot == NULL && sqlite3_prepare_v3(e->db, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK)
		*slot = NULL;
	return *slot;
}

static void
put_stmt(sqlite3_stmt *st)
{
	(void)sqlite3_reset(st);
	(void)sqlite3_clear_bindings(st);
}

void
engine_stmts_free(struct engine *e)
{
	sqlite3_finalize(e->st_save);
	sqlite3_finalize(e->st_delete);
	e->st_save = e->st_delete = NULL;
}

/* Open the batch transaction unless one is open (mu held). */
static int
batch_begin(struct engine *e, struct al_err *err)
{
	int rc;

	if (e->in_batch)
		return 0;
	if ((rc = engine_db_exec(e, "BEGIN", err)) == 0) {
		e->in_batch = 1;
		e->batch_ms = engine_now_ms(e);
		/* An idle worker commits it in time (see worker). */
		pthread_cond_signal(&e->cv);
	}
	return rc;
}

void
engine_commit(struct engine *e)
{
	if (!e->in_batch)
		return;
	e->in_batch = 0;
	if (engine_db_exec(e, "COMMIT", NULL) != 0)
		(void)engine_db_exec(e, "ROLLBACK", NULL);
}

/* After a write: the batch committed once it is ENGINE_BATCH_MS old. */
static void
batch_end(struct engine *e)
{
	if (e->in_batch && engine_now_ms(e) - e->batch_ms >= ENGINE_BATCH_MS)
		engine_commit(e);
}

/* Write r's row (insert or replace), in whatever transaction is open. */
static int
save_row(struct engine *e, const struct rec *r, struct al_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = get_stmt(e, &e->st_save, "INSERT OR REPLACE INTO creds"
	    " (role, secret, lease, conn, expires, revoking, attempts,"
	    " ended_ms, error, orphan, ext) VALUES"
	    " (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)")) == NULL)
		return al_err_set(err, AL_EDB, "engine state: %s",
		    sqlite3_errmsg(e->db));
	sqlite3_bind_text(st, 1, r->c.role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->c.secret, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->c.lease, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)r->c.conn);
	sqlite3_bind_int64(st, 5, r->c.expires);
	sqlite3_bind_int(st, 6, r->c.revoking);
	sqlite3_bind_int(st, 7, r->c.attempts);
	sqlite3_bind_int64(st, 8, r->c.ended_ms);
	sqlite3_bind_text(st, 9, r->c.error, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 10, r->orphan);
	sqlite3_bind_text(st, 11, r->c.ext, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : al_err_set(err, AL_EDB,
	    "engine state: %s", sqlite3_errmsg(e->db));
	put_stmt(st);
	return rc;
}

int
engine_rec_save(struct engine *e, const struct rec *r, struct al_err *err)
{
	int rc;

	if ((rc = batch_begin(e, err)) != 0)
		return rc;
	rc = save_row(e, r, err);
	batch_end(e);
	return rc;
}

int
engine_rec_save_durable(struct engine *e, const struct rec *r,
    struct al_err *err)
{
	int rc;

	engine_commit(e);
	if ((rc = engine_db_exec(e, "PRAGMA synchronous=FULL", err)) == 0)
		rc = save_row(e, r, err);
	(void)engine_db_exec(e, "PRAGMA synchronous=NORMAL", NULL);
	return rc;
}

int
engine_rec_delete(struct engine *e, const char *role)
{
	sqlite3_stmt *st;
	int rc;

	if (batch_begin(e, NULL) != 0 || (st = get_stmt(e, &e->st_delete,
	    "DELETE FROM creds WHERE role = ?1")) == NULL)
		return AL_EDB;
	sqlite3_bind_text(st, 1, role, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : AL_EDB;
	put_stmt(st);
	batch_end(e);
	return rc;
}

struct rec *
engine_rec_add(struct engine *e)
{
	struct rec *p;

	if (e->nrecs == e->caprecs) {
		size_t cap = e->caprecs ? 2 * e->caprecs : 64;

		if ((p = realloc(e->recs, cap * sizeof(*p))) == NULL)
			return NULL;
		e->recs = p;
		e->caprecs = cap;
	}
	p = &e->recs[e->nrecs++];
	memset(p, 0, sizeof(*p));
	return p;
}

struct rec *
engine_rec_find(struct engine *e, const char *role)
{
	size_t i;

	for (i = 0; i < e->nrecs; i++)
		if (strcmp(e->recs[i].c.role, role) == 0)
			return &e->recs[i];
	return NULL;
}

/* Mark r revoking (its lease ended now) and save it. */
void
engine_rec_end(struct engine *e, struct rec *r)
{
	r->c.revoking = 1;
	r->c.ended_ms = engine_now_ms(e);
	r->next_try_ms = 0;
	e->st.revoking++;
	if (engine_rec_save(e, r, NULL) != 0) {
		/* Kept in memory; retried by the worker all the same. */
	}
}

int
engine_rec_load(struct engine *e, struct al_err *err)
{
	sqlite3_stmt *st = NULL;
	struct rec *r;
	int rc = 0;

	if (sqlite3_prepare_v2(e->db, "SELECT role, secret, lease, conn,"
	    " expires, revoking, attempts, ended_ms, error, orphan, ext"
	    " FROM creds",
	    -1, &st, NULL) != SQLITE_OK)
		return al_err_set(err, AL_EDB, "engine state: %s",
		    sqlite3_errmsg(e->db));
	while (sqlite3_step(st) == SQLITE_ROW) {
		if ((r = engine_rec_add(e)) == NULL) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			break;
		}
		(void)snprintf(r->c.role, sizeof(r->c.role), "%s",
		    (const char *)sqlite3_column_text(st, 0));
		(void)snprintf(r->c.secret, sizeof(r->c.secret), "%s",
		    (const char *)sqlite3_column_text(st, 1));
		(void)snprintf(r->c.lease, sizeof(r->c.lease), "%s",
		    (const char *)sqlite3_column_text(st, 2));
		r->c.conn = (uint64_t)sqlite3_column_int64(st, 3);
		r->c.expires = sqlite3_column_int64(st, 4);
		r->c.revoking = sqlite3_column_int(st, 5);
		r->c.attempts = sqlite3_column_int(st, 6);
		r->c.ended_ms = sqlite3_column_int64(st, 7);
		(void)snprintf(r->c.error, sizeof(r->c.error), "%s",
		    sqlite3_column_text(st, 8) ? (const char *)
		    sqlite3_column_text(st, 8) : "");
		r->orphan = sqlite3_column_int(st, 9);
		(void)snprintf(r->c.ext, sizeof(r->c.ext), "%s",
		    sqlite3_column_text(st, 10) ? (const char *)
		    sqlite3_column_text(st, 10) : "");
		r->reserved = r->c.lease[0] == '\0' && !r->c.revoking;
		if (r->c.revoking)
			e->st.revoking++;
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * This state file's id (e->inst): read from its meta table, or drawn at
 * random and stored on first open.
 */
int
engine_instance_load(struct engine *e, struct al_err *err)
{
	sqlite3_stmt *st = NULL;
	unsigned char raw[INSTANCE_HEX / 2];
	const unsigned char *v;
	int rc;

	if ((rc = engine_db_exec(e, "CREATE TABLE IF NOT EXISTS meta (k TEXT"
	    " PRIMARY KEY, v TEXT NOT NULL)", err)) != 0)
		return rc;
	if (sqlite3_prepare_v2(e->db, "SELECT v FROM meta WHERE k ="
	    " 'instance'", -1, &st, NULL) != SQLITE_OK)
		return al_err_set(err, AL_EDB, "engine state: %s",
		    sqlite3_errmsg(e->db));
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (v = sqlite3_column_text(st, 0)) != NULL &&
	    strlen((const char *)v) == INSTANCE_HEX &&
	    strspn((const char *)v, "0123456789abcdef") == INSTANCE_HEX) {
		memcpy(e->inst, v, INSTANCE_HEX + 1);
		sqlite3_finalize(st);
		return 0;
	}
	sqlite3_finalize(st);
	randombytes_buf(raw, sizeof(raw));
	al_hex(raw, sizeof(raw), e->inst);
	if (sqlite3_prepare_v2(e->db, "INSERT OR REPLACE INTO meta (k, v)"
	    " VALUES ('instance', ?1)", -1, &st, NULL) != SQLITE_OK)
		return al_err_set(err, AL_EDB, "engine state: %s",
		    sqlite3_errmsg(e->db));
	sqlite3_bind_text(st, 1, e->inst, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : al_err_set(err, AL_EDB,
	    "engine state: %s", sqlite3_errmsg(e->db));
	sqlite3_finalize(st);
	return rc;
}

/* ---- sources ------------------------------------------------------------- */


/* A reserved name of source s (mu held), or NULL. */
struct rec *
engine_take_reserved(struct engine *e, const struct engine_source *s)
{
	size_t i;

	for (i = e->nrecs; i-- > 0;)
		if (e->recs[i].reserved && strcmp(e->recs[i].c.secret,
		    s->name) == 0 && strncmp(e->recs[i].c.role, s->stem,
		    strlen(s->stem)) == 0)
			return &e->recs[i];
	return NULL;
}

/*
 * Record RESERVE_BATCH fresh names for s in one synced transaction (mu
 * held): the record of an intent, durable before any of these roles can
 * exist.
 */
int
engine_reserve(struct engine *e, const struct engine_source *s, struct al_err *err)
{
	unsigned char raw[8];
	char hex[17];
	struct rec *r;
	size_t i, n0 = e->nrecs;
	int rc;

	engine_commit(e);
	if ((rc = engine_db_exec(e, "PRAGMA synchronous=FULL; BEGIN", err)) != 0)
		return rc;
	for (i = 0; i < RESERVE_BATCH && rc == 0; i++) {
		if ((r = engine_rec_add(e)) == NULL) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			break;
		}
		randombytes_buf(raw, sizeof(raw));
		al_hex(raw, sizeof(raw), hex);
		(void)snprintf(r->c.role, sizeof(r->c.role), "%s%s",
		    s->stem, hex);
		(void)snprintf(r->c.secret, sizeof(r->c.secret), "%s",
		    s->name);
		r->reserved = 1;
		rc = save_row(e, r, err);
	}
	if (rc == 0)
		rc = engine_db_exec(e, "COMMIT", err);
	if (rc != 0) {
		(void)engine_db_exec(e, "ROLLBACK", NULL);
		e->nrecs = n0;
	}
	(void)engine_db_exec(e, "PRAGMA synchronous=NORMAL", NULL);
	return rc;
}


/* ---- the queue, read by another process --------------------------------- */

int
engine_queue_read(const char *path, void (*fn)(const struct engine_cred *c,
    void *arg), void *arg, struct al_err *err)
{
	struct engine_cred c;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = 0, step;

	if (access(path, F_OK) != 0)
		return al_err_set(err, AL_ENOENT, "%s: no such file", path);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 2000) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT role, secret, lease, attempts,"
	    " ended_ms, error FROM creds WHERE revoking = 1 ORDER BY ended_ms",
	    -1, &st, NULL) != SQLITE_OK) {
		rc = al_err_set(err, AL_EDB, "%s: %s", path, db ?
		    sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&c, 0, sizeof(c));
		(void)snprintf(c.role, sizeof(c.role), "%s",
		    (const char *)sqlite3_column_text(st, 0));
		(void)snprintf(c.secret, sizeof(c.secret), "%s",
		    (const char *)sqlite3_column_text(st, 1));
		(void)snprintf(c.lease, sizeof(c.lease), "%s",
		    (const char *)sqlite3_column_text(st, 2));
		c.revoking = 1;
		c.attempts = sqlite3_column_int(st, 3);
		c.ended_ms = sqlite3_column_int64(st, 4);
		(void)snprintf(c.error, sizeof(c.error), "%s",
		    sqlite3_column_text(st, 5) ? (const char *)
		    sqlite3_column_text(st, 5) : "");
		fn(&c, arg);
	}
	if (step != SQLITE_DONE)
		rc = al_err_set(err, AL_EDB, "%s: %s", path,
		    sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/*
 * SQLite storage backend: one database file in WAL mode with full
 * synchronisation, so a crash at any write leaves either the old or the new
 * state, and several airlock processes can write at once (writers queue on
 * the busy timeout).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_int.h"

#define BUSY_TIMEOUT_MS	15000
#define SCHEMA_VERSION	"1"

/* Statements are prepared once and kept, keyed by their SQL's address. */
#define STMT_CACHE	16

struct sqlite_store {
	sqlite3		*db;
	char		 path[PATH_MAX];
	struct {
		const char	*sql;
		sqlite3_stmt	*st;
	}		 cache[STMT_CACHE];
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta ("
	"  k TEXT PRIMARY KEY, v BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS keywrap ("
	"  key_id BLOB PRIMARY KEY, kind INTEGER NOT NULL, salt BLOB,"
	"  opslimit INTEGER, memlimit INTEGER, wrapped BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS secrets ("
	"  id BLOB PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	"  owner TEXT NOT NULL, purpose TEXT NOT NULL,"
	"  created INTEGER NOT NULL, updated INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL DEFAULT 0,"
	"  rotate_every INTEGER NOT NULL DEFAULT 0,"
	"  last_rotated INTEGER NOT NULL,"
	"  hosts TEXT NOT NULL DEFAULT '[]', labels TEXT NOT NULL DEFAULT '{}',"
	"  version INTEGER NOT NULL, status INTEGER NOT NULL,"
	"  nonce BLOB NOT NULL, ct BLOB NOT NULL);";

static int
db_err(struct sqlite_store *s, struct al_err *err, const char *what)
{
	int ec = sqlite3_extended_errcode(s->db);

	if ((ec & 0xff) == SQLITE_BUSY || (ec & 0xff) == SQLITE_LOCKED)
		return al_err_set(err, AL_EBUSY, "%s: %s is locked by another "
		    "process", what, s->path);
	if ((ec & 0xff) == SQLITE_CORRUPT || (ec & 0xff) == SQLITE_NOTADB)
		return al_err_set(err, AL_ECORRUPT, "%s: %s is damaged (%s)",
		    what, s->path, sqlite3_errmsg(s->db));
	return al_err_set(err, AL_EDB, "%s: %s: %s", what, s->path,
	    sqlite3_errmsg(s->db));
}

static int
exec_sql(struct sqlite_store *s, const char *sql, const char *what,
    struct al_err *err)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(s, err, what);
	return 0;
}

static void
sq_close(void *p)
{
	struct sqlite_store *s = p;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < STMT_CACHE; i++)
		sqlite3_finalize(s->cache[i].st);
	(void)sqlite3_close_v2(s->db);
	free(s);
}

static int
sq_open(const char *home, int create, void **out, struct al_err *err)
{
	struct sqlite_store *s;
	struct stat st;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW |
	    SQLITE_OPEN_FULLMUTEX;
	int fd, rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	if (al_path_join(s->path, sizeof(s->path), home, VAULT_DB_FILE)) {
		rc = al_err_set(err, AL_ETOOBIG, "path too long");
		goto fail;
	}
	if (create) {
		if (lstat(s->path, &st) == 0) {
			rc = al_err_set(err, AL_EEXIST, "a vault already exists "
			    "at %s: refusing to overwrite it", s->path);
			goto fail;
		}
		/*
		 * Create the file ourselves, exclusively and 0600 whatever the
		 * umask: SQLite gives the -wal and -shm files the same mode.
		 */
		if ((fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
			rc = al_err_set(err, errno == EEXIST ? AL_EEXIST :
			    AL_ESYS, "cannot create %s: %s", s->path,
			    strerror(errno));
			goto fail;
		}
		(void)close(fd);
	} else {
		if (lstat(s->path, &st) != 0) {
			rc = al_err_set(err, AL_ENOVAULT, "no vault at %s: run "
			    "`airlock init`", home);
			goto fail;
		}
		if ((rc = al_fs_check_private(s->path, 0, err)) != 0)
			goto fail;
	}
	if (sqlite3_open_v2(s->path, &s->db, flags, NULL) != SQLITE_OK) {
		rc = al_err_set(err, AL_EDB, "cannot open %s: %s", s->path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	(void)sqlite3_extended_result_codes(s->db, 1);
	(void)sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	/* secure_delete overwrites freed pages, so old ciphertext does not linger. */
	if ((rc = exec_sql(s, "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;"
	    "PRAGMA foreign_keys=ON;", "cannot configure the vault", err)) != 0)
		goto fail;
	if (create) {
		if ((rc = exec_sql(s, schema_sql, "cannot create the vault",
		    err)) != 0)
			goto fail;
	} else {
		/* Touch the schema now so a damaged file fails here. */
		if ((rc = exec_sql(s, "SELECT count(*) FROM secrets;",
		    "cannot read the vault", err)) != 0)
			goto fail;
	}
	*out = s;
	return 0;
fail:
	sq_close(s);
	return rc;
}

static int
sq_begin(void *p, struct al_err *err)
{
	return exec_sql(p, "BEGIN IMMEDIATE;", "cannot start a transaction",
	    err);
}

static int
sq_commit(void *p, struct al_err *err)
{
	return exec_sql(p, "COMMIT;", "cannot commit", err);
}

static void
sq_rollback(void *p)
{
	struct sqlite_store *s = p;

	if (!sqlite3_get_autocommit(s->db))
		(void)sqlite3_exec(s->db, "ROLLBACK;", NULL, NULL, NULL);
}

/*
 * The statement for sql (a string literal), prepared on first use and
 * kept; give it back with done().  A broker reads a secret per use: parsing
 * the SQL each time would cost more than the read.
 */
static int
prepare(struct sqlite_store *s, const char *sql, sqlite3_stmt **st,
    struct al_err *err)
{
	size_t i;

	*st = NULL;
	for (i = 0; i < STMT_CACHE && s->cache[i].sql != NULL; i++)
		if (s->cache[i].sql == sql) {
			*st = s->cache[i].st;
			return 0;
		}
	if (sqlite3_prepare_v3(s->db, sql, -1, i < STMT_CACHE ?
	    SQLITE_PREPARE_PERSISTENT : 0, st, NULL) != SQLITE_OK)
		return db_err(s, err, "cannot prepare a query");
	if (i < STMT_CACHE) {
		s->cache[i].sql = sql;
		s->cache[i].st = *st;
	}
	return 0;
}

/* Give a statement back: reset and unbound if cached, else finalized. */
static void
done(struct sqlite_store *s, sqlite3_stmt *st)
{
	size_t i;

	for (i = 0; i < STMT_CACHE && s->cache[i].sql != NULL; i++)
		if (s->cache[i].st == st) {
			(void)sqlite3_reset(st);
			(void)sqlite3_clear_bindings(st);
			return;
		}
	sqlite3_finalize(st);
}

static int
sq_meta_get(void *p, const char *key, struct al_buf *out, struct al_err *err)
{
	struct sqlite_store *s = p;
	sqlite3_stmt *st;
	int rc;

	if ((rc = prepare(s, "SELECT v FROM meta WHERE k = ?1", &st, err)))
		return rc;
	(void)sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = al_buf_append(out, sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0));
		if (rc)
			rc = al_err_set(err, rc, "vault metadata '%s' is too "
			    "large", key);
	} else if (rc == SQLITE_DONE)
		rc = al_err_set(err, AL_ENOENT, "vault metadata '%s' is "
		    "missing", key);
	else
		rc = db_err(s, err, "cannot read vault metadata");
	done(s, st);
	return rc;
}

static int
sq_meta_put(void *p, const char *key, const void *v, size_t n,
    struct al_err *err)
{
	struct sqlite_store *s = p;
	sqlite3_stmt *st;
	int rc;

	if ((rc = prepare(s, "INSERT OR REPLACE INTO meta(k, v) VALUES(?1, ?2)",
	    &st, err)))
		return rc;
	(void)sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	(void)sqlite3_bind_blob(st, 2, v, (int)n, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 :
	    db_err(s, err, "cannot write vault metadata");
	done(s, st);
	return rc;
}

static int
copy_blob(sqlite3_stmt *st, int col, void *dst, size_t len)
{
	if ((size_t)sqlite3_column_bytes(st, col) != len)
		return -1;
	if (len)
		memcpy(dst, sqlite3_column_blob(st, col), len);
	return 0;
}

static int
sq_wrap_list(void *p, struct store_wrap **out, size_t *n, struct al_err *err)
{
	struct sqlite_store *s = p;
	struct store_wrap *v = NULL, *nv;
	sqlite3_stmt *st;
	size_t cnt = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = prepare(s, "SELECT key_id, kind, salt, opslimit, memlimit, "
	    "wrapped FROM keywrap", &st, err)))
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_wrap w;

		memset(&w, 0, sizeof(w));
		w.kind = sqlite3_column_int(st, 1);
		w.opslimit = (unsigned long long)sqlite3_column_int64(st, 3);
		w.memlimit = (unsigned long long)sqlite3_column_int64(st, 4);
		if (copy_blob(st, 0, w.key_id, sizeof(w.key_id)) ||
		    copy_blob(st, 5, w.wrapped, sizeof(w.wrapped)) ||
		    (w.kind == VAULT_KEY_KIND_PASSPHRASE &&
		    copy_blob(st, 2, w.salt, sizeof(w.salt))))
			continue;	/* a damaged wrap cannot open anything */
		if ((nv = realloc(v, (cnt + 1) * sizeof(*v))) == NULL) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			goto out;
		}
		v = nv;
		v[cnt++] = w;
	}
	if (rc != SQLITE_DONE) {
		rc = db_err(s, err, "cannot read the key wraps");
		goto out;
	}
	*out = v;
	*n = cnt;
	v = NULL;
	rc = 0;
out:
	free(v);
	done(s, st);
	return rc;
}

static int
sq_wrap_put(void *p, const struct store_wrap *w, struct al_err *err)
{
	struct sqlite_store *s = p;
	sqlite3_stmt *st;
	int rc;

	if ((rc = prepare(s, "INSERT OR REPLACE INTO keywrap(key_id, kind, "
	    "salt, opslimit, memlimit, wrapped) VALUES(?1,?2,?3,?4,?5,?6)",
	    &st, err)))
		return rc;
	(void)sqlite3_bind_blob(st, 1, w->key_id, sizeof(w->key_id),
	    SQLITE_STATIC);
	(void)sqlite3_bind_int(st, 2, (int)w->kind);
	if (w->kind == VAULT_KEY_KIND_PASSPHRASE)
		(void)sqlite3_bind_blob(st, 3, w->salt, sizeof(w->salt),
		    SQLITE_STATIC);
	(void)sqlite3_bind_int64(st, 4, (sqlite3_int64)w->opslimit);
	(void)sqlite3_bind_int64(st, 5, (sqlite3_int64)w->memlimit);
	(void)sqlite3_bind_blob(st, 6, w->wrapped, sizeof(w->wrapped),
	    SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 :
	    db_err(s, err, "cannot store the key wrap");
	done(s, st);
	return rc;
}

static int
sq_wrap_prune(void *p, const unsigned char *keep_id, struct al_err *err)
{
	struct sqlite_store *s = p;
	sqlite3_stmt *st;
	int rc;

	if ((rc = prepare(s, "DELETE FROM keywrap WHERE key_id != ?1", &st,
	    err)))
		return rc;
	(void)sqlite3_bind_blob(st, 1, keep_id, STORE_ID_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 :
	    db_err(s, err, "cannot remove old key wraps");
	done(s, st);
	return rc;
}

#define ROW_COLUMNS "id, name, owner, purpose, created, updated, expires, " \
	"rotate_every, last_rotated, hosts, labels, version, status"

/* Fill m from the ROW_COLUMNS of st; sets m->corrupt on bad metadata. */
static int
row_meta(sqlite3_stmt *st, struct vault_meta *m)
{
	const unsigned char *t;
	const char *hosts, *labels;

	memset(m, 0, sizeof(*m));
	if ((size_t)sqlite3_column_bytes(st, 0) == STORE_ID_LEN)
		al_hex(sqlite3_column_blob(st, 0), STORE_ID_LEN, m->id);
	t = sqlite3_column_text(st, 1);
	(void)snprintf(m->name, sizeof(m->name), "%s", t ? (const char *)t :
	    "");
	t = sqlite3_column_text(st, 2);
	m->owner = strdup(t ? (const char *)t : "");
	t = sqlite3_column_text(st, 3);
	m->purpose = strdup(t ? (const char *)t : "");
	if (m->owner == NULL || m->purpose == NULL)
		return AL_ENOMEM;
	m->created = sqlite3_column_int64(st, 4);
	m->updated = sqlite3_column_int64(st, 5);
	m->expires = sqlite3_column_int64(st, 6);
	m->rotate_every = sqlite3_column_int64(st, 7);
	m->last_rotated = sqlite3_column_int64(st, 8);
	hosts = (const char *)sqlite3_column_text(st, 9);
	labels = (const char *)sqlite3_column_text(st, 10);
	m->version = (uint32_t)sqlite3_column_int64(st, 11);
	m->status = (enum vault_status)sqlite3_column_int(st, 12);
	if (m->status < VAULT_ACTIVE || m->status > VAULT_REVOKED)
		m->corrupt = 1;
	if (store_meta_lists_decode(m, hosts ? hosts : "",
	    labels ? labels : "") != 0)
		m->corrupt = 1;
	return 0;
}

static int
sq_row_get(void *p, const char *name, struct store_row *r,
    struct al_err *err)
{
	struct sqlite_store *s = p;
	sqlite3_stmt *st;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = prepare(s, "SELECT " ROW_COLUMNS ", nonce, ct FROM secrets "
	    "WHERE name = ?1", &st, err)))
		return rc;
	(void)sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = al_err_set(err, AL_ENOENT, "no secret named '%s'", name);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		rc = db_err(s, err, "cannot read the secret");
		goto out;
	}
	if ((rc = row_meta(st, &r->meta)) != 0) {
		rc = al_err_set(err, rc, "out of memory");
		goto out;
	}
	if (copy_blob(st, 0, r->id, sizeof(r->id)) ||
	    copy_blob(st, 13, r->nonce, sizeof(r->nonce)) ||
	    r->meta.corrupt) {
		rc = al_err_set(err, AL_ECRYPTO, "secret '%s': the record is "
		    "corrupted or was tampered with", name);
		goto out;
	}
	r->ctlen = (size_t)sqlite3_column_bytes(st, 14);
	if ((r->ct = malloc(r->ctlen ? r->ctlen : 1)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if (r->ctlen)
		memcpy(r->ct, sqlite3_column_blob(st, 14), r->ctlen);
	rc = 0;
out:
	done(s, st);
	if (rc)
		store_row_release(r);
	return rc;
}

static int
bind_row(sqlite3_stmt *st, const struct store_row *r, char *hosts,
    char *labels)
{
	const struct vault_meta *m = &r->meta;

	if (sqlite3_bind_blob(st, 1, r->id, sizeof(r->id), SQLITE_STATIC) ||
	    sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(st, 3, m->owner, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(st, 4, m->purpose, -1, SQLITE_STATIC) ||
	    sqlite3_bind_int64(st, 5, m->created) ||
	    sqlite3_bind_int64(st, 6, m->updated) ||
	    sqlite3_bind_int64(st, 7, m->expires) ||
	    sqlite3_bind_int64(st, 8, m->rotate_every) ||
	    sqlite3_bind_int64(st, 9, m->last_rotated) ||
	    sqlite3_bind_text(st, 10, hosts, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(st, 11, labels, -1, SQLITE_STATIC) ||
	    sqlite3_bind_int64(st, 12, m->version) ||
	    sqlite3_bind_int(st, 13, (int)m->status) ||
	    sqlite3_bind_blob(st, 14, r->nonce, sizeof(r->nonce),
	    SQLITE_STATIC) ||
	    sqlite3_bind_blob(st, 15, r->ct, (int)r->ctlen, SQLITE_STATIC))
		return -1;
	return 0;
}

static int
row_write(struct sqlite_store *s, const char *sql, const struct store_row *r,
    int insert, struct al_err *err)
{
	sqlite3_stmt *st = NULL;
	char *hosts = NULL, *labels = NULL;
	int rc;

	if (store_meta_lists_encode(&r->meta, &hosts, &labels) != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = prepare(s, sql, &st, err)))
		goto out;
	if (bind_row(st, r, hosts, labels) != 0) {
		rc = db_err(s, err, "cannot store the secret");
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (insert && (sqlite3_extended_errcode(s->db) ==
	    SQLITE_CONSTRAINT_UNIQUE || sqlite3_extended_errcode(s->db) ==
	    SQLITE_CONSTRAINT_PRIMARYKEY))
		rc = al_err_set(err, AL_EEXIST, "a secret named '%s' already "
		    "exists (use `airlock secret rotate %s` to change its "
		    "value)", r->meta.name, r->meta.name);
	else
		rc = db_err(s, err, "cannot store the secret");
out:
	done(s, st);
	free(hosts);
	free(labels);
	return rc;
}

static int
sq_row_insert(void *p, const struct store_row *r, struct al_err *err)
{
	return row_write(p, "INSERT INTO secrets(" ROW_COLUMNS ", nonce, ct) "
	    "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)", r, 1,
	    err);
}

static int
sq_row_update(void *p, const struct store_row *r, struct al_err *err)
{
	struct sqlite_store *s = p;
	int rc;

	rc = row_write(s, "UPDATE secrets SET name=?2, owner=?3, purpose=?4, "
	    "created=?5, updated=?6, expires=?7, rotate_every=?8, "
	    "last_rotated=?9, hosts=?10, labels=?11, version=?12, status=?13, "
	    "nonce=?14, ct=?15 WHERE id=?1", r, 0, err);
	if (rc == 0 && sqlite3_changes(s->db) != 1)
		rc = al_err_set(err, AL_ENOENT, "no secret named '%s'",
		    r->meta.name);
	return rc;
}

static int
sq_row_delete(void *p, const char *name, struct al_err *err)
{
	struct sqlite_store *s = p;
	sqlite3_stmt *st;
	int rc;

	if ((rc = prepare(s, "DELETE FROM secrets WHERE name = ?1", &st, err)))
		return rc;
	(void)sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s, err, "cannot remove the secret");
	else if (sqlite3_changes(s->db) != 1)
		rc = al_err_set(err, AL_ENOENT, "no secret named '%s'", name);
	done(s, st);
	return rc;
}

static int
sq_row_list(void *p, struct vault_meta **out, size_t *n, struct al_err *err)
{
	struct sqlite_store *s = p;
	struct vault_meta *v = NULL, *nv;
	sqlite3_stmt *st;
	size_t cnt = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = prepare(s, "SELECT " ROW_COLUMNS " FROM secrets ORDER BY "
	    "name", &st, err)))
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
				rc = al_err_set(err, AL_ENOMEM, "out of memory");
				goto out;
			}
			v = nv;
		}
		if (row_meta(st, &v[cnt]) != 0) {
			vault_meta_release(&v[cnt]);
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			goto out;
		}
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		rc = db_err(s, err, "cannot list secrets");
		goto out;
	}
	*out = v;
	*n = cnt;
	v = NULL;
	cnt = 0;
	rc = 0;
out:
	vault_meta_list_free(v, cnt);
	done(s, st);
	return rc;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.meta_get = sq_meta_get,
	.meta_put = sq_meta_put,
	.wrap_list = sq_wrap_list,
	.wrap_put = sq_wrap_put,
	.wrap_prune = sq_wrap_prune,
	.row_get = sq_row_get,
	.row_insert = sq_row_insert,
	.row_update = sq_row_update,
	.row_delete = sq_row_delete,
	.row_list = sq_row_list,
};

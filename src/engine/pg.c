/*
 * The postgres engine (libpq): a role per lease use, destroyed in an order
 * that cannot leave it half alive.
 *
 * libpq keeps its own copy of the admin password for the life of a
 * connection (in its heap, not guarded); that copy is the cost of talking
 * to PostgreSQL at all, and the connection is kept only by the broker.  The
 * minted password never goes to the server: CREATE ROLE gets a SCRAM
 * verifier computed here (scram.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "cred_int.h"
#include "pq_dl.h"

/* How long revocation waits for a terminated session to go. */
#define PG_TERMINATE_WAIT_MS	5000
/*
 * A mint waits this long (seconds) for an unreachable database, and the
 * broker's loop with it: short, so that a database that is down costs the
 * other clients little.
 */
#define PG_CONNECT_TIMEOUT	"2"
/*
 * What every connection sets first.  No statement of airlock's waits on a
 * lock without a limit: a holder of a lease can hold a lock that
 * revocation needs (its own role's row, by changing its password in a
 * transaction it never ends; a table of another lease's role) and would
 * hold up a revocation worker, and the revocation, for as long as it
 * likes.  A wait that times out fails the attempt, which is retried.
 */
#define PG_SETUP_MINT	"SET lock_timeout = '2s'"
/*
 * Connections that revoke and search for orphans also look names up in
 * pg_catalog alone: with a schema on the search path where a lease's group
 * may create (public, often), a function of the group's that matches a
 * call of airlock's better than the built-in one (format(text, text,
 * regclass) against format(text, VARIADIC "any"), left(name, integer)
 * against left(text, integer)) would be called instead, as the admin.
 * Minting with --grant statements keeps the connection's search path:
 * they name the operator's objects as the operator wrote them.  Minting
 * into a group alone names nothing but roles, quoted: it shares the
 * revoking connections (pg_shared).
 */
#define PG_SETUP_REVOKE	PG_SETUP_MINT "; SET search_path = pg_catalog"

/*
 * The first attempt to revoke a role waits at most this long for the locks
 * of REASSIGN/DROP OWNED and DROP ROLE (retries: the connection's 2 s).  A
 * holder of a lease can keep its other roles locked (a GRANT to each in a
 * transaction it never ends): first attempts go before retries, and forty
 * such roles ended at once, 2 s each, kept another lease's first attempt
 * (the locking one's own, whose session then works on) waiting 11 s.
 */
#define PG_FIRST_LOCK_SQL	"SET LOCAL lock_timeout = '200ms';"

static int
pg_fail(struct al_err *err, int code, const char *what, const char *msg)
{
	char m[ENGINE_ERROR_MAX];
	size_t n;

	if (msg != NULL && strncmp(msg, "ERROR:  ", 8) == 0)
		msg += 8;
	(void)snprintf(m, sizeof(m), "%s", msg ? msg : "");
	n = strlen(m);
	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
		m[--n] = '\0';
	for (n = 0; m[n]; n++)
		if (m[n] == '\n')
			m[n] = ' ';
	return al_err_set(err, code, "%s: %s", what, m);
}

/* Run sql (no result rows wanted). */
static int
pg_exec(const struct pq_dl *dl, PGconn *conn, const char *sql, const char *what, struct al_err *err)
{
	PGresult *r = dl->PQexec(conn, sql);
	int rc = 0;

	if (r == NULL || (dl->PQresultStatus(r) != PGRES_COMMAND_OK &&
	    dl->PQresultStatus(r) != PGRES_TUPLES_OK))
		rc = pg_fail(err, dl->PQstatus(conn) == CONNECTION_OK ? AL_EDB :
		    AL_EUNAVAIL, what, r ? dl->PQresultErrorMessage(r) :
		    dl->PQerrorMessage(conn));
	dl->PQclear(r);
	return rc;
}

/*
 * Connect with the configuration's conninfo and the root password; dbname
 * (when not NULL) replaces the conninfo's database.  setup (PG_SETUP_*)
 * runs first.
 */
static int
pg_connect(const struct pq_dl *dl, const struct engine_config *c, const struct al_secret *root,
    const char *dbname, const char *setup, PGconn **out, struct al_err *err)
{
	const char *kw[6], *val[6];
	struct al_secret *pw = NULL;
	const unsigned char *p;
	unsigned char *q;
	size_t n = 0, len;
	PGconn *conn;
	int rc = 0;

	*out = NULL;
	kw[n] = "dbname"; val[n++] = c->connection;
	kw[n] = "connect_timeout"; val[n++] = PG_CONNECT_TIMEOUT;
	kw[n] = "application_name"; val[n++] = "airlock";
	len = al_secret_len(root);
	if (len > 1) {
		/* NUL-terminated copy, in guarded memory, for libpq. */
		if (al_secret_new(len, &pw) != 0)
			return al_err_set(err, AL_ENOMEM, "out of memory");
		p = al_secret_open((struct al_secret *)root);
		q = al_secret_open(pw);
		memcpy(q, p + 1, len - 1);
		q[len - 1] = '\0';
		al_secret_close((struct al_secret *)root);
		kw[n] = "password"; val[n++] = (const char *)q;
	}
	if (dbname != NULL) {
		kw[n] = "dbname"; val[n++] = dbname;
	}
	kw[n] = NULL; val[n] = NULL;
	conn = dl->PQconnectdbParams(kw, val, 1);
	if (pw != NULL) {
		al_secret_close(pw);
		al_secret_free(pw);
	}
	if (conn == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	if (dl->PQstatus(conn) != CONNECTION_OK) {
		rc = pg_fail(err, AL_EUNAVAIL, "cannot connect to PostgreSQL",
		    dl->PQerrorMessage(conn));
		dl->PQfinish(conn);
		return rc;
	}
	if ((rc = pg_exec(dl, conn, setup, "cannot set up the connection",
	    err)) != 0) {
		dl->PQfinish(conn);
		return rc;
	}
	*out = conn;
	return 0;
}

/* The cached connection in *h, (re)connected when needed. */
static int
pg_handle(struct engine_source *s, struct engine_slot *h, const char *setup,
    PGconn **out, struct al_err *err)
{
	const struct pq_dl *dl = s->dl;
	PGconn *conn = h->conn;
	int rc;

	if (conn != NULL && dl->PQstatus(conn) == CONNECTION_OK) {
		/*
		 * Left inside a transaction by a failed call (its ROLLBACK
		 * lost): ended here, or the next statements would fail.
		 */
		switch (dl->PQtransactionStatus(conn)) {
		case PQTRANS_IDLE:
			*out = conn;
			return 0;
		case PQTRANS_INTRANS:
		case PQTRANS_INERROR:
			if (pg_exec(dl, conn, "ROLLBACK", "ROLLBACK", err) == 0) {
				*out = conn;
				return 0;
			}
			break;
		default:
			break;
		}
	}
	if (conn != NULL)
		dl->PQfinish(conn);
	h->conn = NULL;
	if ((rc = pg_connect(dl, &s->cfg, h->root, NULL, setup, &conn,
	    err)) != 0)
		return rc;
	h->conn = conn;
	*out = conn;
	return 0;
}

static void
pg_close(const struct pq_dl *dl, void *h)
{
	if (h != NULL)
		dl->PQfinish(h);
}

/* sql with $1 = p1 (and $2 = p2); the result in *out (caller clears). */
static int
pg_query(const struct pq_dl *dl, PGconn *conn, const char *sql, const char *p1, const char *p2,
    const char *what, PGresult **out, struct al_err *err)
{
	const char *pv[2] = { p1, p2 };
	PGresult *r = dl->PQexecParams(conn, sql, p2 ? 2 : 1, NULL, pv, NULL,
	    NULL, 0);

	*out = NULL;
	if (r == NULL || dl->PQresultStatus(r) != PGRES_TUPLES_OK) {
		int rc = pg_fail(err, dl->PQstatus(conn) == CONNECTION_OK ?
		    AL_EDB : AL_EUNAVAIL, what, r ? dl->PQresultErrorMessage(r) :
		    dl->PQerrorMessage(conn));
		dl->PQclear(r);
		return rc;
	}
	*out = r;
	return 0;
}

/*
 * Append grant statement tmpl with every {{role}} replaced by the quoted
 * identifier qrole.
 */
static int
subst_role(struct al_buf *b, const char *tmpl, const char *qrole)
{
	const char *p = tmpl, *m;

	while ((m = strstr(p, "{{role}}")) != NULL) {
		if (al_buf_append(b, p, (size_t)(m - p)) != 0 ||
		    al_buf_puts(b, qrole) != 0)
			return AL_ENOMEM;
		p = m + strlen("{{role}}");
	}
	return al_buf_puts(b, p);
}

/*
 * The statements that give role its privileges: membership in the group,
 * then each grant.  Each statement ends with ";".
 */
static int
privileges_sql(const struct pq_dl *dl, PGconn *conn, const struct engine_config *c,
    const char *qrole, struct al_buf *b)
{
	char *qg;
	size_t i;
	int rc = 0;

	if (c->group != NULL) {
		if ((qg = dl->PQescapeIdentifier(conn, c->group,
		    strlen(c->group))) == NULL)
			return AL_ENOMEM;
		rc = al_buf_printf(b, "GRANT %s TO %s;", qg, qrole);
		dl->PQfreemem(qg);
	}
	for (i = 0; rc == 0 && i < c->ngrants; i++)
		if ((rc = subst_role(b, c->grants[i], qrole)) == 0)
			rc = al_buf_puts(b, ";");
	return rc;
}

static int
pg_check(const struct pq_dl *dl, const struct engine_config *c,
    const struct al_secret *root,
    struct al_err *err)
{
	PGconn *conn = NULL;
	struct al_buf b;
	unsigned char raw[8];
	char role[ENGINE_ROLE_MAX + 1], hex[17], what[32], *qrole = NULL;
	size_t i;
	int rc;

	al_buf_init(&b, 1 << 20, 0);
	if ((rc = pg_connect(dl, c, root, NULL, PG_SETUP_MINT, &conn,
	    err)) != 0)
		goto out;
	randombytes_buf(raw, sizeof(raw));
	al_hex(raw, sizeof(raw), hex);
	(void)snprintf(role, sizeof(role), "%scheck_%s", c->prefix, hex);
	if ((qrole = dl->PQescapeIdentifier(conn, role, strlen(role))) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = pg_exec(dl, conn, "BEGIN", "BEGIN", err)) != 0)
		goto out;
	al_buf_reset(&b);
	if (al_buf_printf(&b, "CREATE ROLE %s NOLOGIN", qrole) != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = pg_exec(dl, conn, al_buf_str(&b), "the admin connection cannot "
	    "create roles", err)) != 0)
		goto out;
	if (c->group != NULL) {
		char *qg = dl->PQescapeIdentifier(conn, c->group,
		    strlen(c->group));

		al_buf_reset(&b);
		rc = qg == NULL || al_buf_printf(&b, "GRANT %s TO %s", qg,
		    qrole) != 0 ? al_err_set(err, AL_ENOMEM, "out of memory") :
		    pg_exec(dl, conn, al_buf_str(&b), "--group", err);
		dl->PQfreemem(qg);
		if (rc != 0)
			goto out;
	}
	for (i = 0; i < c->ngrants; i++) {
		al_buf_reset(&b);
		if (subst_role(&b, c->grants[i], qrole) != 0) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			goto out;
		}
		(void)snprintf(what, sizeof(what), "--grant %zu", i + 1);
		if ((rc = pg_exec(dl, conn, al_buf_str(&b), what, err)) != 0) {
			rc = AL_EINVAL;
			goto out;
		}
	}
out:
	if (conn != NULL) {
		PGresult *r = dl->PQexec(conn, "ROLLBACK");

		dl->PQclear(r);
		dl->PQfinish(conn);
	}
	dl->PQfreemem(qrole);
	al_buf_release(&b);
	return rc;
}

/*
 * Where the holder's URL is written: straight into its guarded memory,
 * sized beforehand (one guarded allocation: growing a buffer of guarded
 * memory maps, locks and unmaps a new one each time, and every unmapping
 * interrupts the broker's other threads to flush their TLBs).
 */
struct url_out {
	unsigned char	*p;
	size_t		 len, cap;
	int		 rc;
};

static void
url_put(struct url_out *u, const void *s, size_t n)
{
	if (u->rc != 0 || n > u->cap - u->len) {
		u->rc = AL_ETOOBIG;
		return;
	}
	memcpy(u->p + u->len, s, n);
	u->len += n;
}

static void
url_puts(struct url_out *u, const char *s)
{
	url_put(u, s, strlen(s));
}

/* Percent-encode s (a host path or database name). */
static void
url_encode(struct url_out *u, const char *s)
{
	static const char hexd[] = "0123456789ABCDEF";

	for (; *s && u->rc == 0; s++) {
		unsigned char ch = (unsigned char)*s;
		char e[3] = { '%', hexd[ch >> 4], hexd[ch & 15] };

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL)
			url_put(u, &ch, 1);
		else
			url_put(u, e, 3);
	}
}

/* A minted password: 256 random bits as hex digits. */
#define PG_PW_LEN	64

/*
 * The credential as the holder sees it, with a fresh password written in
 * place (it exists nowhere else), and that password's SCRAM verifier in
 * verifier: postgresql://ROLE:PASSWORD@HOST:PORT/DB, or with a socket
 * directory postgresql://ROLE:PASSWORD@/DB?host=DIR&port=PORT.  In a
 * block of the source's value pool when it has one.
 */
static int
make_url(const struct engine_source *s, PGconn *conn, const char *role,
    char verifier[ENGINE_SCRAM_MAX], struct al_secret **out)
{
	static const char hexd[] = "0123456789abcdef";
	const struct pq_dl *dl = s->dl;
	const char *host = dl->PQhost(conn), *port = dl->PQport(conn), *db = dl->PQdb(conn);
	struct url_out u = { NULL, 0, 0, 0 };
	unsigned char raw[PG_PW_LEN / 2];
	size_t i, at;
	int rc;

	*out = NULL;
	host = host ? host : "";
	port = port ? port : "";
	db = db ? db : "";
	/* Every byte of host and db may take three. */
	u.cap = strlen("postgresql://:@/?host=&port=") + strlen(role) +
	    PG_PW_LEN + 3 * (strlen(host) + strlen(db)) +
	    strlen("localhost") + strlen(port) + 1;
	if ((rc = al_secret_pool_take(s->values, u.cap, out)) != 0)
		return rc;
	u.p = al_secret_open(*out);
	url_puts(&u, "postgresql://");
	url_puts(&u, role);
	url_puts(&u, ":");
	at = u.len;
	if (u.rc == 0 && u.cap - u.len >= PG_PW_LEN) {
		randombytes_buf(raw, sizeof(raw));
		for (i = 0; i < sizeof(raw); i++) {
			u.p[at + 2 * i] = (unsigned char)hexd[raw[i] >> 4];
			u.p[at + 2 * i + 1] = (unsigned char)hexd[raw[i] & 15];
		}
		sodium_memzero(raw, sizeof(raw));
		u.len += PG_PW_LEN;
		if (engine_scram_verifier(dl, (const char *)u.p + at,
		    PG_PW_LEN, ENGINE_SCRAM_ITER, verifier,
		    ENGINE_SCRAM_MAX) != 0)
			u.rc = AL_ECRYPTO;
	} else
		u.rc = AL_ETOOBIG;
	url_puts(&u, "@");
	if (host[0] == '/') {
		url_puts(&u, "/");
		url_encode(&u, db);
		url_puts(&u, "?host=");
		url_encode(&u, host);
		if (port[0]) {
			url_puts(&u, "&port=");
			url_puts(&u, port);
		}
	} else {
		url_encode(&u, host[0] ? host : "localhost");
		if (port[0]) {
			url_puts(&u, ":");
			url_puts(&u, port);
		}
		url_puts(&u, "/");
		url_encode(&u, db);
	}
	al_secret_set_len(*out, u.len);
	al_secret_close(*out);
	if (u.rc != 0) {
		al_secret_free(*out);
		*out = NULL;
	}
	return u.rc;
}

/* Whether one connection may both mint and revoke: see PG_SETUP_REVOKE. */
static int
pg_shared(const struct engine_config *c)
{
	return c->ngrants == 0;
}

static const char *
pg_mint_setup(const struct engine_config *c)
{
	return pg_shared(c) ? PG_SETUP_REVOKE : PG_SETUP_MINT;
}

static int
pg_mint(struct engine_source *s, struct engine_slot *h, const char *role,
    const struct engine_for *why, int64_t valid_until, struct al_secret **value, char ext[ENGINE_EXT_MAX + 1],
    struct al_secret **keep, struct al_err *err)
{
	const struct pq_dl *dl = s->dl;
	char until[40], verifier[ENGINE_SCRAM_MAX];
	char *qrole = NULL, *qver = NULL;
	struct al_buf b;
	struct tm tm;
	time_t t = (time_t)valid_until;
	PGconn *conn;
	int rc;

	(void)why;
	*keep = NULL;
	*value = NULL;
	ext[0] = '\0';
	al_buf_init(&b, 1 << 20, 0);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S+00", &tm) == 0) {
		rc = al_err_set(err, AL_EINVAL, "bad expiry");
		goto out;
	}
	if ((rc = pg_handle(s, h, pg_mint_setup(&s->cfg), &conn, err)) != 0)
		goto out;
	/* The holder's URL first: it makes the password. */
	if ((rc = make_url(s, conn, role, verifier, value)) != 0) {
		rc = al_err_set(err, rc, rc == AL_ENOMEM ? "out of memory" :
		    "cannot make a password");
		goto out;
	}
	if ((qrole = dl->PQescapeIdentifier(conn, role, strlen(role))) == NULL ||
	    (qver = dl->PQescapeLiteral(conn, verifier, strlen(verifier))) ==
	    NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if (al_buf_printf(&b, "BEGIN;CREATE ROLE %s LOGIN PASSWORD %s VALID "
	    "UNTIL '%s';", qrole, qver, until) != 0 ||
	    privileges_sql(dl, conn, &s->cfg, qrole, &b) != 0 ||
	    al_buf_puts(&b, "COMMIT") != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	rc = pg_exec(dl, conn, al_buf_str(&b), "cannot create the role", err);
	if (rc != 0 && dl->PQstatus(conn) != CONNECTION_OK) {
		/*
		 * A cached connection the server dropped (a restart): once
		 * more on a new one.  Nothing was committed on the old one
		 * that the caller does not already treat as possibly there.
		 */
		if ((rc = pg_handle(s, h, pg_mint_setup(&s->cfg), &conn,
		    err)) == 0)
			rc = pg_exec(dl, conn, al_buf_str(&b), "cannot create the "
			    "role", err);
	}
	if (rc != 0) {
		PGresult *r = dl->PQexec(conn, "ROLLBACK");

		dl->PQclear(r);
		goto out;
	}
out:
	if (rc != 0) {
		al_secret_free(*value);
		*value = NULL;
	}
	dl->PQfreemem(qrole);
	dl->PQfreemem(qver);
	al_buf_release(&b);
	return rc;
}

/*
 * Sessions of the role, or of a member of it that may SET ROLE to it
 * (the role's oid replaces OID_), but the admin's own (airlock's other
 * connections: an admin that is not a superuser is made a member of the
 * role to reassign what it owns).
 */
#define SESSIONS_OF \
	" FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND" \
	" (usesysid = OID_ OR (pg_has_role(usesysid, OID_, 'MEMBER')" \
	" AND NOT (SELECT rolsuper FROM pg_roles WHERE oid = usesysid)" \
	" AND usesysid <> (SELECT oid FROM pg_roles WHERE rolname =" \
	" current_user)))"

/* The databases where the role owns or holds anything (OID_ as above). */
#define DATABASES_OF \
	"SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d" \
	" ON d.oid = s.dbid WHERE s.refclassid = 'pg_authid'::regclass AND" \
	" s.refobjid = OID_"

/* The results of one round trip, in the order of its statements. */
#define PG_RESULTS_MAX	8
struct pg_results {
	PGresult	*r[PG_RESULTS_MAX];
	int		 n;
};

static void
pg_results_clear(const struct pq_dl *dl, struct pg_results *res)
{
	while (res->n > 0)
		dl->PQclear(res->r[--res->n]);
}

/* Append tmpl to b with every OID_ replaced by the expression oid. */
static int
append_subst(struct al_buf *b, const char *tmpl, const char *oid)
{
	const char *p = tmpl, *m;

	while ((m = strstr(p, "OID_")) != NULL) {
		if (al_buf_append(b, p, (size_t)(m - p)) != 0 ||
		    al_buf_puts(b, oid) != 0)
			return AL_ENOMEM;
		p = m + 4;
	}
	return al_buf_puts(b, p);
}

/*
 * Send the statements of sql in one round trip and keep their results in
 * *res (the caller clears them, on failure too).  The first failing
 * statement's error is returned; PostgreSQL runs none after it.
 */
static int
pg_batch(const struct pq_dl *dl, PGconn *conn, const char *sql,
    const char *what, struct pg_results *res, struct al_err *err)
{
	PGresult *r;
	int rc = 0;

	pg_results_clear(dl, res);
	if (!dl->PQsendQuery(conn, sql))
		return pg_fail(err, AL_EUNAVAIL, what, dl->PQerrorMessage(conn));
	while ((r = dl->PQgetResult(conn)) != NULL) {
		if (rc == 0 && dl->PQresultStatus(r) != PGRES_COMMAND_OK &&
		    dl->PQresultStatus(r) != PGRES_TUPLES_OK)
			rc = pg_fail(err, dl->PQstatus(conn) == CONNECTION_OK ?
			    AL_EDB : AL_EUNAVAIL, what,
			    dl->PQresultErrorMessage(r));
		if (res->n < PG_RESULTS_MAX)
			res->r[res->n++] = r;
		else {
			dl->PQclear(r);
			if (rc == 0)
				rc = al_err_set(err, AL_EPROTO, "%s: too many "
				    "results", what);
		}
	}
	if (rc == 0 && dl->PQstatus(conn) != CONNECTION_OK)
		rc = pg_fail(err, AL_EUNAVAIL, what, dl->PQerrorMessage(conn));
	return rc;
}

/* Result i of res holds rows (a SELECT that ran). */
static int
has_rows(const struct pq_dl *dl, const struct pg_results *res, int i)
{
	return i < res->n && dl->PQresultStatus(res->r[i]) == PGRES_TUPLES_OK;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

/*
 * Code attached to the role's tables, which stay (reassigned), that calls
 * routines of others (its group's: made after SET ROLE, they are not the
 * role's and are not dropped): triggers, policies, check and exclusion
 * constraints, column defaults (a sequence's nextval excepted) and
 * generation expressions (the stored values stay), expression and partial
 * indexes, extended statistics on expressions, the checks and defaults
 * of its domains, and its operators (an operator of the admin's calling
 * the group's routine).  Each runs as whoever writes or reads the table,
 * or as its owner during maintenance (ANALYZE, autovacuum, REINDEX): the
 * admin after the reassignment.  Dropped, in the DO block of DROP_CODE_SQL.
 * What a parent table of another owner holds for its partitions (an
 * inherited constraint, a cloned trigger, an attached index) is left: it
 * cannot be dropped from the partition alone.
 */
#define ATTACHED_CODE_SQL \
	" FOR r IN SELECT t.tgname AS n, t.tgrelid AS rel FROM pg_trigger t" \
	" JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relowner = OID_ AND" \
	" NOT t.tgisinternal AND t.tgparentid = 0 LOOP" \
	" EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', r.n," \
	" r.rel::regclass); END LOOP;" \
	" FOR r IN SELECT p.polname AS n, p.polrelid AS rel FROM pg_policy p" \
	" JOIN pg_class c ON c.oid = p.polrelid WHERE c.relowner = OID_ LOOP" \
	" EXECUTE format('DROP POLICY IF EXISTS %I ON %s', r.n," \
	" r.rel::regclass); END LOOP;" \
	" FOR r IN SELECT k.conname AS n, k.conrelid AS rel FROM pg_constraint" \
	" k JOIN pg_class c ON c.oid = k.conrelid WHERE c.relowner = OID_ AND" \
	" k.contype IN ('c', 'x') AND k.coninhcount = 0 LOOP" \
	" EXECUTE format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I'," \
	" r.rel::regclass, r.n); END LOOP;" \
	" FOR r IN SELECT k.conname AS n, k.contypid AS typ FROM pg_constraint" \
	" k JOIN pg_type t ON t.oid = k.contypid WHERE t.typowner = OID_ AND" \
	" k.contype = 'c' LOOP" \
	" EXECUTE format('ALTER DOMAIN %s DROP CONSTRAINT IF EXISTS %I'," \
	" r.typ::regtype, r.n); END LOOP;" \
	" FOR r IN SELECT t.oid AS typ FROM pg_type t WHERE t.typowner = OID_" \
	" AND t.typtype = 'd' AND t.typdefaultbin IS NOT NULL LOOP" \
	" EXECUTE format('ALTER DOMAIN %s DROP DEFAULT', r.typ::regtype);" \
	" END LOOP;" \
	" FOR r IN SELECT a.attname AS n, a.attrelid AS rel, a.attgenerated" \
	" AS g FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid =" \
	" d.adrelid AND a.attnum = d.adnum JOIN pg_class c ON c.oid =" \
	" d.adrelid WHERE c.relowner = OID_ AND c.relkind IN ('r', 'p', 'f')" \
	" AND (a.attgenerated = '' OR a.attinhcount = 0) AND NOT" \
	" (a.attgenerated = '' AND pg_get_expr(d.adbin, d.adrelid) ~" \
	" '^nextval\\(''[^'']*''::regclass\\)$') LOOP" \
	" EXECUTE format('ALTER TABLE %s ALTER COLUMN %I %s', r.rel::regclass," \
	" r.n, CASE WHEN r.g = '' THEN 'DROP DEFAULT' ELSE 'DROP EXPRESSION'" \
	" END); END LOOP;" \
	" FOR r IN SELECT i.indexrelid AS rel FROM pg_index i JOIN pg_class c" \
	" ON c.oid = i.indrelid WHERE c.relowner = OID_ AND (i.indexprs IS" \
	" NOT NULL OR i.indpred IS NOT NULL) AND NOT EXISTS (SELECT 1 FROM" \
	" pg_inherits h WHERE h.inhrelid = i.indexrelid) LOOP" \
	" IF EXISTS (SELECT 1 FROM pg_class WHERE oid = r.rel) THEN" \
	" EXECUTE format('DROP INDEX %s', r.rel::regclass); END IF; END LOOP;" \
	" FOR r IN SELECT s.stxnamespace::regnamespace AS ns, s.stxname AS n" \
	" FROM pg_statistic_ext s JOIN pg_class c ON c.oid = s.stxrelid WHERE" \
	" (c.relowner = OID_ OR s.stxowner = OID_) AND s.stxexprs IS NOT NULL" \
	" LOOP EXECUTE format('DROP STATISTICS IF EXISTS %s.%I', r.ns, r.n);" \
	" END LOOP;" \
	" FOR r IN SELECT o.oid FROM pg_operator o WHERE o.oprowner = OID_" \
	" LOOP IF EXISTS (SELECT 1 FROM pg_operator WHERE oid = r.oid) THEN" \
	" EXECUTE format('DROP OPERATOR %s CASCADE', r.oid::regoperator);" \
	" END IF; END LOOP;"

/*
 * What runs SQL with its owner's rights: a SECURITY DEFINER routine, a
 * view or materialized view, a rule; and any routine, which a table's
 * maintenance (VACUUM, ANALYZE, REINDEX) runs as the table's owner when an
 * index uses it.  Reassigned to the admin (or --reassign-to), such objects
 * would let anyone who may call or query them, the next task first, run
 * SQL as that role: create a role of its own that no lease ends.  So the
 * role's views, routines (and what depends on them: an expression index, a
 * trigger) and rules are dropped, in one transaction with the reassignment
 * of the rest (tables, sequences, schemas, types: data).  OID_ is the
 * role's oid (digits, from pg_roles).
 */
#define DROP_CODE_SQL \
	"DO $airlock$ DECLARE r record; BEGIN" \
	" FOR r IN SELECT c.oid FROM pg_class c WHERE c.relowner = OID_" \
	" AND c.relkind IN ('v', 'm') LOOP" \
	" IF EXISTS (SELECT 1 FROM pg_class WHERE oid = r.oid) THEN" \
	" EXECUTE format('DROP %s %s CASCADE', CASE (SELECT relkind FROM" \
	" pg_class WHERE oid = r.oid) WHEN 'v' THEN 'VIEW' ELSE" \
	" 'MATERIALIZED VIEW' END, r.oid::regclass); END IF; END LOOP;" \
	" FOR r IN SELECT p.oid FROM pg_proc p WHERE p.proowner = OID_" \
	" AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid =" \
	" 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e') LOOP" \
	" IF EXISTS (SELECT 1 FROM pg_proc WHERE oid = r.oid) THEN" \
	" EXECUTE format('DROP ROUTINE %s CASCADE', r.oid::regprocedure);" \
	" END IF; END LOOP;" \
	" FOR r IN SELECT w.oid FROM pg_rewrite w JOIN pg_class c ON" \
	" c.oid = w.ev_class WHERE c.relowner = OID_ AND w.rulename <>" \
	" '_RETURN' LOOP" \
	" IF EXISTS (SELECT 1 FROM pg_rewrite WHERE oid = r.oid) THEN" \
	" EXECUTE (SELECT format('DROP RULE %I ON %s', rulename," \
	" ev_class::regclass) FROM pg_rewrite WHERE oid = r.oid);" \
	" END IF; END LOOP;" \
	ATTACHED_CODE_SQL \
	" END $airlock$;"

/* Make the admin a member of the role (OID_) unless it has its rights. */
#define MEMBER_SQL \
	"DO $airlock$ BEGIN IF NOT pg_has_role(OID_, 'USAGE') THEN" \
	" EXECUTE format('GRANT %I TO CURRENT_USER', (SELECT rolname FROM" \
	" pg_roles WHERE oid = OID_)); END IF; END $airlock$;"

/*
 * Drop what of role's runs SQL as its owner (DROP_CODE_SQL), then reassign
 * and drop the rest it owns in database db (NULL: this one).
 */
static int
drop_owned_in(struct engine_source *s, struct engine_slot *h, PGconn *conn,
    const char *db, const char *qrole, const char *oid, int first,
    struct al_err *err)
{
	const struct pq_dl *dl = s->dl;
	PGconn *other = NULL;
	struct pg_results res = { .n = 0 };
	struct al_buf b;
	char *qo = NULL;
	int rc;

	al_buf_init(&b, 4096, 0);
	if (db != NULL && (rc = pg_connect(dl, &s->cfg, h->root, db,
	    PG_SETUP_REVOKE, &other, err)) != 0)
		goto out;
	if (other != NULL)
		conn = other;
	if (s->cfg.reassign_to != NULL && (qo = dl->PQescapeIdentifier(conn,
	    s->cfg.reassign_to, strlen(s->cfg.reassign_to))) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	/*
	 * One round trip, one transaction.  REASSIGN and DROP OWNED need
	 * the rights of the role: an admin that is not a superuser is made
	 * a member of it first (its CREATEROLE allows that), which DROP ROLE
	 * undoes.
	 */
	if ((first && al_buf_puts(&b, PG_FIRST_LOCK_SQL) != 0) ||
	    append_subst(&b, MEMBER_SQL DROP_CODE_SQL, oid) != 0 ||
	    al_buf_printf(&b, "REASSIGN OWNED BY %s TO %s;DROP OWNED BY %s",
	    qrole, qo ? qo : "CURRENT_USER", qrole) != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	rc = pg_batch(dl, conn, al_buf_str(&b), "REASSIGN/DROP OWNED", &res,
	    err);
	pg_results_clear(dl, &res);
out:
	dl->PQfreemem(qo);
	if (other != NULL)
		dl->PQfinish(other);
	al_buf_release(&b);
	return rc;
}

/*
 * How long NOLOGIN waits for the lock of the role's row before the role's
 * sessions are ended (one may hold it), and how many times that, or the
 * rolling back of its prepared transactions, is done before the attempt
 * fails.
 */
#define PG_NOLOGIN_WAIT		"200ms"
#define PG_LOCKED_ROUNDS	4

/* r failed for a lock not granted in time (lock_timeout). */
static int
lock_not_granted(const struct pq_dl *dl, const PGresult *r)
{
	const char *st = dl->PQresultErrorField(r, PG_DIAG_SQLSTATE);

	return st != NULL && strcmp(st, "55P03") == 0;
}

/*
 * Roll back the prepared transactions listed in r (gid, database), each
 * from its own database (as ROLLBACK PREPARED must be).  One that is gone
 * meanwhile is no failure.
 */
static int
rollback_prepared(struct engine_source *s, struct engine_slot *h,
    PGconn *conn, const PGresult *r, struct al_err *err)
{
	const struct pq_dl *dl = s->dl;
	const char *here = dl->PQdb(conn);
	struct al_buf b;
	PGconn *other;
	PGresult *x;
	char *lg;
	int i, rc = 0;

	al_buf_init(&b, 4096, 0);
	for (i = 0; rc == 0 && i < dl->PQntuples(r); i++) {
		const char *gid = dl->PQgetvalue(r, i, 0);
		const char *db = dl->PQgetvalue(r, i, 1);
		PGconn *c = conn;

		other = NULL;
		if (strcmp(db, here) != 0) {
			if ((rc = pg_connect(dl, &s->cfg, h->root, db,
			    PG_SETUP_REVOKE, &other, err)) != 0)
				break;
			c = other;
		}
		al_buf_reset(&b);
		if ((lg = dl->PQescapeLiteral(c, gid, strlen(gid))) == NULL ||
		    al_buf_printf(&b, "ROLLBACK PREPARED %s", lg) != 0)
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
		dl->PQfreemem(lg);
		if (rc == 0) {
			x = dl->PQexec(c, al_buf_str(&b));
			if (x == NULL || dl->PQresultStatus(x) !=
			    PGRES_COMMAND_OK) {
				const char *st = x ? dl->PQresultErrorField(x,
				    PG_DIAG_SQLSTATE) : NULL;

				/* 42704: no such prepared transaction. */
				if (st == NULL || strcmp(st, "42704") != 0)
					rc = pg_fail(err, AL_EDB, "cannot roll "
					    "back the role's prepared "
					    "transaction", x ?
					    dl->PQresultErrorMessage(x) :
					    dl->PQerrorMessage(c));
			}
			dl->PQclear(x);
		}
		if (other != NULL)
			dl->PQfinish(other);
	}
	al_buf_release(&b);
	return rc;
}

/*
 * Revocation, in two round trips when the role owns nothing:
 *
 *  1. look the role up by name; the transactions it prepared (which
 *     outlive its sessions with their locks: rolled back, then all once
 *     more); NOLOGIN, committed on its own (no new session from here on),
 *     waiting at most PG_NOLOGIN_WAIT for the lock of the role's row (a
 *     session of the role may hold it, by ALTER ROLE of its own password
 *     in a transaction left open: then its sessions are ended, and all
 *     once more); end its sessions and those of its members that may SET
 *     ROLE to it, counting those still there; and the databases where it
 *     owns or holds anything.  Repeated until no session is left (then
 *     the list of databases was read with none left to add to it).
 *  2. REASSIGN OWNED and DROP OWNED in each of those databases (none, for
 *     a role that only had its group's membership).
 *  3. DROP ROLE, and verify it is gone, in one round trip.
 *
 * A failure in 1 may leave the connection inside the transaction of
 * NOLOGIN: rolled back before the error is returned.
 */
#define R_OID		0	/* results of round trip 1 */
#define R_PREPARED	1
#define R_NOLOGIN	4
#define R_SESSIONS	6
#define R_DATABASES	7
static int
pg_destroy(struct engine_source *s, struct engine_slot *h, const char *role,
    const char *ext, struct al_secret *keep, int first, struct al_err *err)
{
	const struct pq_dl *dl = s->dl;
	PGconn *conn;
	struct pg_results res = { .n = 0 };
	struct al_buf b, expr, expr_end;
	char oid[32], *qrole = NULL, *lrole = NULL;
	const char *here;
	long waited = 0;
	int rc, i, left, retried = 0, rounds = 0;

	(void)ext;	/* a role is known by its name */
	(void)keep;
	al_buf_init(&b, 8192, 0);
	al_buf_init(&expr, 4096, 0);
	al_buf_init(&expr_end, 4096, 0);
again:
	if ((rc = pg_handle(s, h, PG_SETUP_REVOKE, &conn, err)) != 0)
		goto out;
	dl->PQfreemem(qrole);
	dl->PQfreemem(lrole);
	lrole = NULL;
	if ((qrole = dl->PQescapeIdentifier(conn, role, strlen(role))) ==
	    NULL || (lrole = dl->PQescapeLiteral(conn, role, strlen(role))) ==
	    NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	/* Round trip 1; the role's oid is looked up where it is used. */
	al_buf_reset(&b);
	al_buf_reset(&expr);
	al_buf_reset(&expr_end);
	if (al_buf_printf(&expr, "(SELECT oid FROM pg_roles WHERE rolname = "
	    "%s)", lrole) != 0 ||
	    al_buf_printf(&b, "SELECT oid FROM pg_roles WHERE rolname = %s;",
	    lrole) != 0 ||
	    al_buf_printf(&b, "SELECT gid, database FROM pg_prepared_xacts "
	    "WHERE owner = %s;BEGIN;SET LOCAL lock_timeout = '"
	    PG_NOLOGIN_WAIT "';ALTER ROLE %s NOLOGIN;COMMIT;", lrole,
	    qrole) != 0 ||
	    append_subst(&b, "SELECT count(*), count(pg_terminate_backend(pid))"
	    SESSIONS_OF ";" DATABASES_OF, al_buf_str(&expr)) != 0 ||
	    append_subst(&expr_end, "SELECT count(pg_terminate_backend(pid))"
	    SESSIONS_OF, al_buf_str(&expr)) != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		rc = pg_batch(dl, conn, al_buf_str(&b), "cannot end the role's "
		    "sessions", &res, err);
		if (has_rows(dl, &res, R_OID) && dl->PQntuples(res.r[R_OID]) ==
		    0) {
			/* Never created, or gone already. */
			rc = 0;
			goto rollback;
		}
		if (rc != 0 && dl->PQstatus(conn) != CONNECTION_OK &&
		    !retried) {
			/* A cached connection the server dropped: once more. */
			retried = 1;
			goto again;
		}
		if (has_rows(dl, &res, R_PREPARED) &&
		    dl->PQntuples(res.r[R_PREPARED]) > 0 &&
		    dl->PQstatus(conn) == CONNECTION_OK) {
			/*
			 * Transactions the role prepared outlive its sessions
			 * and hold their locks (its own row's, which NOLOGIN
			 * waits on): rolled back, then all once more.
			 */
			if (rc != 0) {
				PGresult *r = dl->PQexec(conn, "ROLLBACK");

				dl->PQclear(r);
			}
			if (++rounds > PG_LOCKED_ROUNDS) {
				rc = al_err_set(err, AL_EDB, "the role's "
				    "prepared transactions keep coming back");
				goto out;
			}
			if ((rc = rollback_prepared(s, h, conn,
			    res.r[R_PREPARED], err)) != 0)
				goto out;
			continue;
		}
		if (rc != 0 && res.n == R_NOLOGIN + 1 &&
		    lock_not_granted(dl, res.r[R_NOLOGIN]) &&
		    ++rounds <= PG_LOCKED_ROUNDS) {
			/*
			 * A session of the role holds the lock of its row
			 * (ALTER ROLE of its own password, in a transaction
			 * left open): its sessions are ended first, then all
			 * once more.
			 */
			PGresult *r = dl->PQexec(conn, "ROLLBACK");

			dl->PQclear(r);
			if ((rc = pg_exec(dl, conn, al_buf_str(&expr_end),
			    "cannot end the role's sessions", err)) != 0)
				goto out;
			sleep_ms(10);
			continue;
		}
		if (rc != 0)
			goto rollback;
		if (!has_rows(dl, &res, R_SESSIONS) ||
		    !has_rows(dl, &res, R_DATABASES) ||
		    dl->PQntuples(res.r[R_SESSIONS]) != 1) {
			rc = al_err_set(err, AL_EPROTO, "cannot end the role's "
			    "sessions: unexpected results");
			goto out;
		}
		if ((left = atoi(dl->PQgetvalue(res.r[R_SESSIONS], 0, 0))) == 0)
			break;
		if (waited >= PG_TERMINATE_WAIT_MS) {
			rc = al_err_set(err, AL_ETIMEDOUT, "%d session(s) of "
			    "the role did not end within %ld ms", left, waited);
			goto out;
		}
		sleep_ms(10);
		waited += 10;
	}
	(void)snprintf(oid, sizeof(oid), "%s::oid",
	    dl->PQgetvalue(res.r[R_OID], 0, 0));
	if (strspn(oid, "0123456789") == 0 ||
	    strcmp(oid + strspn(oid, "0123456789"), "::oid") != 0) {
		rc = al_err_set(err, AL_EPROTO, "cannot look the role up: bad "
		    "oid");
		goto out;
	}
	/* 2. What it owns, in every database where it owns or holds any. */
	here = dl->PQdb(conn);
	for (i = 0; i < dl->PQntuples(res.r[R_DATABASES]); i++) {
		const char *db = dl->PQgetvalue(res.r[R_DATABASES], i, 0);

		if ((rc = drop_owned_in(s, h, conn, strcmp(db, here) == 0 ? NULL :
		    db, qrole, oid, first, err)) != 0)
			goto out;
	}
	/* 3. The role itself, then verify. */
	al_buf_reset(&b);
	if ((first && al_buf_puts(&b, PG_FIRST_LOCK_SQL) != 0) ||
	    al_buf_printf(&b, "DROP ROLE IF EXISTS %s;", qrole) != 0 ||
	    append_subst(&b, "SELECT 1 FROM pg_roles WHERE oid = OID_",
	    oid) != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = pg_batch(dl, conn, al_buf_str(&b), "DROP ROLE", &res,
	    err)) != 0)
		goto out;
	if (!has_rows(dl, &res, 1 + first))
		rc = al_err_set(err, AL_EPROTO, "DROP ROLE: unexpected results");
	else if (dl->PQntuples(res.r[1 + first]) != 0)
		rc = al_err_set(err, AL_EDB, "the role still exists after "
		    "DROP ROLE");
	goto out;
rollback:
	/* A failed statement may have left NOLOGIN's transaction open. */
	if (dl->PQstatus(conn) == CONNECTION_OK) {
		PGresult *r = dl->PQexec(conn, "ROLLBACK");

		dl->PQclear(r);
	}
out:
	pg_results_clear(dl, &res);
	dl->PQfreemem(qrole);
	dl->PQfreemem(lrole);
	al_buf_release(&expr_end);
	al_buf_release(&expr);
	al_buf_release(&b);
	return rc;
}

static int
pg_roles(struct engine_source *s, struct engine_slot *h, void (*fn)(const char *role,
    void *arg), void *arg, struct al_err *err)
{
	const struct pq_dl *dl = s->dl;
	PGconn *conn;
	PGresult *r = NULL;
	char n[24];
	int rc, i;

	(void)snprintf(n, sizeof(n), "%zu", strlen(s->stem));
	if ((rc = pg_handle(s, h, PG_SETUP_REVOKE, &conn, err)) != 0 ||
	    (rc = pg_query(dl, conn, "SELECT rolname FROM pg_roles WHERE"
	    " left(rolname, $2::int) = $1", s->stem, n,
	    "cannot list roles", &r, err)) != 0)
		return rc;
	for (i = 0; i < dl->PQntuples(r); i++)
		fn(dl->PQgetvalue(r, i, 0), arg);
	dl->PQclear(r);
	return 0;
}

const struct engine_ops engine_pg_ops = {
	.name = "postgres",
	.check_pq = 1,
	.load = pq_dl_open,
	.check = pg_check,
	.mint = pg_mint,
	.destroy = pg_destroy,
	.roles = pg_roles,
	.close = pg_close,
	.shared = pg_shared,
};

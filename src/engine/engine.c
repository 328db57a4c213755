/*
 * The engine service: the sources it mints from, minting, the queue of
 * revocations and the worker threads that work it (the records they keep
 * are in records.c).
 *
 * One mutex guards the records, the sources list and the database handle;
 * it is never held across a call to an engine (network I/O).  A record
 * being revoked is marked busy so it is tried by one attempt at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "state_int.h"


static struct engine_source *
source_find(struct engine *e, const char *name)
{
	struct engine_source *s;

	/* Newest first: a refreshed source is put at the head. */
	for (s = e->sources; s != NULL; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

void
engine_set_value_pool(struct engine *e, struct al_secret_pool *pool)
{
	e->values = pool;
}

int
engine_source_known(struct engine *e, const char *secret, uint32_t version)
{
	struct engine_source *s;
	int known;

	pthread_mutex_lock(&e->mu);
	s = source_find(e, secret);
	known = s != NULL && s->version == version;
	pthread_mutex_unlock(&e->mu);
	return known;
}

static int
copy_config(struct engine_config *d, const struct engine_config *c)
{
	size_t i;

	memset(d, 0, sizeof(*d));
	memcpy(d->engine, c->engine, sizeof(d->engine));
	memcpy(d->prefix, c->prefix, sizeof(d->prefix));
	d->timeout = c->timeout;
	if ((c->app_id && (d->app_id = strdup(c->app_id)) == NULL) ||
	    (c->installation && (d->installation = strdup(c->installation)) ==
	    NULL) ||
	    (c->api_url && (d->api_url = strdup(c->api_url)) == NULL) ||
	    (c->issue && (d->issue = strdup(c->issue)) == NULL) ||
	    (c->revoke && (d->revoke = strdup(c->revoke)) == NULL) ||
	    (c->connection && (d->connection = strdup(c->connection)) ==
	    NULL) ||
	    (c->group && (d->group = strdup(c->group)) == NULL) ||
	    (c->reassign_to && (d->reassign_to = strdup(c->reassign_to)) ==
	    NULL))
		return AL_ENOMEM;
	for (i = 0; i < c->nperms; i++) {
		if ((d->perms[i] = strdup(c->perms[i])) == NULL)
			return AL_ENOMEM;
		d->nperms = i + 1;
	}
	for (i = 0; i < c->ngrants; i++) {
		if ((d->grants[i] = strdup(c->grants[i])) == NULL)
			return AL_ENOMEM;
		d->ngrants = i + 1;
	}
	return 0;
}

static int
copy_root(const struct al_secret *root, struct al_secret **out)
{
	const unsigned char *p = al_secret_open((struct al_secret *)root);
	int rc = al_secret_from(p, al_secret_len(root), out);

	al_secret_close((struct al_secret *)root);
	if (rc == 0)
		al_secret_close(*out);
	return rc;
}

static void
source_free(struct engine_source *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < ENGINE_SLOTS; i++) {
		if (s->ops != NULL)
			s->ops->close(s->dl, s->slots[i].conn);
		al_secret_free(s->slots[i].root);
	}
	if (s->ops != NULL)
		s->ops->close(s->dl, s->mint.conn);
	al_secret_free(s->mint.root);
	engine_config_release(&s->cfg);
	pthread_cond_destroy(&s->mint_cv);
	pthread_cond_destroy(&s->revoke_cv);
	free(s);
}

int
engine_source_set(struct engine *e, const char *secret, uint32_t version,
    const struct engine_config *c, const struct al_secret *root,
    struct al_err *err)
{
	struct engine_source *s;
	int rc, i;

	if (engine_source_known(e, secret, version))
		return 0;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	pthread_cond_init(&s->mint_cv, NULL);
	pthread_cond_init(&s->revoke_cv, NULL);
	(void)snprintf(s->name, sizeof(s->name), "%s", secret);
	(void)snprintf(s->stem, sizeof(s->stem), "%s%s", c->prefix, e->inst);
	s->version = version;
	if ((s->ops = engine_ops_find(c->engine)) == NULL) {
		source_free(s);
		return al_err_set(err, AL_EINVAL, "secret '%s': unknown engine "
		    "'%s'", secret, c->engine);
	}
	/* Only the loop thread loads; workers read it after sources exist. */
	pthread_mutex_lock(&e->mu);
	rc = s->ops->load != NULL ? s->ops->load(&e->dl, err) : 0;
	pthread_mutex_unlock(&e->mu);
	if (rc != 0) {
		s->ops = NULL;
		source_free(s);
		return rc;
	}
	s->dl = &e->dl;
	s->values = e->values;
	rc = copy_config(&s->cfg, c) != 0 || copy_root(root,
	    &s->mint.root) != 0;
	for (i = 0; rc == 0 && i < ENGINE_SLOTS; i++)
		rc = copy_root(root, &s->slots[i].root);
	s->shared = s->ops->shared == NULL || s->ops->shared(&s->cfg);
	if (rc != 0) {
		source_free(s);
		return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	/*
	 * An older version stays in the list (the worker may be using it)
	 * until engine_free; lookups find the newest first.
	 */
	pthread_mutex_lock(&e->mu);
	s->next = e->sources;
	e->sources = s;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	return 0;
}

/* ---- the worker ---------------------------------------------------------- */

static int64_t
backoff_ms(int attempts)
{
	int64_t d = BACKOFF_MIN_MS;

	while (attempts-- > 1 && d < BACKOFF_MAX_MS)
		d *= 2;
	return d < BACKOFF_MAX_MS ? d : BACKOFF_MAX_MS;
}

/*
 * The next record due (mu held), or NULL with *wait_ms until one is (-1:
 * none, or only retries while ENGINE_RETRY_WORKERS retry already: the
 * worker that ends its retry takes the next).  First attempts go first,
 * the one ended first; then retries, the one due first, but for one worker
 * at least, which a due retry gets first (a steady stream of first
 * attempts would hold retries back for as long as it lasts).  A holder of
 * a lease can make the revocations of its own credentials fail slowly (a
 * lock they need, kept for the lock timeout at every attempt): with every
 * record served alike, their retries held all the workers and the
 * credentials of every other lease waited behind them, able to log in.
 */
static struct rec *
next_due(struct engine *e, int64_t now, int64_t *wait_ms)
{
	struct rec *first = NULL, *retry = NULL;
	int retries = e->retrying < ENGINE_RETRY_WORKERS;
	size_t i;

	*wait_ms = -1;
	for (i = 0; i < e->nrecs; i++) {
		struct rec *r = &e->recs[i];

		if (!r->c.revoking || r->busy)
			continue;
		if (r->c.attempts > 0 && !retries)
			continue;
		if (r->next_try_ms > now) {
			if (*wait_ms < 0 || r->next_try_ms - now < *wait_ms)
				*wait_ms = r->next_try_ms - now;
		} else if (r->c.attempts == 0) {
			if (first == NULL || r->c.ended_ms < first->c.ended_ms)
				first = r;
		} else if (retry == NULL || r->next_try_ms < retry->next_try_ms)
			retry = r;
	}
	if (retry != NULL && e->retrying == 0)
		return retry;
	return first != NULL ? first : retry;
}

/* Wait on cv (mu held) for at most ms (< 0: no limit). */
static void
wait_on(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms)
{
	struct timespec ts;

	if (ms < 0) {
		pthread_cond_wait(cv, mu);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	(void)pthread_cond_timedwait(cv, mu, &ts);
}

static void
wait_ms(struct engine *e, int64_t ms)
{
	wait_on(&e->cv, &e->mu, ms);
}

static void
finished(struct engine *e, const char *role, int rc, const char *msg)
{
	struct rec *r = engine_rec_find(e, role);
	struct engine_done *d;

	if (r == NULL)
		return;
	r->busy = 0;
	r->started_ms = 0;
	r->c.attempts++;
	if (rc != 0) {
		e->st.failures++;
		(void)snprintf(r->c.error, sizeof(r->c.error), "%.*s",
		    (int)sizeof(r->c.error) - 1, msg);
		r->next_try_ms = engine_now_ms(e) + backoff_ms(r->c.attempts);
		(void)engine_rec_save(e, r, NULL);
		return;
	}
	e->st.revoking--;
	if (!r->reserved) {
		static const int64_t bounds[] = ENGINE_TTR_BOUNDS_MS;
		int64_t ttr = engine_now_ms(e) - r->c.ended_ms;
		size_t b;

		e->st.revoked++;
		for (b = 0; b < ENGINE_TTR_NBUCKETS && ttr > bounds[b]; b++)
			;
		e->st.ttr_buckets[b]++;
		e->st.ttr_sum_ms += (uint64_t)(ttr > 0 ? ttr : 0);
	}
	if (!r->reserved && e->ndone < DONE_MAX) {
		d = &e->done[e->ndone++];
		memset(d, 0, sizeof(*d));
		memcpy(d->role, r->c.role, sizeof(d->role));
		memcpy(d->secret, r->c.secret, sizeof(d->secret));
		memcpy(d->lease, r->c.lease, sizeof(d->lease));
		d->ttr_ms = engine_now_ms(e) - r->c.ended_ms;
		d->attempts = r->c.attempts;
		d->orphan = r->orphan;
	}
	(void)engine_rec_delete(e, role);
	al_secret_free(r->keep);
	*r = e->recs[--e->nrecs];
}

/* Whether a slot of s may be taken for a mint or a revocation now. */
static int
slot_allowed(const struct engine_source *s, int mint)
{
	if (!mint)
		return s->nrevoke < ENGINE_POOL - s->shared;
	/*
	 * A revocation waiting for a shared slot it may take goes first: a
	 * lease's end must not queue behind the next leases' mints.
	 */
	return s->nmint < ENGINE_MINTERS && (!s->shared ||
	    s->revoke_waiters == 0 || s->nrevoke >= ENGINE_POOL - 1);
}

/* The slots of s a mint (or a revocation) takes from: [*lo, *hi). */
static void
slot_range(const struct engine_source *s, int mint, int *lo, int *hi)
{
	*lo = mint && !s->shared ? ENGINE_POOL : 0;
	*hi = mint && !s->shared ? ENGINE_SLOTS : ENGINE_POOL;
}

/* Whether a slot of s for a mint (or a revocation) is free (mu held). */
static int
slot_free(const struct engine_source *s, int mint)
{
	int i, lo, hi;

	slot_range(s, mint, &lo, &hi);
	for (i = lo; i < hi; i++)
		if (!(s->busy & (1u << i)))
			return 1;
	return 0;
}

/*
 * A slot of s for a mint (mint != 0) or a revocation, the free one used
 * last (mu held; waits for one while none may be taken).  A revocation
 * gets -1 once the engine stops: it is left queued for the next start,
 * not begun while engine_free waits for the workers.
 */
static int
slot_take(struct engine *e, struct engine_source *s, int mint)
{
	int i, lo, hi, best;

	slot_range(s, mint, &lo, &hi);
	for (;;) {
		if (!mint && e->stop)
			return -1;
		best = -1;
		if (slot_allowed(s, mint))
			for (i = lo; i < hi; i++)
				if (!(s->busy & (1u << i)) && (best < 0 ||
				    s->used[i] > s->used[best]))
					best = i;
		if (best >= 0)
			break;
		if (mint) {
			s->mint_waiters++;
			pthread_cond_wait(&s->mint_cv, &e->mu);
			s->mint_waiters--;
		} else {
			s->revoke_waiters++;
			pthread_cond_wait(&s->revoke_cv, &e->mu);
			s->revoke_waiters--;
		}
	}
	s->busy |= 1u << best;
	if (mint)
		s->nmint++;
	else
		s->nrevoke++;
	/* Taken by a revocation that had the right of way: a mint may be next. */
	if (s->mint_waiters > 0 && slot_free(s, 1) && slot_allowed(s, 1))
		pthread_cond_signal(&s->mint_cv);
	return best;
}

/*
 * Wake one thread a slot of s given back (a mint's: mint) may go to now
 * (mu held): a revocation first, as slot_allowed says.  One, not all:
 * each wake-up of a thread that finds nothing for it costs more than it
 * saves.
 */
static void
slot_wake(struct engine_source *s, int mint)
{
	if (s->revoke_waiters > 0 && (s->shared || !mint) &&
	    slot_allowed(s, 0))
		pthread_cond_signal(&s->revoke_cv);
	else if (s->mint_waiters > 0 && (s->shared || mint) &&
	    slot_allowed(s, 1))
		pthread_cond_signal(&s->mint_cv);
}

/* Give slot i of s back (mu held). */
static void
slot_give(struct engine *e, struct engine_source *s, int i, int mint)
{
	s->busy &= ~(1u << i);
	s->used[i] = ++e->slot_seq;
	s->last_ms[i] = engine_now_ms(e);
	if (mint)
		s->nmint--;
	else
		s->nrevoke--;
	slot_wake(s, mint);
}

/*
 * Close one connection unused for ENGINE_IDLE_MS (mu held; dropped while
 * it closes): 0 when one was, else the ms until one is due (-1: none).
 */
static int64_t
close_idle(struct engine *e)
{
	struct engine_source *s;
	int64_t now = engine_now_ms(e), next = -1, due;
	void *conn;
	int i;

	for (s = e->sources; s != NULL; s = s->next)
		for (i = 0; i < ENGINE_SLOTS; i++) {
			if ((s->busy & (1u << i)) || s->slots[i].conn == NULL)
				continue;
			if ((due = s->last_ms[i] + ENGINE_IDLE_MS) > now) {
				if (next < 0 || due - now < next)
					next = due - now;
				continue;
			}
			conn = s->slots[i].conn;
			s->slots[i].conn = NULL;
			s->busy |= 1u << i;
			pthread_mutex_unlock(&e->mu);
			s->ops->close(s->dl, conn);
			pthread_mutex_lock(&e->mu);
			s->busy &= ~(1u << i);
			slot_wake(s, i >= ENGINE_POOL);
			return 0;
		}
	return next;
}

/* Revocations queued for their first attempt, none begun (mu held). */
static size_t
queued_first(const struct engine *e)
{
	size_t i, n = 0;

	for (i = 0; i < e->nrecs; i++)
		n += e->recs[i].c.revoking && !e->recs[i].busy &&
		    e->recs[i].c.attempts == 0;
	return n;
}

/* The sooner of two waits in ms (< 0: none). */
static int64_t
sooner(int64_t a, int64_t b)
{
	if (a < 0)
		return b;
	return b >= 0 && b < a ? b : a;
}

static void *
worker(void *arg)
{
	struct engine *e = arg;
	struct engine_source *s;
	struct rec *r;
	struct al_err err;
	char role[ENGINE_ROLE_MAX + 1], secret[65], ext[ENGINE_EXT_MAX + 1];
	struct al_secret *keep;
	int64_t w, idle, now;
	int rc, wi = -1, retry;

	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		if (!e->ready || (r = next_due(e, engine_now_ms(e), &w)) == NULL) {
			if (!e->ready) {
				wait_ms(e, -1);
				continue;
			}
			/*
			 * Nothing to revoke: the batch transaction goes to
			 * disk once it is ENGINE_BATCH_MS old.
			 */
			now = engine_now_ms(e);
			if (e->in_batch && now - e->batch_ms >= ENGINE_BATCH_MS)
				engine_commit(e);
			if ((idle = close_idle(e)) == 0)
				continue;
			w = sooner(w, idle);
			if (e->in_batch)
				w = sooner(w, e->batch_ms + ENGINE_BATCH_MS - now);
			wait_ms(e, w);
			continue;
		}
		r->busy = 1;
		retry = r->c.attempts > 0;
		e->retrying += retry;
		/* Mints waiting for the queue go once it is short enough. */
		if (e->backlog_waiters > 0 && queued_first(e) <= ENGINE_BACKLOG)
			pthread_cond_broadcast(&e->backlog_cv);
		memcpy(role, r->c.role, sizeof(role));
		memcpy(secret, r->c.secret, sizeof(secret));
		memcpy(ext, r->c.ext, sizeof(ext));
		keep = r->keep;	/* stays while busy: only finished() frees it */
		if ((s = source_find(e, secret)) != NULL &&
		    (wi = slot_take(e, s, 0)) < 0) {
			/* Stopping: not tried, still queued on disk. */
			r = engine_rec_find(e, role);
			if (r != NULL) {
				r->busy = 0;
				r->started_ms = 0;
			}
			e->retrying -= retry;
			break;
		}
		/*
		 * Under way from here, not from before the wait for a
		 * connection: a revocation waiting for one is not held up
		 * (see backlog_wait), and under load they often wait.
		 */
		if ((r = engine_rec_find(e, role)) != NULL)
			r->started_ms = engine_now_ms(e);
		pthread_mutex_unlock(&e->mu);
		al_err_clear(&err);
		if (s == NULL)
			rc = al_err_set(&err, AL_ENOENT, "no engine secret "
			    "named '%s' is known (removed from the vault?)",
			    secret);
		else
			rc = s->ops->destroy(s, &s->slots[wi], role, ext, keep,
			    !retry, &err);
		pthread_mutex_lock(&e->mu);
		if (s != NULL)
			slot_give(e, s, wi, 0);
		e->retrying -= retry;
		finished(e, role, rc, err.msg);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

/* ---- the API ------------------------------------------------------------- */

int
engine_open(const char *path, const struct al_clock *clock,
    struct engine **out, struct al_err *err)
{
	struct engine *e;
	sigset_t all, old;
	int rc, fd, i;

	*out = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	e->clock = clock ? clock : al_clock_system();
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	pthread_cond_init(&e->backlog_cv, NULL);
	/* Created 0600 whatever the umask; checked below. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) < 0) {
		rc = al_err_set(err, AL_EIO, "%s: %s", path, strerror(errno));
		goto fail;
	}
	(void)close(fd);
	if (sqlite3_open_v2(path, &e->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX,
	    NULL) != SQLITE_OK) {
		rc = al_err_set(err, AL_EDB, "%s: %s", path, e->db ?
		    sqlite3_errmsg(e->db) : "cannot open");
		goto fail;
	}
	if ((rc = engine_db_exec(e, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	    "CREATE TABLE IF NOT EXISTS creds (role TEXT PRIMARY KEY,"
	    " secret TEXT NOT NULL, lease TEXT NOT NULL, conn INTEGER NOT NULL,"
	    " expires INTEGER NOT NULL, revoking INTEGER NOT NULL,"
	    " attempts INTEGER NOT NULL, ended_ms INTEGER NOT NULL,"
	    " error TEXT NOT NULL, orphan INTEGER NOT NULL,"
	    " ext TEXT NOT NULL DEFAULT '')", err)) != 0 ||
	    (rc = al_fs_check_private(path, 0, err)) != 0 ||
	    (rc = engine_instance_load(e, err)) != 0 ||
	    (rc = engine_rec_load(e, err)) != 0)
		goto fail;
	/*
	 * The worker takes no signal: the broker reads its signals from a
	 * signalfd, which sees only signals every thread blocks.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0, rc = 0; i < ENGINE_WORKERS && rc == 0; i++)
		if ((rc = pthread_create(&e->worker[i], NULL, worker, e)) == 0)
			e->nworkers++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		rc = al_err_set(err, AL_ESYS, "cannot start the revocation "
		    "workers");
		goto fail;
	}
	*out = e;
	return 0;
fail:
	engine_free(e);
	return rc;
}

void
engine_free(struct engine *e)
{
	struct engine_source *s;
	size_t i;

	if (e == NULL)
		return;
	if (e->nworkers > 0) {
		pthread_mutex_lock(&e->mu);
		e->stop = 1;
		pthread_cond_broadcast(&e->cv);
		pthread_cond_broadcast(&e->backlog_cv);
		for (s = e->sources; s != NULL; s = s->next)
			pthread_cond_broadcast(&s->revoke_cv);
		pthread_mutex_unlock(&e->mu);
		while (e->nworkers > 0)
			pthread_join(e->worker[--e->nworkers], NULL);
	}
	while ((s = e->sources) != NULL) {
		e->sources = s->next;
		source_free(s);
	}
	pq_dl_close(&e->dl);
	if (e->db != NULL) {
		engine_commit(e);
		/* Names recorded but never used: no role was created. */
		(void)engine_db_exec(e, "DELETE FROM creds WHERE lease = '' AND"
		    " revoking = 0", NULL);
		engine_stmts_free(e);
		sqlite3_close(e->db);
	}
	for (i = 0; i < e->nrecs; i++)
		al_secret_free(e->recs[i].keep);
	free(e->recs);
	pthread_cond_destroy(&e->cv);
	pthread_cond_destroy(&e->backlog_cv);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

/*
 * When the oldest revocation attempt under way turns ENGINE_BACKLOG_STUCK_MS
 * old (mu held): 0 when none is under way, <= now when one is that old.
 */
static int64_t
stuck_at(const struct engine *e)
{
	int64_t t = 0;
	size_t i;

	for (i = 0; i < e->nrecs; i++)
		if (e->recs[i].started_ms != 0 && (t == 0 ||
		    e->recs[i].started_ms < t))
			t = e->recs[i].started_ms;
	return t == 0 ? 0 : t + ENGINE_BACKLOG_STUCK_MS;
}

/*
 * Before a mint (mu held): while more than ENGINE_BACKLOG ended
 * credentials wait for their first revocation, wait (up to
 * ENGINE_BACKLOG_WAIT_MS) for them to be taken.  Mints and revocations
 * share the server's CPU, and the clients wait for mints, not for
 * revocations: without this, a host kept busy minting let revocations
 * queue up and time-to-revoke p99 pass 1 s.  Revocations that failed
 * once are not counted: a server that is down stalls no mint for them.
 * Nor does a revocation held up (ENGINE_BACKLOG_STUCK_MS): a lease's
 * holder can make its own take the lock timeout (2 s) each, and forty of
 * them ended at once held every mint of every task a second, for as long
 * as that holder kept its locks.
 */
static void
backlog_wait(struct engine *e)
{
	int64_t until = 0, now, stuck, t;

	while (!e->stop && e->st.revoking > ENGINE_BACKLOG &&
	    queued_first(e) > ENGINE_BACKLOG) {
		now = engine_now_ms(e);
		if (until == 0)
			until = now + ENGINE_BACKLOG_WAIT_MS;
		else if (now >= until)
			break;
		if ((stuck = stuck_at(e)) != 0 && stuck <= now)
			break;
		t = stuck != 0 && stuck < until ? stuck : until;
		e->backlog_waiters++;
		wait_on(&e->backlog_cv, &e->mu, t - now);
		e->backlog_waiters--;
	}
}

int
engine_mint(struct engine *e, const char *secret, const char *lease,
    uint64_t conn, int64_t expires, const struct engine_for *why,
    struct al_secret **value,
    char role[ENGINE_ROLE_MAX + 1], struct al_err *err)
{
	struct engine_source *s;
	struct al_secret *keep = NULL;
	struct rec *r;
	char ext[ENGINE_EXT_MAX + 1];
	int rc, slot;

	*value = NULL;
	ext[0] = '\0';
	role[0] = '\0';
	pthread_mutex_lock(&e->mu);
	if ((s = source_find(e, secret)) == NULL) {
		pthread_mutex_unlock(&e->mu);
		return al_err_set(err, AL_ENOENT, "secret '%s' has no engine "
		    "source", secret);
	}
	if ((r = engine_take_reserved(e, s)) == NULL &&
	    (rc = engine_reserve(e, s, err)) != 0) {
		pthread_mutex_unlock(&e->mu);
		return rc;
	}
	if (r == NULL && (r = engine_take_reserved(e, s)) == NULL) {
		pthread_mutex_unlock(&e->mu);
		return al_err_set(err, AL_EDB, "engine state: no name reserved");
	}
	/*
	 * The name is durable already (reserve); filling in the lease need
	 * not be: a reserved name left after a crash is revoked at start.
	 */
	r->reserved = 0;
	/* Not revoked while it is being made (its lease may end meanwhile). */
	r->busy = 1;
	(void)snprintf(r->c.lease, sizeof(r->c.lease), "%s", lease);
	r->c.conn = conn;
	r->c.expires = expires;
	memcpy(role, r->c.role, ENGINE_ROLE_MAX + 1);
	(void)engine_rec_save(e, r, NULL);
	backlog_wait(e);
	/* A connection of its own: mints of other threads run alongside. */
	slot = slot_take(e, s, 1);
	pthread_mutex_unlock(&e->mu);
	rc = s->ops->mint(s, &s->slots[slot], role, why, expires +
	    ENGINE_VALID_MARGIN, value, ext, &keep, err);
	pthread_mutex_lock(&e->mu);
	slot_give(e, s, slot, 1);
	if (rc == 0 && ext[0] != '\0' && (r = engine_rec_find(e, role)) != NULL) {
		/* The issuer's id is what revokes it: durable now. */
		(void)snprintf(r->c.ext, sizeof(r->c.ext), "%s", ext);
		if (engine_rec_save_durable(e, r, NULL) != 0)
			rc = al_err_set(err, AL_EDB, "engine state: cannot "
			    "record the credential's id");
		if (rc != 0) {
			/* Unrecorded: revoke it at once, while it is known. */
			if (!r->c.revoking)
				engine_rec_end(e, r);
			pthread_cond_broadcast(&e->cv);
			al_secret_free(*value);
			*value = NULL;
		}
	}
	if (rc == 0 && keep != NULL && (r = engine_rec_find(e, role)) != NULL) {
		r->keep = keep;
		keep = NULL;
	}
	al_secret_free(keep);
	if (rc == 0)
		e->st.minted++;
	if ((r = engine_rec_find(e, role)) != NULL) {
		r->busy = 0;
		if (rc == 0 && r->c.revoking) {
			/* Its lease ended meanwhile: queued, not handed out. */
			rc = al_err_set(err, AL_ENOENT, "the lease ended while "
			    "its credential was being made");
			al_secret_free(*value);
			*value = NULL;
		} else if (rc != 0 && !r->c.revoking) {
			/* It may exist (its commit answer lost): revoke. */
			engine_rec_end(e, r);
		}
		if (r->c.revoking)
			pthread_cond_signal(&e->cv);	/* no longer busy */
	}
	pthread_mutex_unlock(&e->mu);
	return rc;
}

/* Queue every record matching (lease or conn or expiry); mu taken here. */
static size_t
end_where(struct engine *e, const char *lease, uint64_t conn, int64_t now)
{
	size_t i, n = 0;

	pthread_mutex_lock(&e->mu);
	for (i = 0; i < e->nrecs; i++) {
		struct rec *r = &e->recs[i];

		if (r->c.revoking || r->reserved)
			continue;
		if ((lease && strcmp(r->c.lease, lease) == 0) ||
		    (conn && r->c.conn == conn) ||
		    (now && r->c.expires <= now)) {
			engine_rec_end(e, r);
			n++;
		}
	}
	if (n == 1)
		pthread_cond_signal(&e->cv);
	else if (n > 1)
		pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	return n;
}

int
engine_lease_ended(struct engine *e, const char *lease, size_t *n)
{
	size_t k = end_where(e, lease, 0, 0);

	if (n)
		*n = k;
	return 0;
}

int
engine_conn_closed(struct engine *e, uint64_t conn, size_t *n)
{
	size_t k = conn ? end_where(e, NULL, conn, 0) : 0;

	if (n)
		*n = k;
	return 0;
}

int
engine_expire(struct engine *e, int64_t now, size_t *n)
{
	size_t k = end_where(e, NULL, 0, now);

	if (n)
		*n = k;
	return 0;
}

int64_t
engine_next_expiry(struct engine *e)
{
	int64_t next = 0;
	size_t i;

	pthread_mutex_lock(&e->mu);
	for (i = 0; i < e->nrecs; i++)
		if (!e->recs[i].c.revoking && !e->recs[i].reserved &&
		    (next == 0 ||
		    e->recs[i].c.expires < next))
			next = e->recs[i].c.expires;
	pthread_mutex_unlock(&e->mu);
	return next;
}

struct orphan_ctx {
	struct engine		*e;
	struct engine_source	*s;
	size_t			 n;
};

/* mu held by the caller of roles() for this callback's writes. */
static void
orphan_one(const char *role, void *arg)
{
	struct orphan_ctx *x = arg;
	struct rec *r;

	if (engine_rec_find(x->e, role) != NULL || strlen(role) > ENGINE_ROLE_MAX ||
	    (r = engine_rec_add(x->e)) == NULL)
		return;
	(void)snprintf(r->c.role, sizeof(r->c.role), "%s", role);
	(void)snprintf(r->c.secret, sizeof(r->c.secret), "%s", x->s->name);
	r->orphan = 1;
	engine_rec_end(x->e, r);
	x->n++;
}

struct role_list {
	char	(*v)[ENGINE_ROLE_MAX + 1];
	size_t	  n, cap;
};

static void
collect_role(const char *role, void *arg)
{
	struct role_list *l = arg;
	void *p;

	if (strlen(role) > ENGINE_ROLE_MAX)
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 32;
		if ((p = realloc(l->v, l->cap * sizeof(*l->v))) == NULL)
			return;
		l->v = p;
	}
	(void)snprintf(l->v[l->n++], ENGINE_ROLE_MAX + 1, "%s", role);
}

int
engine_recover(struct engine *e, int (*live)(const char *lease, void *arg),
    void *arg, size_t *n, struct al_err *err)
{
	struct engine_source *s, *seen;
	struct orphan_ctx x = { e, NULL, 0 };
	struct role_list l;
	struct al_err one;
	size_t i;
	int rc = 0, rc2;

	pthread_mutex_lock(&e->mu);
	for (i = 0; i < e->nrecs; i++) {
		struct rec *r = &e->recs[i];

		if (r->reserved) {
			/*
			 * Left by a crash: its role may exist if the crash
			 * came between CREATE ROLE and recording the lease.
			 */
			r->reserved = 0;
			r->orphan = 1;
			engine_rec_end(e, r);
			x.n++;
		} else if (!r->c.revoking && !live(r->c.lease, arg)) {
			engine_rec_end(e, r);
			x.n++;
		}
	}
	pthread_mutex_unlock(&e->mu);
	/* Sources are only added at the head, so this walk is stable. */
	for (s = e->sources; s != NULL; s = s->next) {
		for (seen = e->sources; seen != s; seen = seen->next)
			if (strcmp(seen->name, s->name) == 0)
				break;
		if (seen != s)
			continue;	/* an older version */
		memset(&l, 0, sizeof(l));
		al_err_clear(&one);
		if (s->ops->roles == NULL)
			continue;	/* the issuer cannot be searched */
		rc2 = s->ops->roles(s, &s->mint, collect_role, &l, &one);
		/* Not needed again: its session would only cost the server. */
		s->ops->close(s->dl, s->mint.conn);
		s->mint.conn = NULL;
		if (rc2 != 0) {
			if (rc == 0)
				rc = al_err_set(err, one.code, "secret '%s': "
				    "%s", s->name, one.msg);
			free(l.v);
			continue;
		}
		x.s = s;
		pthread_mutex_lock(&e->mu);
		for (i = 0; i < l.n; i++)
			orphan_one(l.v[i], &x);
		pthread_mutex_unlock(&e->mu);
		free(l.v);
	}
	pthread_mutex_lock(&e->mu);
	e->ready = 1;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	if (n)
		*n = x.n;
	return rc;
}

size_t
engine_take_done(struct engine *e, struct engine_done *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&e->mu);
	n = e->ndone < max ? e->ndone : max;
	memcpy(out, e->done, n * sizeof(*out));
	memmove(e->done, e->done + n, (e->ndone - n) * sizeof(*out));
	e->ndone -= n;
	pthread_mutex_unlock(&e->mu);
	return n;
}

void
engine_list(struct engine *e, void (*fn)(const struct engine_cred *c,
    void *arg), void *arg)
{
	struct engine_cred c;
	size_t i;

	pthread_mutex_lock(&e->mu);
	for (i = 0; i < e->nrecs; i++)
		if (!e->recs[i].reserved) {
			c = e->recs[i].c;
			c.attempt_ms = e->recs[i].started_ms;
			fn(&c, arg);
		}
	pthread_mutex_unlock(&e->mu);
}

void
engine_stats(struct engine *e, struct engine_stats *out)
{
	pthread_mutex_lock(&e->mu);
	*out = e->st;
	pthread_mutex_unlock(&e->mu);
}

/*
 * Engine glue: a use of a lease on an engine secret mints a credential
 * (the engine's root credential, read from the vault, never leaves the
 * broker); every way a lease ends queues its credentials for revocation;
 * confirmed revocations are audited with their time-to-revoke.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "airlock/engine.h"
#include "broker_int.h"
#include "engine_glue.h"

/* While revocations are in flight, the loop looks in this often. */
#define ENG_POLL_MS	50
/* Threads that mint (each mint takes one of the engine's connections). */
#define ENG_MINTERS	4

/*
 * A mint handed to a minting thread.  Everything but done, abandoned and
 * the results is written by the loop before it is queued and only read
 * after; the results are the thread's until done is set (under the pool's
 * mutex), the loop's after.
 */
struct eng_job {
	struct eng_pool		*pool;
	struct lease		 l;
	json_t			*who;		/* the loop's only */
	char			 task[LEASE_TEXT_MAX + 1];
	char			*repo;		/* NULL: unknown */
	int			 done;
	int			 abandoned;
	int			 rc;
	struct al_err		 err;
	struct al_secret	*cred;
	char			 role[ENGINE_ROLE_MAX + 1];
	struct eng_job		*next;		/* queue, dead list */
};

/*
 * The minting threads: a queue of jobs, and the jobs abandoned by their
 * requests that are done (freed by the loop).  Each done job wakes the
 * loop through efd.
 */
struct eng_pool {
	struct engine	*engine;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	pthread_t	 th[ENG_MINTERS];
	int		 nth;
	int		 stop;
	int		 efd;
	struct eng_job	*head, *tail;
	struct eng_job	*dead;
};

static void
job_free(struct eng_job *j)
{
	if (j == NULL)
		return;
	al_secret_free(j->cred);
	json_decref(j->who);
	free(j->repo);
	free(j);
}

/* Done (mu held): a job nobody waits for any more goes to the dead. */
static void
job_done(struct eng_pool *p, struct eng_job *j)
{
	uint64_t one = 1;

	j->done = 1;
	if (j->abandoned) {
		j->next = p->dead;
		p->dead = j;
	}
	(void)!write(p->efd, &one, sizeof(one));
}

static void *
minter(void *arg)
{
	struct eng_pool *p = arg;
	struct engine_for why;
	struct eng_job *j;
	int rc;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->head == NULL)
			pthread_cond_wait(&p->cv, &p->mu);
		if ((j = p->head) == NULL)
			break;		/* stopping, nothing queued */
		if ((p->head = j->next) == NULL)
			p->tail = NULL;
		j->next = NULL;
		if (p->stop) {
			j->rc = al_err_set(&j->err, AL_EUNAVAIL, "the broker "
			    "is stopping");
			job_done(p, j);
			continue;
		}
		pthread_mutex_unlock(&p->mu);
		why.task = j->task[0] ? j->task : NULL;
		why.repo = j->repo;
		al_err_clear(&j->err);
		rc = engine_mint(p->engine, j->l.secret, j->l.id, j->l.conn,
		    j->l.expires, &why, &j->cred, j->role, &j->err);
		pthread_mutex_lock(&p->mu);
		j->rc = rc;
		job_done(p, j);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Stop the threads: each finishes its mint, the queued are refused. */
static void
pool_stop(struct eng_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	while (p->nth > 0)
		pthread_join(p->th[--p->nth], NULL);
}

static void
pool_free(struct eng_pool *p)
{
	struct eng_job *j;

	if (p == NULL)
		return;
	pool_stop(p);
	/* Every queued job was done by a thread; the abandoned are dead. */
	while ((j = p->dead) != NULL) {
		p->dead = j->next;
		job_free(j);
	}
	if (p->efd >= 0)
		(void)close(p->efd);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static int
pool_start(struct engine *e, struct eng_pool **out, struct al_err *err)
{
	struct eng_pool *p;
	sigset_t all, old;
	int rc = 0;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	p->engine = e;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if ((p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rc = al_err_set(err, AL_ESYS, "eventfd: %s", strerror(errno));
		pool_free(p);
		return rc;
	}
	/* No signal for these threads (the broker reads a signalfd). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (p->nth < ENG_MINTERS && pthread_create(&p->th[p->nth], NULL,
	    minter, p) == 0)
		p->nth++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->nth < ENG_MINTERS) {
		pool_free(p);
		return al_err_set(err, AL_ESYS, "cannot start the minting "
		    "threads");
	}
	*out = p;
	return 0;
}

/* m's labels as engine key/value pairs; *n of them into kv. */
static size_t
labels_kv(const struct vault_meta *m, struct engine_kv *kv)
{
	size_t i;

	for (i = 0; i < m->nlabels && i < VAULT_LIST_MAX; i++) {
		kv[i].key = m->labels[i].key;
		kv[i].value = m->labels[i].value;
	}
	return i;
}

static int
is_dynamic(const struct vault_meta *m)
{
	struct engine_kv kv[VAULT_LIST_MAX];

	return engine_kv_is_dynamic(kv, labels_kv(m, kv));
}

/* Make m (root in hand) a source of the engine. */
static int
set_source(struct broker *b, const struct vault_meta *m,
    const struct al_secret *root, struct al_err *err)
{
	struct engine_kv kv[VAULT_LIST_MAX];
	struct engine_config c;
	int rc;

	if (engine_source_known(b->engine, m->name, m->version))
		return 0;
	if ((rc = engine_config_from_kv(kv, labels_kv(m, kv), &c, err)) != 0)
		return rc;
	rc = engine_source_set(b->engine, m->name, m->version, &c, root, err);
	engine_config_release(&c);
	return rc;
}

static int
lease_live(const char *lease, void *arg)
{
	struct broker *b = arg;
	struct lease l;

	/* A used-up lease keeps its credentials until its expiry. */
	return lease_get(b->leases, lease, &l, NULL) == 0 &&
	    (l.state == LEASE_LIVE || (l.state == LEASE_USED_UP &&
	    l.expires > b->clock->now(b->clock->arg)));
}

int
eng_start(struct broker *b, struct al_err *err)
{
	struct vault_meta *list = NULL;
	struct al_secret *root = NULL;
	struct al_err e2;
	char path[PATH_MAX];
	size_t n = 0, i, q = 0;
	int rc;

	if ((rc = al_path_join(path, sizeof(path), b->home,
	    ENGINE_STATE_FILE)) != 0)
		return al_err_set(err, rc, "a path under %s is too long",
		    b->home);
	if ((rc = engine_open(path, b->clock, &b->engine, err)) != 0)
		return rc;
	/* Minted values go out like the vault's: from the broker's pool. */
	engine_set_value_pool(b->engine, b->values);
	if ((rc = pool_start(b->engine, &b->engpool, err)) != 0)
		return rc;
	if ((rc = vault_secret_list(b->vault, &list, &n, err)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		if (list[i].corrupt || !is_dynamic(&list[i]))
			continue;
		al_err_clear(&e2);
		if (vault_secret_read(b->vault, list[i].name, &root, NULL,
		    &e2) != 0 || set_source(b, &list[i], root, &e2) != 0)
			broker_log(b, "engine secret %s: %s", list[i].name,
			    e2.msg);
		al_secret_free(root);
		root = NULL;
	}
	vault_meta_list_free(list, n);
	al_err_clear(&e2);
	if (engine_recover(b->engine, lease_live, b, &q, &e2) != 0)
		broker_log(b, "engine: orphan search incomplete: %s", e2.msg);
	if (q > 0)
		broker_log(b, "engine: %zu credential(s) without a live lease "
		    "queued for revocation", q);
	return 0;
}

void
eng_quiesce(struct broker *b)
{
	/* Mints under way finish (they use the engine) and are audited. */
	if (b->engpool != NULL) {
		pool_stop(b->engpool);
		eng_drain(b);
	}
}

void
eng_stop(struct broker *b)
{
	eng_quiesce(b);
	pool_free(b->engpool);
	b->engpool = NULL;
	engine_free(b->engine);
	b->engine = NULL;
}

int
eng_value_start(struct broker *b, const struct lease *l,
    const struct vault_meta *m, const json_t *who, struct al_secret **value,
    struct eng_job **job, struct al_err *err)
{
	struct eng_pool *p = b->engpool;
	struct eng_job *j;
	const char *repo;
	int rc;

	*job = NULL;
	if (b->engine == NULL || p == NULL || !is_dynamic(m))
		return 0;
	if ((rc = set_source(b, m, *value, err)) != 0)
		return rc;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	j->pool = p;
	j->l = *l;
	j->who = json_incref((json_t *)who);
	(void)snprintf(j->task, sizeof(j->task), "%s", l->task);
	repo = json_string_value(json_object_get(who, "repo"));
	if (repo != NULL && (j->repo = strdup(repo)) == NULL) {
		job_free(j);
		return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	/* The root credential stays in the engine's own copies. */
	al_secret_free(*value);
	*value = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	*job = j;
	return 0;
}

int
eng_job_done(struct eng_job *j)
{
	int done;

	pthread_mutex_lock(&j->pool->mu);
	done = j->done;
	pthread_mutex_unlock(&j->pool->mu);
	return done;
}

const struct lease *
eng_job_lease(const struct eng_job *j)
{
	return &j->l;
}

json_t *
eng_job_who(const struct eng_job *j)
{
	return j->who;
}

int
eng_value_finish(struct broker *b, struct eng_job *j,
    struct al_secret **value, struct al_err *err)
{
	const struct lease *l = &j->l;
	json_t *detail;
	int rc = j->rc;

	*value = NULL;
	if (rc != 0)
		*err = j->err;
	detail = json_pack("{s:s}", "role", j->role);
	if (record(b, "mint", rc == 0 ? "ok" : "error", j->who, l->secret,
	    l->id, l->task, l->intent, rc == 0 ? NULL : err->msg, NULL, detail,
	    rc == 0 ? err : NULL) != 0 && rc == 0) {
		/* Unaudited: it must not be used. */
		size_t k;

		(void)engine_lease_ended(b->engine, l->id, &k);
		rc = err->code;
	}
	json_decref(detail);
	if (rc == 0) {
		*value = j->cred;
		j->cred = NULL;
	}
	job_free(j);
	return rc;
}

void
eng_job_abandon(struct eng_job *j)
{
	struct eng_pool *p;
	int done;

	if (j == NULL)
		return;
	p = j->pool;
	pthread_mutex_lock(&p->mu);
	done = j->done;
	j->abandoned = 1;
	pthread_mutex_unlock(&p->mu);
	if (done)
		job_free(j);	/* the thread is finished with it */
}

int
eng_fd(struct broker *b)
{
	return b->engpool != NULL ? b->engpool->efd : -1;
}

void
eng_drain(struct broker *b)
{
	struct eng_pool *p = b->engpool;
	struct eng_job *j, *dead;
	uint64_t v;

	if (p == NULL)
		return;
	(void)!read(p->efd, &v, sizeof(v));
	pthread_mutex_lock(&p->mu);
	dead = p->dead;
	p->dead = NULL;
	pthread_mutex_unlock(&p->mu);
	while ((j = dead) != NULL) {
		dead = j->next;
		/* Never handed out: audited all the same. */
		if (j->role[0] != '\0') {
			json_t *detail = json_pack("{s:s}", "role", j->role);
			struct al_err err;

			if (record(b, "mint", j->rc == 0 ? "ok" : "error",
			    j->who, j->l.secret, j->l.id, j->l.task,
			    j->l.intent, j->rc == 0 ? "the request went away" :
			    j->err.msg, NULL, detail, &err) != 0)
				broker_log(b, "%s", err.msg);
			json_decref(detail);
		}
		job_free(j);
	}
}

void
eng_lease_ended(struct broker *b, const struct lease *l)
{
	if (b->engine != NULL && l->state != LEASE_USED_UP)
		(void)engine_lease_ended(b->engine, l->id, NULL);
}

void
eng_lease_revoked(struct broker *b, const struct lease *l)
{
	if (b->engine != NULL)
		(void)engine_lease_ended(b->engine, l->id, NULL);
}

void
eng_conn_closed(struct broker *b, uint64_t conn)
{
	if (b->engine != NULL)
		(void)engine_conn_closed(b->engine, conn, NULL);
}

int64_t
eng_tick(struct broker *b)
{
	struct engine_done d[64];
	struct engine_stats st;
	struct al_err err;
	json_t *detail;
	int64_t now, next;
	size_t n, i, recorded = 0;

	if (b->engine == NULL)
		return 0;
	now = b->clock->now(b->clock->arg);
	(void)engine_expire(b->engine, now, NULL);
	while ((n = engine_take_done(b->engine, d, 64)) > 0)
		for (i = 0; i < n; i++, recorded++) {
			detail = json_pack("{s:s,s:I,s:i,s:b}", "role",
			    d[i].role, "ttr_ms", (json_int_t)d[i].ttr_ms,
			    "attempts", d[i].attempts, "orphan",
			    d[i].orphan);
			if (record(b, "credential_revoke", "ok", NULL,
			    d[i].secret, d[i].lease[0] ? d[i].lease : NULL,
			    NULL, NULL, d[i].orphan ? "orphan" : NULL, NULL,
			    detail, &err) != 0)
				broker_log(b, "%s", err.msg);
			json_decref(detail);
			broker_log(b, "credential %s of %s revoked in %lld ms",
			    d[i].role, d[i].secret, (long long)d[i].ttr_ms);
		}
	if (recorded > 0) {
		/*
		 * Lines written outside a request: hand the log back (others
		 * append to it too) and come back at once, so that the end
		 * of this turn schedules their sync instead of the loop
		 * sleeping on them.
		 */
		(void)broker_flush(b);
		return b->clock->now_ms(b->clock->arg);
	}
	engine_stats(b->engine, &st);
	if (st.revoking > 0)
		return b->clock->now_ms(b->clock->arg) + ENG_POLL_MS;
	next = engine_next_expiry(b->engine);
	return next ? next * 1000 : 0;
}

struct list_ctx {
	json_t	*arr;
	int64_t	 now_ms;
};

static void
list_one(const struct engine_cred *c, void *arg)
{
	struct list_ctx *x = arg;
	int64_t ran;
	json_t *o;

	if (!c->revoking)
		return;
	/* ttr_ms: the time-to-revoke so far (lease end to now). */
	o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:I,s:I}", API_F_ID, c->lease,
	    API_F_SECRET, c->secret, API_F_STATE, "revoking", "role",
	    c->role, "attempts", c->attempts, "error", c->error,
	    "ended_unix", (json_int_t)(c->ended_ms / 1000), "ttr_ms",
	    (json_int_t)(x->now_ms > c->ended_ms ? x->now_ms - c->ended_ms :
	    0));
	/* attempt_ms: how long the attempt under way has run (null: none). */
	ran = x->now_ms > c->attempt_ms ? x->now_ms - c->attempt_ms : 0;
	if (o != NULL && json_object_set_new(o, "attempt_ms",
	    c->attempt_ms == 0 ? json_null() : json_integer((json_int_t)ran))
	    != 0) {
		json_decref(o);
		o = NULL;
	}
	if (o != NULL)
		json_array_append_new(x->arr, o);
}

void
eng_list(struct broker *b, json_t *arr)
{
	struct list_ctx x = { arr, b->clock->now_ms(b->clock->arg) };

	if (b->engine != NULL && arr != NULL)
		engine_list(b->engine, list_one, &x);
}

int
eng_metrics(struct broker *b, struct al_buf *out)
{
	static const int64_t bounds[] = ENGINE_TTR_BOUNDS_MS;
	struct engine_stats st;
	uint64_t cum = 0;
	size_t i;
	int rc;

	if (b->engine == NULL)
		return 0;
	engine_stats(b->engine, &st);
	rc = al_buf_puts(out, "# TYPE airlock_credential_revoke_seconds "
	    "histogram\n");
	for (i = 0; rc == 0 && i < ENGINE_TTR_NBUCKETS; i++) {
		cum += st.ttr_buckets[i];
		rc = al_buf_printf(out, "airlock_credential_revoke_seconds_bucket"
		    "{le=\"%g\"} %llu\n", bounds[i] / 1000.0,
		    (unsigned long long)cum);
	}
	cum += st.ttr_buckets[ENGINE_TTR_NBUCKETS];
	if (rc == 0)
		rc = al_buf_printf(out, "airlock_credential_revoke_seconds_bucket"
		    "{le=\"+Inf\"} %llu\nairlock_credential_revoke_seconds_sum "
		    "%.3f\nairlock_credential_revoke_seconds_count %llu\n",
		    (unsigned long long)cum, st.ttr_sum_ms / 1000.0,
		    (unsigned long long)cum);
	if (rc != 0)
		return rc;
	return al_buf_printf(out, "# TYPE airlock_credentials_minted_total "
	    "counter\nairlock_credentials_minted_total %llu\n"
	    "# TYPE airlock_credentials_revoked_total counter\n"
	    "airlock_credentials_revoked_total %llu\n"
	    "# TYPE airlock_credential_revoke_failures_total counter\n"
	    "airlock_credential_revoke_failures_total %llu\n"
	    "# TYPE airlock_credentials_revoking gauge\n"
	    "airlock_credentials_revoking %zu\n",
	    (unsigned long long)st.minted, (unsigned long long)st.revoked,
	    (unsigned long long)st.failures, st.revoking);
}

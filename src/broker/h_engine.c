/*
 * Engine glue: a use of a lease on an engine secret mints a credential
 * (the engine's root credential, read from the vault, never leaves the
 * broker); every way a lease ends queues its credentials for revocation;
 * confirmed revocations are audited with their time-to-revoke.
 */
#include <stdio.h>
#include <string.h>

#include "airlock/engine.h"
#include "broker_int.h"
#include "engine_glue.h"

/* While revocations are in flight, the loop looks in this often. */
#define ENG_POLL_MS	50

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
eng_stop(struct broker *b)
{
	engine_free(b->engine);
	b->engine = NULL;
}

int
eng_value(struct broker *b, const struct lease *l, const struct vault_meta *m,
    const json_t *who, struct al_secret **value, struct al_err *err)
{
	struct al_secret *cred = NULL;
	struct engine_for why;
	char role[ENGINE_ROLE_MAX + 1];
	json_t *detail;
	int rc;

	if (b->engine == NULL || !is_dynamic(m))
		return 0;
	if ((rc = set_source(b, m, *value, err)) != 0)
		return rc;
	why.task = l->task;
	why.repo = json_string_value(json_object_get(who, "repo"));
	rc = engine_mint(b->engine, l->secret, l->id, l->conn, l->expires,
	    &why, &cred, role, err);
	detail = json_pack("{s:s}", "role", role);
	if (record(b, "mint", rc == 0 ? "ok" : "error", who, l->secret, l->id,
	    l->task, l->intent, rc == 0 ? NULL : err->msg, NULL, detail,
	    rc == 0 ? err : NULL) != 0 && rc == 0) {
		/* Unaudited: it must not be used. */
		size_t k;

		(void)engine_lease_ended(b->engine, l->id, &k);
		al_secret_free(cred);
		json_decref(detail);
		return err->code;
	}
	json_decref(detail);
	if (rc != 0)
		return rc;
	al_secret_free(*value);
	*value = cred;
	return 0;
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

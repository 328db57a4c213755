/*
 * Exposure: a secret's value was found outside airlock (an agent hook, the
 * guard, a sweep).  The broker is where access is held, so it is where an
 * exposure ends it: in one step of its event loop the secret is marked
 * exposed, its live leases are revoked and its pending approvals denied,
 * so no lease or approval can slip in between, and each step is audited.
 * /metrics carries the times of each secret's latest exposure.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "broker_int.h"
#include "engine_glue.h"

void
broker_label_drop(struct vault_meta *m, const char *k)
{
	size_t i;

	for (i = 0; i < m->nlabels; i++) {
		if (strcmp(m->labels[i].key, k) != 0)
			continue;
		free(m->labels[i].key);
		free(m->labels[i].value);
		m->labels[i] = m->labels[--m->nlabels];
		return;
	}
}

int
broker_label_set(struct vault_meta *m, const char *k, const char *v)
{
	struct vault_label *nl;
	char *kk, *vv;

	broker_label_drop(m, k);
	if (m->nlabels >= VAULT_LIST_MAX)
		return AL_ETOOBIG;
	if ((nl = realloc(m->labels, (m->nlabels + 1) * sizeof(*nl))) == NULL)
		return AL_ENOMEM;
	m->labels = nl;
	kk = strdup(k);
	vv = strndup(v, VAULT_TEXT_MAX - 1);
	if (kk == NULL || vv == NULL) {
		free(kk);
		free(vv);
		return AL_ENOMEM;
	}
	nl[m->nlabels].key = kk;
	nl[m->nlabels].value = vv;
	m->nlabels++;
	return 0;
}

int
broker_exposure_label(struct vault_meta *m, int64_t now_ms, const char *where)
{
	char since[21];
	int rc;

	al_format_time(now_ms / 1000, since);
	m->status = VAULT_EXPOSED;
	broker_label_drop(m, BROKER_EXPOSURE_REVOKE_MS);
	broker_label_drop(m, BROKER_EXPOSURE_ROTATE_MS);
	if ((rc = broker_label_set(m, BROKER_EXPOSED_SINCE, since)) != 0)
		return rc;
	return broker_label_set(m, BROKER_EXPOSED_WHERE, where);
}

struct by_secret {
	const char		*secret;
	struct lease_ids	 ids;
};

static int
collect_secret(const struct lease *l, void *arg)
{
	struct by_secret *x = arg;

	if (l->state != LEASE_LIVE || strcmp(l->secret, x->secret) != 0)
		return 0;
	return lease_ids_push(&x->ids, l->id);
}

/* Revoke every live lease of secret; how many in *n. */
static int
revoke_all(struct broker *b, const char *secret, const json_t *who,
    size_t *n, struct al_err *err)
{
	struct by_secret x = { secret, { NULL, 0, 0 } };
	struct lease l;
	struct al_err e2;
	size_t i;
	int rc;

	*n = 0;
	if ((rc = lease_list(b->leases, "", collect_secret, &x, err)) != 0)
		goto out;
	for (i = 0; i < x.ids.n; i++) {
		if (lease_revoke(b->leases, x.ids.v[i], LEASE_REVOKED, &l,
		    &e2) != 0)
			continue;	/* ended meanwhile */
		eng_lease_revoked(b, &l);
		b->metrics.revocations++;
		(*n)++;
		/* Access is taken away whatever the log's state. */
		record_fact(b, "revoke", "ok", who, l.secret, l.id, l.task,
		    l.intent, "the secret is exposed", NULL);
	}
out:
	free(x.ids.v);
	return rc;
}

/* Deny every pending approval of secret; how many in *n. */
static void
deny_all(struct broker *b, const char *secret, const json_t *who, size_t *n)
{
	struct approval *ap;
	size_t i;

	*n = 0;
	for (i = 0; i < b->approvals.n; i++) {
		ap = b->approvals.v[i];
		if (ap->state != APPROVAL_PENDING ||
		    strcmp(ap->secret, secret) != 0)
			continue;
		ap->state = APPROVAL_DENIED;
		ap->decided = b->clock->now(b->clock->arg);
		(void)snprintf(ap->decided_by, sizeof(ap->decided_by), "%s",
		    "airlock: exposure");
		(void)snprintf(ap->reason, sizeof(ap->reason), "%s",
		    "the secret is exposed: rotate it");
		b->metrics.denials++;
		(*n)++;
		record_fact(b, "deny_approval", "denied", who, ap->secret, NULL,
		    ap->task, ap->intent, ap->reason, NULL);
	}
}

/*
 * Mark name exposed (found in where by source), revoke its live leases,
 * deny its pending approvals, audit each step and store the time to
 * revoke.  A secret already exposed keeps its first time; its leases and
 * approvals (made while it was not yet marked, or before an edit marked
 * it) are ended all the same.  The result goes into *out.
 */
static int
expose(struct broker *b, const char *name, const char *where,
    const char *source, const json_t *who, json_t **out, struct al_err *err)
{
	struct vault_meta m;
	struct al_err e2, unmarked;
	json_t *detail;
	const char *since;
	char ms[24];
	int64_t t0, t1, ttr;
	size_t nrev, ndeny;
	int rc, first;

	*out = NULL;
	memset(&m, 0, sizeof(m));
	if ((rc = vault_secret_get(b->vault, name, &m, err)) != 0)
		return rc;
	t0 = b->clock->now_ms(b->clock->arg);
	since = vault_meta_label(&m, BROKER_EXPOSED_SINCE);
	first = m.status != VAULT_EXPOSED || since == NULL;
	if (first) {
		/*
		 * Marked first: from here on no lease of it is granted.  If
		 * it cannot be, its access is ended all the same (fail
		 * closed), and the caller is told it was not marked.
		 */
		if ((rc = broker_exposure_label(&m, t0, where)) != 0) {
			(void)al_err_set(&unmarked, rc, "no room for its "
			    "labels");
			first = -1;
		} else if (vault_secret_update(b->vault, &m, &unmarked) != 0)
			first = -1;
	} else if (al_parse_time(since, t0 / 1000, BROKER_EXPOSED_SINCE, &t1,
	    &e2) == 0)
		t0 = t1 * 1000;
	detail = json_pack("{s:s, s:s, s:I, s:b}", API_F_SOURCE, source,
	    API_F_WHERE, where, "since_ms", (json_int_t)t0, "first", first);
	record_fact(b, "secret_exposed", first < 0 ? "error" : "ok", who, name,
	    NULL, NULL, source, first < 0 ? "its value was found outside "
	    "airlock; it could not be marked exposed" : "its value was found "
	    "outside airlock", detail);
	json_decref(detail);
	if ((rc = revoke_all(b, name, who, &nrev, err)) != 0)
		goto out;
	deny_all(b, name, who, &ndeny);
	t1 = b->clock->now_ms(b->clock->arg);
	ttr = t1 > t0 ? t1 - t0 : 0;
	if (!first && nrev == 0 && ndeny == 0)
		goto done;	/* seen again: nothing more was ended */
	detail = json_pack("{s:I, s:I, s:I, s:I}", "leases_revoked",
	    (json_int_t)nrev, "approvals_denied", (json_int_t)ndeny,
	    "since_ms", (json_int_t)t0, API_F_TTR_MS, (json_int_t)ttr);
	record_fact(b, "exposure_revoke", "ok", who, name, NULL, NULL, source,
	    "access ended after an exposure", detail);
	json_decref(detail);
	/* The time to revoke of this exposure: when its last lease ended. */
	(void)snprintf(ms, sizeof(ms), "%" PRId64, ttr);
	if (first >= 0 && (broker_label_set(&m, BROKER_EXPOSURE_REVOKE_MS,
	    ms) != 0 || vault_secret_update(b->vault, &m, &e2) != 0))
		broker_log(b, "cannot store the time to revoke of %s", name);
done:
	if (first < 0) {
		rc = al_err_set(err, unmarked.code, "secret '%s' could not be "
		    "marked exposed (%s); its %zu live lease(s) were revoked "
		    "and %zu pending approval(s) denied", name, unmarked.msg,
		    nrev, ndeny);
		goto out;
	}
	broker_log(b, "secret %s exposed (%s): %zu lease(s) revoked, %zu "
	    "approval(s) denied in %" PRId64 " ms", name, source, nrev, ndeny,
	    ttr);
	*out = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I}", API_F_SECRET, name,
	    "first", first, "since", (json_int_t)(t0 / 1000), API_F_REVOKED,
	    (json_int_t)nrev, API_F_DENIED, (json_int_t)ndeny, API_F_TTR_MS,
	    (json_int_t)ttr);
out:
	vault_meta_release(&m);
	return rc;
}

int
exposure_proof(const struct broker *b, uid_t uid, const char *secret,
    int64_t t, char *proof)
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char head[64];
	int n;

	n = snprintf(head, sizeof(head), "airlock exposure proof\n%lu\n%" PRId64
	    "\n", (unsigned long)uid, t);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	if (crypto_auth_hmacsha256_init(&st, al_secret_open(b->proof_key),
	    32) != 0) {
		al_secret_close(b->proof_key);
		return -1;
	}
	al_secret_close(b->proof_key);
	(void)crypto_auth_hmacsha256_update(&st, (const unsigned char *)head,
	    (size_t)n);
	(void)crypto_auth_hmacsha256_update(&st, (const unsigned char *)secret,
	    strlen(secret));
	(void)crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
	al_hex(mac, sizeof(mac), proof);
	(void)snprintf(proof + 2 * sizeof(mac), EXPOSURE_PROOF_LEN + 1 -
	    2 * sizeof(mac), ".%" PRId64, t);
	return 0;
}

/*
 * Whether proof shows that this caller sent the broker text holding the
 * secret's value less than EXPOSURE_PROOF_TTL seconds ago.
 */
static int
proof_ok(const struct broker *b, uid_t uid, const char *secret,
    const char *proof)
{
	char want[EXPOSURE_PROOF_LEN + 1];
	const char *dot;
	long long t;
	int64_t now = b->clock->now(b->clock->arg);
	char *end;

	if (proof == NULL || strlen(proof) > EXPOSURE_PROOF_LEN ||
	    (dot = strchr(proof, '.')) == NULL || dot - proof != 64)
		return 0;
	t = strtoll(dot + 1, &end, 10);
	if (*end != '\0' || end == dot + 1 || t > now ||
	    now - t > EXPOSURE_PROOF_TTL)
		return 0;
	if (exposure_proof(b, uid, secret, (int64_t)t, want) != 0)
		return 0;
	return strlen(want) == strlen(proof) &&
	    sodium_memcmp(want, proof, strlen(want)) == 0;
}

static const char *
body_text(const json_t *body, const char *k)
{
	const json_t *v = json_object_get(body, k);

	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    !text_ok(json_string_value(v)))
		return NULL;
	return json_string_value(v);
}

void
h_exposure_report(struct route_args *a)
{
	struct broker *b = a->b;
	const char *name, *where, *source, *proof;
	struct al_err err;
	json_t *who = NULL, *out = NULL;
	char fp[NAME_FP_LEN + 1], w[API_TEXT_MAX + 1], src[API_TEXT_MAX + 1];

	name = body_text(a->body, API_F_SECRET);
	where = body_text(a->body, API_F_WHERE);
	source = body_text(a->body, API_F_SOURCE);
	proof = body_text(a->body, API_F_PROOF);
	if (json_object_size(a->body) != 3 + (proof != NULL) ||
	    name == NULL || where == NULL || source == NULL) {
		reply_error(a->resp, 400, API_E_BAD_REQUEST, "the body must be "
		    "{\"secret\": S, \"where\": W, \"source\": SRC, "
		    "\"proof\"?: P} (printable, at most 256 bytes each)");
		return;
	}
	/*
	 * An exposure takes every holder's access away, and the name alone
	 * is enough to ask for it: the owner may, and so may a caller that
	 * proves it has seen the value (a proof POST /v1/redact gave it for
	 * text that held the value: a hook of an agent that runs as another
	 * user).
	 */
	if (!caller_is_owner(b, a->req->caller) && !proof_ok(b,
	    a->req->caller->uid, name, proof)) {
		reply_error(a->resp, 403, API_E_FORBIDDEN, proof == NULL ?
		    "only the broker's owner may report an exposure without "
		    "a proof that it saw the value (POST /v1/redact gives one)"
		    : "the proof is not this caller's for this secret, or "
		    "has expired");
		return;
	}
	if (vault_name_check(name, &err) != 0) {
		reply_al_err(a->resp, &err);
		return;
	}
	/*
	 * Recorded whatever they hold, for the exposure must end access:
	 * a secret's value in them is withheld.
	 */
	if (text_withhold(b, where, w) | text_withhold(b, source, src))
		broker_log(b, "an exposure report's where or source held a "
		    "secret's value: withheld");
	(void)broker_tick(b);
	who = caller_json(a->req->caller);
	if (expose(b, name, w, src, who, &out, &err) != 0) {
		if (err.code == AL_ENOENT)
			name_unknown(b, name, &err, fp);
		reply_al_err(a->resp, &err);
	} else
		reply_json(a->resp, 200, out);
	a->resp->need_sync = !b->audit_failed;
	json_decref(who);
}

/* A metric line per secret carrying label k (milliseconds). */
static int
per_secret(struct al_buf *o, const struct vault_meta *list, size_t n,
    const char *metric, const char *help, const char *k)
{
	struct al_err err;
	long long v;
	size_t i;
	int rc, head = 0;

	for (i = 0, rc = 0; i < n && rc == 0; i++) {
		const char *s = vault_meta_label(&list[i], k);

		if (s == NULL || al_parse_int(s, 0, INT64_MAX / 2, k, &v,
		    &err) != 0 || vault_name_check(list[i].name, &err) != 0)
			continue;
		if (!head++)
			rc = al_buf_printf(o, "# HELP %s %s\n# TYPE %s gauge\n",
			    metric, help, metric);
		/* A vault name is [A-Za-z0-9._/-]: nothing to escape. */
		if (rc == 0)
			rc = al_buf_printf(o, "%s{secret=\"%s\"} %.3f\n",
			    metric, list[i].name, (double)v / 1000);
	}
	return rc;
}

int
exposure_metrics(struct broker *b, struct al_buf *o)
{
	struct vault_meta *list = NULL;
	struct al_err err;
	size_t n = 0, i, exposed = 0;
	int64_t now = b->clock->now(b->clock->arg);
	int rc;

	if (vault_secret_list(b->vault, &list, &n, &err) != 0)
		return 0;	/* the other metrics still answer */
	for (i = 0; i < n; i++)
		if (vault_meta_status(&list[i], now) == VAULT_EXPOSED)
			exposed++;
	rc = al_buf_printf(o, "# HELP airlock_secrets_exposed Secrets exposed "
	    "and not rotated yet.\n# TYPE airlock_secrets_exposed gauge\n"
	    "airlock_secrets_exposed %zu\n", exposed);
	if (rc == 0)
		rc = per_secret(o, list, n, "airlock_exposure_revoke_seconds",
		    "Latest exposure of the secret to its last lease ended.",
		    BROKER_EXPOSURE_REVOKE_MS);
	if (rc == 0)
		rc = per_secret(o, list, n, "airlock_exposure_rotate_seconds",
		    "Latest exposure of the secret to its new version.",
		    BROKER_EXPOSURE_ROTATE_MS);
	vault_meta_list_free(list, n);
	return rc ? AL_ETOOBIG : 0;
}

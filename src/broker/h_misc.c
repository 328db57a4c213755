/* /v1/health, /metrics, /v1/secrets (metadata only) and /v1/audit. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_int.h"
#include "engine_glue.h"

/*
 * Always 200 while the broker answers (clients start a broker when health
 * fails); "status" says whether it can work: "unavailable" while the audit
 * log cannot be written, with "audit" saying since when and why.
 */
void
h_health(struct route_args *a)
{
	struct broker *b = a->b;
	char since[AUDIT_TIME_LEN];
	json_t *audit;

	(void)audit_try_recover(b);
	if (b->audit_failed) {
		audit_format_time(b->audit_failed_since, since);
		/* A path in the message need not be UTF-8: then left out. */
		audit = json_pack("{s:b,s:s,s:I,s:o*,s:I}", "writable", 0,
		    "since", since, "since_unix", (json_int_t)(
		    b->audit_failed_since / 1000), "error",
		    json_string(b->audit_error), "refused",
		    (json_int_t)b->audit_refused);
	} else
		audit = json_pack("{s:b}", "writable", 1);
	reply_json(a->resp, 200, json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:o,"
	    "s:s,s:s?}",
	    "status", b->audit_failed ? "unavailable" : "ok", "version",
	    AIRLOCK_VERSION, "pid",
	    (json_int_t)getpid(), "uptime", (json_int_t)(b->clock->now(
	    b->clock->arg) - b->started), "leases",
	    (json_int_t)lease_count_live(b->leases), "approvals",
	    (json_int_t)approval_count_pending(&b->approvals), "policy_rules",
	    (json_int_t)policy_nrules(b->policy), "audit", audit,
	    "policy_sha256", b->policy_sha256, "policy_error",
	    b->policy_error[0] ? b->policy_error : NULL));
}

/*
 * POST /v1/policy/reload: read the policy file now.  A bad file is
 * refused (the policy in force stays), audited, and said in the reply.
 */
void
h_policy_reload(struct route_args *a)
{
	struct broker *b = a->b;
	struct al_err err;
	int rc;

	al_err_clear(&err);
	rc = broker_reload_policy(b, &err);
	reply_json(a->resp, 200, json_pack("{s:b,s:s,s:I,s:s,s:s?}", "ok",
	    rc == 0, "path", b->policy_path, "rules",
	    (json_int_t)policy_nrules(b->policy), "policy_sha256",
	    b->policy_sha256, "error", rc == 0 ? NULL : b->policy_error));
	a->resp->need_sync = b->dirty;
}

void
h_metrics(struct route_args *a)
{
	struct broker *b = a->b;

	(void)broker_tick(b);
	al_buf_reset(&a->resp->body);
	if (metrics_render(&b->metrics, lease_count_live(b->leases),
	    approval_count_pending(&b->approvals), b->connections,
	    &a->resp->body) != 0 || eng_metrics(b, &a->resp->body) != 0 ||
	    metrics_render_guard(&b->guard_metrics, &a->resp->body) != 0 ||
	    exposure_metrics(b, &a->resp->body) != 0) {
		reply_error(a->resp, 500, API_E_INTERNAL, "metrics too large");
		return;
	}
	a->resp->status = 200;
	a->resp->content_type = API_CT_METRICS;
	a->resp->need_sync = b->dirty;
}

void
h_secrets_list(struct route_args *a)
{
	struct broker *b = a->b;
	struct vault_meta *list = NULL;
	struct al_err err;
	json_t *arr;
	size_t n = 0, i;
	int64_t now = b->clock->now(b->clock->arg);

	if (vault_secret_list(b->vault, &list, &n, &err) != 0) {
		reply_al_err(a->resp, &err);
		return;
	}
	if ((arr = json_array()) != NULL)
		for (i = 0; i < n; i++)
			json_array_append_new(arr,
			    vault_meta_json(&list[i], now));
	vault_meta_list_free(list, n);
	reply_json(a->resp, 200, json_pack("{s:o}", "secrets", arr));
}

void
h_secret_show(struct route_args *a)
{
	struct broker *b = a->b;
	struct vault_meta m;
	struct al_err err;
	char fp[NAME_FP_LEN + 1];

	memset(&m, 0, sizeof(m));
	if (vault_name_check(a->param, &err) != 0 ||
	    vault_secret_get(b->vault, a->param, &m, &err) != 0) {
		if (err.code == AL_ENOENT)
			name_unknown(b, a->param, &err, fp);
		reply_al_err(a->resp, &err);
		return;
	}
	reply_json(a->resp, 200, json_pack("{s:o}", "secret",
	    vault_meta_json(&m, b->clock->now(b->clock->arg))));
	vault_meta_release(&m);
}

/* The last n matching lines, kept in a ring while the log is read. */
struct tail {
	json_t	**ring;
	size_t	  n;
	size_t	  count;
};

static int
tail_one(void *arg, const struct audit_entry *e)
{
	struct tail *t = arg;
	size_t slot = t->count % t->n;

	json_decref(t->ring[slot]);
	t->ring[slot] = json_incref((json_t *)e->obj);
	t->count++;
	return 0;
}

void
h_audit_tail(struct route_args *a)
{
	struct broker *b = a->b;
	struct audit_filter f;
	struct tail t = { NULL, 50, 0 };
	struct al_err err;
	char num[16], task[API_TEXT_MAX + 1], secret[VAULT_NAME_MAX + 1];
	char lease[LEASE_ID_LEN + 1];
	long long v;
	json_t *arr = NULL;
	size_t i, first, have;
	int rc;

	if (!caller_is_owner(b, a->req->caller)) {
		reply_error(a->resp, 403, API_E_FORBIDDEN, "only the broker's "
		    "owner may read the audit log");
		return;
	}
	memset(&f, 0, sizeof(f));
	if (query_get(a->req->query, "n", num, sizeof(num)) == 0) {
		if (al_parse_int(num, 1, API_TAIL_MAX, "n", &v, &err) != 0) {
			reply_al_err(a->resp, &err);
			return;
		}
		t.n = (size_t)v;
	}
	/* Filter values are compared, never echoed; no decoding needed. */
	if (query_get(a->req->query, "task", task, sizeof(task)) == 0)
		f.task = task;
	if (query_get(a->req->query, "secret", secret, sizeof(secret)) == 0)
		f.secret = secret;
	if (query_get(a->req->query, "lease", lease, sizeof(lease)) == 0)
		f.lease = lease;
	if ((t.ring = calloc(t.n, sizeof(*t.ring))) == NULL) {
		reply_error(a->resp, 500, API_E_INTERNAL, "out of memory");
		return;
	}
	rc = audit_read(b->audit_path, &f, tail_one, &t, NULL, &err);
	if (rc != 0 && rc != AL_ENOENT) {
		reply_al_err(a->resp, &err);
		goto out;
	}
	arr = json_array();
	have = t.count < t.n ? t.count : t.n;
	first = t.count < t.n ? 0 : t.count % t.n;
	for (i = 0; arr != NULL && i < have; i++)
		json_array_append(arr, t.ring[(first + i) % t.n]);
	reply_json(a->resp, 200, json_pack("{s:o}", "events", arr));
out:
	for (i = 0; i < t.n; i++)
		json_decref(t.ring[i]);
	free(t.ring);
}

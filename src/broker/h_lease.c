/*
 * /v1/leases: create (policy decides), list, show, use (the value), revoke.
 * Each handler: validate -> decide -> act -> audit -> reply; the transport
 * holds every reply that releases a value or ends a lease until its audit
 * lines are durable (need_sync); a grant is answered at once (see
 * h_lease_create).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "airlock/engine.h"
#include "broker_int.h"
#include "engine_glue.h"

/* The uid encoded in a holder ("uid=U,..."), or -1. */
static long long
holder_uid(const char *holder)
{
	char *end;
	long long v;

	if (strncmp(holder, "uid=", 4) != 0)
		return -1;
	v = strtoll(holder + 4, &end, 10);
	return (*end == ',' || *end == '\0') ? v : -1;
}

/* May c see and revoke l?  The owner may; others only their own uid's. */
static int
may_manage(const struct broker *b, const struct broker_caller *c,
    const struct lease *l)
{
	return caller_is_owner(b, c) || holder_uid(l->holder) ==
	    (long long)c->uid;
}

/* May c take l's value?  Its connection, or the very holder process. */
static int
is_holder(const struct broker_caller *c, const struct lease *l)
{
	if (l->conn != 0)
		return c->conn == l->conn;
	return strcmp(c->holder, l->holder) == 0;
}

static void	release_value(struct route_args *a, json_t *who,
		    struct lease *l);

/* Fields of a lease request, validated. */
struct create_req {
	const char	*secret;
	const char	*task;
	const char	*intent;
	json_int_t	 ttl;
	json_int_t	 uses;
	int		 bind;
	int		 with_value;
};

static int
parse_create(json_t *body, struct create_req *q, char *msg, size_t msgsz)
{
	const char *key;
	json_t *v;

	memset(q, 0, sizeof(*q));
	q->task = q->intent = "";
	json_object_foreach(body, key, v) {
		if (strcmp(key, API_F_SECRET) == 0 && json_is_string(v))
			q->secret = json_string_value(v);
		else if (strcmp(key, API_F_TASK) == 0 && json_is_string(v))
			q->task = json_string_value(v);
		else if (strcmp(key, API_F_INTENT) == 0 && json_is_string(v))
			q->intent = json_string_value(v);
		else if (strcmp(key, API_F_TTL) == 0 && json_is_integer(v))
			q->ttl = json_integer_value(v);
		else if (strcmp(key, API_F_USES) == 0 && json_is_integer(v))
			q->uses = json_integer_value(v);
		else if (strcmp(key, API_F_BIND) == 0 && json_is_boolean(v))
			q->bind = json_is_true(v);
		else if (strcmp(key, API_F_WITH_VALUE) == 0 &&
		    json_is_boolean(v))
			q->with_value = json_is_true(v);
		else if (strcmp(key, API_F_SECRET) == 0 ||
		    strcmp(key, API_F_TASK) == 0 ||
		    strcmp(key, API_F_INTENT) == 0 ||
		    strcmp(key, API_F_TTL) == 0 ||
		    strcmp(key, API_F_USES) == 0 ||
		    strcmp(key, API_F_BIND) == 0 ||
		    strcmp(key, API_F_WITH_VALUE) == 0) {
			(void)snprintf(msg, msgsz, "field '%s' has the wrong "
			    "type", key);
			return -1;
		} else {
			(void)snprintf(msg, msgsz, "unknown field '%.64s' "
			    "(see docs/api.md)", key);
			return -1;
		}
	}
	if (q->secret == NULL) {
		(void)snprintf(msg, msgsz, "field 'secret' is required");
		return -1;
	}
	if (!text_ok(q->task) || !text_ok(q->intent)) {
		(void)snprintf(msg, msgsz, "'task' and 'intent' must be at most "
		    "%d printable bytes", API_TEXT_MAX);
		return -1;
	}
	if (q->ttl < 0 || q->ttl > POLICY_MAX_TTL_MAX) {
		(void)snprintf(msg, msgsz, "'ttl' must be between 1 and %d "
		    "seconds", POLICY_MAX_TTL_MAX);
		return -1;
	}
	if (q->uses < 0 || q->uses > POLICY_MAX_USES_MAX) {
		(void)snprintf(msg, msgsz, "'uses' must be between 0 (the "
		    "rule's limit) and %d", POLICY_MAX_USES_MAX);
		return -1;
	}
	return 0;
}

/* Clip what was asked to what the rule allows. */
static void
clip(const struct create_req *q, const struct policy_decision *d,
    int64_t *ttl, int *uses)
{
	*ttl = q->ttl > 0 ? q->ttl : LEASE_TTL_DEFAULT;
	if (d->max_ttl > 0 && *ttl > d->max_ttl)
		*ttl = d->max_ttl;
	if (d->max_uses == 0)
		*uses = q->uses > 0 ? (int)q->uses : LEASE_USES_UNLIMITED;
	else
		*uses = q->uses > 0 && q->uses < d->max_uses ? (int)q->uses :
		    d->max_uses;
}

static void
deny(struct route_args *a, json_t *who, const struct create_req *q,
    const char *reason, const char *rule, int line)
{
	struct broker *b = a->b;
	struct al_err err;
	json_t *detail = json_pack("{s:s,s:i}", "rule", rule, "rule_line",
	    line);

	b->metrics.denials++;
	if (record(b, "deny", "denied", who, q->secret, NULL, q->task,
	    q->intent, reason, NULL, detail, &err) != 0) {
		reply_al_err(a->resp, &err);
	} else {
		reply_json(a->resp, 403, json_pack("{s:{s:s,s:s,s:s,s:i}}",
		    API_F_ERROR, API_F_CODE, API_E_DENIED, API_F_MESSAGE,
		    reason, API_F_RULE, rule, "rule_line", line));
		a->resp->need_sync = 1;
	}
	json_decref(detail);
}

static void
pending(struct route_args *a, json_t *who, const struct create_req *q,
    const struct policy_decision *d, int64_t ttl, int uses)
{
	struct broker *b = a->b;
	const struct broker_caller *c = a->req->caller;
	struct approval *ap;
	unsigned char raw[16];
	struct al_err err;
	int64_t now = b->clock->now(b->clock->arg);
	pid_t ppid;

	if ((ap = calloc(1, sizeof(*ap))) == NULL) {
		reply_error(a->resp, 500, API_E_INTERNAL, "out of memory");
		return;
	}
	randombytes_buf(raw, sizeof(raw));
	al_hex(raw, sizeof(raw), ap->id);
	(void)snprintf(ap->secret, sizeof(ap->secret), "%s", q->secret);
	(void)snprintf(ap->task, sizeof(ap->task), "%s", q->task);
	(void)snprintf(ap->intent, sizeof(ap->intent), "%s", q->intent);
	(void)snprintf(ap->holder, sizeof(ap->holder), "%s", c->holder);
	ap->ttl = ttl;
	ap->uses = uses;
	ap->bind = q->bind;
	ap->conn = c->conn;
	ap->uid = c->uid;
	ap->pid = c->pid;
	/* Unknown (-1) fails closed when someone approves. */
	(void)approval_proc_stat(c->pid, &ppid, &ap->sid, &ap->tty);
	ap->caller = json_incref(who);
	ap->decision = *d;
	ap->created = now;
	ap->expires = now + API_APPROVAL_TTL;
	ap->state = APPROVAL_PENDING;
	if (approval_add(&b->approvals, ap) != 0) {
		json_decref(ap->caller);
		free(ap);
		reply_error(a->resp, 500, API_E_INTERNAL, "out of memory");
		return;
	}
	b->metrics.approvals_requested++;
	if (record(b, "approval_pending", "pending", who, q->secret, NULL,
	    q->task, q->intent, d->rule, NULL, NULL, &err) != 0) {
		ap->state = APPROVAL_CANCELLED;
		ap->decided = now;
		reply_al_err(a->resp, &err);
		return;
	}
	broker_log(b, "approval %s pending for secret %s (rule %s)", ap->id,
	    ap->secret, d->rule);
	reply_json(a->resp, 202, json_pack("{s:o}", API_F_APPROVAL,
	    approval_json(ap)));
	a->resp->need_sync = 1;
	a->resp->hold_conn = q->bind;
}

void
h_lease_create(struct route_args *a)
{
	struct broker *b = a->b;
	const struct broker_caller *c = a->req->caller;
	struct vault_meta m;
	struct policy_decision d;
	struct create_req q;
	struct lease_spec spec;
	struct lease l;
	struct al_err err;
	json_t *who = caller_json(c), *detail = NULL;
	enum vault_status st;
	char msg[160], reason[POLICY_REASON_MAX + POLICY_MSG_MAX + 4];
	char fp[NAME_FP_LEN + 1];
	int64_t ttl;
	int uses;

	memset(&m, 0, sizeof(m));
	if (parse_create(a->body, &q, msg, sizeof(msg)) != 0) {
		reply_error(a->resp, 400, API_E_BAD_REQUEST, msg);
		goto out;
	}
	/* Before anything records them. */
	if (text_guard(a, API_F_TASK, q.task) != 0 ||
	    text_guard(a, API_F_INTENT, q.intent) != 0)
		goto out;
	if (vault_name_check(q.secret, &err) != 0) {
		reply_al_err(a->resp, &err);
		goto out;
	}
	if (vault_secret_get(b->vault, q.secret, &m, &err) != 0) {
		if (err.code == AL_ENOENT) {
			/* Maybe a value typed as a name: never logged. */
			struct create_req anon = q;

			name_unknown(b, q.secret, &err, fp);
			anon.secret = NULL;
			deny(a, who, &anon, err.msg, "", 0);
		} else
			reply_al_err(a->resp, &err);
		goto out;
	}
	/* A decision, too, is about the caller as it is now. */
	if (c->recheck != NULL && c->recheck(c->recheck_arg, &err) != 0) {
		json_decref(who);
		who = caller_json(c);
		deny(a, who, &q, err.msg, "", 0);
		goto out;
	}
	json_decref(who);
	who = caller_json(c);
	st = vault_meta_status(&m, b->clock->now(b->clock->arg));
	if (st == VAULT_EXPOSED) {
		const char *since = vault_meta_label(&m, BROKER_EXPOSED_SINCE);

		(void)snprintf(msg, sizeof(msg), "secret '%s' is exposed%s%s: "
		    "rotate it", m.name, since ? " since " : "",
		    since ? since : "");
		deny(a, who, &q, msg, "", 0);
		goto out;
	}
	if (st != VAULT_ACTIVE) {
		(void)snprintf(msg, sizeof(msg), "secret '%s' is %s: rotate or "
		    "re-activate it before leasing", m.name,
		    vault_status_name(st));
		deny(a, who, &q, msg, "", 0);
		goto out;
	}
	if (decide(b, c, &m, q.task, q.intent, &d) != 0) {
		reply_error(a->resp, 500, API_E_INTERNAL, "policy evaluation "
		    "failed");
		goto out;
	}
	/*
	 * Looked up by decide when the policy needs it, and for a dynamic
	 * secret, whose engine may limit its credential to the repository
	 * (github-app): record it too.
	 */
	if (c->repo == NULL && c->find_repo != NULL &&
	    vault_meta_label(&m, ENGINE_L_ENGINE) != NULL)
		(void)c->find_repo(c->find_repo_arg);
	if (c->repo != NULL && who != NULL &&
	    json_object_get(who, "repo") == NULL)
		json_object_set_new(who, "repo", json_string(c->repo));
	if (d.effect == POLICY_DENY) {
		/* Say what could not be read when that decided. */
		if (d.unknown[0] != '\0' && snprintf(reason, sizeof(reason),
		    "%s (%s)", d.reason, d.unknown) < (int)sizeof(reason))
			deny(a, who, &q, reason, d.rule, d.line);
		else
			deny(a, who, &q, d.reason, d.rule, d.line);
		goto out;
	}
	clip(&q, &d, &ttl, &uses);
	if (d.effect == POLICY_APPROVAL) {
		pending(a, who, &q, &d, ttl, uses);
		goto out;
	}
	memset(&spec, 0, sizeof(spec));
	spec.secret = q.secret;
	spec.holder = c->holder;
	spec.task = q.task;
	spec.intent = q.intent;
	spec.ttl = ttl;
	spec.max_uses = uses;
	spec.conn = q.bind ? c->conn : 0;
	if (lease_issue(b->leases, &spec, &l, &err) != 0) {
		reply_al_err(a->resp, &err);
		goto out;
	}
	detail = json_pack("{s:s,s:i,s:I,s:i,s:b}", "rule", d.rule,
	    "rule_line", d.line, "ttl", (json_int_t)ttl, "uses", uses,
	    "bound", q.bind);
	if (record(b, "grant", "ok", who, l.secret, l.id, l.task, l.intent,
	    NULL, NULL, detail, &err) != 0) {
		/* Unaudited, so it never existed: end it at once. */
		if (lease_revoke(b->leases, l.id, LEASE_REVOKED, &l, NULL))
			broker_log(b, "cannot end lease %s", l.id);
		reply_al_err(a->resp, &err);
		goto out;
	}
	b->metrics.grants++;
	a->resp->hold_conn = q.bind;
	reply_json(a->resp, 201, json_pack("{s:o,s:s,s:s}", API_F_LEASE,
	    lease_json(&l), API_F_RULE, d.rule, API_F_USE, d.use_proxy ?
	    "proxy" : "any"));
	/*
	 * Not held for the sync: a grant releases no value, and the lines
	 * are synced in order, so the first use of this lease (held until
	 * its own line is durable) makes the grant line durable too.  A
	 * crash before that loses a lease nobody used: it never existed.
	 * The loop syncs it with that use, or within SYNC_DELAY_MS.
	 */
	a->resp->need_sync = 0;
	/*
	 * Asked for with the grant: the value, in place of the reply above.
	 * The caller was identified and decided on in this request, just
	 * now: that is the decision on this release, as at a later use.  A
	 * secret the rule keeps behind the proxy keeps the reply above
	 * ("use": "proxy"), with no use taken.
	 */
	if (q.with_value && !d.use_proxy)
		release_value(a, who, &l);
out:
	json_decref(detail);
	json_decref(who);
	vault_meta_release(&m);
}

struct list_ctx {
	const struct broker		*b;
	const struct broker_caller	*c;
	json_t				*arr;
};

static int
list_one(const struct lease *l, void *arg)
{
	struct list_ctx *x = arg;

	if (may_manage(x->b, x->c, l))
		json_array_append_new(x->arr, lease_json(l));
	return 0;
}

/* Most leases one request may wait on (as many as a run binds). */
#define WATCH_IDS_MAX	64

/* Why l ended as the broker noted it, or in words of its state. */
static const char *
end_reason(const struct broker *b, const struct lease *l)
{
	uint64_t k;

	for (k = b->nends; k > 0 && b->nends - k < BROKER_ENDS_KEPT; k--) {
		const struct lease_end_note *e =
		    &b->ends[(k - 1) % BROKER_ENDS_KEPT];

		if (strcmp(e->id, l->id) == 0 && e->reason[0] != '\0')
			return e->reason;
	}
	switch (l->state) {
	case LEASE_EXPIRED:	return "the lease expired";
	case LEASE_IDLE:	return "the lease idled past its limit";
	case LEASE_REVOKED:	return "revoked";
	case LEASE_CLOSED:	return "its connection closed";
	case LEASE_RESTARTED:	return "the broker restarted";
	default:		return lease_state_name(l->state);
	}
}

/*
 * Whether l no longer lets its holder use the value: it left the live
 * state, except by its last use (the holder took what it uses), unless its
 * secret is now exposed.  *why says why.
 */
static int
lease_over(struct broker *b, const struct lease *l, const char **why)
{
	struct vault_meta m;
	struct al_err err;
	int over;

	*why = NULL;
	if (l->state == LEASE_LIVE)
		return 0;
	if (l->state != LEASE_USED_UP) {
		*why = end_reason(b, l);
		return 1;
	}
	memset(&m, 0, sizeof(m));
	/* Unreadable counts as exposed: fail closed. */
	over = vault_secret_get(b->vault, l->secret, &m, &err) != 0 ||
	    vault_meta_status(&m, b->clock->now(b->clock->arg)) ==
	    VAULT_EXPOSED;
	vault_meta_release(&m);
	if (over)
		*why = "the secret is exposed";
	return over;
}

int
broker_lease_wait_over(struct broker *b, const char *query, uint64_t *seq)
{
	char ids[WATCH_IDS_MAX * (LEASE_ID_LEN + 1) + 1];
	const struct lease_end_note *e;
	uint64_t k;

	if (*seq == b->nends)
		return 0;
	if (b->nends - *seq > BROKER_ENDS_KEPT ||
	    query_get(query, "ids", ids, sizeof(ids)) != 0)
		return 1;	/* look again */
	for (k = *seq; k < b->nends; k++) {
		e = &b->ends[k % BROKER_ENDS_KEPT];
		if (e->id[0] == '\0' || strstr(ids, e->id) != NULL)
			return 1;
	}
	*seq = b->nends;
	return 0;
}

/*
 * GET /v1/leases?ids=A,B[&wait=S]: those leases as they are now, each with
 * "reason" (why it ended, or null while its holder may use it); with wait,
 * the reply waits up to S seconds while every one of them is in use.
 */
static void
lease_watch(struct route_args *a, const char *ids)
{
	struct broker *b = a->b;
	struct lease l;
	struct al_err err;
	json_t *arr = json_array(), *o;
	const char *p, *why;
	char id[LEASE_ID_LEN + 1], wait[16];
	long long secs = 0;
	size_t n, count = 0;
	int ended = 0;

	if (query_get(a->req->query, "wait", wait, sizeof(wait)) == 0 &&
	    al_parse_int(wait, 0, API_WAIT_MAX, "wait", &secs, NULL) != 0) {
		reply_error(a->resp, 400, API_E_BAD_REQUEST, "'wait' must be 0 "
		    "to 60 seconds");
		goto out;
	}
	(void)broker_tick(b);
	for (p = ids; arr != NULL; p += n + 1) {
		n = strcspn(p, ",");
		if (n != LEASE_ID_LEN || ++count > WATCH_IDS_MAX) {
			reply_error(a->resp, 400, API_E_BAD_REQUEST, "'ids' must "
			    "be 1 to 64 lease ids, separated by commas");
			goto out;
		}
		memcpy(id, p, n);
		id[n] = '\0';
		if (!lease_id_valid(id) || lease_get(b->leases, id, &l,
		    &err) != 0 || !may_manage(b, a->req->caller, &l)) {
			reply_error(a->resp, 404, API_E_NOT_FOUND, "no such "
			    "lease");
			goto out;
		}
		ended |= lease_over(b, &l, &why);
		if ((o = lease_json(&l)) != NULL)
			json_object_set_new(o, API_F_REASON, why ?
			    json_string(why) : json_null());
		json_array_append_new(arr, o);
		if (p[n] == '\0')
			break;
	}
	if (arr == NULL) {
		reply_error(a->resp, 500, API_E_INTERNAL, "out of memory");
		goto out;
	}
	if (!ended && secs > 0 && !a->req->no_wait) {
		/* The transport parks the request and looks again. */
		a->resp->wait_until_ms = b->clock->now_ms(b->clock->arg) +
		    secs * 1000;
		a->resp->wait_leases = 1;
		a->resp->wait_seq = b->nends;
		a->resp->status = 0;
		goto out;
	}
	reply_json(a->resp, 200, json_pack("{s:O}", API_F_LEASES, arr));
	a->resp->need_sync = b->dirty;
out:
	json_decref(arr);
}

void
h_lease_list(struct route_args *a)
{
	struct list_ctx x = { a->b, a->req->caller, json_array() };
	struct al_err err;
	char ids[WATCH_IDS_MAX * (LEASE_ID_LEN + 1) + 1], w[16];

	if (query_get(a->req->query, "ids", ids, sizeof(ids)) == 0) {
		json_decref(x.arr);
		lease_watch(a, ids);
		return;
	}
	if (a->req->query != NULL && a->req->query[0] != '\0') {
		json_decref(x.arr);
		reply_error(a->resp, 400, API_E_BAD_REQUEST, query_get(
		    a->req->query, "wait", w, sizeof(w)) == 0 ? "'wait' "
		    "needs 'ids'" : "'ids' must be 1 to 64 lease ids, "
		    "separated by commas");
		return;
	}

	/* Sweep first so nothing overdue is listed as live. */
	(void)broker_tick(a->b);
	if (x.arr == NULL || lease_list(a->b->leases, "", list_one, &x,
	    &err) != 0) {
		json_decref(x.arr);
		reply_error(a->resp, 500, API_E_INTERNAL, "cannot list leases");
		return;
	}
	if (caller_is_owner(a->b, a->req->caller))
		eng_list(a->b, x.arr);
	reply_json(a->resp, 200, json_pack("{s:o}", API_F_LEASES, x.arr));
	a->resp->need_sync = a->b->dirty;
}

/* Find a lease the caller may see; replies and returns -1 if not. */
static int
find(struct route_args *a, struct lease *l)
{
	struct al_err err;

	/*
	 * Swept first: a lease past its deadline is ended by the sweep,
	 * audited and told to whoever waits on it, not quietly by the read.
	 */
	(void)broker_tick(a->b);
	if (lease_get(a->b->leases, a->param, l, &err) != 0) {
		reply_al_err(a->resp, &err);
		return -1;
	}
	if (!may_manage(a->b, a->req->caller, l)) {
		/* Someone else's lease is as good as unknown. */
		reply_error(a->resp, 404, API_E_NOT_FOUND, "no such lease");
		return -1;
	}
	return 0;
}

void
h_lease_get(struct route_args *a)
{
	struct lease l;

	if (find(a, &l) != 0)
		return;
	reply_json(a->resp, 200, json_pack("{s:o}", API_F_LEASE,
	    lease_json(&l)));
	a->resp->need_sync = a->b->dirty;
}

/* Refuse a use: audited, then 403 with why. */
static void
refuse_use(struct route_args *a, json_t *who, const struct lease *l,
    const char *why)
{
	struct al_err err;

	if (record(a->b, "use", "refused", who, l->secret, l->id, l->task,
	    l->intent, why, NULL, NULL, &err) != 0) {
		reply_al_err(a->resp, &err);
		return;
	}
	reply_error(a->resp, 403, API_E_FORBIDDEN, why);
	a->resp->need_sync = 1;
}

/*
 * The value goes to a caller identified once more, now: the process that
 * connected, still running the program it ran, alone on its connection
 * (recheck, from the transport), and one the policy still lets have the
 * secret with what it is now (a library mapped since, a tracer attached).
 * 0 with that decision in *dp, or the reply is made and -1.
 */
static int
release_check(struct route_args *a, json_t *who, const struct lease *l,
    struct policy_decision *dp)
{
	const struct broker_caller *c = a->req->caller;
	struct vault_meta m;
	struct policy_decision d;
	struct al_err err;
	char why[POLICY_REASON_MAX + POLICY_MSG_MAX + 64];
	int rc = -1;

	memset(&m, 0, sizeof(m));
	if (c->recheck != NULL && c->recheck(c->recheck_arg, &err) != 0) {
		refuse_use(a, who, l, err.msg);
		return -1;
	}
	if (vault_secret_get(a->b->vault, l->secret, &m, &err) != 0) {
		reply_al_err(a->resp, &err);
		goto out;
	}
	if (decide(a->b, c, &m, l->task, l->intent, &d) != 0) {
		reply_error(a->resp, 500, API_E_INTERNAL, "policy evaluation "
		    "failed");
		goto out;
	}
	if (d.effect == POLICY_DENY) {
		if (snprintf(why, sizeof(why), "the caller no longer passes "
		    "the policy: %s%s%s", d.reason, d.unknown[0] ? "; " : "",
		    d.unknown) >= (int)sizeof(why))
			(void)snprintf(why, sizeof(why), "the caller no longer "
			    "passes the policy (rule '%s')", d.rule);
		refuse_use(a, who, l, why);
		goto out;
	}
	*dp = d;
	rc = 0;
out:
	vault_meta_release(&m);
	return rc;
}

/* Reply with value (taken) as the use of l, audited. */
static void
use_reply(struct broker *b, struct broker_resp *resp, const struct lease *l,
    json_t *who, struct al_secret **value)
{
	struct al_err err;
	char fp[AUDIT_FP_HEX];
	json_t *detail;

	if (audit_fingerprint(b->audit, *value, fp) != 0) {
		reply_error(resp, 500, API_E_INTERNAL, "cannot fingerprint "
		    "the value");
		return;
	}
	detail = json_pack("{s:i,s:o}", "uses", l->uses, "uses_left",
	    l->max_uses == LEASE_USES_UNLIMITED ? json_null() :
	    json_integer(l->max_uses - l->uses));
	if (record(b, "use", "ok", who, l->secret, l->id, l->task, l->intent,
	    l->state == LEASE_USED_UP ? "last use" : NULL, fp, detail,
	    &err) != 0) {
		json_decref(detail);
		reply_al_err(resp, &err);
		return;
	}
	json_decref(detail);
	b->metrics.uses++;
	if (l->state == LEASE_USED_UP)
		b->metrics.expirations++;
	al_buf_reset(&resp->body);
	resp->status = 200;
	resp->content_type = API_CT_VALUE;
	resp->value = *value;
	*value = NULL;
	(void)snprintf(resp->value_lease, sizeof(resp->value_lease), "%s",
	    l->id);
	resp->need_sync = 1;
}

void
broker_job_finish(struct broker *b, struct broker_resp *resp)
{
	struct eng_job *j = resp->job;
	struct al_secret *value = NULL;
	struct lease l = *eng_job_lease(j);
	json_t *who = json_incref(eng_job_who(j));
	struct al_err err;

	resp->job = NULL;
	resp->status = 500;
	if (eng_value_finish(b, j, &value, &err) != 0)
		reply_al_err(resp, &err);
	else
		use_reply(b, resp, &l, who, &value);
	if (resp->status >= 400 && resp->status != 403)
		b->metrics.errors++;
	al_secret_free(value);
	json_decref(who);
}

/*
 * One use of l, decided on: the value read, the use counted, minted (off
 * the loop: broker_job_finish replies) or answered at once.
 */
static void
release_value(struct route_args *a, json_t *who, struct lease *l)
{
	struct broker *b = a->b;
	struct al_secret *value = NULL;
	struct vault_meta m;
	struct al_err err;

	memset(&m, 0, sizeof(m));
	/* Read first: a vault failure must not cost a use. */
	if (vault_secret_read(b->vault, l->secret, &value, &m, &err) != 0) {
		if (record(b, "use", "error", who, l->secret, l->id, l->task,
		    l->intent, err.msg, NULL, NULL, NULL) != 0)
			broker_log(b, "cannot audit a failed use");
		reply_al_err(a->resp, &err);
		a->resp->need_sync = 1;
		goto out;
	}
	if (lease_use(b->leases, l->id, l, &err) != 0 ||
	    eng_value_start(b, l, &m, who, &value, &a->resp->job,
	    &err) != 0) {
		reply_al_err(a->resp, &err);
		goto out;
	}
	if (a->resp->job != NULL) {
		a->resp->status = 0;
		goto out;
	}
	use_reply(b, a->resp, l, who, &value);
out:
	al_secret_free(value);
	vault_meta_release(&m);
}

void
h_lease_value(struct route_args *a)
{
	struct broker *b = a->b;
	const struct broker_caller *c = a->req->caller;
	struct policy_decision d;
	struct lease l;
	struct al_err err;
	json_t *who = caller_json(c);

	if (find(a, &l) != 0)
		goto out;
	if (l.state != LEASE_LIVE) {
		reply_error(a->resp, 410, API_E_ENDED, l.state ==
		    LEASE_USED_UP ? "the lease's uses are used up" :
		    "the lease has ended");
		goto out;
	}
	if (!is_holder(c, &l)) {
		if (record(b, "use", "refused", who, l.secret, l.id, l.task,
		    l.intent, "not the holder", NULL, NULL, &err) != 0) {
			reply_al_err(a->resp, &err);
			goto out;
		}
		reply_error(a->resp, 403, API_E_FORBIDDEN, l.conn ? "this lease "
		    "is bound to another connection" : "only the process that "
		    "holds a lease may use it");
		a->resp->need_sync = 1;
		goto out;
	}
	/* The one decision on this release: and through the proxy only? */
	if (release_check(a, who, &l, &d) != 0 ||
	    proxy_use_only(a, &l, who, &d))
		goto out;
	release_value(a, who, &l);
out:
	json_decref(who);
}

void
h_lease_revoke(struct route_args *a)
{
	struct broker *b = a->b;
	struct lease l;
	struct al_err err;
	json_t *who;

	if (find(a, &l) != 0)
		return;
	eng_lease_revoked(b, &l);
	if (lease_revoke(b->leases, l.id, LEASE_REVOKED, &l, &err) != 0) {
		reply_al_err(a->resp, &err);
		return;
	}
	who = caller_json(a->req->caller);
	b->metrics.revocations++;
	/*
	 * A revocation takes effect even when the audit log cannot be
	 * written (it only takes access away): its line is then kept and
	 * written as soon as the log works again.
	 */
	record_fact(b, "revoke", "ok", who, l.secret, l.id, l.task, l.intent,
	    "revoked by request", NULL);
	reply_json(a->resp, 200, json_pack("{s:o}", API_F_LEASE,
	    lease_json(&l)));
	a->resp->need_sync = !b->audit_failed;
	json_decref(who);
}

int
lease_ids_push(struct lease_ids *x, const char *id)
{
	void *p;

	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 16;
		if ((p = realloc(x->v, x->cap * sizeof(*x->v))) == NULL)
			return AL_ENOMEM;
		x->v = p;
	}
	memcpy(x->v[x->n++], id, LEASE_ID_LEN + 1);
	return 0;
}

struct task_ctx {
	const struct broker		*b;
	const struct broker_caller	*c;
	const char			*task;
	struct lease_ids		 ids;
};

static int
collect_task(const struct lease *l, void *arg)
{
	struct task_ctx *x = arg;

	if (strcmp(l->task, x->task) != 0 || !may_manage(x->b, x->c, l))
		return 0;
	return lease_ids_push(&x->ids, l->id);
}

void
h_lease_revoke_task(struct route_args *a)
{
	struct broker *b = a->b;
	struct task_ctx x = { b, a->req->caller, NULL, { NULL, 0, 0 } };
	json_t *t = json_object_get(a->body, API_F_TASK), *who = NULL;
	struct lease l;
	struct al_err err;
	size_t i, n = 0;

	if (json_object_size(a->body) != 1 || !json_is_string(t) ||
	    json_string_length(t) == 0 || !text_ok(json_string_value(t))) {
		reply_error(a->resp, 400, API_E_BAD_REQUEST, "the body must be "
		    "{\"task\": \"<task id>\"}");
		return;
	}
	x.task = json_string_value(t);
	if (text_guard(a, API_F_TASK, x.task) != 0)
		return;
	(void)broker_tick(b);
	if (lease_list(b->leases, "", collect_task, &x, &err) != 0) {
		reply_error(a->resp, 500, API_E_INTERNAL, "cannot list leases");
		goto out;
	}
	who = caller_json(a->req->caller);
	for (i = 0; i < x.ids.n; i++) {
		if (lease_revoke(b->leases, x.ids.v[i], LEASE_REVOKED, &l,
		    &err) != 0)
			continue;	/* ended meanwhile */
		eng_lease_revoked(b, &l);
		n++;
		b->metrics.revocations++;
		/* As in h_lease_revoke: kept when the log cannot be written. */
		record_fact(b, "revoke", "ok", who, l.secret, l.id, l.task,
		    l.intent, "task revoked", NULL);
	}
	reply_json(a->resp, 200, json_pack("{s:I,s:s}", API_F_REVOKED,
	    (json_int_t)n, API_F_TASK, x.task));
	a->resp->need_sync = !b->audit_failed;
out:
	json_decref(who);
	free(x.ids.v);
}

/*
 * /v1/approvals: requests a rule sent for approval.  The requester
 * long-polls its approval; an approver named by the rule approves or denies
 * it.  The approver is identified from the socket like everyone else, and a
 * process may never approve its own request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "broker_int.h"

#define PIN_DELAY_MAX	900	/* seconds between tries, at most */
/* Wrong PINs from all sessions before the overall back-off starts. */
#define PIN_TOTAL_FREE	32

/* 1 s, 2 s, 4 s ... for the n-th wrong PIN in a row, at most PIN_DELAY_MAX. */
static int64_t
pin_delay(unsigned n)
{
	int64_t d = n > 10 ? PIN_DELAY_MAX : 1LL << (n - 1);

	return d > PIN_DELAY_MAX ? PIN_DELAY_MAX : d;
}

/* The back-off of (uid, sid), or NULL when it has none. */
static struct pin_backoff *
pin_key_find(struct broker *b, uid_t uid, pid_t sid)
{
	size_t i;

	for (i = 0; i < b->npin_keys; i++)
		if (b->pin_keys[i].uid == uid && b->pin_keys[i].sid == sid)
			return &b->pin_keys[i];
	return NULL;
}

/*
 * A back-off for (uid, sid): a free slot, else the one idle longest whose
 * wait is over.  NULL when every slot still waits: then only the overall
 * back-off counts this session's wrong PINs.
 */
static struct pin_backoff *
pin_key_new(struct broker *b, uid_t uid, pid_t sid, int64_t now)
{
	struct pin_backoff *k = NULL;
	size_t i;

	if (b->npin_keys < BROKER_PIN_KEYS) {
		k = &b->pin_keys[b->npin_keys++];
	} else {
		for (i = 0; i < b->npin_keys; i++)
			if (b->pin_keys[i].retry_ms <= now && (k == NULL ||
			    b->pin_keys[i].last_ms < k->last_ms))
				k = &b->pin_keys[i];
		if (k == NULL)
			return NULL;
	}
	memset(k, 0, sizeof(*k));
	k->uid = uid;
	k->sid = sid;
	return k;
}

static void
pin_key_drop(struct broker *b, struct pin_backoff *k)
{
	size_t i = (size_t)(k - b->pin_keys);

	b->pin_keys[i] = b->pin_keys[--b->npin_keys];
}

/* May c see a? The owner, the requester's uid, or a possible approver. */
static int
may_see(const struct broker *b, const struct broker_caller *c,
    const struct approval *a)
{
	return caller_is_owner(b, c) || c->uid == a->uid ||
	    policy_approver_allowed(&a->decision, c->selectors,
	    c->nselectors, c->unknown, c->nunknown);
}

void
h_approvals_list(struct route_args *a)
{
	const struct broker_caller *c = a->req->caller;
	json_t *arr = json_array();
	char all[4];
	size_t i;
	int want_all;

	(void)broker_tick(a->b);
	want_all = query_get(a->req->query, "all", all, sizeof(all)) == 0 &&
	    strcmp(all, "1") == 0;
	for (i = 0; arr != NULL && i < a->b->approvals.n; i++) {
		const struct approval *ap = a->b->approvals.v[i];

		if ((want_all || ap->state == APPROVAL_PENDING) &&
		    may_see(a->b, c, ap))
			json_array_append_new(arr, approval_json(ap));
	}
	reply_json(a->resp, 200, json_pack("{s:o}", API_F_APPROVALS, arr));
	a->resp->need_sync = a->b->dirty;
}

static struct approval *
find(struct route_args *a)
{
	struct approval *ap = approval_find(&a->b->approvals, a->param);

	if (ap == NULL || !may_see(a->b, a->req->caller, ap)) {
		reply_error(a->resp, 404, API_E_NOT_FOUND, "no such approval "
		    "request (it may have expired: see `airlock approvals`)");
		return NULL;
	}
	return ap;
}

void
h_approval_get(struct route_args *a)
{
	struct broker *b = a->b;
	struct approval *ap;
	char wait[16];
	long long secs;

	(void)broker_tick(b);
	if ((ap = find(a)) == NULL)
		return;
	if (ap->state == APPROVAL_PENDING && !a->req->no_wait &&
	    query_get(a->req->query, "wait", wait, sizeof(wait)) == 0) {
		if (al_parse_int(wait, 0, API_WAIT_MAX, "wait", &secs,
		    NULL) != 0) {
			reply_error(a->resp, 400, API_E_BAD_REQUEST, "'wait' "
			    "must be 0 to 60 seconds");
			return;
		}
		if (secs > 0) {
			/* The transport parks the request and asks again. */
			a->resp->wait_until_ms = b->clock->now_ms(
			    b->clock->arg) + secs * 1000;
			if (a->resp->wait_until_ms > ap->expires * 1000)
				a->resp->wait_until_ms = ap->expires * 1000;
			memcpy(a->resp->wait_id, ap->id, sizeof(ap->id));
			a->resp->status = 0;
			return;
		}
	}
	reply_json(a->resp, 200, json_pack("{s:o}", API_F_APPROVAL,
	    approval_json(ap)));
	a->resp->need_sync = b->dirty;
}

/* Shared checks of approve and deny; replies and returns NULL if refused. */
static struct approval *
decidable(struct route_args *a, const char *verb)
{
	struct broker *b = a->b;
	const struct broker_caller *c = a->req->caller;
	struct approval *ap;
	struct al_err err;
	const char *tree;
	json_t *who;
	char msg[sizeof(err.msg)];

	(void)broker_tick(b);
	if ((ap = find(a)) == NULL)
		return NULL;
	if (ap->state != APPROVAL_PENDING) {
		(void)snprintf(msg, sizeof(msg), "request %s is already %s",
		    ap->id, approval_state_name(ap->state));
		reply_error(a->resp, 409, API_E_CONFLICT, msg);
		return NULL;
	}
	msg[0] = '\0';
	if (c->recheck != NULL && c->recheck(c->recheck_arg, &err) != 0)
		(void)snprintf(msg, sizeof(msg), "%s", err.msg);
	else if (c->pid == ap->pid || c->conn == ap->conn)
		(void)snprintf(msg, sizeof(msg), "a process cannot %s its own "
		    "request", verb);
	else if (!policy_approver_allowed(&ap->decision, c->selectors,
	    c->nselectors, c->unknown, c->nunknown))
		(void)snprintf(msg, sizeof(msg), "you are not an approver for "
		    "rule '%s' (see its approvers in `airlock approvals`)",
		    ap->decision.rule);
	else if (strcmp(verb, "approve") == 0 &&
	    (tree = approval_tree_refusal(ap, c->pid)) != NULL)
		(void)snprintf(msg, sizeof(msg), "%s", tree);
	if (msg[0] == '\0')
		return ap;
	who = caller_json(c);
	if (record(b, strcmp(verb, "approve") == 0 ? "approve" :
	    "deny_approval", "refused", who, ap->secret, NULL, ap->task,
	    ap->intent, msg, NULL, NULL, &err) != 0)
		reply_al_err(a->resp, &err);
	else
		reply_error(a->resp, 403, API_E_FORBIDDEN, msg);
	a->resp->need_sync = 1;
	json_decref(who);
	return NULL;
}

static void
decided_by(struct approval *ap, const struct broker_caller *c)
{
	(void)snprintf(ap->decided_by, sizeof(ap->decided_by), "uid %u pid "
	    "%ld", (unsigned)c->uid, (long)c->pid);
}

/*
 * The approver PIN: something the agent does not have.  Checked after every
 * other test, so only a would-be approver of a pending request reaches the
 * Argon2id check.  Each wrong PIN doubles the wait before the next one from
 * the same uid and session is even looked at (1 s, 2 s, 4 s ... at most
 * PIN_DELAY_MAX), so wrong PINs from one session (an agent counted as an
 * approver) do not delay a human at another terminal.  Past PIN_TOTAL_FREE
 * wrong PINs from all sessions since the last right one, the same doubling
 * applies to every session too, which bounds guessing from many sessions.
 * Every refusal is audited.  Replies and returns 1 when refused.
 */
static int
pin_refused(struct route_args *a, const struct approval *ap, json_t *pin)
{
	struct broker *b = a->b;
	const struct broker_caller *c = a->req->caller;
	struct pin_backoff *k;
	struct al_secret *s = NULL;
	struct al_err err, e2;
	json_t *who = NULL, *detail = NULL;
	int64_t now = b->clock->now_ms(b->clock->arg), delay, wait = 0;
	const char *code = API_E_FORBIDDEN;
	char msg[AL_ERR_MSG_MAX];
	int status = 403, rc;
	unsigned mine;
	pid_t pp, sid;

	if (approval_proc_stat(c->pid, &pp, &sid, NULL) != 0)
		sid = -1;
	k = pin_key_find(b, c->uid, sid);
	if (k != NULL && now < k->retry_ms)
		wait = k->retry_ms;
	if (now < b->pin_retry_ms && b->pin_retry_ms > wait)
		wait = b->pin_retry_ms;
	if (pin == NULL || json_string_length(pin) == 0) {
		(void)snprintf(msg, sizeof(msg), "approving needs the approver "
		    "PIN, typed on a terminal: run `airlock approve %s`",
		    ap->id);
	} else if (wait != 0) {
		status = 429;
		code = API_E_RATE;
		(void)snprintf(msg, sizeof(msg), "too many wrong approver PINs%s: "
		    "try again in %lld s", wait == b->pin_retry_ms ?
		    " (from all sessions)" : "", (long long)((wait - now +
		    999) / 1000));
	} else {
		rc = al_secret_from(json_string_value(pin),
		    json_string_length(pin), &s);
		/* jansson's copy: wiped once it has been read. */
		sodium_memzero((char *)(uintptr_t)json_string_value(pin),
		    json_string_length(pin));
		if (rc == 0)
			rc = vault_pin_verify(b->home, s, &e2);
		else
			(void)al_err_set(&e2, rc, "out of memory");
		al_secret_free(s);
		if (rc == 0) {
			if (k != NULL)
				pin_key_drop(b, k);
			b->pin_failures = 0;
			b->pin_retry_ms = 0;
			return 0;
		}
		if (rc == AL_EBADKEY) {
			if (k == NULL)
				k = pin_key_new(b, c->uid, sid, now);
			b->pin_failures++;
			mine = k != NULL ? ++k->failures : b->pin_failures;
			delay = pin_delay(mine);
			if (k != NULL) {
				k->retry_ms = now + delay * 1000;
				k->last_ms = now;
			}
			if (k == NULL || b->pin_failures > PIN_TOTAL_FREE) {
				b->pin_retry_ms = now + 1000 *
				    pin_delay(k == NULL ? b->pin_failures :
				    b->pin_failures - PIN_TOTAL_FREE);
				if (b->pin_retry_ms - now > delay * 1000)
					delay = (b->pin_retry_ms - now) / 1000;
			}
			(void)snprintf(msg, sizeof(msg), "wrong approver PIN (%u "
			    "in a row; the next try is checked in %lld s)",
			    mine, (long long)delay);
		} else if (rc == AL_ENOENT) {
			(void)snprintf(msg, sizeof(msg), "%s", e2.msg);
		} else {
			status = 500;
			code = API_E_INTERNAL;
			(void)snprintf(msg, sizeof(msg), "%s", e2.msg);
		}
	}
	who = caller_json(c);
	detail = json_pack("{s:s,s:I,s:I,s:I}", "approval", ap->id,
	    "pin_failures", (json_int_t)(k != NULL ? k->failures :
	    b->pin_failures), "pin_failures_all", (json_int_t)b->pin_failures,
	    "session", (json_int_t)sid);
	if (record(b, "approve", "refused", who, ap->secret, NULL, ap->task,
	    ap->intent, msg, NULL, detail, &err) != 0)
		reply_al_err(a->resp, &err);
	else
		reply_error(a->resp, status, code, msg);
	broker_log(b, "approval %s: approver refused (uid %u, session %ld): "
	    "%s", ap->id, (unsigned)c->uid, (long)sid, msg);
	a->resp->need_sync = 1;
	json_decref(detail);
	json_decref(who);
	return 1;
}

void
h_approve(struct route_args *a)
{
	struct broker *b = a->b;
	const struct broker_caller *c = a->req->caller;
	struct approval *ap;
	struct lease_spec spec;
	struct lease l;
	struct al_err err;
	json_t *who = NULL, *detail = NULL, *pin;

	pin = json_object_get(a->body, API_F_PIN);
	if (json_object_size(a->body) > 1 || (json_object_size(a->body) == 1 &&
	    (!json_is_string(pin) || json_string_length(pin) >
	    VAULT_PIN_MAX))) {
		reply_error(a->resp, 400, API_E_BAD_REQUEST, "approve takes "
		    "{\"pin\": \"<the approver PIN>\"}");
		return;
	}
	if ((ap = decidable(a, "approve")) == NULL ||
	    pin_refused(a, ap, pin))
		return;
	memset(&spec, 0, sizeof(spec));
	spec.secret = ap->secret;
	spec.holder = ap->holder;
	spec.task = ap->task;
	spec.intent = ap->intent;
	spec.ttl = ap->ttl;
	spec.max_uses = ap->uses;
	spec.conn = ap->bind ? ap->conn : 0;
	if (lease_issue(b->leases, &spec, &l, &err) != 0) {
		reply_al_err(a->resp, &err);
		return;
	}
	who = caller_json(c);
	detail = json_pack("{s:s,s:s}", "approval", ap->id, "rule",
	    ap->decision.rule);
	if (record(b, "approve", "ok", who, ap->secret, l.id, ap->task,
	    ap->intent, NULL, NULL, detail, &err) != 0 ||
	    record(b, "grant", "ok", ap->caller, l.secret, l.id, l.task,
	    l.intent, "approved", NULL, detail, &err) != 0) {
		if (lease_revoke(b->leases, l.id, LEASE_REVOKED, &l, NULL))
			broker_log(b, "cannot end lease %s", l.id);
		reply_al_err(a->resp, &err);
		goto out;
	}
	ap->state = APPROVAL_APPROVED;
	ap->decided = b->clock->now(b->clock->arg);
	decided_by(ap, c);
	memcpy(ap->lease, l.id, sizeof(ap->lease));
	b->metrics.grants++;
	broker_log(b, "approval %s approved by uid %u: lease %s", ap->id,
	    (unsigned)c->uid, l.id);
	reply_json(a->resp, 200, json_pack("{s:o}", API_F_APPROVAL,
	    approval_json(ap)));
out:
	a->resp->need_sync = 1;
	json_decref(detail);
	json_decref(who);
}

void
h_deny(struct route_args *a)
{
	struct broker *b = a->b;
	const struct broker_caller *c = a->req->caller;
	json_t *r = json_object_get(a->body, API_F_REASON), *who = NULL;
	struct approval *ap;
	struct al_err err;

	if (json_object_size(a->body) != 1 || !json_is_string(r) ||
	    json_string_length(r) == 0 || !text_ok(json_string_value(r))) {
		reply_error(a->resp, 400, API_E_BAD_REQUEST, "the body must be "
		    "{\"reason\": \"<why>\"} (printable, at most 256 bytes)");
		return;
	}
	if (text_guard(a, API_F_REASON, json_string_value(r)) != 0)
		return;
	if ((ap = decidable(a, "deny")) == NULL)
		return;
	who = caller_json(c);
	if (record(b, "deny_approval", "denied", who, ap->secret, NULL,
	    ap->task, ap->intent, json_string_value(r), NULL, NULL,
	    &err) != 0) {
		reply_al_err(a->resp, &err);
		goto out;
	}
	ap->state = APPROVAL_DENIED;
	ap->decided = b->clock->now(b->clock->arg);
	decided_by(ap, c);
	(void)snprintf(ap->reason, sizeof(ap->reason), "%s",
	    json_string_value(r));
	b->metrics.denials++;
	reply_json(a->resp, 200, json_pack("{s:o}", API_F_APPROVAL,
	    approval_json(ap)));
out:
	a->resp->need_sync = 1;
	json_decref(who);
}

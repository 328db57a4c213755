/*
 * When the audit log cannot be written (a full disk, a quota, an immutable
 * or replaced file, an I/O error), nothing is granted or released: every
 * request that would need a line is answered 503 `unavailable`.  The state
 * is not final.  Every AUDIT_RETRY_MS the broker opens the log again
 * (audit_reopen: the same checks as at start) and writes one line saying how
 * long it was down and how many requests it refused; once that line is
 * durable the broker serves again.  /v1/health shows the state meanwhile.
 *
 * Some facts happen whether or not they can be written at once: a lease
 * ends because its holder's connection closed, a value was not released
 * because its line could not be made durable.  Those are kept in memory
 * (up to AUDIT_BACKLOG_MAX, then counted) and written first on recovery.
 */
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"

#define AUDIT_RETRY_MS		1000
#define AUDIT_BACKLOG_MAX	4096

static json_t *
opt_string(const char *s)
{
	return s != NULL && s[0] ? json_string(s) : NULL;
}

static const char *
member(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

void
audit_down(struct broker *b, const char *why)
{
	int64_t now = b->clock->now_ms(b->clock->arg);

	b->audit_retry_ms = now + AUDIT_RETRY_MS;
	if (strcmp(b->audit_error, why) != 0) {
		(void)snprintf(b->audit_error, sizeof(b->audit_error), "%s",
		    why);
		broker_log(b, "the audit log cannot be written: %s; nothing is "
		    "granted or released until it can (retrying every %d ms)",
		    why, AUDIT_RETRY_MS);
	}
	if (b->audit_failed)
		return;
	b->audit_failed = 1;
	b->audit_failed_since = now;
	b->audit_refused = 0;
}

void
audit_keep(struct broker *b, const char *event, const char *outcome,
    const json_t *caller, const char *secret, const char *lease,
    const char *task, const char *intent, const char *reason,
    const json_t *detail)
{
	json_t *o;

	if (b->backlog == NULL && (b->backlog = json_array()) == NULL) {
		b->backlog_dropped++;
		return;
	}
	if (json_array_size(b->backlog) >= AUDIT_BACKLOG_MAX ||
	    (o = json_pack("{s:s,s:s,s:O*,s:o*,s:o*,s:o*,s:o*,s:o*,s:O*}",
	    "event", event, "outcome", outcome, "caller", caller, "secret",
	    opt_string(secret), "lease", opt_string(lease), "task",
	    opt_string(task), "intent", opt_string(intent), "reason",
	    opt_string(reason), "detail", detail)) == NULL) {
		b->backlog_dropped++;
		return;
	}
	if (json_array_append_new(b->backlog, o) != 0)
		b->backlog_dropped++;
}

/* Write what was kept, in order; what failed and after stays kept. */
static int
replay(struct broker *b, struct al_err *err)
{
	const json_t *o;
	json_t *rest;
	size_t i, n = json_array_size(b->backlog);
	int rc = 0;

	for (i = 0; i < n; i++) {
		o = json_array_get(b->backlog, i);
		if ((rc = record(b, member(o, "event"), member(o, "outcome"),
		    json_object_get(o, "caller"), member(o, "secret"),
		    member(o, "lease"), member(o, "task"), member(o, "intent"),
		    member(o, "reason"), NULL, json_object_get(o, "detail"),
		    err)) != 0)
			break;
	}
	rest = NULL;
	if (i < n && (rest = json_array()) != NULL)
		for (; i < n; i++)
			(void)json_array_append(rest,
			    json_array_get(b->backlog, i));
	json_decref(b->backlog);
	b->backlog = rest;
	return rc;
}

int
audit_try_recover(struct broker *b)
{
	int64_t now = b->clock->now_ms(b->clock->arg);
	struct al_err err;
	char since[AUDIT_TIME_LEN];
	json_t *detail;
	int rc;

	if (!b->audit_failed)
		return 0;
	if (now < b->audit_retry_ms)
		return -1;
	al_err_clear(&err);
	if (audit_reopen(b->audit, &err) != 0) {
		audit_down(b, err.msg);
		return -1;
	}
	b->audit_failed = 0;
	audit_format_time(b->audit_failed_since, since);
	detail = json_pack("{s:s,s:I,s:I,s:I,s:s}", "since", since,
	    "seconds", (json_int_t)((now - b->audit_failed_since) / 1000),
	    "refused", (json_int_t)b->audit_refused, "not_recorded",
	    (json_int_t)b->backlog_dropped, "error", b->audit_error);
	if ((rc = replay(b, &err)) == 0 &&
	    (rc = record(b, "audit_resume", "ok", NULL, NULL, NULL, NULL,
	    NULL, "the audit log could not be written: requests were "
	    "refused meanwhile", NULL, detail, &err)) == 0)
		rc = broker_sync(b, &err);
	json_decref(detail);
	if (rc != 0) {
		/* record or broker_synced took it down again. */
		if (!b->audit_failed)
			audit_down(b, err.msg);
		return -1;
	}
	broker_log(b, "the audit log is writable again after %lld s (%llu "
	    "requests refused meanwhile)", (long long)((now -
	    b->audit_failed_since) / 1000),
	    (unsigned long long)b->audit_refused);
	b->audit_error[0] = '\0';
	b->audit_refused = 0;
	b->backlog_dropped = 0;
	return 0;
}

int64_t
audit_next_retry(const struct broker *b)
{
	return b->audit_failed ? b->audit_retry_ms : 0;
}

void
broker_withheld(struct broker *b, const char *lease)
{
	struct lease l;
	struct al_err err;
	int found;

	if (lease == NULL || lease[0] == '\0')
		return;
	found = lease_get(b->leases, lease, &l, &err) == 0;
	record_fact(b, "use", "withheld", NULL, found ? l.secret : NULL,
	    lease, found ? l.task : NULL, found ? l.intent : NULL, "the value "
	    "was not released: its use could not be made durable", NULL);
	if (!found)
		/* Lost with a lease table write that failed: it ended. */
		record_fact(b, "revoke", "ok", NULL, NULL, lease, NULL, NULL,
		    "the lease table could not be written", NULL);
	else if (l.state == LEASE_LIVE && lease_revoke(b->leases, l.id,
	    LEASE_REVOKED, &l, &err) == 0) {
		b->metrics.revocations++;
		record_fact(b, "revoke", "ok", NULL, l.secret, l.id, l.task,
		    l.intent, "a value of the lease could not be released",
		    NULL);
	}
}

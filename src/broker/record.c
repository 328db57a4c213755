/* Audit glue: every event the broker records goes through here. */
#include <stdio.h>
#include <string.h>

#include "airlock/identity.h"
#include "broker_int.h"
#include "engine_glue.h"

static int
unavailable(struct broker *b, struct al_err *err)
{
	return al_err_set(err, AL_EUNAVAIL, "%s; nothing is granted or "
	    "released until the audit log can be written (the broker "
	    "retries by itself: see /v1/health)", b->audit_error);
}

int
record(struct broker *b, const char *event, const char *outcome,
    const json_t *caller, const char *secret, const char *lease,
    const char *task, const char *intent, const char *reason,
    const char *value_fp, const json_t *detail, struct al_err *err)
{
	struct audit_event ev;
	struct al_err aerr;
	int rc;

	/*
	 * Retried from broker_tick and /v1/health, never from here: a
	 * handler may hold a lease change that must not be committed
	 * before its line.
	 */
	if (b->audit_failed) {
		b->audit_refused++;
		return unavailable(b, err);
	}
	memset(&ev, 0, sizeof(ev));
	ev.event = event;
	ev.outcome = outcome;
	ev.caller = caller;
	ev.secret = secret;
	ev.lease = lease;
	ev.task = task && task[0] ? task : NULL;
	ev.intent = intent && intent[0] ? intent : NULL;
	ev.reason = reason && reason[0] ? reason : NULL;
	ev.value_fp = value_fp;
	ev.detail = detail;
	if ((rc = audit_append_nosync(b->audit, &ev, NULL, &aerr)) != 0) {
		if (rc == AL_EINVAL || rc == AL_ENOMEM || rc == AL_ETOOBIG) {
			broker_log(b, "audit line refused: %s", aerr.msg);
			if (err != NULL)
				*err = aerr;
			return rc;
		}
		audit_down(b, aerr.msg);
		b->audit_refused++;
		return unavailable(b, err);
	}
	if (!b->dirty)
		b->dirty_since_ms = b->clock->now_ms(b->clock->arg);
	b->dirty = 1;
	return 0;
}

void
record_fact(struct broker *b, const char *event, const char *outcome,
    const json_t *caller, const char *secret, const char *lease,
    const char *task, const char *intent, const char *reason,
    const json_t *detail)
{
	struct al_err err;

	/* Whoever waits for one of these leases to end is told why. */
	if (lease != NULL && (strcmp(event, "revoke") == 0 ||
	    strcmp(event, "expire") == 0))
		broker_lease_ended(b, lease, reason);
	else if (strcmp(event, "secret_exposed") == 0)
		broker_lease_ended(b, NULL, NULL);
	if (!b->audit_failed && record(b, event, outcome, caller, secret,
	    lease, task, intent, reason, NULL, detail, &err) == 0)
		return;
	/* Failed before, or by this very line. */
	if (b->audit_failed)
		audit_keep(b, event, outcome, caller, secret, lease, task,
		    intent, reason, detail);
	else
		broker_log(b, "cannot audit %s of %s: %s", event, lease ?
		    lease : secret ? secret : "the broker", err.msg);
}

void
broker_lease_ended(struct broker *b, const char *id, const char *reason)
{
	struct lease_end_note *e = &b->ends[b->nends % BROKER_ENDS_KEPT];

	(void)snprintf(e->id, sizeof(e->id), "%s", id ? id : "");
	(void)snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason :
	    "");
	b->nends++;
}

void
record_lease_end(const struct lease *l, void *arg)
{
	struct broker *b = arg;
	json_t *detail;

	if (l->state == LEASE_REVOKED)
		b->metrics.revocations++;
	else
		b->metrics.expirations++;
	detail = json_pack("{s:s,s:i}", "holder", l->holder, "uses",
	    l->uses);
	record_fact(b, l->state == LEASE_REVOKED ? "revoke" : "expire", "ok",
	    NULL, l->secret, l->id, l->task, l->intent,
	    lease_state_name(l->state), detail);
	json_decref(detail);
	eng_lease_ended(b, l);
}

json_t *
caller_json(const struct broker_caller *c)
{
	json_t *o, *sel;
	size_t i;

	if (c == NULL)
		return NULL;
	if (c->ident != NULL) {
		if ((o = ident_to_json(c->ident, IDENT_JSON_SUMMARY)) != NULL &&
		    c->repo != NULL)
			json_object_set_new(o, "repo", json_string(c->repo));
		return o;
	}
	if ((o = json_object()) == NULL || (sel = json_array()) == NULL) {
		json_decref(o);
		return NULL;
	}
	for (i = 0; i < c->nselectors; i++)
		json_array_append_new(sel, json_string(c->selectors[i]));
	json_object_set_new(o, "uid", json_integer(c->uid));
	json_object_set_new(o, "gid", json_integer(c->gid));
	json_object_set_new(o, "pid", json_integer(c->pid));
	json_object_set_new(o, "selectors", sel);
	return o;
}

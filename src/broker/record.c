/* Audit glue: every event the broker records goes through here. */
#include <string.h>

#include "airlock/identity.h"
#include "broker_int.h"
#include "engine_glue.h"

int
record(struct broker *b, const char *event, const char *outcome,
    const json_t *caller, const char *secret, const char *lease,
    const char *task, const char *intent, const char *reason,
    const char *value_fp, const json_t *detail, struct al_err *err)
{
	struct audit_event ev;
	int rc;

	if (b->audit_failed)
		return al_err_set(err, AL_EIO, "the audit log failed; the "
		    "broker refuses to work unaudited: restart it (see "
		    "%s)", API_LOG_FILE);
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
	if ((rc = audit_append_nosync(b->audit, &ev, NULL, err)) != 0) {
		if (rc == AL_EIO)
			b->audit_failed = 1;
		broker_log(b, "audit append failed: %s", err ? err->msg : "");
		return rc;
	}
	if (!b->dirty)
		b->dirty_since_ms = b->clock->now_ms(b->clock->arg);
	b->dirty = 1;
	return 0;
}

void
record_lease_end(const struct lease *l, void *arg)
{
	struct broker *b = arg;
	struct al_err err;
	json_t *detail;

	if (l->state == LEASE_REVOKED)
		b->metrics.revocations++;
	else
		b->metrics.expirations++;
	detail = json_pack("{s:s,s:i}", "holder", l->holder, "uses",
	    l->uses);
	if (record(b, l->state == LEASE_REVOKED ? "revoke" : "expire", "ok",
	    NULL, l->secret, l->id, l->task, l->intent,
	    lease_state_name(l->state), NULL, detail, &err) != 0)
		broker_log(b, "cannot audit the end of lease %s: %s", l->id,
		    err.msg);
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

/*
 * POST /v1/guard/counts: what an `airlock guard` answered since its last
 * report -- requests by outcome, secrets and rules found by name -- added
 * to /metrics.  Names only, never a value; the audit log has each masked
 * request already (the guard writes it before the request goes out).
 *
 * Any client of the broker may report: the counts are figures for a
 * dashboard, not evidence (the audit log is).  So they are bounded rather
 * than trusted: names of a fixed alphabet and length, at most
 * METRICS_GUARD_NAMES of them (more fold into "other"), and a bad report
 * is refused whole.
 */
#include <stdio.h>
#include <string.h>

#include "broker_int.h"

#define COUNT_MAX	((json_int_t)1 << 40)	/* one report's figure */

/* A secret's or rule's name: [A-Za-z0-9._/:-]{1,64}, printed unescaped. */
static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 65 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/:-") == n;
}

static int
count_ok(json_t *j)
{
	return json_is_integer(j) && json_integer_value(j) >= 0 &&
	    json_integer_value(j) <= COUNT_MAX;
}

static void
add_mask(struct broker_guard_metrics *m, const char *name, int rule,
    uint64_t n)
{
	size_t i;

	for (i = 0; i < m->nmasks; i++)
		if (m->masks[i].rule == rule &&
		    strcmp(m->masks[i].name, name) == 0) {
			m->masks[i].count += n;
			return;
		}
	if (m->nmasks == METRICS_GUARD_NAMES) {
		m->other_masks += n;
		return;
	}
	(void)snprintf(m->masks[i].name, sizeof(m->masks[i].name), "%s", name);
	m->masks[i].rule = rule;
	m->masks[i].count = n;
	m->nmasks++;
}

void
h_guard_counts(struct route_args *a)
{
	struct broker_guard_metrics *m = &a->b->guard_metrics;
	json_t *req, *masks, *other, *it, *v, *name;
	const char *key;
	size_t i, k;

	req = json_object_get(a->body, "requests");
	masks = json_object_get(a->body, "masks");
	other = json_object_get(a->body, "other_masks");
	if ((req != NULL && !json_is_object(req)) ||
	    (masks != NULL && !json_is_array(masks)) ||
	    (other != NULL && !count_ok(other)) ||
	    json_array_size(masks) > METRICS_GUARD_NAMES) {
		reply_error(a->resp, 400, API_E_BAD_REQUEST, "requests must be "
		    "an object, masks an array of at most 128, other_masks a "
		    "count");
		return;
	}
	/* Everything is checked before anything is counted. */
	json_object_foreach(req, key, v) {
		for (k = 0; k < METRICS_GUARD_OUTCOMES; k++)
			if (strcmp(key, metrics_guard_outcomes[k]) == 0)
				break;
		if (k == METRICS_GUARD_OUTCOMES || !count_ok(v)) {
			reply_error(a->resp, 400, API_E_BAD_REQUEST,
			    "requests: unknown outcome, or not a count");
			return;
		}
	}
	json_array_foreach(masks, i, it) {
		name = json_object_get(it, "name");
		if (!json_is_string(name) ||
		    !name_ok(json_string_value(name)) ||
		    !json_is_boolean(json_object_get(it, "rule")) ||
		    !count_ok(json_object_get(it, "count"))) {
			reply_error(a->resp, 400, API_E_BAD_REQUEST,
			    "masks: each needs a name ([A-Za-z0-9._/:-], 64 at "
			    "most), rule (true or false) and a count");
			return;
		}
	}
	json_object_foreach(req, key, v)
		for (k = 0; k < METRICS_GUARD_OUTCOMES; k++)
			if (strcmp(key, metrics_guard_outcomes[k]) == 0)
				m->requests[k] +=
				    (uint64_t)json_integer_value(v);
	json_array_foreach(masks, i, it)
		add_mask(m, json_string_value(json_object_get(it, "name")),
		    json_is_true(json_object_get(it, "rule")),
		    (uint64_t)json_integer_value(json_object_get(it, "count")));
	if (other != NULL)
		m->other_masks += (uint64_t)json_integer_value(other);
	reply_json(a->resp, 200, json_pack("{s:b}", "ok", 1));
}

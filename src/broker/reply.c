/* Building replies: JSON bodies, error objects, lease and approval views. */
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"

void
reply_json(struct broker_resp *r, int status, json_t *j)
{
	char *s = NULL;

	al_buf_reset(&r->body);
	if (j != NULL)
		s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (s == NULL || al_buf_puts(&r->body, s) != 0 ||
	    al_buf_putc(&r->body, '\n') != 0) {
		free(s);
		al_buf_reset(&r->body);
		r->status = 500;
		r->content_type = API_CT_JSON;
		/* A fixed reply that needs no allocation beyond the buffer. */
		if (al_buf_puts(&r->body, "{\"error\":{\"code\":\"internal\","
		    "\"message\":\"out of memory\"}}\n") != 0)
			r->status = 503;	/* an empty body says it all */
		return;
	}
	free(s);
	r->status = status;
	r->content_type = API_CT_JSON;
}

void
reply_error(struct broker_resp *r, int status, const char *code,
    const char *msg)
{
	json_t *e = json_pack("{s:{s:s,s:s}}", API_F_ERROR, API_F_CODE, code,
	    API_F_MESSAGE, msg);

	reply_json(r, status, e);
}

void
reply_al_err(struct broker_resp *r, const struct al_err *err)
{
	const char *msg = err->msg[0] ? err->msg : al_strerror(err->code);

	switch (err->code) {
	case AL_EINVAL:
		reply_error(r, 400, API_E_BAD_REQUEST, msg);
		break;
	case AL_ENOENT:
		reply_error(r, 404, API_E_NOT_FOUND, msg);
		break;
	case AL_ETOOBIG:
		reply_error(r, 413, API_E_TOO_BIG, msg);
		break;
	case AL_EDENIED:
		reply_error(r, 403, API_E_DENIED, msg);
		break;
	case AL_EPERM:
		reply_error(r, 403, API_E_FORBIDDEN, msg);
		break;
	case AL_EEXPIRED:
		reply_error(r, 410, API_E_ENDED, msg);
		break;
	case AL_EEXIST:
		reply_error(r, 409, API_E_CONFLICT, msg);
		break;
	case AL_EBUSY:
	case AL_EUNAVAIL:
		reply_error(r, 503, API_E_UNAVAILABLE, msg);
		break;
	default:
		reply_error(r, 500, API_E_INTERNAL, msg);
		break;
	}
}

static json_t *
time_json(int64_t t)
{
	char buf[21];

	if (t == 0)
		return json_null();
	al_format_time(t, buf);
	return json_string(buf);
}

json_t *
lease_json(const struct lease *l)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	json_object_set_new(o, API_F_ID, json_string(l->id));
	json_object_set_new(o, API_F_SECRET, json_string(l->secret));
	json_object_set_new(o, API_F_STATE,
	    json_string(lease_state_name(l->state)));
	json_object_set_new(o, API_F_TASK, json_string(l->task));
	json_object_set_new(o, API_F_INTENT, json_string(l->intent));
	json_object_set_new(o, API_F_HOLDER, json_string(l->holder));
	json_object_set_new(o, API_F_ISSUED, time_json(l->issued));
	json_object_set_new(o, API_F_EXPIRES, time_json(l->expires));
	json_object_set_new(o, API_F_EXPIRES_UNIX, json_integer(l->expires));
	json_object_set_new(o, API_F_USES, json_integer(l->uses));
	json_object_set_new(o, API_F_USES_LEFT, l->max_uses ==
	    LEASE_USES_UNLIMITED ? json_null() :
	    json_integer(l->max_uses - l->uses));
	json_object_set_new(o, API_F_BOUND, json_boolean(l->conn != 0));
	json_object_set_new(o, "ended", time_json(l->ended));
	return o;
}

json_t *
approval_json(const struct approval *a)
{
	json_t *o = json_object(), *appr = json_array();
	size_t i;

	if (o == NULL || appr == NULL) {
		json_decref(o);
		json_decref(appr);
		return NULL;
	}
	for (i = 0; i < a->decision.napprovers; i++)
		json_array_append_new(appr,
		    json_string(a->decision.approvers[i]));
	json_object_set_new(o, API_F_ID, json_string(a->id));
	json_object_set_new(o, API_F_STATE,
	    json_string(approval_state_name(a->state)));
	json_object_set_new(o, API_F_SECRET, json_string(a->secret));
	json_object_set_new(o, API_F_TASK, json_string(a->task));
	json_object_set_new(o, API_F_INTENT, json_string(a->intent));
	json_object_set_new(o, API_F_TTL, json_integer(a->ttl));
	json_object_set_new(o, API_F_REQUESTER, json_incref(a->caller));
	json_object_set_new(o, API_F_RULE, json_string(a->decision.rule));
	json_object_set_new(o, "rule_line", json_integer(a->decision.line));
	json_object_set_new(o, API_F_APPROVERS, appr);
	json_object_set_new(o, "created", time_json(a->created));
	json_object_set_new(o, API_F_EXPIRES, time_json(a->expires));
	json_object_set_new(o, API_F_DECIDED_BY, a->decided_by[0] ?
	    json_string(a->decided_by) : json_null());
	json_object_set_new(o, API_F_REASON, a->reason[0] ?
	    json_string(a->reason) : json_null());
	json_object_set_new(o, API_F_LEASE, a->lease[0] ?
	    json_string(a->lease) : json_null());
	json_object_set_new(o, "approve_with", json_sprintf("airlock approve "
	    "%s", a->id));
	return o;
}

int
query_get(const char *query, const char *key, char *out, size_t outsz)
{
	size_t klen = strlen(key), n;
	const char *p = query;

	if (outsz)
		out[0] = '\0';
	while (p != NULL && *p) {
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			p += klen + 1;
			n = strcspn(p, "&");
			if (n >= outsz)
				return -1;
			memcpy(out, p, n);
			out[n] = '\0';
			return 0;
		}
		p = strchr(p, '&');
		if (p)
			p++;
	}
	return -1;
}

int
caller_is_owner(const struct broker *b, const struct broker_caller *c)
{
	return c->uid == b->owner;
}

int
text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (strlen(s) > API_TEXT_MAX)
		return 0;
	for (; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	/* jansson already refused invalid UTF-8 in the body. */
	return 1;
}

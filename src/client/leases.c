/* Client calls: leases, values, approvals, and the JSON views. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "airlock/api.h"
#include "client_int.h"

static void
copy_str(char *dst, size_t dstsz, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	(void)snprintf(dst, dstsz, "%s", s ? s : "");
}

static void
lease_from(json_t *o, struct client_lease *l)
{
	json_t *left = json_object_get(o, API_F_USES_LEFT);

	memset(l, 0, sizeof(*l));
	copy_str(l->id, sizeof(l->id), o, API_F_ID);
	copy_str(l->secret, sizeof(l->secret), o, API_F_SECRET);
	copy_str(l->state, sizeof(l->state), o, API_F_STATE);
	copy_str(l->task, sizeof(l->task), o, API_F_TASK);
	copy_str(l->intent, sizeof(l->intent), o, API_F_INTENT);
	l->expires = json_integer_value(json_object_get(o,
	    API_F_EXPIRES_UNIX));
	l->uses = (int)json_integer_value(json_object_get(o, API_F_USES));
	l->uses_left = json_is_integer(left) ? (int)json_integer_value(left) :
	    -1;
	l->bound = json_is_true(json_object_get(o, API_F_BOUND));
}

static void
approval_from(json_t *o, struct client_approval *a)
{
	memset(a, 0, sizeof(*a));
	copy_str(a->id, sizeof(a->id), o, API_F_ID);
	copy_str(a->state, sizeof(a->state), o, API_F_STATE);
	copy_str(a->secret, sizeof(a->secret), o, API_F_SECRET);
	copy_str(a->rule, sizeof(a->rule), o, API_F_RULE);
	copy_str(a->reason, sizeof(a->reason), o, API_F_REASON);
	copy_str(a->lease, sizeof(a->lease), o, API_F_LEASE);
}

/* Ids travel in paths: only hex is ever put there. */
static int
check_id(const char *id, const char *what, struct al_err *err)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			break;
	if (i != 32 || id[i] != '\0')
		return al_err_set(err, AL_EINVAL, "'%.40s' is not %s id (32 "
		    "hex digits)", id, what);
	return 0;
}

int
client_lease_request(struct client *cl, const struct client_lease_req *r,
    struct client_lease *lease, struct client_approval *approval,
    struct al_err *err)
{
	json_t *body, *reply = NULL, *o;
	long status = 0;
	int rc;

	memset(lease, 0, sizeof(*lease));
	if (approval)
		memset(approval, 0, sizeof(*approval));
	body = json_pack("{s:s,s:s,s:s,s:I,s:i,s:b}", API_F_SECRET, r->secret,
	    API_F_TASK, r->task ? r->task : "", API_F_INTENT, r->intent ?
	    r->intent : "", API_F_TTL, (json_int_t)r->ttl, API_F_USES, r->uses,
	    API_F_BIND, r->bind);
	if (body == NULL)
		return al_err_set(err, AL_EINVAL, "secret, task or intent is "
		    "not valid UTF-8");
	rc = client_call(cl, "POST", API_LEASES, body, NULL, &status,
	    &reply, err);
	json_decref(body);
	if (rc != 0)
		return rc;
	if (status == 201 && json_is_object(o = json_object_get(reply,
	    API_F_LEASE))) {
		lease_from(o, lease);
		rc = 0;
	} else if (status == 202 && json_is_object(o = json_object_get(reply,
	    API_F_APPROVAL))) {
		struct client_approval a;

		approval_from(o, &a);
		if (approval)
			*approval = a;
		rc = al_err_set(err, AL_EPENDING, "secret '%s' needs approval "
		    "(rule '%s'): an approver runs `airlock approve %s`",
		    a.secret, a.rule, a.id);
	} else {
		rc = al_err_set(err, AL_EPROTO, "unexpected reply to a lease "
		    "request (HTTP %ld)", status);
	}
	json_decref(reply);
	return rc;
}

int
client_approval_wait(struct client *cl, const char *id, int wait_s,
    struct client_approval *out, struct al_err *err)
{
	char path[128], idbuf[33];
	json_t *reply = NULL;
	time_t end = time(NULL) + wait_s;
	int left, rc, saved = cl->timeout_ms;

	/* id may point into *out, which is cleared below. */
	if ((rc = check_id(id, "an approval", err)) != 0)
		return rc;
	memcpy(idbuf, id, sizeof(idbuf));
	id = idbuf;
	memset(out, 0, sizeof(*out));
	do {
		left = (int)(end - time(NULL));
		if (left > API_WAIT_MAX)
			left = API_WAIT_MAX;
		if (left < 0)
			left = 0;
		(void)snprintf(path, sizeof(path), "%s/%s?wait=%d",
		    API_APPROVALS, id, left);
		cl->timeout_ms = (left + 10) * 1000;
		rc = client_call(cl, "GET", path, NULL, NULL, NULL,
		    &reply, err);
		cl->timeout_ms = saved;
		if (rc != 0)
			return rc;
		approval_from(json_object_get(reply, API_F_APPROVAL), out);
		json_decref(reply);
		reply = NULL;
	} while (strcmp(out->state, "pending") == 0 && time(NULL) < end);
	if (strcmp(out->state, "approved") == 0)
		return 0;
	if (strcmp(out->state, "denied") == 0)
		return al_err_set(err, AL_EDENIED, "request %s was denied by an "
		    "approver: %s", id, out->reason);
	if (strcmp(out->state, "pending") == 0)
		return al_err_set(err, AL_ETIMEDOUT, "request %s is still "
		    "waiting for approval after %d s (an approver runs "
		    "`airlock approve %s`)", id, wait_s, id);
	return al_err_set(err, AL_EEXPIRED, "request %s was %s", id,
	    out->state);
}

int
client_lease_value(struct client *cl, const char *id,
    struct al_secret **value, struct al_err *err)
{
	char path[128];
	int rc;

	*value = NULL;
	if ((rc = check_id(id, "a lease", err)) != 0)
		return rc;
	(void)snprintf(path, sizeof(path), "%s/%s%s", API_LEASES, id,
	    API_VALUE_SUFFIX);
	return client_call(cl, "GET", path, NULL, value, NULL, NULL, err);
}

int
client_lease_get(struct client *cl, const char *id, struct client_lease *out,
    struct al_err *err)
{
	char path[128];
	json_t *reply = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = check_id(id, "a lease", err)) != 0)
		return rc;
	(void)snprintf(path, sizeof(path), "%s/%s", API_LEASES, id);
	if ((rc = client_call(cl, "GET", path, NULL, NULL, NULL, &reply,
	    err)) != 0)
		return rc;
	lease_from(json_object_get(reply, API_F_LEASE), out);
	json_decref(reply);
	return 0;
}

int
client_lease_revoke(struct client *cl, const char *id, struct al_err *err)
{
	char path[128];
	int rc;

	if ((rc = check_id(id, "a lease", err)) != 0)
		return rc;
	(void)snprintf(path, sizeof(path), "%s/%s", API_LEASES, id);
	return client_call(cl, "DELETE", path, NULL, NULL, NULL, NULL,
	    err);
}

int
client_lease_revoke_task(struct client *cl, const char *task, size_t *n,
    struct al_err *err)
{
	json_t *body = json_pack("{s:s}", API_F_TASK, task), *reply = NULL;
	int rc;

	*n = 0;
	if (body == NULL)
		return al_err_set(err, AL_EINVAL, "task is not valid UTF-8");
	rc = client_call(cl, "POST", API_LEASES_REVOKE, body, NULL, NULL,
	    &reply, err);
	json_decref(body);
	if (rc == 0)
		*n = (size_t)json_integer_value(json_object_get(reply,
		    API_F_REVOKED));
	json_decref(reply);
	return rc;
}

int
client_lease_and_fetch(struct client *cl, const struct client_lease_req *r,
    int approval_wait_s, struct client_lease *lease,
    struct al_secret **value, struct al_err *err)
{
	struct client_approval a;
	int rc;

	*value = NULL;
	rc = client_lease_request(cl, r, lease, &a, err);
	if (rc == AL_EPENDING && approval_wait_s > 0) {
		if (r->pending != NULL)
			r->pending(&a, r->pending_arg);
		rc = client_approval_wait(cl, a.id, approval_wait_s, &a, err);
		if (r->pending != NULL)
			r->pending(NULL, r->pending_arg);
		if (rc != 0)
			return rc;
		rc = client_lease_get(cl, a.lease, lease, err);
	}
	if (rc != 0)
		return rc;
	return client_lease_value(cl, lease->id, value, err);
}

/* GET path and hand back one member of the reply. */
static int
get_member(struct client *cl, const char *path, const char *member,
    json_t **out, struct al_err *err)
{
	json_t *reply = NULL;
	int rc;

	*out = NULL;
	if ((rc = client_call(cl, "GET", path, NULL, NULL, NULL, &reply,
	    err)) != 0)
		return rc;
	if (member == NULL) {
		*out = reply;
		return 0;
	}
	*out = json_incref(json_object_get(reply, member));
	json_decref(reply);
	if (*out == NULL)
		return al_err_set(err, AL_EPROTO, "the broker's reply lacks "
		    "'%s'", member);
	return 0;
}

int
client_leases(struct client *cl, json_t **out, struct al_err *err)
{
	return get_member(cl, API_LEASES, API_F_LEASES, out, err);
}

int
client_approvals(struct client *cl, int all, json_t **out, struct al_err *err)
{
	return get_member(cl, all ? API_APPROVALS "?all=1" : API_APPROVALS,
	    API_F_APPROVALS, out, err);
}

static int
decide(struct client *cl, const char *id, const char *suffix, json_t *body,
    json_t **out, struct al_err *err)
{
	char path[128];
	json_t *reply = NULL;
	int rc;

	*out = NULL;
	if ((rc = check_id(id, "an approval", err)) != 0)
		return rc;
	(void)snprintf(path, sizeof(path), "%s/%s%s", API_APPROVALS, id,
	    suffix);
	if ((rc = client_call(cl, "POST", path, body, NULL, NULL, &reply,
	    err)) != 0)
		return rc;
	*out = json_incref(json_object_get(reply, API_F_APPROVAL));
	json_decref(reply);
	return 0;
}

int
client_approve(struct client *cl, const char *id, json_t **out,
    struct al_err *err)
{
	json_t *body = json_object();
	int rc = decide(cl, id, API_APPROVE_SUFFIX, body, out, err);

	json_decref(body);
	return rc;
}

int
client_deny(struct client *cl, const char *id, const char *reason,
    json_t **out, struct al_err *err)
{
	json_t *body = json_pack("{s:s}", API_F_REASON, reason);
	int rc;

	*out = NULL;
	if (body == NULL)
		return al_err_set(err, AL_EINVAL, "reason is not valid UTF-8");
	rc = decide(cl, id, API_DENY_SUFFIX, body, out, err);
	json_decref(body);
	return rc;
}

int
client_secrets(struct client *cl, json_t **out, struct al_err *err)
{
	return get_member(cl, API_SECRETS, "secrets", out, err);
}

int
client_audit_tail(struct client *cl, int n, json_t **out, struct al_err *err)
{
	char path[64];

	(void)snprintf(path, sizeof(path), "%s?n=%d", API_AUDIT, n);
	return get_member(cl, path, "events", out, err);
}

int
client_health(struct client *cl, json_t **out, struct al_err *err)
{
	return get_member(cl, API_HEALTH, NULL, out, err);
}

int
client_policy_reload(struct client *cl, json_t **out, struct al_err *err)
{
	json_t *body = json_object();
	int rc;

	*out = NULL;
	if (body == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	rc = client_call(cl, "POST", API_POLICY_RELOAD, body, NULL, NULL, out,
	    err);
	json_decref(body);
	return rc;
}

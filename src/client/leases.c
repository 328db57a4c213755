/* Client calls: leases, values, approvals, and the JSON views. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

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
int
client_check_id(const char *id, const char *what, struct al_err *err)
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

/*
 * The lease request; with value set, the value is asked for with the
 * grant, and comes back in *value when the broker released it at once
 * (the lease then holds what the request said, its id from the reply).
 */
static int
lease_request(struct client *cl, const struct client_lease_req *r,
    struct client_lease *lease, struct client_approval *approval,
    struct al_secret **value, struct al_err *err)
{
	json_t *body, *reply = NULL, *o;
	long status = 0;
	int rc;

	memset(lease, 0, sizeof(*lease));
	if (approval)
		memset(approval, 0, sizeof(*approval));
	if ((rc = client_name_check(r->secret, err)) != 0 ||
	    (rc = client_text_check(API_F_TASK, r->task, err)) != 0 ||
	    (rc = client_text_check(API_F_INTENT, r->intent, err)) != 0)
		return rc;
	body = json_pack("{s:s,s:s,s:s,s:I,s:i,s:b}", API_F_SECRET, r->secret,
	    API_F_TASK, r->task ? r->task : "", API_F_INTENT, r->intent ?
	    r->intent : "", API_F_TTL, (json_int_t)r->ttl, API_F_USES, r->uses,
	    API_F_BIND, r->bind);
	if (body != NULL && value != NULL &&
	    json_object_set_new(body, API_F_WITH_VALUE, json_true()) != 0) {
		json_decref(body);
		body = NULL;
	}
	if (body == NULL)
		return al_err_set(err, AL_EINVAL, "secret, task or intent is "
		    "not valid UTF-8");
	cl->value_lease[0] = '\0';
	rc = client_call(cl, "POST", API_LEASES, body, value, &status,
	    &reply, err);
	json_decref(body);
	if (rc != 0)
		return rc;
	if (value != NULL && *value != NULL) {
		if (cl->value_lease[0] == '\0') {
			al_secret_free(*value);
			*value = NULL;
			return al_err_set(err, AL_EPROTO, "the broker sent a "
			    "value without its lease's id");
		}
		memcpy(lease->id, cl->value_lease, sizeof(cl->value_lease));
		(void)snprintf(lease->secret, sizeof(lease->secret), "%s",
		    r->secret);
		(void)snprintf(lease->state, sizeof(lease->state), "live");
		(void)snprintf(lease->task, sizeof(lease->task), "%s",
		    r->task ? r->task : "");
		(void)snprintf(lease->intent, sizeof(lease->intent), "%s",
		    r->intent ? r->intent : "");
		lease->uses = 1;
		lease->uses_left = -1;
		lease->bound = r->bind;
		return 0;
	}
	if (status == 201 && json_is_object(o = json_object_get(reply,
	    API_F_LEASE))) {
		lease_from(o, lease);
		lease->proxy_only = json_string_value(json_object_get(reply,
		    API_F_USE)) != NULL && strcmp(json_string_value(
		    json_object_get(reply, API_F_USE)), "proxy") == 0;
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
client_lease_request(struct client *cl, const struct client_lease_req *r,
    struct client_lease *lease, struct client_approval *approval,
    struct al_err *err)
{
	return lease_request(cl, r, lease, approval, NULL, err);
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
	if ((rc = client_check_id(id, "an approval", err)) != 0)
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
	if ((rc = client_check_id(id, "a lease", err)) != 0)
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
	if ((rc = client_check_id(id, "a lease", err)) != 0)
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

	if ((rc = client_check_id(id, "a lease", err)) != 0)
		return rc;
	(void)snprintf(path, sizeof(path), "%s/%s", API_LEASES, id);
	return client_call(cl, "DELETE", path, NULL, NULL, NULL, NULL,
	    err);
}

int
client_lease_revoke_task(struct client *cl, const char *task, size_t *n,
    struct al_err *err)
{
	json_t *body, *reply = NULL;
	int rc;

	*n = 0;
	if ((rc = client_text_check(API_F_TASK, task, err)) != 0)
		return rc;
	if ((body = json_pack("{s:s}", API_F_TASK, task)) == NULL)
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
client_exposure_report(struct client *cl, const char *secret,
    const char *where, const char *source, const char *proof, json_t **out,
    struct al_err *err)
{
	json_t *body = NULL;
	char *w = NULL, *src = NULL;
	int rc;

	*out = NULL;
	if ((rc = client_name_check(secret, err)) != 0)
		return rc;
	/*
	 * Reported whatever they hold (the exposure must end access), with
	 * any token-shaped part of where and source masked.
	 */
	if ((w = strdup(where)) == NULL || (src = strdup(source)) == NULL) {
		free(w);
		return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	client_text_mask(w);
	client_text_mask(src);
	body = json_pack("{s:s, s:s, s:s}", API_F_SECRET, secret, API_F_WHERE,
	    w, API_F_SOURCE, src);
	free(w);
	free(src);
	if (body != NULL && proof != NULL &&
	    json_object_set_new(body, API_F_PROOF, json_string(proof)) != 0) {
		json_decref(body);
		body = NULL;
	}
	if (body == NULL)
		return al_err_set(err, AL_EINVAL, "where is not valid UTF-8");
	rc = client_call(cl, "POST", API_EXPOSURES, body, NULL, NULL, out,
	    err);
	json_decref(body);
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
	/* The value with the grant: one request, one identification. */
	rc = lease_request(cl, r, lease, &a, value, err);
	if (rc == AL_EINVAL && strstr(err->msg, "unknown field '"
	    API_F_WITH_VALUE "'") != NULL)
		/* A broker from before values came with grants. */
		rc = lease_request(cl, r, lease, &a, NULL, err);
	if (rc == 0 && *value != NULL)
		return 0;
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
	if ((rc = client_check_id(id, "an approval", err)) != 0)
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
client_approve(struct client *cl, const char *id, struct al_secret *pin,
    json_t **out, struct al_err *err)
{
	json_t *body, *s = NULL;
	int rc;

	*out = NULL;
	if ((body = json_object()) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	if (pin != NULL) {
		s = json_stringn_nocheck((const char *)al_secret_open(pin),
		    al_secret_len(pin));
		al_secret_close(pin);
		if (s == NULL || json_object_set(body, API_F_PIN, s) != 0) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			goto out;
		}
	}
	/* The PIN goes only to a broker that proves to be one. */
	cl->verify_peer = pin != NULL;
	rc = decide(cl, id, API_APPROVE_SUFFIX, body, out, err);
	cl->verify_peer = 0;
out:
	/* jansson's copy of the PIN: wiped before it is freed. */
	if (s != NULL)
		sodium_memzero((char *)(uintptr_t)json_string_value(s),
		    json_string_length(s));
	json_decref(s);
	json_decref(body);
	return rc;
}

int
client_deny(struct client *cl, const char *id, const char *reason,
    json_t **out, struct al_err *err)
{
	json_t *body;
	int rc;

	*out = NULL;
	if ((rc = client_text_check(API_F_REASON, reason, err)) != 0)
		return rc;
	if ((body = json_pack("{s:s}", API_F_REASON, reason)) == NULL)
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

/* One request: batch (a JSON array of strings) masked into *out. */
static int
redact_batch(struct client *cl, json_t *batch, const char *task,
    const char *intent, json_t **out, struct al_err *err)
{
	json_t *body, *reply = NULL;
	long status = 0;
	int rc;

	*out = NULL;
	if ((rc = client_text_check(API_F_TASK, task, err)) != 0 ||
	    (rc = client_text_check(API_F_INTENT, intent, err)) != 0)
		return rc;
	body = json_pack("{s:O,s:s,s:s}", API_F_TEXTS, batch, API_F_TASK,
	    task ? task : "", API_F_INTENT, intent ? intent : "redact");
	if (body == NULL)
		return al_err_set(err, AL_EINVAL, "task or intent is not valid "
		    "UTF-8");
	rc = client_call(cl, "POST", API_REDACT, body, NULL, &status, &reply,
	    err);
	json_decref(body);
	if (rc != 0)
		return rc;
	if (status != 200 || !json_is_array(json_object_get(reply,
	    API_F_TEXTS)) || json_array_size(json_object_get(reply,
	    API_F_TEXTS)) != json_array_size(batch) ||
	    !json_is_object(json_object_get(reply, API_F_FOUND))) {
		json_decref(reply);
		return al_err_set(err, AL_EPROTO, "unexpected reply to a redact "
		    "request (HTTP %ld)", status);
	}
	*out = reply;
	return 0;
}

/* Add batch reply r into the running total t. */
static void
redact_merge(json_t *t, json_t *r)
{
	json_t *texts = json_object_get(t, API_F_TEXTS), *v, *n;
	json_t *found = json_object_get(t, API_F_FOUND);
	json_t *proofs = json_object_get(t, API_F_PROOFS);
	const char *name;
	size_t i;

	json_array_foreach(json_object_get(r, API_F_TEXTS), i, v)
		json_array_append(texts, v);
	json_object_set_new(t, API_F_MASKS, json_integer(json_integer_value(
	    json_object_get(t, API_F_MASKS)) + json_integer_value(
	    json_object_get(r, API_F_MASKS))));
	json_object_foreach(json_object_get(r, API_F_FOUND), name, v) {
		n = json_object_get(found, name);
		json_object_set_new(found, name, json_integer(
		    json_integer_value(n) + json_integer_value(v)));
	}
	/* A proof from any batch will do. */
	json_object_foreach(json_object_get(r, API_F_PROOFS), name, v)
		if (json_is_string(v))
			json_object_set(proofs, name, v);
}

int
client_redact(struct client *cl, json_t *texts, const char *task,
    const char *intent, json_t **out, struct al_err *err)
{
	/* Room in a body for the fields around the texts. */
	const size_t room = API_REDACT_BODY_MAX - 2 * API_TEXT_MAX - 64;
	json_t *total, *batch = NULL, *reply = NULL, *v;
	size_t i, n = json_array_size(texts), size = 0, one = 0;
	char *enc;
	int rc = 0;

	*out = NULL;
	if ((total = json_pack("{s:[],s:I,s:{},s:{}}", API_F_TEXTS,
	    API_F_MASKS, (json_int_t)0, API_F_FOUND, API_F_PROOFS)) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	for (i = 0; i <= n; i++) {
		if (i < n) {
			v = json_array_get(texts, i);
			if (!json_is_string(v)) {
				rc = al_err_set(err, AL_EINVAL, "redact takes "
				    "strings only");
				goto out;
			}
			/* Its size as the request will carry it. */
			if ((enc = json_dumps(v, JSON_ENCODE_ANY)) == NULL) {
				rc = al_err_set(err, AL_ENOMEM, "out of memory");
				goto out;
			}
			one = strlen(enc) + 1;
			free(enc);
			if (one > room) {
				rc = al_err_set(err, AL_ETOOBIG, "a text of %zu "
				    "bytes is more than the broker masks at "
				    "once (2 MiB)", json_string_length(v));
				goto out;
			}
		}
		if (batch != NULL && (i == n || size + one > room ||
		    json_array_size(batch) == API_REDACT_TEXTS_MAX)) {
			if ((rc = redact_batch(cl, batch, task, intent, &reply,
			    err)) != 0)
				goto out;
			redact_merge(total, reply);
			json_decref(reply);
			reply = NULL;
			json_decref(batch);
			batch = NULL;
			size = 0;
		}
		if (i == n)
			break;
		if (batch == NULL && (batch = json_array()) == NULL) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			goto out;
		}
		json_array_append(batch, v);
		size += one;
	}
	/* No text at all: still one request, so the call is audited. */
	if (n == 0) {
		if ((batch = json_array()) == NULL ||
		    (rc = redact_batch(cl, batch, task, intent, &reply,
		    err)) != 0)
			goto out;
		json_decref(reply);
	}
	*out = total;
	total = NULL;
out:
	json_decref(batch);
	json_decref(total);
	return rc;
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

int
client_guard_counts(struct client *cl, json_t *counts, struct al_err *err)
{
	json_t *reply = NULL;
	int rc;

	rc = client_call(cl, "POST", API_GUARD_COUNTS, counts, NULL, NULL,
	    &reply, err);
	json_decref(reply);
	return rc;
}

/* Client calls for a run's proxy: start it with the run's leases, end it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/api.h"
#include "client_int.h"

static int
copy(char *dst, size_t dstsz, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL || snprintf(dst, dstsz, "%s", s) >= (int)dstsz)
		return -1;
	return 0;
}

void
client_proxy_release(struct client_proxy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		free(p->placeholders[i]);
	free(p->placeholders);
	free(p->ca_pem);
	memset(p, 0, sizeof(*p));
}

int
client_proxy_start(struct client *cl, const char *const *leases, size_t n,
    int isolated, struct client_proxy *out, struct al_err *err)
{
	json_t *body = NULL, *ids, *reply = NULL, *o, *phs, *e;
	const char *ph, *lease;
	long status = 0;
	size_t i, k;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((ids = json_array()) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		json_array_append_new(ids, json_string(leases[i]));
	if ((body = json_pack("{s:o,s:b}", "leases", ids, "isolated",
	    isolated)) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	rc = client_call(cl, "POST", API_PROXIES, body, NULL, &status, &reply,
	    err);
	json_decref(body);
	if (rc != 0)
		return rc;
	rc = al_err_set(err, AL_EPROTO, "unexpected reply to a proxy request "
	    "(HTTP %ld)", status);
	o = json_object_get(reply, "proxy");
	phs = json_object_get(o, "placeholders");
	if (status != 201 || !json_is_object(o) || !json_is_array(phs) ||
	    json_array_size(phs) != n ||
	    copy(out->id, sizeof(out->id), o, "id") != 0 ||
	    copy(out->host, sizeof(out->host), o, "host") != 0 ||
	    copy(out->user, sizeof(out->user), o, "user") != 0 ||
	    copy(out->credential, sizeof(out->credential), o,
	    "credential") != 0 ||
	    !json_is_string(json_object_get(o, "ca")) ||
	    !json_is_integer(json_object_get(o, "port")))
		goto out;
	out->port = (int)json_integer_value(json_object_get(o, "port"));
	if (json_object_get(o, "handoff") != NULL &&
	    copy(out->handoff, sizeof(out->handoff), o, "handoff") != 0)
		goto out;
	out->expires = json_integer_value(json_object_get(o, "expires_unix"));
	if ((out->ca_pem = strdup(json_string_value(json_object_get(o,
	    "ca")))) == NULL ||
	    (out->placeholders = calloc(n, sizeof(char *))) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	out->n = n;
	/* In the order of the leases asked for. */
	for (i = 0; i < n; i++) {
		json_array_foreach(phs, k, e) {
			lease = json_string_value(json_object_get(e, "lease"));
			ph = json_string_value(json_object_get(e,
			    "placeholder"));
			if (lease != NULL && ph != NULL &&
			    strcmp(lease, leases[i]) == 0 &&
			    out->placeholders[i] == NULL &&
			    (out->placeholders[i] = strdup(ph)) == NULL) {
				rc = al_err_set(err, AL_ENOMEM, "out of "
				    "memory");
				goto out;
			}
		}
		if (out->placeholders[i] == NULL)
			goto out;
	}
	rc = 0;
out:
	json_decref(reply);
	if (rc != 0)
		client_proxy_release(out);
	return rc;
}

int
client_proxy_end(struct client *cl, const char *id, struct al_err *err)
{
	char path[128];
	long status = 0;

	if (snprintf(path, sizeof(path), "%s/%s", API_PROXIES, id) >=
	    (int)sizeof(path))
		return al_err_set(err, AL_EINVAL, "bad proxy id");
	return client_call(cl, "DELETE", path, NULL, NULL, &status, NULL,
	    err);
}

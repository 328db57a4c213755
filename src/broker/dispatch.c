/*
 * Transport-free request dispatch: a route table maps (method, path
 * pattern) to a handler.  A pattern segment ":" captures one path segment
 * (an id or a name), which the handler validates.  Everything a request can
 * carry is checked here or in the handler; nothing from the request is
 * trusted, and every outcome is a response.
 */
#include <stdio.h>
#include <string.h>

#include "broker_int.h"
#include "engine_glue.h"

struct route {
	const char	*method;
	const char	*pattern;	/* "/v1/leases/:/value" */
	int		 json_body;	/* parse the body as a JSON object */
	void		(*fn)(struct route_args *a);
	const char	*query;		/* keys it takes, " k1 k2 "; NULL: none */
};

static const struct route routes[] = {
	{ "GET", "/v1/health", 0, h_health, NULL },
	{ "GET", "/metrics", 0, h_metrics, NULL },
	{ "GET", "/v1/secrets", 0, h_secrets_list, NULL },
	{ "GET", "/v1/secrets/*", 0, h_secret_show, NULL },	/* work/aws/key */
	{ "POST", "/v1/leases", 1, h_lease_create, NULL },
	{ "GET", "/v1/leases", 0, h_lease_list, " ids wait " },
	{ "POST", "/v1/leases/revoke", 1, h_lease_revoke_task, NULL },
	{ "POST", "/v1/exposures", 1, h_exposure_report, NULL },
	{ "GET", "/v1/leases/:", 0, h_lease_get, NULL },
	{ "DELETE", "/v1/leases/:", 0, h_lease_revoke, NULL },
	{ "GET", "/v1/leases/:/value", 0, h_lease_value, NULL },
	{ "GET", "/v1/approvals", 0, h_approvals_list, " all " },
	{ "GET", "/v1/approvals/:", 0, h_approval_get, " wait " },
	{ "POST", "/v1/approvals/:/approve", 1, h_approve, NULL },
	{ "POST", "/v1/approvals/:/deny", 1, h_deny, NULL },
	{ "GET", "/v1/audit", 0, h_audit_tail, " n task secret lease " },
	{ "POST", "/v1/redact", 1, h_redact, NULL },
	{ "POST", "/v1/redact/stream", 0, h_redact_stream,
	    " task intent secrets " },
	{ "POST", "/v1/proxies", 1, h_proxy_start, NULL },
	{ "DELETE", "/v1/proxies/:", 0, h_proxy_end, NULL },
	{ "POST", "/v1/policy/reload", 1, h_policy_reload, NULL },
	{ "POST", "/v1/guard/counts", 1, h_guard_counts, NULL },
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))
#define PARAM_MAX 128

/*
 * Match path against pattern; the ":" segment (or "*" at the end: the rest
 * of the path, '/' included) is copied into param.
 */
static int
match(const char *pattern, const char *path, char *param)
{
	size_t n;

	param[0] = '\0';
	while (*pattern && *path) {
		if (pattern[0] == '*' && pattern[1] == '\0') {
			n = strlen(path);
			if (n >= PARAM_MAX)
				return 0;
			memcpy(param, path, n + 1);
			return 1;
		}
		if (pattern[0] == ':' && (pattern[1] == '/' ||
		    pattern[1] == '\0')) {
			n = strcspn(path, "/");
			if (n == 0 || n >= PARAM_MAX)
				return 0;
			memcpy(param, path, n);
			param[n] = '\0';
			path += n;
			pattern++;
			continue;
		}
		if (*pattern != *path)
			return 0;
		pattern++;
		path++;
	}
	return *pattern == '\0' && *path == '\0';
}

/*
 * Whether every key of query ("k=v&k=v", may be NULL) is one the route
 * takes.  A query a route ignores is refused rather than dropped: a client
 * that thinks it filtered or waited must learn that it did not.
 */
static int
query_ok(const struct route *rt, const char *query)
{
	char key[32 + 3];	/* ' ', a key of at most 32, ' ', NUL */
	size_t n;

	while (query != NULL && *query) {
		n = strcspn(query, "=&");
		if (rt->query == NULL || n == 0 || n > 32)
			return 0;
		key[0] = ' ';
		memcpy(key + 1, query, n);
		key[n + 1] = ' ';
		key[n + 2] = '\0';
		if (strstr(rt->query, key) == NULL)
			return 0;
		query += strcspn(query, "&");
		if (*query == '&')
			query++;
	}
	return 1;
}

size_t
broker_body_max(const char *path)
{
	/* Texts to mask are bulk; everything else is a few fields. */
	return path != NULL && strcmp(path, API_REDACT) == 0 ?
	    API_REDACT_BODY_MAX : API_BODY_MAX;
}

int
broker_route_rechecks(const char *method, const char *path)
{
	char param[PARAM_MAX];
	size_t i;

	if (method == NULL || path == NULL)
		return 0;
	for (i = 0; i < NROUTES; i++)
		if (match(routes[i].pattern, path, param) &&
		    strcmp(routes[i].method, method) == 0)
			return routes[i].fn == h_lease_create ||
			    routes[i].fn == h_lease_value;
	return 0;
}

void
broker_dispatch(struct broker *b, const struct broker_req *req,
    struct broker_resp *r)
{
	const struct route *rt = NULL;
	struct route_args a;
	char param[PARAM_MAX], msg[160];
	json_error_t jerr;
	int path_known = 0;
	size_t i;

	memset(&a, 0, sizeof(a));
	b->metrics.requests++;
	/* An edited policy.yaml is in force from the next request on. */
	policy_watch(b);
	if (req->method == NULL || req->path == NULL || req->caller == NULL) {
		reply_error(r, 400, API_E_BAD_REQUEST, "incomplete request");
		goto out;
	}
	for (i = 0; i < NROUTES; i++) {
		if (!match(routes[i].pattern, req->path, param))
			continue;
		path_known = 1;
		if (strcmp(routes[i].method, req->method) == 0) {
			rt = &routes[i];
			break;
		}
	}
	if (rt == NULL) {
		if (path_known)
			reply_error(r, 405, API_E_METHOD, "method not allowed "
			    "on this route (see docs/api.md)");
		else
			reply_error(r, 404, API_E_NOT_FOUND, "no such route "
			    "(see docs/api.md)");
		goto out;
	}
	if (!query_ok(rt, req->query)) {
		/* Keys are not echoed: they are the caller's input. */
		if (rt->query == NULL)
			(void)snprintf(msg, sizeof(msg), "this route takes no "
			    "query string (see docs/api.md)");
		else
			(void)snprintf(msg, sizeof(msg), "unknown query "
			    "parameter: this route takes only%.*s(see "
			    "docs/api.md)", (int)strlen(rt->query), rt->query);
		reply_error(r, 400, API_E_BAD_REQUEST, msg);
		goto out;
	}
	if (req->body.len > broker_body_max(req->path)) {
		reply_error(r, 413, API_E_TOO_BIG, "request body is larger "
		    "than the route takes (16 KiB; 2 MiB for /v1/redact)");
		goto out;
	}
	if (rt->json_body) {
		/* An empty body stands for {}. */
		if (req->body.len == 0)
			a.body = json_object();
		else
			a.body = json_loadb((const char *)req->body.p,
			    req->body.len, JSON_REJECT_DUPLICATES, &jerr);
		if (a.body == NULL || !json_is_object(a.body)) {
			if (a.body == NULL) {
				/* By position: the input is never quoted. */
				(void)snprintf(msg, sizeof(msg), "malformed "
				    "JSON body at byte %d", jerr.position);
				reply_error(r, 400, API_E_BAD_REQUEST, msg);
			} else
				reply_error(r, 400, API_E_BAD_REQUEST,
				    "the body must be a JSON object");
			goto out;
		}
	} else if (req->body.len != 0) {
		reply_error(r, 400, API_E_BAD_REQUEST, "this route takes no "
		    "body");
		goto out;
	}
	a.b = b;
	a.req = req;
	a.resp = r;
	a.param = param;
	rt->fn(&a);
out:
	if (r->status >= 400 && r->status != 403)
		b->metrics.errors++;
	json_decref(a.body);
}

void
broker_resp_init(struct broker_resp *r)
{
	memset(r, 0, sizeof(*r));
	al_buf_init(&r->body, 8 * 1024 * 1024, 0);
	r->status = 500;
	r->content_type = API_CT_JSON;
}

void
broker_resp_release(struct broker_resp *r)
{
	al_buf_release(&r->body);
	al_secret_free(r->value);
	r->value = NULL;
	rstream_free(r->upgrade);
	r->upgrade = NULL;
	eng_job_abandon(r->job);
	r->job = NULL;
}

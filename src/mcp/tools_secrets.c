/*
 * The broker tools: list_secrets (metadata only), request_access (a lease,
 * a pending approval or a denial with its reason) and revoke (one lease or
 * a whole task).  Each call opens its own connection to the broker, so the
 * broker sees this server's process as the caller and policy decides as it
 * would for `airlock run`.  No value is ever fetched here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "airlock/client.h"
#include "mcp_int.h"

/* ---- list_secrets ------------------------------------------------------- */

static const char list_input[] =
"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{}}";

static const char list_output[] =
"{\"type\":\"object\",\"required\":[\"count\",\"secrets\"],\"properties\":{"
"\"count\":{\"type\":\"integer\"},"
"\"secrets\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
"\"required\":[\"name\",\"owner\",\"purpose\",\"status\",\"hosts\","
"\"expires\"],\"properties\":{"
"\"name\":{\"type\":\"string\"},"
"\"owner\":{\"type\":\"string\"},"
"\"purpose\":{\"type\":\"string\"},"
"\"status\":{\"type\":\"string\"},"
"\"hosts\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
"\"expires\":{\"type\":[\"string\",\"null\"]},"
"\"labels\":{\"type\":\"object\"}}}}}}";

static json_t *
str_or_empty(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_incref(v) : json_string("");
}

static int
list_call(struct mcp_call *c, json_t *args, struct mcp_result *r,
    struct al_err *err)
{
	struct client *cl = NULL;
	json_t *all = NULL, *out = NULL, *it, *e, *hosts, *exp, *labels;
	size_t i;
	int rc;

	(void)args;
	if ((rc = mcp_client_open(c->srv, &cl, err)) != 0)
		goto out;
	if ((rc = client_secrets(cl, &all, err)) != 0)
		goto out;
	if ((out = json_array()) == NULL) {
		rc = AL_ENOMEM;
		goto out;
	}
	/* Field by field: whatever else the broker adds never passes. */
	json_array_foreach(all, i, it) {
		hosts = json_object_get(it, "hosts");
		exp = json_object_get(it, "expires");
		labels = json_object_get(it, "labels");
		e = json_pack("{s:o, s:o, s:o, s:o, s:o, s:O, s:o}",
		    "name", str_or_empty(it, "name"),
		    "owner", str_or_empty(it, "owner"),
		    "purpose", str_or_empty(it, "purpose"),
		    "status", str_or_empty(it, "status"),
		    "hosts", json_is_array(hosts) ? json_incref(hosts) :
		    json_array(),
		    "expires", json_is_string(exp) ? exp : json_null(),
		    "labels", json_is_object(labels) ? json_incref(labels) :
		    json_object());
		if (e == NULL || json_array_append_new(out, e) != 0) {
			rc = AL_ENOMEM;
			goto out;
		}
	}
	r->structured = json_pack("{s:i, s:O}", "count",
	    (int)json_array_size(out), "secrets", out);
	rc = r->structured == NULL ? AL_ENOMEM : 0;
out:
	json_decref(out);
	json_decref(all);
	client_close(cl);
	return rc;
}

const struct mcp_tool mcp_tool_list_secrets = {
	.name = "list_secrets",
	.title = "List secrets",
	.description = "List the secrets airlock holds: name, owner, purpose, "
	    "the hosts each may be sent to, status and expiry. Metadata only: "
	    "values are never shown. Use a name with `run` (in `env`) or "
	    "`request_access`.",
	.input_schema = list_input,
	.output_schema = list_output,
	.read_only = 1,
	.idempotent = 1,
	.slow = 1,
	.call = list_call,
};

/* ---- request_access ----------------------------------------------------- */

static const char request_input[] =
"{\"type\":\"object\",\"additionalProperties\":false,"
"\"required\":[\"secret\"],\"properties\":{"
"\"secret\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,"
"\"description\":\"The secret's name (see list_secrets).\"},"
"\"task\":{\"type\":\"string\",\"maxLength\":256,\"description\":"
"\"The task this is for; `revoke` with the same task ends every lease of "
"it.\"},"
"\"intent\":{\"type\":\"string\",\"maxLength\":256,\"description\":"
"\"What the secret will be used for, as policy and the audit log see it.\"},"
"\"ttl\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":86400,"
"\"description\":\"Lease lifetime in seconds (policy may shorten it).\"}}}";

static const char request_output[] =
"{\"type\":\"object\",\"required\":[\"status\",\"secret\",\"message\"],"
"\"properties\":{"
"\"status\":{\"type\":\"string\",\"enum\":[\"granted\",\"pending\","
"\"denied\"]},"
"\"secret\":{\"type\":\"string\"},"
"\"message\":{\"type\":\"string\"},"
"\"lease\":{\"type\":\"string\"},"
"\"expires\":{\"type\":\"string\"},"
"\"task\":{\"type\":\"string\"},"
"\"uses_left\":{\"type\":\"integer\"},"
"\"use\":{\"type\":\"string\",\"enum\":[\"any\",\"proxy\"],"
"\"description\":\"proxy: the secret may only be used through run with "
"proxy: true\"},"
"\"approval\":{\"type\":\"string\"},"
"\"approve_command\":{\"type\":\"string\"},"
"\"rule\":{\"type\":\"string\"},"
"\"reason\":{\"type\":\"string\"}}}";

static void
iso_time(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(out, 32, "%lld", (long long)t);
}

/*
 * The client words a denial "denied by policy rule 'RULE': REASON" (or
 * "denied: REASON" without a rule): take both apart for the result.
 */
static void
split_denial(const char *msg, char *rule, size_t rsz, const char **reason)
{
	static const char pre[] = "denied by policy rule '";
	const char *q;

	rule[0] = '\0';
	*reason = msg;
	if (strncmp(msg, pre, sizeof(pre) - 1) == 0 &&
	    (q = strstr(msg + sizeof(pre) - 1, "': ")) != NULL) {
		(void)snprintf(rule, rsz, "%.*s", (int)(q - msg -
		    (int)(sizeof(pre) - 1)), msg + sizeof(pre) - 1);
		*reason = q + 3;
	} else if (strncmp(msg, "denied: ", 8) == 0) {
		*reason = msg + 8;
	}
}

static const char *
opt_str(json_t *args, const char *k)
{
	return json_string_value(json_object_get(args, k));
}

static int
request_call(struct mcp_call *c, json_t *args, struct mcp_result *r,
    struct al_err *err)
{
	struct client *cl = NULL;
	struct client_lease_req req;
	struct client_lease lease;
	struct client_approval ap;
	struct al_err e2;
	char when[32], cmd[64], rule[65];
	const char *reason;
	int rc;

	al_err_clear(&e2);
	memset(&req, 0, sizeof(req));
	req.secret = opt_str(args, "secret");
	req.task = opt_str(args, "task");
	req.intent = opt_str(args, "intent");
	req.ttl = json_integer_value(json_object_get(args, "ttl"));
	/* The lease outlives this call: not bound to the connection. */
	req.bind = 0;
	if ((rc = mcp_client_open(c->srv, &cl, err)) != 0)
		goto out;
	rc = client_lease_request(cl, &req, &lease, &ap, &e2);
	if (rc == 0) {
		iso_time(lease.expires, when);
		r->structured = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, "
		    "s:s}", "status", "granted", "secret", req.secret, "lease",
		    lease.id, "expires", when, "task", lease.task, "use",
		    lease.proxy_only ? "proxy" : "any", "message",
		    lease.proxy_only ? "granted, through the proxy only: use "
		    "the secret with `run` and \"proxy\": true (env: {VAR: "
		    "secret}); `revoke` the lease or the task when done" :
		    "granted: use the secret with `run` (env: {VAR: secret}); "
		    "`revoke` the lease or the task when done");
		if (r->structured != NULL && lease.uses_left >= 0)
			json_object_set_new(r->structured, "uses_left",
			    json_integer(lease.uses_left));
	} else if (rc == AL_EPENDING) {
		(void)snprintf(cmd, sizeof(cmd), "airlock approve %s", ap.id);
		r->structured = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
		    "status", "pending", "secret", req.secret, "approval",
		    ap.id, "approve_command", cmd, "rule", ap.rule,
		    "message", e2.msg);
	} else if (rc == AL_EDENIED) {
		split_denial(e2.msg, rule, sizeof(rule), &reason);
		r->structured = json_pack("{s:s, s:s, s:s, s:s}",
		    "status", "denied", "secret", req.secret,
		    "reason", reason, "message", e2.msg);
		if (r->structured != NULL && rule[0] != '\0')
			json_object_set_new(r->structured, "rule",
			    json_string(rule));
		r->is_error = 1;
	} else {
		/* Unknown secret, broker trouble: the model reads why. */
		rc = mcp_result_error(r, "request_access: %s", e2.msg);
		goto out;
	}
	rc = r->structured == NULL ? AL_ENOMEM : 0;
out:
	client_close(cl);
	return rc;
}

const struct mcp_tool mcp_tool_request_access = {
	.name = "request_access",
	.title = "Request access to a secret",
	.description = "Ask the broker for a short-lived lease on a secret, "
	    "for a task and an intent. Policy decides: granted (lease id and "
	    "expiry), pending (a human must run `airlock approve ID`; tell the "
	    "user), or denied (the reason and the rule). A lease never shows "
	    "the value; `run` uses secrets inside a boundary.",
	.input_schema = request_input,
	.output_schema = request_output,
	.open_world = 0,
	.slow = 1,
	.call = request_call,
};

/* ---- revoke ------------------------------------------------------------- */

static const char revoke_input[] =
"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
"\"lease\":{\"type\":\"string\",\"minLength\":32,\"maxLength\":32,"
"\"description\":\"A lease id (from request_access).\"},"
"\"task\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256,"
"\"description\":\"End every lease of this task.\"}}}";

static const char revoke_output[] =
"{\"type\":\"object\",\"required\":[\"revoked\"],\"properties\":{"
"\"revoked\":{\"type\":\"integer\"},"
"\"lease\":{\"type\":\"string\"},"
"\"task\":{\"type\":\"string\"}}}";

static int
revoke_call(struct mcp_call *c, json_t *args, struct mcp_result *r,
    struct al_err *err)
{
	struct client *cl = NULL;
	struct al_err e2;
	const char *lease = opt_str(args, "lease"), *task = opt_str(args,
	    "task");
	size_t n = 0;
	int rc;

	al_err_clear(&e2);
	if ((lease == NULL) == (task == NULL)) {
		r->bad_args = 1;
		r->text = strdup("Invalid arguments for tool revoke: give "
		    "exactly one of arguments.lease and arguments.task");
		return r->text == NULL ? AL_ENOMEM : 0;
	}
	if ((rc = mcp_client_open(c->srv, &cl, err)) != 0)
		goto out;
	if (lease != NULL)
		rc = client_lease_revoke(cl, lease, &e2);
	else
		rc = client_lease_revoke_task(cl, task, &n, &e2);
	if (rc != 0) {
		rc = mcp_result_error(r, "revoke: %s", e2.msg);
		goto out;
	}
	if (lease != NULL)
		r->structured = json_pack("{s:i, s:s}", "revoked", 1, "lease",
		    lease);
	else
		r->structured = json_pack("{s:i, s:s}", "revoked", (int)n,
		    "task", task);
	rc = r->structured == NULL ? AL_ENOMEM : 0;
out:
	client_close(cl);
	return rc;
}

const struct mcp_tool mcp_tool_revoke = {
	.name = "revoke",
	.title = "Revoke a lease or a task",
	.description = "End a lease (`lease`: its id) or every lease of a task "
	    "(`task`) at once. Do it when the work that needed the secret is "
	    "done.",
	.input_schema = revoke_input,
	.output_schema = revoke_output,
	.destructive = 1,
	.idempotent = 1,
	.slow = 1,
	.call = revoke_call,
};

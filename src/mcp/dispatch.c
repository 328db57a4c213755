/*
 * The transport-free MCP dispatcher: one JSON-RPC message in, at most one
 * reply out.  Both eras of the protocol are served side by side, chosen per
 * request as the reference SDK's stdio entry does: a request whose _meta
 * carries "io.modelcontextprotocol/protocolVersion" is a 2026-07-28
 * (stateless) request; anything else, and `initialize` without a valid
 * modern claim, follows the initialize-handshake rules of 2025-xx-xx.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp_int.h"

static const char *const legacy_versions[] = {
	"2025-11-25", "2025-06-18", "2025-03-26", NULL,
};

static const char *const log_levels[] = {
	"debug", "info", "notice", "warning", "error", "critical", "alert",
	"emergency", NULL,
};

static const char server_instructions[] =
"airlock lets you use credentials without ever seeing them. Call "
"list_secrets to see which secrets exist (metadata only), request_access "
"for a task-scoped lease, then run a command with the secret injected into "
"its environment: its output comes back redacted. revoke ends a lease or a "
"whole task when you are done. scan checks text or files for hardcoded "
"secrets before you write or commit them. No tool ever returns a secret "
"value; never ask the user to paste one.";

void
mcp_log(struct mcp_server *s, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (s->cfg.log == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);	/* may truncate */
	va_end(ap);
	al_msg(s->cfg.log, "mcp", "%s", buf);
}

char *
mcp_dump(json_t *j)
{
	/* Compact output never contains a raw newline: one message per line. */
	return json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
}

json_t *
mcp_error(json_t *id, int code, const char *msg, json_t *data)
{
	json_t *err, *r;

	err = json_pack("{s:i, s:s}", "code", code, "message", msg);
	if (err != NULL && data != NULL)
		json_object_set(err, "data", data);
	r = json_pack("{s:s, s:O?, s:o?}", "jsonrpc", "2.0", "id", id,
	    "error", err);
	if (r != NULL && id == NULL)
		json_object_set_new(r, "id", json_null());
	return r;
}

static json_t *
errorf(json_t *id, int code, json_t *data, const char *fmt, ...)
    AL_PRINTF(4, 5);

static json_t *
errorf(json_t *id, int code, json_t *data, const char *fmt, ...)
{
	char buf[768];
	va_list ap;
	json_t *r;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);	/* may truncate */
	va_end(ap);
	r = mcp_error(id, code, buf, data);
	json_decref(data);
	return r;
}

static json_t *
reply(json_t *id, json_t *result)
{
	if (result == NULL)
		return NULL;
	return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id,
	    "result", result);
}

static json_t *
server_info(void)
{
	return json_pack("{s:s, s:s, s:s}", "name", MCP_SERVER_NAME,
	    "title", "airlock", "version", AIRLOCK_VERSION);
}

json_t *
mcp_result_envelope(struct mcp_server *s, enum mcp_era era, json_t *result)
{
	json_t *meta;

	(void)s;
	if (result == NULL || era != MCP_ERA_MODERN)
		return result;
	/*
	 * 2026-07-28: every result carries resultType, and servers SHOULD
	 * identify themselves in _meta on every response.
	 */
	json_object_set_new(result, "resultType", json_string("complete"));
	meta = json_object_get(result, "_meta");
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(result, "_meta", meta);
	}
	json_object_set_new(meta, MCP_META_SERVER_INFO, server_info());
	return result;
}

static int
in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

static int
valid_id(json_t *id)
{
	return json_is_string(id) || json_is_integer(id);
}

/* ---- the 2026-07-28 envelope --------------------------------------- */

enum claim { CLAIM_NONE, CLAIM_MODERN, CLAIM_BAD };

/*
 * Validate the per-request envelope of a request that claims a revision.
 * Returns CLAIM_MODERN when it is well formed and names 2026-07-28; else
 * sets *errp to the -32602 or -32022 reply.
 */
static enum claim
check_envelope(json_t *id, json_t *meta, json_t **errp)
{
	json_t *v, *caps, *info, *lvl;
	const char *ver;

	*errp = NULL;
	v = json_object_get(meta, MCP_META_VERSION);
	caps = json_object_get(meta, MCP_META_CLIENT_CAPS);
	info = json_object_get(meta, MCP_META_CLIENT_INFO);
	lvl = json_object_get(meta, MCP_META_LOG_LEVEL);
	if (!json_is_string(v)) {
		*errp = errorf(id, MCP_INVALID_PARAMS, json_pack("{s:{s:s, s:s}}",
		    "envelope", "key", MCP_META_VERSION, "problem",
		    "expected a string"), "Invalid _meta envelope for protocol "
		    "revision %s: params._meta[\"%s\"] must be a string",
		    MCP_MODERN_VERSION, MCP_META_VERSION);
		return CLAIM_BAD;
	}
	if (!json_is_object(caps)) {
		*errp = errorf(id, MCP_INVALID_PARAMS, json_pack("{s:{s:s, s:s}}",
		    "envelope", "key", MCP_META_CLIENT_CAPS, "problem",
		    caps == NULL ? "missing" : "expected an object"),
		    "Invalid _meta envelope for protocol revision %s: "
		    "params._meta[\"%s\"] %s", MCP_MODERN_VERSION,
		    MCP_META_CLIENT_CAPS, caps == NULL ? "is missing" :
		    "must be an object");
		return CLAIM_BAD;
	}
	if (info != NULL && (!json_is_object(info) ||
	    !json_is_string(json_object_get(info, "name")) ||
	    !json_is_string(json_object_get(info, "version")))) {
		*errp = errorf(id, MCP_INVALID_PARAMS, json_pack("{s:{s:s, s:s}}",
		    "envelope", "key", MCP_META_CLIENT_INFO, "problem",
		    "expected {name, version} strings"), "Invalid _meta "
		    "envelope for protocol revision %s: params._meta[\"%s\"] "
		    "must be an object with string name and version",
		    MCP_MODERN_VERSION, MCP_META_CLIENT_INFO);
		return CLAIM_BAD;
	}
	if (lvl != NULL && (!json_is_string(lvl) ||
	    !in_list(log_levels, json_string_value(lvl)))) {
		*errp = errorf(id, MCP_INVALID_PARAMS, json_pack("{s:{s:s, s:s}}",
		    "envelope", "key", MCP_META_LOG_LEVEL, "problem",
		    "not a logging level"), "Invalid _meta envelope for "
		    "protocol revision %s: params._meta[\"%s\"] must be one of "
		    "debug, info, notice, warning, error, critical, alert, "
		    "emergency", MCP_MODERN_VERSION, MCP_META_LOG_LEVEL);
		return CLAIM_BAD;
	}
	ver = json_string_value(v);
	if (strcmp(ver, MCP_MODERN_VERSION) != 0) {
		*errp = errorf(id, MCP_UNSUPPORTED_VERSION,
		    json_pack("{s:[s], s:s}", "supported", MCP_MODERN_VERSION,
		    "requested", ver), "Unsupported protocol version: %s "
		    "(this server supports %s per request, and %s, %s, %s "
		    "through initialize)", ver, MCP_MODERN_VERSION,
		    legacy_versions[0], legacy_versions[1], legacy_versions[2]);
		return CLAIM_BAD;
	}
	return CLAIM_MODERN;
}

/* ---- methods ------------------------------------------------------- */

static json_t *
capabilities(void)
{
	return json_pack("{s:{s:b}}", "tools", "listChanged", 0);
}

static json_t *
do_initialize(struct mcp_server *s, json_t *id, json_t *params)
{
	json_t *pv, *caps, *info, *res;
	const char *want, *got;

	pv = json_object_get(params, "protocolVersion");
	caps = json_object_get(params, "capabilities");
	info = json_object_get(params, "clientInfo");
	if (!json_is_string(pv))
		return errorf(id, MCP_INVALID_PARAMS, NULL, "Invalid params: "
		    "params.protocolVersion must be a string (e.g. \"%s\")",
		    MCP_LATEST_LEGACY);
	if (!json_is_object(caps))
		return errorf(id, MCP_INVALID_PARAMS, NULL, "Invalid params: "
		    "params.capabilities must be an object");
	if (info != NULL && (!json_is_object(info) ||
	    !json_is_string(json_object_get(info, "name"))))
		return errorf(id, MCP_INVALID_PARAMS, NULL, "Invalid params: "
		    "params.clientInfo must be an object with a string name");
	want = json_string_value(pv);
	/*
	 * Version negotiation: the requested revision if we speak it, else
	 * our latest; the client disconnects if it cannot use that.  Modern
	 * revisions are never negotiated here (they need no handshake).
	 */
	got = in_list(legacy_versions, want) ? want : MCP_LATEST_LEGACY;
	(void)snprintf(s->version, sizeof(s->version), "%s", got);
	s->initialized = 0;
	if (info != NULL)
		mcp_log(s, "initialize from %s, protocol %s (asked %s)",
		    json_string_value(json_object_get(info, "name")), got,
		    want);
	res = json_pack("{s:s, s:o, s:o, s:s}", "protocolVersion", got,
	    "capabilities", capabilities(), "serverInfo", server_info(),
	    "instructions", server_instructions);
	return reply(id, res);
}

static json_t *
do_discover(struct mcp_server *s, json_t *id)
{
	json_t *res;

	/*
	 * supportedVersions lists the revisions reachable through
	 * server/discover only; 2025-era revisions are negotiated by
	 * initialize (as the reference SDK answers).
	 */
	res = json_pack("{s:[s], s:o, s:s, s:i, s:s}", "supportedVersions",
	    MCP_MODERN_VERSION, "capabilities", capabilities(), "instructions",
	    server_instructions, "ttlMs", 0, "cacheScope", "public");
	return reply(id, mcp_result_envelope(s, MCP_ERA_MODERN, res));
}

static json_t *
do_tools_list(struct mcp_server *s, json_t *id, json_t *params,
    enum mcp_era era)
{
	json_t *cursor, *res;

	cursor = json_object_get(params, "cursor");
	if (cursor != NULL) {
		/* We never hand out a cursor: the list fits in one page. */
		if (!json_is_string(cursor))
			return errorf(id, MCP_INVALID_PARAMS, NULL, "Invalid "
			    "params: params.cursor must be a string");
		return errorf(id, MCP_INVALID_PARAMS, NULL, "Invalid params: "
		    "params.cursor is not a cursor this server issued");
	}
	res = json_pack("{s:o}", "tools", mcp_tools_json(s));
	if (res == NULL)
		return NULL;
	if (era == MCP_ERA_MODERN) {
		/*
		 * The list is fixed for a given binary and the same for every
		 * caller: cacheable for five minutes, shareable.
		 */
		json_object_set_new(res, "ttlMs", json_integer(300000));
		json_object_set_new(res, "cacheScope", json_string("public"));
	} else if (strcmp(s->version, "2025-03-26") == 0) {
		size_t i;
		json_t *t;

		/* title and outputSchema arrived with 2025-06-18. */
		json_array_foreach(json_object_get(res, "tools"), i, t) {
			json_object_del(t, "title");
			json_object_del(t, "outputSchema");
		}
	}
	return reply(id, mcp_result_envelope(s, era, res));
}

static json_t *
do_tools_call(struct mcp_server *s, json_t *id, json_t *params,
    enum mcp_era era, struct mcp_sink *sink)
{
	const struct mcp_tool *t;
	struct mcp_call *c = NULL;
	json_t *name, *args, *meta, *tok = NULL, *schema = NULL, *r = NULL;
	char msg[512];
	json_error_t jerr;

	name = json_object_get(params, "name");
	args = json_object_get(params, "arguments");
	if (!json_is_string(name))
		return errorf(id, MCP_INVALID_PARAMS, NULL, "Invalid params: "
		    "params.name must be a string naming the tool");
	if (args != NULL && !json_is_object(args))
		return errorf(id, MCP_INVALID_PARAMS, NULL, "Invalid params: "
		    "params.arguments must be an object");
	if ((t = mcp_tool_find(s, json_string_value(name))) == NULL) {
		const char *const *n;
		char avail[256] = "";

		for (n = mcp_tool_names(); *n != NULL; n++) {
			if (avail[0] != '\0')
				(void)strncat(avail, ", ",
				    sizeof(avail) - strlen(avail) - 1);
			(void)strncat(avail, *n, sizeof(avail) - strlen(avail) - 1);
		}
		return errorf(id, MCP_INVALID_PARAMS, json_pack("{s:O}", "tool",
		    name), "Unknown tool: '%s' (this server offers: %s)",
		    json_string_value(name), avail[0] ? avail : "no tools");
	}
	meta = json_object_get(params, "_meta");
	if (json_is_object(meta)) {
		tok = json_object_get(meta, "progressToken");
		if (tok != NULL && !valid_id(tok))
			return errorf(id, MCP_INVALID_PARAMS, NULL, "Invalid "
			    "params: params._meta.progressToken must be a string "
			    "or an integer");
	}
	schema = json_loads(t->input_schema, 0, &jerr);
	if (schema == NULL)
		return errorf(id, MCP_INTERNAL_ERROR, NULL, "tool %s has a bad "
		    "input schema (line %d)", t->name, jerr.line);
	if (args == NULL)
		args = json_object();
	else
		json_incref(args);
	if (args == NULL)
		goto out;
	if (mcp_schema_check(schema, args, "arguments", msg, sizeof(msg))
	    != 0) {
		r = errorf(id, MCP_INVALID_PARAMS, NULL, "Invalid arguments for "
		    "tool %s: %s", t->name, msg);
		goto out;
	}
	if ((c = mcp_call_new(s, sink, id, era, tok)) == NULL)
		goto out;
	if (sink != NULL && t->slow) {
		int rc = mcp_call_spawn(s, t, c, args);

		if (rc == 0) {
			c = NULL;	/* the worker replies and frees it */
			goto out;
		}
		r = errorf(id, MCP_INTERNAL_ERROR, NULL, "too many tool calls "
		    "running at once (%d); wait for one to finish",
		    MCP_MAX_ACTIVE);
		goto out;
	}
	r = mcp_tool_invoke(s, t, c, args);
out:
	mcp_call_free(c);
	json_decref(args);
	json_decref(schema);
	return r;
}

static void
do_notification(struct mcp_server *s, const char *method, json_t *params)
{
	if (strcmp(method, "notifications/initialized") == 0) {
		s->initialized = 1;
	} else if (strcmp(method, "notifications/cancelled") == 0) {
		json_t *rid = json_object_get(params, "requestId");

		if (valid_id(rid))
			mcp_cancel(s, rid);
	} else if (s->cfg.verbose) {
		mcp_log(s, "ignoring notification %s", method);
	}
}

/* ---- one message ----------------------------------------------------- */

static json_t *
dispatch_one(struct mcp_server *s, json_t *msg, struct mcp_sink *sink,
    int in_batch)
{
	json_t *id, *method, *params, *meta, *err = NULL;
	const char *m;
	enum mcp_era era = MCP_ERA_LEGACY;
	int claimed;

	if (!json_is_object(msg))
		return errorf(NULL, MCP_INVALID_REQUEST, NULL, "Invalid Request: "
		    "a JSON-RPC message must be an object");
	id = json_object_get(msg, "id");
	method = json_object_get(msg, "method");
	params = json_object_get(msg, "params");
	if (!valid_id(id))
		id = NULL;
	if (!json_is_string(json_object_get(msg, "jsonrpc")) ||
	    strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0"))
		return errorf(id, MCP_INVALID_REQUEST, NULL, "Invalid Request: "
		    "\"jsonrpc\" must be \"2.0\"");
	if (method == NULL) {
		if (json_object_get(msg, "result") != NULL ||
		    json_object_get(msg, "error") != NULL) {
			/* A response: this server sends no requests. */
			mcp_log(s, "ignoring a response to no request");
			return NULL;
		}
		return errorf(id, MCP_INVALID_REQUEST, NULL, "Invalid Request: "
		    "\"method\" is missing");
	}
	if (!json_is_string(method))
		return errorf(id, MCP_INVALID_REQUEST, NULL, "Invalid Request: "
		    "\"method\" must be a string");
	m = json_string_value(method);
	if (params != NULL && !json_is_object(params)) {
		if (json_object_get(msg, "id") == NULL)
			return NULL;
		return errorf(id, MCP_INVALID_PARAMS, NULL, "Invalid params: "
		    "\"params\" must be an object");
	}
	if (json_object_get(msg, "id") == NULL) {
		do_notification(s, m, params);
		return NULL;
	}
	if (id == NULL)
		return errorf(NULL, MCP_INVALID_REQUEST, NULL, "Invalid Request: "
		    "\"id\" must be a string or an integer");
	if (s->cfg.verbose)
		mcp_log(s, "request %s", m);

	meta = json_object_get(params, "_meta");
	claimed = json_is_object(meta) &&
	    json_object_get(meta, MCP_META_VERSION) != NULL;
	if (claimed) {
		if (in_batch)
			return errorf(id, MCP_INVALID_REQUEST, NULL, "Invalid "
			    "Request: JSON-RPC batches may not contain requests "
			    "for protocol revision %s", MCP_MODERN_VERSION);
		if (check_envelope(id, meta, &err) == CLAIM_MODERN)
			era = MCP_ERA_MODERN;
		else if (strcmp(m, "initialize") != 0)
			return err;
		json_decref(err);	/* initialize with a bad claim: legacy */
	}

	if (era == MCP_ERA_LEGACY) {
		if (strcmp(m, "initialize") == 0)
			return do_initialize(s, id, params);
		if (strcmp(m, "ping") == 0)
			return reply(id, json_object());
	}
	if (strcmp(m, "server/discover") == 0)
		return do_discover(s, id);
	if (strcmp(m, "tools/list") == 0)
		return do_tools_list(s, id, params, era);
	if (strcmp(m, "tools/call") == 0)
		return do_tools_call(s, id, params, era, sink);
	if (era == MCP_ERA_MODERN)
		return errorf(id, MCP_METHOD_NOT_FOUND, NULL, "Method not found: "
		    "%s (not part of protocol revision %s)", m,
		    MCP_MODERN_VERSION);
	return errorf(id, MCP_METHOD_NOT_FOUND, NULL, "Method not found: %s "
	    "(this server offers initialize, ping, tools/list, tools/call and "
	    "server/discover)", m);
}

json_t *
mcp_dispatch(struct mcp_server *s, json_t *msg, struct mcp_sink *sink)
{
	json_t *out, *el, *r;
	size_t i;

	if (!json_is_array(msg))
		return dispatch_one(s, msg, sink, 0);
	/* A batch (2025-03-26): one array of replies, none for notifications. */
	if (json_array_size(msg) == 0)
		return errorf(NULL, MCP_INVALID_REQUEST, NULL, "Invalid Request: "
		    "empty batch");
	if ((out = json_array()) == NULL)
		return NULL;
	json_array_foreach(msg, i, el) {
		if ((r = dispatch_one(s, el, sink, 1)) != NULL)
			json_array_append_new(out, r);
	}
	if (json_array_size(out) == 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

int
mcp_handle(struct mcp_server *s, const char *msg, size_t len, char **resp)
{
	json_t *in, *out = NULL;
	json_error_t jerr;
	int rc = 0;

	*resp = NULL;
	if (len > MCP_MAX_MESSAGE) {
		out = errorf(NULL, MCP_PARSE_ERROR, NULL, "Parse error: message "
		    "of %zu bytes is over the limit of %u", len,
		    MCP_MAX_MESSAGE);
	} else if ((in = json_loadb(msg, len, JSON_DECODE_ANY |
	    JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		/* By position only: never quote input, it may hold a secret. */
		out = errorf(NULL, MCP_PARSE_ERROR, NULL, "Parse error: invalid "
		    "JSON at line %d, column %d", jerr.line, jerr.column);
	} else {
		out = mcp_dispatch(s, in, NULL);
		json_decref(in);
	}
	if (out != NULL) {
		if ((*resp = mcp_dump(out)) == NULL)
			rc = AL_ENOMEM;
		json_decref(out);
	}
	return rc;
}

/*
 * The tool registry: a fixed table in the order tools/list shows them, the
 * tools/list entries built from it, and the CallToolResult around what a
 * tool returns.  Each tool lives in its own tools_<name>.c and is listed
 * here only once the component behind it is part of the build, so
 * tools/list never offers a tool that cannot work.
 */
#include <stdlib.h>
#include <string.h>

#include "mcp_int.h"

const struct mcp_tool *const mcp_tools[] = {
	&mcp_tool_list_secrets,
	&mcp_tool_request_access,
	&mcp_tool_run,
	&mcp_tool_revoke,
	&mcp_tool_scan,
	NULL,
};

const size_t mcp_ntools = sizeof(mcp_tools) / sizeof(mcp_tools[0]) - 1;

const char *const *
mcp_tool_names(void)
{
	/* Kept in step with mcp_tools by hand: both are tiny and static. */
	static const char *const names[] = {
		"list_secrets",
		"request_access",
		"run",
		"revoke",
		"scan",
		NULL,
	};

	return names;
}

const struct mcp_tool *
mcp_tool_find(struct mcp_server *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->ntools; i++)
		if (strcmp(s->tools[i]->name, name) == 0)
			return s->tools[i];
	return NULL;
}

static json_t *
tool_json(const struct mcp_tool *t)
{
	json_t *o, *in, *out;
	json_error_t jerr;

	in = json_loads(t->input_schema, 0, &jerr);
	out = json_loads(t->output_schema, 0, &jerr);
	if (in == NULL || out == NULL) {
		json_decref(in);
		json_decref(out);
		return NULL;
	}
	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:{s:s, s:b, s:b, s:b, s:b}}",
	    "name", t->name, "title", t->title, "description", t->description,
	    "inputSchema", in, "outputSchema", out, "annotations",
	    "title", t->title, "readOnlyHint", t->read_only,
	    "destructiveHint", t->destructive, "idempotentHint", t->idempotent,
	    "openWorldHint", t->open_world);
	return o;
}

json_t *
mcp_tools_json(struct mcp_server *s)
{
	size_t i;

	if (s->tool_list == NULL) {
		if ((s->tool_list = json_array()) == NULL)
			return NULL;
		for (i = 0; i < s->ntools; i++)
			json_array_append_new(s->tool_list,
			    tool_json(s->tools[i]));
	}
	/* A deep copy: callers reshape it per protocol revision. */
	return json_deep_copy(s->tool_list);
}

json_t *
mcp_tool_invoke(struct mcp_server *s, const struct mcp_tool *t,
    struct mcp_call *c, json_t *args)
{
	struct mcp_result r;
	struct al_err err;
	json_t *res = NULL, *content;
	char *text = NULL;
	int rc;

	memset(&r, 0, sizeof(r));
	al_err_clear(&err);
	rc = t->call(c, args, &r, &err);
	if (mcp_call_is_cancelled(c))
		goto out;	/* a cancelled request gets no reply */
	if (rc == 0 && r.bad_args) {
		res = mcp_error(c->id, MCP_INVALID_PARAMS, r.text != NULL ?
		    r.text : "Invalid arguments", NULL);
		goto out;
	}
	if (rc != 0) {
		/*
		 * The model should see why the tool failed (the broker is
		 * down, ...): a tool error, not a protocol error.  Messages
		 * carry identifiers only, never values.
		 */
		json_decref(r.structured);
		r.structured = NULL;
		free(r.text);
		r.text = NULL;
		if (asprintf(&r.text, "%s failed: %s", t->name, err.msg[0] ?
		    err.msg : al_strerror(rc)) < 0)
			r.text = NULL;
		r.is_error = 1;
	}
	if (r.text == NULL && r.structured != NULL)
		text = json_dumps(r.structured, JSON_COMPACT | JSON_SORT_KEYS);
	content = json_pack("[{s:s, s:s}]", "type", "text", "text",
	    r.text != NULL ?
	    r.text : text != NULL ? text : "");
	res = json_pack("{s:o}", "content", content);
	if (res == NULL)
		goto out;
	/* structuredContent arrived with 2025-06-18. */
	if (r.structured != NULL && !c->old_rev)
		json_object_set(res, "structuredContent", r.structured);
	if (r.is_error)
		json_object_set_new(res, "isError", json_true());
	res = mcp_result_envelope(s, c->era, res);
	res = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", c->id,
	    "result", res);
out:
	free(text);
	free(r.text);
	json_decref(r.structured);
	return res;
}

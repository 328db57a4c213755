/* Unit tests for src/mcp: the transport-free dispatcher and the schemas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../src/mcp/mcp_int.h"

#define ENV26 "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":" \
	"\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{}}"

static int
setup(void **state)
{
	struct mcp_config cfg;
	struct mcp_server *s;

	memset(&cfg, 0, sizeof(cfg));
	if (mcp_server_new(&cfg, &s) != 0)
		return -1;
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	mcp_server_free(*state);
	return 0;
}

/* Send msg, parse the reply (NULL when there is none). */
static json_t *
ask(struct mcp_server *s, const char *msg)
{
	char *resp = NULL;
	json_t *j;

	assert_int_equal(mcp_handle(s, msg, strlen(msg), &resp), 0);
	if (resp == NULL)
		return NULL;
	assert_null(strchr(resp, '\n'));
	j = json_loads(resp, 0, NULL);
	assert_non_null(j);
	free(resp);
	return j;
}

static int
err_code(json_t *r)
{
	return (int)json_integer_value(json_object_get(json_object_get(r,
	    "error"), "code"));
}

static const char *
err_msg(json_t *r)
{
	return json_string_value(json_object_get(json_object_get(r, "error"),
	    "message"));
}

static void
test_mcp_parse_error_names_position_not_input(void **state)
{
	json_t *r = ask(*state, "{\"jsonrpc\":\"2.0\",\"id\":1,\"x\":sk-secret}");

	assert_int_equal(err_code(r), MCP_PARSE_ERROR);
	assert_true(json_is_null(json_object_get(r, "id")));
	assert_string_equal(err_msg(r),
	    "Parse error: invalid JSON at line 1, column 30");
	json_decref(r);
}

static void
test_mcp_notification_gets_no_reply(void **state)
{
	assert_null(ask(*state, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/initialized\"}"));
	assert_null(ask(*state, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/cancelled\",\"params\":{\"requestId\":4}}"));
	assert_null(ask(*state, "{\"jsonrpc\":\"2.0\",\"id\":3,"
	    "\"result\":{}}"));
}

static void
test_mcp_initialize_negotiates_version(void **state)
{
	json_t *r;

	r = ask(*state, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
	    "\"capabilities\":{}}}");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    r, "result"), "protocolVersion")), "2025-06-18");
	json_decref(r);
	r = ask(*state, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"initialize\",\"params\":{\"protocolVersion\":\"2026-07-28\","
	    "\"capabilities\":{}}}");
	/* A modern revision is never negotiated through initialize. */
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    r, "result"), "protocolVersion")), "2025-11-25");
	json_decref(r);
}

static void
test_mcp_modern_request_needs_capabilities(void **state)
{
	json_t *r;

	r = ask(*state, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/list\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/"
	    "protocolVersion\":\"2026-07-28\"}}}");
	assert_int_equal(err_code(r), MCP_INVALID_PARAMS);
	assert_non_null(strstr(err_msg(r),
	    "io.modelcontextprotocol/clientCapabilities\"] is missing"));
	json_decref(r);
}

static void
test_mcp_modern_unsupported_version_lists_supported(void **state)
{
	json_t *r, *data;

	r = ask(*state, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":"
	    "\"tools/list\",\"params\":{\"_meta\":{\"io.modelcontextprotocol/"
	    "protocolVersion\":\"2025-11-25\",\"io.modelcontextprotocol/"
	    "clientCapabilities\":{}}}}");
	assert_int_equal(err_code(r), MCP_UNSUPPORTED_VERSION);
	data = json_object_get(json_object_get(r, "error"), "data");
	assert_string_equal(json_string_value(json_object_get(data,
	    "requested")), "2025-11-25");
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    data, "supported"), 0)), "2026-07-28");
	json_decref(r);
}

static void
test_mcp_modern_result_has_result_type(void **state)
{
	json_t *r, *res;

	r = ask(*state, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"server/discover\",\"params\":{" ENV26 "}}");
	res = json_object_get(r, "result");
	assert_string_equal(json_string_value(json_object_get(res,
	    "resultType")), "complete");
	assert_true(json_is_integer(json_object_get(res, "ttlMs")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    json_object_get(res, "_meta"), MCP_META_SERVER_INFO), "name")),
	    "airlock");
	json_decref(r);
	r = ask(*state, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\","
	    "\"params\":{" ENV26 "}}");
	assert_int_equal(err_code(r), MCP_METHOD_NOT_FOUND);
	json_decref(r);
}

static void
test_mcp_unknown_tool_is_named(void **state)
{
	json_t *r;

	r = ask(*state, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"dump_vault\"}}");
	assert_int_equal(err_code(r), MCP_INVALID_PARAMS);
	assert_non_null(strstr(err_msg(r), "Unknown tool: 'dump_vault'"));
	json_decref(r);
}

/* ---- schema subset ------------------------------------------------- */

static const char run_like[] =
"{\"type\":\"object\",\"additionalProperties\":false,"
"\"required\":[\"command\"],\"properties\":{"
"\"command\":{\"oneOf\":[{\"type\":\"array\",\"minItems\":1,"
"\"items\":{\"type\":\"string\",\"minLength\":1}},"
"{\"type\":\"string\",\"minLength\":1}]},"
"\"env\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
"\"timeout_seconds\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":3600}}}";

static int
check(const char *args, char *msg, size_t msgsz)
{
	json_t *schema = json_loads(run_like, 0, NULL), *v;
	int rc;

	assert_non_null(schema);
	v = json_loads(args, 0, NULL);
	assert_non_null(v);
	rc = mcp_schema_check(schema, v, "arguments", msg, msgsz);
	json_decref(v);
	json_decref(schema);
	return rc;
}

static void
test_mcp_schema_accepts_both_command_forms(void **state)
{
	char msg[256];

	(void)state;
	assert_int_equal(check("{\"command\":[\"ls\",\"-l\"]}", msg,
	    sizeof(msg)), 0);
	assert_int_equal(check("{\"command\":\"ls -l\",\"env\":{\"T\":\"t\"},"
	    "\"timeout_seconds\":5}", msg, sizeof(msg)), 0);
}

static void
test_mcp_schema_names_the_parameter(void **state)
{
	char msg[256];

	(void)state;
	assert_int_equal(check("{}", msg, sizeof(msg)), -1);
	assert_string_equal(msg, "arguments.command is required");
	assert_int_equal(check("{\"command\":5}", msg, sizeof(msg)), -1);
	assert_string_equal(msg, "arguments.command must be an array or a "
	    "string");
	assert_int_equal(check("{\"command\":[\"ls\",3]}", msg, sizeof(msg)),
	    -1);
	assert_string_equal(msg, "arguments.command[1] must be a string");
	assert_int_equal(check("{\"command\":[]}", msg, sizeof(msg)), -1);
	assert_string_equal(msg, "arguments.command has too few items");
	assert_int_equal(check("{\"command\":\"x\",\"env\":{\"T\":1}}", msg,
	    sizeof(msg)), -1);
	assert_string_equal(msg, "arguments.env[<key>] must be a string");
	assert_int_equal(check("{\"command\":\"x\",\"timeout_seconds\":0}",
	    msg, sizeof(msg)), -1);
	assert_string_equal(msg, "arguments.timeout_seconds is below the "
	    "minimum");
	assert_int_equal(check("{\"command\":\"x\",\"sk-live-123\":1}", msg,
	    sizeof(msg)), -1);
	/* An unknown key is caller text: it is not echoed. */
	assert_string_equal(msg, "arguments has an unknown property (see the "
	    "tool's inputSchema)");
}

/* Keywords the validator implements; a schema using another is a bug. */
static const char *const known_keywords[] = {
	"type", "properties", "required", "additionalProperties", "items",
	"enum", "minLength", "maxLength", "minimum", "maximum", "minItems",
	"maxItems", "minProperties", "maxProperties", "oneOf", "description",
	"title", "default", "$schema", "examples", NULL,
};

static void
assert_known_keywords(json_t *schema)
{
	const char *k, *const *kw;
	json_t *v, *x;
	size_t i;
	int ok;

	json_object_foreach(schema, k, v) {
		for (ok = 0, kw = known_keywords; *kw != NULL; kw++)
			if (strcmp(*kw, k) == 0)
				ok = 1;
		if (!ok)
			fail_msg("schema keyword '%s' is not validated", k);
		if (strcmp(k, "properties") == 0)
			json_object_foreach(v, k, x)
				assert_known_keywords(x);
		else if (strcmp(k, "items") == 0 ||
		    (strcmp(k, "additionalProperties") == 0 && json_is_object(v)))
			assert_known_keywords(v);
		else if (strcmp(k, "oneOf") == 0)
			json_array_foreach(v, i, x)
				assert_known_keywords(x);
	}
}

static void
test_mcp_tool_schemas_are_valid_and_ordered(void **state)
{
	static const char *const order[] = {
		"list_secrets", "request_access", "run", "revoke", "scan",
	};
	const char *const *names = mcp_tool_names();
	size_t i, j, last = 0;
	json_t *in, *out;

	(void)state;
	for (i = 0; i < mcp_ntools; i++) {
		assert_string_equal(names[i], mcp_tools[i]->name);
		in = json_loads(mcp_tools[i]->input_schema, 0, NULL);
		out = json_loads(mcp_tools[i]->output_schema, 0, NULL);
		assert_non_null(in);
		assert_non_null(out);
		assert_string_equal(json_string_value(json_object_get(in,
		    "type")), "object");
		assert_string_equal(json_string_value(json_object_get(out,
		    "type")), "object");
		assert_known_keywords(in);
		for (j = 0; j < 5; j++)
			if (strcmp(order[j], names[i]) == 0)
				break;
		assert_true(j < 5);
		assert_true(i == 0 || j > last);
		last = j;
		json_decref(in);
		json_decref(out);
	}
	assert_null(names[mcp_ntools]);
}

/* ---- agent hooks without a broker: fail closed, in each agent's format -- */

static void
hook(enum mcp_hook_agent ag, const char *in, struct mcp_hook_answer *a)
{
	struct mcp_hook_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.home = "/nonexistent/airlock-test-home";
	assert_int_equal(mcp_hook_answer(&cfg, ag, in, strlen(in), a), 0);
}

static void
test_mcp_hook_fails_closed(void **state)
{
	struct mcp_hook_answer a;
	json_t *o;

	(void)state;
	hook(MCP_HOOK_CLAUDE, "{\"hook_event_name\":\"PreToolUse\","
	    "\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"ls\"}}", &a);
	assert_int_equal(a.exit_code, 0);
	assert_string_equal(a.action, "fail");
	o = json_loads(a.out, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(json_object_get(o,
	    "hookSpecificOutput"), "permissionDecision")), "deny");
	assert_non_null(strstr(a.err, "airlock hook failed, so this was "
	    "blocked to be safe: "));
	json_decref(o);
	mcp_hook_answer_release(&a);

	hook(MCP_HOOK_CLAUDE, "{\"hook_event_name\":\"PostToolUse\","
	    "\"tool_name\":\"Read\",\"tool_response\":{\"content\":\"x\"}}", &a);
	assert_int_equal(a.exit_code, 0);
	/* In the tool output's shape: Claude Code drops any other. */
	assert_non_null(strstr(a.out, "\"updatedToolOutput\":{\"content\":"
	    "\"[airlock: output withheld: the hook could not check it]\"}"));
	mcp_hook_answer_release(&a);

	hook(MCP_HOOK_CODEX, "{\"hook_event_name\":\"UserPromptSubmit\","
	    "\"prompt\":\"hi\"}", &a);
	assert_int_equal(a.exit_code, 0);
	assert_non_null(strstr(a.out, "{\"decision\":\"block\",\"reason\":"));
	mcp_hook_answer_release(&a);

	hook(MCP_HOOK_CURSOR, "{\"hook_event_name\":\"beforeSubmitPrompt\","
	    "\"prompt\":\"hi\"}", &a);
	assert_int_equal(a.exit_code, 2);
	assert_non_null(strstr(a.out, "{\"continue\":false,"));
	mcp_hook_answer_release(&a);

	/* Not JSON: no event to answer, so exit 2 and say why. */
	hook(MCP_HOOK_CLAUDE, "{\"hook_event_name\":", &a);
	assert_int_equal(a.exit_code, 2);
	assert_null(a.out);
	assert_non_null(strstr(a.err, "the hook input is not a JSON object"));
	mcp_hook_answer_release(&a);

	/* Events airlock does not guard, or nothing to check: no broker. */
	hook(MCP_HOOK_CLAUDE, "{\"hook_event_name\":\"Stop\"}", &a);
	assert_int_equal(a.exit_code, 0);
	assert_null(a.out);
	assert_string_equal(a.action, "allow");
	mcp_hook_answer_release(&a);
	hook(MCP_HOOK_CURSOR, "{\"hook_event_name\":\"beforeShellExecution\"}",
	    &a);
	assert_string_equal(a.out, "{\"permission\":\"allow\"}");
	mcp_hook_answer_release(&a);
}

static void
test_mcp_hook_agent_names(void **state)
{
	enum mcp_hook_agent ag;

	(void)state;
	assert_int_equal(mcp_hook_agent_parse("claude", &ag), 0);
	assert_int_equal(ag, MCP_HOOK_CLAUDE);
	assert_int_equal(mcp_hook_agent_parse("cursor", &ag), 0);
	assert_int_equal(ag, MCP_HOOK_CURSOR);
	assert_int_equal(mcp_hook_agent_parse("vim", &ag), AL_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_mcp_parse_error_names_position_not_input, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_mcp_notification_gets_no_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_mcp_initialize_negotiates_version, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_mcp_modern_request_needs_capabilities, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_mcp_modern_unsupported_version_lists_supported, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_mcp_modern_result_has_result_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mcp_unknown_tool_is_named,
		    setup, teardown),
		cmocka_unit_test(test_mcp_schema_accepts_both_command_forms),
		cmocka_unit_test(test_mcp_schema_names_the_parameter),
		cmocka_unit_test(test_mcp_tool_schemas_are_valid_and_ordered),
		cmocka_unit_test(test_mcp_hook_fails_closed),
		cmocka_unit_test(test_mcp_hook_agent_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

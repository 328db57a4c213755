/* Unit tests for src/agent: merging into agents' configuration files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "airlock/agent.h"

static char dir[] = "/tmp/airlock-agent-test.XXXXXX";

static void
put(const char *rel, const char *text)
{
	char path[PATH_MAX], cmd[PATH_MAX + 32];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, rel);
	(void)snprintf(cmd, sizeof(cmd), "%s", path);
	*strrchr(cmd, '/') = '\0';
	(void)mkdir(cmd, 0755);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static struct agent_setup
setup_for(enum agent_kind k)
{
	struct agent_setup st;

	memset(&st, 0, sizeof(st));
	st.kind = k;
	st.scope = AGENT_SCOPE_PROJECT;
	st.project_dir = dir;
	st.home_dir = "/nonexistent";
	st.command = "/opt/air lock/airlock";
	st.with_hooks = 1;
	return st;
}

static int
group_setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
group_teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_agent_claude_merge_keeps_other_entries(void **state)
{
	struct agent_setup st = setup_for(AGENT_CLAUDE);
	struct agent_plan plan;
	struct al_err err;
	json_t *j, *pre;

	(void)state;
	put(".mcp.json", "{\"mcpServers\":{\"github\":{\"command\":\"gh\"}},"
	    "\"x\":[1,2]}");
	put(".claude/settings.json", "{\"model\":\"opus\",\"hooks\":{"
	    "\"PreToolUse\":[{\"matcher\":\"Bash\",\"hooks\":[{\"type\":"
	    "\"command\",\"command\":\"mine.sh\"}]}]}}");
	assert_int_equal(agent_plan_make(&st, &plan, &err), 0);
	assert_int_equal(plan.nfiles, 2);
	j = json_loads(plan.files[0].new_text, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    json_object_get(j, "mcpServers"), "github"), "command")), "gh");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    json_object_get(j, "mcpServers"), "airlock"), "command")),
	    "/opt/air lock/airlock");
	assert_int_equal(json_array_size(json_object_get(j, "x")), 2);
	json_decref(j);
	j = json_loads(plan.files[1].new_text, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "model")),
	    "opus");
	pre = json_object_get(json_object_get(j, "hooks"), "PreToolUse");
	assert_int_equal(json_array_size(pre), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(json_array_get(pre, 0), "hooks"), 0), "command")),
	    "mine.sh");
	/* A path with a space is quoted for the shell. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(json_array_get(pre, 1), "hooks"), 0), "command")),
	    "'/opt/air lock/airlock' hook claude");
	json_decref(j);
	assert_int_equal(agent_plan_apply(&plan, &err), 0);
	agent_plan_release(&plan);
	/* A second run changes nothing. */
	assert_int_equal(agent_plan_make(&st, &plan, &err), 0);
	assert_false(plan.files[0].changed);
	assert_false(plan.files[1].changed);
	agent_plan_release(&plan);
}

static void
test_agent_replaces_a_stale_hook_command(void **state)
{
	struct agent_setup st = setup_for(AGENT_CURSOR);
	struct agent_plan plan;
	struct al_err err;
	json_t *j, *l;

	(void)state;
	put(".cursor/hooks.json", "{\"version\":1,\"hooks\":{"
	    "\"beforeShellExecution\":[{\"command\":\"./audit.sh\"},"
	    "{\"command\":\"/old/airlock hook cursor\"}]}}");
	assert_int_equal(agent_plan_make(&st, &plan, &err), 0);
	j = json_loads(plan.files[1].new_text, 0, NULL);
	l = json_object_get(json_object_get(j, "hooks"),
	    "beforeShellExecution");
	assert_int_equal(json_array_size(l), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(l,
	    0), "command")), "./audit.sh");
	assert_string_equal(json_string_value(json_object_get(json_array_get(l,
	    1), "command")), "'/opt/air lock/airlock' hook cursor");
	assert_non_null(json_object_get(json_object_get(j, "hooks"),
	    "beforeSubmitPrompt"));
	json_decref(j);
	agent_plan_release(&plan);
}

static void
test_agent_bad_json_names_position(void **state)
{
	struct agent_setup st = setup_for(AGENT_CURSOR);
	struct agent_plan plan;
	struct al_err err;

	(void)state;
	put(".cursor/mcp.json", "{\n  \"mcpServers\": {,}\n}\n");
	al_err_clear(&err);
	assert_int_equal(agent_plan_make(&st, &plan, &err), AL_EINVAL);
	assert_non_null(strstr(err.msg, ".cursor/mcp.json:2:"));
	assert_non_null(strstr(err.msg, "not valid JSON"));
	put(".cursor/mcp.json", "{\"mcpServers\": []}");
	assert_int_equal(agent_plan_make(&st, &plan, &err), AL_EINVAL);
	assert_non_null(strstr(err.msg, "\"mcpServers\" is not an object"));
	put(".cursor/mcp.json", "{}");
}

static void
test_agent_toml_appends_then_replaces_in_place(void **state)
{
	struct agent_setup st = setup_for(AGENT_CODEX);
	struct agent_plan plan;
	struct al_err err;

	(void)state;
	put(".codex/config.toml", "# keep me\nmodel = \"o3\"\n\n"
	    "[mcp_servers.airlock]\ncommand = \"/old\"\nargs = [\"x\"]\n\n"
	    "[mcp_servers.airlock.env]\nA = \"1\"\n\n[profiles.x]\n"
	    "note = '''\n[mcp_servers.airlock]\n'''\n");
	st.airlock_home = "/h \"q\"";
	assert_int_equal(agent_plan_make(&st, &plan, &err), 0);
	assert_string_equal(plan.files[0].new_text, "# keep me\nmodel = "
	    "\"o3\"\n\n[mcp_servers.airlock]\ncommand = \"/opt/air lock/"
	    "airlock\"\nargs = [\"mcp\"]\n\n[mcp_servers.airlock.env]\n"
	    "AIRLOCK_HOME = \"/h \\\"q\\\"\"\n\n[profiles.x]\nnote = '''\n"
	    "[mcp_servers.airlock]\n'''\n");
	agent_plan_release(&plan);
	put(".codex/config.toml", "model = \"o3\"");
	st.airlock_home = NULL;
	assert_int_equal(agent_plan_make(&st, &plan, &err), 0);
	assert_string_equal(plan.files[0].new_text, "model = \"o3\"\n\n"
	    "[mcp_servers.airlock]\ncommand = \"/opt/air lock/airlock\"\n"
	    "args = [\"mcp\"]\n");
	agent_plan_release(&plan);
}

static void
test_agent_toml_refuses_inline_definition(void **state)
{
	struct agent_setup st = setup_for(AGENT_CODEX);
	struct agent_plan plan;
	struct al_err err;

	(void)state;
	put(".codex/config.toml", "[mcp_servers]\nother = { command = \"o\" }"
	    "\nairlock = { command = \"a\" }\n");
	al_err_clear(&err);
	assert_int_equal(agent_plan_make(&st, &plan, &err), AL_EINVAL);
	assert_non_null(strstr(err.msg, "config.toml:3: mcp_servers.airlock "
	    "is defined with dotted keys or an inline table"));
	put(".codex/config.toml", "mcp_servers.airlock.command = \"a\"\n");
	assert_int_equal(agent_plan_make(&st, &plan, &err), AL_EINVAL);
	assert_non_null(strstr(err.msg, "config.toml:1:"));
	put(".codex/config.toml", "");
}

/*
 * codex --guard: the selecting key goes first, the provider table last;
 * a model_provider inside a table or a multi-line string is not the
 * user's selection; --no-guard gives back the file byte for byte; the
 * user's own provider is refused.
 */
static void
test_agent_toml_guard_adds_and_removes_exactly(void **state)
{
	static const char user[] = "# mine\nmodel = \"o3\"\n\n"
	    "[mcp_servers.airlock]\ncommand = \"/opt/air lock/airlock\"\n"
	    "args = [\"mcp\"]\n\n[profiles.x]\nmodel_provider = \"oss\"\n"
	    "note = '''\nmodel_provider = \"b\"\n'''\n";
	struct agent_setup st = setup_for(AGENT_CODEX);
	struct agent_plan plan;
	struct al_err err;
	char *added;

	(void)state;
	st.with_hooks = 0;
	put(".codex/config.toml", user);
	st.guard_url = "http://127.0.0.1:8090";
	assert_int_equal(agent_plan_make(&st, &plan, &err), 0);
	assert_string_equal(plan.files[0].new_text, "model_provider = "
	    "\"airlock-guard\"\n# mine\nmodel = \"o3\"\n\n[mcp_servers."
	    "airlock]\ncommand = \"/opt/air lock/airlock\"\nargs = [\"mcp\"]"
	    "\n\n[profiles.x]\nmodel_provider = \"oss\"\nnote = '''\n"
	    "model_provider = \"b\"\n'''\n\n[model_providers.airlock-guard]"
	    "\nname = \"airlock guard\"\nbase_url = \"http://127.0.0.1:8090/"
	    "v1\"\nenv_key = \"OPENAI_API_KEY\"\nwire_api = \"responses\"\n");
	added = strdup(plan.files[0].new_text);
	agent_plan_release(&plan);
	/* Again, another port: the table is replaced, nothing doubled. */
	put(".codex/config.toml", added);
	st.guard_url = "http://127.0.0.1:9000";
	assert_int_equal(agent_plan_make(&st, &plan, &err), 0);
	assert_non_null(strstr(plan.files[0].new_text, "127.0.0.1:9000/v1"));
	assert_null(strstr(plan.files[0].new_text, "8090"));
	/* One selecting line, still the first. */
	assert_ptr_equal(strstr(plan.files[0].new_text, "model_provider = "
	    "\"airlock-guard\""), plan.files[0].new_text);
	assert_null(strstr(plan.files[0].new_text + 1, "model_provider = "
	    "\"airlock-guard\""));
	agent_plan_release(&plan);
	/* Undo: the file as it was. */
	put(".codex/config.toml", added);
	st.guard_url = NULL;
	st.unguard = 1;
	assert_int_equal(agent_plan_make(&st, &plan, &err), 0);
	assert_string_equal(plan.files[0].new_text, user);
	agent_plan_release(&plan);
	free(added);
	/* The user's selection is theirs. */
	put(".codex/config.toml", "model = \"o3\"\nmodel_provider = 'azure'"
	    "\n");
	st.unguard = 0;
	st.guard_url = "http://127.0.0.1:8090";
	al_err_clear(&err);
	assert_int_equal(agent_plan_make(&st, &plan, &err), AL_EINVAL);
	assert_non_null(strstr(err.msg, "config.toml:2: model_provider "
	    "already selects 'azure'"));
	put(".codex/config.toml", "");
}

static void
test_agent_diff_is_unified(void **state)
{
	struct agent_change c;
	struct al_buf b;

	(void)state;
	memset(&c, 0, sizeof(c));
	(void)snprintf(c.path, sizeof(c.path), "f");
	c.old_text = "a\nb\nc\nd\ne\nf\ng\nh\n";
	c.new_text = "a\nb\nc\nd\nE\nf\ng\nh\ni\n";
	c.changed = 1;
	al_buf_init(&b, 1 << 16, 0);
	assert_int_equal(agent_diff(&c, &b), 0);
	assert_string_equal(al_buf_str(&b), "--- f\n+++ f\n"
	    "@@ -2,7 +2,8 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n+i\n");
	al_buf_release(&b);
}

static void
test_agent_inspect_reports_wiring(void **state)
{
	struct agent_setup st = setup_for(AGENT_CLAUDE);
	struct agent_wiring w;

	(void)state;
	(void)st;
	agent_inspect(AGENT_CLAUDE, AGENT_SCOPE_PROJECT, dir, "/nonexistent",
	    &w);
	assert_true(w.mcp_present);
	assert_string_equal(w.mcp_command, "/opt/air lock/airlock");
	assert_string_equal(w.hooks,
	    "PreToolUse,PostToolUse,PostToolUseFailure,UserPromptSubmit");
	assert_false(w.error);
	agent_inspect(AGENT_CODEX, AGENT_SCOPE_USER, dir, "/nonexistent", &w);
	assert_false(w.mcp_present);
	assert_string_equal(w.hooks, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_claude_merge_keeps_other_entries),
		cmocka_unit_test(test_agent_replaces_a_stale_hook_command),
		cmocka_unit_test(test_agent_bad_json_names_position),
		cmocka_unit_test(test_agent_toml_appends_then_replaces_in_place),
		cmocka_unit_test(test_agent_toml_refuses_inline_definition),
		cmocka_unit_test(test_agent_toml_guard_adds_and_removes_exactly),
		cmocka_unit_test(test_agent_diff_is_unified),
		cmocka_unit_test(test_agent_inspect_reports_wiring),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

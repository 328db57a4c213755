/* airlock agent setup|status: wire airlock into Claude Code, Codex, Cursor. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "airlock/agent.h"
#include "airlock/vault.h"
#include "cli.h"
#include "gitcli.h"
#include "guardkeep.h"

const char cmd_agent_help[] =
"usage: airlock agent setup claude|codex|cursor [--project|--user]\n"
"                           [--dry-run] [--command PATH]\n"
"                           [--guard ADDRESS:PORT [--upstream URL]]\n"
"                           [--no-guard] [--sweep]\n"
"       airlock agent status [--json]\n"
"\n"
"setup merges airlock into the agent's own configuration: the MCP server\n"
"entry (`airlock mcp`) and the hook commands (`airlock hook AGENT`) that\n"
"guard every tool call, prompt and tool output.  Other servers, other hooks\n"
"and unrelated settings are kept; each file is replaced atomically and\n"
"keeps its mode.  Running setup again changes nothing.\n"
"\n"
"  agent   scope     MCP server entry          hooks\n"
"  claude  project   .mcp.json                 .claude/settings.json\n"
"  claude  user      ~/.claude.json            ~/.claude/settings.json\n"
"  codex   project   .codex/config.toml        .codex/hooks.json\n"
"  codex   user      ~/.codex/config.toml      ~/.codex/hooks.json\n"
"  cursor  project   .cursor/mcp.json          .cursor/hooks.json\n"
"  cursor  user      ~/.cursor/mcp.json        ~/.cursor/hooks.json\n"
"\n"
"Project files go at the root of the git repository (the current directory\n"
"outside one).  They are meant to be committed, so they name `airlock` as\n"
"found on $PATH and no $AIRLOCK_HOME: the agent inherits both from the\n"
"environment it starts in.  --user files record this binary's full path\n"
"and $AIRLOCK_HOME when set.  For Claude Code, settings.json also denies\n"
"reading secret files (.env*, *.pem, *.key, id_*, credentials*), which an\n"
"@-mention would attach without any tool call a hook could see.\n"
"\n"
"Options:\n"
"  --project        configure the project of the current directory (default)\n"
"  --user           configure the agent for every project of this user\n"
"  --dry-run        print the change as a unified diff; write nothing\n"
"  --command PATH   how the agent should start airlock (default: `airlock`\n"
"                   for a project; for --user, `airlock` when that is this\n"
"                   binary on $PATH, else its full path)\n"
"  --guard ADDR:PORT  (claude, codex) send the agent's API requests through\n"
"                   an `airlock guard` the broker runs on ADDR:PORT (Claude\n"
"                   Code: env.ANTHROPIC_BASE_URL in its settings; Codex: a\n"
"                   model provider in config.toml, selected); the guard is\n"
"                   listed in $AIRLOCK_HOME/guards.  --no-guard removes both\n"
"  --upstream URL   the provider the guard forwards to (default\n"
"                   https://api.anthropic.com, https://api.openai.com)\n"
"  --sweep          also run `airlock sweep --fix` when a session ends\n"
"                   (Claude Code's SessionEnd, Cursor's stop hook)\n"
"  --json           (status) print a JSON array\n"
"  -h, --help       show this help\n"
"\n"
"status shows, for each agent and scope, whether the MCP server entry is\n"
"present (and its command) and which hook events run airlock.\n"
"\n"
"Exit status: 0 success, 2 error (unparsable configuration file, bad usage).\n"
"See docs/agents.md for each agent end to end.\n";

/*
 * Whether this build has the agent hook commands (`airlock hook claude|
 * codex|cursor`, src/cli/hookagent.c).  Without them setup would wire the
 * MCP server only: a hook entry naming a command that does not exist would
 * block every tool call (the agents treat exit status 2 as "deny").
 */
static const int agent_hooks_built = 1;

/* The command an agent should run: "airlock" if that is us, else our path. */
static int
self_command(char *out, size_t outsz)
{
	char self[PATH_MAX], cand[PATH_MAX], real[PATH_MAX];
	const char *path = getenv("PATH"), *p, *colon;
	ssize_t n;
	size_t len;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
		return -1;
	self[n] = '\0';
	for (p = path; p != NULL && *p != '\0'; p = colon ? colon + 1 : NULL) {
		colon = strchr(p, ':');
		len = colon ? (size_t)(colon - p) : strlen(p);
		if (len == 0 || len + sizeof("/airlock") > sizeof(cand))
			continue;
		memcpy(cand, p, len);
		memcpy(cand + len, "/airlock", sizeof("/airlock"));
		if (realpath(cand, real) != NULL && strcmp(real, self) == 0) {
			(void)snprintf(out, outsz, "airlock");
			return 0;
		}
	}
	if (snprintf(out, outsz, "%s", self) >= (int)outsz)
		return -1;
	return 0;
}

/*
 * Where project files go: the root of the git repository, as `hook
 * install` does; outside a repository, the current directory (said).
 */
static int
project_root(char *out, size_t outsz)
{
	char *const argv[] = { "git", "rev-parse", "--show-toplevel", NULL };
	struct al_err err;

	if (cli_git_line(argv, out, outsz, 1, &err) == 0)
		return 0;
	if (getcwd(out, outsz) == NULL)
		return -1;
	al_msg(stderr, "note", "%s is not inside a git repository: the "
	    "project files go here", out);
	return 0;
}

static int
agent_setup(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "project", no_argument, NULL, 'p' },
		{ "user", no_argument, NULL, 'u' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "command", required_argument, NULL, 'c' },
		{ "guard", required_argument, NULL, 'g' },
		{ "no-guard", no_argument, NULL, 'G' },
		{ "upstream", required_argument, NULL, 'U' },
		{ "sweep", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent_setup st;
	char guard_url[96];
	const char *guard = NULL, *upstream = NULL;
	struct agent_plan plan;
	struct al_err err;
	struct al_buf diff;
	char cwd[PATH_MAX], cmd[PATH_MAX];
	const char *command = NULL;
	size_t i;
	int c, dry = 0, scope_set = 0, rc, any = 0, guard_added = 0, told = 0;

	memset(&st, 0, sizeof(st));
	al_err_clear(&err);
	st.scope = AGENT_SCOPE_PROJECT;
	optind = 0;
	opterr = 0;
	/* Options may follow the agent's name: let getopt permute. */
	while ((c = cli_getopt(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
		case 'u':
			if (scope_set && st.scope != (c == 'u' ?
			    AGENT_SCOPE_USER : AGENT_SCOPE_PROJECT))
				return cli_usage("agent setup", "--project and "
				    "--user exclude each other");
			st.scope = c == 'u' ? AGENT_SCOPE_USER :
			    AGENT_SCOPE_PROJECT;
			scope_set = 1;
			break;
		case 'n':
			dry = 1;
			break;
		case 's':
			st.with_sweep = 1;
			break;
		case 'c':
			if (optarg[0] == '\0')
				return cli_usage("agent setup", "--command "
				    "needs a non-empty value");
			command = optarg;
			break;
		case 'g':
			guard = optarg;
			break;
		case 'G':
			st.unguard = 1;
			break;
		case 'U':
			upstream = optarg;
			break;
		case 'h':
			return cli_print_help("agent", stdout);
		default:
			return cli_bad_option("agent setup", argc, argv, c);
		}
	}
	if (guard != NULL && st.unguard)
		return cli_usage("agent setup", "--guard and --no-guard exclude "
		    "each other");
	if (guard != NULL && (strncmp(guard, "127.", 4) != 0 ||
	    strchr(guard, ':') == NULL || strpbrk(guard, "/ \"'") != NULL ||
	    snprintf(guard_url, sizeof(guard_url), "http://%s", guard) >=
	    (int)sizeof(guard_url)))
		return cli_usage("agent setup", "--guard: '%s' is not a "
		    "loopback ADDRESS:PORT such as 127.0.0.1:8089", guard);
	if (guard != NULL)
		st.guard_url = guard_url;
	if (optind >= argc)
		return cli_usage("agent setup", "which agent? claude, codex or "
		    "cursor");
	if (agent_kind_parse(argv[optind], &st.kind) != 0)
		return cli_usage("agent setup", "unknown agent '%s' (claude, "
		    "codex or cursor)", argv[optind]);
	if (optind + 1 < argc)
		return cli_usage("agent setup", "unexpected argument '%s'",
		    argv[optind + 1]);
	if ((guard != NULL || st.unguard) && st.kind == AGENT_CURSOR)
		return cli_usage("agent setup", "--guard wires Claude Code and "
		    "Codex; Cursor sends its requests through its own servers, "
		    "so no local guard can stand in front of them");
	if (upstream != NULL && guard == NULL)
		return cli_usage("agent setup", "--upstream goes with --guard");
	if (upstream == NULL)
		upstream = st.kind == AGENT_CODEX ? "https://api.openai.com" :
		    "https://api.anthropic.com";
	if ((strncmp(upstream, "https://", 8) != 0 &&
	    strncmp(upstream, "http://127.", 11) != 0) ||
	    strpbrk(upstream, " \t\r\n#\"'") != NULL)
		return cli_usage("agent setup", "--upstream: '%s' is not an "
		    "https:// URL (or http:// to 127.x.x.x)", upstream);
	if (st.scope == AGENT_SCOPE_PROJECT && project_root(cwd,
	    sizeof(cwd)) != 0)
		return cli_failf("cannot find the current directory");
	if (st.scope == AGENT_SCOPE_USER && getcwd(cwd, sizeof(cwd)) == NULL)
		return cli_failf("cannot find the current directory");
	if (command == NULL) {
		if (self_command(cmd, sizeof(cmd)) != 0)
			return cli_failf("cannot find the airlock binary; pass "
			    "--command PATH");
		/*
		 * Project files are shared: no path of this user's in them.
		 * The agent finds `airlock` on its $PATH at run time.
		 */
		if (st.scope == AGENT_SCOPE_PROJECT &&
		    strcmp(cmd, "airlock") != 0) {
			al_msg(stderr, "warning", "`airlock` on $PATH is not "
			    "%s (or there is none): the project files name "
			    "`airlock`, so put its directory on the agent's "
			    "$PATH (or use --user, which records the full "
			    "path)", cmd);
			(void)snprintf(cmd, sizeof(cmd), "airlock");
		}
		command = cmd;
	}
	st.project_dir = cwd;
	st.home_dir = getenv("HOME");
	st.command = command;
	st.airlock_home = getenv("AIRLOCK_HOME");
	st.with_hooks = agent_hooks_built;
	if (st.with_sweep && st.kind == AGENT_CODEX)
		return cli_usage("agent setup", "--sweep: codex has no hook "
		    "that runs when a session ends (claude and cursor do)");
	if (st.airlock_home != NULL && st.airlock_home[0] == '\0')
		st.airlock_home = NULL;
	if (st.airlock_home != NULL && st.scope == AGENT_SCOPE_PROJECT) {
		if (!dry)
			al_msg(stderr, "note", "$AIRLOCK_HOME is not written "
			    "into project files: the agent uses the one in "
			    "the environment it starts in (or use --user)");
		st.airlock_home = NULL;
	}
	if (st.scope == AGENT_SCOPE_USER && (st.home_dir == NULL ||
	    st.home_dir[0] != '/'))
		return cli_failf("$HOME is not set to an absolute path; "
		    "--user needs it");
	if (agent_plan_make(&st, &plan, &err) != 0)
		return cli_fail(&err);
	rc = CLI_EXIT_OK;
	if (dry) {
		al_buf_init(&diff, 64u * 1024 * 1024, 0);
		for (i = 0; i < plan.nfiles; i++) {
			if (agent_diff(&plan.files[i], &diff) != 0) {
				rc = cli_failf("cannot compute the diff of %s",
				    plan.files[i].path);
				break;
			}
			any |= plan.files[i].changed;
		}
		fputs(al_buf_str(&diff), stdout);
		if (rc == CLI_EXIT_OK && !any)
			printf("airlock: %s (%s) is already wired; nothing "
			    "to change\n", agent_kind_name(st.kind),
			    st.scope == AGENT_SCOPE_USER ? "user" : "project");
		al_buf_release(&diff);
		agent_plan_release(&plan);
		return rc;
	}
	/* The guard first: an address taken refuses before any file changes. */
	if ((guard != NULL && guard_keep_add(cli->home,
	    agent_kind_name(st.kind), guard, upstream,
	    &guard_added, &err) != 0) || (st.unguard &&
	    guard_keep_remove(cli->home,
	    agent_kind_name(st.kind), &guard_added, &err) != 0) ||
	    agent_plan_apply(&plan, &err) != 0) {
		agent_plan_release(&plan);
		return cli_fail(&err);
	}
	for (i = 0; i < plan.nfiles; i++)
		printf("%s %s\n", !plan.files[i].changed ? "unchanged" :
		    plan.files[i].old_text == NULL ? "created  " : "updated  ",
		    plan.files[i].path);
	if (!st.with_hooks)
		printf("airlock: hooks not wired: this build has no `airlock "
		    "hook %s` yet\n", agent_kind_name(st.kind));
	if (st.kind == AGENT_CODEX && plan.nfiles > 2)
		printf("airlock: codex's hooks are trusted in %s; Codex "
		    "reads a project's .codex/ once you trust the project (it "
		    "asks when it starts there)\n", plan.files[2].path);
	printf("airlock: %s is wired (%s); restart it to load the MCP server "
	    "and hooks, and check with `airlock agent status`\n",
	    agent_kind_name(st.kind), st.scope == AGENT_SCOPE_USER ? "user" :
	    "project");
	/*
	 * The agent will ask for approvals; what approves them must be
	 * something it cannot type.
	 */
	if (!vault_pin_isset(cli->home))
		printf("airlock: no approver PIN is set, so requests that need "
		    "approval are refused: set one on your terminal with "
		    "`airlock approver set-pin` (the agent cannot type it)\n");
	/* A running broker reads the list again: the change is live. */
	if (guard_added)
		told = guard_keep_notify(cli);
	if (st.guard_url != NULL)
		printf("airlock: its API requests now go to %s, an `airlock "
		    "guard --listen %s --upstream %s` that the broker runs (%s "
		    "in %s/%s%s); undo with `airlock agent setup %s%s "
		    "--no-guard`\n", st.guard_url, guard, upstream,
		    guard_added ? "added" : "listed", cli->home,
		    GUARDKEEP_FILE, told ? "; the running broker started it" :
		    guard_added ? "; it starts with the broker" : "",
		    agent_kind_name(st.kind),
		    st.scope == AGENT_SCOPE_USER ? " --user" : "");
	if (st.unguard)
		printf("airlock: its API requests go to the provider directly "
		    "again%s\n", told ? "; the running broker stopped its "
		    "guard" : "");
	agent_plan_release(&plan);
	return rc;
}

static int
agent_status(struct cli *cli, int argc, char **argv)
{
	static const enum agent_kind kinds[] = {
		AGENT_CLAUDE, AGENT_CODEX, AGENT_CURSOR,
	};
	struct agent_wiring w;
	char cwd[PATH_MAX], *s;
	const char *home = getenv("HOME");
	json_t *arr = NULL, *o, *hooks;
	size_t k, sc;
	int c, json = 0;

	(void)cli;
	if ((c = cli_json_only("agent status", "agent", argc, argv,
	    &json)) >= 0)
		return c;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return cli_failf("cannot find the current directory");
	if (json && (arr = json_array()) == NULL)
		return cli_failf("out of memory");
	for (k = 0; k < 3; k++) {
		for (sc = 0; sc < 2; sc++) {
			if (sc == 1 && (home == NULL || home[0] != '/'))
				continue;
			agent_inspect(kinds[k], sc ? AGENT_SCOPE_USER :
			    AGENT_SCOPE_PROJECT, cwd, home, &w);
			if (json) {
				hooks = json_array();
				for (s = strtok(w.hooks, ","); s != NULL;
				    s = strtok(NULL, ","))
					json_array_append_new(hooks,
					    json_string(s));
				o = json_pack("{s:s, s:s, s:s, s:b, s:s?, s:s, "
				    "s:o, s:b}", "agent",
				    agent_kind_name(w.kind), "scope", sc ?
				    "user" : "project", "mcp_file", w.mcp_path,
				    "mcp", w.mcp_present, "command",
				    w.mcp_present ? w.mcp_command : NULL,
				    "hooks_file", w.hooks_path, "hooks", hooks,
				    "error", w.error);
				if (o != NULL && w.kind == AGENT_CODEX)
					json_object_set_new(o, "hooks_trusted",
					    json_boolean(w.trust_hooks > 0 &&
					    w.trust_ok == w.trust_hooks));
				json_array_append_new(arr, o);
				continue;
			}
			printf("%-7s %-8s mcp: %-3s%s%s%s  hooks: %s%s%s\n",
			    agent_kind_name(w.kind), sc ? "user" : "project",
			    w.mcp_present ? "yes" : "no", w.mcp_present ? " (" :
			    "", w.mcp_present ? w.mcp_command : "",
			    w.mcp_present ? ")" : "", w.hooks[0] ? w.hooks :
			    "none", w.kind != AGENT_CODEX ||
			    w.trust_hooks == 0 ? "" : w.trust_ok ==
			    w.trust_hooks ? " (trusted)" : " (NOT trusted: "
			    "Codex skips them; run `airlock agent setup codex` "
			    "again, or trust them in its /hooks screen)",
			    w.error ? "  (a file could not be read)" : "");
		}
	}
	if (json) {
		s = json_dumps(arr, JSON_INDENT(2));
		if (s != NULL)
			printf("%s\n", s);
		free(s);
		json_decref(arr);
	}
	return CLI_EXIT_OK;
}

int
cmd_agent(struct cli *cli, int argc, char **argv)
{
	if (argc < 2) {
		cli_print_help("agent", stderr);
		return CLI_EXIT_FAIL;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return cli_print_help("agent", stdout);
	if (strcmp(argv[1], "setup") == 0)
		return agent_setup(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "status") == 0)
		return agent_status(cli, argc - 1, argv + 1);
	return cli_usage("agent", "unknown subcommand '%s' (setup or status)",
	    argv[1]);
}

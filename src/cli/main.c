/*
 * airlock: the command-line entry point.  Hardens the process, finds the
 * state directory and dispatches to one cmd_<name>.c per subcommand.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"

static const char main_help[] =
"usage: airlock [--version | -V] [--help] COMMAND [ARGS...]\n"
"\n"
"airlock lets AI coding agents use credentials without holding them.\n"
"\n"
"Commands:\n";

static const char main_help_tail[] =
"\n"
"Run `airlock help COMMAND` or `airlock COMMAND --help` for details.\n"
"State lives in $AIRLOCK_HOME (default $XDG_DATA_HOME/airlock, else\n"
"~/.local/share/airlock).\n"
"Exit status: 0 success, 1 findings or failed check, 2 error or bad usage.\n";

static const struct cli_cmd commands[] = {
	{ "init", "create the state directory, master key and vault",
	    cmd_init_help, cmd_init },
	{ "secret", "add, list, show, rotate, edit and remove secrets",
	    cmd_secret_help, cmd_secret },
	{ "run", "run a command with secrets it uses but never sees",
	    cmd_run_help, cmd_run },
	{ "redact", "mask live secrets and their encodings in a stream",
	    cmd_redact_help, cmd_redact },
	{ "guard", "mask secrets in requests to a model provider's API",
	    cmd_guard_help, cmd_guard },
	{ "scan", "find hardcoded secrets and unsafe secret handling",
	    cmd_scan_help, cmd_scan },
	{ "sweep", "find stored values in agent transcripts and histories",
	    cmd_sweep_help, cmd_sweep },
	{ "report", "the inventory of secrets, exposures and their times",
	    cmd_report_help, cmd_report },
	{ "hook", "install the git pre-commit hook that runs scan",
	    cmd_hook_help, cmd_hook },
	{ "lease", "list and revoke leases",
	    cmd_lease_help, cmd_lease },
	{ "approvals", "list lease requests waiting for approval",
	    cmd_approvals_help, cmd_approvals },
	{ "approve", "approve a pending lease request",
	    cmd_approve_help, cmd_approve },
	{ "deny", "refuse a pending lease request",
	    cmd_deny_help, cmd_deny },
	{ "approver", "set the approver PIN that approving needs",
	    cmd_approver_help, cmd_approver },
	{ "policy", "check, lint and show who may lease which secret",
	    cmd_policy_help, cmd_policy },
	{ "audit", "show and verify the tamper-evident audit log",
	    cmd_audit_help, cmd_audit },
	{ "whoami", "show the selectors the broker sees for you",
	    cmd_whoami_help, cmd_whoami },
	{ "serve", "run the broker (started automatically when needed)",
	    cmd_serve_help, cmd_serve },
	{ "stop", "stop the broker (ends its leases, locks the vault)",
	    cmd_stop_help, cmd_stop },
	{ "unlock", "unlock a passphrase vault: start the broker holding it",
	    cmd_unlock_help, cmd_unlock },
	{ "mcp", "serve the Model Context Protocol on stdio",
	    cmd_mcp_help, cmd_mcp },
	{ "agent", "wire airlock into Claude Code, Codex or Cursor",
	    cmd_agent_help, cmd_agent },
	{ "key", "change the master key or passphrase",
	    cmd_key_help, cmd_key },
	{ "doctor", "check permissions, hardening and deployment",
	    cmd_doctor_help, cmd_doctor },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct cli_cmd *
find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Edit distance of a and b (short words), capped at 9. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, d[17][17];

	if (la > 16 || lb > 16)
		return 9;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			size_t sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;

			d[i][j] = sub < del ? (sub < ins ? sub : ins) :
			    (del < ins ? del : ins);
			/* A swap of two neighbours counts one (scna, scan). */
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 <
			    d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	return d[la][lb];
}

/* "unknown command 'X'", with the nearest command when one is close. */
static int
unknown_command(const char *name)
{
	size_t i, best = 9, d;
	const char *near = NULL;

	for (i = 0; i < NCOMMANDS; i++) {
		d = distance(name, commands[i].name);
		if (strncmp(name, commands[i].name, strlen(commands[i].name))
		    == 0 && strlen(name) == strlen(commands[i].name) + 1)
			d = 1;		/* secrets, leases */
		if (d < best) {
			best = d;
			near = commands[i].name;
		}
	}
	if (near != NULL && best <= 2)
		al_msg(stderr, "usage", "unknown command '%s' (did you mean "
		    "`airlock %s`? see `airlock help`)", name, near);
	else
		al_msg(stderr, "usage", "unknown command '%s' (see `airlock "
		    "help`)", name);
	return CLI_EXIT_FAIL;
}

static void
print_main_help(FILE *out)
{
	size_t i;

	fputs(main_help, out);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
		    commands[i].summary);
	fputs(main_help_tail, out);
}

int
cli_print_help(const char *name, FILE *out)
{
	const struct cli_cmd *c;
	char first[64];
	size_t n = strcspn(name, " ");

	if (n >= sizeof(first))
		n = sizeof(first) - 1;
	memcpy(first, name, n);
	first[n] = '\0';
	if (strcmp(first, "help") == 0) {
		print_main_help(out);
		return CLI_EXIT_OK;
	}
	if ((c = find_command(first)) == NULL)
		return unknown_command(first);
	fputs(c->help, out);
	return CLI_EXIT_OK;
}

int
cli_fail(const struct al_err *err)
{
	al_msg(stderr, "error", "%s", err->msg[0] ? err->msg :
	    al_strerror(err->code));
	return cli_exit_for(err->code);
}

int
cli_failf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);	/* may truncate */
	va_end(ap);
	al_msg(stderr, "error", "%s", buf);
	return CLI_EXIT_FAIL;
}

int
cli_usage(const char *cmd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);	/* may truncate */
	va_end(ap);
	al_msg(stderr, "usage", "%s (see `airlock help %s`)", buf, cmd);
	return CLI_EXIT_FAIL;
}

int
cli_bad_option(const char *cmd, int argc, char **argv, int opt)
{
	const char *arg = optind - 1 < argc ? argv[optind - 1] : "";
	int n = (int)strcspn(arg, "=");

	/* Never what follows '=': "--value=<a value>" is not echoed. */
	if (opt == ':')
		return cli_usage(cmd, "option '%.*s' needs a value", n, arg);
	if (optopt != 0 && optopt != '?')
		return cli_usage(cmd, "unknown option '-%c'", optopt);
	return cli_usage(cmd, "unknown option '%.*s'", n, arg);
}

int
cli_getopt(int argc, char **argv, const char *shortopts,
    const struct option *longopts, int *longindex)
{
	const char *tok, *name;
	size_t n;
	int c, idx = -1;

	c = getopt_long(argc, argv, shortopts, longopts, &idx);
	if (longindex != NULL)
		*longindex = idx;
	if (c == -1 || c == '?' || c == ':' || idx < 0)
		return c;
	/*
	 * getopt_long takes any unambiguous prefix: --value would be
	 * --value-file.  The token is behind optind (two back when the
	 * value was a separate argument).
	 */
	tok = optarg != NULL && optind >= 2 && optarg == argv[optind - 1] ?
	    argv[optind - 2] : argv[optind - 1];
	name = tok + 2;
	n = strcspn(name, "=");
	if (strncmp(tok, "--", 2) == 0 && strlen(longopts[idx].name) == n &&
	    strncmp(name, longopts[idx].name, n) == 0)
		return c;
	/* Make cli_bad_option name the token as typed. */
	optind = (int)(tok == argv[optind - 1] ? optind : optind - 1);
	optopt = 0;
	return '?';
}

int
cli_json_only(const char *cmd, const char *help, int argc, char **argv,
    int *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*json = 0;
	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			*json = 1;
			break;
		case 'h':
			return cli_print_help(help, stdout);
		default:
			return cli_bad_option(cmd, argc, argv, c);
		}
	}
	if (optind < argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	return -1;
}

int
cli_wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

int
cli_exit_for(int code)
{
	return code == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

int
main(int argc, char **argv)
{
	struct cli cli;
	struct al_err err;
	const struct cli_cmd *c;

	al_err_clear(&err);
	if (al_process_harden(&err) != 0)
		return cli_fail(&err);
	if (sodium_init() < 0)
		return cli_failf("cannot initialise libsodium");
	memset(&cli, 0, sizeof(cli));
	cli.clock = al_clock_system();
	cli.color_out = al_use_color(STDOUT_FILENO);
	cli.color_err = al_use_color(STDERR_FILENO);

	if (argc < 2) {
		print_main_help(stderr);
		return CLI_EXIT_FAIL;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		/* airlock --help run: the help of run. */
		if (argc > 2)
			return cli_print_help(argv[2], stdout);
		print_main_help(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("airlock %s\n", AIRLOCK_VERSION);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			print_main_help(stdout);
			return CLI_EXIT_OK;
		}
		return cli_print_help(argv[2], stdout);
	}
	if (argv[1][0] == '-') {
		al_msg(stderr, "usage", "unknown option '%s' (airlock takes "
		    "--help and --version, -V; see `airlock help`)", argv[1]);
		return CLI_EXIT_FAIL;
	}
	if ((c = find_command(argv[1])) == NULL)
		return unknown_command(argv[1]);
	if (al_state_dir(cli.home, sizeof(cli.home), &err) != 0)
		return cli_fail(&err);
	/* A relative home would mean another place in every directory. */
	if (cli.home[0] != '/')
		return cli_failf("AIRLOCK_HOME must be an absolute path, not "
		    "'%s'", cli.home);
	return c->run(&cli, argc - 1, argv + 1);
}

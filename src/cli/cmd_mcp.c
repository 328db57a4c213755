/* airlock mcp: the Model Context Protocol server on stdin/stdout. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "airlock/mcp.h"
#include "cli.h"
#include "rules.h"

const char cmd_mcp_help[] =
"usage: airlock mcp [--verbose] [--list-tools]\n"
"\n"
"Serve the Model Context Protocol on standard input and output, for an\n"
"agent (Claude Code, Codex, Cursor, any MCP client) that starts airlock as a\n"
"stdio server.  One JSON-RPC 2.0 message per line; standard output carries\n"
"nothing but MCP messages, diagnostics go to standard error.  The server\n"
"exits when standard input closes, ending every running tool call.\n"
"\n"
"Protocol revisions: 2025-03-26, 2025-06-18 and 2025-11-25 through the\n"
"initialize handshake, and the stateless revision 2026-07-28 per request\n"
"(server/discover, _meta envelope).  See docs/mcp.md.\n"
"\n"
"Tools (only those this build supports are offered): list_secrets,\n"
"request_access, run, revoke, scan.  No tool ever returns a secret value;\n"
"command output is redacted inside the server before it is sent.\n"
"\n"
"Options:\n"
"  --verbose      log each request's method to standard error\n"
"  --list-tools   print the names of the tools offered, one a line, and exit\n"
"  -h, --help     show this help\n"
"\n"
"`airlock agent setup` writes this command into an agent's configuration.\n"
"\n"
"Exit status: 0 when standard input closed, 2 on an error (standard output\n"
"closed, bad usage).\n";

int
cmd_mcp(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "list-tools", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mcp_config cfg;
	struct mcp_server *s = NULL;
	struct al_err err;
	const char *const *name;
	char self[PATH_MAX], cache[PATH_MAX];
	ssize_t n;
	int c, verbose = 0, list = 0, rc;

	al_err_clear(&err);
	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			verbose = 1;
			break;
		case 'l':
			list = 1;
			break;
		case 'h':
			return cli_print_help("mcp", stdout);
		default:
			return cli_bad_option("mcp", argc, argv, c);
		}
	}
	if (optind < argc)
		return cli_usage("mcp", "unexpected argument '%s'",
		    argv[optind]);
	if (list) {
		for (name = mcp_tool_names(); *name != NULL; name++)
			printf("%s\n", *name);
		return CLI_EXIT_OK;
	}
	/* A client that goes away must not kill us mid-cleanup. */
	(void)signal(SIGPIPE, SIG_IGN);
	memset(&cfg, 0, sizeof(cfg));
	cfg.home = cli->home;
	cfg.socket_path = getenv("AIRLOCK_SOCKET");
	cfg.cache_dir = cli_cache_dir(cache, sizeof(cache));
	/* Autostart runs this very binary, whatever $PATH says. */
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		cfg.airlock_bin = self;
	}
	cfg.clock = cli->clock;
	cfg.log = stderr;
	cfg.verbose = verbose;
	if ((rc = mcp_server_new(&cfg, &s)) != 0) {
		al_err_set(&err, rc, "cannot start the MCP server");
		return cli_fail(&err);
	}
	rc = mcp_serve(s, STDIN_FILENO, STDOUT_FILENO, &err);
	mcp_server_free(s);
	if (rc != 0)
		return cli_fail(&err);
	return CLI_EXIT_OK;
}

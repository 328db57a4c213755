/* airlock lease ls|revoke: the live leases (never their values). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "clientcli.h"
#include "vaultcli.h"

const char cmd_lease_help[] =
"usage: airlock lease ls [--json]\n"
"       airlock lease revoke ID\n"
"       airlock lease revoke --task TASK\n"
"\n"
"Show and end leases.  `ls` lists the live leases you may manage (all of\n"
"them for the broker's owner, your own otherwise): id, secret, task, time\n"
"left and uses left.  Values are never shown.  `revoke ID` ends one lease;\n"
"`revoke --task TASK` ends every live lease of that task.  A revoked lease\n"
"stays revoked, also across broker restarts.\n"
"\n"
"The broker is started if none answers (see `airlock help serve`).\n"
"\n"
"Options:\n"
"  --json         ls: the broker's JSON array (see docs/api.md)\n"
"  --task TASK    revoke: every lease of TASK\n"
"\n"
"Exit status: 0 success, 2 error (unknown or ended lease, no broker).\n";

enum { OPT_JSON = 256, OPT_TASK };

static const struct option lease_opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "task", required_argument, NULL, OPT_TASK },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void
left_str(int64_t expires, char out[32])
{
	int64_t left = expires - (int64_t)time(NULL);

	if (left <= 0)
		(void)snprintf(out, 32, "0s");
	else
		al_format_duration(left, out);
}

static int
print_table(json_t *arr)
{
	const char *task;
	char left[32], uses[16];
	json_t *l;
	size_t i;

	if (json_array_size(arr) == 0) {
		puts("no live leases");
		return CLI_EXIT_OK;
	}
	printf("%-32s  %-20s  %-16s  %-8s  %-5s  %s\n", "ID", "SECRET", "TASK",
	    "LEFT", "USES", "BOUND");
	json_array_foreach(arr, i, l) {
		json_t *ul = json_object_get(l, "uses_left");
		const char *st = json_string_value(json_object_get(l,
		    "state"));

		if (st != NULL && strcmp(st, "revoking") == 0) {
			/* A dynamic credential whose lease ended. */
			json_t *at = json_object_get(l, "attempt_ms");
			char now[48] = "";

			/* One held up (by a lock, say) is worth naming. */
			if (json_is_integer(at) && json_integer_value(at) >=
			    1000)
				(void)snprintf(now, sizeof(now), ", one under "
				    "way for %llds", (long long)
				    json_integer_value(at) / 1000);
			printf("%-32s  %-20s  revoking role %s for %llds (%lld "
			    "attempts%s)%s%s\n", json_string_value(
			    json_object_get(l, "id")), json_string_value(
			    json_object_get(l, "secret")), json_string_value(
			    json_object_get(l, "role")), (long long)
			    json_integer_value(json_object_get(l, "ttr_ms")) /
			    1000, (long long)
			    json_integer_value(json_object_get(l, "attempts")),
			    now, json_string_length(json_object_get(l,
			    "error")) ? ": " : "", json_string_value(
			    json_object_get(l, "error")));
			continue;
		}
		left_str(json_integer_value(json_object_get(l,
		    "expires_unix")), left);
		if (json_is_integer(ul))
			(void)snprintf(uses, sizeof(uses), "%lld",
			    (long long)json_integer_value(ul));
		else
			(void)snprintf(uses, sizeof(uses), "-");
		task = json_string_value(json_object_get(l, "task"));
		printf("%-32s  %-20s  %-16s  %-8s  %-5s  %s\n",
		    json_string_value(json_object_get(l, "id")),
		    json_string_value(json_object_get(l, "secret")),
		    task && task[0] ? task : "-", left, uses,
		    json_is_true(json_object_get(l, "bound")) ? "yes" : "no");
	}
	return fflush(stdout) == 0 ? CLI_EXIT_OK :
	    cli_failf("cannot write to stdout");
}

int
cmd_lease(struct cli *cli, int argc, char **argv)
{
	struct client *cl = NULL;
	struct al_err err;
	const char *sub, *task = NULL;
	json_t *arr = NULL;
	size_t n;
	int c, json = 0, rc;

	al_err_clear(&err);
	if (argc < 2)
		return cli_usage("lease", "missing subcommand (ls or revoke)");
	sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(cmd_lease_help, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "rm") == 0)
		sub = "revoke";
	if (strcmp(sub, "ls") != 0 && strcmp(sub, "list") != 0 &&
	    strcmp(sub, "revoke") != 0)
		return cli_usage("lease", "unknown subcommand '%s'", sub);
	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc - 1, argv + 1, ":h", lease_opts,
	    NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			if (strcmp(sub, "revoke") == 0)
				return cli_usage("lease", "'lease revoke' does "
				    "not take --json");
			json = 1;
			break;
		case OPT_TASK:
			if (strcmp(sub, "revoke") != 0)
				return cli_usage("lease", "'lease %s' does not "
				    "take --task", sub);
			task = optarg;
			break;
		case 'h':
			fputs(cmd_lease_help, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option("lease", argc - 1, argv + 1, c);
		}
	}
	argc -= 1 + optind;
	argv += 1 + optind;
	if (strcmp(sub, "revoke") == 0) {
		if ((task == NULL) == (argc != 1))
			return cli_usage("lease", "'lease revoke' takes a lease "
			    "ID or --task TASK");
		if (task != NULL && task[0] == '\0')
			return cli_usage("lease", "--task must not be empty");
	} else if (argc != 0) {
		return cli_usage("lease", "unexpected argument '%s'", argv[0]);
	}
	if ((rc = cli_client_open(cli, &cl, &err)) != 0)
		return cli_fail(&err);
	if (strcmp(sub, "revoke") != 0) {
		if (client_leases(cl, &arr, &err) != 0)
			rc = cli_fail(&err);
		else
			rc = json ? cli_print_json(arr) : print_table(arr);
	} else if (task != NULL) {
		if (client_lease_revoke_task(cl, task, &n, &err) != 0)
			rc = cli_fail(&err);
		else
		{
			printf("revoked %zu lease%s of task %s\n", n,
			    n == 1 ? "" : "s", task);
			/* Revoking stops new uses, not a holder's copy. */
			if (n > 0)
				al_msg(stderr, "note", "an `airlock run` of the "
				    "task ends its command now; any other "
				    "process that already holds a value keeps "
				    "it until it exits (end it with Ctrl-C or "
				    "kill)");
		}
	} else {
		if (client_lease_revoke(cl, argv[0], &err) != 0)
			rc = cli_fail(&err);
		else
			printf("revoked lease %s\n", argv[0]);
	}
	json_decref(arr);
	client_close(cl);
	return rc;
}

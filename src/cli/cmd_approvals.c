/* airlock approvals | approve ID | deny ID --reason TEXT */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "clientcli.h"
#include "input.h"
#include "vaultcli.h"

const char cmd_approvals_help[] =
"usage: airlock approvals [--all] [--json]\n"
"\n"
"List lease requests waiting for an approver: id, secret, who asked (uid,\n"
"pid, executable and the programs that started it, nearest first: an agent\n"
"such as claude shows there), task, intent, the rule that asked for\n"
"approval and who may approve; with --all also who decided, the lease or\n"
"the reason.  Approve one with `airlock approve ID`, refuse it with\n"
"`airlock deny ID --reason TEXT`.  A pending request expires after 10\n"
"minutes.\n"
"\n"
"Options:\n"
"  --all     also requests decided in the last 10 minutes\n"
"  --json    the broker's JSON array (see docs/api.md)\n"
"\n"
"Exit status: 0 success, 2 error.\n";

const char cmd_approve_help[] =
"usage: airlock approve ID\n"
"\n"
"Approve the pending lease request ID (see `airlock approvals`).  The\n"
"approver PIN (set with `airlock approver set-pin`) is asked on the\n"
"terminal (/dev/tty, never stdin or argv) and checked by the broker; each\n"
"wrong PIN doubles the wait before the next is checked.  The broker\n"
"identifies you from the socket and checks you against the approvers the\n"
"rule names; a process can never approve its own request, nor one from\n"
"inside the requester's process tree or terminal session.\n"
"The lease goes to the process that asked, with the TTL and uses it asked\n"
"for (within the rule's limits).  Every approval is audited.\n"
"\n"
"Exit status: 0 approved, 2 error (unknown or already decided request,\n"
"not an approver).\n";

const char cmd_deny_help[] =
"usage: airlock deny ID --reason TEXT\n"
"\n"
"Refuse the pending lease request ID.  The reason (required, at most 256\n"
"printable bytes) is shown to the requester and written to the audit log.\n"
"The approver check is the same as for `airlock approve`.\n"
"\n"
"Exit status: 0 denied, 2 error.\n";

enum { OPT_JSON = 256, OPT_ALL, OPT_REASON };

static const struct option opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/*
 * Print s as text: control characters (a newline, a carriage return, an
 * escape sequence) and bytes that are not UTF-8 escaped, so that a
 * requester cannot write lines of its own, or hide some, on the
 * approver's terminal through what it chose (its executable's path, its
 * parents', its task).  NULL prints as dflt.
 */
static void
put(const char *s, const char *dflt)
{
	struct al_buf b;

	if (s == NULL) {
		fputs(dflt, stdout);
		return;
	}
	al_buf_init(&b, 16384, 0);
	if (al_buf_append_escaped(&b, s, strlen(s)) != 0)
		fputs("(unprintable)", stdout);
	else if (b.len > 0)
		fputs(al_buf_str(&b), stdout);
	al_buf_release(&b);
}

/* Member key of o, as put prints it. */
static void
put_member(const json_t *o, const char *key, const char *dflt)
{
	put(json_string_value(json_object_get(o, key)), dflt);
}

/*
 * The chain of parent executables, nearest first, a repeated one shown
 * once: what an approver looks at to tell an agent's request from theirs.
 */
static void
print_ancestry(json_t *anc)
{
	const char *prev = NULL, *e;
	json_t *v;
	size_t i;
	int n = 0;

	if (json_array_size(anc) == 0)
		return;
	printf("    started by:");
	json_array_foreach(anc, i, v) {
		e = json_string_value(v);
		if (prev != NULL && e != NULL && strcmp(prev, e) == 0)
			continue;
		printf("%s ", n++ ? " <-" : "");
		put(e, "(unknown)");
		prev = e;
	}
	printf("\n");
}

static void
print_one(json_t *a)
{
	json_t *req = json_object_get(a, "requester"), *v;
	const char *task = json_string_value(json_object_get(a, "task"));
	const char *intent = json_string_value(json_object_get(a, "intent"));
	const char *user = json_string_value(json_object_get(req, "user"));
	const char *by;
	size_t i;

	put_member(a, "id", "-");
	fputs("  ", stdout);
	put_member(a, "state", "-");
	fputs("  secret ", stdout);
	put_member(a, "secret", "-");
	printf("\n    requester: uid %lld",
	    (long long)json_integer_value(json_object_get(req, "uid")));
	if (user != NULL) {
		fputs(" (", stdout);
		put(user, "");
		fputs(")", stdout);
	}
	printf(" pid %lld, ",
	    (long long)json_integer_value(json_object_get(req, "pid")));
	put_member(req, "exe", "executable unknown");
	printf("\n");
	print_ancestry(json_object_get(req, "ancestors"));
	fputs("    task: ", stdout);
	put(task && task[0] ? task : NULL, "-");
	fputs("  intent: ", stdout);
	put(intent && intent[0] ? intent : NULL, "-");
	fputs("\n    rule: ", stdout);
	put_member(a, "rule", "-");
	printf(" (line %lld)  expires: ",
	    (long long)json_integer_value(json_object_get(a, "rule_line")));
	put_member(a, "expires", "-");
	printf("\n    approvers:");
	json_array_foreach(json_object_get(a, "approvers"), i, v) {
		fputs(" ", stdout);
		put(json_string_value(v), "-");
	}
	printf("\n");
	if ((by = json_string_value(json_object_get(a, "decided_by"))) !=
	    NULL) {
		const char *lease = json_string_value(json_object_get(a,
		    "lease"));
		const char *why = json_string_value(json_object_get(a,
		    "reason"));

		fputs("    decided by: ", stdout);
		put(by, "-");
		if (lease != NULL) {
			fputs("  lease: ", stdout);
			put(lease, "-");
		}
		if (why != NULL) {
			fputs("  reason: ", stdout);
			put(why, "-");
		}
		printf("\n");
	}
}

static int
parse(const char *cmd, int argc, char **argv, int *json, int *all,
    const char **reason)
{
	int c;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
		case OPT_ALL:
			if (json == NULL)
				return cli_usage(cmd, "'%s' does not take %s",
				    cmd, c == OPT_JSON ? "--json" : "--all");
			*(c == OPT_JSON ? json : all) = 1;
			break;
		case OPT_REASON:
			if (reason == NULL)
				return cli_usage(cmd, "'%s' does not take "
				    "--reason", cmd);
			*reason = optarg;
			break;
		case 'h':
			(void)cli_print_help(cmd, stdout);
			return -1;
		default:
			return cli_bad_option(cmd, argc, argv, c);
		}
	}
	return 0;
}

int
cmd_approvals(struct cli *cli, int argc, char **argv)
{
	struct client *cl = NULL;
	struct al_err err;
	json_t *arr = NULL, *a;
	int json = 0, all = 0, rc;
	size_t i;

	if ((rc = parse("approvals", argc, argv, &json, &all, NULL)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (optind < argc)
		return cli_usage("approvals", "unexpected argument '%s'",
		    argv[optind]);
	if (cli_client_open(cli, &cl, &err) != 0)
		return cli_fail(&err);
	if (client_approvals(cl, all, &arr, &err) != 0) {
		rc = cli_fail(&err);
	} else if (json) {
		rc = cli_print_json(arr);
	} else {
		if (json_array_size(arr) == 0)
			puts(all ? "no lease requests" :
			    "no lease requests waiting for approval");
		json_array_foreach(arr, i, a)
			print_one(a);
		rc = CLI_EXIT_OK;
	}
	json_decref(arr);
	client_close(cl);
	return rc;
}

static int
decide(struct cli *cli, const char *cmd, int argc, char **argv)
{
	struct client *cl = NULL;
	struct al_err err;
	struct al_secret *pin = NULL;
	const char *reason = NULL;
	json_t *a = NULL;
	int rc;

	if ((rc = parse(cmd, argc, argv, NULL, NULL, strcmp(cmd, "deny") == 0 ?
	    &reason : NULL)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (argc - optind != 1)
		return cli_usage(cmd, "'%s' takes one request ID", cmd);
	if (strcmp(cmd, "deny") == 0 && (reason == NULL || reason[0] == '\0'))
		return cli_usage(cmd, "'deny' needs --reason TEXT");
	if (strcmp(cmd, "approve") == 0 &&
	    cli_read_pin("Approver PIN: ", 0, &pin, &err) != 0)
		return cli_fail(&err);
	if (cli_client_open(cli, &cl, &err) != 0) {
		al_secret_free(pin);
		return cli_fail(&err);
	}
	if (strcmp(cmd, "deny") == 0)
		rc = client_deny(cl, argv[optind], reason, &a, &err);
	else
		rc = client_approve(cl, argv[optind], pin, &a, &err);
	al_secret_free(pin);
	if (rc != 0) {
		rc = cli_fail(&err);
	} else {
		if (strcmp(cmd, "deny") == 0)
			printf("denied request %s\n", argv[optind]);
		else
			printf("approved request %s: lease %s\n", argv[optind],
			    json_string_value(json_object_get(a, "lease")));
		rc = CLI_EXIT_OK;
	}
	json_decref(a);
	client_close(cl);
	return rc;
}

int
cmd_approve(struct cli *cli, int argc, char **argv)
{
	return decide(cli, "approve", argc, argv);
}

int
cmd_deny(struct cli *cli, int argc, char **argv)
{
	return decide(cli, "deny", argc, argv);
}

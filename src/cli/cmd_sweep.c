/* airlock sweep: known values and rule hits in what agents and shells left. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "airlock/redact.h"
#include "airlock/scan.h"
#include "airlock/sweep.h"
#include "airlock/vault.h"
#include "cli.h"
#include "exposure.h"
#include "rules.h"
#include "vaultcli.h"

const char cmd_sweep_help[] =
"usage: airlock sweep [PATH...] [--fix] [--git] [--format text|json|sarif]\n"
"                     [--json] [--no-rules] [--no-mark]\n"
"       airlock sweep --list-places\n"
"\n"
"Search the text that coding agents and shells leave behind for the values\n"
"stored in the vault (in every encoding `airlock redact` masks: base64, hex,\n"
"URL, JSON and shell escapes...) and for the scanner's secret rules.  A\n"
"known value is reported by its secret's name, never by any part of it.\n"
"Without PATH the usual places are searched (see --list-places): Claude\n"
"Code and Codex transcripts and histories, bash, zsh and fish histories,\n"
"and the .env files of the current git repository.\n"
"\n"
"A secret whose value is found is marked exposed (where and when, never the\n"
"value): at once its live leases are revoked, its pending approvals denied\n"
"and new leases refused until it is rotated with `airlock secret rotate`.\n"
"\n"
"Options:\n"
"  --fix           rewrite each file in place with the masks\n"
"                  ([REDACTED:<name>]), atomically, byte for byte otherwise\n"
"  --git           also the current repository's history: known values in\n"
"                  every commit's patch, rule hits in every blob (history\n"
"                  cannot be rewritten; each hit says what to do)\n"
"  --format F      text (default), json or sarif\n"
"  --json          same as --format json\n"
"  --no-rules      known values only\n"
"  --no-mark       report only: do not mark secrets exposed\n"
"  --list-places   print the usual places and exit\n"
"  -h, --help      show this help\n"
"\n"
"Exit status: 0 nothing found; 1 found; 2 error (a place could not be read:\n"
"the sweep goes on and says which).  See docs/commands/sweep.md.\n";

enum { FMT_TEXT, FMT_JSON, FMT_SARIF };
enum { OPT_FIX = 256, OPT_GIT, OPT_FORMAT, OPT_JSON, OPT_NORULES,
    OPT_NOMARK, OPT_LIST };

/* The top of the git work tree holding the current directory, or NULL. */
static char *
repo_root(void)
{
	char buf[PATH_MAX], *nl;
	FILE *p;
	size_t n;

	if ((p = popen("git rev-parse --show-toplevel 2>/dev/null", "r")) ==
	    NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, p);
	if (pclose(p) != 0 || n == 0)
		return NULL;
	buf[n] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	return buf[0] == '/' ? strdup(buf) : NULL;
}

static int
list_places(const struct sweep_place *pl, size_t n)
{
	struct stat st;
	size_t i;

	for (i = 0; i < n; i++)
		printf("%-12s %-36s %s%s\n", pl[i].kind, pl[i].pattern,
		    pl[i].path, lstat(pl[i].path, &st) == 0 ? "" :
		    errno == ENOENT ? " (absent)" : " (unreadable)");
	return ferror(stdout) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* The scanner's history source: rule hits in every blob of the repo. */
static int
sweep_history(struct sweep *s, const struct scan_engine *e, const char *root,
    struct al_err *err)
{
	struct scan_opts o;
	struct scan_report *rep = NULL;
	struct sweep_hit h;
	char path[PATH_MAX + 64];
	size_t i;
	int rc, n;

	memset(&o, 0, sizeof(o));
	o.source = SCAN_SRC_GIT_HISTORY;
	o.git_dir = root;
	if ((rc = scan_run(e, &o, &rep, err)) != 0)
		return sweep_add_problem(s, root, 1, err->msg, err);
	for (i = 0; i < rep->nfindings && rc == 0; i++) {
		memset(&h, 0, sizeof(h));
		n = snprintf(path, sizeof(path), "%s@%.12s",
		    rep->findings[i].path, rep->findings[i].commit ?
		    rep->findings[i].commit->id : "");
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		h.path = path;
		h.kind = SWEEP_HIT_RULE;
		(void)snprintf(h.name, sizeof(h.name), "%s",
		    rep->findings[i].rule->id);
		(void)snprintf(h.preview, sizeof(h.preview), "%s",
		    rep->findings[i].preview);
		h.line = rep->findings[i].line;
		h.col = rep->findings[i].col;
		if ((rc = sweep_add_hit(s, &h, err)) == 0)
			rc = sweep_add_problem(s, path, 0, "in git history: "
			    "cannot be rewritten; revoke and rotate what it "
			    "holds (history rewriting does not undo a push)",
			    err);
	}
	scan_report_free(rep);
	return rc;
}

/*
 * Known values in the history: every commit's patch (`git log -p --all`)
 * through the redactor, as a stream.  git's stdout is a pipe read in
 * guarded memory; its stderr is ours.
 */
static int
sweep_git_values(struct sweep *s, const char *root, struct al_err *err)
{
	/* --text: a file git takes for binary holds its values all the same. */
	char *const argv[] = { "git", "-C", (char *)root, "log", "--all", "-p",
	    "--text", "--no-color", "--no-ext-diff", "--no-textconv",
	    "--format=commit %H", NULL };
	int rc, ok;

	rc = cli_sweep_git(s, argv, sweep_stream, "git", &ok, err);
	if (rc == 0 && !ok)
		rc = sweep_add_problem(s, root, 1, "git log failed: the history "
		    "was not fully searched for known values", err);
	return rc;
}

static void
print_problems(const struct sweep *s)
{
	const struct sweep_problem *p;
	size_t n, i;

	p = sweep_problems(s, &n);
	for (i = 0; i < n; i++)
		fprintf(stderr, "airlock: sweep: %s: %s\n", p[i].path,
		    p[i].what);
}

int
cmd_sweep(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fix", no_argument, NULL, OPT_FIX },
		{ "git", no_argument, NULL, OPT_GIT },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "no-rules", no_argument, NULL, OPT_NORULES },
		{ "no-mark", no_argument, NULL, OPT_NOMARK },
		{ "list-places", no_argument, NULL, OPT_LIST },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct redact *r = NULL;
	struct scan_engine *rules = NULL;
	struct sweep *s = NULL;
	struct sweep_place *pl = NULL;
	const struct sweep_hit *hits;
	struct al_err err;
	const char *home;
	char *root = NULL;
	size_t npl = 0, i, nhits;
	int c, fmt = FMT_TEXT, fix = 0, git = 0, no_rules = 0, no_mark = 0,
	    list = 0, checked = 0, rc = 0, status = CLI_EXIT_FAIL;

	al_err_clear(&err);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_FIX:		fix = 1; break;
		case OPT_GIT:		git = 1; break;
		case OPT_JSON:		fmt = FMT_JSON; break;
		case OPT_NORULES:	no_rules = 1; break;
		case OPT_NOMARK:	no_mark = 1; break;
		case OPT_LIST:		list = 1; break;
		case OPT_FORMAT:
			if (strcmp(optarg, "text") == 0)
				fmt = FMT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				fmt = FMT_JSON;
			else if (strcmp(optarg, "sarif") == 0)
				fmt = FMT_SARIF;
			else
				return cli_usage("sweep", "bad --format '%s' "
				    "(expected text, json or sarif)", optarg);
			break;
		case 'h':
			return cli_print_help("sweep", stdout);
		default:
			return cli_bad_option("sweep", argc, argv, c);
		}
	}
	if ((home = getenv("HOME")) == NULL || home[0] != '/')
		return cli_failf("sweep: $HOME is not set to an absolute path");
	root = repo_root();
	if (optind == argc || list) {
		if ((rc = sweep_places(home, root, &pl, &npl, &err)) != 0)
			goto out;
		if (list) {
			status = list_places(pl, npl);
			goto out;
		}
	}
	if (git && root == NULL) {
		status = cli_usage("sweep", "--git: not inside a git "
		    "repository");
		goto out;
	}
	if ((rc = redact_new(&r, &err)) != 0 ||
	    (rc = cli_known_values(cli, r, "sweep", &checked, &err)) != 0)
		goto out;
	if (!no_rules && ((rc = cli_redact_rules(&rules, &err)) != 0 ||
	    (rc = redact_use_scan(r, rules, &err)) != 0))
		goto out;
	if ((rc = redact_compile(r, &err)) != 0 ||
	    (rc = sweep_new(r, fix ? SWEEP_FIX : 0, &s, &err)) != 0)
		goto out;
	for (i = 0; i < npl && rc == 0; i++)
		rc = sweep_place(s, &pl[i], &err);
	for (i = (size_t)optind; i < (size_t)argc && rc == 0 && npl == 0; i++)
		rc = sweep_path(s, argv[i], 1, &err);
	if (rc == 0 && git && checked)
		rc = sweep_git_values(s, root, &err);
	if (rc == 0 && git && rules != NULL)
		rc = sweep_history(s, rules, root, &err);
	if (rc != 0)
		goto out;
	sweep_sort(s);
	if (fmt == FMT_JSON)
		rc = sweep_write_json(s, stdout);
	else if (fmt == FMT_SARIF)
		rc = sweep_write_sarif(s, stdout);
	else
		rc = sweep_write_text(s, stdout);
	if (rc != 0) {
		rc = al_err_set(&err, rc, "cannot write the report");
		goto out;
	}
	fflush(stdout);
	print_problems(s);
	hits = sweep_hits(s, &nhits);
	fprintf(stderr, "%zu %s in %llu files (%llu bytes)", nhits,
	    nhits == 1 ? "hit" : "hits", (unsigned long long)sweep_files(s),
	    (unsigned long long)sweep_bytes(s));
	if (fix)
		fprintf(stderr, ", %llu files rewritten",
		    (unsigned long long)sweep_fixed(s));
	fputc('\n', stderr);
	if (!checked)
		fprintf(stderr, "airlock: sweep: known values were not "
		    "checked\n");
	if (checked && !no_mark && nhits > 0 &&
	    (rc = cli_exposure_mark(cli, "sweep", hits, nhits,
	    "sweep", &err)) != 0)
		goto out;
	status = sweep_errors(s) > 0 ? CLI_EXIT_FAIL : nhits > 0 ?
	    CLI_EXIT_FOUND : CLI_EXIT_OK;
out:
	if (rc != 0)
		status = cli_fail(&err);
	sweep_places_free(pl, npl);
	sweep_free(s);
	redact_free(r);
	scan_engine_free(rules);
	free(root);
	return status;
}

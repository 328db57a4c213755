/* airlock scan: find hardcoded secrets and unsafe secret handling. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "airlock/redact.h"
#include "airlock/scan.h"
#include "airlock/sweep.h"
#include "cli.h"
#include "exposure.h"
#include "rules.h"

const char cmd_scan_help[] =
"usage: airlock scan [PATH...] [options]\n"
"       airlock scan --staged | --git [RANGE] | --stdin [options]\n"
"       airlock scan --list-rules [--format text|markdown]\n"
"\n"
"Find hardcoded secrets (tokens, keys, passwords, connection strings) and\n"
"code that handles secrets unsafely (printing them, set -x, TLS off next to\n"
"a token).  A finding shows where it is and at most the first 4 and last 2\n"
"characters of the secret; the value itself is never printed.\n"
"\n"
"Sources (one of):\n"
"  PATH...              files and directories (default: .); inside a git\n"
"                       work tree, .gitignore'd files are skipped (counted\n"
"                       in the summary; ignored files that look like\n"
"                       credentials are named); a file named here is\n"
"                       always scanned\n"
"  --staged             the lines a `git commit` would add now, also\n"
"                       searched for the values stored in the vault (in\n"
"                       every encoding `airlock redact` masks); one found\n"
"                       is reported by its secret's name and marks that\n"
"                       secret exposed (its leases are revoked)\n"
"  --git RANGE          the lines added by the commits in RANGE (A..B)\n"
"  --git                the whole history: every blob of every branch, once,\n"
"                       with the commit, author and date that added it\n"
"  --stdin              standard input (e.g. an agent's output)\n"
"\n"
"Options:\n"
"  --format F           text (default), json or sarif (SARIF 2.1.0)\n"
"  --json               same as --format json\n"
"  --config FILE        read FILE instead of .airlock.yaml at the root of\n"
"                       the repository (or the current directory)\n"
"  --no-config          ignore .airlock.yaml\n"
"  --baseline FILE      do not report findings accepted in FILE\n"
"  --write-baseline FILE  accept every current finding: write them to FILE\n"
"                       and exit 0\n"
"  --max-size SIZE      skip files (and blobs) over SIZE (default 10M)\n"
"  --min-severity S     report only S and above: warning (default) or error\n"
"  --secrets-only       leave out the unsafe-handling rules\n"
"  --no-known-values    --staged: do not search for the vault's values\n"
"  --no-ignore          walk directories without honouring .gitignore\n"
"  --stdin-name NAME    the name to show for standard input (default -)\n"
"  --threads N          scanning threads (default: one per CPU)\n"
"  -q, --quiet          no summary line on stderr\n"
"  -o, --output FILE    write the report to FILE instead of stdout\n"
"  --no-cache           compile the rules even if a compiled copy is cached\n"
"                       in $XDG_CACHE_HOME/airlock (default ~/.cache/airlock)\n"
"  --list-rules         list the rules in force and exit\n"
"  -h, --help           show this help\n"
"\n"
"A line containing `airlock:allow` is never reported.  .airlock.yaml can\n"
"add and disable rules and allowlist paths and values; see\n"
"docs/commands/scan.md and docs/rules.md.\n"
"\n"
"Exit status: 0 nothing found, 1 findings, 2 error (bad option, invalid\n"
".airlock.yaml, not a git repository, nothing read).\n";

enum {
	OPT_STAGED = 256, OPT_GIT, OPT_STDIN, OPT_FORMAT, OPT_JSON, OPT_CONFIG,
	OPT_NOCONFIG, OPT_BASELINE, OPT_WBASELINE, OPT_MAXSIZE, OPT_MINSEV,
	OPT_SECRETS, OPT_NOIGNORE, OPT_STDINNAME, OPT_THREADS, OPT_QUIET,
	OPT_LIST, OPT_NOCACHE, OPT_NOVALUES,
};

enum fmt { FMT_TEXT, FMT_JSON, FMT_SARIF, FMT_MARKDOWN };

struct scan_args {
	struct scan_opts	 o;
	int			 nsources;
	int			 fmt;
	const char		*config;
	int			 no_config;
	const char		*baseline;
	const char		*write_baseline;
	int			 max_size_set;
	int			 min_sev;
	int			 engine_flags;
	int			 quiet;
	int			 list;
	int			 no_cache;
	int			 no_values;	/* --no-known-values */
	const char		*output;	/* NULL: stdout */
};

struct progress {
	int64_t	start_ms;
	int	shown;
};

static void
on_warn(const char *msg, void *arg)
{
	(void)arg;
	al_msg(stderr, "warning", "%s", msg);
}

/* A progress line on a terminal, once a scan has run for a second. */
static void
on_progress(const struct scan_progress *p, void *arg)
{
	struct progress *pr = arg;

	if (al_mono_ms() - pr->start_ms < 1000)
		return;
	pr->shown = 1;
	if (p->total_files)
		fprintf(stderr, "\r\033[Kscanning: %llu/%llu files, %.1f MB",
		    (unsigned long long)p->files,
		    (unsigned long long)p->total_files, p->bytes / 1e6);
	else
		fprintf(stderr, "\r\033[Kscanning: %llu files, %.1f MB",
		    (unsigned long long)p->files, p->bytes / 1e6);
	fflush(stderr);
}

static int
parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v, mul = 1;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (*end == 'K' || *end == 'k')
		mul = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mul = 1024 * 1024, end++;
	else if (*end == 'G' || *end == 'g')
		mul = 1024ull * 1024 * 1024, end++;
	if (*end != '\0' || v == 0 || v > ((1ull << 32) - 1) / mul)
		return -1;
	*out = (size_t)(v * mul);
	return 0;
}

static int
parse_args(int argc, char **argv, struct scan_args *a)
{
	static const struct option opts[] = {
		{ "staged", no_argument, NULL, OPT_STAGED },
		{ "git", optional_argument, NULL, OPT_GIT },
		{ "stdin", no_argument, NULL, OPT_STDIN },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "no-config", no_argument, NULL, OPT_NOCONFIG },
		{ "baseline", required_argument, NULL, OPT_BASELINE },
		{ "write-baseline", required_argument, NULL, OPT_WBASELINE },
		{ "max-size", required_argument, NULL, OPT_MAXSIZE },
		{ "min-severity", required_argument, NULL, OPT_MINSEV },
		{ "secrets-only", no_argument, NULL, OPT_SECRETS },
		{ "no-ignore", no_argument, NULL, OPT_NOIGNORE },
		{ "stdin-name", required_argument, NULL, OPT_STDINNAME },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "list-rules", no_argument, NULL, OPT_LIST },
		{ "no-cache", no_argument, NULL, OPT_NOCACHE },
		{ "no-known-values", no_argument, NULL, OPT_NOVALUES },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct al_err err;
	long long n;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":hqo:", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			a->quiet = 1;
			break;
		case 'o':
			a->output = optarg;
			break;
		case OPT_STAGED:
			a->o.source = SCAN_SRC_STAGED;
			a->nsources++;
			break;
		case OPT_GIT:
			/* "--git RANGE" as well as "--git=RANGE". */
			if (optarg == NULL && optind < argc &&
			    argv[optind][0] != '-')
				optarg = argv[optind++];
			a->o.source = optarg ? SCAN_SRC_GIT_RANGE :
			    SCAN_SRC_GIT_HISTORY;
			a->o.range = optarg;
			a->nsources++;
			break;
		case OPT_STDIN:
			a->o.source = SCAN_SRC_STDIN;
			a->nsources++;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "text") == 0)
				a->fmt = FMT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				a->fmt = FMT_JSON;
			else if (strcmp(optarg, "sarif") == 0)
				a->fmt = FMT_SARIF;
			else if (strcmp(optarg, "markdown") == 0)
				a->fmt = FMT_MARKDOWN;
			else
				return cli_usage("scan", "bad --format '%s' "
				    "(expected text, json or sarif)", optarg);
			break;
		case OPT_JSON:
			a->fmt = FMT_JSON;
			break;
		case OPT_CONFIG:
			a->config = optarg;
			break;
		case OPT_NOCONFIG:
			a->no_config = 1;
			break;
		case OPT_BASELINE:
			a->baseline = optarg;
			break;
		case OPT_WBASELINE:
			a->write_baseline = optarg;
			break;
		case OPT_MAXSIZE:
			if (parse_size(optarg, &a->o.max_file_size) != 0)
				return cli_usage("scan", "bad --max-size '%s' "
				    "(expected 1 to 4G, e.g. 512K, 10M)",
				    optarg);
			a->max_size_set = 1;
			break;
		case OPT_MINSEV:
			if (strcmp(optarg, "warning") == 0)
				a->min_sev = SCAN_SEV_WARNING;
			else if (strcmp(optarg, "error") == 0)
				a->min_sev = SCAN_SEV_ERROR;
			else
				return cli_usage("scan", "bad --min-severity "
				    "'%s' (expected warning or error)", optarg);
			break;
		case OPT_SECRETS:
			a->engine_flags |= SCAN_ENGINE_SECRETS_ONLY;
			break;
		case OPT_NOIGNORE:
			a->o.no_ignore = 1;
			break;
		case OPT_STDINNAME:
			a->o.stdin_name = optarg;
			break;
		case OPT_THREADS:
			al_err_clear(&err);
			if (al_parse_int(optarg, 1, 64, "--threads", &n,
			    &err) != 0)
				return cli_usage("scan", "%s", err.msg);
			a->o.threads = (int)n;
			break;
		case OPT_QUIET:
			a->quiet = 1;
			break;
		case OPT_LIST:
			a->list = 1;
			break;
		case OPT_NOCACHE:
			a->no_cache = 1;
			break;
		case OPT_NOVALUES:
			a->no_values = 1;
			break;
		case 'h':
			cli_print_help("scan", stdout);
			return -1;
		default:
			return cli_bad_option("scan", argc, argv, c);
		}
	}
	if (optind < argc) {
		a->o.source = SCAN_SRC_PATHS;
		a->o.paths = argv + optind;
		a->o.npaths = (size_t)(argc - optind);
		a->nsources++;
	}
	if (a->nsources > 1)
		return cli_usage("scan", "give one source: paths, --staged, "
		    "--git [RANGE] or --stdin");
	if (a->nsources == 0)
		a->o.source = SCAN_SRC_PATHS;
	if (a->fmt == FMT_MARKDOWN && !a->list)
		return cli_usage("scan", "--format markdown is for "
		    "--list-rules");
	if (a->list && (a->fmt == FMT_JSON || a->fmt == FMT_SARIF))
		return cli_usage("scan", "--list-rules prints text or markdown "
		    "(the rules as data: rules/default.yaml; in SARIF, every "
		    "report carries them)");
	if (a->baseline && a->write_baseline)
		return cli_usage("scan", "--baseline and --write-baseline "
		    "do not go together");
	return 0;
}

/* Built-in rules plus .airlock.yaml; the config is kept for allowlists. */
static int
load_rules(struct scan_args *a, struct scan_rules **rules,
    struct scan_config **cfg, struct al_err *err)
{
	char *path = NULL;
	int rc;

	*cfg = NULL;
	if ((rc = scan_rules_builtin(rules, err)) != 0)
		return rc;
	if (a->no_config)
		return 0;
	if (a->config == NULL &&
	    (rc = scan_config_locate(".", &path, err)) != 0)
		return rc;
	rc = scan_config_load(a->config ? a->config : path, cfg, err);
	if (rc == AL_ENOENT && a->config == NULL)
		rc = 0;
	else if (rc == AL_ENOENT)
		rc = al_err_set(err, rc, "no configuration file %s", a->config);
	else if (rc == 0 && (rc = scan_rules_apply_config(*rules, *cfg,
	    err)) == 0 && !a->max_size_set)
		a->o.max_file_size = scan_config_max_file_size(*cfg);
	free(path);
	return rc;
}

/* Files git ignores that look like credentials: say they were left out. */
static void
warn_risky(const struct scan_ignored *ig)
{
	char list[512];
	size_t i, len = 0;
	int n;

	if (ig->nrisky == 0)
		return;
	list[0] = '\0';
	for (i = 0; i < ig->nrisky; i++) {
		n = snprintf(list + len, sizeof(list) - len, "%s%s",
		    i ? ", " : "", ig->risky[i]);
		if (n < 0 || (size_t)n >= sizeof(list) - len) {
			(void)snprintf(list + len, sizeof(list) - len, ", ...");
			break;
		}
		len += (size_t)n;
	}
	al_msg(stderr, "warning", "not scanned, as git ignores %s, but %s "
	    "like credentials: %s (scan them by name, or with --no-ignore)",
	    ig->nrisky == 1 ? "it" : "them", ig->nrisky == 1 ? "it looks" :
	    "they look", list);
}

static void
drop_below(struct scan_report *r, int min_sev)
{
	size_t i, j;

	for (i = j = 0; i < r->nfindings; i++) {
		if (r->findings[i].rule->severity < min_sev) {
			free(r->findings[i].path);
			continue;
		}
		r->findings[j++] = r->findings[i];
	}
	r->nfindings = j;
}

/*
 * Known values in the staged changes: the vault's values (read as `airlock
 * sweep` reads them) searched for, through the same redactor, in the lines
 * `git diff --cached` adds.  *sp is NULL when they were not checked (the
 * vault cannot be read without asking: said on stderr).
 */
static int
staged_values(struct cli *cli, struct redact **rp, struct sweep **sp,
    struct al_err *err)
{
	/*
	 * --text: a file git takes for binary (a NUL byte, or a "binary" or
	 * "-diff" attribute the commit itself may add) is committed all the
	 * same, and its added bytes are searched like any others.
	 */
	char *const argv[] = { "git", "-c", "core.quotePath=false", "diff",
	    "--cached", "--text", "--no-color", "--no-ext-diff",
	    "--no-textconv", "--no-renames", "-U0", "--diff-filter=ACMRT",
	    NULL };
	int rc, ok, checked = 0;

	*sp = NULL;
	if ((rc = redact_new(rp, err)) != 0 ||
	    (rc = cli_known_values(cli, *rp, "scan", &checked, err)) != 0)
		return rc;
	if (!checked)
		return 0;
	if ((rc = redact_compile(*rp, err)) != 0 ||
	    (rc = sweep_new(*rp, 0, sp, err)) != 0)
		return rc;
	if (redact_value_count(*rp) == 0)
		return 0;
	rc = cli_sweep_git(*sp, argv, sweep_diff, "staged changes", &ok, err);
	if (rc == 0 && sweep_errors(*sp) > 0)
		rc = al_err_set(err, AL_EIO, "cannot read the staged changes");
	if (rc == 0 && !ok)
		rc = al_err_set(err, AL_EIO, "git diff --cached failed: the "
		    "staged changes were not searched for known values");
	if (rc == 0)
		sweep_sort(*sp);
	return rc;
}

/* A known value as a SARIF result, or as a JSON report entry. */
static json_t *
value_json(const struct sweep_hit *h, int sarif)
{
	char msg[160];

	if (!sarif)
		return json_pack("{s:s, s:s, s:I, s:I}", "secret", h->name,
		    "path", h->path, "line", (json_int_t)h->line, "column",
		    (json_int_t)h->col);
	(void)snprintf(msg, sizeof(msg), "the value of secret '%s' (known "
	    "value)", h->name);
	return json_pack("{s:s, s:s, s:{s:s}, s:[{s:{s:{s:s}, s:{s:I, "
	    "s:I}}}]}", "ruleId", "airlock/known-value", "level", "error",
	    "message", "text", msg, "locations", "physicalLocation",
	    "artifactLocation", "uri", h->path, "region", "startLine",
	    (json_int_t)(h->line ? h->line : 1), "startColumn",
	    (json_int_t)(h->col ? h->col : 1));
}

/*
 * The scanner's JSON or SARIF report (text in rep, len bytes) with the
 * known values added: a "known_values" array (JSON), or results under the
 * rule airlock/known-value (SARIF), each naming the secret, never its
 * value.
 */
static int
write_with_values(const char *rep, size_t len, const struct sweep *s,
    int sarif, FILE *out)
{
	const struct sweep_hit *hits;
	json_t *root, *arr, *run, *driver, *rules, *rule;
	json_error_t je;
	size_t n, i;
	int bad;

	if ((root = json_loadb(rep, len, 0, &je)) == NULL)
		return AL_EIO;
	hits = sweep_hits(s, &n);
	if (!sarif) {
		arr = json_array();
		bad = arr == NULL || json_object_set_new(root, "known_values",
		    arr) != 0;
	} else {
		run = json_array_get(json_object_get(root, "runs"), 0);
		driver = json_object_get(json_object_get(run, "tool"),
		    "driver");
		rules = json_object_get(driver, "rules");
		arr = json_object_get(run, "results");
		rule = json_pack("{s:s, s:{s:s}, s:{s:s}}", "id",
		    "airlock/known-value", "shortDescription", "text",
		    "a value stored in the airlock vault, in any encoding "
		    "airlock masks", "defaultConfiguration", "level", "error");
		bad = rules == NULL || arr == NULL || rule == NULL ||
		    json_array_append_new(rules, rule) != 0;
	}
	for (i = 0; !bad && i < n; i++)
		if (hits[i].kind == SWEEP_HIT_VALUE)
			bad |= json_array_append_new(arr,
			    value_json(&hits[i], sarif)) != 0;
	if (!bad)
		bad = json_dumpf(root, out, JSON_INDENT(2)) != 0 ||
		    fputc('\n', out) == EOF;
	json_decref(root);
	return bad ? AL_EIO : 0;
}

/* The scanner's JSON or SARIF report, then the known values added to it. */
static int
write_report_values(const struct scan_report *rep,
    const struct scan_engine *e, const struct sweep *sw, int sarif,
    FILE *out)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m;
	int rc;

	if ((m = open_memstream(&text, &len)) == NULL)
		return AL_ENOMEM;
	rc = sarif ? scan_report_write_sarif(rep, e, m) :
	    scan_report_write_json(rep, m);
	if (fclose(m) != 0 && rc == 0)
		rc = AL_EIO;
	if (rc == 0)
		rc = write_with_values(text, len, sw, sarif, out);
	free(text);
	return rc;
}

/*
 * Each secret found is exposed: where is "pre-commit: <path>" (never the
 * value); the broker, when one runs, revokes its leases and denies its
 * approvals in the same step.
 */
static int
mark_values(struct cli *cli, const struct sweep *sw, struct al_err *err)
{
	const struct sweep_hit *hits;
	struct sweep_hit *w;
	char (*where)[PATH_MAX + 16];
	size_t n, i;
	int rc;

	hits = sweep_hits(sw, &n);
	if ((w = calloc(n, sizeof(*w))) == NULL ||
	    (where = calloc(n, sizeof(*where))) == NULL) {
		free(w);
		return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	for (i = 0; i < n; i++) {
		w[i] = hits[i];
		(void)snprintf(where[i], sizeof(where[i]), "pre-commit: %s",
		    hits[i].path);
		w[i].path = where[i];
	}
	rc = cli_exposure_mark(cli, "scan", w, n, "pre-commit", err);
	free(where);
	free(w);
	return rc;
}

int
cmd_scan(struct cli *cli, int argc, char **argv)
{
	struct scan_args a;
	struct scan_rules *rules = NULL;
	struct scan_config *cfg = NULL;
	struct scan_engine *e = NULL;
	struct scan_report *rep = NULL;
	struct scan_baseline *bl = NULL;
	struct progress pr;
	struct scan_ignored ig;
	struct redact *red = NULL;
	struct sweep *sw = NULL;
	FILE *out = stdout;
	struct al_err err;
	char cache[PATH_MAX];
	size_t accepted = 0, nvalues = 0;
	int rc, ret = CLI_EXIT_FAIL;

	memset(&a, 0, sizeof(a));
	memset(&ig, 0, sizeof(ig));
	a.o.stdin_fd = STDIN_FILENO;
	a.min_sev = SCAN_SEV_WARNING;
	al_err_clear(&err);
	if ((rc = parse_args(argc, argv, &a)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (load_rules(&a, &rules, &cfg, &err) != 0)
		goto fail;
	if (a.list) {
		rc = a.fmt == FMT_MARKDOWN ? scan_rules_write_markdown(rules,
		    stdout) : scan_rules_write_table(rules, stdout);
		ret = rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		goto out;
	}
	if (scan_engine_new_cached(rules, a.engine_flags, a.no_cache ? NULL :
	    cli_cache_dir(cache, sizeof(cache)), &e, &err) != 0)
		goto fail;
	if (a.baseline != NULL) {
		rc = scan_baseline_load(a.baseline, &bl, &err);
		if (rc == AL_ENOENT)
			(void)al_err_set(&err, rc, "no baseline at %s (create "
			    "one with --write-baseline)", a.baseline);
		if (rc != 0)
			goto fail;
	} else if (a.write_baseline != NULL) {
		/* Keep the key of an existing baseline: fingerprints stay. */
		rc = scan_baseline_load(a.write_baseline, &bl, &err);
		if (rc == AL_ENOENT)
			rc = scan_baseline_new(&bl, &err);
		if (rc != 0)
			goto fail;
	}
	if ((a.o.source == SCAN_SRC_STAGED && !scan_git_inside(NULL, 1)) ||
	    ((a.o.source == SCAN_SRC_GIT_HISTORY ||
	    a.o.source == SCAN_SRC_GIT_RANGE) && !scan_git_inside(NULL, 0))) {
		(void)al_err_set(&err, AL_ENOENT, "not inside a git repository");
		goto fail;
	}
	a.o.fp_key = bl ? scan_baseline_key(bl) : NULL;
	a.o.config = cfg;
	a.o.warn = on_warn;
	if (isatty(STDERR_FILENO)) {
		pr.start_ms = al_mono_ms();
		pr.shown = 0;
		a.o.progress = on_progress;
		a.o.progress_arg = &pr;
	}
	rc = scan_run(e, &a.o, &rep, &err);
	if (a.o.progress != NULL && pr.shown)
		fputs("\r\033[K", stderr);
	if (rc != 0)
		goto fail;
	if (scan_paths_ignored(&a.o, &ig, &err) != 0)
		goto fail;
	warn_risky(&ig);
	if (a.o.source == SCAN_SRC_PATHS && rep->files == 0 &&
	    rep->skipped == 0) {
		(void)al_err_set(&err, AL_ENOENT, "nothing was scanned: no "
		    "file to read%s", ig.n ? " (everything is ignored by git: "
		    "--no-ignore scans it)" : "");
		goto fail;
	}
	drop_below(rep, a.min_sev);
	if (a.o.source == SCAN_SRC_STAGED && !a.no_values &&
	    a.write_baseline == NULL) {
		if (staged_values(cli, &red, &sw, &err) != 0)
			goto fail;
		if (sw != NULL)
			(void)sweep_hits(sw, &nvalues);
	}
	if (a.write_baseline != NULL) {
		if (scan_baseline_write(bl, rep, a.write_baseline, &err) != 0)
			goto fail;
		if (!a.quiet)
			al_msg(stderr, "scan", "wrote %zu finding%s to %s",
			    rep->nfindings, rep->nfindings == 1 ? "" : "s",
			    a.write_baseline);
		ret = CLI_EXIT_OK;
		goto out;
	}
	if (bl != NULL)
		accepted = scan_baseline_filter(bl, rep);
	if (a.output != NULL) {
		FILE *f = fopen(a.output, "we");

		if (f == NULL) {
			(void)al_err_set(&err, AL_EIO, "cannot write %s: %s",
			    a.output, strerror(errno));
			goto fail;
		}
		out = f;
	}
	if (nvalues > 0 && a.fmt != FMT_TEXT)
		rc = write_report_values(rep, e, sw, a.fmt == FMT_SARIF, out);
	else if (a.fmt == FMT_JSON)
		rc = scan_report_write_json(rep, out);
	else if (a.fmt == FMT_SARIF)
		rc = scan_report_write_sarif(rep, e, out);
	else if ((rc = scan_report_write_text(rep, out, out == stdout &&
	    cli->color_out)) == 0 && nvalues > 0)
		rc = sweep_write_text(sw, out);
	if (out != stdout) {
		FILE *f = out;

		out = stdout;
		if (fclose(f) != 0)
			rc = AL_EIO;
	} else if (fflush(stdout) != 0)
		rc = AL_EIO;
	if (rc != 0) {
		(void)al_err_set(&err, AL_EIO, "cannot write the report");
		goto fail;
	}
	if (!a.quiet && a.fmt == FMT_TEXT) {
		char ign[96] = "";

		char com[48] = "";

		if (ig.n)
			(void)snprintf(ign, sizeof(ign), ", %zu ignored by git "
			    "(--no-ignore scans them)", ig.n);
		if (a.o.source == SCAN_SRC_GIT_HISTORY ||
		    a.o.source == SCAN_SRC_GIT_RANGE)
			(void)snprintf(com, sizeof(com), " of %llu commit%s",
			    (unsigned long long)rep->commits,
			    rep->commits == 1 ? "" : "s");
		al_msg(stderr, "scan", "%zu finding%s in %llu file%s%s (%.1f "
		    "MB), %llu skipped, %zu accepted by the baseline%s",
		    rep->nfindings, rep->nfindings == 1 ? "" : "s",
		    (unsigned long long)rep->files, rep->files == 1 ? "" : "s",
		    com, rep->bytes / 1e6, (unsigned long long)rep->skipped,
		    accepted, ign);
	}
	if (nvalues > 0) {
		al_msg(stderr, "scan", "%zu value%s stored in the vault found "
		    "in the staged changes (named above by secret, never "
		    "shown): take %s out of the files; neither airlock:allow "
		    "nor a baseline accepts a known value", nvalues,
		    nvalues == 1 ? "" : "s", nvalues == 1 ? "it" : "them");
		if (mark_values(cli, sw, &err) != 0)
			goto fail;
	}
	ret = rep->nfindings > 0 || nvalues > 0 ? CLI_EXIT_FOUND :
	    CLI_EXIT_OK;
	goto out;
fail:
	ret = cli_fail(&err);
out:
	if (out != stdout)
		(void)fclose(out);
	scan_ignored_release(&ig);
	sweep_free(sw);
	redact_free(red);
	scan_report_free(rep);
	scan_baseline_free(bl);
	scan_engine_free(e);
	scan_config_free(cfg);
	scan_rules_free(rules);
	return ret;
}

/* airlock policy check|lint|show: try, validate and print the policy. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "airlock/client.h"
#include "airlock/identity.h"
#include "airlock/policy.h"
#include "airlock/vault.h"
#include "cli.h"
#include "clientcli.h"
#include "vaultcli.h"

const char cmd_policy_help[] =
"usage: airlock policy check [--as SELECTOR]... --secret NAME [--intent TEXT]\n"
"                            [--task ID] [--label K=V]... [--repo REMOTE]\n"
"                            [--unknown KIND:KEY]... [--at TIME]\n"
"                            [--file PATH] [--json]\n"
"       airlock policy lint [FILE] [--json]\n"
"       airlock policy show [--default]\n"
"       airlock policy reload [--json]\n"
"\n"
"The policy ($AIRLOCK_HOME/policy.yaml, see docs/policy.md) decides who may\n"
"lease which secret, for how long and for what.  Rules are tried top to\n"
"bottom; the first that matches decides; no match is a denial.\n"
"\n"
"check   decide one request as the broker would and print the decision and\n"
"        the rule (id and line) that made it.  The caller is given as\n"
"        selectors (--as, repeatable): unix:uid:1000, unix:exe:/usr/bin/node,\n"
"        unix:ancestor-exe:/usr/local/bin/claude, ...; without --as, you\n"
"        (the selectors the broker sees for this shell).  Without --label the\n"
"        secret's labels are read from the vault when it holds the secret.\n"
"lint    report every error in FILE (default: the policy in force) with its\n"
"        line number, and a note for each selector this deployment cannot\n"
"        read for other users' processes (no root, no CAP_SYS_PTRACE).\n"
"show    print the policy in force: policy.yaml, or the built-in default\n"
"        when there is no file (--default: always the built-in default).\n"
"reload  have the broker read policy.yaml now and say the result (it also\n"
"        reloads by itself when the file changes; a bad file is refused\n"
"        and the previous policy stays in force).\n"
"\n"
"check options:\n"
"  --as SELECTOR     a selector of the caller (repeatable, at least one)\n"
"  --secret NAME     the secret asked for\n"
"  --intent TEXT     the declared intent (default: none)\n"
"  --task ID         the task the lease is for\n"
"  --label K=V       a label of the secret (repeatable; replaces the vault's)\n"
"  --repo REMOTE     the git remote of the caller's working directory\n"
"  --unknown KEY     a selector key the broker cannot read for this caller\n"
"                    (unix:exe, unix:sha256, unix:ancestor-exe, unix:cgroup,\n"
"                    or repos): it counts against the caller, as in the\n"
"                    broker (repeatable)\n"
"  --at TIME         decide at TIME: 2027-01-31T12:00:00Z (UTC) or a\n"
"                    duration from now (default: now)\n"
"  --file PATH       use the policy in PATH instead of the one in force\n"
"  --json            print the decision as a JSON object\n"
"\n"
"Exit status: check: 0 allowed, 1 denied or approval needed, 2 error;\n"
"lint: 0 clean, 1 errors found, 2 the file could not be read; show: 0, or 2;\n"
"reload: 0 in force, 1 refused, 2 error.\n";

#define CHECK_SELECTORS_MAX	64
#define CHECK_LABELS_MAX	VAULT_LIST_MAX

enum {
	OPT_AS = 256, OPT_SECRET, OPT_INTENT, OPT_TASK, OPT_LABEL, OPT_REPO,
	OPT_AT, OPT_FILE, OPT_JSON, OPT_DEFAULT, OPT_UNKNOWN,
};

struct check_args {
	const char	*sel[CHECK_SELECTORS_MAX];
	size_t		 nsel;
	const char	*labels[CHECK_LABELS_MAX];
	size_t		 nlabels;
	const char	*unknown[CHECK_SELECTORS_MAX];
	size_t		 nunknown;
	int		 repo_unknown;
	const char	*secret;
	const char	*intent;
	const char	*task;
	const char	*repo;
	const char	*at;
	const char	*file;
	int		 json;
	int		 dflt;
	const char	*path;		/* lint FILE */
};

static int
policy_path(struct cli *cli, char *out, size_t outsz)
{
	if (al_path_join(out, outsz, cli->home, POLICY_FILE) != 0)
		return cli_failf("state directory path is too long");
	return 0;
}

/*
 * Load the policy check uses: --file as given (a candidate may live
 * anywhere), else the file in force with the broker's safety checks, else
 * the built-in default.  *src names where it came from.
 */
static int
load_policy(struct cli *cli, const char *file, struct policy **out,
    int *builtin, struct al_err *err)
{
	char path[PATH_MAX];
	struct al_buf text;
	int rc;

	*builtin = 0;
	if (file != NULL) {
		al_buf_init(&text, POLICY_TEXT_MAX + 1, 0);
		rc = policy_read_file(file, &text, err);
		if (rc == 0)
			rc = policy_load_text(al_buf_str(&text), text.len, file,
			    out, err);
		al_buf_release(&text);
		return rc;
	}
	if (al_path_join(path, sizeof(path), cli->home, POLICY_FILE) != 0)
		return al_err_set(err, AL_ETOOBIG, "state directory path is "
		    "too long");
	rc = policy_load_file(path, out, err);
	if (rc == AL_ENOENT) {
		*builtin = 1;
		rc = policy_load_default((unsigned)geteuid(), out, err);
	}
	return rc;
}

/* The secret's labels from the vault, when there is one holding it. */
static int
vault_labels(struct cli *cli, const char *secret, char ***out, size_t *n)
{
	struct vault *v = NULL;
	struct vault_meta m;
	char **l = NULL;
	size_t i;
	int rc = 0;

	*out = NULL;
	*n = 0;
	memset(&m, 0, sizeof(m));
	if (cli_vault_open(cli, &v, NULL) != 0 ||
	    vault_secret_get(v, secret, &m, NULL) != 0)
		goto out;
	if (m.nlabels > 0 && (l = calloc(m.nlabels, sizeof(*l))) == NULL) {
		rc = AL_ENOMEM;
		goto out;
	}
	for (i = 0; i < m.nlabels; i++) {
		if (asprintf(&l[i], "%s=%s", m.labels[i].key,
		    m.labels[i].value) < 0) {
			l[i] = NULL;
			rc = AL_ENOMEM;
			goto out;
		}
		(*n)++;
	}
	*out = l;
	l = NULL;
out:
	if (l != NULL) {
		for (i = 0; i < *n; i++)
			free(l[i]);
		free(l);
		*n = 0;
	}
	vault_meta_release(&m);
	vault_close(v);
	return rc;
}

static const char *
effect_color(const struct cli *cli, enum policy_effect e)
{
	if (!cli->color_out)
		return "";
	return e == POLICY_ALLOW ? "\033[32m" : e == POLICY_DENY ?
	    "\033[31m" : "\033[33m";
}

/* Print "name  value" with the value's control characters escaped. */
static void
print_field(const char *name, const char *value)
{
	struct al_buf b;

	al_buf_init(&b, 64 * 1024, 0);
	if (al_buf_append_escaped(&b, value, strlen(value)) == 0)
		printf("%-10s%s\n", name, al_buf_str(&b));
	al_buf_release(&b);
}

static void
print_decision_text(struct cli *cli, const struct policy *p, int builtin,
    const struct policy_decision *d, const char *const *labels,
    size_t nlabels, int labels_from_vault)
{
	char buf[POLICY_ID_MAX + PATH_MAX + 64], dur[32];
	size_t i;

	printf("%-10s%s%s%s\n", "decision", effect_color(cli, d->effect),
	    policy_effect_name(d->effect), cli->color_out ? "\033[0m" : "");
	if (d->rule[0] != '\0')
		(void)snprintf(buf, sizeof(buf), "%s (%s:%d)", d->rule,
		    policy_name(p), d->line);	/* may truncate a long path */
	else
		(void)snprintf(buf, sizeof(buf), "(none: no rule matched in "
		    "%s)", policy_name(p));
	print_field("rule", buf);
	if (builtin)
		print_field("policy", "built-in default (no policy.yaml)");
	for (i = 0; i < d->napprovers; i++)
		print_field(i == 0 ? "approvers" : "", d->approvers[i]);
	if (d->effect != POLICY_DENY) {
		al_format_duration(d->max_ttl, dur);
		print_field("max_ttl", dur);
		(void)snprintf(buf, sizeof(buf), "%d", d->max_uses);
		print_field("max_uses", d->max_uses ? buf : "unlimited");
	}
	print_field("reason", d->reason);
	if (d->unknown[0] != '\0')
		print_field("unknown", d->unknown);
	for (i = 0; i < nlabels; i++)
		print_field(i == 0 ? (labels_from_vault ? "labels*" :
		    "labels") : "", labels[i]);
	if (labels_from_vault && nlabels > 0)
		printf("(* labels read from the vault)\n");
}

static int
print_decision_json(const struct policy *p, int builtin,
    const struct policy_decision *d)
{
	json_t *j, *a;
	size_t i;
	int rc;

	if ((j = json_object()) == NULL || (a = json_array()) == NULL) {
		json_decref(j);
		return cli_failf("out of memory");
	}
	for (i = 0; i < d->napprovers; i++)
		json_array_append_new(a, json_string(d->approvers[i]));
	json_object_set_new(j, "decision",
	    json_string(policy_effect_name(d->effect)));
	json_object_set_new(j, "rule", d->rule[0] ? json_string(d->rule) :
	    json_null());
	json_object_set_new(j, "line", d->line ? json_integer(d->line) :
	    json_null());
	json_object_set_new(j, "policy", builtin ? json_null() :
	    json_string(policy_name(p)));
	json_object_set_new(j, "max_ttl", d->effect != POLICY_DENY ?
	    json_integer(d->max_ttl) : json_null());
	json_object_set_new(j, "max_uses", d->effect != POLICY_DENY &&
	    d->max_uses ? json_integer(d->max_uses) : json_null());
	json_object_set_new(j, "reason", json_string(d->reason));
	json_object_set_new(j, "unknown", d->unknown[0] ?
	    json_string(d->unknown) : json_null());
	json_object_set_new(j, "approvers", a);
	rc = cli_print_json(j);
	json_decref(j);
	return rc;
}

static int
check_selector(const char *s)
{
	const char *c = strchr(s, ':');

	if (c == NULL || c == s || strchr(c + 1, ':') == NULL ||
	    strchr(c + 1, ':') == c + 1)
		return cli_usage("policy", "--as: expected a selector "
		    "kind:key:value such as unix:uid:1000, got '%s'", s);
	return 0;
}

/* "kind:key" of a selector a broker may fail to read. */
static int
check_unknown_key(const char *k)
{
	static const char *const keys[] = { "unix:exe", "unix:sha256",
	    "unix:ancestor-exe", "unix:cgroup", NULL };
	size_t i;

	for (i = 0; keys[i] != NULL; i++)
		if (strcmp(k, keys[i]) == 0)
			return 0;
	return cli_usage("policy", "--unknown: expected unix:exe, unix:sha256, "
	    "unix:ancestor-exe, unix:cgroup or repos, got '%s'", k);
}

const char *const cli_unreadable_keys[CLI_UNREADABLE_N] = { "unix:exe",
    "unix:sha256", "unix:ancestor-exe", "repos" };

int
cli_can_inspect_others(void)
{
	char buf[4096], *p;
	unsigned long long eff;
	FILE *f;
	int ok = 0;

	if (geteuid() == 0)
		return 1;
	if ((f = fopen("/proc/self/status", "re")) == NULL)
		return 0;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (strncmp(buf, "CapEff:", 7) == 0) {
			eff = strtoull(buf + 7, &p, 16);
			ok = (eff >> 19) & 1;	/* CAP_SYS_PTRACE */
			break;
		}
	(void)fclose(f);
	return ok;
}

/* What this deployment cannot read, for other users' processes. */
#define UNREADABLE_WHO	"other users' processes (this user has neither root " \
	"nor CAP_SYS_PTRACE)"

static int
run_check(struct cli *cli, struct check_args *a)
{
	struct policy *p = NULL;
	struct policy_request req;
	struct policy_decision d;
	struct al_err err;
	char **vl = NULL;
	size_t nvl = 0, i;
	int builtin, rc;

	al_err_clear(&err);
	memset(&req, 0, sizeof(req));
	if (a->secret == NULL)
		return cli_usage("policy", "'policy check' needs --secret NAME");
	for (i = 0; i < a->nsel; i++)
		if ((rc = check_selector(a->sel[i])) != 0)
			return rc;
	for (i = 0; i < a->nunknown; i++)
		if ((rc = check_unknown_key(a->unknown[i])) != 0)
			return rc;
	for (i = 0; i < a->nlabels; i++)
		if (strchr(a->labels[i], '=') == NULL ||
		    a->labels[i][0] == '=')
			return cli_usage("policy", "--label: expected KEY=VALUE, "
			    "got '%s'", a->labels[i]);
	req.now = cli->clock->now(cli->clock->arg);
	if (a->at != NULL && al_parse_time(a->at, req.now, "--at", &req.now,
	    &err) != 0)
		return cli_fail(&err);
	if (load_policy(cli, a->file, &p, &builtin, &err) != 0)
		return cli_fail(&err);
	req.selectors = a->sel;
	req.nselectors = a->nsel;
	req.unknown = a->unknown;
	req.nunknown = a->nunknown;
	req.repo_unknown = a->repo_unknown;
	req.secret = a->secret;
	req.intent = a->intent;
	req.task = a->task;
	req.repo = a->repo;
	req.labels = a->labels;
	req.nlabels = a->nlabels;
	if (a->nlabels == 0) {
		if (vault_labels(cli, a->secret, &vl, &nvl) != 0) {
			rc = cli_failf("out of memory");
			goto out;
		}
		req.labels = (const char *const *)vl;
		req.nlabels = nvl;
	}
	if (policy_decide(p, &req, &d) != 0) {
		rc = cli_failf("cannot decide: no secret given");
		goto out;
	}
	if (a->json)
		rc = print_decision_json(p, builtin, &d);
	else {
		print_decision_text(cli, p, builtin, &d, req.labels,
		    req.nlabels, nvl > 0);
		/* For the policy in force: what this deployment reads. */
		if (a->file == NULL && !cli_can_inspect_others())
			print_field("note", "without root or CAP_SYS_PTRACE a "
			    "broker cannot read unix:exe, unix:sha256, "
			    "unix:ancestor-exe or repos of " UNREADABLE_WHO
			    ", nor unix:exe, unix:sha256 or repos of airlock's "
			    "own commands: give them as --unknown to see what it decides "
			    "(`airlock policy lint` lists the rules concerned)");
		rc = 0;
	}
	if (rc == 0)
		rc = d.effect == POLICY_ALLOW ? CLI_EXIT_OK : CLI_EXIT_FOUND;
out:
	for (i = 0; i < nvl; i++)
		free(vl[i]);
	free(vl);
	policy_free(p);
	return rc;
}

/* "path:line: message", escaped: the path and message may carry input. */
static void
print_diag_text(const char *path, const struct policy_diag *g)
{
	struct al_buf b;
	int rc;

	al_buf_init(&b, 64 * 1024, 0);
	rc = al_buf_append_escaped(&b, path, strlen(path));
	if (rc == 0 && g->line > 0)
		rc = al_buf_printf(&b, ":%d", g->line);
	if (rc == 0)
		rc = al_buf_puts(&b, ": ");
	if (rc == 0)
		rc = al_buf_append_escaped(&b, g->msg, strlen(g->msg));
	if (rc == 0)
		printf("%s\n", al_buf_str(&b));
	al_buf_release(&b);
}

static json_t *
diags_json(const struct policy_diag *v, size_t n)
{
	json_t *a, *e;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((e = json_object()) == NULL) {
			json_decref(a);
			return NULL;
		}
		json_object_set_new(e, "line", v[i].line ?
		    json_integer(v[i].line) : json_null());
		json_object_set_new(e, "message", json_string(v[i].msg));
		json_array_append_new(a, e);
	}
	return a;
}

static int
print_lint_json(const char *path, const struct policy_diag *v, size_t n,
    const struct policy_diag *notes, size_t nnotes)
{
	json_t *j;
	int rc;

	j = json_pack("{s:s,s:b,s:o*,s:o*}", "file", path, "ok", n == 0,
	    "errors", diags_json(v, n), "notes", diags_json(notes, nnotes));
	if (j == NULL || json_object_get(j, "errors") == NULL ||
	    json_object_get(j, "notes") == NULL) {
		json_decref(j);
		return cli_failf("out of memory");
	}
	rc = cli_print_json(j);
	json_decref(j);
	return rc;
}

static int
run_lint(struct cli *cli, struct check_args *a)
{
	char path[PATH_MAX];
	struct al_buf text;
	struct al_err err;
	struct policy_diag *v = NULL, extra, *notes = NULL;
	struct policy *p = NULL, *lp = NULL;
	size_t n = 0, i, ml, nnotes = 0;
	int rc, in_force = a->path == NULL;

	al_err_clear(&err);
	al_buf_init(&text, POLICY_TEXT_MAX + 1, 0);
	if (in_force && (rc = policy_path(cli, path, sizeof(path))) != 0)
		goto out;
	if (!in_force)
		(void)snprintf(path, sizeof(path), "%s", a->path);
	if ((rc = policy_read_file(path, &text, &err)) != 0) {
		if (rc == AL_ENOENT && in_force)
			rc = cli_failf("no policy at %s (the built-in default "
			    "applies: see `airlock policy show`)", path);
		else
			rc = cli_fail(&err);
		goto out;
	}
	if ((rc = policy_lint_text(al_buf_str(&text), text.len, &v, &n,
	    &err)) != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	/* The file in force must also pass the broker's ownership checks. */
	memset(&extra, 0, sizeof(extra));
	if (in_force && n == 0 && policy_load_file(path, &p, &err) ==
	    AL_EPERM) {
		/* A very long path is cut; the message still says what to do. */
		ml = strnlen(err.msg, sizeof(extra.msg) - 1);
		memcpy(extra.msg, err.msg, ml);
		extra.msg[ml] = '\0';
		v = &extra;
		n = 1;
	}
	/* What a broker running as this user could not evaluate. */
	if (n == 0 && !cli_can_inspect_others() &&
	    policy_load_text(al_buf_str(&text), text.len, path, &lp,
	    NULL) == 0 && policy_unevaluable(lp, cli_unreadable_keys,
	    CLI_UNREADABLE_N, UNREADABLE_WHO, &notes, &nnotes) != 0) {
		rc = cli_failf("out of memory");
		goto out;
	}
	if (a->json)
		rc = print_lint_json(path, v, n, notes, nnotes);
	else {
		for (i = 0; i < n; i++)
			print_diag_text(path, &v[i]);
		if (n == 0) {
			memset(&extra, 0, sizeof(extra));
			(void)snprintf(extra.msg, sizeof(extra.msg), "ok");
			print_diag_text(path, &extra);
		}
		for (i = 0; i < nnotes; i++)
			print_diag_text(path, &notes[i]);
		rc = 0;
	}
	if (rc == 0)
		rc = n > 0 ? CLI_EXIT_FOUND : CLI_EXIT_OK;
out:
	if (v != &extra)
		free(v);
	free(notes);
	policy_free(p);
	policy_free(lp);
	al_buf_release(&text);
	return rc;
}

static int
run_show(struct cli *cli, struct check_args *a)
{
	char path[PATH_MAX];
	struct al_buf text;
	struct al_err err;
	int rc;

	al_err_clear(&err);
	al_buf_init(&text, POLICY_TEXT_MAX + 1, 0);
	if ((rc = policy_path(cli, path, sizeof(path))) != 0)
		goto out;
	rc = a->dflt ? AL_ENOENT : policy_read_file(path, &text, &err);
	if (rc == AL_ENOENT) {
		al_buf_reset(&text);
		if (!a->dflt && al_buf_printf(&text, "# No policy file at %s:"
		    " this built-in default applies.\n", path) != 0)
			rc = AL_ENOMEM;
		else
			rc = policy_default_render((unsigned)geteuid(), &text);
		if (rc != 0)
			al_err_set(&err, rc, "out of memory");
	}
	if (rc != 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (fwrite(text.data, 1, text.len, stdout) != text.len ||
	    fflush(stdout) != 0)
		rc = cli_failf("cannot write the policy to stdout");
out:
	al_buf_release(&text);
	return rc;
}

int
cli_policy_write_default(struct cli *cli, struct al_err *err)
{
	char path[PATH_MAX];
	struct al_buf text;
	int rc;

	al_buf_init(&text, 64 * 1024, 0);
	if (al_path_join(path, sizeof(path), cli->home, POLICY_FILE) != 0) {
		rc = al_err_set(err, AL_ETOOBIG, "state directory path is too "
		    "long");
		goto out;
	}
	if ((rc = policy_default_render((unsigned)geteuid(), &text)) != 0) {
		rc = al_err_set(err, rc, "out of memory");
		goto out;
	}
	rc = al_fs_write_new(path, text.data, text.len, err);
	if (rc == AL_EEXIST) {
		/* A policy written before init is the owner's choice: keep it. */
		al_err_clear(err);
		rc = 0;
	}
out:
	al_buf_release(&text);
	return rc;
}

static const struct option policy_opts[] = {
	{ "as", required_argument, NULL, OPT_AS },
	{ "secret", required_argument, NULL, OPT_SECRET },
	{ "intent", required_argument, NULL, OPT_INTENT },
	{ "task", required_argument, NULL, OPT_TASK },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "repo", required_argument, NULL, OPT_REPO },
	{ "at", required_argument, NULL, OPT_AT },
	{ "file", required_argument, NULL, OPT_FILE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "default", no_argument, NULL, OPT_DEFAULT },
	{ "unknown", required_argument, NULL, OPT_UNKNOWN },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Which options each subcommand takes (bit = option - OPT_AS). */
#define B(o)	(1u << ((o) - OPT_AS))
static unsigned
allowed_opts(const char *sub)
{
	if (strcmp(sub, "check") == 0)
		return B(OPT_AS) | B(OPT_SECRET) | B(OPT_INTENT) |
		    B(OPT_TASK) | B(OPT_LABEL) | B(OPT_REPO) | B(OPT_AT) |
		    B(OPT_FILE) | B(OPT_JSON) | B(OPT_UNKNOWN);
	if (strcmp(sub, "lint") == 0)
		return B(OPT_JSON);
	return B(OPT_DEFAULT);	/* show */
}

static int
parse_args(const char *sub, int argc, char **argv, struct check_args *a)
{
	static const char *const names[] = { "--as", "--secret", "--intent",
	    "--task", "--label", "--repo", "--at", "--file", "--json",
	    "--default", "--unknown" };
	unsigned allowed = allowed_opts(sub);
	int c;

	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", policy_opts, NULL)) != -1) {
		if (c >= OPT_AS && c <= OPT_DEFAULT && !(allowed & B(c)))
			return cli_usage("policy", "'policy %s' does not take "
			    "%s", sub, names[c - OPT_AS]);
		switch (c) {
		case OPT_AS:
			if (a->nsel >= CHECK_SELECTORS_MAX)
				return cli_usage("policy", "at most %d --as "
				    "options", CHECK_SELECTORS_MAX);
			a->sel[a->nsel++] = optarg;
			break;
		case OPT_LABEL:
			if (a->nlabels >= CHECK_LABELS_MAX)
				return cli_usage("policy", "at most %d --label "
				    "options", CHECK_LABELS_MAX);
			a->labels[a->nlabels++] = optarg;
			break;
		case OPT_UNKNOWN:
			if (strcmp(optarg, "repos") == 0) {
				a->repo_unknown = 1;
				break;
			}
			if (a->nunknown >= CHECK_SELECTORS_MAX)
				return cli_usage("policy", "at most %d "
				    "--unknown options", CHECK_SELECTORS_MAX);
			a->unknown[a->nunknown++] = optarg;
			break;
		case OPT_SECRET:	a->secret = optarg; break;
		case OPT_INTENT:	a->intent = optarg; break;
		case OPT_TASK:		a->task = optarg; break;
		case OPT_REPO:		a->repo = optarg; break;
		case OPT_AT:		a->at = optarg; break;
		case OPT_FILE:		a->file = optarg; break;
		case OPT_JSON:		a->json = 1; break;
		case OPT_DEFAULT:	a->dflt = 1; break;
		case 'h':
			(void)cli_print_help("policy", stdout);
			return -1;
		default:
			return cli_bad_option("policy", argc, argv, c);
		}
	}
	if (strcmp(sub, "lint") == 0 && optind < argc)
		a->path = argv[optind++];
	if (optind < argc)
		return cli_usage("policy", "unexpected argument '%s'",
		    argv[optind]);
	return 0;
}

/*
 * check without --as: "would I get it?"  The selectors the broker sees for
 * this very process, read the broker's way (a connected socket's peer);
 * the executable and its hash only when a broker of this uid could read
 * them (root; otherwise airlock commands are not dumpable).
 */
static int
as_myself(struct check_args *a, struct ident **self)
{
	struct al_err err;
	int sv[2], rc, hidden;
	size_t i;

	*self = NULL;
	al_err_clear(&err);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return cli_failf("cannot create a socket pair");
	rc = ident_from_socket(sv[0], NULL, 0, self, &err);
	(void)close(sv[0]);
	(void)close(sv[1]);
	if (rc != 0)
		return cli_fail(&err);
	hidden = geteuid() != 0 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0;
	for (i = 0; i < (*self)->nselectors && a->nsel < CHECK_SELECTORS_MAX;
	    i++) {
		const char *s = (*self)->selectors[i];

		if (hidden && (strncmp(s, "unix:exe:", 9) == 0 ||
		    strncmp(s, "unix:sha256:", 12) == 0))
			continue;
		a->sel[a->nsel++] = s;
	}
	al_msg(stderr, "policy", "deciding for you, as the broker sees this "
	    "shell (%zu selectors; `airlock whoami` lists them, --as chooses "
	    "others)", a->nsel);
	return 0;
}

/* Connect to a running broker only (a new one would read the file anyway). */
static int
running_broker(struct cli *cli, struct client **cl)
{
	struct client_opts o = { .home = cli->home,
	    .socket_path = getenv("AIRLOCK_SOCKET") };

	return client_open(&o, cl, NULL) == 0;
}

/*
 * check and lint speak of the file; say when the running broker refused it
 * and so decides by its previous policy.  (Connecting makes the broker
 * look at the file, so its answer is about the file as it is now.)
 */
static void
broker_note(struct cli *cli)
{
	struct client *cl = NULL;
	json_t *h = NULL;
	const char *e;

	if (!running_broker(cli, &cl))
		return;
	if (client_health(cl, &h, NULL) == 0 &&
	    (e = json_string_value(json_object_get(h, "policy_error"))) != NULL)
		al_msg(stderr, "warning", "the running broker refused this "
		    "file and still enforces its previous policy: %s", e);
	json_decref(h);
	client_close(cl);
}

static int
run_reload(struct cli *cli, struct check_args *a)
{
	struct client *cl = NULL;
	struct al_err err;
	json_t *r = NULL;
	int rc;

	al_err_clear(&err);
	if (cli_client_open(cli, &cl, &err) != 0 ||
	    client_policy_reload(cl, &r, &err) != 0) {
		client_close(cl);
		return cli_fail(&err);
	}
	client_close(cl);
	if (a->json)
		rc = cli_print_json(r);
	else if (json_is_true(json_object_get(r, "ok")))
		rc = (al_msg(stderr, "policy", "the broker enforces %s (%lld "
		    "rule%s)", json_string_value(json_object_get(r, "path")),
		    (long long)json_integer_value(json_object_get(r, "rules")),
		    json_integer_value(json_object_get(r, "rules")) == 1 ? "" :
		    "s"), CLI_EXIT_OK);
	else
		rc = (al_msg(stderr, "error", "the broker refused %s and still "
		    "enforces its previous policy: %s",
		    json_string_value(json_object_get(r, "path")),
		    json_string_value(json_object_get(r, "error"))),
		    CLI_EXIT_OK);
	if (rc == CLI_EXIT_OK && !json_is_true(json_object_get(r, "ok")))
		rc = CLI_EXIT_FOUND;
	json_decref(r);
	return rc;
}

int
cmd_policy(struct cli *cli, int argc, char **argv)
{
	struct check_args a;
	const char *sub;
	int rc;

	memset(&a, 0, sizeof(a));
	if (argc < 2 || cli_wants_help(2, argv)) {
		if (argc < 2)
			return cli_usage("policy", "missing subcommand (check, "
			    "lint or show)");
		return cli_print_help("policy", stdout);
	}
	sub = argv[1];
	if (strcmp(sub, "check") != 0 && strcmp(sub, "lint") != 0 &&
	    strcmp(sub, "show") != 0 && strcmp(sub, "reload") != 0)
		return cli_usage("policy", "unknown subcommand '%s' (check, "
		    "lint, show or reload)", sub);
	if ((rc = parse_args(sub, argc - 1, argv + 1, &a)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (strcmp(sub, "reload") == 0)
		return run_reload(cli, &a);
	if (strcmp(sub, "check") == 0 && a.file == NULL)
		broker_note(cli);
	if (strcmp(sub, "check") == 0) {
		struct ident *self = NULL;

		if (a.nsel == 0 && (rc = as_myself(&a, &self)) != 0)
			return rc;
		rc = run_check(cli, &a);
		ident_free(self);
		return rc;
	}
	if (strcmp(sub, "lint") == 0 && a.path == NULL)
		broker_note(cli);
	if (strcmp(sub, "lint") == 0)
		return run_lint(cli, &a);
	return run_show(cli, &a);
}

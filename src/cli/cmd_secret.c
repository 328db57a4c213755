/* airlock secret add|ls|show|rotate|edit|rm: the secrets in the vault. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "airlock/client.h"
#include "airlock/exec.h"
#include "airlock/redact.h"
#include "airlock/engine.h"
#include "airlock/vault.h"
#include "auditcli.h"
#include "exposure.h"
#include "cli.h"
#include "input.h"
#include "rotatecmd.h"
#include "vaultcli.h"

const char cmd_secret_help[] =
"usage: airlock secret add NAME --owner O --purpose P [options]\n"
"       airlock secret ls [--owner O] [--expired] [--due] [--json]\n"
"       airlock secret show NAME [--json]\n"
"       airlock secret rotate NAME [--value-file PATH] [--keep-newline]\n"
"       airlock secret rotate NAME --auto [--timeout D]\n"
"       airlock secret edit NAME [options]\n"
"       airlock secret rm NAME [--force] [--passphrase-fd N]\n"
"       airlock secret import FILE [--owner O] [--purpose P] [--prefix P]\n"
"\n"
"Manage the secrets in the vault.  Values are never printed: `ls` and `show`\n"
"print metadata only.  A value is read from --value-file (bytes as they are),\n"
"else from stdin when it is not a terminal (one trailing newline stripped\n"
"unless --keep-newline), else asked twice without echo.  No option takes a\n"
"value on the command line.  Values are binary-safe, 1 byte to 64 KiB.\n"
"\n"
"NAME is 1-64 characters of letters, digits, . _ - in parts separated by /\n"
"(GITHUB_TOKEN, work/aws/key), each part starting with a letter or digit.\n"
"\n"
"add and edit options:\n"
"  --owner O            who answers for this secret (required for add)\n"
"  --purpose P          what it is for (required for add)\n"
"  --expires T          expiry: a date (2027-01-31, 2027-01-31T12:00:00Z, UTC)\n"
"                       or a duration from now (90d); `never` clears (edit)\n"
"  --rotate-every D     rotation period (30d, 12w); `never` clears (edit)\n"
"  --last-rotated T     when the value was last changed, for imported\n"
"                       secrets (add only; default now)\n"
"  --host H             a host the secret may be sent to (repeatable; edit\n"
"                       replaces the list)\n"
"  --rotate-with CMD    the command `rotate --auto` runs (sh -c CMD): it\n"
"                       prints the new value on stdout; '' clears (edit)\n"
"  --rotate-within D    an exposure not rotated within D is overdue\n"
"                       (default 7d)\n"
"  --label K=V          a label (repeatable; edit sets or replaces K)\n"
"  --unlabel K          remove label K (edit)\n"
"  --clear-hosts        remove every host (edit)\n"
"  --inject W           where `run --proxy` may also put the value for the\n"
"                       secret's hosts: body or query (repeatable); none:\n"
"                       headers only, the default (see docs/proxy.md)\n"
"  --status S           active, exposed or revoked (edit)\n"
"  --value-file PATH    read the value from PATH (add, rotate)\n"
"  --keep-newline       keep a trailing newline read from stdin (add, rotate)\n"
"  --passphrase-fd N    read the vault passphrase from descriptor N\n"
"\n"
"dynamic secrets (add): a lease mints a fresh credential, destroyed when the\n"
"lease ends (see docs/dynamic.md); the admin password, if any, on stdin:\n"
"  --engine postgres    the engine\n"
"  --connection C       libpq connection string of the admin user (no\n"
"                       password in it)\n"
"  --group ROLE         each minted role becomes a member of ROLE\n"
"  --grant SQL          a statement run for each minted role, {{role}}\n"
"                       replaced by its quoted name (repeatable)\n"
"  --role-prefix P      prefix of minted role names (default airlock_);\n"
"                       roles with it that no lease holds are dropped\n"
"  --reassign-to ROLE   who gets what a role owned when it is dropped\n"
"                       (default: the admin user)\n"
"  --engine exec        any issuer, by command (no value is read):\n"
"  --issue CMD          prints {\"value\": ..., \"id\": ...} for a JSON request\n"
"                       on stdin\n"
"  --revoke CMD         revokes the credential whose id is $1\n"
"  --timeout D          each command is killed after D (default 10s)\n"
"  --engine github-app  installation tokens of a GitHub App, limited to the\n"
"                       caller's repository (the App's private key, PEM,\n"
"                       from stdin or --value-file):\n"
"  --app-id N           the App's id\n"
"  --installation-id N  the installation's id\n"
"  --permission P=L     a permission of the token, e.g. contents=read\n"
"                       (repeatable; default: the installation's)\n"
"  --api-url URL        the API (default https://api.github.com; GitHub\n"
"                       Enterprise: https://HOST/api/v3)\n"
"\n"
"ls options:\n"
"  --owner O            only secrets owned by O\n"
"  --expired            only expired secrets\n"
"  --due                only secrets whose rotation is due (or exposed)\n"
"  --json               a JSON array instead of a table\n"
"\n"
"rotate stores a new value as the next version and records the time;\n"
"with --auto the value is what the secret's --rotate-with command prints\n"
"(killed after --timeout D, default 60s; a failure or an empty output\n"
"changes nothing; its stderr is shown masked).\n"
"rm removes the record for good (at a terminal it asks first; --force\n"
"does not).\n"
"\n"
"import adds every VAR=VALUE line of an env file (.env) as a secret named\n"
"VAR (with --prefix P: P then VAR), its value read from the file, never from\n"
"the command line.  Lines VAR=airlock:SECRET and names already in the vault\n"
"are left alone.  Owner and purpose apply to all; at a terminal they are\n"
"asked once when not given.  Then `airlock run --env-file` takes a file of\n"
"VAR=airlock:NAME lines.  add, edit and import options above apply.\n"
"\n"
"Exit status: 0 success, 2 error (unknown secret, bad input, locked vault).\n";

enum {
	OPT_OWNER = 256, OPT_PURPOSE, OPT_EXPIRES, OPT_ROTATE, OPT_LASTROT,
	OPT_HOST, OPT_LABEL, OPT_UNLABEL, OPT_CLEARHOSTS, OPT_STATUS,
	OPT_VALUEFILE, OPT_KEEPNL, OPT_PASSFD, OPT_EXPIRED, OPT_DUE, OPT_JSON,
	OPT_INJECT, OPT_PREFIX, OPT_FORCE,
	OPT_ENGINE, OPT_CONNECTION, OPT_GROUP, OPT_GRANT, OPT_ROLEPREFIX,
	OPT_REASSIGN, OPT_ISSUE, OPT_REVOKE, OPT_TIMEOUT, OPT_APPID,
	OPT_INSTALL, OPT_APIURL, OPT_PERM, OPT_ROTWITH, OPT_ROTWITHIN,
	OPT_AUTO,
};

static const struct option secret_opts[] = {
	{ "owner", required_argument, NULL, OPT_OWNER },
	{ "purpose", required_argument, NULL, OPT_PURPOSE },
	{ "expires", required_argument, NULL, OPT_EXPIRES },
	{ "rotate-every", required_argument, NULL, OPT_ROTATE },
	{ "last-rotated", required_argument, NULL, OPT_LASTROT },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "unlabel", required_argument, NULL, OPT_UNLABEL },
	{ "clear-hosts", no_argument, NULL, OPT_CLEARHOSTS },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "value-file", required_argument, NULL, OPT_VALUEFILE },
	{ "keep-newline", no_argument, NULL, OPT_KEEPNL },
	{ "passphrase-fd", required_argument, NULL, OPT_PASSFD },
	{ "expired", no_argument, NULL, OPT_EXPIRED },
	{ "due", no_argument, NULL, OPT_DUE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "inject", required_argument, NULL, OPT_INJECT },
	{ "prefix", required_argument, NULL, OPT_PREFIX },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "engine", required_argument, NULL, OPT_ENGINE },
	{ "connection", required_argument, NULL, OPT_CONNECTION },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "grant", required_argument, NULL, OPT_GRANT },
	{ "role-prefix", required_argument, NULL, OPT_ROLEPREFIX },
	{ "reassign-to", required_argument, NULL, OPT_REASSIGN },
	{ "issue", required_argument, NULL, OPT_ISSUE },
	{ "revoke", required_argument, NULL, OPT_REVOKE },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "app-id", required_argument, NULL, OPT_APPID },
	{ "installation-id", required_argument, NULL, OPT_INSTALL },
	{ "api-url", required_argument, NULL, OPT_APIURL },
	{ "permission", required_argument, NULL, OPT_PERM },
	{ "rotate-with", required_argument, NULL, OPT_ROTWITH },
	{ "rotate-within", required_argument, NULL, OPT_ROTWITHIN },
	{ "auto", no_argument, NULL, OPT_AUTO },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Everything the subcommands may be given. */
struct secret_args {
	const char	*sub;
	const char	*name;
	const char	*owner;
	const char	*purpose;
	const char	*expires;
	const char	*rotate;
	const char	*last_rotated;
	const char	*status;
	const char	*value_file;
	const char	*prefix;
	int		 force;
	char		*hosts[VAULT_LIST_MAX];
	size_t		 nhosts;
	char		*labels[VAULT_LIST_MAX];
	size_t		 nlabels;
	char		*unlabels[VAULT_LIST_MAX];
	size_t		 nunlabels;
	int		 set_hosts;
	int		 inject;	/* -1: not given; else "body"/"query" bits */
	int		 keep_newline;
	int		 passfd;
	int		 expired;
	int		 due;
	int		 json;
	const char	*engine;
	const char	*connection;
	const char	*group;
	const char	*role_prefix;
	const char	*reassign;
	const char	*issue;
	const char	*revoke;
	const char	*timeout;
	const char	*app_id;
	const char	*installation;
	const char	*api_url;
	char		*perms[ENGINE_GRANTS_MAX];
	size_t		 nperms;
	char		*grants[ENGINE_GRANTS_MAX];
	size_t		 ngrants;
	const char	*rotate_with;
	const char	*rotate_within;
	int		 autorot;
	unsigned long long seen;	/* bit per option: "not for this" */
};

/* Which options each subcommand takes (bit = option - OPT_OWNER). */
#define B(o)	(1ull << ((o) - OPT_OWNER))
/* The label `run --proxy` reads a secret's opt-ins from. */
#define INJECT_LABEL	"airlock.inject"

static unsigned long long
allowed_opts(const char *sub)
{
	unsigned long long meta = B(OPT_OWNER) | B(OPT_PURPOSE) |
	    B(OPT_EXPIRES) | B(OPT_ROTATE) | B(OPT_HOST) | B(OPT_LABEL) |
	    B(OPT_PASSFD) | B(OPT_INJECT) | B(OPT_ROTWITH) |
	    B(OPT_ROTWITHIN);
	unsigned long long value = B(OPT_VALUEFILE) | B(OPT_KEEPNL) |
	    B(OPT_PASSFD);
	unsigned long long engine = B(OPT_ENGINE) | B(OPT_CONNECTION) |
	    B(OPT_GROUP) | B(OPT_GRANT) | B(OPT_ROLEPREFIX) |
	    B(OPT_REASSIGN) | B(OPT_ISSUE) | B(OPT_REVOKE) | B(OPT_TIMEOUT) |
	    B(OPT_APPID) | B(OPT_INSTALL) | B(OPT_APIURL) | B(OPT_PERM);

	if (strcmp(sub, "add") == 0)
		return meta | value | B(OPT_LASTROT) | engine;
	if (strcmp(sub, "edit") == 0)
		return meta | B(OPT_UNLABEL) | B(OPT_CLEARHOSTS) |
		    B(OPT_STATUS);
	if (strcmp(sub, "rm") == 0)
		return B(OPT_PASSFD) | B(OPT_FORCE);
	if (strcmp(sub, "rotate") == 0)
		return value | B(OPT_AUTO) | B(OPT_TIMEOUT);
	if (strcmp(sub, "ls") == 0 || strcmp(sub, "list") == 0)
		return B(OPT_OWNER) | B(OPT_EXPIRED) | B(OPT_DUE) |
		    B(OPT_JSON);
	if (strcmp(sub, "show") == 0)
		return B(OPT_JSON);
	if (strcmp(sub, "import") == 0)
		return meta | B(OPT_PREFIX);
	return 0;
}

static int
push(char **list, size_t *n, char *v, const char *what)
{
	if (*n >= VAULT_LIST_MAX)
		return cli_usage("secret", "at most %d %s options",
		    VAULT_LIST_MAX, what);
	list[(*n)++] = v;
	return 0;
}

#define NO_ARGV_VALUE "a value is never taken on the command line (it " \
	"was not stored, and is not shown): pipe it on stdin, use " \
	"--value-file FILE, or type it at the prompt"

/*
 * "--value X", "--value=X" and their kin are refused before getopt sees
 * them: getopt would take "--value" for an abbreviation of --value-file and
 * then quote X as a file name.  Only --value-file itself is accepted.
 */
static int
refuse_value_options(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--value-file") == 0) {
			i++;	/* its argument is a path */
			continue;
		}
		if (strncmp(argv[i], "--value-file=", 13) == 0)
			continue;
		if (strncmp(argv[i], "--v", 3) == 0)
			return cli_usage("secret", "option '%.*s': %s",
			    (int)strcspn(argv[i], "="), argv[i],
			    NO_ARGV_VALUE);
	}
	return 0;
}

static int
parse_args(int argc, char **argv, struct secret_args *a)
{
	static const char *const names[] = { "--owner", "--purpose",
	    "--expires", "--rotate-every", "--last-rotated", "--host",
	    "--label", "--unlabel", "--clear-hosts", "--status",
	    "--value-file", "--keep-newline", "--passphrase-fd", "--expired",
	    "--due", "--json", "--inject", "--prefix", "--force", "--engine",
	    "--connection", "--group", "--grant", "--role-prefix",
	    "--reassign-to", "--issue", "--revoke", "--timeout", "--app-id",
	    "--installation-id", "--api-url", "--permission", "--rotate-with",
	    "--rotate-within", "--auto" };
	struct al_err err;
	unsigned long long allowed;
	int c, rc;

	if ((rc = refuse_value_options(argc, argv)) != 0)
		return rc;
	optind = 0;
	opterr = 0;
	allowed = allowed_opts(a->sub);
	/* GNU getopt permutes: NAME may come before or after options. */
	while ((c = cli_getopt(argc, argv, ":h", secret_opts, NULL)) != -1) {
		if (c >= OPT_OWNER && c <= OPT_AUTO) {
			if (!(allowed & B(c)))
				return cli_usage("secret", "'secret %s' does "
				    "not take %s", a->sub, names[c - OPT_OWNER]);
			a->seen |= B(c);
		}
		switch (c) {
		case OPT_OWNER:		a->owner = optarg; break;
		case OPT_PURPOSE:	a->purpose = optarg; break;
		case OPT_EXPIRES:	a->expires = optarg; break;
		case OPT_ROTATE:	a->rotate = optarg; break;
		case OPT_LASTROT:	a->last_rotated = optarg; break;
		case OPT_STATUS:	a->status = optarg; break;
		case OPT_VALUEFILE:	a->value_file = optarg; break;
		case OPT_KEEPNL:	a->keep_newline = 1; break;
		case OPT_EXPIRED:	a->expired = 1; break;
		case OPT_DUE:		a->due = 1; break;
		case OPT_JSON:		a->json = 1; break;
		case OPT_PREFIX:	a->prefix = optarg; break;
		case OPT_FORCE:		a->force = 1; break;
		case OPT_CLEARHOSTS:	a->set_hosts = 1; break;
		case OPT_INJECT:
			if (a->inject < 0)
				a->inject = 0;
			if (strcmp(optarg, "body") == 0)
				a->inject |= 1;
			else if (strcmp(optarg, "query") == 0)
				a->inject |= 2;
			else if (strcmp(optarg, "none") != 0)
				return cli_usage("secret", "--inject: expected "
				    "body, query or none, got '%s'", optarg);
			break;
		case OPT_ENGINE:	a->engine = optarg; break;
		case OPT_CONNECTION:	a->connection = optarg; break;
		case OPT_GROUP:		a->group = optarg; break;
		case OPT_ROLEPREFIX:	a->role_prefix = optarg; break;
		case OPT_REASSIGN:	a->reassign = optarg; break;
		case OPT_ISSUE:		a->issue = optarg; break;
		case OPT_REVOKE:	a->revoke = optarg; break;
		case OPT_TIMEOUT:	a->timeout = optarg; break;
		case OPT_APPID:		a->app_id = optarg; break;
		case OPT_INSTALL:	a->installation = optarg; break;
		case OPT_APIURL:	a->api_url = optarg; break;
		case OPT_ROTWITH:	a->rotate_with = optarg; break;
		case OPT_ROTWITHIN:	a->rotate_within = optarg; break;
		case OPT_AUTO:		a->autorot = 1; break;
		case OPT_PERM:
			if (a->nperms >= ENGINE_GRANTS_MAX)
				return cli_usage("secret", "at most %d "
				    "--permission options", ENGINE_GRANTS_MAX);
			a->perms[a->nperms++] = optarg;
			break;
		case OPT_GRANT:
			if (a->ngrants >= ENGINE_GRANTS_MAX)
				return cli_usage("secret", "at most %d --grant "
				    "options", ENGINE_GRANTS_MAX);
			a->grants[a->ngrants++] = optarg;
			break;
		case OPT_HOST:
			a->set_hosts = 1;
			if ((rc = push(a->hosts, &a->nhosts, optarg, "--host")))
				return rc;
			break;
		case OPT_LABEL:
			if ((rc = push(a->labels, &a->nlabels, optarg,
			    "--label")))
				return rc;
			break;
		case OPT_UNLABEL:
			if ((rc = push(a->unlabels, &a->nunlabels, optarg,
			    "--unlabel")))
				return rc;
			break;
		case OPT_PASSFD:
			if (cli_parse_fd(optarg, "--passphrase-fd", &a->passfd,
			    &err) != 0)
				return cli_fail(&err);
			break;
		case 'h':
			(void)cli_print_help("secret", stdout);
			return -1;
		default:
			return cli_bad_option("secret", argc, argv, c);
		}
	}
	if (strcmp(a->sub, "ls") != 0 && strcmp(a->sub, "list") != 0) {
		if (optind >= argc)
			return cli_usage("secret", "'secret %s' needs %s",
			    a->sub, strcmp(a->sub, "import") == 0 ? "a FILE" :
			    "a NAME");
		a->name = argv[optind++];
		if (strcmp(a->sub, "import") != 0 &&
		    vault_name_check(a->name, &err) != 0)
			return cli_fail(&err);
		if (strcmp(a->sub, "add") == 0 &&
		    client_name_looks_like_value(a->name))
			return cli_usage("secret", "NAME looks like a value (a "
			    "token, a digest or a UUID), not a name: nothing "
			    "was stored; choose a name such as 'deploy-token' "
			    "and give the value on stdin, with --value-file or "
			    "at the prompt");
	}
	/* Never quoted: an argument after NAME may be the value itself. */
	if (optind < argc && (strcmp(a->sub, "add") == 0 ||
	    strcmp(a->sub, "rotate") == 0))
		return cli_usage("secret", "'secret %s' takes one NAME; %s",
		    a->sub, NO_ARGV_VALUE);
	if (optind < argc)
		return cli_usage("secret", "'secret %s': unexpected argument "
		    "(not shown)", a->sub);
	return 0;
}

/* Apply a label "K=V" to m, replacing K if present. */
static int
set_label(struct vault_meta *m, const char *kv, struct al_err *err)
{
	const char *eq = strchr(kv, '=');
	struct vault_label *nl;
	char *k, *v;
	size_t i;

	if (eq == NULL || eq == kv)
		return al_err_set(err, AL_EINVAL, "--label: expected KEY=VALUE, "
		    "got '%s'", kv);
	if ((k = strndup(kv, (size_t)(eq - kv))) == NULL ||
	    (v = strdup(eq + 1)) == NULL) {
		free(k);
		return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	for (i = 0; i < m->nlabels; i++)
		if (strcmp(m->labels[i].key, k) == 0) {
			free(m->labels[i].value);
			m->labels[i].value = v;
			free(k);
			return 0;
		}
	if (m->nlabels >= VAULT_LIST_MAX ||
	    (nl = realloc(m->labels, (m->nlabels + 1) * sizeof(*nl))) == NULL) {
		free(k);
		free(v);
		return al_err_set(err, AL_EINVAL, "too many labels");
	}
	m->labels = nl;
	m->labels[m->nlabels].key = k;
	m->labels[m->nlabels].value = v;
	m->nlabels++;
	return 0;
}

static void
unset_label(struct vault_meta *m, const char *k)
{
	size_t i;

	for (i = 0; i < m->nlabels; i++)
		if (strcmp(m->labels[i].key, k) == 0) {
			free(m->labels[i].key);
			free(m->labels[i].value);
			m->labels[i] = m->labels[--m->nlabels];
			return;
		}
}

static int
set_string(char **dst, const char *v, struct al_err *err)
{
	char *d;

	if ((d = strdup(v)) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	free(*dst);
	*dst = d;
	return 0;
}

static int	set_kv(struct vault_meta *, const char *, const char *,
		    struct al_err *);

/* --rotate-with and --rotate-within into m's labels. */
static int
apply_rotation(const struct secret_args *a, struct vault_meta *m,
    struct al_err *err)
{
	int64_t secs;
	char n[24];
	int rc;

	if (a->rotate_with != NULL) {
		unset_label(m, CLI_ROTATE_WITH);
		if (a->rotate_with[0] != '\0' && (rc = set_kv(m,
		    CLI_ROTATE_WITH, a->rotate_with, err)) != 0)
			return rc;
	}
	if (a->rotate_within != NULL) {
		if ((rc = al_parse_duration(a->rotate_within,
		    "--rotate-within", &secs, err)) != 0)
			return rc;
		if (secs < 1)
			return al_err_set(err, AL_EINVAL, "--rotate-within "
			    "must be at least 1 second");
		(void)snprintf(n, sizeof(n), "%lld", (long long)secs);
		if ((rc = set_kv(m, CLI_ROTATE_WITHIN, n, err)) != 0)
			return rc;
	}
	return 0;
}

/* Apply the metadata options of add/edit to m. */
static int
apply_meta(const struct secret_args *a, struct vault_meta *m, int64_t now,
    struct al_err *err)
{
	size_t i;
	int rc;

	if (a->owner && (rc = set_string(&m->owner, a->owner, err)))
		return rc;
	if (a->purpose && (rc = set_string(&m->purpose, a->purpose, err)))
		return rc;
	if (a->expires) {
		if (strcmp(a->expires, "never") == 0)
			m->expires = 0;
		else if ((rc = al_parse_time(a->expires, now, "--expires",
		    &m->expires, err)) != 0)
			return rc;
	}
	if (a->rotate) {
		if (strcmp(a->rotate, "never") == 0)
			m->rotate_every = 0;
		else if ((rc = al_parse_duration(a->rotate, "--rotate-every",
		    &m->rotate_every, err)) != 0)
			return rc;
	}
	if (a->last_rotated) {
		if ((rc = al_parse_time(a->last_rotated, now, "--last-rotated",
		    &m->last_rotated, err)) != 0)
			return rc;
		if (m->last_rotated > now)
			return al_err_set(err, AL_EINVAL, "--last-rotated: must "
			    "not be in the future");
	}
	if (a->set_hosts) {
		for (i = 0; i < m->nhosts; i++)
			free(m->hosts[i]);
		free(m->hosts);
		m->hosts = NULL;
		m->nhosts = 0;
		if (a->nhosts && (m->hosts = calloc(a->nhosts,
		    sizeof(char *))) == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory");
		for (i = 0; i < a->nhosts; i++) {
			if ((m->hosts[i] = strdup(a->hosts[i])) == NULL)
				return al_err_set(err, AL_ENOMEM, "out of "
				    "memory");
			m->nhosts++;
		}
	}
	for (i = 0; i < a->nunlabels; i++)
		unset_label(m, a->unlabels[i]);
	/* Kept as the label the broker's proxy reads. */
	if (a->inject >= 0) {
		unset_label(m, INJECT_LABEL);
		if (a->inject != 0 && (rc = set_label(m, a->inject == 1 ?
		    INJECT_LABEL "=body" : a->inject == 2 ? INJECT_LABEL
		    "=query" : INJECT_LABEL "=body,query", err)) != 0)
			return rc;
	}
	for (i = 0; i < a->nlabels; i++)
		if (strncmp(a->labels[i], ENGINE_L_ENGINE,
		    strlen(ENGINE_L_ENGINE)) == 0)
			return al_err_set(err, AL_EINVAL, "--label: keys "
			    "starting with '%s' are set by --engine and its "
			    "options", ENGINE_L_ENGINE);
	for (i = 0; i < a->nunlabels; i++)
		if (strncmp(a->unlabels[i], ENGINE_L_ENGINE,
		    strlen(ENGINE_L_ENGINE)) == 0)
			return al_err_set(err, AL_EINVAL, "--unlabel: keys "
			    "starting with '%s' are set by --engine",
			    ENGINE_L_ENGINE);
	for (i = 0; i < a->nlabels; i++)
		if ((rc = set_label(m, a->labels[i], err)) != 0)
			return rc;
	if ((rc = apply_rotation(a, m, err)) != 0)
		return rc;
	if (a->status) {
		if (strcmp(a->status, "active") == 0)
			m->status = VAULT_ACTIVE;
		else if (strcmp(a->status, "exposed") == 0)
			m->status = VAULT_EXPOSED;
		else if (strcmp(a->status, "revoked") == 0)
			m->status = VAULT_REVOKED;
		else
			return al_err_set(err, AL_EINVAL, "--status: expected "
			    "active, exposed or revoked, got '%s'", a->status);
		/* Re-activated by hand: the exposure's labels go with it. */
		if (m->status != VAULT_EXPOSED) {
			unset_label(m, CLI_EXPOSED_SINCE);
			unset_label(m, CLI_EXPOSED_WHERE);
		}
	}
	return 0;
}

/*
 * Values under SECRET_VALUE_MIN bytes are refused: a redactor that masked
 * every occurrence of a 3-byte value would mask ordinary text everywhere,
 * and one that did not would let it through.
 */
#define SECRET_VALUE_MIN	8

static int
check_length(struct al_secret *v, struct al_err *err)
{
	if (al_secret_len(v) < SECRET_VALUE_MIN)
		return al_err_set(err, AL_EINVAL, "the value is only %zu "
		    "byte%s long: airlock needs at least %d bytes, or it could "
		    "not tell the value from ordinary output when masking it",
		    al_secret_len(v), al_secret_len(v) == 1 ? "" : "s",
		    SECRET_VALUE_MIN);
	return 0;
}

/*
 * Ask for a line on the terminal (with echo: owner and purpose are not
 * secret), for import's owner and purpose.  AL_EINVAL without a terminal.
 */
static int
ask_line(const char *cmd, const char *prompt, const char *opt, char *buf,
    size_t len, struct al_err *err)
{
	FILE *tty;
	size_t n;

	/* Only someone at a terminal is asked (stdin and stderr on one). */
	if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO) ||
	    (tty = fopen("/dev/tty", "r+e")) == NULL)
		return al_err_set(err, AL_EINVAL, "'secret %s' needs --owner "
		    "and --purpose (no terminal to ask on)", cmd);
	fprintf(tty, "%s: ", prompt);
	fflush(tty);
	if (fgets(buf, (int)len, tty) == NULL)
		buf[0] = '\0';
	(void)fclose(tty);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (n == 0)
		return al_err_set(err, AL_EINVAL, "no %s given: nothing was "
		    "imported", opt + 2);
	return 0;
}

/* Set label key=value on m (the key is one of the engine's). */
static int
set_kv(struct vault_meta *m, const char *key, const char *value,
    struct al_err *err)
{
	struct al_buf b;
	int rc;

	if ((rc = vault_text_check(value, key, err)) != 0)
		return rc;
	al_buf_init(&b, 2 * VAULT_TEXT_MAX, 0);
	if (al_buf_printf(&b, "%s=%s", key, value) != 0)
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
	else
		rc = set_label(m, al_buf_str(&b), err);
	al_buf_release(&b);
	return rc;
}

/* --timeout D (a duration, 1 s to 10 min) as the engine's label. */
static int
timeout_kv(struct vault_meta *m, const char *d, struct al_err *err)
{
	int64_t secs;
	char n[24];
	int rc;

	if ((rc = al_parse_duration(d, "--timeout", &secs, err)) != 0)
		return rc;
	if (secs < 1 || secs > 600)
		return al_err_set(err, AL_EINVAL, "--timeout must be between 1 "
		    "second and 10 minutes");
	(void)snprintf(n, sizeof(n), "%lld", (long long)secs);
	return set_kv(m, ENGINE_L_TIMEOUT, n, err);
}

/*
 * A dynamic secret: its configuration into m's labels, checked by a dry
 * run against the database; *root the value to store (the admin password
 * from stdin, if any, wrapped).
 */
static int
engine_prepare(struct secret_args *a, struct vault_meta *m,
    struct al_secret **root, struct al_err *err)
{
	struct engine_kv kv[VAULT_LIST_MAX];
	struct engine_config c;
	struct al_secret *pw = NULL;
	char key[32];
	unsigned char *p;
	size_t i, n;
	int rc;

	*root = NULL;
	memset(&c, 0, sizeof(c));
	if ((a->value_file != NULL || a->keep_newline) &&
	    strcmp(a->engine, "github-app") != 0)
		return al_err_set(err, AL_EINVAL, "--engine %s reads no value "
		    "file (the admin password, if any, comes on stdin)",
		    a->engine);
	if ((rc = set_kv(m, ENGINE_L_ENGINE, a->engine, err)) != 0 ||
	    (a->connection && (rc = set_kv(m, ENGINE_L_CONNECTION,
	    a->connection, err)) != 0) ||
	    (a->group && (rc = set_kv(m, ENGINE_L_GROUP, a->group,
	    err)) != 0) ||
	    (a->role_prefix && (rc = set_kv(m, ENGINE_L_PREFIX, a->role_prefix,
	    err)) != 0) ||
	    (a->reassign && (rc = set_kv(m, ENGINE_L_REASSIGN, a->reassign,
	    err)) != 0) ||
	    (a->issue && (rc = set_kv(m, ENGINE_L_ISSUE, a->issue,
	    err)) != 0) ||
	    (a->revoke && (rc = set_kv(m, ENGINE_L_REVOKE, a->revoke,
	    err)) != 0) ||
	    (a->timeout && (rc = timeout_kv(m, a->timeout, err)) != 0) ||
	    (a->app_id && (rc = set_kv(m, ENGINE_L_APP_ID, a->app_id,
	    err)) != 0) ||
	    (a->installation && (rc = set_kv(m, ENGINE_L_INSTALLATION,
	    a->installation, err)) != 0) ||
	    (a->api_url && (rc = set_kv(m, ENGINE_L_API_URL, a->api_url,
	    err)) != 0))
		return rc;
	for (i = 0; i < a->nperms; i++) {
		(void)snprintf(key, sizeof(key), "%s%zu", ENGINE_L_PERMISSION,
		    i + 1);
		if ((rc = set_kv(m, key, a->perms[i], err)) != 0)
			return rc;
	}
	for (i = 0; i < a->ngrants; i++) {
		(void)snprintf(key, sizeof(key), "%s%zu", ENGINE_L_GRANT, i + 1);
		if ((rc = set_kv(m, key, a->grants[i], err)) != 0)
			return rc;
	}
	for (i = 0; i < m->nlabels; i++) {
		kv[i].key = m->labels[i].key;
		kv[i].value = m->labels[i].value;
	}
	if ((rc = engine_config_from_kv(kv, m->nlabels, &c, err)) != 0)
		return rc;
	/*
	 * The admin password, if any: stdin when it is not a terminal.  An
	 * exec engine's commands hold their own credentials.
	 */
	if (strcmp(c.engine, "github-app") == 0) {
		/* The App's private key (PEM), as any value is read. */
		if ((rc = cli_read_value(m->name, a->value_file, 1,
		    VAULT_VALUE_MAX - 1, &pw, err)) != 0)
			goto out;
	} else if (strcmp(c.engine, "exec") != 0 && !isatty(STDIN_FILENO)) {
		if ((rc = al_secret_read_fd(STDIN_FILENO, 1024, &pw,
		    err)) != 0)
			goto out;
		n = al_secret_len(pw);
		p = al_secret_open(pw);
		if (n > 0 && p[n - 1] == '\n')
			n--;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		al_secret_set_len(pw, n);
		al_secret_close(pw);
	}
	if ((rc = engine_root_make(pw, root)) != 0) {
		rc = al_err_set(err, rc, "out of memory");
		goto out;
	}
	if ((rc = engine_check_live(&c, *root, err)) != 0) {
		al_secret_free(*root);
		*root = NULL;
	}
out:
	al_secret_free(pw);
	engine_config_release(&c);
	return rc;
}

#define NO_ROTATE_DYNAMIC "'%s' is a dynamic secret: each lease mints " \
	"its own credential, which dies with the lease, so it needs no " \
	"rotation command"

static int
secret_add(struct cli *cli, struct vault *v, struct secret_args *a,
    struct al_err *err)
{
	char owner[256], purpose[256];
	struct vault_meta m;
	struct al_secret *value = NULL;
	int64_t now = cli->clock->now(cli->clock->arg);
	int rc;

	memset(&m, 0, sizeof(m));
	/* At a terminal, asked (with echo: they are not secret). */
	if (a->owner == NULL) {
		if ((rc = ask_line("add", "Owner (who answers for it)",
		    "--owner", owner, sizeof(owner), err)) != 0)
			return rc;
		a->owner = owner;
	}
	if (a->purpose == NULL) {
		if ((rc = ask_line("add", "Purpose (what it is for)",
		    "--purpose", purpose, sizeof(purpose), err)) != 0)
			return rc;
		a->purpose = purpose;
	}
	(void)snprintf(m.name, sizeof(m.name), "%s", a->name);
	if ((rc = apply_meta(a, &m, now, err)) != 0)
		goto out;
	if (m.expires && m.expires <= now)
		al_msg(stderr, "warning", "'%s' is already expired", a->name);
	if (a->engine == NULL && (a->connection || a->group || a->role_prefix ||
	    a->reassign || a->ngrants || a->issue || a->revoke ||
	    a->timeout || a->app_id || a->installation || a->api_url ||
	    a->nperms)) {
		rc = al_err_set(err, AL_EINVAL, "--connection, --group, "
		    "--grant, --role-prefix, --reassign-to, --issue, --revoke "
		    "and --timeout need --engine");
		goto out;
	}
	if (a->engine != NULL && a->rotate_with != NULL) {
		rc = al_err_set(err, AL_EINVAL, NO_ROTATE_DYNAMIC, a->name);
		goto out;
	}
	if ((rc = cli_vault_unlock(v, a->passfd, err)) != 0)
		goto out;
	if (a->engine != NULL) {
		if ((rc = engine_prepare(a, &m, &value, err)) != 0)
			goto out;
	} else {
		if ((rc = cli_read_value(a->name, a->value_file,
		    a->keep_newline, VAULT_VALUE_MAX, &value, err)) != 0)
			goto out;
		if ((rc = check_length(value, err)) != 0)
			goto out;
	}
	rc = vault_secret_add(v, &m, value, err);
	if (rc == 0)
		rc = cli_audit_secret(cli, v, "secret_add", a->name, value, err);
out:
	al_secret_free(value);
	vault_meta_release(&m);
	return rc;
}


/*
 * secret import FILE: every plain VAR=VALUE line of an env file becomes a
 * secret, the value going from the file's guarded copy to the vault.
 */
static int
secret_import(struct cli *cli, struct vault *v, struct secret_args *a,
    struct al_err *err)
{
	struct exec_env_file *f = NULL;
	struct vault_meta m, old;
	struct al_secret *value = NULL;
	char owner[256], purpose[256], name[VAULT_NAME_MAX + 2];
	int64_t now = cli->clock->now(cli->clock->arg);
	size_t i, added = 0, kept = 0, vn, vl;
	const char *val;
	int rc;

	memset(&m, 0, sizeof(m));
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	if ((rc = exec_env_file_load(a->name, f, err)) != 0)
		goto out;
	if (f->nplain == 0) {
		rc = al_err_set(err, AL_EINVAL, "%s has no VAR=VALUE line to "
		    "import", a->name);
		goto out;
	}
	/* Every name first: nothing is stored when one is invalid. */
	for (i = 0; i < f->nplain; i++) {
		vn = strcspn(f->plain[i], "=");
		if (snprintf(name, sizeof(name), "%s%.*s", a->prefix ?
		    a->prefix : "", (int)vn, f->plain[i]) >= (int)sizeof(name)
		    || vault_name_check(name, err) != 0) {
			rc = al_err_set(err, AL_EINVAL, "%s: '%.*s' does not "
			    "make a secret name (1-64 characters of letters, "
			    "digits, . _ - /): nothing was imported", a->name,
			    (int)vn, f->plain[i]);
			goto out;
		}
		vl = strlen(f->plain[i] + vn + 1);
		if (vl > 0 && vl < REDACT_VALUE_MIN) {
			rc = al_err_set(err, AL_EINVAL, "%s: the value of %.*s "
			    "is under %d bytes: it could not be masked in "
			    "output, so nothing was imported", a->name, (int)vn,
			    f->plain[i], REDACT_VALUE_MIN);
			goto out;
		}
	}
	if (a->owner == NULL) {
		if ((rc = ask_line("import", "Owner of the imported secrets",
		    "--owner", owner, sizeof(owner), err)) != 0)
			goto out;
		a->owner = owner;
	}
	if (a->purpose == NULL) {
		if ((rc = ask_line("import", "Purpose of the imported secrets",
		    "--purpose", purpose, sizeof(purpose), err)) != 0)
			goto out;
		a->purpose = purpose;
	}
	if ((rc = cli_vault_unlock(v, a->passfd, err)) != 0)
		goto out;
	for (i = 0; i < f->nplain; i++) {
		vn = strcspn(f->plain[i], "=");
		(void)snprintf(name, sizeof(name), "%s%.*s", a->prefix ?
		    a->prefix : "", (int)vn, f->plain[i]);
		val = f->plain[i] + vn + 1;
		memset(&old, 0, sizeof(old));
		if (vault_secret_get(v, name, &old, NULL) == 0) {
			vault_meta_release(&old);
			al_msg(stderr, "secret", "%s is already in the vault: "
			    "left as it is (airlock secret rotate %s)", name,
			    name);
			kept++;
			continue;
		}
		if (*val == '\0') {
			al_msg(stderr, "warning", "%s has an empty value: not "
			    "imported", name);
			kept++;
			continue;
		}
		memset(&m, 0, sizeof(m));
		/* The name was checked above: it fits. */
		memcpy(m.name, name, strlen(name) + 1);
		if ((rc = apply_meta(a, &m, now, err)) != 0 ||
		    (rc = al_secret_from(val, strlen(val), &value)) != 0 ||
		    (rc = vault_secret_add(v, &m, value, err)) != 0 ||
		    (rc = cli_audit_secret(cli, v, "secret_add", name, value,
		    err)) != 0)
			goto out;
		(void)check_length(value, NULL);	/* long enough: checked */
		al_secret_free(value);
		value = NULL;
		vault_meta_release(&m);
		added++;
	}
	al_msg(stderr, "secret", "imported %zu secret%s from %s%s; use them "
	    "with lines VAR=airlock:NAME and `airlock run --env-file`",
	    added, added == 1 ? "" : "s", a->name, kept ? " (see above for "
	    "the lines left out)" : "");
out:
	al_secret_free(value);
	vault_meta_release(&m);
	exec_env_file_release(f);
	free(f);
	return rc;
}

/* Write redacted bytes to stderr. */
static int
to_stderr(void *arg, const void *p, size_t n)
{
	(void)arg;
	return fwrite(p, 1, n, stderr) == n ? 0 : -1;
}

/*
 * Show the rotation command's stderr with the secret's old value and the
 * new one (if long enough to mask) masked as [REDACTED:NAME]: the command
 * may echo either.  Shown only when it could be masked.
 */
static void
show_cmd_stderr(struct vault *v, const char *name, struct al_secret *newv,
    struct al_secret *errout)
{
	struct redact *r = NULL;
	struct redact_stream *st = NULL;
	struct al_secret *old = NULL;
	struct al_err e;
	unsigned char *p;
	size_t n;
	int rc, nl;

	if (al_secret_len(errout) == 0)
		return;
	if ((rc = redact_new(&r, &e)) == 0 &&
	    (rc = vault_secret_read(v, name, &old, NULL, &e)) == 0 &&
	    al_secret_len(old) >= REDACT_VALUE_MIN)
		rc = redact_add_value(r, name, old, &e);
	if (rc == 0 && newv != NULL && al_secret_len(newv) >= REDACT_VALUE_MIN)
		rc = redact_add_value(r, name, newv, &e);
	if (rc == 0 && (rc = redact_compile(r, &e)) == 0)
		rc = redact_stream_new(r, &st);
	if (rc == 0) {
		fprintf(stderr, "airlock: the rotation command said "
		    "(values masked):\n");
		n = al_secret_len(errout);
		p = al_secret_open(errout);
		rc = redact_stream_write(st, p, n, to_stderr, NULL);
		nl = p[n - 1] == '\n';
		al_secret_close(errout);
		if (rc == 0)
			rc = redact_stream_finish(st, to_stderr, NULL);
		if (rc == 0 && !nl)
			fputc('\n', stderr);
	}
	if (rc != 0)
		fprintf(stderr, "airlock: the rotation command's stderr is not "
		    "shown: it could not be masked\n");
	redact_stream_free(st);
	redact_free(r);
	al_secret_free(old);
}

/*
 * secret rotate NAME --auto: run the secret's rotation command; its stdout
 * (one trailing newline stripped) is the new value, in *value.
 */
static int
auto_value(struct vault *v, const struct secret_args *a, const char *cmd,
    struct al_secret **value, struct al_err *err)
{
	struct al_secret *out = NULL, *errout = NULL;
	int64_t secs = CLI_ROTATE_TIMEOUT_DEFAULT;
	unsigned char *p;
	size_t n;
	int rc, status = 0;

	*value = NULL;
	if (a->timeout != NULL) {
		if ((rc = al_parse_duration(a->timeout, "--timeout", &secs,
		    err)) != 0)
			return rc;
		if (secs < 1 || secs > 3600)
			return al_err_set(err, AL_EINVAL, "--timeout must be "
			    "between 1 second and 1 hour");
	}
	if ((rc = cli_rotate_cmd_run(cmd, (int)secs, &out, &errout, &status,
	    err)) != 0)
		return al_err_set(err, rc, "%s: '%s' keeps its value", err->msg,
		    a->name);
	n = al_secret_len(out);
	p = al_secret_open(out);
	if (n > 0 && p[n - 1] == '\n')
		n--;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	al_secret_set_len(out, n);
	al_secret_close(out);
	/* Masked with whatever it printed, even when it failed. */
	show_cmd_stderr(v, a->name, out, errout);
	if (status != 0)
		rc = al_err_set(err, AL_EINVAL, "the rotation command exited "
		    "with status %d: '%s' keeps its value", status, a->name);
	else if (n == 0)
		rc = al_err_set(err, AL_EINVAL, "the rotation command printed "
		    "nothing: '%s' keeps its value", a->name);
	else if ((rc = check_length(out, err)) != 0)
		rc = al_err_set(err, rc, "%s: '%s' keeps its value", err->msg,
		    a->name);
	al_secret_free(errout);
	if (rc != 0) {
		al_secret_free(out);
		return rc;
	}
	*value = out;
	return 0;
}

static int
secret_rotate(struct cli *cli, struct vault *v, struct secret_args *a,
    struct al_err *err)
{
	struct vault_meta m;
	struct al_secret *value = NULL;
	char *cmd = NULL;
	const char *c;
	int64_t expires;
	int rc, dynamic;

	if (a->autorot && (a->value_file != NULL || a->keep_newline))
		return al_err_set(err, AL_EINVAL, "--auto takes the value from "
		    "the rotation command: not with --value-file or "
		    "--keep-newline");
	if (!a->autorot && a->timeout != NULL)
		return al_err_set(err, AL_EINVAL, "--timeout goes with --auto");
	/* Fail on an unknown name before asking for anything. */
	if ((rc = vault_secret_get(v, a->name, &m, err)) != 0)
		return rc;
	expires = m.expires;
	dynamic = vault_meta_label(&m, ENGINE_L_ENGINE) != NULL;
	c = vault_meta_label(&m, CLI_ROTATE_WITH);
	if (a->autorot && !dynamic && c != NULL && (cmd = strdup(c)) == NULL) {
		vault_meta_release(&m);
		return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	vault_meta_release(&m);
	if (a->autorot && dynamic)
		return al_err_set(err, AL_EINVAL, "'%s' is a dynamic secret: "
		    "it needs no rotation (each lease mints its own "
		    "credential, which dies with the lease)", a->name);
	if (a->autorot && cmd == NULL)
		return al_err_set(err, AL_EINVAL, "'%s' has no rotation "
		    "command: set one with `airlock secret edit %s "
		    "--rotate-with CMD`", a->name, a->name);
	if ((rc = cli_vault_unlock(v, a->passfd, err)) != 0)
		goto out;
	if (a->autorot)
		rc = auto_value(v, a, cmd, &value, err);
	else
		rc = cli_read_value(a->name, a->value_file, a->keep_newline,
		    VAULT_VALUE_MAX, &value, err);
	if (rc != 0)
		goto out;
	if (dynamic) {
		/* A new admin password for the engine, stored as its root. */
		struct al_secret *root = NULL;

		rc = engine_root_make(value, &root);
		al_secret_free(value);
		if ((value = root) == NULL) {
			rc = al_err_set(err, rc, "out of memory");
			goto out;
		}
	} else if ((rc = check_length(value, err)) != 0)
		goto out;
	rc = vault_secret_rotate(v, a->name, value, err);
	if (rc == 0)
		rc = cli_audit_secret(cli, v, "secret_rotate", a->name, value,
		    err);
	/* A new value does not move the expiry: say so when it has passed. */
	if (rc == 0 && expires != 0 &&
	    expires <= cli->clock->now(cli->clock->arg))
		al_msg(stderr, "warning", "'%s' has a new value but is still "
		    "expired: set a new expiry with `airlock secret edit %s "
		    "--expires <date|never>`", a->name, a->name);
	if (rc == 0)
		rc = cli_exposure_rotated(cli, v, a->name, err);
out:
	free(cmd);
	al_secret_free(value);
	return rc;
}

/*
 * vault_meta_json with the exposure's rotation deadline: "overdue" (true
 * once an exposure outlived the owner's rotation SLA) and, while exposed,
 * "exposure_rotate_by".
 */
static json_t *
meta_json(const struct vault_meta *m, int64_t now)
{
	json_t *o = vault_meta_json(m, now);
	int64_t by;
	int late;
	char t[21];

	if (o == NULL)
		return NULL;
	late = cli_meta_overdue(m, now, &by);
	if (json_object_set_new(o, "overdue", json_boolean(late)) != 0) {
		json_decref(o);
		return NULL;
	}
	if (by != 0) {
		al_format_time(by, t);
		if (json_object_set_new(o, "exposure_rotate_by",
		    json_string(t)) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/*
 * Metadata changes are audited like value changes, with the metadata
 * before and after (status, labels, owner...: never a value), and need the
 * vault unlocked: a process that can only write the vault file cannot mark
 * a revoked secret active again unnoticed.
 */
static int
secret_edit(struct cli *cli, struct vault *v, struct secret_args *a,
    struct al_err *err)
{
	struct vault_meta before, after;
	int64_t now = cli->clock->now(cli->clock->arg);
	int rc;

	memset(&after, 0, sizeof(after));
	if ((a->seen & ~B(OPT_PASSFD)) == 0)
		return al_err_set(err, AL_EINVAL, "'secret edit' needs at least "
		    "one change (see `airlock help secret`)");
	if ((rc = vault_secret_get(v, a->name, &before, err)) != 0)
		return rc;
	if (a->rotate_with != NULL && a->rotate_with[0] != '\0' &&
	    vault_meta_label(&before, ENGINE_L_ENGINE) != NULL) {
		rc = al_err_set(err, AL_EINVAL, NO_ROTATE_DYNAMIC, a->name);
		goto out;
	}
	if ((rc = vault_meta_copy(&after, &before)) != 0) {
		rc = al_err_set(err, rc, "out of memory");
		goto out;
	}
	if ((rc = apply_meta(a, &after, now, err)) != 0 ||
	    (rc = cli_vault_unlock(v, a->passfd, err)) != 0 ||
	    (rc = vault_secret_update(v, &after, err)) != 0)
		goto out;
	rc = cli_audit_secret_meta(cli, v, "secret_edit", a->name, &before,
	    &after, err);
	if (rc == 0 && a->expires != NULL && after.expires != 0 &&
	    after.expires <= now)
		al_msg(stderr, "warning", "'%s' is expired from now on: it is "
		    "not leased until `airlock secret edit %s --expires "
		    "<later date|never>`", a->name, a->name);
out:
	vault_meta_release(&before);
	vault_meta_release(&after);
	return rc;
}

static int
secret_rm(struct cli *cli, struct vault *v, struct secret_args *a,
    struct al_err *err)
{
	struct vault_meta before;
	int rc;

	if ((rc = vault_secret_get(v, a->name, &before, err)) != 0)
		return rc;
	if ((rc = cli_vault_unlock(v, a->passfd, err)) == 0 &&
	    (rc = vault_secret_remove(v, a->name, err)) == 0)
		rc = cli_audit_secret_meta(cli, v, "secret_rm", a->name,
		    &before, NULL, err);
	vault_meta_release(&before);
	return rc;
}

/* s cut to w columns (bytes: short text), "~" marking a cut. */
static void
cell(char *out, size_t outsz, const char *s, size_t w)
{
	size_t n = s ? strlen(s) : 0;

	if (n <= w || w < 2)
		(void)snprintf(out, outsz, "%s", s ? s : "");
	else
		(void)snprintf(out, outsz, "%.*s~", (int)(w - 1), s);
}

static void
print_table(const struct cli *cli, struct vault_meta *list, size_t n,
    int64_t now)
{
	const char *eng;
	int engines = 0;
	size_t i, j, wname = 4, wowner = 5, wlab = 6, len;
	char exp[21], due[21], owner[64], labels[256], lab[64];

	for (i = 0; i < n; i++) {
		if (strlen(list[i].name) > wname)
			wname = strlen(list[i].name);
		if (list[i].owner && strlen(list[i].owner) > wowner)
			wowner = strlen(list[i].owner);
		for (j = 0, len = 0; j < list[i].nlabels; j++)
			len += strlen(list[i].labels[j].key) +
			    strlen(list[i].labels[j].value) + 2;
		if (len > wlab)
			wlab = len;
	}
	if (wowner > 24)
		wowner = 24;
	if (wlab > 24)
		wlab = 24;
	for (i = 0; i < n; i++)
		if (vault_meta_label(&list[i], ENGINE_L_ENGINE) != NULL)
			engines = 1;
	printf("%-*s  %-8s  %3s  %-*s  %-10s  %-11s  %-*s  %s%s\n", (int)wname,
	    "NAME", "STATUS", "VER", (int)wowner, "OWNER", "EXPIRES",
	    "ROTATE BY", (int)wlab, "LABELS", "PURPOSE",
	    engines ? "  (ENGINE)" : "");
	for (i = 0; i < n; i++) {
		const struct vault_meta *m = &list[i];
		enum vault_status st = vault_meta_status(m, now);
		const char *color = st == VAULT_ACTIVE ? NULL : "\033[31m";
		int64_t by;
		const char *stname = m->corrupt ? "corrupt" :
		    cli_meta_overdue(m, now, &by) ? "overdue" :
		    vault_status_name(st);
		char stcol[16];

		if (m->expires) {
			al_format_time(m->expires, exp);
			exp[10] = '\0';
		} else
			(void)snprintf(exp, sizeof(exp), "-");
		if (m->rotate_every) {
			al_format_time((m->last_rotated ? m->last_rotated :
			    m->created) + m->rotate_every, due);
			due[10] = '\0';
			if (vault_meta_rotation_due(m, now))
				(void)snprintf(due + 10, sizeof(due) - 10, "!");
		} else
			(void)snprintf(due, sizeof(due), "-");
		labels[0] = '\0';
		for (j = 0, len = 0; j < m->nlabels && len < sizeof(labels);
		    j++) {
			int k = snprintf(labels + len, sizeof(labels) - len,
			    "%s%s=%s", j ? "," : "", m->labels[j].key,
			    m->labels[j].value);

			if (k < 0)
				break;
			len += (size_t)k;
		}
		cell(lab, sizeof(lab), labels[0] ? labels : "-", wlab);
		cell(owner, sizeof(owner), m->owner, wowner);
		(void)snprintf(stcol, sizeof(stcol), "%-8s", stname);
		eng = vault_meta_label(m, ENGINE_L_ENGINE);
		printf("%-*s  %s%s%s  %3u  %-*s  %-10s  %-11s  %-*s  %s%s%s%s\n",
		    (int)wname, m->name, cli->color_out && color ? color : "",
		    stcol, cli->color_out && color ? "\033[0m" : "",
		    m->version, (int)wowner, owner, exp, due, (int)wlab, lab,
		    m->purpose ? m->purpose : "", eng ? "  (" : "",
		    eng ? eng : "", eng ? ")" : "");
	}
}

static int
secret_ls(struct cli *cli, struct vault *v, struct secret_args *a,
    struct al_err *err)
{
	struct vault_meta *list = NULL;
	size_t n = 0, i, kept = 0;
	int64_t now = cli->clock->now(cli->clock->arg);
	json_t *arr = NULL;
	int rc;

	if ((rc = vault_secret_list(v, &list, &n, err)) != 0)
		return rc;
	/* Filter in place, releasing what is dropped. */
	for (i = 0; i < n; i++) {
		struct vault_meta *m = &list[i];
		int keep = 1;

		if (a->owner && (m->owner == NULL ||
		    strcmp(m->owner, a->owner) != 0))
			keep = 0;
		if (a->expired && vault_meta_status(m, now) != VAULT_EXPIRED)
			keep = 0;
		if (a->due && !vault_meta_rotation_due(m, now))
			keep = 0;
		if (!keep) {
			vault_meta_release(m);
			continue;
		}
		if (kept != i)
			list[kept] = *m;
		kept++;
	}
	if (a->json) {
		if ((arr = json_array()) == NULL) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < kept; i++)
			json_array_append_new(arr,
			    meta_json(&list[i], now));
		rc = cli_print_json(arr) == 0 ? 0 : AL_EIO;
		if (rc)
			(void)al_err_set(err, rc, "cannot write the list");
	} else if (kept > 0)
		print_table(cli, list, kept, now);
	else if (n == 0)
		fprintf(stderr, "airlock: no secrets (add one with `airlock "
		    "secret add NAME --owner O --purpose P`)\n");
	else
		fprintf(stderr, "airlock: no secret matches\n");
out:
	json_decref(arr);
	vault_meta_list_free(list, kept);
	return rc;
}

static int
secret_show(struct cli *cli, struct vault *v, struct secret_args *a,
    struct al_err *err)
{
	struct vault_meta m;
	int64_t now = cli->clock->now(cli->clock->arg);
	json_t *o, *val;
	const char *k;
	size_t i;
	int rc;

	if ((rc = vault_secret_get(v, a->name, &m, err)) != 0)
		return rc;
	o = meta_json(&m, now);
	if (o == NULL)
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
	else if (a->json)
		rc = cli_print_json(o) == 0 ? 0 : al_err_set(err, AL_EIO,
		    "cannot write");
	else {
		json_object_foreach(o, k, val) {
			printf("%-16s ", k);
			if (json_is_string(val))
				printf("%s\n", json_string_value(val));
			else if (json_is_integer(val))
				printf("%lld\n", (long long)json_integer_value(
				    val));
			else if (json_is_boolean(val))
				printf("%s\n", json_is_true(val) ? "yes" : "no");
			else if (json_is_array(val)) {
				for (i = 0; i < json_array_size(val); i++)
					printf("%s%s", i ? ", " : "",
					    json_string_value(json_array_get(
					    val, i)));
				printf("%s\n", json_array_size(val) ? "" : "-");
			} else if (json_is_object(val)) {
				const char *lk;
				json_t *lv;

				i = 0;
				json_object_foreach(val, lk, lv)
					printf("%s%s=%s", i++ ? ", " : "", lk,
					    json_string_value(lv));
				printf("%s\n", i ? "" : "-");
			} else
				printf("-\n");
		}
	}
	json_decref(o);
	vault_meta_release(&m);
	return rc;
}

/* At a terminal, rm asks first (as pass rm does); --force does not. */
static int
confirm_rm(struct vault *v, const struct secret_args *a, struct al_err *err)
{
	struct vault_meta m;
	char line[16];
	FILE *tty;
	int rc;

	if ((rc = vault_secret_get(v, a->name, &m, err)) != 0)
		return rc;
	vault_meta_release(&m);
	if (a->force || !isatty(STDIN_FILENO) || !isatty(STDERR_FILENO) ||
	    (tty = fopen("/dev/tty", "r+e")) == NULL)
		return 0;
	fprintf(tty, "Remove the secret '%s' for good (its value cannot be "
	    "recovered)? [y/N] ", a->name);
	fflush(tty);
	if (fgets(line, sizeof(line), tty) == NULL)
		line[0] = '\0';
	(void)fclose(tty);
	if (line[0] == 'y' || line[0] == 'Y')
		return 0;
	return al_err_set(err, AL_EINVAL, "'%s' was kept", a->name);
}

int
cmd_secret(struct cli *cli, int argc, char **argv)
{
	struct secret_args a;
	struct vault *v = NULL;
	struct al_err err;
	int rc;

	al_err_clear(&err);
	memset(&a, 0, sizeof(a));
	a.inject = -1;
	a.passfd = -1;
	if (argc < 2) {
		if (cli_wants_help(argc, argv))
			return cli_print_help("secret", stdout);
		return cli_usage("secret", "'secret' needs a subcommand: add, "
		    "ls, show, rotate, edit or rm");
	}
	a.sub = argv[1];
	if (strcmp(a.sub, "-h") == 0 || strcmp(a.sub, "--help") == 0)
		return cli_print_help("secret", stdout);
	if (strcmp(a.sub, "delete") == 0 || strcmp(a.sub, "remove") == 0)
		a.sub = "rm";
	if (strcmp(a.sub, "get") == 0 || strcmp(a.sub, "read") == 0 ||
	    strcmp(a.sub, "cat") == 0)
		return cli_usage("secret", "airlock never prints a value: use "
		    "it with `airlock run -e VAR=NAME -- CMD` (the command gets "
		    "it, its output is masked), or see its metadata with "
		    "`airlock secret show NAME`");
	if (strcmp(a.sub, "add") && strcmp(a.sub, "ls") && strcmp(a.sub,
	    "list") && strcmp(a.sub, "show") && strcmp(a.sub, "rotate") &&
	    strcmp(a.sub, "edit") && strcmp(a.sub, "rm") &&
	    strcmp(a.sub, "import"))
		return cli_usage("secret", "unknown subcommand 'secret %s'",
		    a.sub);
	if ((rc = parse_args(argc - 1, argv + 1, &a)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (cli_vault_open(cli, &v, &err) != 0)
		return cli_fail(&err);
	if (strcmp(a.sub, "add") == 0)
		rc = secret_add(cli, v, &a, &err);
	else if (strcmp(a.sub, "ls") == 0 || strcmp(a.sub, "list") == 0)
		rc = secret_ls(cli, v, &a, &err);
	else if (strcmp(a.sub, "show") == 0)
		rc = secret_show(cli, v, &a, &err);
	else if (strcmp(a.sub, "rotate") == 0)
		rc = secret_rotate(cli, v, &a, &err);
	else if (strcmp(a.sub, "edit") == 0)
		rc = secret_edit(cli, v, &a, &err);
	else if (strcmp(a.sub, "import") == 0)
		rc = secret_import(cli, v, &a, &err);
	else if ((rc = confirm_rm(v, &a, &err)) == 0)
		rc = secret_rm(cli, v, &a, &err);
	vault_close(v);
	return rc == 0 ? CLI_EXIT_OK : cli_fail(&err);
}

/* airlock audit [verify]: read and verify the audit log. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "airlock/audit.h"
#include "auditcli.h"
#include "cli.h"
#include "vaultcli.h"

const char cmd_audit_help[] =
"usage: airlock audit [--json] [--since T] [--task ID] [--secret NAME]\n"
"                     [--event E[,E...]] [--lease ID] [-n N]\n"
"       airlock audit verify [--json] [--passphrase-fd N]\n"
"\n"
"Show the audit log ($AIRLOCK_HOME/audit.log): every request, grant,\n"
"denial, approval, use, revocation, expiry and secret change, oldest first.\n"
"No line holds a secret value.  Showing needs no key; `verify` checks the\n"
"hash chain with the audit key kept in the vault, which it unlocks.\n"
"\n"
"Options:\n"
"  --json             one JSON object per line, as stored\n"
"  --since T          only events at or after T: a UTC date or time\n"
"                     (2027-01-31, 2027-01-31T12:00:00Z) or a duration\n"
"                     meaning that long ago (15m, 2h, 7d)\n"
"  --task ID          only events of task ID\n"
"  --secret NAME      only events about secret NAME\n"
"  --event E[,E...]   only these events (grant, deny, use, revoke, ...)\n"
"  --lease ID         only events of lease ID\n"
"  -n N               only the last N matching events\n"
"  --passphrase-fd N  read the vault passphrase from descriptor N (verify)\n"
"  -h, --help         show this help\n"
"\n"
"verify reads every line and checks that each carries the mac chaining it\n"
"to the line before, that sequence numbers run without gaps, and that the\n"
"log is not shorter than its head record (audit.log.head) says.  It names\n"
"the first line that was changed, removed or reordered.  `--verify` is\n"
"the same as `verify`.\n"
"\n"
"Exit status: 0 shown, or the log is intact; 1 the log was tampered with\n"
"(verify); 2 error (no log, locked vault, bad option).\n";

enum {
	OPT_JSON = 256, OPT_SINCE, OPT_TASK, OPT_SECRET, OPT_EVENT, OPT_LEASE,
	OPT_PASSFD, OPT_VERIFY,
};

struct audit_args {
	int			 verify;
	int			 json;
	long long		 last;		/* -n, 0: all */
	int			 passfd;
	struct audit_filter	 filter;
};

/* What a listing keeps: the last N entries, or none when printing as read. */
struct listing {
	struct cli	*cli;
	int		 json;
	json_t		**ring;
	size_t		 cap;
	size_t		 n;
	size_t		 next;
	int		 failed;
	int		 header;	/* the table header is out */
};

static int
parse_since(struct cli *cli, const char *s, int64_t *ms, struct al_err *err)
{
	int64_t now = cli->clock->now(cli->clock->arg), t, d;

	/* A bare duration counts back from now. */
	if (al_parse_duration(s, "--since", &d, NULL) == 0) {
		*ms = (now - d) * 1000;
		return 0;
	}
	if (al_parse_time(s, now, "--since", &t, err) != 0)
		return AL_EINVAL;
	*ms = t * 1000;
	return 0;
}

/*
 * A name airlock does not record matches nothing: say so (a typo would
 * otherwise look like an empty log).  Not an error: a later release or a
 * component may add events.
 */
static void
warn_unknown_events(const char *list)
{
	static const char *const known[] = {
		"grant", "deny", "approval_pending", "approve", "deny_approval",
		"approval_expired", "approval_cancelled", "use", "revoke",
		"expire", "policy_reload", "broker_start", "broker_stop",
		"secret_add", "secret_rotate", "secret_edit", "secret_rm",
		"secret_exposed", "agent_hook", "recover", "exposure_revoke",
		"exposure_rotate", NULL,
	};
	char name[64];
	const char *p = list;
	size_t n, i;

	while (*p != '\0') {
		n = strcspn(p, ",");
		if (n > 0 && n < sizeof(name)) {
			memcpy(name, p, n);
			name[n] = '\0';
			for (i = 0; known[i] != NULL; i++)
				if (strcmp(known[i], name) == 0)
					break;
			if (known[i] == NULL)
				al_msg(stderr, "warning", "airlock records no "
				    "event named '%s' (see docs/audit.md for "
				    "the list)", name);
		}
		p += n;
		if (*p == ',')
			p++;
	}
}

static int
parse_args(struct cli *cli, int argc, char **argv, struct audit_args *a)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "task", required_argument, NULL, OPT_TASK },
		{ "secret", required_argument, NULL, OPT_SECRET },
		{ "event", required_argument, NULL, OPT_EVENT },
		{ "lease", required_argument, NULL, OPT_LEASE },
		{ "passphrase-fd", required_argument, NULL, OPT_PASSFD },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct al_err err;
	int c, listing_opt = 0;

	al_err_clear(&err);
	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":hn:", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			a->json = 1;
			break;
		case OPT_SINCE:
			if (parse_since(cli, optarg, &a->filter.since_ms,
			    &err) != 0)
				return cli_usage("audit", "%s", err.msg);
			listing_opt = 1;
			break;
		case OPT_TASK:
			a->filter.task = optarg;
			listing_opt = 1;
			break;
		case OPT_SECRET:
			a->filter.secret = optarg;
			listing_opt = 1;
			break;
		case OPT_EVENT:
			a->filter.events = optarg;
			warn_unknown_events(optarg);
			listing_opt = 1;
			break;
		case OPT_LEASE:
			a->filter.lease = optarg;
			listing_opt = 1;
			break;
		case 'n':
			if (al_parse_int(optarg, 1, 1000000, "-n", &a->last,
			    &err) != 0)
				return cli_usage("audit", "%s", err.msg);
			listing_opt = 1;
			break;
		case OPT_PASSFD:
			if (cli_parse_fd(optarg, "--passphrase-fd", &a->passfd,
			    &err) != 0)
				return cli_usage("audit", "%s", err.msg);
			break;
		case OPT_VERIFY:
			a->verify = 1;
			break;
		case 'h':
			(void)cli_print_help("audit", stdout);
			return -1;
		default:
			return cli_bad_option("audit", argc, argv, c);
		}
	}
	/* Options before and after the subcommand were all read above. */
	if (optind < argc && strcmp(argv[optind], "verify") == 0) {
		a->verify = 1;
		optind++;
	}
	if (optind < argc)
		return cli_usage("audit", "unexpected argument '%s'",
		    argv[optind]);
	if (a->verify && listing_opt)
		return cli_usage("audit", "'audit verify' checks the whole log "
		    "and takes no filter");
	return 0;
}

/* Escape text from the log before it reaches a terminal. */
static const char *
esc(struct al_buf *b, const char *s)
{
	al_buf_reset(b);
	if (s == NULL || al_buf_append_escaped(b, s, strlen(s)) != 0 ||
	    b->len == 0)
		return "-";
	return al_buf_str(b);
}

/* "alice/4242 node": who, which process, which program. */
static void
caller_text(const json_t *c, struct al_buf *out)
{
	const char *user, *exe, *base;
	struct al_buf tmp;
	int rc;

	al_buf_reset(out);
	if (!json_is_object(c)) {
		if (al_buf_puts(out, "-") != 0)
			al_buf_reset(out);
		return;
	}
	al_buf_init(&tmp, 4096, 0);
	user = json_string_value(json_object_get(c, "user"));
	exe = json_string_value(json_object_get(c, "exe"));
	base = exe ? strrchr(exe, '/') : NULL;
	if (user != NULL)
		rc = al_buf_puts(out, esc(&tmp, user));
	else
		rc = al_buf_printf(out, "uid %lld", (long long)
		    json_integer_value(json_object_get(c, "uid")));
	if (rc == 0)
		rc = al_buf_printf(out, "/%lld", (long long)
		    json_integer_value(json_object_get(c, "pid")));
	if (rc == 0 && exe != NULL)
		rc = al_buf_printf(out, " %s", esc(&tmp, base ? base + 1 :
		    exe));
	if (rc != 0)
		al_buf_reset(out);
	al_buf_release(&tmp);
}

static const char *
event_color(const char *ev)
{
	if (strcmp(ev, "deny") == 0 || strcmp(ev, "deny_approval") == 0 ||
	    strcmp(ev, "exposed") == 0 || strcmp(ev, "recover") == 0)
		return "\033[31m";
	if (strcmp(ev, "grant") == 0 || strcmp(ev, "approve") == 0)
		return "\033[32m";
	if (strcmp(ev, "approval_pending") == 0)
		return "\033[33m";
	return "";
}

static int
print_entry(struct listing *l, const json_t *o)
{
	struct al_buf a, b, c;
	const char *time, *ev, *color;
	char when[21];
	int64_t ms = 0;
	char *s;
	int rc = 0;

	if (l->json) {
		if ((s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
		    NULL)
			return AL_ENOMEM;
		if (puts(s) < 0)
			rc = AL_EIO;
		free(s);
		return rc;
	}
	if (!l->header && printf("%-20s %6s  %-16s %-8s %-20s %-12s %-22s "
	    "%s\n", "TIME", "SEQ", "EVENT", "OUTCOME", "SECRET", "TASK",
	    "CALLER", "REASON") < 0)
		return AL_EIO;
	l->header = 1;
	time = json_string_value(json_object_get(o, "time"));
	ev = json_string_value(json_object_get(o, "event"));
	if (time == NULL || audit_parse_time(time, &ms) != 0)
		ms = 0;
	al_format_time(ms / 1000, when);
	color = l->cli->color_out ? event_color(ev) : "";
	al_buf_init(&a, 8192, 0);
	al_buf_init(&b, 8192, 0);
	al_buf_init(&c, 8192, 0);
	caller_text(json_object_get(o, "caller"), &c);
	if (printf("%-20s %6lld  %s%-16s%s %-8s ", when, (long long)
	    json_integer_value(json_object_get(o, "seq")), color, ev,
	    *color ? "\033[0m" : "", esc(&a, json_string_value(
	    json_object_get(o, "outcome")))) < 0 ||
	    printf("%-20s %-12s %-22s ", esc(&a, json_string_value(
	    json_object_get(o, "secret"))), esc(&b, json_string_value(
	    json_object_get(o, "task"))), al_buf_str(&c)) < 0 ||
	    printf("%s\n", esc(&a, json_string_value(json_object_get(o,
	    "reason")))) < 0)
		rc = AL_EIO;
	al_buf_release(&a);
	al_buf_release(&b);
	al_buf_release(&c);
	return rc;
}

static int
on_entry(void *arg, const struct audit_entry *e)
{
	struct listing *l = arg;

	if (l->cap == 0) {
		if (print_entry(l, e->obj) != 0) {
			l->failed = 1;
			return 1;
		}
		return 0;
	}
	json_decref(l->ring[l->next]);
	l->ring[l->next] = json_incref((json_t *)e->obj);
	l->next = (l->next + 1) % l->cap;
	if (l->n < l->cap)
		l->n++;
	return 0;
}

static int
audit_show(struct cli *cli, const struct audit_args *a)
{
	struct listing l;
	struct audit_read_stats st;
	struct al_err err;
	char path[PATH_MAX];
	size_t i;
	int rc, ret = CLI_EXIT_OK;

	al_err_clear(&err);
	memset(&l, 0, sizeof(l));
	l.cli = cli;
	l.json = a->json;
	if (cli_audit_path(cli, path, sizeof(path), &err) != 0)
		return cli_fail(&err);
	if (a->last > 0) {
		l.cap = (size_t)a->last;
		if ((l.ring = calloc(l.cap, sizeof(*l.ring))) == NULL)
			return cli_failf("out of memory");
	}
	rc = audit_read(path, &a->filter, on_entry, &l, &st, &err);
	if (rc == AL_ENOENT) {
		al_msg(stderr, "note", "%s", err.msg);
		rc = 0;
	}
	if (rc < 0)
		ret = cli_fail(&err);
	for (i = 0; i < l.n && ret == CLI_EXIT_OK; i++)
		if (print_entry(&l, l.ring[(l.next + l.cap - l.n + i) %
		    l.cap]) != 0)
			l.failed = 1;
	if (ret == CLI_EXIT_OK && (l.failed || fflush(stdout) != 0))
		ret = cli_failf("cannot write to stdout");
	if (ret == CLI_EXIT_OK && st.malformed > 0)
		al_msg(stderr, "warning", "%llu line%s of the audit log %s not "
		    "valid audit lines: run `airlock audit verify`",
		    (unsigned long long)st.malformed, st.malformed == 1 ? "" :
		    "s", st.malformed == 1 ? "is" : "are");
	for (i = 0; i < l.cap; i++)
		json_decref(l.ring[i]);
	free(l.ring);
	return ret;
}

static json_t *
report_json(const struct audit_report *r, const char *path)
{
	return json_pack("{s:s, s:b, s:s, s:o, s:I, s:I, s:I, s:b, s:I, s:o, "
	    "s:o, s:o, s:s}",
	    "path", path,
	    "intact", r->problem == AUDIT_INTACT,
	    "problem", audit_problem_name(r->problem),
	    "line", r->line ? json_integer((json_int_t)r->line) : json_null(),
	    "lines", (json_int_t)r->lines,
	    "last_seq", (json_int_t)r->last_seq,
	    "head_seq", (json_int_t)r->head_seq,
	    "head_checked", r->head_checked,
	    "recoveries", (json_int_t)r->recoveries,
	    "recovery_line", r->recovery_line ?
	    json_integer((json_int_t)r->recovery_line) : json_null(),
	    "first_time", r->first_time[0] ? json_string(r->first_time) :
	    json_null(),
	    "last_time", r->last_time[0] ? json_string(r->last_time) :
	    json_null(),
	    "message", r->message);
}

static int
audit_verify_cmd(struct cli *cli, const struct audit_args *a)
{
	struct audit_report rep;
	struct vault *v = NULL;
	struct al_secret *key = NULL;
	struct al_err err;
	char path[PATH_MAX];
	json_t *j;
	int rc;

	al_err_clear(&err);
	if ((rc = cli_audit_path(cli, path, sizeof(path), &err)) != 0 ||
	    (rc = cli_vault_open(cli, &v, &err)) != 0 ||
	    (rc = cli_vault_unlock(v, a->passfd, &err)) != 0 ||
	    (rc = cli_audit_key(v, &key, &err)) != 0)
		goto out;
	rc = audit_verify(path, key, &rep, &err);
out:
	al_secret_free(key);
	vault_close(v);
	if (rc != 0)
		return cli_fail(&err);
	if (a->json) {
		j = report_json(&rep, path);
		rc = cli_print_json(j);
		json_decref(j);
		if (rc != CLI_EXIT_OK)
			return rc;
	} else if (rep.problem == AUDIT_INTACT) {
		printf("%s: intact: %llu line%s", path,
		    (unsigned long long)rep.lines, rep.lines == 1 ? "" : "s");
		if (rep.lines > 0)
			printf(", %s to %s", rep.first_time, rep.last_time);
		printf("; head checked at line %llu\n",
		    (unsigned long long)rep.head_seq);
		if (rep.recoveries > 0)
			printf("note: %llu recovery record%s (first at line "
			    "%llu): bytes left by a crash were cut and saved "
			    "beside the log; see `airlock audit --event "
			    "recover`\n", (unsigned long long)rep.recoveries,
			    rep.recoveries == 1 ? "" : "s",
			    (unsigned long long)rep.recovery_line);
	} else {
		printf("%s: TAMPERED (%s)", path,
		    audit_problem_name(rep.problem));
		if (rep.line > 0)
			printf(" at line %llu", (unsigned long long)rep.line);
		printf(": %s\n%llu line%s verified before it\n", rep.message,
		    (unsigned long long)rep.lines, rep.lines == 1 ? "" : "s");
	}
	if (fflush(stdout) != 0)
		return cli_failf("cannot write to stdout");
	return rep.problem == AUDIT_INTACT ? CLI_EXIT_OK : CLI_EXIT_FOUND;
}

int
cmd_audit(struct cli *cli, int argc, char **argv)
{
	struct audit_args a;
	int rc;

	memset(&a, 0, sizeof(a));
	a.passfd = -1;
	if ((rc = parse_args(cli, argc, argv, &a)) != 0)
		return rc < 0 ? CLI_EXIT_OK : rc;
	if (a.verify)
		return audit_verify_cmd(cli, &a);
	return audit_show(cli, &a);
}

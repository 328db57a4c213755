/* airlock report: the inventory of secrets, from the vault and the audit log. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "airlock/audit.h"
#include "airlock/report.h"
#include "airlock/vault.h"
#include "auditcli.h"
#include "cli.h"
#include "exposure.h"
#include "rotatecmd.h"
#include "vaultcli.h"

const char cmd_report_help[] =
"usage: airlock report [--format html|json|csv] [-o FILE]\n"
"\n"
"The inventory of every secret: owner, purpose, engine, created, expires,\n"
"rotation due, last used and lease counts (from the audit log), and each\n"
"exposure with its time to revoke and time to rotate; first, what needs\n"
"attention (an exposure not rotated, expired, rotation overdue, no owner,\n"
"expiring within 14 days).  HTML is one self-contained page (inline CSS\n"
"and SVG charts, nothing fetched); JSON and CSV carry the same rows.\n"
"Reads metadata only: no value is ever read.\n"
"\n"
"Options:\n"
"  --format F     html (default with -o FILE.html), json, or csv;\n"
"                 without -o the default is json\n"
"  -o FILE        write to FILE (created 0600) instead of stdout\n"
"  -h, --help     show this help\n"
"\n"
"Exit status: 0 written; 2 error.  See docs/commands/report.md.\n";

#define REPORT_SOON	(14 * 86400)

struct gather {
	struct report_secret	*s;
	size_t			 n;
	struct vault_meta	*meta;
};

static struct report_secret *
find(struct gather *g, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < g->n; i++)
		if (strcmp(g->s[i].name, name) == 0)
			return &g->s[i];
	return NULL;
}

static int64_t
detail_int(const struct audit_entry *e, const char *k, int64_t dflt)
{
	json_t *v = json_object_get(json_object_get(e->obj, "detail"), k);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* The exposure an exposure_revoke or exposure_rotate line refers to. */
static struct report_exposure *
open_exposure(struct report_secret *s)
{
	return s->nexposures > 0 ? &s->exposures[s->nexposures - 1] : NULL;
}

static int
on_line(void *arg, const struct audit_entry *e)
{
	struct gather *g = arg;
	struct report_secret *s = find(g, e->secret);
	struct report_exposure *x;
	json_t *w;

	if (s == NULL || e->event == NULL)
		return 0;
	if (strcmp(e->event, "grant") == 0) {
		s->leases++;
		s->last_used = e->time_ms / 1000;
	} else if (strcmp(e->event, "use") == 0) {
		s->last_used = e->time_ms / 1000;
	} else if (strcmp(e->event, "deny") == 0) {
		s->denials++;
	} else if (strcmp(e->event, "secret_exposed") == 0) {
		/* Found again before it was rotated: the same exposure. */
		if ((x = open_exposure(s)) != NULL && x->rotate_ms < 0)
			return 0;
		x = realloc(s->exposures, (s->nexposures + 1) * sizeof(*x));
		if (x == NULL)
			return AL_ENOMEM;
		s->exposures = x;
		x = &x[s->nexposures++];
		memset(x, 0, sizeof(*x));
		x->since_ms = detail_int(e, "since_ms", e->time_ms);
		w = json_object_get(json_object_get(e->obj, "detail"), "where");
		x->where = json_is_string(w) ? strdup(json_string_value(w)) :
		    strdup("");
		if (x->where == NULL)
			return AL_ENOMEM;
		x->revoke_ms = x->rotate_ms = -1;
	} else if (strcmp(e->event, "exposure_revoke") == 0 &&
	    (x = open_exposure(s)) != NULL) {
		x->revoke_ms = detail_int(e, "time_to_revoke_ms", -1);
		x->leases_revoked = (int)detail_int(e, "leases_revoked", 0);
	} else if (strcmp(e->event, "exposure_rotate") == 0 &&
	    (x = open_exposure(s)) != NULL && x->rotate_ms < 0) {
		x->rotate_ms = detail_int(e, "time_to_rotate_ms", -1);
	}
	return 0;
}

/* The value of m's label k, or "". */
static const char *
label(const struct vault_meta *m, const char *k)
{
	const char *v = vault_meta_label(m, k);

	return v != NULL ? v : "";
}

static void
gather_free(struct gather *g)
{
	size_t i, k;

	for (i = 0; i < g->n; i++) {
		for (k = 0; k < g->s[i].nexposures; k++)
			free((char *)g->s[i].exposures[k].where);
		free(g->s[i].exposures);
	}
	free(g->s);
	vault_meta_list_free(g->meta, g->n);
}

int
cmd_report(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vault *v = NULL;
	struct gather g;
	struct report rep;
	struct al_err err;
	struct report_secret *s;
	char apath[PATH_MAX];
	const char *fmt = NULL, *ofile = NULL;
	FILE *out = stdout;
	int64_t now, base;
	size_t i;
	int c, fd, rc, status = CLI_EXIT_FAIL;

	al_err_clear(&err);
	memset(&g, 0, sizeof(g));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "html") && strcmp(optarg, "json") &&
			    strcmp(optarg, "csv"))
				return cli_usage("report", "bad --format '%s' "
				    "(expected html, json or csv)", optarg);
			fmt = optarg;
			break;
		case 'o':
			ofile = optarg;
			break;
		case 'h':
			return cli_print_help("report", stdout);
		default:
			return cli_bad_option("report", argc, argv, c);
		}
	}
	if (optind < argc)
		return cli_usage("report", "unexpected argument '%s'",
		    argv[optind]);
	if (fmt == NULL)
		fmt = ofile != NULL && strlen(ofile) > 5 &&
		    strcmp(ofile + strlen(ofile) - 5, ".html") == 0 ? "html" :
		    ofile != NULL && strlen(ofile) > 4 &&
		    strcmp(ofile + strlen(ofile) - 4, ".csv") == 0 ? "csv" :
		    "json";
	now = cli->clock->now(cli->clock->arg);
	if ((rc = cli_vault_open(cli, &v, &err)) != 0 ||
	    (rc = vault_secret_list(v, &g.meta, &g.n, &err)) != 0)
		goto out;
	if (g.n > 0 && (g.s = calloc(g.n, sizeof(*g.s))) == NULL) {
		rc = al_err_set(&err, AL_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < g.n; i++) {
		s = &g.s[i];
		s->name = g.meta[i].name;
		s->owner = g.meta[i].owner ? g.meta[i].owner : "";
		s->purpose = g.meta[i].purpose ? g.meta[i].purpose : "";
		s->engine = label(&g.meta[i], "engine");
		s->status = vault_status_name(vault_meta_status(&g.meta[i],
		    now));
		s->created = g.meta[i].created;
		s->expires = g.meta[i].expires;
		base = g.meta[i].last_rotated ? g.meta[i].last_rotated :
		    g.meta[i].created;
		s->rotation_due = g.meta[i].rotate_every ? base +
		    g.meta[i].rotate_every : 0;
	}
	if ((rc = cli_audit_path(cli, apath, sizeof(apath), &err)) != 0)
		goto out;
	rc = audit_read(apath, NULL, on_line, &g, NULL, &err);
	if (rc == AL_ENOENT)
		rc = 0;			/* nothing audited yet */
	if (rc != 0)
		goto out;
	/* Each exposure's deadline: the owner's rotation SLA after it. */
	for (i = 0; i < g.n; i++) {
		size_t k;
		int64_t within = cli_rotate_within(label(&g.meta[i],
		    CLI_ROTATE_WITHIN));

		for (k = 0; k < g.s[i].nexposures; k++)
			g.s[i].exposures[k].rotate_by =
			    g.s[i].exposures[k].since_ms / 1000 + within;
	}
	memset(&rep, 0, sizeof(rep));
	rep.secrets = g.s;
	rep.nsecrets = g.n;
	rep.now = now;
	rep.soon = REPORT_SOON;
	if (ofile != NULL) {
		fd = open(ofile, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd < 0 || (out = fdopen(fd, "w")) == NULL) {
			rc = al_err_set(&err, AL_EIO, "cannot write %s: %s",
			    ofile, strerror(errno));
			if (fd >= 0)
				(void)close(fd);
			out = stdout;
			goto out;
		}
	}
	if (strcmp(fmt, "html") == 0)
		rc = report_write_html(&rep, out);
	else if (strcmp(fmt, "csv") == 0)
		rc = report_write_csv(&rep, out);
	else
		rc = report_write_json(&rep, out);
	if (fflush(out) != 0 || rc != 0)
		rc = al_err_set(&err, rc ? rc : AL_EIO, "cannot write the "
		    "report");
	else
		status = CLI_EXIT_OK;
out:
	if (out != stdout && fclose(out) != 0 && rc == 0) {
		rc = al_err_set(&err, AL_EIO, "cannot write %s", ofile);
		status = CLI_EXIT_FAIL;
	}
	if (rc != 0)
		status = cli_fail(&err);
	gather_free(&g);
	vault_close(v);
	return status;
}

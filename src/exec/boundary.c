/*
 * exec_boundary_run: the data flow of one task, from lease to revocation.
 *
 *   lease each secret (bound to this client's connection) -> values in
 *   guarded memory -> a redactor of exactly those values -> the command runs
 *   with the values injected and its output redacted -> every lease revoked,
 *   every value wiped.
 *
 * The leases are bound to the connection, so a crash of this process ends
 * them too; the explicit revocation makes a normal end immediate and
 * audited as such.
 */
#include <stdlib.h>
#include <string.h>

#include "airlock/client.h"
#include "airlock/exec.h"
#include "airlock/redact.h"
#include "exec_int.h"

/* One distinct secret of the run and its lease. */
struct leased {
	const char		*secret;	/* as leased */
	struct client_lease	 lease;
	struct al_secret	*value;
	int			 have_lease;
};

static int
filter_write(void *st, const void *p, size_t n, exec_emit_fn emit, void *arg)
{
	return redact_stream_write(st, p, n, emit, arg);
}

static int
filter_finish(void *st, exec_emit_fn emit, void *arg)
{
	return redact_stream_finish(st, emit, arg);
}

/* Rules hold an unfinished line: let an idle prompt through. */
static int
filter_idle(void *st, exec_emit_fn emit, void *arg)
{
	return redact_stream_flush(st, emit, arg);
}

static int
filter_write_more(void *st, const void *p, size_t n, exec_emit_fn emit,
    void *arg)
{
	return redact_stream_write_more(st, p, n, emit, arg);
}

static int
filter_complete(void *st, exec_emit_fn emit, void *arg)
{
	return redact_stream_complete(st, emit, arg);
}

const struct exec_filter_ops exec_redact_filter = {
	filter_write, filter_finish, filter_idle, filter_write_more,
	filter_complete,
};

/* Index of secret in l[0..n), or n. */
static size_t
find(const struct leased *l, size_t n, const char *secret)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(l[i].secret, secret) == 0)
			return i;
	return n;
}

/* A binding's lease: which entry of the leased list, which field. */
struct bound {
	char	base[128];	
	size_t	idx;
	int	field;		/* -1: the whole value */
};

static int
lease_one(const struct exec_boundary *b, const char *secret, struct leased *l,
    struct al_err *err)
{
	struct client_lease_req req;
	int rc;

	memset(&req, 0, sizeof(req));
	req.secret = secret;
	req.task = b->task;
	req.intent = b->intent;
	req.ttl = b->ttl;
	req.bind = 1;
	req.pending = b->pending;
	req.pending_arg = b->pending_arg;
	l->secret = secret;
	rc = client_lease_and_fetch(b->client, &req, b->approval_wait_s,
	    &l->lease, &l->value, err);
	if (rc == 0)
		l->have_lease = 1;
	return rc;
}

/* Whether v is a postgresql:// URL (a dynamic database credential). */
static int
is_db_url(struct al_secret *v)
{
	static const char scheme[] = "postgresql://";
	int yes = al_secret_len(v) > sizeof(scheme) &&
	    memcmp(al_secret_open(v), scheme, sizeof(scheme) - 1) == 0;

	al_secret_close(v);
	return yes;
}

/*
 * Lease and fetch every distinct secret; on failure revoke what was taken.
 * A binding NAME.FIELD takes a field of NAME's credential when NAME gives a
 * database URL (one lease, one role for every field); otherwise it is the
 * secret of that full name.
 */
static int
lease_all(const struct exec_boundary *b, struct leased *l, size_t *nl,
    struct bound *bd, struct al_err *err)
{
	struct al_err berr;
	size_t i, k, n = 0;
	int rc = 0, f;

	for (i = 0; i < b->nvars && rc == 0; i++) {
		const char *name = b->vars[i].secret;

		bd[i].field = -1;
		f = exec_field_split(name, bd[i].base, sizeof(bd[i].base));
		if (f >= 0) {
			if ((k = find(l, n, bd[i].base)) == n) {
				al_err_clear(&berr);
				if (lease_one(b, bd[i].base, &l[n],
				    &berr) == 0)
					n++;
			}
			if (k < n && is_db_url(l[k].value)) {
				bd[i].idx = k;
				bd[i].field = f;
				continue;
			}
		}
		if ((k = find(l, n, name)) == n) {
			if ((rc = lease_one(b, name, &l[n], err)) != 0)
				break;
			n++;
		}
		bd[i].idx = k;
	}
	*nl = n;
	return rc;
}

static void
release_all(const struct exec_boundary *b, struct leased *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		/*
		 * Best effort: a lease the broker already ended (used up,
		 * expired) or a broker that went away is not a failure of
		 * the run; the connection's close ends what is left.
		 */
		if (l[i].have_lease &&
		    client_lease_revoke(b->client, l[i].lease.id, NULL) != 0)
			l[i].have_lease = 0;
		al_secret_free(l[i].value);
		l[i].value = NULL;
	}
}

int
exec_redactor_ready(const struct exec_boundary *b, struct redact *r,
    struct redact_stream **so, struct redact_stream **se, struct al_err *err)
{
	int rc;

	if (b->rules != NULL && (rc = redact_use_scan(r, b->rules, err)) != 0)
		return rc;
	if (b->rules == NULL && b->rules_load != NULL &&
	    (rc = redact_use_scan_lazy(r, b->rules_load, b->rules_load_arg,
	    err)) != 0)
		return rc;
	if ((rc = redact_compile(r, err)) != 0 ||
	    (rc = redact_stream_new(r, so)) != 0 ||
	    (rc = redact_stream_new(r, se)) != 0) {
		if (err != NULL && err->msg[0] == '\0')
			(void)al_err_set(err, rc, "cannot build the redactor");
		return rc;
	}
	return 0;
}

int
exec_boundary_run(const struct exec_boundary *b, struct exec_spec *spec,
    struct exec_result *res, struct al_err *err)
{
	struct leased *l = NULL;
	struct bound *bd = NULL;
	struct al_secret **parts = NULL;
	struct exec_var *vars = NULL;
	struct redact *r = NULL;
	struct redact_stream *so = NULL, *se = NULL;
	struct exec_lease_watch lw = { NULL, NULL };
	const char **ids = NULL;
	size_t nl = 0, i, k;
	int rc;

	if (b->proxy)
		return exec_proxied_run(b, spec, res, err);
	memset(res, 0, sizeof(*res));
	res->status = EXEC_STATUS_FAIL;
	if (b->nvars > EXEC_VARS_MAX)
		return al_err_set(err, AL_EINVAL, "at most %d secrets per run",
		    EXEC_VARS_MAX);
	if ((b->nvars && ((l = calloc(b->nvars, sizeof(*l))) == NULL ||
	    (bd = calloc(b->nvars, sizeof(*bd))) == NULL ||
	    (parts = calloc(b->nvars, sizeof(*parts))) == NULL ||
	    (vars = calloc(b->nvars, sizeof(*vars))) == NULL ||
	    (ids = calloc(b->nvars, sizeof(*ids))) == NULL))) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = lease_all(b, l, &nl, bd, err)) != 0)
		goto out;
	for (i = 0; i < b->nvars; i++)
		if (bd[i].field >= 0 && (rc = exec_field_value(
		    l[bd[i].idx].value, bd[i].field, &parts[i], err)) != 0)
			goto out;
	if ((rc = redact_new(&r, err)) != 0)
		goto out;
	for (i = 0; i < nl; i++) {
		if (al_secret_len(l[i].value) < REDACT_VALUE_MIN) {
			rc = al_err_set(err, AL_EINVAL, "secret '%s' is shorter "
			    "than %d bytes: it could not be masked in the "
			    "output, so it is not used", l[i].secret,
			    REDACT_VALUE_MIN);
			goto out;
		}
		if ((rc = redact_add_value(r, l[i].secret, l[i].value,
		    err)) != 0)
			goto out;
	}
	/* The password on its own is masked too (the URL holds it). */
	for (i = 0; i < b->nvars; i++)
		if (bd[i].field == EXEC_FIELD_PASSWORD &&
		    (rc = redact_add_value(r, b->vars[i].secret, parts[i],
		    err)) != 0)
			goto out;
	if ((rc = exec_redactor_ready(b, r, &so, &se, err)) != 0)
		goto out;
	for (i = 0; i < b->nvars; i++) {
		k = bd[i].idx;
		vars[i].name = b->vars[i].var;
		vars[i].value = bd[i].field >= 0 ? parts[i] : l[k].value;
		vars[i].kind = b->vars[i].kind;
	}
	spec->vars = vars;
	spec->nvars = b->nvars;
	spec->out.ops = &exec_redact_filter;
	spec->out.st = so;
	spec->err.ops = &exec_redact_filter;
	spec->err.st = se;
	for (i = 0; i < nl; i++)
		ids[i] = l[i].lease.id;
	if ((rc = exec_watch_start(&lw, b->client, ids, nl, spec, res,
	    err)) != 0)
		goto out;
	rc = exec_run(spec, res, err);
	exec_watch_status(res);
	if (rc != 0 && redact_rule_error(r) != NULL)
		(void)al_err_set(err, rc, "the scanner's rules could not be "
		    "loaded, so the output of '%s' was not shown and the task "
		    "was ended: %s (--no-rules masks the secrets only)",
		    spec->argv[0], redact_rule_error(r));
out:
	/* Closed first: the leases' ends below are the run's own. */
	exec_watch_stop(&lw, spec);
	release_all(b, l, nl);
	for (i = 0; parts != NULL && i < b->nvars; i++)
		al_secret_free(parts[i]);
	free(parts);
	free(bd);
	redact_stream_free(so);
	redact_stream_free(se);
	redact_free(r);
	free(vars);
	free(ids);
	free(l);
	spec->vars = NULL;
	spec->nvars = 0;
	spec->out.ops = spec->err.ops = NULL;
	return rc;
}

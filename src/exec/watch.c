/*
 * A run's watch on its leases: when one ends while the command runs
 * (revoked by id or task, expired, its secret exposed), the task is ended
 * as on a timeout, and the result says which secret's lease ended and why.
 *
 * The broker answers a long poll as soon as a lease ends (client_watch),
 * so the run learns of it at once and nothing polls the broker meanwhile.
 * Whatever keeps the run from knowing that its leases are still in use (the
 * watch's connection fails, the broker refuses the watch) ends the task
 * too: an unanswered question does not keep a value in use.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "airlock/client.h"
#include "exec_int.h"

static int
watch_fd(void *arg)
{
	struct exec_lease_watch *lw = arg;

	return lw->w != NULL ? client_watch_fd(lw->w) : -1;
}

static int
watch_fn(void *arg)
{
	struct exec_lease_watch *lw = arg;
	struct exec_result *res = lw->res;
	struct client_lease_end end;
	struct al_err err;
	int rc;

	al_err_clear(&err);
	if ((rc = client_watch_read(lw->w, &end, &err)) == 0)
		return 0;
	if (rc == 1) {
		(void)snprintf(res->lease_secret, sizeof(res->lease_secret),
		    "%s", end.secret);
		(void)snprintf(res->lease_reason, sizeof(res->lease_reason),
		    "%s", end.reason);
	} else if (rc == AL_EINVAL) {
		res->lease_secret[0] = '\0';
		(void)snprintf(res->lease_reason, sizeof(res->lease_reason),
		    "the broker does not tell a run when its leases end (an "
		    "older airlock? `airlock stop` it once no run uses it)");
	} else {
		res->lease_secret[0] = '\0';
		(void)snprintf(res->lease_reason, sizeof(res->lease_reason),
		    "the broker could not tell whether the leases are still "
		    "live (%.180s)", err.msg[0] ? err.msg : al_strerror(rc));
	}
	/* Nothing more to read: the task ends now. */
	client_watch_close(lw->w);
	lw->w = NULL;
	return 1;
}

int
exec_watch_start(struct exec_lease_watch *lw, struct client *cl,
    const char *const *ids, size_t n, struct exec_spec *spec,
    struct exec_result *res, struct al_err *err)
{
	int rc;

	lw->w = NULL;
	lw->res = res;
	if (n == 0)
		return 0;
	if ((rc = client_watch_open(cl, ids, n, &lw->w, err)) != 0)
		return al_err_set(err, rc, "cannot watch the leases: %s",
		    err != NULL ? err->msg : al_strerror(rc));
	spec->watch.fd = watch_fd;
	spec->watch.fn = watch_fn;
	spec->watch.arg = lw;
	return 0;
}

void
exec_watch_stop(struct exec_lease_watch *lw, struct exec_spec *spec)
{
	client_watch_close(lw->w);
	lw->w = NULL;
	memset(&spec->watch, 0, sizeof(spec->watch));
}

void
exec_watch_status(struct exec_result *res)
{
	/* A task ended for its lease never reads as a success. */
	if (res->watch_ended && res->status == 0)
		res->status = 128 + SIGTERM;
}

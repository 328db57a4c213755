/*
 * Who is at the other end of a connection.  The identity component reads
 * the kernel's peer credentials (SO_PEERCRED, taken at connect time) and
 * what /proc says about that process: nothing a client sends can change who
 * it is.  The repository is looked up later, when a decision needs it
 * (repo.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/identity.h"
#include "airlock/policy.h"
#include "http_int.h"

/*
 * A peer that could not be identified (most often a process that exited
 * before the broker looked at it) is logged at most once a minute, with the
 * count since the last line: a client that connects and exits in a loop
 * must not grow airlockd.log by a line per connection.
 */
static void
note_unidentified(struct server *s, uint64_t id, const char *msg)
{
	int64_t now = s->b->clock->now_ms(s->b->clock->arg);

	s->unidentified++;
	if (s->unident_logged_ms != 0 &&
	    now - s->unident_logged_ms < UNIDENT_LOG_MS)
		return;
	if (s->unidentified > 1)
		broker_log(s->b, "connection %llu: %s (%llu connections not "
		    "identified in the last minute)", (unsigned long long)id,
		    msg, (unsigned long long)s->unidentified);
	else
		broker_log(s->b, "connection %llu: %s",
		    (unsigned long long)id, msg);
	s->unident_logged_ms = now;
	s->unidentified = 0;
}

/* Point the caller at what c->id says. */
static void
conn_set_caller(struct conn *c)
{
	c->caller.ident = c->id;
	c->caller.uid = c->id->uid;
	c->caller.gid = c->id->gid;
	c->caller.pid = c->id->pid;
	c->caller.selectors = (const char *const *)c->id->selectors;
	c->caller.nselectors = c->id->nselectors;
	c->caller.unknown = (const char *const *)c->id->unknown;
	c->caller.nunknown = c->id->nunknown;
}

int
conn_refresh(struct conn *c, int full, struct al_err *err)
{
	struct ident *fresh = NULL;
	int rc;

	if (c->ident_failed)
		return al_err_set(err, AL_EPERM, "the broker could not "
		    "identify this connection's peer");
	if (c->changed)
		return al_err_set(err, AL_EPERM, "process %ld started "
		    "another program since it connected: reconnect",
		    (long)c->id->pid);
	rc = full ? ident_refresh(c->id, c->srv->icache, 0, &fresh, err) :
	    ident_same(c->id, err);
	if (rc != 0) {
		if (rc == AL_EPERM)
			c->changed = 1;
		return rc;
	}
	if (fresh != NULL) {
		ident_free(c->id);
		c->id = fresh;
		conn_set_caller(c);
	}
	return 0;
}

/*
 * Before a value goes out: the peer is still the process that connected,
 * running the same program, and no other process holds its end of the
 * connection (a child that inherited it, a parent that kept it across
 * its child's exec), as far as the broker can see.
 */
static int
conn_recheck(void *arg, struct al_err *err)
{
	struct conn *c = arg;
	size_t unseen;
	pid_t other;
	int rc;

	/* Identified in full by this very request's dispatch: taken once. */
	if (c->fresh)
		c->fresh = 0;
	else if ((rc = conn_refresh(c, 1, err)) != 0)
		return rc;
	rc = ident_conn_holders(c->fd, c->id->pid, c->id->uid, &other,
	    &unseen, err);
	/* No sock_diag: the check cannot be made; the rest stands. */
	if (rc == AL_ESYS) {
		if (!c->srv->no_diag_logged)
			broker_log(c->srv->b, "%s (logged once)", err->msg);
		c->srv->no_diag_logged = 1;
		rc = 0;
	}
	return rc;
}

struct conn *
conn_new(struct server *s, int fd, uint64_t id)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->caller.conn = id;
	c->srv = s;
	c->fd = fd;
	c->uid = (uid_t)-1;
	c->ident_pending = 1;
	/* The uid alone, for the connection table; no /proc yet. */
	if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr,
	    &len) == 0 && len == sizeof(cr))
		c->uid = cr.uid;
	return c;
}

void
conn_identify(struct conn *c)
{
	struct server *s = c->srv;
	struct al_err err;

	if (!c->ident_pending)
		return;
	c->ident_pending = 0;
	if (c->fd < 0 || ident_from_socket(c->fd, s->icache, 0, &c->id,
	    &err) != 0) {
		if (c->fd >= 0)
			note_unidentified(s, c->caller.conn, err.msg);
		c->ident_failed = 1;
		return;
	}
	/* Its /proc entry stays open while there is room (see ident.h). */
	if (s->peers_held < PEERS_HELD_MAX) {
		s->peers_held++;
		c->holds_peer = 1;
	} else
		ident_unhold(c->id);
	conn_set_caller(c);
	c->caller.recheck = conn_recheck;
	c->caller.recheck_arg = c;
	(void)snprintf(c->caller.holder, sizeof(c->caller.holder),
	    "uid=%u,pid=%ld,start=%llu", (unsigned)c->id->uid,
	    (long)c->id->pid, (unsigned long long)c->id->start_time);
	/* Looked up when a decision needs it (repo.c), not for every peer. */
	c->caller.find_repo = conn_find_repo;
	c->caller.find_repo_arg = c;
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->holds_peer)
		c->srv->peers_held--;
	ident_free(c->id);
	free(c);
}

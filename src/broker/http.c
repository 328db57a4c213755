/*
 * The transport: libmicrohttpd on a Unix socket, driven from this one
 * thread.  MHD runs in external-epoll mode; our own epoll set waits on
 * MHD's epoll descriptor, a signalfd and the socket file's watch
 * (sockwatch.c), with a timeout that is the nearest of MHD's own timeout,
 * the next lease deadline and the next long-poll deadline: an idle broker
 * sleeps until something happens.
 *
 * Group commit: a handler whose reply depends on its audit lines or lease
 * changes being durable (a value, the end of a lease) marks it need_sync;
 * the request is suspended with the sequence number of the last audit line
 * so far.  At the end of a turn with such a request, the sync thread
 * (syncer.c) is asked to fdatasync the audit log while this thread goes on
 * serving; when it reports, the lease table is committed (not fsynced: see
 * lease.h) and every request whose lines are now durable is released.  A
 * turn where nobody waits (a grant) leaves its lines written but not synced;
 * the disk catches up with the next waiter or within SYNC_DELAY_MS.  No
 * value leaves before the line that records its use is durable.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "broker_int.h"
#include "engine_glue.h"
#include "http_int.h"

/* Lines nobody waits for are synced at the latest this long after. */
#define SYNC_DELAY_MS	20

enum phase {
	PH_RECEIVING = 0,
	PH_PARKED_SYNC,		/* waiting for broker_sync */
	PH_PARKED_WAIT,		/* long poll */
	PH_PARKED_JOB,		/* a value being made off the loop */
	PH_REDISPATCH,		/* long poll over: dispatch again */
	PH_READY,		/* reply can be queued */
};

struct request {
	struct server		*srv;
	struct MHD_Connection	*mc;
	struct conn		*conn;
	struct al_buf		 body;
	int			 too_big;
	enum phase		 phase;
	int			 no_wait;
	char			 method[8];
	char			*path;
	char			*query;
	struct broker_resp	 resp;
	int64_t			 t0_us;
	uint64_t		 need_seq;	/* PH_PARKED_SYNC: audit line */
	int64_t			 wait_until_ms;	/* a long poll's first deadline */
	struct rstream		*rs;		/* to run once upgraded */
	struct request		*next;		/* in srv->parked */
	struct request		*prev;
};

static int64_t
mono_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
park(struct server *s, struct request *rq, enum phase ph)
{
	rq->phase = ph;
	rq->next = s->parked;
	rq->prev = NULL;
	if (s->parked)
		s->parked->prev = rq;
	s->parked = rq;
	s->mhd.suspend_connection(rq->mc);
}

static void
unpark(struct server *s, struct request *rq, enum phase ph)
{
	if (rq->prev)
		rq->prev->next = rq->next;
	else
		s->parked = rq->next;
	if (rq->next)
		rq->next->prev = rq->prev;
	rq->next = rq->prev = NULL;
	rq->phase = ph;
	s->mhd.resume_connection(rq->mc);
	/* With an external loop, MHD_run must run again to see it. */
	s->resumed = 1;
}

/* libmicrohttpd calls this once the value has been sent (or dropped). */
static void
free_value(void *cls)
{
	al_secret_free(cls);	/* sodium_free wipes it */
}

/* Redaction streams of uid running now. */
static unsigned
streams_of(const struct server *s, uid_t uid)
{
	const struct rstream *rs;
	unsigned n = 0;

	for (rs = s->streams; rs != NULL; rs = rs->next)
		n += rs->uid == uid;
	return n;
}

static void
stream_unlink(struct server *s, struct rstream *rs)
{
	struct rstream **pp;

	for (pp = &s->streams; *pp != NULL; pp = &(*pp)->next)
		if (*pp == rs) {
			*pp = rs->next;
			return;
		}
}

/*
 * The connection is now the client's stream of frames: the redaction runs
 * on a thread of its own (rstream.c), never on this loop.  The stream is
 * in s->streams since its 101 was queued (so that it counts at once).
 */
static void
on_upgrade(void *cls, struct MHD_Connection *mc, void *req_cls,
    const char *extra_in, size_t extra_in_size, MHD_socket sock,
    struct MHD_UpgradeResponseHandle *urh)
{
	struct request *rq = cls;
	struct server *s = rq->srv;
	struct rstream *rs = rq->rs;

	(void)mc;
	(void)req_cls;
	rq->rs = NULL;
	if (rs == NULL) {
		(void)s->mhd.upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	rs->urh = urh;
	if (rstream_start(rs, sock, extra_in, extra_in_size,
	    s->stream_fd) != 0) {
		broker_log(s->b, "cannot start a redaction stream");
		stream_unlink(s, rs);
		rstream_free(rs);
		(void)s->mhd.upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
	}
}

/* Streams that ended (or all, waiting for them): audit, close. */
static void
streams_reap(struct server *s, int all)
{
	struct rstream **pp = &s->streams, *rs;
	struct MHD_UpgradeResponseHandle *urh;
	uint64_t v;

	if (s->stream_fd >= 0)
		(void)!read(s->stream_fd, &v, sizeof(v));
	while ((rs = *pp) != NULL) {
		/* Not upgraded yet: on_completed frees it if it never is. */
		if (!rs->started || (!all && !rstream_done(rs))) {
			pp = &rs->next;
			continue;
		}
		*pp = rs->next;
		urh = rs->urh;
		rstream_end(rs);	/* joins the thread first */
		(void)s->mhd.upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		s->resumed = 1;
	}
}

static enum MHD_Result
send_upgrade(struct request *rq)
{
	const struct mhd_dl *mhd = &rq->srv->mhd;
	struct broker_resp *r = &rq->resp;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	rq->rs = r->upgrade;
	r->upgrade = NULL;
	rq->rs->next = rq->srv->streams;
	rq->srv->streams = rq->rs;
	resp = mhd->create_response_for_upgrade(on_upgrade, rq);
	if (resp == NULL)
		return MHD_NO;
	(void)mhd->add_response_header(resp, MHD_HTTP_HEADER_UPGRADE,
	    API_RS_PROTO);
	ret = mhd->queue_response(rq->mc, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	mhd->destroy_response(resp);
	broker_observe_latency(rq->srv->b, mono_us() - rq->t0_us);
	return ret;
}

static enum MHD_Result
send_reply(struct request *rq)
{
	const struct mhd_dl *mhd = &rq->srv->mhd;
	struct broker_resp *r = &rq->resp;
	struct MHD_Response *resp;
	struct al_secret *v;
	enum MHD_Result ret;
	const char *up;

	if (r->upgrade != NULL) {
		up = mhd->lookup_connection_value(rq->mc, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_UPGRADE);
		if (up == NULL || strcmp(up, API_RS_PROTO) != 0) {
			broker_resp_release(r);
			broker_resp_init(r);
			reply_error(r, 400, API_E_BAD_REQUEST, "this route "
			    "takes \"Connection: Upgrade\" and \"Upgrade: "
			    API_RS_PROTO "\" (see docs/api.md)");
		} else if (streams_of(rq->srv, r->upgrade->uid) >=
		    API_RS_PER_UID) {
			broker_resp_release(r);
			broker_resp_init(r);
			reply_error(r, 429, API_E_RATE, "too many redaction "
			    "streams of this user at once (at most 4)");
		} else
			return send_upgrade(rq);
	}
	if (r->value != NULL) {
		v = r->value;
		r->value = NULL;
		resp = mhd->create_response_from_buffer_with_free_callback_cls(
		    al_secret_len(v), al_secret_open(v), free_value, v);
		if (resp == NULL) {
			al_secret_free(v);
			return MHD_NO;
		}
		(void)mhd->add_response_header(resp, "Cache-Control",
		    "no-store");
		if (r->value_lease[0] != '\0')
			(void)mhd->add_response_header(resp, API_H_LEASE,
			    r->value_lease);
	} else {
		resp = mhd->create_response_from_buffer(r->body.len,
		    r->body.data, MHD_RESPMEM_MUST_COPY);
		if (resp == NULL)
			return MHD_NO;
	}
	(void)mhd->add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    r->content_type);
	ret = mhd->queue_response(rq->mc, (unsigned)r->status, resp);
	mhd->destroy_response(resp);
	broker_observe_latency(rq->srv->b, mono_us() - rq->t0_us);
	return ret;
}

/* ---- connection management ------------------------------------------ */

static void
idle_remove(struct server *s, struct conn *c)
{
	if (!c->in_idle)
		return;
	if (c->idle_prev)
		c->idle_prev->idle_next = c->idle_next;
	else
		s->idle_head = c->idle_next;
	if (c->idle_next)
		c->idle_next->idle_prev = c->idle_prev;
	else
		s->idle_tail = c->idle_prev;
	c->idle_prev = c->idle_next = NULL;
	c->in_idle = 0;
}

/* c is idle from now: the newest, evicted last. */
static void
idle_push(struct server *s, struct conn *c)
{
	if (c->in_idle || c->busy || c->held || c->closing)
		return;
	c->idle_prev = s->idle_tail;
	c->idle_next = NULL;
	if (s->idle_tail)
		s->idle_tail->idle_next = c;
	else
		s->idle_head = c;
	s->idle_tail = c;
	c->in_idle = 1;
}

/* Add delta to uid's count; returns the new count. */
static size_t
uid_add(struct server *s, uid_t uid, int delta)
{
	struct uid_count *u;
	size_t i;

	for (i = 0; i < s->nuids; i++)
		if (s->uids[i].uid == uid)
			break;
	if (i == s->nuids) {
		if (delta < 0)
			return 0;
		if ((u = realloc(s->uids, (s->nuids + 1) *
		    sizeof(*u))) == NULL)
			return SIZE_MAX;	/* treated as over the limit */
		s->uids = u;
		s->uids[s->nuids].uid = uid;
		s->uids[s->nuids].n = 0;
		s->nuids++;
	}
	u = &s->uids[i];
	if (delta < 0 && u->n > 0)
		u->n--;
	else if (delta > 0)
		u->n++;
	if (u->n == 0) {
		/* Forget uids without connections: the table stays small. */
		*u = s->uids[--s->nuids];
		return 0;
	}
	return u->n;
}

/*
 * Close c to make room: libmicrohttpd sees the end of the stream at its
 * next turn, or a request it had already sent, which on_request refuses;
 * either way it lets the connection go (on_connection).
 */
static void
shut(struct server *s, struct conn *c)
{
	idle_remove(s, c);
	c->closing = 1;
	if (c->fd >= 0)
		(void)shutdown(c->fd, SHUT_RDWR);
	s->evicted++;
}

/* Close the connection idle the longest of uid (any: (uid_t)-2). */
static int
evict(struct server *s, uid_t uid, const struct conn *except)
{
	struct conn *c;

	for (c = s->idle_head; c != NULL; c = c->idle_next)
		if (c != except && (uid == (uid_t)-2 || c->uid == uid)) {
			shut(s, c);
			return 1;
		}
	return 0;
}

/*
 * A new connection: count it for its uid and make room if its uid is at
 * its limit or the table is nearly full.  When nothing can be closed, the
 * new connection is the one that goes.
 */
static void
admit(struct server *s, struct conn *c)
{
	size_t n;
	int64_t now;

	n = uid_add(s, c->uid, 1);
	c->counted = n != SIZE_MAX;
	idle_push(s, c);
	if (n > s->uid_max) {
		if (!evict(s, c->uid, c))
			shut(s, c);
	} else if (s->b->connections > s->conn_max - CONN_SPARE) {
		if (!evict(s, (uid_t)-2, c))
			shut(s, c);
	}
	if (s->evicted == 0)
		return;
	now = s->b->clock->now_ms(s->b->clock->arg);
	if (s->evict_logged_ms != 0 && now - s->evict_logged_ms <
	    UNIDENT_LOG_MS)
		return;
	broker_log(s->b, "%llu idle connections closed to make room (uid %ld "
	    "holds %zu of %u connections)", (unsigned long long)s->evicted,
	    c->uid == (uid_t)-1 ? -1L : (long)c->uid, n == SIZE_MAX ? 0 : n,
	    s->conn_max);
	s->evict_logged_ms = now;
	s->evicted = 0;
}

static void
dispatch(struct request *rq)
{
	struct broker_req req;
	struct al_err err;
	int full;

	broker_resp_release(&rq->resp);
	broker_resp_init(&rq->resp);
	memset(&req, 0, sizeof(req));
	req.method = rq->method;
	req.path = rq->path;
	req.query = rq->query;
	req.body.p = rq->body.data;
	req.body.len = rq->body.len;
	req.caller = &rq->conn->caller;
	req.no_wait = rq->no_wait;
	/*
	 * Who sends this request: identified again, every time.  Where the
	 * handler identifies it in full before a grant or a value, that is
	 * done here instead, once: the handler's first recheck in this
	 * request takes it (conn_recheck), and a changed process is refused
	 * here as before.
	 */
	full = broker_route_rechecks(req.method, req.path);
	if (conn_refresh(rq->conn, full, &err) != 0)
		reply_error(&rq->resp, 403, API_E_FORBIDDEN, err.msg);
	else if (rq->too_big)
		reply_error(&rq->resp, 413, API_E_TOO_BIG, "request body is "
		    "larger than the route takes (16 KiB; 2 MiB for "
		    "/v1/redact)");
	else {
		rq->conn->fresh = full;
		broker_dispatch(rq->srv->b, &req, &rq->resp);
		rq->conn->fresh = 0;
	}
	al_buf_release(&rq->body);
	if (rq->resp.hold_conn) {
		(void)rq->srv->mhd.set_connection_option(rq->mc,
		    MHD_CONNECTION_OPTION_TIMEOUT, 0u);
		rq->conn->held = 1;
	}
}

/* Rebuild "k=v&k=v" from the decoded arguments (names are ASCII). */
static enum MHD_Result
collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct al_buf *q = cls;

	(void)kind;
	if ((q->len && al_buf_putc(q, '&') != 0) || al_buf_puts(q, key) ||
	    al_buf_putc(q, '=') || al_buf_puts(q, value ? value : ""))
		return MHD_NO;
	return MHD_YES;
}

static struct request *
request_new(struct server *s, struct MHD_Connection *mc, const char *url,
    const char *method)
{
	const union MHD_ConnectionInfo *ci;
	struct request *rq;
	struct al_buf q;

	if ((rq = calloc(1, sizeof(*rq))) == NULL)
		return NULL;
	rq->srv = s;
	rq->mc = mc;
	rq->t0_us = mono_us();
	ci = s->mhd.get_connection_info(mc,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	rq->conn = ci ? ci->socket_context : NULL;
	(void)snprintf(rq->method, sizeof(rq->method), "%s", method);
	al_buf_init(&rq->body, broker_body_max(url), 0);
	broker_resp_init(&rq->resp);
	al_buf_init(&q, 4096, 0);
	(void)s->mhd.get_connection_values(mc, MHD_GET_ARGUMENT_KIND,
	    collect_arg, &q);
	rq->path = strdup(url);
	rq->query = strdup(al_buf_str(&q));
	al_buf_release(&q);
	if (rq->conn != NULL && !rq->conn->closing) {
		idle_remove(s, rq->conn);
		rq->conn->busy = 1;
		conn_identify(rq->conn);
	}
	if (rq->conn == NULL || rq->path == NULL || rq->query == NULL) {
		free(rq->path);
		free(rq->query);
		broker_resp_release(&rq->resp);
		free(rq);
		return NULL;
	}
	return rq;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *mc, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **req_cls)
{
	struct server *s = cls;
	struct request *rq = *req_cls;
	const char *cl;

	(void)version;
	if (rq == NULL) {
		if ((rq = request_new(s, mc, url, method)) == NULL)
			return MHD_NO;
		*req_cls = rq;
		/* Closed to make room: what it had sent is not served. */
		if (rq->conn->closing)
			return MHD_NO;
		/* Refuse an announced oversized body before reading it. */
		cl = s->mhd.lookup_connection_value(mc, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) >
		    broker_body_max(url)) {
			rq->too_big = 1;
			dispatch(rq);
			rq->phase = PH_READY;
			return send_reply(rq);
		}
		return MHD_YES;
	}
	switch (rq->phase) {
	case PH_RECEIVING:
		if (*upload_size != 0) {
			if (!rq->too_big && al_buf_append(&rq->body,
			    upload_data, *upload_size) != 0)
				rq->too_big = 1;
			*upload_size = 0;
			return MHD_YES;
		}
		dispatch(rq);
		break;
	case PH_REDISPATCH:
		dispatch(rq);
		break;
	case PH_READY:
		return send_reply(rq);
	case PH_PARKED_SYNC:
	case PH_PARKED_WAIT:
	case PH_PARKED_JOB:
		return MHD_YES;		/* not reached: suspended */
	}
	if (rq->resp.job != NULL) {
		park(s, rq, PH_PARKED_JOB);
		return MHD_YES;
	}
	if (rq->resp.wait_until_ms != 0) {
		/* Parked again after a look: the first deadline holds. */
		if (rq->wait_until_ms != 0 &&
		    rq->resp.wait_until_ms > rq->wait_until_ms)
			rq->resp.wait_until_ms = rq->wait_until_ms;
		rq->wait_until_ms = rq->resp.wait_until_ms;
		park(s, rq, PH_PARKED_WAIT);
		return MHD_YES;
	}
	if (rq->resp.need_sync) {
		rq->need_seq = broker_audit_seq(s->b);
		park(s, rq, PH_PARKED_SYNC);
		return MHD_YES;
	}
	rq->phase = PH_READY;
	return send_reply(rq);
}

static void
on_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *req_cls;

	(void)cls;
	(void)mc;
	(void)toe;
	if (rq == NULL)
		return;
	if (rq->phase == PH_PARKED_SYNC || rq->phase == PH_PARKED_WAIT ||
	    rq->phase == PH_PARKED_JOB)
		unpark(rq->srv, rq, PH_READY);	/* cannot happen; be safe */
	if (rq->conn != NULL) {
		rq->conn->busy = 0;
		idle_push(rq->srv, rq->conn);
	}
	al_buf_release(&rq->body);
	broker_resp_release(&rq->resp);
	if (rq->rs != NULL) {	/* never upgraded */
		stream_unlink(rq->srv, rq->rs);
		rstream_free(rq->rs);
		rq->rs = NULL;
	}
	free(rq->path);
	free(rq->query);
	free(rq);
	*req_cls = NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct server *s = cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *c;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = s->mhd.get_connection_info(mc,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		c = conn_new(s, ci ? ci->connect_fd : -1, ++s->next_conn);
		*socket_context = c;
		s->b->connections++;
		if (c != NULL) {
			/*
			 * Identified now, while the process that connected
			 * is most likely still the one at the other end.
			 */
			conn_identify(c);
			admit(s, c);
		}
		return;
	}
	c = *socket_context;
	s->b->connections--;
	if (c == NULL)
		return;
	idle_remove(s, c);
	if (c->counted)
		(void)uid_add(s, c->uid, -1);
	/* A dying holder loses its bound leases now, not at their TTL. */
	broker_conn_closed(s->b, c->caller.conn);
	conn_free(c);
	*socket_context = NULL;
}

/*
 * Release parked requests: those waiting for lines up to s->durable, or
 * every one of them with an error when a sync failed (rc != 0); and long
 * polls that are over or settled.
 */
static void
release(struct server *s, int rc)
{
	struct request *rq, *next;
	int64_t now_ms = s->b->clock->now_ms(s->b->clock->arg);

	for (rq = s->parked; rq != NULL; rq = next) {
		next = rq->next;
		if (rq->phase == PH_PARKED_SYNC && (rc != 0 ||
		    rq->need_seq <= s->durable)) {
			if (rc != 0) {
				/* Never release what is not on disk. */
				if (rq->resp.value != NULL)
					broker_withheld(s->b,
					    rq->resp.value_lease);
				broker_resp_release(&rq->resp);
				broker_resp_init(&rq->resp);
				reply_error(&rq->resp, 503, API_E_UNAVAILABLE,
				    "the audit log could not be written; "
				    "nothing was released (the broker retries "
				    "by itself: see /v1/health)");
			}
			unpark(s, rq, PH_READY);
		} else if (rq->phase == PH_PARKED_JOB && s->stopping) {
			/* Its job finishes on its own; nobody waits for it. */
			broker_resp_release(&rq->resp);
			broker_resp_init(&rq->resp);
			reply_error(&rq->resp, 503, API_E_UNAVAILABLE, "the "
			    "broker is stopping");
			unpark(s, rq, PH_READY);
		} else if (rq->phase == PH_PARKED_WAIT) {
			if (s->stopping || now_ms >= rq->resp.wait_until_ms) {
				rq->no_wait = 1;
				unpark(s, rq, PH_REDISPATCH);
			} else if (rq->resp.wait_leases ?
			    broker_lease_wait_over(s->b, rq->query,
			    &rq->resp.wait_seq) :
			    broker_approval_settled(s->b, rq->resp.wait_id)) {
				unpark(s, rq, PH_REDISPATCH);
			}
		}
	}
}

/*
 * Values made off the loop are ready: their replies are completed here,
 * then wait for the disk as any use does.
 */
static void
jobs_ready(struct server *s)
{
	struct request *rq, *next;

	eng_drain(s->b);
	for (rq = s->parked; rq != NULL; rq = next) {
		next = rq->next;
		if (rq->phase != PH_PARKED_JOB || !eng_job_done(rq->resp.job))
			continue;
		broker_job_finish(s->b, &rq->resp);
		if (rq->resp.need_sync) {
			/* Still parked: flush() at the end of this turn. */
			rq->need_seq = broker_audit_seq(s->b);
			rq->phase = PH_PARKED_SYNC;
		} else
			unpark(s, rq, PH_READY);
	}
}

/* A sync round ended: commit the lease table, release who may go. */
static void
synced(struct server *s)
{
	struct al_err err;
	uint64_t durable;
	int rc;

	rc = syncer_result(s->syncer, &durable, &err);
	if (rc == AL_EBUSY)
		return;
	if ((rc = broker_synced(s->b, rc, durable, &err)) == 0 &&
	    durable > s->durable)
		s->durable = durable;
	release(s, rc);
}

/*
 * End of a turn.  With a request waiting for the disk, or changes older
 * than SYNC_DELAY_MS, start a sync round unless one is under way (its end
 * starts the next).  When stopping, sync here and release everyone.
 */
static void
flush(struct server *s)
{
	struct request *rq;
	struct al_err err;
	int64_t now_ms = s->b->clock->now_ms(s->b->clock->arg), since;
	int rc = 0, waiting = 0;

	for (rq = s->parked; rq != NULL && !waiting; rq = rq->next)
		waiting = rq->phase == PH_PARKED_SYNC &&
		    rq->need_seq > s->durable;
	since = broker_flush(s->b);
	if (s->b->audit_failed) {
		/*
		 * Nothing becomes durable until the log is back (broker_tick
		 * retries): whoever waits for the disk is answered now.
		 */
		s->sync_due = 0;
		release(s, AL_EUNAVAIL);
		return;
	}
	if (s->stopping) {
		if ((rc = broker_sync(s->b, &err)) == 0)
			s->durable = broker_audit_seq(s->b);
	} else if (since != 0 && (waiting || now_ms - since >=
	    SYNC_DELAY_MS) && syncer_request(s->syncer, &err) != 0)
		rc = broker_synced(s->b, AL_ESYS, 0, &err);
	s->sync_due = rc == 0 && since != 0 && s->syncer != NULL &&
	    !syncer_busy(s->syncer) ? since + SYNC_DELAY_MS : 0;
	release(s, rc);
}

int
loop_wait_on(struct server *s, int fd, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.fd = fd;
	return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
}

static int64_t
next_wait_ms(struct server *s)
{
	struct request *rq;
	int64_t t = 0;

	for (rq = s->parked; rq != NULL; rq = rq->next)
		if (rq->phase == PH_PARKED_WAIT && (t == 0 ||
		    rq->resp.wait_until_ms < t))
			t = rq->resp.wait_until_ms;
	return t;
}

static void
on_signal(struct server *s)
{
	struct signalfd_siginfo si;
	struct al_err err;

	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			broker_log(s->b, "SIGHUP: reloading the policy");
			if (broker_reload_policy(s->b, &err) != 0)
				al_err_clear(&err);	/* logged and audited */
			if (s->b->on_hup != NULL)
				s->b->on_hup(s->b->on_ready_arg);
		} else {
			broker_log(s->b, "signal %u: stopping", si.ssi_signo);
			s->stopping = 1;
		}
	}
}

int
http_loop(struct server *s, struct al_err *err)
{
	struct epoll_event evs[8];
	const union MHD_DaemonInfo *di;
	MHD_UNSIGNED_LONG_LONG mhd_to;
	int64_t now_ms, deadline, w, timeout;
	uint64_t ends;
	int i, n, rc = 0;

	di = s->mhd.get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (di == NULL)
		return al_err_set(err, AL_ESYS, "libmicrohttpd has no epoll "
		    "descriptor");
	if (loop_wait_on(s, di->epoll_fd, EPOLLIN) != 0 ||
	    loop_wait_on(s, s->sigfd, EPOLLIN) != 0 ||
	    loop_wait_on(s, syncer_fd(s->syncer), EPOLLIN) != 0 ||
	    loop_wait_on(s, s->stream_fd, EPOLLIN) != 0 ||
	    (proxies_fd(s->b) >= 0 &&
	    loop_wait_on(s, proxies_fd(s->b), EPOLLIN) != 0) ||
	    (eng_fd(s->b) >= 0 && loop_wait_on(s, eng_fd(s->b), EPOLLIN) != 0))
		return al_err_set(err, AL_ESYS, "epoll_ctl: %s",
		    strerror(errno));
	sockwatch_start(s);
	while (!s->stopping) {
		ends = s->b->nends;
		deadline = broker_tick(s->b);
		/* A lease the tick ended: whoever waits on it is told now. */
		if (s->b->nends != ends)
			s->resumed = 1;
		w = next_wait_ms(s);
		if (w != 0 && (deadline == 0 || w < deadline))
			deadline = w;
		now_ms = s->b->clock->now_ms(s->b->clock->arg);
		timeout = -1;
		if (deadline != 0)
			timeout = deadline > now_ms ? deadline - now_ms : 0;
		if (s->mhd.get_timeout(s->d, &mhd_to) == MHD_YES &&
		    (timeout < 0 || (int64_t)mhd_to < timeout))
			timeout = (int64_t)mhd_to;
		if (s->sync_due != 0 && (timeout < 0 ||
		    s->sync_due - now_ms < timeout))
			timeout = s->sync_due > now_ms ? s->sync_due - now_ms :
			    0;
		w = sockwatch_timeout(s, now_ms);
		if (w >= 0 && (timeout < 0 || w < timeout))
			timeout = w;
		if (s->resumed)
			timeout = 0;
		s->resumed = 0;
		/* A deadline weeks away: wake before it, never wait forever. */
		if (timeout > INT_MAX)
			timeout = INT_MAX;
		n = epoll_wait(s->ep, evs, 8, (int)timeout);
		if (n < 0 && errno != EINTR) {
			rc = al_err_set(err, AL_ESYS, "epoll_wait: %s",
			    strerror(errno));
			break;
		}
		for (i = 0; i < n; i++)
			if (evs[i].data.fd == s->sigfd)
				on_signal(s);
			else if (evs[i].data.fd == syncer_fd(s->syncer))
				synced(s);
			else if (evs[i].data.fd == proxies_fd(s->b))
				proxies_drain(s->b);
			else if (evs[i].data.fd == s->stream_fd)
				streams_reap(s, 0);
			else if (evs[i].data.fd == eng_fd(s->b))
				jobs_ready(s);
			else if (sockwatch_owns(s, evs[i].data.fd))
				sockwatch_read(s, evs[i].data.fd);
		(void)s->mhd.run(s->d);
		flush(s);
		sockwatch_check(s, s->b->clock->now_ms(s->b->clock->arg));
	}
	/* Redaction streams are cut short (and audited). */
	for (struct rstream *rs = s->streams; rs != NULL; rs = rs->next)
		rstream_abort(rs);
	streams_reap(s, 1);
	/* Let parked requests finish before the daemon goes away. */
	syncer_stop(s->syncer);
	s->syncer = NULL;
	flush(s);
	(void)s->mhd.run(s->d);
	return rc;
}

/*
 * As many connections as descriptors allow: the soft limit is raised to
 * what they need (a login session's is often 1,024), and when even the
 * hard limit is lower, fewer connections are taken, so that the table
 * fills (and makes room) before accept(2) fails for lack of descriptors.
 */
static void
conn_limits(struct server *s)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)HTTP_CONN_MAX + FD_SPARE;

	s->conn_max = HTTP_CONN_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
			rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
			    rl.rlim_max > want ? want : rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
			(void)getrlimit(RLIMIT_NOFILE, &rl);
		}
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
			s->conn_max = rl.rlim_cur > 2 * FD_SPARE ?
			    (unsigned)(rl.rlim_cur - FD_SPARE) : FD_SPARE;
	}
	s->uid_max = s->conn_max > 4 * CONN_RESERVE ? s->conn_max -
	    CONN_RESERVE : s->conn_max - s->conn_max / 16;
}

int
http_start(struct server *s, int lfd, struct al_err *err)
{
	int rc;

	if ((rc = syncer_start(s->b->audit, &s->syncer, err)) != 0)
		return rc;
	if ((s->stream_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return al_err_set(err, AL_ESYS, "eventfd: %s",
		    strerror(errno));
	conn_limits(s);
	s->d = s->mhd.start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_ALLOW_UPGRADE | MHD_USE_TURBO, 0, NULL, NULL, on_request, s,
	    MHD_OPTION_LISTEN_SOCKET, lfd,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	    MHD_OPTION_CONNECTION_LIMIT, s->conn_max,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_IDLE_CONN_TIMEOUT,
	    /*
	     * Headers and read buffer only (bodies go to rq->body); MHD
	     * clears the pool between requests, so smaller is cheaper.
	     */
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
	    MHD_OPTION_STRICT_FOR_CLIENT, 1,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
	    MHD_OPTION_END);
	if (s->d == NULL)
		return al_err_set(err, AL_ESYS, "cannot start the HTTP server "
		    "on %s", s->b->socket_path);
	return 0;
}

void
http_stop(struct server *s)
{
	for (struct rstream *rs = s->streams; rs != NULL; rs = rs->next)
		rstream_abort(rs);
	if (s->streams != NULL)
		streams_reap(s, 1);
	if (s->d != NULL)
		s->mhd.stop_daemon(s->d);
	s->d = NULL;
	sockwatch_stop(s);
	syncer_stop(s->syncer);
	s->syncer = NULL;
	if (s->stream_fd >= 0)
		(void)close(s->stream_fd);
	s->stream_fd = -1;
}

/*
 * bench_http_floor's default transport: libmicrohttpd configured exactly as
 * src/broker/http.c http_start() does, driven the same way (its epoll
 * descriptor in our own epoll set, MHD_run after each wait, requests that
 * wait for the disk suspended and resumed), but linked normally.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <microhttpd.h>

#include "http_floor.h"

struct mreq {
	struct floor		*f;
	struct MHD_Connection	*mc;
	int			 ready;		/* reply can be queued */
	int			 parked;
	uint64_t		 need;		/* line it waits for */
	struct reply		 r;
	struct mreq		*next, *prev;
};

static enum MHD_Result
m_send(struct mreq *rq)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(rq->r.len, rq->r.body,
	    MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	if (rq->r.value)
		(void)MHD_add_response_header(resp, "Cache-Control",
		    "no-store");
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    rq->r.ctype);
	ret = MHD_queue_response(rq->mc, (unsigned)rq->r.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void
m_unpark(struct floor *f, struct mreq *rq)
{
	if (rq->prev)
		rq->prev->next = rq->next;
	else
		f->mparked = rq->next;
	if (rq->next)
		rq->next->prev = rq->prev;
	rq->next = rq->prev = NULL;
	rq->parked = 0;
	f->parked--;
	MHD_resume_connection(rq->mc);
	f->resumed = 1;
}

static enum MHD_Result
m_request(void *cls, struct MHD_Connection *mc, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **req_cls)
{
	struct floor *f = cls;
	struct mreq *rq = *req_cls;

	(void)version;
	(void)upload_data;
	if (rq == NULL) {
		if ((rq = calloc(1, sizeof(*rq))) == NULL)
			return MHD_NO;
		rq->f = f;
		rq->mc = mc;
		*req_cls = rq;
		return MHD_YES;
	}
	if (rq->ready)
		return m_send(rq);
	if (*upload_size != 0) {
		*upload_size = 0;	/* the body is not needed */
		return MHD_YES;
	}
	rq->ready = 1;
	if ((rq->need = route(f, method, url, &rq->r)) != 0 &&
	    rq->need > f->durable) {
		rq->parked = 1;
		rq->next = f->mparked;
		if (f->mparked)
			f->mparked->prev = rq;
		f->mparked = rq;
		f->parked++;
		MHD_suspend_connection(mc);
		return MHD_YES;
	}
	return m_send(rq);
}

static void
m_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct mreq *rq = *req_cls;

	(void)cls;
	(void)mc;
	(void)toe;
	if (rq == NULL)
		return;
	if (rq->parked)
		m_unpark(rq->f, rq);	/* cannot happen; be safe */
	free(rq);
	*req_cls = NULL;
}

/*
 * The broker identifies each peer here (src/broker/peer.c); the floor
 * only keeps the option, so that libmicrohttpd does the same work.
 */
static void
m_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)mc;
	(void)toe;
	*socket_context = NULL;
}

static void
m_release(struct floor *f)
{
	struct mreq *rq, *next;

	for (rq = f->mparked; rq != NULL; rq = next) {
		next = rq->next;
		if (rq->need <= f->durable)
			m_unpark(f, rq);
	}
}

int
m_loop(struct floor *f)
{
	const union MHD_DaemonInfo *di;
	struct epoll_event ev, evs[8];
	MHD_UNSIGNED_LONG_LONG to;
	int i, n, timeout;

	f->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_USE_TURBO, 0, NULL, NULL, m_request, f,
	    MHD_OPTION_LISTEN_SOCKET, f->lfd,
	    MHD_OPTION_NOTIFY_CONNECTION, m_connection, f,
	    MHD_OPTION_NOTIFY_COMPLETED, m_completed, f,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_MAX,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_CONN_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
	    MHD_OPTION_STRICT_FOR_CLIENT, 1,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
	    MHD_OPTION_END);
	if (f->d == NULL ||
	    (di = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_EPOLL_FD)) == NULL)
		return -1;
	f->lfd = -1;		/* libmicrohttpd owns it */
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = di->epoll_fd;
	if (epoll_ctl(f->ep, EPOLL_CTL_ADD, di->epoll_fd, &ev) != 0)
		return -1;
	while (!f->stopping) {
		timeout = -1;
		if (MHD_get_timeout(f->d, &to) == MHD_YES)
			timeout = to > 60000 ? 60000 : (int)to;
		if (f->resumed)
			timeout = 0;
		f->resumed = 0;
		if ((n = epoll_wait(f->ep, evs, 8, timeout)) < 0 &&
		    errno != EINTR)
			return -1;
		for (i = 0; i < n; i++)
			if (evs[i].data.fd == f->sigfd)
				f->stopping = 1;
			else if (f->sync && evs[i].data.fd == f->sy.done_fd) {
				sync_done(f);
				m_release(f);
			}
		(void)MHD_run(f->d);
		sync_kick(f);
	}
	return 0;
}


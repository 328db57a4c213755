/*
 * bench_http_floor --raw: no HTTP library, the lowest the socket allows.
 * One epoll loop over nonblocking accepted sockets, edge-triggered so that
 * a connection parked for the disk costs no wake-ups and no epoll_ctl;
 * just enough HTTP/1.1 is parsed (request line, Content-Length,
 * keep-alive, Connection: close) to answer bench_broker's clients.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_floor.h"

struct rconn {
	int		 fd;
	int		 parked;
	int		 eof;
	int		 drained;	/* the last read emptied the socket */
	int		 close_after;	/* Connection: close, or HTTP/1.0 */
	int		 pollout;	/* EPOLLOUT is on */
	uint64_t	 need;
	struct reply	 r;
	size_t		 inlen, outlen, outoff;
	struct rconn	*next, *prev;
	char		 in[RAW_IN_MAX];
	char		 out[RAW_OUT_MAX];
};

static void
r_format(struct rconn *c)
{
	const struct reply *r = &c->r;
	int n;

	n = snprintf(c->out, sizeof(c->out), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n%s%sContent-Length: %zu\r\n\r\n", r->status,
	    r->status == 201 ? "Created" : r->status == 200 ? "OK" :
	    "Not Found", r->ctype,
	    r->value ? "Cache-Control: no-store\r\n" : "",
	    c->close_after ? "Connection: close\r\n" : "", r->len);
	if (n <= 0 || (size_t)n + r->len > sizeof(c->out)) {
		c->close_after = 1;	/* cannot happen with these replies */
		return;
	}
	memcpy(c->out + n, r->body, r->len);
	c->outlen = (size_t)n + r->len;
	c->outoff = 0;
}

/* Write what is pending; -1 when the connection is broken. */
static int
r_flush(struct floor *f, struct rconn *c)
{
	struct epoll_event ev;
	ssize_t w;

	if (c->outlen == 0)
		return 0;
	while (c->outoff < c->outlen) {
		w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (w > 0) {
			c->outoff += (size_t)w;
		} else if (w < 0 && errno == EAGAIN) {
			/* Rare: ask for EPOLLOUT only now, so that the peer
			 * reading our replies does not wake us up. */
			if (!c->pollout) {
				ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
				ev.data.ptr = c;
				if (epoll_ctl(f->ep, EPOLL_CTL_MOD, c->fd, &ev))
					return -1;
				c->pollout = 1;
			}
			return 0;
		} else if (w < 0 && errno != EINTR) {
			return -1;
		}
	}
	c->outlen = c->outoff = 0;
	return c->close_after ? -1 : 0;
}

/* Whether the header line h (len bytes) is name and something more. */
static int
r_header_is(const char *h, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len > n && strncasecmp(h, name, n) == 0;
}

/*
 * Parse and answer the request at the head of c->in, which is left as it
 * is until the request is complete.  Returns 1 when one was answered (or
 * parked), 0 when it is not complete yet, -1 when the connection must
 * close.
 */
static int
r_request(struct floor *f, struct rconn *c)
{
	char *end, *sp1, *sp2, *rl, *h, *eol, *v, method[8], path[256];
	size_t hlen, need, clen = 0;

	if ((end = memmem(c->in, c->inlen, "\r\n\r\n", 4)) == NULL)
		return c->inlen == sizeof(c->in) ? -1 : 0;
	hlen = (size_t)(end - c->in) + 4;
	rl = memmem(c->in, hlen, "\r\n", 2);	/* end of the request line */
	if ((sp1 = memchr(c->in, ' ', (size_t)(rl - c->in))) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(rl - sp1 - 1))) == NULL ||
	    (size_t)(sp1 - c->in) >= sizeof(method) ||
	    (size_t)(sp2 - sp1 - 1) >= sizeof(path) || rl - sp2 - 1 != 8 ||
	    strncmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return -1;
	for (h = rl + 2; h < end; h = eol + 2) {
		eol = memmem(h, (size_t)(end + 2 - h), "\r\n", 2);
		if (r_header_is(h, (size_t)(eol - h), "Content-Length:")) {
			for (v = h + 15; v < eol && *v == ' '; v++)
				;
			if (v == eol)
				return -1;
			for (clen = 0; v < eol; v++) {
				if (*v < '0' || *v > '9' || clen > RAW_IN_MAX)
					return -1;
				clen = clen * 10 + (size_t)(*v - '0');
			}
		} else if (r_header_is(h, (size_t)(eol - h), "Connection:") &&
		    memmem(h, (size_t)(eol - h), "close", 5) != NULL) {
			c->close_after = 1;
		}
	}
	if ((need = hlen + clen) > sizeof(c->in))
		return -1;
	if (c->inlen < need)
		return 0;
	if (sp2[8] == '0')
		c->close_after = 1;	/* HTTP/1.0 */
	memcpy(method, c->in, (size_t)(sp1 - c->in));
	method[sp1 - c->in] = '\0';
	memcpy(path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	path[sp2 - sp1 - 1] = '\0';
	c->need = route(f, method, path, &c->r);
	memmove(c->in, c->in + need, c->inlen - need);
	c->inlen -= need;
	if (c->need != 0 && c->need > f->durable) {
		c->parked = 1;
		c->next = f->rparked;
		c->prev = NULL;
		if (f->rparked)
			f->rparked->prev = c;
		f->rparked = c;
		f->parked++;
		return 1;
	}
	r_format(c);
	return 1;
}

/* Take a parked connection off the list. */
static void
r_unpark(struct floor *f, struct rconn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		f->rparked = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	c->parked = 0;
	f->parked--;
}

static void
r_close(struct floor *f, struct rconn *c)
{
	if (c->parked)
		r_unpark(f, c);
	(void)close(c->fd);	/* leaves the epoll set too */
	free(c);
}

/*
 * Read, answer and write what can be, without blocking.  event: epoll
 * said there is something new (edge-triggered, so read until drained).
 */
static void
r_service(struct floor *f, struct rconn *c, int event)
{
	ssize_t n;
	size_t room;
	int rc;

	if (event)
		c->drained = 0;
	for (;;) {
		/* A short read means the socket was drained: no second
		 * read() just to see EAGAIN. */
		while (!c->drained && !c->eof &&
		    (room = sizeof(c->in) - c->inlen) > 0) {
			n = read(c->fd, c->in + c->inlen, room);
			if (n < 0 && errno == EINTR)
				continue;
			if (n > 0)
				c->inlen += (size_t)n;
			if (n == 0 || (n < 0 && errno != EAGAIN))
				c->eof = 1;
			else if (n < 0 || (size_t)n < room)
				c->drained = 1;
		}
		if (r_flush(f, c) != 0)
			goto close;
		rc = 0;
		while (!c->parked && c->outlen == 0 &&
		    (rc = r_request(f, c)) == 1)
			if (r_flush(f, c) != 0)
				goto close;
		if (rc < 0 || (c->eof && !c->parked && c->outlen == 0))
			goto close;
		/* Again only if a full buffer left data in the socket. */
		if (c->drained || c->eof || c->inlen == sizeof(c->in))
			return;
	}
close:
	r_close(f, c);
}

static void
r_release(struct floor *f)
{
	struct rconn *c, *next;

	for (c = f->rparked; c != NULL; c = next) {
		next = c->next;
		if (c->need > f->durable)
			continue;
		r_unpark(f, c);
		r_format(c);
		r_service(f, c, 0);
	}
}

static void
r_accept(struct floor *f)
{
	struct epoll_event ev;
	struct rconn *c;
	int fd;

	while ((fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) >= 0) {
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			(void)close(fd);
			continue;
		}
		c->fd = fd;
		ev.events = EPOLLIN | EPOLLET;
		ev.data.ptr = c;
		if (epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			(void)close(fd);
			free(c);
		}
	}
}

int
r_loop(struct floor *f)
{
	struct epoll_event ev, evs[64];
	int i, n;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &f->lfd;
	if (epoll_ctl(f->ep, EPOLL_CTL_ADD, f->lfd, &ev) != 0)
		return -1;
	while (!f->stopping) {
		if ((n = epoll_wait(f->ep, evs, 64, -1)) < 0 && errno != EINTR)
			return -1;
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == &f->sigfd)
				f->stopping = 1;
			else if (evs[i].data.ptr == &f->sy.done_fd) {
				sync_done(f);
				r_release(f);
			} else if (evs[i].data.ptr == &f->lfd)
				r_accept(f);
			else
				r_service(f, evs[i].data.ptr, 1);
		}
		sync_kick(f);
	}
	return 0;
}


/*
 * Output streams and the input relay.
 *
 * The caller's out_fd is never made non-blocking itself: O_NONBLOCK lives
 * on the open file description, which a terminal or pipe shares with the
 * shell and other processes.  Instead a pipe or terminal is opened again
 * through /proc/self/fd/N, which gives airlock a description of its own to
 * make non-blocking; a socket is written with MSG_DONTWAIT; a regular file
 * never blocks for long and is written directly.  So a reader that stops
 * reading can stall the child (as in any pipeline) but never the poll loop:
 * timeouts and signals keep working.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/exec.h"
#include "exec_int.h"

/* Filtered bytes waiting for a slow reader; past this the filter is wrong. */
#define PUMP_QUEUE_MAX	(64u << 20)

int
pump_init(struct exec_pump *p, int src, int dst, const struct exec_filter *f,
    struct al_err *err)
{
	char path[64];
	struct stat st;
	int fd;

	memset(p, 0, sizeof(*p));
	p->src = src;
	p->dst = dst;
	p->mode = DST_WRITE;
	p->filter = f;
	if (src < 0) {
		p->src_done = p->finished = 1;
		return 0;
	}
	if (fstat(dst, &st) != 0)
		return al_err_set(err, AL_EINVAL, "output descriptor %d is not "
		    "open: %s", dst, strerror(errno));
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return 0;
	if (S_ISSOCK(st.st_mode)) {
		p->mode = DST_SEND;
		return 0;
	}
	(void)snprintf(path, sizeof(path), "/proc/self/fd/%d", dst);
	fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		p->dst = fd;
		p->dst_owned = 1;
		p->mode = DST_NONBLOCK;
	}
	return 0;
}

void
pump_release(struct exec_pump *p)
{
	pump_close_src(p);
	if (p->dst_owned && p->dst >= 0)
		(void)close(p->dst);
	p->dst = -1;
	p->dst_owned = 0;
	free(p->q);
	p->q = NULL;
	p->qlen = p->qoff = p->qcap = 0;
}

void
pump_close_src(struct exec_pump *p)
{
	if (p->src >= 0 && !p->shared_src)
		(void)close(p->src);
	p->src = -1;
	p->src_done = 1;
}

int
pump_wants_read(const struct exec_pump *p)
{
	return p->src >= 0 && !p->src_done && p->qlen == 0 && !p->dst_broken;
}

/* Write what dst takes now (all of it for DST_WRITE); returns the count. */
static size_t
dst_write(struct exec_pump *p, const unsigned char *b, size_t n)
{
	struct pollfd pfd;
	size_t off = 0;
	ssize_t w;

	while (off < n) {
		if (p->mode == DST_SEND) {
			w = send(p->dst, b + off, n - off,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w < 0 && errno == ENOTSOCK) {
				p->mode = DST_WRITE;
				continue;
			}
		} else
			w = write(p->dst, b + off, n - off);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (p->mode != DST_WRITE)
				break;
			/* Someone else made the caller's fd non-blocking. */
			pfd.fd = p->dst;
			pfd.events = POLLOUT;
			(void)poll(&pfd, 1, -1);
			continue;
		}
		p->dst_broken = 1;
		break;
	}
	return off;
}

static int
queue(struct exec_pump *p, const unsigned char *b, size_t n)
{
	unsigned char *nq;
	size_t ncap;

	if (p->qoff + p->qlen + n > p->qcap && p->qoff > 0) {
		memmove(p->q, p->q + p->qoff, p->qlen);
		p->qoff = 0;
	}
	if (p->qlen + n > p->qcap) {
		if (p->qlen + n > PUMP_QUEUE_MAX)
			return AL_ETOOBIG;
		ncap = p->qcap ? p->qcap : 65536;
		while (ncap < p->qlen + n)
			ncap *= 2;
		if ((nq = realloc(p->q, ncap)) == NULL)
			return AL_ENOMEM;
		p->q = nq;
		p->qcap = ncap;
	}
	memcpy(p->q + p->qoff + p->qlen, b, n);
	p->qlen += n;
	return 0;
}

/* The emit callback handed to filters. */
static int
pump_emit(void *arg, const void *vb, size_t n)
{
	struct exec_pump *p = arg;
	const unsigned char *b = vb;
	size_t w;

	if (n == 0)
		return 0;
	if (p->dst_broken) {
		p->dropped += n;
		return 0;
	}
	if (p->qlen == 0) {
		w = dst_write(p, b, n);
		b += w;
		n -= w;
		if (p->dst_broken) {
			p->dropped += n;
			return 0;
		}
	}
	return n ? queue(p, b, n) : 0;
}

void
pump_flush(struct exec_pump *p)
{
	size_t w;

	if (p->qlen == 0)
		return;
	if (p->dst_broken) {
		p->dropped += p->qlen;
		p->qlen = p->qoff = 0;
		return;
	}
	w = dst_write(p, p->q + p->qoff, p->qlen);
	p->qoff += w;
	p->qlen -= w;
	if (p->qlen == 0)
		p->qoff = 0;
	if (p->dst_broken)
		pump_flush(p);
}

int
pump_read(struct exec_pump *p, unsigned char *buf, size_t cap)
{
	const struct exec_filter *f = p->filter;
	ssize_t n;
	int rc;

	if (p->src < 0 || p->src_done)
		return 0;
	n = read(p->src, buf, cap);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return pump_complete(p);	/* nothing more ready */
	if (n < 0 && errno == EINTR)
		return 0;
	if (n <= 0) {
		/* EOF, or EIO from a pty master whose slave is closed. */
		pump_close_src(p);
		return 0;
	}
	p->in_bytes += (size_t)n;
	p->last_read = (size_t)n;
	if (f != NULL && f->ops != NULL && f->ops->write_more != NULL &&
	    f->ops->complete != NULL && (size_t)n == cap) {
		p->deferred = 1;
		rc = f->ops->write_more(f->st, buf, (size_t)n, pump_emit, p);
	} else if (f != NULL && f->ops != NULL) {
		p->deferred = 0;
		rc = f->ops->write(f->st, buf, (size_t)n, pump_emit, p);
	} else
		rc = pump_emit(p, buf, (size_t)n);
	if (rc != 0)
		return rc;
	if (f != NULL && f->ops != NULL && f->ops->idle != NULL)
		p->idle_at = exec_now_ms() + EXEC_IDLE_FLUSH_MS;
	/* The reader went away: let the child see SIGPIPE, as in a pipe. */
	if (p->dst_broken)
		pump_close_src(p);
	return 1;
}

int
pump_complete(struct exec_pump *p)
{
	const struct exec_filter *f = p->filter;

	if (!p->deferred || p->finished)
		return 0;
	p->deferred = 0;
	return f->ops->complete(f->st, pump_emit, p);
}

int
pump_idle(struct exec_pump *p, int64_t now)
{
	const struct exec_filter *f = p->filter;
	int rc;

	if (p->idle_at == 0 || now < p->idle_at || p->finished)
		return 0;
	p->idle_at = 0;
	if ((rc = pump_complete(p)) != 0)
		return rc;
	return f->ops->idle(f->st, pump_emit, p);
}

int
pump_finish(struct exec_pump *p)
{
	const struct exec_filter *f = p->filter;
	int rc;

	if (p->finished)
		return 0;
	if ((rc = pump_complete(p)) != 0)
		return rc;
	p->finished = 1;
	if (f != NULL && f->ops != NULL && f->ops->finish != NULL)
		return f->ops->finish(f->st, pump_emit, p);
	return 0;
}

/* ---- input relay -------------------------------------------------------- */

void
relay_init(struct exec_relay *r, int src, int dst, int pty)
{
	memset(r, 0, sizeof(*r));
	r->src = src;
	r->dst = dst;
	r->pty = pty;
	r->last = '\n';
	if (src < 0)
		r->src_done = 1;
}

int
relay_wants_read(const struct exec_relay *r)
{
	return r->src >= 0 && !r->src_done && r->len == 0 && r->dst >= 0;
}

int
relay_wants_write(const struct exec_relay *r)
{
	return r->len > 0 && r->dst >= 0;
}

/* Input ended and everything was passed on: tell the child. */
static void
relay_eof(struct exec_relay *r)
{
	if (r->pty) {
		if (r->dst >= 0)
			pty_send_eof(r->dst, r->last != '\n');
		r->dst = -1;
	} else if (r->dst >= 0) {
		(void)close(r->dst);
		r->dst = -1;
	}
}

void
relay_read(struct exec_relay *r)
{
	ssize_t n;

	n = read(r->src, r->buf, sizeof(r->buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		r->src_done = 1;
		relay_eof(r);
		return;
	}
	r->len = (size_t)n;
	r->off = 0;
}

void
relay_write(struct exec_relay *r)
{
	ssize_t w;

	w = write(r->dst, r->buf + r->off, r->len - r->off);
	if (w < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (w < 0) {
		/* The child closed its input: what it did not read is dropped. */
		r->len = r->off = 0;
		r->src_done = 1;
		relay_eof(r);
		return;
	}
	r->off += (size_t)w;
	if (r->off == r->len) {
		r->last = r->buf[r->len - 1];
		r->len = r->off = 0;
		if (r->src_done)
			relay_eof(r);
	}
}

void
relay_stop(struct exec_relay *r)
{
	if (!r->pty && r->dst >= 0)
		(void)close(r->dst);
	r->dst = -1;
	r->src_done = 1;
	r->len = r->off = 0;
}

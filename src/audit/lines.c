/*
 * A line reader over a descriptor or a memory buffer.  Lines longer than
 * AUDIT_LINE_MAX are reported as such (and skipped) rather than buffered, so
 * a damaged or hostile log cannot make a reader grow without bound.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_int.h"

#define BUF_CAP	(2 * AUDIT_LINE_MAX)

void
audit_lines_init_fd(struct audit_lines *r, int fd, uint64_t off)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->bufoff = off;
	r->readoff = off;
}

void
audit_lines_init_mem(struct audit_lines *r, const void *p, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->mem = p;
	r->memlen = n;
}

void
audit_lines_release(struct audit_lines *r)
{
	free(r->buf);
	r->buf = NULL;
}

static int
next_mem(struct audit_lines *r, struct audit_linev *v)
{
	const unsigned char *p, *nl;
	size_t left;

	if (r->start >= r->memlen)
		return 0;
	p = r->mem + r->start;
	left = r->memlen - r->start;
	nl = memchr(p, '\n', left);
	v->off = r->start;
	v->complete = nl != NULL;
	v->n = nl ? (size_t)(nl - p) : left;
	v->p = p;
	v->toolong = v->n + (nl != NULL) > AUDIT_LINE_MAX;
	if (v->toolong)
		v->p = NULL;
	r->start += v->n + (nl != NULL);
	return 1;
}

/* Read more bytes after r->end; 0 at end of file. */
static int
fill(struct audit_lines *r, struct al_err *err)
{
	ssize_t got;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->bufoff += r->start;
		r->start = 0;
	}
	for (;;) {
		got = pread(r->fd, r->buf + r->end, BUF_CAP - r->end,
		    (off_t)r->readoff);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return al_err_set(err, AL_ESYS, "cannot read the audit "
			    "log: %s", strerror(errno));
		break;
	}
	r->end += (size_t)got;
	r->readoff += (uint64_t)got;
	if (got == 0)
		r->eof = 1;
	return got > 0;
}

int
audit_lines_next(struct audit_lines *r, struct audit_linev *v,
    struct al_err *err)
{
	unsigned char *nl;
	size_t skipped = 0;
	int rc = 0;

	memset(v, 0, sizeof(*v));
	if (r->fd < 0)
		return next_mem(r, v);
	if (r->buf == NULL && (r->buf = malloc(BUF_CAP)) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	for (;;) {
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl != NULL) {
			v->off = r->bufoff + r->start - skipped;
			v->n = (size_t)(nl - (r->buf + r->start)) + skipped;
			v->complete = 1;
			v->toolong = v->n + 1 > AUDIT_LINE_MAX;
			v->p = v->toolong ? NULL : r->buf + r->start;
			r->start = (size_t)(nl - r->buf) + 1;
			return 1;
		}
		if (r->end - r->start >= AUDIT_LINE_MAX) {
			/* Too long: drop what we have, keep counting. */
			skipped += r->end - r->start;
			r->bufoff += r->end;
			r->start = r->end = 0;
		}
		if (r->eof || (rc = fill(r, err)) == 0) {
			if (r->end == r->start && skipped == 0)
				return 0;
			v->off = r->bufoff + r->start - skipped;
			v->n = r->end - r->start + skipped;
			v->toolong = v->n > AUDIT_LINE_MAX;
			v->p = v->toolong ? NULL : r->buf + r->start;
			r->start = r->end;
			return 1;
		}
		if (rc < 0)
			return rc;
	}
}

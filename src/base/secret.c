/*
 * Secret values in libsodium guarded memory.  The bytes are PROT_NONE except
 * while a caller has them open, so a stray read (or a heap overflow elsewhere)
 * faults instead of leaking, and sodium_free wipes them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/base.h"

struct al_secret {
	unsigned char	*p;
	size_t		 len;
	size_t		 cap;
};

int
al_secret_new(size_t cap, struct al_secret **out)
{
	struct al_secret *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return AL_ENOMEM;
	s->cap = cap;
	/* sodium_malloc(0) is legal but returns a pointer we cannot write. */
	if ((s->p = sodium_malloc(cap ? cap : 1)) == NULL) {
		free(s);
		return AL_ENOMEM;
	}
	*out = s;
	return 0;
}

void
al_secret_free(struct al_secret *s)
{
	if (s == NULL)
		return;
	(void)sodium_mprotect_readwrite(s->p);
	sodium_free(s->p);
	free(s);
}

unsigned char *
al_secret_open(struct al_secret *s)
{
	(void)sodium_mprotect_readwrite(s->p);
	return s->p;
}

void
al_secret_close(struct al_secret *s)
{
	(void)sodium_mprotect_noaccess(s->p);
}

size_t
al_secret_len(const struct al_secret *s)
{
	return s->len;
}

size_t
al_secret_cap(const struct al_secret *s)
{
	return s->cap;
}

void
al_secret_set_len(struct al_secret *s, size_t len)
{
	s->len = len <= s->cap ? len : s->cap;
}

int
al_secret_from(const void *p, size_t n, struct al_secret **out)
{
	struct al_secret *s;
	int rc;

	*out = NULL;
	if ((rc = al_secret_new(n, &s)) != 0)
		return rc;
	if (n)
		memcpy(s->p, p, n);
	s->len = n;
	al_secret_close(s);
	*out = s;
	return 0;
}

int
al_secret_read_fd(int fd, size_t max, struct al_secret **out,
    struct al_err *err)
{
	struct al_secret *s = NULL;
	unsigned char sink[4096];
	ssize_t r;
	int rc;

	*out = NULL;
	/* One byte more than max tells "exactly max" from "too big". */
	if ((rc = al_secret_new(max + 1, &s)) != 0)
		return al_err_set(err, rc, "cannot allocate guarded memory");
	for (;;) {
		if (s->len == s->cap) {
			/* Drain the rest so a writer on a pipe is not blocked. */
			while ((r = read(fd, sink, sizeof(sink))) > 0 ||
			    (r < 0 && errno == EINTR))
				;
			sodium_memzero(sink, sizeof(sink));
			rc = al_err_set(err, AL_ETOOBIG,
			    "value is larger than %zu bytes", max);
			goto out;
		}
		r = read(fd, s->p + s->len, s->cap - s->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = al_err_set(err, AL_EIO, "cannot read value: %s",
			    strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		s->len += (size_t)r;
	}
	al_secret_close(s);
	*out = s;
	s = NULL;
	rc = 0;
out:
	al_secret_free(s);
	return rc;
}

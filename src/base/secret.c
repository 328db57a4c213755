/*
 * Secret values in libsodium guarded memory.  The bytes are PROT_NONE except
 * while a caller has them open, so a stray read (or a heap overflow elsewhere)
 * faults instead of leaking, and sodium_free wipes them.
 *
 * A pool keeps guarded blocks of one size for short-lived values on a hot
 * path: a block is wiped when its secret is freed and lent again, so taking
 * and returning one changes no mapping (on a virtual machine each mprotect
 * or munmap is a TLB shootdown across CPUs, the broker's main cost).  Pooled
 * secrets stay readable for their short life; open and close do not toggle.
 * A pool may be shared between threads (the broker's loop takes values, a
 * proxy's thread gives them back): its own mutex guards it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/base.h"

struct al_secret {
	unsigned char		*p;
	size_t			 len;
	size_t			 cap;
	struct al_secret_pool	*pool;		/* lent by this pool, or NULL */
	int			 readable;	/* open: skip a second mprotect */
};

struct al_secret_pool {
	size_t		  block;	/* capacity of every block */
	size_t		  keep;		/* at most this many idle blocks */
	size_t		  nidle;
	size_t		  lent;		/* secrets out on loan */
	int		  closed;	/* al_secret_pool_free was called */
	unsigned char	**idle;		/* wiped blocks, readable */
	pthread_mutex_t	  mu;		/* guards all of the above */
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
	s->readable = 1;
	*out = s;
	return 0;
}

static void
pool_destroy(struct al_secret_pool *pool)
{
	size_t i;

	for (i = 0; i < pool->nidle; i++)
		sodium_free(pool->idle[i]);
	free(pool->idle);
	(void)pthread_mutex_destroy(&pool->mu);
	free(pool);
}

/* Take a pooled secret back: wipe its block and keep it, or free it. */
static void
pool_return(struct al_secret *s)
{
	struct al_secret_pool *pool = s->pool;
	int gone;

	sodium_memzero(s->p, pool->block);
	(void)pthread_mutex_lock(&pool->mu);
	pool->lent--;
	if (!pool->closed && pool->nidle < pool->keep) {
		pool->idle[pool->nidle++] = s->p;
		s->p = NULL;
	}
	gone = pool->closed && pool->lent == 0;
	(void)pthread_mutex_unlock(&pool->mu);
	if (s->p != NULL)
		sodium_free(s->p);
	if (gone)
		pool_destroy(pool);
}

void
al_secret_free(struct al_secret *s)
{
	if (s == NULL)
		return;
	if (s->pool != NULL)
		pool_return(s);
	else {
		(void)sodium_mprotect_readwrite(s->p);
		sodium_free(s->p);
	}
	free(s);
}

unsigned char *
al_secret_open(struct al_secret *s)
{
	if (s->pool == NULL && !s->readable &&
	    sodium_mprotect_readwrite(s->p) == 0)
		s->readable = 1;
	return s->p;
}

void
al_secret_close(struct al_secret *s)
{
	if (s->pool == NULL && s->readable &&
	    sodium_mprotect_noaccess(s->p) == 0)
		s->readable = 0;
}

int
al_secret_pool_new(size_t block, size_t keep, struct al_secret_pool **out)
{
	struct al_secret_pool *pool;

	*out = NULL;
	if (block == 0 || keep == 0)
		return AL_EINVAL;
	if ((pool = calloc(1, sizeof(*pool))) == NULL)
		return AL_ENOMEM;
	if ((pool->idle = calloc(keep, sizeof(*pool->idle))) == NULL) {
		free(pool);
		return AL_ENOMEM;
	}
	if (pthread_mutex_init(&pool->mu, NULL) != 0) {
		free(pool->idle);
		free(pool);
		return AL_ENOMEM;
	}
	pool->block = block;
	pool->keep = keep;
	*out = pool;
	return 0;
}

void
al_secret_pool_free(struct al_secret_pool *pool)
{
	int gone;

	if (pool == NULL)
		return;
	(void)pthread_mutex_lock(&pool->mu);
	pool->closed = 1;
	gone = pool->lent == 0;
	(void)pthread_mutex_unlock(&pool->mu);
	if (gone)
		pool_destroy(pool);
}

int
al_secret_pool_take(struct al_secret_pool *pool, size_t cap,
    struct al_secret **out)
{
	struct al_secret *s;

	*out = NULL;
	if (pool == NULL || cap > pool->block)
		return al_secret_new(cap, out);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return AL_ENOMEM;
	(void)pthread_mutex_lock(&pool->mu);
	if (pool->nidle > 0)
		s->p = pool->idle[--pool->nidle];
	pool->lent++;
	(void)pthread_mutex_unlock(&pool->mu);
	if (s->p == NULL && (s->p = sodium_malloc(pool->block)) == NULL) {
		(void)pthread_mutex_lock(&pool->mu);
		pool->lent--;
		(void)pthread_mutex_unlock(&pool->mu);
		free(s);
		return AL_ENOMEM;
	}
	s->cap = cap;
	s->pool = pool;
	*out = s;
	return 0;
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

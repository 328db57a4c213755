/*
 * Cache of executable hashes.  An entry is valid for as long as the file
 * keeps its device, inode, size, mtime and ctime; any write changes ctime,
 * which no user can set back, so a modified executable is hashed again.
 */
#include <stdlib.h>
#include <string.h>

#include "identity_int.h"

struct cache_entry {
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	mtime;
	struct timespec	ctime;
	uint64_t	used;
	char		hex[IDENT_SHA256_HEX];
};

struct ident_cache {
	struct cache_entry	*e;
	size_t			 n;
	size_t			 max;
	uint64_t		 tick;
};

int
ident_cache_new(size_t max_entries, struct ident_cache **out)
{
	struct ident_cache *c;

	*out = NULL;
	if (max_entries == 0 || max_entries > 4096)
		return AL_EINVAL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->e = calloc(max_entries, sizeof(*c->e))) == NULL) {
		free(c);
		return AL_ENOMEM;
	}
	c->max = max_entries;
	*out = c;
	return 0;
}

void
ident_cache_free(struct ident_cache *c)
{
	if (c == NULL)
		return;
	free(c->e);
	free(c);
}

static int
same_file(const struct cache_entry *e, const struct stat *st)
{
	return e->dev == st->st_dev && e->ino == st->st_ino &&
	    e->size == st->st_size &&
	    e->mtime.tv_sec == st->st_mtim.tv_sec &&
	    e->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	    e->ctime.tv_sec == st->st_ctim.tv_sec &&
	    e->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

const char *
ident_cache_get(struct ident_cache *c, const struct stat *st)
{
	size_t i;

	if (c == NULL)
		return NULL;
	for (i = 0; i < c->n; i++)
		if (same_file(&c->e[i], st)) {
			c->e[i].used = ++c->tick;
			return c->e[i].hex;
		}
	return NULL;
}

void
ident_cache_put(struct ident_cache *c, const struct stat *st,
    const char hex[IDENT_SHA256_HEX])
{
	struct cache_entry *e;
	size_t i, victim = 0;

	if (c == NULL)
		return;
	if (c->n < c->max)
		victim = c->n++;
	else
		for (i = 1; i < c->n; i++)
			if (c->e[i].used < c->e[victim].used)
				victim = i;
	e = &c->e[victim];
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
	e->ctime = st->st_ctim;
	e->used = ++c->tick;
	memcpy(e->hex, hex, IDENT_SHA256_HEX);
}

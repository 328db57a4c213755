/* A sweep's results: hits, problems, counters, and their order. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_int.h"

int
sweep_new(const struct redact *r, int flags, struct sweep **out,
    struct al_err *err)
{
	struct sweep *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	s->r = r;
	s->flags = flags;
	*out = s;
	return 0;
}

void
sweep_free(struct sweep *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nprobs; i++)
		free(s->probs[i].what);
	for (i = 0; i < s->npaths; i++)
		free(s->paths[i]);
	free(s->probs);
	free(s->paths);
	free(s->hits);
	free(s);
}

const char *
sweep_keep_path(struct sweep *s, const char *path)
{
	char **np, *p;
	size_t cap;

	if (s->npaths > 0 && strcmp(s->paths[s->npaths - 1], path) == 0)
		return s->paths[s->npaths - 1];
	if (s->npaths == s->cappaths) {
		cap = s->cappaths ? s->cappaths * 2 : 16;
		if ((np = realloc(s->paths, cap * sizeof(*np))) == NULL)
			return NULL;
		s->paths = np;
		s->cappaths = cap;
	}
	if ((p = strdup(path)) == NULL)
		return NULL;
	s->paths[s->npaths++] = p;
	return p;
}

int
sweep_problemf(struct sweep *s, const char *path, int error,
    const char *fmt, ...)
{
	struct sweep_problem *np;
	va_list ap;
	size_t cap;
	char *what;
	int n;

	if (s->nprobs == s->capprobs) {
		cap = s->capprobs ? s->capprobs * 2 : 8;
		if ((np = realloc(s->probs, cap * sizeof(*np))) == NULL)
			return AL_ENOMEM;
		s->probs = np;
		s->capprobs = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (n < 0)
		return AL_ENOMEM;
	if ((s->probs[s->nprobs].path = sweep_keep_path(s, path)) == NULL) {
		free(what);
		return AL_ENOMEM;
	}
	s->probs[s->nprobs].what = what;
	s->probs[s->nprobs].error = error;
	s->nprobs++;
	return 0;
}

int
sweep_add_problem(struct sweep *s, const char *path, int error,
    const char *what, struct al_err *err)
{
	if (sweep_problemf(s, path, error, "%s", what) != 0)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	return 0;
}

int
sweep_hit_add(struct sweep *s, const struct sweep_hit *h)
{
	struct sweep_hit *nh;
	size_t cap;

	if (s->nhits == s->caphits) {
		cap = s->caphits ? s->caphits * 2 : 16;
		if ((nh = realloc(s->hits, cap * sizeof(*nh))) == NULL)
			return AL_ENOMEM;
		s->hits = nh;
		s->caphits = cap;
	}
	s->hits[s->nhits++] = *h;
	return 0;
}

int
sweep_add_hit(struct sweep *s, const struct sweep_hit *h, struct al_err *err)
{
	struct sweep_hit c = *h;

	if ((c.path = sweep_keep_path(s, h->path)) == NULL ||
	    sweep_hit_add(s, &c) != 0)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	return 0;
}

static int
hit_cmp(const void *a, const void *b)
{
	const struct sweep_hit *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c != 0)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->col < y->col ? -1 : x->col > y->col;
}

static int
prob_cmp(const void *a, const void *b)
{
	const struct sweep_problem *x = a, *y = b;

	return strcmp(x->path, y->path);
}

void
sweep_sort(struct sweep *s)
{
	if (s->nhits > 1)
		qsort(s->hits, s->nhits, sizeof(*s->hits), hit_cmp);
	if (s->nprobs > 1)
		qsort(s->probs, s->nprobs, sizeof(*s->probs), prob_cmp);
}

void
sweep_on_searched(struct sweep *s, void (*fn)(void *arg, const char *path),
    void *arg)
{
	s->on_searched = fn;
	s->on_searched_arg = arg;
}

const struct sweep_hit *
sweep_hits(const struct sweep *s, size_t *n)
{
	*n = s->nhits;
	return s->hits;
}

const struct sweep_problem *
sweep_problems(const struct sweep *s, size_t *n)
{
	*n = s->nprobs;
	return s->probs;
}

uint64_t sweep_files(const struct sweep *s) { return s->files; }
uint64_t sweep_bytes(const struct sweep *s) { return s->bytes; }
uint64_t sweep_fixed(const struct sweep *s) { return s->fixed; }

int
sweep_errors(const struct sweep *s)
{
	size_t i;
	int n = 0;

	for (i = 0; i < s->nprobs; i++)
		n += s->probs[i].error != 0;
	return n;
}

/*
 * A unified diff of a planned change, for --dry-run.  Configuration files
 * are small, so a plain longest-common-subsequence table over lines is
 * enough (and is bounded: past AGENT_DIFF_MAX_LINES a summary is printed).
 */
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"

#define AGENT_DIFF_MAX_LINES	4000
#define CONTEXT			3

struct lines {
	const char	**p;
	size_t		 *len;
	size_t		  n;
};

static int
split(const char *text, struct lines *l)
{
	const char *s, *nl;
	size_t cap = 16;

	memset(l, 0, sizeof(*l));
	if (text == NULL)
		return 0;
	if ((l->p = calloc(cap, sizeof(*l->p))) == NULL ||
	    (l->len = calloc(cap, sizeof(*l->len))) == NULL)
		return AL_ENOMEM;
	for (s = text; *s != '\0'; s = nl + 1) {
		if (l->n == cap) {
			const char **np;
			size_t *nlen;

			cap *= 2;
			if ((np = reallocarray(l->p, cap, sizeof(*np))) == NULL)
				return AL_ENOMEM;
			l->p = np;
			if ((nlen = reallocarray(l->len, cap, sizeof(*nlen))) ==
			    NULL)
				return AL_ENOMEM;
			l->len = nlen;
		}
		nl = strchr(s, '\n');
		l->p[l->n] = s;
		l->len[l->n] = nl != NULL ? (size_t)(nl - s) : strlen(s);
		l->n++;
		if (nl == NULL)
			break;
	}
	return 0;
}

static void
lines_free(struct lines *l)
{
	free(l->p);
	free(l->len);
}

static int
same(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
	return a->len[i] == b->len[j] &&
	    memcmp(a->p[i], b->p[j], a->len[i]) == 0;
}

enum op { OP_KEEP, OP_DEL, OP_ADD };

struct edit {
	enum op	op;
	size_t	i, j;	/* line indexes in a and b */
};

static int
emit_line(struct al_buf *out, char mark, const char *p, size_t n)
{
	int rc;

	if ((rc = al_buf_putc(out, mark)) != 0 ||
	    (rc = al_buf_append(out, p, n)) != 0)
		return rc;
	return al_buf_putc(out, '\n');
}

static int
emit_hunks(const struct lines *a, const struct lines *b,
    const struct edit *e, size_t ne, struct al_buf *out)
{
	size_t k = 0, start, end, x, ai, bi, an, bn;
	int rc;

	while (k < ne) {
		while (k < ne && e[k].op == OP_KEEP)
			k++;
		if (k == ne)
			break;
		start = k > CONTEXT ? k - CONTEXT : 0;
		/* Extend while changes are within 2*CONTEXT of each other. */
		end = k;
		for (x = k; x < ne; x++) {
			if (e[x].op != OP_KEEP)
				end = x;
			else if (x - end > 2 * CONTEXT)
				break;
		}
		end = end + CONTEXT + 1 < ne ? end + CONTEXT + 1 : ne;
		ai = e[start].i;
		bi = e[start].j;
		for (an = bn = 0, x = start; x < end; x++) {
			an += e[x].op != OP_ADD;
			bn += e[x].op != OP_DEL;
		}
		if ((rc = al_buf_printf(out, "@@ -%zu,%zu +%zu,%zu @@\n",
		    an ? ai + 1 : ai, an, bn ? bi + 1 : bi, bn)) != 0)
			return rc;
		for (x = start; x < end; x++) {
			if (e[x].op == OP_KEEP)
				rc = emit_line(out, ' ', a->p[e[x].i],
				    a->len[e[x].i]);
			else if (e[x].op == OP_DEL)
				rc = emit_line(out, '-', a->p[e[x].i],
				    a->len[e[x].i]);
			else
				rc = emit_line(out, '+', b->p[e[x].j],
				    b->len[e[x].j]);
			if (rc != 0)
				return rc;
		}
		k = end;
	}
	return 0;
}

int
agent_diff(const struct agent_change *c, struct al_buf *out)
{
	struct lines a, b;
	struct edit *e = NULL;
	unsigned int *t = NULL;
	size_t i, j, ne = 0, w;
	int rc;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (!c->changed)
		return 0;
	if ((rc = split(c->old_text, &a)) != 0 ||
	    (rc = split(c->new_text, &b)) != 0)
		goto out;
	/* As diff -u names two files: the same absolute path on both sides. */
	if ((rc = al_buf_printf(out, "--- %s\n+++ %s\n", c->old_text ?
	    c->path : "/dev/null", c->path)) != 0)
		goto out;
	if (a.n > AGENT_DIFF_MAX_LINES || b.n > AGENT_DIFF_MAX_LINES) {
		rc = al_buf_printf(out, "(%zu lines become %zu lines; too long "
		    "to show)\n", a.n, b.n);
		goto out;
	}
	/* t[i][j]: length of the LCS of a[i..] and b[j..]. */
	w = b.n + 1;
	if ((t = calloc((a.n + 1) * w, sizeof(*t))) == NULL ||
	    (e = calloc(a.n + b.n + 1, sizeof(*e))) == NULL) {
		rc = AL_ENOMEM;
		goto out;
	}
	for (i = a.n; i-- > 0;)
		for (j = b.n; j-- > 0;)
			t[i * w + j] = same(&a, i, &b, j) ?
			    t[(i + 1) * w + j + 1] + 1 :
			    (t[(i + 1) * w + j] > t[i * w + j + 1] ?
			    t[(i + 1) * w + j] : t[i * w + j + 1]);
	for (i = j = 0; i < a.n || j < b.n;) {
		if (i < a.n && j < b.n && same(&a, i, &b, j)) {
			e[ne++] = (struct edit){ OP_KEEP, i++, j++ };
		} else if (i < a.n && (j == b.n ||
		    t[(i + 1) * w + j] >= t[i * w + j + 1])) {
			e[ne++] = (struct edit){ OP_DEL, i++, j };
		} else {
			e[ne++] = (struct edit){ OP_ADD, i, j++ };
		}
	}
	rc = emit_hunks(&a, &b, e, ne, out);
out:
	free(t);
	free(e);
	lines_free(&a);
	lines_free(&b);
	return rc;
}

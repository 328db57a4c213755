/*
 * The lines a unified diff adds (`git diff --cached -U0`): only they are
 * searched, kept contiguous within the diff so a value wrapped over added
 * lines is still one match; a line map turns stream offsets back into the
 * file and line each mask started in.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/redact.h"
#include "sweep_int.h"

#define DIFF_BUF	(1024 * 1024)
#define HEAD_MAX	4096	/* longest header line kept */

struct dline {
	uint64_t	off;		/* first byte fed for it */
	uint32_t	line;		/* in the new file */
	uint32_t	file;		/* index into files */
};

struct dpass {
	struct dline	*l;
	size_t		 nl, capl;
	char		**files;
	size_t		 nf, capf;
	struct sweep_marks marks;	/* values only */
	int		 oom;
	char		*head;		/* guarded: a header line so far */
	size_t		 headlen;
	int		 at_start;	/* the next byte starts a line */
	int		 added;		/* the current line is an added one */
	int		 in_hunk;
	uint32_t	 next;		/* the next added line's number */
	uint64_t	 fed;		/* bytes fed to the stream */
};

/* "+++ b/path" (a name with a space ends in a tab) or "+++ \"b/...\"". */
static void
new_file(struct dpass *p, const char *t, size_t k)
{
	char **nf;
	size_t cap;

	if (k > 2 && memcmp(t, "b/", 2) == 0) {
		t += 2;
		k -= 2;
		if (k > 0 && t[k - 1] == '\t')
			k--;
	}
	if (p->nf == p->capf) {
		cap = p->capf ? p->capf * 2 : 16;
		if ((nf = realloc(p->files, cap * sizeof(*nf))) == NULL) {
			p->oom = 1;
			return;
		}
		p->files = nf;
		p->capf = cap;
	}
	if ((p->files[p->nf] = strndup(t, k)) == NULL) {
		p->oom = 1;
		return;
	}
	p->nf++;
}

/* A whole line that is not an added one: a header, or nothing to us. */
static void
head_done(struct dpass *p)
{
	const char *t = p->head, *plus;
	size_t k = p->headlen;

	if (k >= 11 && memcmp(t, "diff --git ", 11) == 0)
		p->in_hunk = 0;
	else if (!p->in_hunk && k > 4 && memcmp(t, "+++ ", 4) == 0)
		new_file(p, t + 4, k - 4);
	else if (k >= 3 && memcmp(t, "@@ ", 3) == 0) {
		p->in_hunk = 1;
		p->head[k < HEAD_MAX ? k : HEAD_MAX - 1] = '\0';
		plus = strstr(t, " +");
		p->next = plus ? (uint32_t)strtoul(plus + 2, NULL, 10) : 0;
	}
}

static int
line_start(struct dpass *p)
{
	struct dline *nl;
	size_t cap;

	if (p->nl == p->capl) {
		cap = p->capl ? p->capl * 2 : 256;
		if ((nl = realloc(p->l, cap * sizeof(*nl))) == NULL)
			return AL_ENOMEM;
		p->l = nl;
		p->capl = cap;
	}
	p->l[p->nl].off = p->fed;
	p->l[p->nl].line = p->next++;
	p->l[p->nl].file = p->nf > 0 ? (uint32_t)(p->nf - 1) : UINT32_MAX;
	p->nl++;
	return 0;
}

/* Feed the added lines' text of b[0, n) to rs (without the leading '+'). */
static int
feed(struct dpass *p, struct redact_stream *rs, const unsigned char *b,
    size_t n)
{
	const unsigned char *nl;
	size_t k, take;
	int rc;

	while (n > 0) {
		if (p->at_start) {
			p->at_start = 0;
			p->headlen = 0;
			p->added = p->in_hunk && p->nf > 0 && b[0] == '+';
			if (p->added) {
				if (line_start(p) != 0)
					return AL_ENOMEM;
				b++;
				n--;
				continue;
			}
		}
		nl = memchr(b, '\n', n);
		k = nl ? (size_t)(nl - b) + 1 : n;
		if (p->added) {
			if ((rc = redact_stream_write(rs, b, k, sweep_discard,
			    NULL)) != 0)
				return rc;
			p->fed += k;
		} else {
			take = (nl ? k - 1 : k);
			if (take > HEAD_MAX - 1 - p->headlen)
				take = HEAD_MAX - 1 - p->headlen;
			memcpy(p->head + p->headlen, b, take);
			p->headlen += take;
			if (nl)
				head_done(p);
		}
		if (nl)
			p->at_start = 1;
		b += k;
		n -= k;
	}
	return 0;
}

/* The added line holding stream offset off (the last starting at or before). */
static const struct dline *
line_of(const struct dpass *p, uint64_t off)
{
	size_t lo = 0, hi = p->nl;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->l[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return p->nl > 0 ? &p->l[lo] : NULL;
}

static int
diff_chunk(void *arg, struct redact_stream *rs, const unsigned char *b,
    size_t n, uint64_t off)
{
	(void)off;
	return feed(arg, rs, b, n);
}

int
sweep_diff(struct sweep *s, int fd, const char *label, struct al_err *err)
{
	struct dpass p;
	struct sweep_hit h;
	const struct dline *dl;
	unsigned char *buf = NULL;
	uint64_t total = 0;
	size_t i;
	int rc, unread;

	memset(&p, 0, sizeof(p));
	p.marks.values_only = 1;
	p.at_start = 1;
	if ((buf = sodium_malloc(DIFF_BUF)) == NULL ||
	    (p.head = sodium_malloc(HEAD_MAX)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = sweep_pass(s, fd, label, buf, DIFF_BUF, &p.marks,
	    diff_chunk, &p, &total, &unread, err)) != 0 || unread)
		goto out;
	if (p.oom || p.marks.oom) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	s->files += p.nf;
	s->bytes += total;
	for (i = 0; i < p.marks.n; i++) {
		memset(&h, 0, sizeof(h));
		dl = line_of(&p, p.marks.v[i].s);
		h.path = dl != NULL && dl->file < p.nf ? p.files[dl->file] :
		    label;
		h.line = dl != NULL ? dl->line : 0;
		h.col = dl != NULL ? (uint32_t)(p.marks.v[i].s - dl->off) + 1 :
		    0;
		h.kind = SWEEP_HIT_VALUE;
		memcpy(h.name, p.marks.v[i].name, sizeof(h.name));
		if ((rc = sweep_add_hit(s, &h, err)) != 0)
			goto out;
	}
out:
	for (i = 0; i < p.nf; i++)
		free(p.files[i]);
	free(p.files);
	free(p.l);
	free(p.marks.v);
	sodium_free(p.head);
	sodium_free(buf);
	return rc;
}

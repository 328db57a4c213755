/*
 * A stream that cannot be rewritten: `git log -p` output.  Each mask is
 * reported under the commit and file it appeared in, read from the
 * stream's own "commit <id>" and "+++ b/<path>" lines.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/redact.h"
#include "sweep_int.h"

#define STREAM_BUF	(1024 * 1024)
#define MARK_MAX	512	/* longest marker line kept */

struct mark {
	uint64_t	 off;
	char		*text;		/* "commit 0123abcd..." or a path */
	int		 commit;
};

struct spass {
	struct mark	*m;
	size_t		 n, cap;
	struct sweep_marks marks;	/* values only */
	int		 oom;
	unsigned char	*line;		/* guarded: the current line's start */
	size_t		 linelen;
	uint64_t	 line_off;
	int		 in_line;	/* past MARK_MAX: not a marker */
};

/* A complete line [0, linelen) at line_off: keep it if it is a marker. */
static void
line_done(struct spass *p)
{
	struct mark *nm;
	size_t cap, k = p->linelen;
	const char *t = (const char *)p->line;
	int commit;

	if (k > 7 && memcmp(t, "commit ", 7) == 0)
		commit = 1;
	else if (k > 6 && memcmp(t, "+++ b/", 6) == 0)
		commit = 0;
	else
		return;
	if (p->n == p->cap) {
		cap = p->cap ? p->cap * 2 : 64;
		if ((nm = realloc(p->m, cap * sizeof(*nm))) == NULL) {
			p->oom = 1;
			return;
		}
		p->m = nm;
		p->cap = cap;
	}
	t += commit ? 7 : 6;
	k -= commit ? 7 : 6;
	if ((p->m[p->n].text = strndup(t, commit && k > 12 ? 12 : k)) ==
	    NULL) {
		p->oom = 1;
		return;
	}
	p->m[p->n].off = p->line_off;
	p->m[p->n].commit = commit;
	p->n++;
}

static void
scan_lines(struct spass *p, const unsigned char *b, size_t n, uint64_t off)
{
	const unsigned char *nl;
	size_t k, take;

	while (n > 0) {
		nl = memchr(b, '\n', n);
		k = nl ? (size_t)(nl - b) : n;
		if (!p->in_line) {
			take = k < MARK_MAX - p->linelen ? k :
			    MARK_MAX - p->linelen;
			memcpy(p->line + p->linelen, b, take);
			p->linelen += take;
			if (p->linelen == MARK_MAX)
				p->in_line = 1;	/* too long to be a marker */
		}
		if (nl == NULL)
			return;
		if (!p->in_line)
			line_done(p);
		p->linelen = 0;
		p->in_line = 0;
		p->line_off = off + k + 1;
		b += k + 1;
		n -= k + 1;
		off += k + 1;
	}
}

/* A piece of the stream: its markers noted, then all of it redacted. */
static int
stream_chunk(void *arg, struct redact_stream *rs, const unsigned char *b,
    size_t n, uint64_t off)
{
	scan_lines(arg, b, n, off);
	return redact_stream_write(rs, b, n, sweep_discard, NULL);
}

int
sweep_stream(struct sweep *s, int fd, const char *label, struct al_err *err)
{
	struct spass p;
	struct sweep_hit h;
	unsigned char *buf = NULL;
	const char *commit, *file;
	char where[1024];
	uint64_t total = 0;
	size_t i, k;
	int rc, unread;

	memset(&p, 0, sizeof(p));
	p.marks.values_only = 1;
	if ((buf = sodium_malloc(STREAM_BUF)) == NULL ||
	    (p.line = sodium_malloc(MARK_MAX)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = sweep_pass(s, fd, label, buf, STREAM_BUF, &p.marks,
	    stream_chunk, &p, &total, &unread, err)) != 0 || unread)
		goto out;
	if (p.oom || p.marks.oom) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	s->files++;
	s->bytes += total;
	/* Masks and markers are both in stream order: one walk. */
	commit = file = "";
	for (i = k = 0; i < p.marks.n; i++) {
		for (; k < p.n && p.m[k].off <= p.marks.v[i].s; k++) {
			if (p.m[k].commit) {
				commit = p.m[k].text;
				file = "";
			} else
				file = p.m[k].text;
		}
		memset(&h, 0, sizeof(h));
		(void)snprintf(where, sizeof(where), "%s@%s:%s", label, commit,
		    file);
		h.path = where;
		h.kind = p.marks.v[i].kind;
		memcpy(h.name, p.marks.v[i].name, sizeof(h.name));
		if ((rc = sweep_add_hit(s, &h, err)) != 0 ||
		    (rc = sweep_add_problem(s, where, 0, "in git history: "
		    "cannot be rewritten; rotate the secret (rewriting history "
		    "does not undo a push or a clone)", err)) != 0)
			goto out;
	}
out:
	for (i = 0; i < p.n; i++)
		free(p.m[i].text);
	free(p.m);
	free(p.marks.v);
	sodium_free(p.line);
	sodium_free(buf);
	return rc;
}

/*
 * One file: the redaction stream finds the masks, a second read turns
 * them into lines and columns and, with SWEEP_FIX, writes the new version
 * beside the old one and renames it over.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/redact.h"
#include "sweep_int.h"

#define SWEEP_BUF	(1024 * 1024)	/* one read (guarded) */
#define SWEEP_WBUF	(256 * 1024)	/* one write of the new version */
#define SWEEP_BINARY	8192		/* a NUL in these bytes: binary */
#define SWEEP_TMP_TAG	".airlock-sweep."

struct fpass {
	struct sweep_marks marks;
	int		 binary;	/* a NUL in its first SWEEP_BINARY bytes */
};

static void
marks_on_mask(void *arg, unsigned long long start, unsigned long long end,
    const char *name, size_t name_len, int kind)
{
	struct sweep_marks *m = arg;
	struct sweep_mark *n;
	size_t cap;

	if (m->oom || (m->values_only && kind != REDACT_MASK_VALUE))
		return;
	if (m->n == m->cap) {
		cap = m->cap ? m->cap * 2 : 16;
		if ((n = realloc(m->v, cap * sizeof(*n))) == NULL) {
			m->oom = 1;
			return;
		}
		m->v = n;
		m->cap = cap;
	}
	n = &m->v[m->n++];
	n->s = start;
	n->e = end;
	n->kind = kind == REDACT_MASK_VALUE ? SWEEP_HIT_VALUE : SWEEP_HIT_RULE;
	if (name_len > sizeof(n->name) - 1)
		name_len = sizeof(n->name) - 1;
	memcpy(n->name, name, name_len);
	n->name[name_len] = '\0';
}

int
sweep_discard(void *arg, const void *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return 0;
}

int
sweep_pass(struct sweep *s, int fd, const char *label, unsigned char *buf,
    size_t bufsz, struct sweep_marks *marks,
    int (*chunk)(void *arg, struct redact_stream *rs, const unsigned char *b,
    size_t n, uint64_t off), void *arg, uint64_t *total, int *unread,
    struct al_err *err)
{
	struct redact_stream *rs = NULL;
	ssize_t r;
	int rc;

	*total = 0;
	*unread = 0;
	if ((rc = redact_stream_new(s->r, &rs)) != 0)
		return al_err_set(err, rc, "cannot start a redaction stream");
	redact_stream_on_mask(rs, marks_on_mask, marks);
	for (;;) {
		r = read(fd, buf, bufsz);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*unread = 1;
			rc = sweep_problemf(s, label, 1, "cannot read: %s",
			    strerror(errno)) ? al_err_set(err, AL_ENOMEM,
			    "out of memory") : 0;
			goto out;
		}
		if (r == 0)
			break;
		rc = chunk(arg, rs, buf, (size_t)r, *total);
		*total += (uint64_t)r;
		if (rc != 0)
			goto failed;
	}
	if ((rc = redact_stream_finish(rs, sweep_discard, NULL)) == 0)
		goto out;
failed:
	rc = rc == AL_ENOMEM ? al_err_set(err, rc, "out of memory") :
	    al_err_set(err, rc, "%s: redaction failed", label);
out:
	redact_stream_free(rs);
	return rc;
}

static int
ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

enum {
	JS_NONE,
	JS_LINES,	/* .jsonl: every line valid before stays valid */
	JS_WHOLE,	/* .json: the file valid before stays valid */
};

/* The new version being written, and the line/column bookkeeping. */
struct rewrite {
	struct sweep	*sw;
	const char	*path;		/* kept */
	int		 fd;		/* the old file */
	int		 tfd;		/* the new one, or -1: positions only */
	unsigned char	*wb;
	size_t		 wn;
	int		 werr;		/* errno of a failed write */
	int		 json;		/* JS_* */
	struct jv	 a, b;		/* the line before and after */
	int		 a_used;
	uint64_t	 broken_line;	/* first line masking made invalid */
	uint64_t	 line, line_start;
};

static void
wflush(struct rewrite *w)
{
	size_t off = 0;
	ssize_t n;

	while (off < w->wn && w->werr == 0) {
		n = write(w->tfd, w->wb + off, w->wn - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			w->werr = errno;
		else
			off += (size_t)n;
	}
	w->wn = 0;
}

static void
wput(struct rewrite *w, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t k;

	if (w->tfd < 0)
		return;
	while (n > 0) {
		if (w->wn == SWEEP_WBUF)
			wflush(w);
		k = SWEEP_WBUF - w->wn;
		if (k > n)
			k = n;
		memcpy(w->wb + w->wn, b, k);
		w->wn += k;
		b += k;
		n -= k;
	}
}

static void
line_end(struct rewrite *w)
{
	if (w->json != JS_LINES)
		return;
	if (w->broken_line == 0 && jv_valid(&w->a) && !jv_valid(&w->b))
		w->broken_line = w->line;
	jv_reset(&w->a);
	jv_reset(&w->b);
	w->a_used = 0;
}

/*
 * Unmasked bytes at offset off: copied, and lines counted.  next_s is where
 * the next mask starts.  Only a line that holds a mask can change, so only
 * such lines (and lines whose end is not in sight yet) go through the JSON
 * validators.
 */
static void
plain(struct rewrite *w, const unsigned char *p, size_t n, uint64_t off,
    uint64_t next_s)
{
	const unsigned char *nl;
	size_t k;

	wput(w, p, n);
	if (w->json == JS_WHOLE) {
		jv_feed(&w->a, p, n);
		jv_feed(&w->b, p, n);
	}
	while (n > 0) {
		nl = memchr(p, '\n', n);
		k = nl ? (size_t)(nl - p) : n;
		if (w->json == JS_LINES && (w->a_used || nl == NULL ||
		    next_s <= off + k)) {
			jv_feed(&w->a, p, k);
			jv_feed(&w->b, p, k);
			w->a_used = 1;
		}
		if (nl == NULL)
			break;
		line_end(w);
		w->line++;
		w->line_start = off + k + 1;
		p += k + 1;
		n -= k + 1;
		off += k + 1;
	}
}

/* Masked bytes: only the old line sees them. */
static void
masked(struct rewrite *w, const unsigned char *p, size_t n)
{
	if (w->json == JS_NONE)
		return;
	/* A mask across lines would join two lines of JSON: refuse. */
	if (w->json == JS_LINES && memchr(p, '\n', n) != NULL &&
	    w->broken_line == 0)
		w->broken_line = w->line;
	jv_feed(&w->a, p, n);
	w->a_used = 1;
}

/* scan's preview of a rule hit: first 4 and last 2, or nothing. */
static void
preview(int fd, const struct sweep_mark *iv, char *out)
{
	unsigned char a[4], b[2];
	size_t i;

	out[0] = '\0';
	if (iv->e - iv->s < 10 || pread(fd, a, 4, (off_t)iv->s) != 4 ||
	    pread(fd, b, 2, (off_t)iv->e - 2) != 2)
		goto out;
	for (i = 0; i < 4; i++)
		out[i] = a[i] >= 0x21 && a[i] < 0x7f ? (char)a[i] : '?';
	memcpy(out + 4, "...", 3);
	for (i = 0; i < 2; i++)
		out[7 + i] = b[i] >= 0x21 && b[i] < 0x7f ? (char)b[i] : '?';
	out[9] = '\0';
out:
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
}

/*
 * In JSON text, a mask that starts right after the backslash of an escape
 * would leave that backslash escaping the mask's "[": the backslash joins
 * the mask.
 */
static void
widen_escapes(int fd, struct sweep_mark *iv, size_t n)
{
	unsigned char b[64];
	size_t i, k, run;
	ssize_t r;
	uint64_t lo, from;

	for (i = 0; i < n; i++) {
		lo = i > 0 ? iv[i - 1].e : 0;
		if (iv[i].s <= lo)
			continue;
		from = iv[i].s - lo > sizeof(b) ? iv[i].s - sizeof(b) : lo;
		r = pread(fd, b, (size_t)(iv[i].s - from), (off_t)from);
		if (r != (ssize_t)(iv[i].s - from))
			continue;
		for (run = 0, k = (size_t)r; k > 0 && b[k - 1] == '\\'; k--)
			run++;
		if (run % 2 == 1)
			iv[i].s--;
	}
	sodium_memzero(b, sizeof(b));
}

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* A temporary file beside path; *tpath gets its name. */
static int
open_temp(const char *path, const struct stat *st, char *tpath, size_t sz)
{
	char d[PATH_MAX], b[PATH_MAX];
	int fd, n;

	n = snprintf(d, sizeof(d), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(d))
		return errno = ENAMETOOLONG, -1;
	memcpy(b, d, sizeof(b));
	n = snprintf(tpath, sz, "%s/.%s" SWEEP_TMP_TAG "XXXXXX", dirname(d),
	    basename(b));
	if (n < 0 || (size_t)n >= sz)
		return errno = ENAMETOOLONG, -1;
	if ((fd = mkostemp(tpath, O_CLOEXEC)) < 0)
		return -1;
	/* The old file's owner and mode (a file of ours keeps its group). */
	if ((fchown(fd, st->st_uid, st->st_gid) != 0 &&
	    fchown(fd, (uid_t)-1, st->st_gid) != 0 && st->st_uid != geteuid()) ||
	    fchmod(fd, st->st_mode & 07777) != 0) {
		n = errno;
		(void)unlink(tpath);
		(void)close(fd);
		return errno = n, -1;
	}
	return fd;
}

/*
 * Second read: positions of the masks, and (tfd >= 0) the new version.
 * Returns 0, or AL_ENOMEM / AL_EIO (read failed: the file is left alone).
 */
static int
second_pass(struct rewrite *w, struct sweep_mark *iv, size_t niv,
    unsigned char *buf)
{
	struct sweep_hit h;
	uint64_t pos = 0, cur, end, stop;
	size_t k = 0;
	ssize_t r;
	int in_mask = 0, rc;

	w->line = 1;
	jv_reset(&w->a);
	jv_reset(&w->b);
	for (;;) {
		r = pread(w->fd, buf, SWEEP_BUF, (off_t)pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return AL_EIO;
		if (r == 0)
			break;
		end = pos + (uint64_t)r;
		for (cur = pos; cur < end;) {
			if (in_mask) {
				stop = iv[k].e < end ? iv[k].e : end;
				masked(w, buf + (cur - pos), stop - cur);
				cur = stop;
				if (cur == iv[k].e) {
					in_mask = 0;
					k++;
				}
				continue;
			}
			stop = k < niv && iv[k].s < end ? iv[k].s : end;
			plain(w, buf + (cur - pos), stop - cur, cur,
			    k < niv ? iv[k].s : UINT64_MAX);
			cur = stop;
			if (k < niv && cur == iv[k].s) {
				memset(&h, 0, sizeof(h));
				h.path = w->path;
				h.kind = iv[k].kind;
				memcpy(h.name, iv[k].name, sizeof(h.name));
				h.line = w->line > UINT32_MAX ? UINT32_MAX :
				    (uint32_t)w->line;
				h.col = cur - w->line_start + 1 > UINT32_MAX ?
				    UINT32_MAX : (uint32_t)(cur - w->line_start +
				    1);
				if (h.kind == SWEEP_HIT_RULE)
					preview(w->fd, &iv[k], h.preview);
				if ((rc = sweep_hit_add(w->sw, &h)) != 0)
					return rc;
				wput(w, "[REDACTED:", 10);
				wput(w, iv[k].name, strlen(iv[k].name));
				wput(w, "]", 1);
				if (w->json != JS_NONE) {
					jv_feed(&w->b, (const unsigned char *)
					    "[REDACTED:", 10);
					jv_feed(&w->b, (const unsigned char *)
					    iv[k].name, strlen(iv[k].name));
					jv_feed(&w->b, (const unsigned char *)
					    "]", 1);
				}
				in_mask = 1;
			}
		}
		pos = end;
	}
	line_end(w);
	if (w->json == JS_WHOLE && jv_valid(&w->a) && !jv_valid(&w->b))
		w->broken_line = w->line;
	return 0;
}

/* Mark the hits of the file from index first on as fixed. */
static void
mark_fixed(struct sweep *s, size_t first)
{
	for (; first < s->nhits; first++)
		s->hits[first].fixed = 1;
}

/* A file's piece: all of it to the stream; a NUL early on makes it binary. */
static int
file_chunk(void *arg, struct redact_stream *rs, const unsigned char *b,
    size_t n, uint64_t off)
{
	struct fpass *fp = arg;

	if (off < SWEEP_BINARY && memchr(b, '\0', n < SWEEP_BINARY - off ? n :
	    (size_t)(SWEEP_BINARY - off)))
		fp->binary = 1;
	return redact_stream_write(rs, b, n, sweep_discard, NULL);
}

static int
search_fd(struct sweep *s, int fd, const char *path, const struct stat *st,
    struct al_err *err)
{
	struct fpass fp;
	struct rewrite w;
	struct stat now, again;
	unsigned char *buf = NULL;
	char tpath[PATH_MAX];
	size_t first = s->nhits;
	uint64_t total = 0;
	int rc, binary = 0, tfd = -1, e, unread;

	memset(&fp, 0, sizeof(fp));
	memset(&w, 0, sizeof(w));
	w.tfd = -1;
	tpath[0] = '\0';
	if ((buf = sodium_malloc(SWEEP_BUF)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = sweep_pass(s, fd, path, buf, SWEEP_BUF, &fp.marks, file_chunk,
	    &fp, &total, &unread, err)) != 0 || unread)
		goto out;
	binary = fp.binary;
	s->files++;
	s->bytes += total;
	if (fp.marks.oom) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if (fp.marks.n == 0)
		goto out;
	w.sw = s;
	w.fd = fd;
	if ((w.path = sweep_keep_path(s, path)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	w.json = ends_with(path, ".jsonl") ? JS_LINES : ends_with(path,
	    ".json") ? JS_WHOLE : JS_NONE;
	if (w.json != JS_NONE)
		widen_escapes(fd, fp.marks.v, fp.marks.n);
	if (s->flags & SWEEP_FIX) {
		if (st == NULL || !S_ISREG(st->st_mode))
			rc = sweep_problemf(s, path, 0, "not a regular file: "
			    "not rewritten; remove what it holds by hand");
		else if (binary)
			rc = sweep_problemf(s, path, 0, "binary file: not "
			    "rewritten; delete it or remove the value with the "
			    "program that wrote it");
		else if ((st->st_mode & S_IWUSR) == 0 || access(path, W_OK))
			/* The mode bit too: root may write anything. */
			rc = sweep_problemf(s, path, 0, "read-only: not "
			    "rewritten; make it writable and run `airlock sweep "
			    "--fix` again, or delete it");
		else if ((tfd = open_temp(path, st, tpath, sizeof(tpath))) < 0)
			rc = sweep_problemf(s, path, 0, "cannot write beside it "
			    "(%s): not rewritten; make its directory writable and "
			    "run `airlock sweep --fix` again", strerror(errno));
		else if ((w.wb = malloc(SWEEP_WBUF)) == NULL)
			rc = AL_ENOMEM;
		if (rc != 0) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			goto out;
		}
		w.tfd = w.wb != NULL ? tfd : -1;
	}
	if ((rc = second_pass(&w, fp.marks.v, fp.marks.n, buf)) != 0) {
		if (rc == AL_EIO)
			rc = sweep_problemf(s, path, 1, "cannot read: %s",
			    strerror(errno));
		if (rc != 0)
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if (s->on_searched != NULL)
		s->on_searched(s->on_searched_arg, path);
	if (w.tfd < 0)
		goto out;
	wflush(&w);
	if (w.werr == 0 && fsync(w.tfd) != 0)
		w.werr = errno;
	if (w.werr != 0) {
		rc = sweep_problemf(s, path, 1, "cannot write its new version "
		    "(%s): left alone; free space and run `airlock sweep --fix` "
		    "again", strerror(w.werr));
		goto out;
	}
	if (w.broken_line != 0 && w.json == JS_WHOLE) {
		rc = sweep_problemf(s, path, 0, "masking would make it invalid "
		    "JSON: left alone; remove the value by hand");
		goto out;
	}
	if (w.broken_line != 0) {
		rc = sweep_problemf(s, path, 0, "masking would make line %llu "
		    "invalid JSON: left alone; remove the value by hand",
		    (unsigned long long)w.broken_line);
		goto out;
	}
	if (fstat(fd, &now) != 0 || lstat(path, &again) != 0 ||
	    !same_file(st, &now) || !same_file(st, &again)) {
		rc = sweep_problemf(s, path, 0, "changed during the sweep: left "
		    "alone; run `airlock sweep --fix` again when it is quiet");
		goto out;
	}
	if (rename(tpath, path) != 0) {
		e = errno;
		rc = sweep_problemf(s, path, 1, "cannot replace it (%s): left "
		    "alone", strerror(e));
		goto out;
	}
	tpath[0] = '\0';
	(void)al_fs_sync_dir_of(path);
	s->fixed++;
	mark_fixed(s, first);
out:
	if (tpath[0] != '\0')
		(void)unlink(tpath);
	if (tfd >= 0)
		(void)close(tfd);
	free(w.wb);
	free(fp.marks.v);
	sodium_free(buf);
	return rc;
}

int
sweep_search_file(struct sweep *s, const char *path, struct al_err *err)
{
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK);
	if (fd < 0)
		return sweep_problemf(s, path, 1, "cannot read: %s",
		    strerror(errno)) ? al_err_set(err, AL_ENOMEM,
		    "out of memory") : 0;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		return sweep_problemf(s, path, 0, "not a regular file: "
		    "skipped") ? al_err_set(err, AL_ENOMEM, "out of memory") : 0;
	}
	rc = search_fd(s, fd, path, &st, err);
	(void)close(fd);
	if (rc > 0)
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
	return rc;
}

/*
 * Git sources.
 *
 * --staged and --git RANGE read a zero-context diff (`git diff --cached
 * -U0`, `git log -p -U0 RANGE`) and scan, per file and commit, only the
 * added lines, kept contiguous so a multi-line key added in one hunk is
 * still one match; a line map turns offsets back into file lines.
 *
 * --git alone scans the whole history with every blob once: `git log
 * --all --reverse --raw` names, oldest first, each blob a commit added and
 * so the commit, author and date that introduced it; the scanning threads
 * then read the unique blobs through their own `git cat-file`.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run_int.h"

#define LINE_MAX_BYTES (16u * 1024 * 1024)
#define FIELD_SEP '\x1f'

/* A buffered reader of lines (or exact byte counts) from a pipe. */
struct reader {
	int		 fd;
	unsigned char	*buf;
	size_t		 cap, start, end;
	int		 eof;
};

static int
reader_fill(struct reader *rd)
{
	ssize_t n;

	if (rd->start > 0) {
		memmove(rd->buf, rd->buf + rd->start, rd->end - rd->start);
		rd->end -= rd->start;
		rd->start = 0;
	}
	for (;;) {
		n = read(rd->fd, rd->buf + rd->end, rd->cap - rd->end);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			rd->eof = 1;
			return n == 0 ? 0 : AL_EIO;
		}
		rd->end += (size_t)n;
		return 0;
	}
}

/*
 * Next line without its newline, NUL-terminated in place; NULL at the end.
 * A line longer than the buffer is cut (the rest comes as another line):
 * diff lines that long are minified code, and a token is never that long.
 */
static char *
reader_line(struct reader *rd, size_t *len)
{
	unsigned char *nl;
	char *s;

	for (;;) {
		nl = memchr(rd->buf + rd->start, '\n', rd->end - rd->start);
		if (nl != NULL)
			break;
		if (rd->eof || rd->end - rd->start >= rd->cap - 1) {
			if (rd->end == rd->start)
				return NULL;
			nl = rd->buf + rd->end;
			break;
		}
		if (reader_fill(rd) != 0 && rd->end == rd->start)
			return NULL;
	}
	s = (char *)rd->buf + rd->start;
	*len = (size_t)(nl - (rd->buf + rd->start));
	rd->start += *len + (nl < rd->buf + rd->end ? 1 : 0);
	s[*len] = '\0';
	return s;
}

/* Copy exactly n bytes into out (or drop them when out is NULL). */
static int
reader_bytes(struct reader *rd, unsigned char *out, size_t n)
{
	size_t take;

	ssize_t got;

	while (n > 0) {
		if (rd->end == rd->start && out != NULL && n >= 64 * 1024 &&
		    !rd->eof) {
			/* A big blob goes straight where it is wanted. */
			got = read(rd->fd, out, n);
			if (got == -1 && errno == EINTR)
				continue;
			if (got <= 0)
				return AL_EIO;
			out += got;
			n -= (size_t)got;
			continue;
		}
		if (rd->end == rd->start) {
			if (rd->eof || reader_fill(rd) != 0 ||
			    rd->end == rd->start)
				return AL_EIO;
		}
		take = rd->end - rd->start < n ? rd->end - rd->start : n;
		if (out != NULL) {
			memcpy(out, rd->buf + rd->start, take);
			out += take;
		}
		rd->start += take;
		n -= take;
	}
	return 0;
}

/* "ID\x1fAuthor <mail>\x1fDate" into a new commit owned by the report. */
static int
parse_commit(struct run *r, char *s, const struct scan_commit **out)
{
	struct scan_commit *c;
	char *a, *d;

	*out = NULL;
	if ((a = strchr(s, FIELD_SEP)) == NULL ||
	    (d = strchr(a + 1, FIELD_SEP)) == NULL)
		return AL_EPROTO;
	*a++ = '\0';
	*d++ = '\0';
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return AL_ENOMEM;
	c->id = strdup(s);
	c->author = strdup(a);
	c->date = strdup(d);
	if (c->id == NULL || c->author == NULL || c->date == NULL ||
	    run_add_commit(r, c) != 0) {
		free(c->id);
		free(c->author);
		free(c->date);
		free(c);
		return AL_ENOMEM;
	}
	*out = c;
	return 0;
}

/* ---- added lines of a diff -------------------------------------------- */

struct added {
	struct al_buf	 text;
	uint32_t	*lines;
	size_t		 nlines, cap;
	char		*path;
	int		 over;	/* past the size limit: dropped */
};

static int
added_flush(struct run *r, struct added *a, const struct scan_commit *c)
{
	struct run_job *j;
	int rc = 0;

	if (a->path != NULL && a->text.len > 0 && !a->over) {
		if ((j = calloc(1, sizeof(*j))) == NULL)
			rc = AL_ENOMEM;
		else {
			j->path = a->path;
			j->data = a->text.data;
			j->len = a->text.len;
			j->lines = a->lines;
			j->nlines = a->nlines;
			j->commit = c;
			a->path = NULL;
			a->lines = NULL;
			a->text.data = NULL;
			a->text.len = a->text.cap = 0;
			rc = run_push(r, j);
		}
	} else if (a->over)
		atomic_fetch_add(&r->skipped, 1);
	free(a->path);
	free(a->lines);
	a->path = NULL;
	a->lines = NULL;
	a->nlines = a->cap = 0;
	a->over = 0;
	al_buf_release(&a->text);
	al_buf_init(&a->text, r->max_size, 0);
	return rc;
}

static int
added_line(struct added *a, const char *s, size_t n, uint32_t lineno)
{
	uint32_t *nv;

	if (a->over)
		return 0;
	if (al_buf_append(&a->text, s, n) != 0 ||
	    al_buf_putc(&a->text, '\n') != 0) {
		a->over = 1;
		return 0;
	}
	if (a->nlines == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		if ((nv = realloc(a->lines, a->cap * sizeof(*nv))) == NULL)
			return AL_ENOMEM;
		a->lines = nv;
	}
	a->lines[a->nlines++] = lineno;
	return 0;
}

int
run_source_diff(struct run *r, int staged, struct al_err *err)
{
	char *staged_argv[] = { "git", "-c", "core.quotePath=false", "diff",
	    "--cached", "--no-color", "--no-ext-diff", "--no-textconv",
	    "--no-renames", "-U0", "--diff-filter=ACMRT", NULL };
	char *range_argv[] = { "git", "-c", "core.quotePath=false", "log",
	    "-p", "-U0", "--no-color", "--no-ext-diff", "--no-textconv",
	    "--no-renames", "--format=\x01%H\x1f%an <%ae>\x1f%aI",
	    (char *)r->o->range, "--", NULL };
	struct scan_child ch;
	struct reader rd;
	struct added a;
	const struct scan_commit *commit = NULL;
	char *s, *plus;
	size_t n;
	uint32_t next = 0;
	int rc = 0, frc, in_hunk = 0;

	memset(&rd, 0, sizeof(rd));
	memset(&a, 0, sizeof(a));
	al_buf_init(&a.text, r->max_size, 0);
	if (!staged && (r->o->range == NULL || r->o->range[0] == '-'))
		return al_err_set(err, AL_EINVAL, "bad range '%s' (expected "
		    "A..B, a commit, or a branch)", r->o->range ?
		    r->o->range : "");
	if ((rc = scan_child_start(r->o->git_dir, staged ? staged_argv :
	    range_argv, 0, &ch, err)) != 0)
		return rc;
	rd.fd = ch.out_fd;
	rd.cap = LINE_MAX_BYTES;
	if ((rd.buf = malloc(rd.cap)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	while (rc == 0 && (s = reader_line(&rd, &n)) != NULL) {
		if (s[0] == '\x01') {
			if ((rc = added_flush(r, &a, commit)) != 0)
				break;
			if (parse_commit(r, s + 1, &commit) != 0) {
				rc = al_err_set(err, AL_EPROTO, "cannot parse "
				    "git log output");
				break;
			}
			in_hunk = 0;
		} else if (strncmp(s, "diff --git ", 11) == 0) {
			rc = added_flush(r, &a, commit);
			in_hunk = 0;
		} else if (!in_hunk && strncmp(s, "+++ ", 4) == 0) {
			free(a.path);
			a.path = NULL;
			if (strncmp(s + 4, "b/", 2) == 0 ||
			    strncmp(s + 4, "\"b/", 3) == 0) {
				/* A name with a space ends in a tab (for patch). */
				if (s[4] == 'b' && n > 4 && s[n - 1] == '\t')
					s[n - 1] = '\0';
				run_git_unquote(s + 4);
				if ((a.path = strdup(s + 6)) == NULL)
					rc = AL_ENOMEM;
			}
		} else if (strncmp(s, "@@ ", 3) == 0) {
			in_hunk = 1;
			plus = strstr(s, " +");
			next = plus ? (uint32_t)strtoul(plus + 2, NULL, 10) : 0;
		} else if (in_hunk && s[0] == '+') {
			rc = added_line(&a, s + 1, n - 1, next++);
		}
		run_tick(r);
	}
	if (rc == 0)
		rc = added_flush(r, &a, commit);
	if (rc == AL_ENOMEM)
		(void)al_err_set(err, rc, "out of memory");
out:
	frc = scan_child_finish(&ch, staged ? "git diff --cached" :
	    "git log", rc == 0 ? err : NULL);
	if (rc == 0)
		rc = frc;
	free(a.path);
	free(a.lines);
	al_buf_release(&a.text);
	free(rd.buf);
	return rc;
}

/* ---- whole history ---------------------------------------------------- */

struct blob {
	char			 id[65];
	char			*path;
	const struct scan_commit *commit;
};

struct blobset {
	struct blob	*v;	/* in order of first appearance */
	size_t		 n, cap;
	uint32_t	*slot;	/* open addressing: index + 1, 0 empty */
	size_t		 nslot;
};

static uint64_t
id_hash(const char *id)
{
	uint64_t h = 1469598103934665603ull;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ull;
	return h;
}

static int
blobset_grow(struct blobset *bs)
{
	uint32_t *ns;
	size_t i, k, nn = bs->nslot ? bs->nslot * 2 : 4096;

	if ((ns = calloc(nn, sizeof(*ns))) == NULL)
		return AL_ENOMEM;
	for (i = 0; i < bs->n; i++) {
		k = id_hash(bs->v[i].id) & (nn - 1);
		while (ns[k] != 0)
			k = (k + 1) & (nn - 1);
		ns[k] = (uint32_t)i + 1;
	}
	free(bs->slot);
	bs->slot = ns;
	bs->nslot = nn;
	return 0;
}

/* Add id unless present; the first commit to add a blob keeps it. */
static int
blobset_add(struct blobset *bs, const char *id, const char *path,
    const struct scan_commit *c)
{
	struct blob *nv;
	size_t k;

	if (strlen(id) >= sizeof(bs->v[0].id))
		return AL_EPROTO;
	if ((bs->n + 1) * 2 > bs->nslot && blobset_grow(bs) != 0)
		return AL_ENOMEM;
	k = id_hash(id) & (bs->nslot - 1);
	while (bs->slot[k] != 0) {
		if (strcmp(bs->v[bs->slot[k] - 1].id, id) == 0)
			return 0;
		k = (k + 1) & (bs->nslot - 1);
	}
	if (bs->n == bs->cap) {
		bs->cap = bs->cap ? bs->cap * 2 : 1024;
		if ((nv = realloc(bs->v, bs->cap * sizeof(*nv))) == NULL)
			return AL_ENOMEM;
		bs->v = nv;
	}
	memcpy(bs->v[bs->n].id, id, strlen(id) + 1);
	if ((bs->v[bs->n].path = strdup(path)) == NULL)
		return AL_ENOMEM;
	bs->v[bs->n].commit = c;
	bs->slot[k] = (uint32_t)++bs->n;
	return 0;
}

static void
blobset_free(struct blobset *bs)
{
	size_t i;

	for (i = 0; i < bs->n; i++)
		free(bs->v[i].path);
	free(bs->v);
	free(bs->slot);
}

/*
 * One raw diff line: ":100644 100644 OLD NEW M\tpath".  Only regular files
 * (mode 100xxx) that still exist after the commit.
 */
static int
raw_line(struct blobset *bs, char *s, const struct scan_commit *c)
{
	char *f[5], *tab, *p = s + 1;
	int i;

	if ((tab = strchr(s, '\t')) == NULL)
		return 0;
	*tab = '\0';
	for (i = 0; i < 5; i++) {
		f[i] = p;
		if ((p = strchr(p, ' ')) == NULL && i < 4)
			return 0;
		if (p != NULL)
			*p++ = '\0';
	}
	if (strncmp(f[1], "100", 3) != 0 || f[4][0] == 'D' ||
	    strspn(f[3], "0") == strlen(f[3]))
		return 0;
	run_git_unquote(tab + 1);
	return blobset_add(bs, f[3], tab + 1, c);
}

/*
 * The blobs are read by the scanning threads themselves: each runs its own
 * `git cat-file --batch-command`, takes the next HIST_BATCH blobs of the
 * set, asks for them in one write and scans each as it arrives, in a
 * buffer it reuses.  Inflating objects is most of the cost of a history
 * scan, and this spreads it over one git process per thread, with no
 * queue, no per-blob allocation and no copy besides the pipe's.
 */
#define HIST_BATCH 64

struct hist {
	struct run		*r;
	const struct blobset	*bs;
	_Atomic size_t		 next;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 pending;	/* shard jobs not yet freed */
};

static void
hist_done(void *arg)
{
	struct hist *h = arg;

	pthread_mutex_lock(&h->mu);
	h->pending--;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		k = write(fd, p, n);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Ask for blobs [first, last) in one write. */
static int
hist_request(int fd, const struct blobset *bs, size_t first, size_t last,
    char *cmd, size_t cmdsz)
{
	size_t i, fill = 0;
	int n;

	for (i = first; i < last; i++) {
		n = snprintf(cmd + fill, cmdsz - fill, "contents %s\n",
		    bs->v[i].id);
		if (n < 0 || (size_t)n >= cmdsz - fill)
			return -1;
		fill += (size_t)n;
	}
	if (cmdsz - fill < 7)
		return -1;
	memcpy(cmd + fill, "flush\n", 6);
	return write_all(fd, cmd, fill + 6);
}

/* Read one answer and scan it as blob i. */
static int
hist_one(struct run_worker *w, struct reader *rd, const struct blob *b,
    unsigned char **data, size_t *cap, struct al_err *err)
{
	struct run *r = w->run;
	struct run_job job;
	unsigned long long size;
	unsigned char *nb;
	char *s, *sp;
	size_t n;

	if ((s = reader_line(rd, &n)) == NULL)
		return al_err_set(err, AL_EPROTO, "git cat-file stopped early");
	/* "<id> blob <size>", or "<id> missing" (git says why above) */
	if ((sp = strstr(s, " blob ")) == NULL) {
		run_warn(r, "cannot read %s (blob %s) from git: skipped",
		    b->path, b->id);
		return 0;
	}
	size = strtoull(sp + 6, NULL, 10);
	if (size > r->max_size) {
		atomic_fetch_add(&r->skipped, 1);
		return reader_bytes(rd, NULL, (size_t)size + 1);
	}
	if (size > *cap) {
		if ((nb = realloc(*data, (size_t)size)) == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory");
		*data = nb;
		*cap = (size_t)size;
	}
	if (reader_bytes(rd, *data, (size_t)size) != 0 ||
	    reader_bytes(rd, NULL, 1) != 0)
		return al_err_set(err, AL_EPROTO, "git cat-file output ended "
		    "inside a blob");
	if (size == 0)
		return 0;
	if (scan_config_path_allowed(r->o->config, b->path)) {
		atomic_fetch_add(&r->skipped, 1);
		return 0;
	}
	memset(&job, 0, sizeof(job));
	job.path = b->path;
	job.commit = b->commit;
	return run_scan_bytes(w, &job, *data, (size_t)size, err);
}

static int
hist_shard(struct run_worker *w, const struct run_job *sj,
    struct al_err *err)
{
	char *argv[] = { "git", "cat-file", "--batch-command", "--buffer",
	    NULL };
	struct hist *h = sj->arg;
	struct run *r = w->run;
	const struct blobset *bs = h->bs;
	struct scan_child ch;
	struct reader rd;
	unsigned char *data = NULL;
	char cmd[HIST_BATCH * 80 + 8];
	size_t first, last, i, cap = 0;
	int rc, frc;

	memset(&rd, 0, sizeof(rd));
	if ((rc = scan_child_start(r->o->git_dir, argv, SCAN_CHILD_STDIN, &ch,
	    err)) != 0)
		return rc;
	rd.fd = ch.out_fd;
	rd.cap = 1024 * 1024;
	if ((rd.buf = malloc(rd.cap)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	while (rc == 0 && !atomic_load(&r->failed)) {
		first = atomic_fetch_add(&h->next, HIST_BATCH);
		if (first >= bs->n)
			break;
		last = first + HIST_BATCH < bs->n ? first + HIST_BATCH : bs->n;
		if (hist_request(ch.in_fd, bs, first, last, cmd,
		    sizeof(cmd)) != 0) {
			rc = al_err_set(err, AL_EIO, "cannot write to git "
			    "cat-file: %s", strerror(errno));
			break;
		}
		for (i = first; i < last && rc == 0; i++) {
			rc = hist_one(w, &rd, &bs->v[i], &data, &cap, err);
			atomic_fetch_add(&r->done, 1);
		}
	}
out:
	/* Closing its input ends git; a failure to read is reported first. */
	frc = scan_child_finish(&ch, "git cat-file", rc == 0 ? err : NULL);
	if (rc == 0)
		rc = frc;
	free(rd.buf);
	free(data);
	return rc;
}

/* One shard job per thread; wait until every one is freed. */
static int
read_blobs(struct run *r, const struct blobset *bs, struct al_err *err)
{
	struct hist h;
	struct run_job *j;
	struct timespec ts;
	int i, rc = 0;

	memset(&h, 0, sizeof(h));
	h.r = r;
	h.bs = bs;
	atomic_init(&h.next, 0);
	pthread_mutex_init(&h.mu, NULL);
	pthread_cond_init(&h.cv, NULL);
	for (i = 0; i < r->nw && rc == 0; i++) {
		if ((j = calloc(1, sizeof(*j))) == NULL) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			break;
		}
		j->fn = hist_shard;
		j->done = hist_done;
		j->arg = &h;
		pthread_mutex_lock(&h.mu);
		h.pending++;
		pthread_mutex_unlock(&h.mu);
		/* On failure run_push frees j, which counts it done. */
		if (run_push(r, j) != 0)
			rc = AL_EIO;	/* a worker's error is reported */
	}
	pthread_mutex_lock(&h.mu);
	while (h.pending > 0) {
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		(void)pthread_cond_timedwait(&h.cv, &h.mu, &ts);
		pthread_mutex_unlock(&h.mu);
		run_tick(r);
		pthread_mutex_lock(&h.mu);
	}
	pthread_mutex_unlock(&h.mu);
	pthread_cond_destroy(&h.cv);
	pthread_mutex_destroy(&h.mu);
	return rc;
}

int
run_source_history(struct run *r, struct al_err *err)
{
	char *argv[] = { "git", "-c", "core.quotePath=false", "log", "--all",
	    "--reverse", "--raw", "--no-abbrev", "--no-renames", "-m", "--root",
	    "--no-color", "--format=\x01%H\x1f%an <%ae>\x1f%aI", NULL };
	struct blobset bs;
	struct scan_child ch;
	struct reader rd;
	const struct scan_commit *commit = NULL;
	char *s;
	size_t n;
	int rc = 0, frc;

	memset(&bs, 0, sizeof(bs));
	memset(&rd, 0, sizeof(rd));
	if ((rc = scan_child_start(r->o->git_dir, argv, 0, &ch, err)) != 0)
		return rc;
	rd.fd = ch.out_fd;
	rd.cap = 1024 * 1024;
	if ((rd.buf = malloc(rd.cap)) == NULL)
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
	while (rc == 0 && (s = reader_line(&rd, &n)) != NULL) {
		if (s[0] == '\x01') {
			if (parse_commit(r, s + 1, &commit) != 0)
				rc = al_err_set(err, AL_EPROTO, "cannot parse "
				    "git log output");
		} else if (s[0] == ':' && commit != NULL) {
			if (raw_line(&bs, s, commit) == AL_ENOMEM)
				rc = al_err_set(err, AL_ENOMEM, "out of "
				    "memory");
		}
	}
	frc = scan_child_finish(&ch, "git log --all", rc == 0 ? err : NULL);
	if (rc == 0)
		rc = frc;
	free(rd.buf);
	if (rc == 0 && bs.n > 0)
		rc = read_blobs(r, &bs, err);
	blobset_free(&bs);
	return rc;
}

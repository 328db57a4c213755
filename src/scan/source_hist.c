/*
 * --git alone: the whole history, every blob once.
 *
 * `git log --all --reverse --raw` names, oldest first, each blob a commit
 * added, and so the commit, author and date that introduced it.  As soon as
 * the walk names a new blob it is asked for from one of several `git
 * cat-file --batch` processes, one per scanning thread, and that thread
 * scans each blob as its process hands it over.  The walk, the inflating
 * and the scanning thus run at once, on every core, with no more in memory
 * than the pipes hold.  (Asking in batches and waiting for each batch left
 * git idle while the thread scanned, and the walk had to finish before the
 * first blob was read: the cores were mostly waiting on each other.)
 *
 * A blob goes to the process chosen by a hash of its path: the versions of
 * one file are mostly deltas of each other, and the process that inflated
 * the previous version still has it in its delta base cache.
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

#define HIST_WBUF	4096		/* requests gathered per write */
#define HIST_RBUF	(1024 * 1024)	/* git log's and cat-file's output */

/* ---- the set of blobs seen ------------------------------------------- */

struct blob {
	char			 id[65];
	char			*path;		/* stable: handed to threads */
};

struct blobset {
	struct blob	*v;
	size_t		 n, cap;
	uint32_t	*slot;	/* open addressing: index + 1, 0 empty */
	size_t		 nslot;
};

static uint64_t
str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
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
		k = str_hash(bs->v[i].id) & (nn - 1);
		while (ns[k] != 0)
			k = (k + 1) & (nn - 1);
		ns[k] = (uint32_t)i + 1;
	}
	free(bs->slot);
	bs->slot = ns;
	bs->nslot = nn;
	return 0;
}

/*
 * Add id unless present: *out is the new blob, or NULL when the blob was
 * seen before (the first commit to add a blob keeps it).
 */
static int
blobset_add(struct blobset *bs, const char *id, const char *path,
    const struct blob **out)
{
	struct blob *nv;
	size_t k, len = strlen(id);

	*out = NULL;
	if (len >= sizeof(bs->v[0].id))
		return AL_EPROTO;
	if ((bs->n + 1) * 2 > bs->nslot && blobset_grow(bs) != 0)
		return AL_ENOMEM;
	k = str_hash(id) & (bs->nslot - 1);
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
	memcpy(bs->v[bs->n].id, id, len + 1);
	if ((bs->v[bs->n].path = strdup(path)) == NULL)
		return AL_ENOMEM;
	bs->slot[k] = (uint32_t)++bs->n;
	*out = &bs->v[bs->n - 1];
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
 * (mode 100xxx) that still exist after the commit; *out as blobset_add.
 */
static int
raw_line(struct blobset *bs, char *s, const struct blob **out)
{
	char *f[5], *tab, *p = s + 1;
	int i;

	*out = NULL;
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
	return blobset_add(bs, f[3], tab + 1, out);
}

/* ---- cat-file processes ---------------------------------------------- */

/* A blob asked for and not yet answered. */
struct hist_ent {
	const char		 *path;
	const struct scan_commit *commit;
};

struct hist;

/* One `git cat-file --batch` and the thread scanning what it prints. */
struct hist_shard {
	struct hist		*h;
	struct scan_child	 ch;	/* in_fd the walk's, out_fd the thread's */
	pthread_mutex_t		 mu;	/* guards the queue */
	struct hist_ent		*q;	/* a ring, in the order asked */
	size_t			 qhead, qlen, qcap;
	char			 wbuf[HIST_WBUF];	/* requests to write */
	size_t			 wlen;
};

struct hist {
	struct run		*r;
	struct hist_shard	*sh;
	int			 nsh;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 pending;	/* shard jobs not yet freed */
};

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

static int
shard_flush(struct hist_shard *s, struct al_err *err)
{
	int rc = 0;

	if (s->wlen > 0 && write_all(s->ch.in_fd, s->wbuf, s->wlen) != 0)
		rc = al_err_set(err, AL_EIO, "cannot write to git cat-file: %s",
		    strerror(errno));
	s->wlen = 0;
	return rc;
}

/* Queue the blob, then ask for it (the answer never precedes its entry). */
static int
shard_ask(struct hist_shard *s, const struct blob *b,
    const struct scan_commit *c, struct al_err *err)
{
	struct hist_ent *nq;
	size_t i, ncap, len = strlen(b->id);

	pthread_mutex_lock(&s->mu);
	if (s->qlen == s->qcap) {
		ncap = s->qcap ? s->qcap * 2 : 256;
		if ((nq = malloc(ncap * sizeof(*nq))) == NULL) {
			pthread_mutex_unlock(&s->mu);
			return al_err_set(err, AL_ENOMEM, "out of memory");
		}
		for (i = 0; i < s->qlen; i++)
			nq[i] = s->q[(s->qhead + i) % s->qcap];
		free(s->q);
		s->q = nq;
		s->qhead = 0;
		s->qcap = ncap;
	}
	s->q[(s->qhead + s->qlen) % s->qcap].path = b->path;
	s->q[(s->qhead + s->qlen) % s->qcap].commit = c;
	s->qlen++;
	pthread_mutex_unlock(&s->mu);
	if (s->wlen + len + 1 > sizeof(s->wbuf))
		if (shard_flush(s, err) != 0)
			return AL_EIO;
	memcpy(s->wbuf + s->wlen, b->id, len);
	s->wbuf[s->wlen + len] = '\n';
	s->wlen += len + 1;
	return 0;
}

/* The oldest unanswered request; 0 when there is none. */
static int
shard_pop(struct hist_shard *s, struct hist_ent *e)
{
	int got = 0;

	pthread_mutex_lock(&s->mu);
	if (s->qlen > 0) {
		*e = s->q[s->qhead];
		s->qhead = (s->qhead + 1) % s->qcap;
		s->qlen--;
		got = 1;
	}
	pthread_mutex_unlock(&s->mu);
	return got;
}

/* Read the answer headed by line and scan it as e's blob. */
static int
hist_one(struct run_worker *w, struct run_reader *rd, char *line,
    const struct hist_ent *e, unsigned char **data, size_t *cap,
    struct al_err *err)
{
	struct run *r = w->run;
	struct run_job job;
	unsigned long long size;
	const unsigned char *p;
	unsigned char *nb;
	char *sp;
	int rc;

	/* "<id> blob <size>", or "<id> missing" (git says why above) */
	if ((sp = strstr(line, " blob ")) == NULL) {
		if ((sp = strchr(line, ' ')) != NULL)
			*sp = '\0';
		run_warn(r, "cannot read %s (blob %s) from git: skipped",
		    e->path, line);
		return 0;
	}
	size = strtoull(sp + 6, NULL, 10);
	if (size > r->max_size) {
		atomic_fetch_add(&r->skipped, 1);
		if (run_reader_bytes(rd, NULL, (size_t)size + 1) != 0)
			goto short_read;
		return 0;
	}
	memset(&job, 0, sizeof(job));
	job.path = (char *)e->path;
	job.commit = e->commit;
	/* A blob that fits the pipe's buffer is scanned where it lies. */
	if (size < rd->cap) {
		if ((p = run_reader_peek(rd, (size_t)size + 1)) == NULL)
			goto short_read;
		rc = size ? run_scan_bytes(w, &job, p, (size_t)size, err) : 0;
		if (run_reader_bytes(rd, NULL, (size_t)size + 1) != 0)
			goto short_read;
		return rc;
	}
	if (size > *cap) {
		if ((nb = realloc(*data, (size_t)size)) == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory");
		*data = nb;
		*cap = (size_t)size;
	}
	if (run_reader_bytes(rd, *data, (size_t)size) != 0 ||
	    run_reader_bytes(rd, NULL, 1) != 0)
		goto short_read;
	return run_scan_bytes(w, &job, *data, (size_t)size, err);
short_read:
	return al_err_set(err, AL_EPROTO, "git cat-file output ended inside "
	    "a blob");
}

/* A scanning thread's task: everything its cat-file prints, to the end. */
static int
shard_run(struct run_worker *w, const struct run_job *j, struct al_err *err)
{
	struct hist_shard *s = j->arg;
	struct run *r = w->run;
	struct run_reader rd;
	struct hist_ent e;
	unsigned char *data = NULL;
	size_t cap = 0, n;
	char *line;
	int rc = 0;

	memset(&rd, 0, sizeof(rd));
	rd.fd = s->ch.out_fd;
	rd.cap = HIST_RBUF;
	if ((rd.buf = malloc(rd.cap)) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	while (rc == 0 && !atomic_load(&r->failed) &&
	    (line = run_reader_line(&rd, &n)) != NULL) {
		if (!shard_pop(s, &e)) {
			rc = al_err_set(err, AL_EPROTO, "git cat-file answered "
			    "more than it was asked");
			break;
		}
		rc = hist_one(w, &rd, line, &e, &data, &cap, err);
		atomic_fetch_add(&r->done, 1);
	}
	/* The end of its output with blobs still asked for: git died. */
	if (rc == 0 && !atomic_load(&r->failed) && shard_pop(s, &e))
		rc = al_err_set(err, AL_EPROTO, "git cat-file stopped early");
	free(rd.buf);
	free(data);
	return rc;
}

/*
 * The shard job is freed (run or not): stop reading, so that a git still
 * writing gets EPIPE and ends, and let the walk know.
 */
static void
shard_done(void *arg)
{
	struct hist_shard *s = arg;
	struct hist *h = s->h;

	if (s->ch.out_fd != -1) {
		(void)close(s->ch.out_fd);
		s->ch.out_fd = -1;
	}
	pthread_mutex_lock(&h->mu);
	h->pending--;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* Start one cat-file per scanning thread, and the jobs reading them. */
static int
hist_start(struct hist *h, struct al_err *err)
{
	char *argv[] = { "git", "cat-file", "--batch", "--buffer", NULL };
	struct run *r = h->r;
	struct run_job *j;
	int i, rc;

	if ((h->sh = calloc((size_t)r->nw, sizeof(*h->sh))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	for (i = 0; i < r->nw; i++) {
		h->sh[i].h = h;
		h->sh[i].ch.pid = -1;
		h->sh[i].ch.in_fd = h->sh[i].ch.out_fd = -1;
		pthread_mutex_init(&h->sh[i].mu, NULL);
		h->nsh++;
	}
	for (i = 0; i < h->nsh; i++) {
		if ((rc = scan_child_start(r->o->git_dir, argv,
		    SCAN_CHILD_STDIN, &h->sh[i].ch, err)) != 0)
			return rc;
		if ((j = calloc(1, sizeof(*j))) == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory");
		j->fn = shard_run;
		j->done = shard_done;
		j->arg = &h->sh[i];
		pthread_mutex_lock(&h->mu);
		h->pending++;
		pthread_mutex_unlock(&h->mu);
		/* On failure run_push frees j, which counts it done. */
		if (run_push(r, j) != 0)
			return AL_EIO;	/* a worker's error is reported */
	}
	return 0;
}

/*
 * No more requests: close every cat-file's input, wait for the threads to
 * scan what is left, then for the processes.
 */
static int
hist_finish(struct hist *h, int rc, struct al_err *err)
{
	struct timespec ts;
	int i, frc;

	if (h->sh == NULL)
		return rc;
	for (i = 0; i < h->nsh; i++) {
		if (rc == 0 && h->sh[i].ch.in_fd != -1)
			rc = shard_flush(&h->sh[i], err);
		if (h->sh[i].ch.in_fd != -1)
			(void)close(h->sh[i].ch.in_fd);
		h->sh[i].ch.in_fd = -1;
	}
	pthread_mutex_lock(&h->mu);
	while (h->pending > 0) {
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		(void)pthread_cond_timedwait(&h->cv, &h->mu, &ts);
		pthread_mutex_unlock(&h->mu);
		run_tick(h->r);
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	for (i = 0; i < h->nsh; i++) {
		if (h->sh[i].ch.out_fd != -1) {	/* its job never ran */
			(void)close(h->sh[i].ch.out_fd);
			h->sh[i].ch.out_fd = -1;
		}
		frc = scan_child_finish(&h->sh[i].ch, "git cat-file",
		    rc == 0 ? err : NULL);
		if (rc == 0)
			rc = frc;
		pthread_mutex_destroy(&h->sh[i].mu);
		free(h->sh[i].q);
	}
	free(h->sh);
	h->sh = NULL;
	return rc;
}

/* Read the walk, asking for each new blob as it is named. */
static int
hist_walk(struct hist *h, struct blobset *bs, struct al_err *err)
{
	char *argv[] = { "git", "-c", "core.quotePath=false", "log", "--all",
	    "--reverse", "--raw", "--no-abbrev", "--no-renames", "-m", "--root",
	    "--no-color", "--format=\x01%H\x1f%an <%ae>\x1f%aI", NULL };
	struct run *r = h->r;
	struct scan_child ch;
	struct run_reader rd;
	const struct scan_commit *commit = NULL;
	const struct blob *b;
	char *s;
	size_t n;
	int rc = 0, frc;

	memset(&rd, 0, sizeof(rd));
	if ((rc = scan_child_start(r->o->git_dir, argv, 0, &ch, err)) != 0)
		return rc;
	rd.fd = ch.out_fd;
	rd.cap = HIST_RBUF;
	if ((rd.buf = malloc(rd.cap)) == NULL)
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
	while (rc == 0 && !atomic_load(&r->failed) &&
	    (s = run_reader_line(&rd, &n)) != NULL) {
		if (s[0] == '\x01') {
			if (run_git_commit(r, s + 1, &commit) != 0)
				rc = al_err_set(err, AL_EPROTO, "cannot parse "
				    "git log output");
		} else if (s[0] == ':' && commit != NULL) {
			if ((rc = raw_line(bs, s, &b)) == AL_ENOMEM)
				rc = al_err_set(err, AL_ENOMEM, "out of "
				    "memory");
			else if (rc != 0)
				rc = 0;	/* not a blob id: not ours */
			else if (b == NULL)
				;	/* seen before */
			else if (scan_config_path_allowed(r->o->config,
			    b->path))
				atomic_fetch_add(&r->skipped, 1);
			else if (h->sh != NULL ||
			    (rc = hist_start(h, err)) == 0)
				rc = shard_ask(&h->sh[str_hash(b->path) %
				    (uint64_t)h->nsh], b, commit, err);
		}
		run_tick(r);
	}
	if (rc == 0 && atomic_load(&r->failed))
		rc = AL_EIO;	/* a worker's error is reported */
	frc = scan_child_finish(&ch, "git log --all", rc == 0 ? err : NULL);
	if (rc == 0)
		rc = frc;
	free(rd.buf);
	return rc;
}

int
run_source_history(struct run *r, struct al_err *err)
{
	struct blobset bs;
	struct hist h;
	sigset_t pipe_set, old_set;
	struct timespec zero = { 0, 0 };
	int rc;

	memset(&bs, 0, sizeof(bs));
	memset(&h, 0, sizeof(h));
	h.r = r;
	pthread_mutex_init(&h.mu, NULL);
	pthread_cond_init(&h.cv, NULL);
	/*
	 * A cat-file that died makes our next request EPIPE rather than the
	 * end of the process; a SIGPIPE raised meanwhile is taken off before
	 * the mask is restored.
	 */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	(void)pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	/* The cat-file processes start with the first blob (hist_start). */
	rc = hist_walk(&h, &bs, err);
	rc = hist_finish(&h, rc, err);
	while (!sigismember(&old_set, SIGPIPE) &&
	    sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
		;
	(void)pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	pthread_cond_destroy(&h.cv);
	pthread_mutex_destroy(&h.mu);
	blobset_free(&bs);
	return rc;
}

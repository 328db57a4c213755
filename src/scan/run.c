/*
 * scan_run: sources push jobs into a queue, a pool of threads (one per
 * core) scans them with one shared engine and a scratch each, and every
 * worker keeps its own findings until the end, when they are merged and
 * sorted so output does not depend on scheduling.
 *
 * Files up to RUN_READ_MAX are read into a per-worker buffer; bigger ones
 * are mapped, never copied.  In-memory jobs (git blobs, added lines) wait
 * in a queue bounded in bytes, so memory stays flat however big the
 * history is.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "run_int.h"

#define BINARY_PROBE 8000	/* as git: a NUL in the first 8000 bytes */
#define ALLOW_MARK "airlock:allow"

void
run_job_free(struct run_job *j)
{
	if (j == NULL)
		return;
	if (j->done != NULL)
		j->done(j->arg);
	free(j->path);
	free(j->rel);
	free(j->data);
	free(j->lines);
	free(j);
}

void
run_warn(struct run *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	atomic_fetch_add(&r->errors, 1);
	if (r->o->warn == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);	/* may truncate */
	va_end(ap);
	pthread_mutex_lock(&r->warn_mu);
	r->o->warn(msg, r->o->warn_arg);
	pthread_mutex_unlock(&r->warn_mu);
}

void
run_tick(struct run *r)
{
	struct scan_progress p;
	int64_t t;

	if (r->o->progress == NULL)
		return;
	t = al_mono_ms();
	if (t - r->last_progress_ms < 100)
		return;
	r->last_progress_ms = t;
	p.files = atomic_load(&r->done);
	p.bytes = atomic_load(&r->bytes);
	p.total_files = r->closed ? atomic_load(&r->queued) : 0;
	r->o->progress(&p, r->o->progress_arg);
}

int
run_add_commit(struct run *r, struct scan_commit *c)
{
	struct scan_report *rep = r->rep;
	struct scan_commit **nv;
	size_t ncap;

	if (rep->ncommits_owned % 256 == 0) {
		ncap = rep->ncommits_owned + 256;
		if ((nv = realloc(rep->commits_owned, ncap * sizeof(*nv))) ==
		    NULL)
			return AL_ENOMEM;
		rep->commits_owned = nv;
	}
	c->seq = rep->ncommits_owned;
	rep->commits_owned[rep->ncommits_owned++] = c;
	rep->commits++;
	return 0;
}

int
run_push(struct run *r, struct run_job *j)
{
	pthread_mutex_lock(&r->mu);
	while (r->qbytes > 0 && r->qbytes + j->len > RUN_QUEUE_BYTES &&
	    !atomic_load(&r->failed))
		pthread_cond_wait(&r->cv_space, &r->mu);
	if (atomic_load(&r->failed)) {
		pthread_mutex_unlock(&r->mu);
		run_job_free(j);
		return AL_EIO;
	}
	j->next = NULL;
	if (r->tail)
		r->tail->next = j;
	else
		r->head = j;
	r->tail = j;
	r->qbytes += j->len;
	atomic_fetch_add(&r->queued, 1);
	pthread_cond_signal(&r->cv_job);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

static struct run_job *
run_pop(struct run *r)
{
	struct run_job *j;

	pthread_mutex_lock(&r->mu);
	while (r->head == NULL && !r->closed)
		pthread_cond_wait(&r->cv_job, &r->mu);
	if ((j = r->head) != NULL) {
		r->head = j->next;
		if (r->head == NULL)
			r->tail = NULL;
		r->qbytes -= j->len;
		pthread_cond_signal(&r->cv_space);
	}
	pthread_mutex_unlock(&r->mu);
	return j;
}

static void
run_fail(struct run *r, const struct al_err *err)
{
	pthread_mutex_lock(&r->mu);
	if (!atomic_load(&r->failed)) {
		r->fail_err = *err;
		atomic_store(&r->failed, 1);
	}
	pthread_cond_broadcast(&r->cv_space);
	pthread_mutex_unlock(&r->mu);
}

/* Line number (1-based, in the job's own numbering) of offset off. */
static uint32_t
line_of(struct run_worker *w, const unsigned char *buf, size_t off)
{
	const unsigned char *p, *end;

	if (off < w->cnt_off) {
		w->cnt_off = 0;
		w->cnt_line = 0;
	}
	p = buf + w->cnt_off;
	end = buf + off;
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		w->cnt_line++;
		p++;
	}
	w->cnt_off = off;
	if (w->job->lines != NULL)
		return w->cnt_line < w->job->nlines ?
		    w->job->lines[w->cnt_line] : 0;
	return w->cnt_line + 1;
}

/* Whether the line holding off carries the airlock:allow marker. */
static int
line_allowed(const unsigned char *buf, size_t n, size_t off)
{
	const unsigned char *s, *e;

	s = off ? memrchr(buf, '\n', off) : NULL;
	s = s ? s + 1 : buf;
	e = memchr(buf + off, '\n', n - off);
	e = e ? e : buf + n;
	return memmem(s, (size_t)(e - s), ALLOW_MARK, sizeof(ALLOW_MARK) - 1)
	    != NULL;
}

static int
on_match(const struct scan_match *m, const unsigned char *buf, size_t n,
    void *arg)
{
	struct run_worker *w = arg;
	struct scan_finding *f, *nv;
	const unsigned char *ls;
	unsigned char h[16];
	/*
	 * A secret is located by the secret; unsafe code by the code.  A
	 * generic unsafe rule (a weak password written into a file) reports a
	 * value, so it is located and masked as a secret is.
	 */
	int unsafe = m->rule->category == SCAN_CAT_UNSAFE &&
	    !m->rule->generic;
	size_t off = unsafe ? m->match_off : m->off;
	size_t end = unsafe ? m->match_off + m->match_len : m->off + m->len;
	size_t ncap;

	if (line_allowed(buf, n, off) ||
	    (end > 0 && line_allowed(buf, n, end - 1)))
		return 0;
	if (w->nf == w->capf) {
		ncap = w->capf ? w->capf * 2 : 16;
		if ((nv = realloc(w->f, ncap * sizeof(*nv))) == NULL)
			return AL_ENOMEM;
		w->f = nv;
		w->capf = ncap;
	}
	f = &w->f[w->nf];
	memset(f, 0, sizeof(*f));
	if ((f->path = strdup(w->job->path)) == NULL)
		return AL_ENOMEM;
	w->nf++;
	f->rule = m->rule;
	f->entropy = m->entropy;
	f->commit = w->job->commit;
	f->count = 1;
	if (f->commit != NULL)
		crypto_generichash(f->value_id, sizeof(f->value_id),
		    buf + m->off, m->len, w->run->group_key,
		    sizeof(w->run->group_key));
	f->line = line_of(w, buf, off);
	ls = off ? memrchr(buf, '\n', off) : NULL;
	f->col = (uint32_t)(off - (ls ? (size_t)(ls - buf) + 1 : 0) + 1);
	f->end_line = line_of(w, buf, end > off ? end - 1 : off);
	if (unsafe)
		scan_preview(buf + m->match_off, m->match_len, 1, f->preview,
		    sizeof(f->preview));
	else
		scan_preview(buf + m->off, m->len, 0, f->preview,
		    sizeof(f->preview));
	if (w->run->o->fp_key != NULL) {
		crypto_generichash(h, sizeof(h), buf + m->off, m->len,
		    w->run->o->fp_key, SCAN_FP_KEY_BYTES);
		al_hex(h, sizeof(h), f->hash);
		sodium_memzero(h, sizeof(h));
	}
	return 0;
}

int
run_scan_bytes(struct run_worker *w, const struct run_job *j,
    const unsigned char *p, size_t n, struct al_err *err)
{
	const char *rel = j->rel ? j->rel : j->path;

	if (memchr(p, '\0', n < BINARY_PROBE ? n : BINARY_PROBE) != NULL) {
		atomic_fetch_add(&w->run->skipped, 1);
		return 0;
	}
	w->job = j;
	w->cnt_off = 0;
	w->cnt_line = 0;
	atomic_fetch_add(&w->run->files, 1);
	atomic_fetch_add(&w->run->bytes, n);
	return scan_buffer(w->run->e, w->scratch, rel, p, n, on_match, w, err);
}

/*
 * Read up to cap bytes of fd into buf: the count, or -1 (errno set).  A
 * read that stops short at an offset that is not a multiple of the page
 * size is taken as the end of the file without asking again: the kernel
 * (and FUSE, NFS) cut a regular file's reads only at page boundaries, so
 * that saves a read call per file, a tenth of a small file's cost.
 */
static ssize_t
read_full(int fd, unsigned char *buf, size_t cap)
{
	size_t off = 0;
	ssize_t got;

	while (off < cap) {
		got = read(fd, buf + off, cap - off);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1)
			return off > 0 ? (ssize_t)off : -1;
		if (got == 0)
			break;
		off += (size_t)got;
		if (off < cap && off % 4096 != 0)
			break;
	}
	return (ssize_t)off;
}

/*
 * A file the walk already knows is regular is read straight into the
 * worker's buffer: a read that ends short of the buffer is the whole file,
 * so most files cost open, one or two reads and close, without fstat.  A
 * file that fills the buffer, or one of unknown type, is looked at first:
 * big ones are mapped.
 */
static int
scan_file(struct run_worker *w, const struct run_job *j, struct al_err *err)
{
	struct stat st;
	ssize_t got;
	size_t cap = RUN_READ_MAX, size;
	void *map = MAP_FAILED;
	int fd, rc = 0;

	fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT)	/* tracked but deleted: nothing */
			return 0;
		run_warn(w->run, "cannot read %s: %s", j->path,
		    strerror(errno));
		return 0;
	}
	if (j->regular) {
		if (cap > w->run->max_size + 1)
			cap = w->run->max_size + 1;
		if ((got = read_full(fd, w->rbuf, cap)) == -1) {
			run_warn(w->run, "cannot read %s: %s", j->path,
			    strerror(errno));
			goto out;
		}
		if ((size_t)got < cap) {
			if (got == 0)
				atomic_fetch_add(&w->run->files, 1);
			else
				rc = run_scan_bytes(w, j, w->rbuf, (size_t)got,
				    err);
			goto out;
		}
		/* Filled the buffer: over the limit, or big. */
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		goto out;	/* directories (submodules), fifos, devices */
	size = (size_t)st.st_size;
	if ((uint64_t)st.st_size > w->run->max_size) {
		atomic_fetch_add(&w->run->skipped, 1);
		goto out;
	}
	if (size == 0) {
		atomic_fetch_add(&w->run->files, 1);
		goto out;
	}
	if (size <= RUN_READ_MAX) {
		if (lseek(fd, 0, SEEK_SET) == -1 ||
		    (got = read_full(fd, w->rbuf, size)) <= 0) {
			run_warn(w->run, "cannot read %s: %s", j->path,
			    strerror(errno));
			goto out;
		}
		rc = run_scan_bytes(w, j, w->rbuf, (size_t)got, err);
		goto out;
	}
	map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		run_warn(w->run, "cannot map %s: %s", j->path, strerror(errno));
		goto out;
	}
	(void)madvise(map, size, MADV_SEQUENTIAL);
	rc = run_scan_bytes(w, j, map, size, err);
out:
	if (map != MAP_FAILED)
		(void)munmap(map, size);
	(void)close(fd);
	return rc;
}

static void *
worker_main(void *arg)
{
	struct run_worker *w = arg;
	struct run *r = w->run;
	struct run_job *j;
	struct al_err err;
	sigset_t pipe_set;
	int rc;

	/*
	 * A task job may write to a child that has died: that must be EPIPE
	 * here, not the end of the process.  The mask dies with the thread.
	 */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	(void)pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
	while ((j = run_pop(r)) != NULL) {
		if (!atomic_load(&r->failed)) {
			al_err_clear(&err);
			if (j->fn != NULL)
				rc = j->fn(w, j, &err);
			else if (scan_config_path_allowed(r->o->config,
			    j->rel ? j->rel : j->path)) {
				atomic_fetch_add(&r->skipped, 1);
				rc = 0;
			} else if (j->data != NULL)
				rc = run_scan_bytes(w, j, j->data, j->len,
				    &err);
			else
				rc = scan_file(w, j, &err);
			if (rc != 0) {
				if (err.code == 0)
					(void)al_err_set(&err, rc, "%s: %s",
					    j->path, al_strerror(rc));
				run_fail(r, &err);
			}
		}
		atomic_fetch_add(&r->done, 1);
		run_job_free(j);
	}
	return NULL;
}

static int
cmp_finding(const void *a, const void *b)
{
	const struct scan_finding *x = a, *y = b;
	int c;

	if ((c = strcmp(x->path, y->path)) != 0)
		return c;
	if (x->commit != y->commit) {
		if (x->commit == NULL || y->commit == NULL)
			return x->commit == NULL ? -1 : 1;
		if ((c = strcmp(x->commit->id, y->commit->id)) != 0)
			return c;
	}
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return strcmp(x->rule->id, y->rule->id);
}

/* Path, rule and value together, then the oldest commit and place first. */
static int
cmp_occurrence(const void *a, const void *b)
{
	const struct scan_finding *x = a, *y = b;
	int c;

	if ((c = strcmp(x->path, y->path)) != 0)
		return c;
	if ((c = strcmp(x->rule->id, y->rule->id)) != 0)
		return c;
	if ((c = memcmp(x->value_id, y->value_id, sizeof(x->value_id))) != 0)
		return c;
	if (x->commit->seq != y->commit->seq)
		return x->commit->seq < y->commit->seq ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->col < y->col ? -1 : x->col > y->col;
}

static int
same_value(const struct scan_finding *x, const struct scan_finding *y)
{
	return strcmp(x->path, y->path) == 0 && x->rule == y->rule &&
	    memcmp(x->value_id, y->value_id, sizeof(x->value_id)) == 0;
}

/*
 * Over history one value is found in every version of its file: report it
 * once per path and rule, at the oldest commit that brought it in, with
 * the newest commit still holding it and every occurrence.
 */
static int
group_findings(struct scan_report *rep, struct al_err *err)
{
	struct scan_finding *f = rep->findings, *g;
	size_t i, j, k, n = rep->nfindings, out = 0;

	if ((rep->occ = calloc(n, sizeof(*rep->occ))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	qsort(f, n, sizeof(*f), cmp_occurrence);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && same_value(&f[i], &f[j]); j++)
			;
		for (k = i; k < j; k++) {
			rep->occ[k].commit = f[k].commit;
			rep->occ[k].line = f[k].line;
			rep->occ[k].col = f[k].col;
			if (k > i)
				free(f[k].path);
		}
		g = &f[out++];
		*g = f[i];
		g->count = j - i;
		g->occ = &rep->occ[i];
		g->last = f[j - 1].commit;
	}
	rep->nfindings = out;
	return 0;
}

void
scan_report_free(struct scan_report *rep)
{
	size_t i;

	if (rep == NULL)
		return;
	for (i = 0; i < rep->nfindings; i++)
		free(rep->findings[i].path);
	free(rep->findings);
	for (i = 0; i < rep->ncommits_owned; i++) {
		free(rep->commits_owned[i]->id);
		free(rep->commits_owned[i]->author);
		free(rep->commits_owned[i]->date);
		free(rep->commits_owned[i]);
	}
	free(rep->commits_owned);
	free(rep->occ);
	free(rep);
}

static int
start_workers(struct run *r, struct al_err *err)
{
	long ncpu;
	int i, rc;

	r->nw = r->o->threads;
	if (r->nw <= 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		r->nw = ncpu > 0 ? (int)(ncpu > 64 ? 64 : ncpu) : 1;
	}
	if ((r->w = calloc((size_t)r->nw, sizeof(*r->w))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	for (i = 0; i < r->nw; i++) {
		r->w[i].run = r;
		if ((rc = scan_scratch_new(r->e, &r->w[i].scratch, err)) != 0)
			return rc;
		if ((r->w[i].rbuf = malloc(RUN_READ_MAX)) == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory");
		if ((rc = pthread_create(&r->w[i].th, NULL, worker_main,
		    &r->w[i])) != 0)
			return al_err_set(err, AL_ESYS, "cannot start a scan "
			    "thread: %s", strerror(rc));
		r->w[i].started = 1;
	}
	return 0;
}

/* Close the queue, wait for the workers, merge their findings. */
static int
finish_workers(struct run *r, struct al_err *err)
{
	struct scan_report *rep = r->rep;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	size_t total = 0, k;
	int i, rc = 0;

	pthread_mutex_lock(&r->mu);
	r->closed = 1;
	pthread_cond_broadcast(&r->cv_job);
	pthread_mutex_unlock(&r->mu);
	while (r->o->progress != NULL &&
	    atomic_load(&r->done) < atomic_load(&r->queued)) {
		run_tick(r);
		(void)nanosleep(&ts, NULL);
	}
	for (i = 0; r->w != NULL && i < r->nw; i++)
		if (r->w[i].started)
			(void)pthread_join(r->w[i].th, NULL);
	for (i = 0; r->w != NULL && i < r->nw; i++)
		total += r->w[i].nf;
	if (total > 0 &&
	    (rep->findings = calloc(total, sizeof(*rep->findings))) == NULL)
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
	for (i = 0; r->w != NULL && i < r->nw; i++) {
		for (k = 0; k < r->w[i].nf; k++) {
			if (rc == 0)
				rep->findings[rep->nfindings++] = r->w[i].f[k];
			else
				free(r->w[i].f[k].path);
		}
		free(r->w[i].f);
		free(r->w[i].rbuf);
		scan_scratch_free(r->w[i].scratch);
	}
	free(r->w);
	r->w = NULL;
	if (rc == 0 && rep->nfindings > 0 && rep->findings[0].commit != NULL)
		rc = group_findings(rep, err);
	if (rep->nfindings > 1)
		qsort(rep->findings, rep->nfindings, sizeof(*rep->findings),
		    cmp_finding);
	return rc;
}

static int
source_stdin(struct run *r, struct al_err *err)
{
	struct run_job *j;
	size_t cap = 64 * 1024, n = 0;
	unsigned char *nb;
	ssize_t got;
	int rc = 0;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->path = strdup(r->o->stdin_name ? r->o->stdin_name : "-")) ==
	    NULL || (j->data = malloc(cap)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= r->max_size) {
				rc = al_err_set(err, AL_ETOOBIG, "standard "
				    "input is over %zu bytes (raise "
				    "--max-size)", r->max_size);
				goto out;
			}
			cap = cap * 2 > r->max_size ? r->max_size : cap * 2;
			if ((nb = realloc(j->data, cap)) == NULL) {
				rc = al_err_set(err, AL_ENOMEM, "out of "
				    "memory");
				goto out;
			}
			j->data = nb;
		}
		got = read(r->o->stdin_fd, j->data + n, cap - n);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			rc = al_err_set(err, AL_EIO, "cannot read standard "
			    "input: %s", strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	j->len = n;
	rc = run_push(r, j);
	j = NULL;
out:
	run_job_free(j);
	return rc;
}

int
scan_run(const struct scan_engine *e, const struct scan_opts *o,
    struct scan_report **out, struct al_err *err)
{
	struct run r;
	int rc = 0;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	r.e = e;
	r.o = o;
	r.max_size = o->max_file_size ? o->max_file_size :
	    SCAN_DEFAULT_MAX_FILE_SIZE;
	r.last_progress_ms = al_mono_ms();
	randombytes_buf(r.group_key, sizeof(r.group_key));
	pthread_mutex_init(&r.mu, NULL);
	pthread_mutex_init(&r.warn_mu, NULL);
	pthread_cond_init(&r.cv_job, NULL);
	pthread_cond_init(&r.cv_space, NULL);
	if ((r.rep = calloc(1, sizeof(*r.rep))) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = start_workers(&r, err)) != 0)
		goto finish;
	switch (o->source) {
	case SCAN_SRC_PATHS:
		rc = run_source_paths(&r, err);
		break;
	case SCAN_SRC_STDIN:
		rc = source_stdin(&r, err);
		break;
	case SCAN_SRC_STAGED:
		rc = run_source_diff(&r, 1, err);
		break;
	case SCAN_SRC_GIT_RANGE:
		rc = run_source_diff(&r, 0, err);
		break;
	case SCAN_SRC_GIT_HISTORY:
		rc = run_source_history(&r, err);
		break;
	default:
		rc = al_err_set(err, AL_EINVAL, "unknown scan source %d",
		    o->source);
	}
finish:
	{
		struct al_err ferr;
		int frc;

		al_err_clear(&ferr);
		frc = finish_workers(&r, &ferr);
		if (rc == 0 && frc != 0) {
			rc = frc;
			if (err)
				*err = ferr;
		}
	}
	if (atomic_load(&r.failed)) {	/* a worker's error comes first */
		rc = r.fail_err.code ? r.fail_err.code : AL_EIO;
		if (err)
			*err = r.fail_err;
	}
	r.rep->files = atomic_load(&r.files);
	r.rep->bytes = atomic_load(&r.bytes);
	r.rep->skipped = atomic_load(&r.skipped);
	r.rep->errors = atomic_load(&r.errors);
	if (rc == 0 && r.rep->errors > 0 && r.rep->files == 0 &&
	    r.rep->skipped == 0)
		rc = al_err_set(err, AL_EIO, "nothing could be read (%llu "
		    "error%s)", (unsigned long long)r.rep->errors,
		    r.rep->errors == 1 ? "" : "s");
	if (rc == 0) {
		*out = r.rep;
		r.rep = NULL;
	}
out:
	{
		struct run_job *j, *next;

		for (j = r.head; j != NULL; j = next) {
			next = j->next;
			run_job_free(j);
		}
	}
	scan_report_free(r.rep);
	sodium_memzero(r.group_key, sizeof(r.group_key));
	pthread_cond_destroy(&r.cv_job);
	pthread_cond_destroy(&r.cv_space);
	pthread_mutex_destroy(&r.mu);
	pthread_mutex_destroy(&r.warn_mu);
	return rc;
}

/* The run layer: sources feed jobs to a pool of scanning threads. */
#ifndef AIRLOCK_SCAN_RUN_INT_H
#define AIRLOCK_SCAN_RUN_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "scan_int.h"

/* Bytes of in-memory jobs (git blobs, diffs) that may wait in the queue. */
#define RUN_QUEUE_BYTES (32u * 1024 * 1024)
/* Files up to this size are read; bigger ones are mapped. */
#define RUN_READ_MAX (256u * 1024)

struct run_worker;

/*
 * One thing to scan: a file to open, bytes already in memory, or (fn set)
 * a task the worker runs itself, scanning what it produces; done(arg) is
 * called when such a job is freed, run or not.
 */
struct run_job {
	int			(*fn)(struct run_worker *, const struct run_job *,
				    struct al_err *);
	void			(*done)(void *);
	void			*arg;
	char			*path;	/* shown in findings */
	char			*rel;	/* matched against allowlists (or NULL) */
	unsigned char		*data;	/* NULL: open path */
	size_t			 len;
	uint32_t		*lines;	/* data line i is file line lines[i] */
	size_t			 nlines;
	const struct scan_commit *commit;
	int			 regular;	/* the walk saw a regular file */
	struct run_job		*next;
};

struct run_worker {
	struct run			*run;
	struct scan_scratch		*scratch;
	pthread_t			 th;
	int				 started;
	struct scan_finding		*f;
	size_t				 nf, capf;
	unsigned char			*rbuf;	/* RUN_READ_MAX bytes */
	/* Per job: where line counting got to. */
	const struct run_job		*job;
	size_t				 cnt_off;
	uint32_t			 cnt_line;
};

struct run {
	const struct scan_engine	*e;
	const struct scan_opts		*o;
	struct scan_report		*rep;
	size_t				 max_size;
	/* Random per run: the key of the findings' value_id. */
	unsigned char			 group_key[32];
	pthread_mutex_t			 mu;
	pthread_cond_t			 cv_job, cv_space;
	struct run_job			*head, *tail;
	size_t				 qbytes;
	int				 closed;
	_Atomic uint64_t		 files, bytes, skipped, errors, done,
					 queued;
	_Atomic int			 failed;
	struct al_err			 fail_err;	/* under mu */
	pthread_mutex_t			 warn_mu;
	struct run_worker		*w;
	int				 nw;
	int64_t				 last_progress_ms;
};

void	run_job_free(struct run_job *j);
/* Scan n bytes as job j (its path, rel, commit and line map). */
int	run_scan_bytes(struct run_worker *w, const struct run_job *j,
	    const unsigned char *p, size_t n, struct al_err *err) AL_WUR;
/* Hand a job to the workers (blocks while the queue is full). */
int	run_push(struct run *r, struct run_job *j) AL_WUR;
/* A problem with one input: warn and count it. */
void	run_warn(struct run *r, const char *fmt, ...) AL_PRINTF(2, 3);
/* Call the progress callback if it is time. */
void	run_tick(struct run *r);
/* Record a commit so the report owns it. */
int	run_add_commit(struct run *r, struct scan_commit *c) AL_WUR;

/* Sources. */
int	run_source_paths(struct run *r, struct al_err *err) AL_WUR;
int	run_source_diff(struct run *r, int staged, struct al_err *err) AL_WUR;
int	run_source_history(struct run *r, struct al_err *err) AL_WUR;

/* Unquote a path as git prints it ("a\tb" with C escapes); in place. */
void	run_git_unquote(char *s);

/* A buffered reader of lines (or exact byte counts) from a pipe (git.c). */
struct run_reader {
	int		 fd;
	unsigned char	*buf;
	size_t		 cap, start, end;
	int		 eof;
};

/*
 * Next line without its newline, NUL-terminated in place; NULL at the end.
 * A line longer than the buffer is cut (the rest comes as another line).
 */
char	*run_reader_line(struct run_reader *rd, size_t *len);
/* Copy exactly n bytes into out (or drop them when out is NULL); AL_EIO. */
int	run_reader_bytes(struct run_reader *rd, unsigned char *out, size_t n)
	    AL_WUR;
/*
 * The next n bytes, contiguous in the reader's own buffer, without taking
 * them (run_reader_bytes(rd, NULL, n) does); NULL when n is over the
 * buffer's size or the input ends first.
 */
const unsigned char *run_reader_peek(struct run_reader *rd, size_t n);

/* The separator of the fields of git's --format lines below. */
#define RUN_FIELD_SEP '\x1f'
/*
 * "ID\x1fAuthor <mail>\x1fDate" (modified in place) into a new commit the
 * report owns.  AL_EPROTO, AL_ENOMEM.
 */
int	run_git_commit(struct run *r, char *s, const struct scan_commit **out)
	    AL_WUR;

#endif

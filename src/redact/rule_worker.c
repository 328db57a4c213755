/*
 * The rule matcher on a second thread.  In bulk output the rules and the
 * automaton cost about the same per byte, and neither needs the other's
 * result until the chunk is settled: the stream hands the worker its
 * window, runs the automaton over the chunk meanwhile, and collects the
 * worker's hits before settling.  The window is copied into the worker's
 * own guarded buffer when held bytes must be joined to the chunk; it is
 * wiped after every scan.
 */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sodium.h>

#include "redact_int.h"

enum job_state {
	JOB_IDLE = 0,
	JOB_POSTED,
	JOB_COPIED,		/* the window is in win; scanning */
	JOB_DONE,
	JOB_QUIT,
};

/*
 * Handing a job over costs a futex wake only when the other side sleeps;
 * the poster, whose own scan usually ends about when the worker's does,
 * spins this many times before it sleeps.
 */
#define WAIT_SPINS	2000

struct worker_hit {
	size_t		 off, len;
	const char	*rule;
};

struct rule_worker {
	const struct redact	*r;
	pthread_t		 th;
	atomic_int		 state;		/* enum job_state */
	atomic_int		 sleepers;	/* threads in futex_wait */
	/* The job: window a[0..na) followed by b[0..nb). */
	const unsigned char	*a, *b;
	size_t			 na, nb;
	int			 keep;		/* copy, and keep the copy */
	int			 copied;	/* win holds this job's window */
	/* Its results. */
	int			 rc;
	struct worker_hit	*hits;
	size_t			 nhits, caphits;
	int			 hits_failed;	/* out of memory for hits */
	unsigned char		*win;		/* guarded */
	size_t			 win_cap;
	size_t			 win_used;	/* bytes not wiped yet */
};

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Set the state and wake the other side if it sleeps. */
static void
set_state(struct rule_worker *w, int st)
{
	atomic_store(&w->state, st);
	if (atomic_load(&w->sleepers) != 0)
		(void)syscall(SYS_futex, &w->state, FUTEX_WAKE_PRIVATE,
		    INT_MAX, NULL, NULL, 0);
}

/* Wait until the state is not `from` (spins first); the new state. */
static int
wait_change(struct rule_worker *w, int from, int spins)
{
	int st, i;

	for (i = 0; i < spins; i++) {
		if ((st = atomic_load(&w->state)) != from)
			return st;
		cpu_relax();
	}
	while ((st = atomic_load(&w->state)) == from) {
		atomic_fetch_add(&w->sleepers, 1);
		/* Returns at once if the state moved after the load above. */
		(void)syscall(SYS_futex, &w->state, FUTEX_WAIT_PRIVATE, from,
		    NULL, NULL, 0);
		atomic_fetch_sub(&w->sleepers, 1);
	}
	return st;
}

/*
 * The state of armored blocks at the end of p[0..n): 1 when the last
 * "-----BEGIN" in it is not followed by a "-----END" whose line has ended
 * (*off: where that BEGIN is), -1 when such a line closed the last one, 0
 * when p holds no marker.  Dashes are found eight bytes at a time.
 */
int
rx_armor(const unsigned char *p, size_t n, size_t *off)
{
	size_t i = 0, re;
	uint64_t v, z;
	int kind = 0;

	while (i < n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		if (n - i >= 8) {
			memcpy(&v, p + i, 8);
			v ^= 0x2d2d2d2d2d2d2d2dULL;	/* '-' becomes 0 */
			z = (v - 0x0101010101010101ULL) & ~v &
			    0x8080808080808080ULL;
			if (z == 0) {
				i += 8;
				continue;
			}
			i += (size_t)__builtin_ctzll(z) / 8;
		}
#endif
		if (p[i] != '-') {
			i++;
			continue;
		}
		for (re = i; re < n && p[re] == '-'; re++)
			;
		if (re - i >= 5 && n - re >= 5 && memcmp(p + re, "BEGIN",
		    5) == 0) {
			kind = 1;
			*off = re - 5;
		} else if (re - i >= 5 && n - re >= 3 &&
		    memcmp(p + re, "END", 3) == 0 &&
		    memchr(p + re, '\n', n - re) != NULL)
			kind = -1;
		i = re;
	}
	return kind;
}

static void
on_hit(void *arg, size_t off, size_t len, const char *rule)
{
	struct rule_worker *w = arg;
	struct worker_hit *nh;
	size_t k;

	if (w->nhits == w->caphits) {
		k = w->caphits ? w->caphits * 2 : 16;
		if ((nh = realloc(w->hits, k * sizeof(*nh))) == NULL) {
			w->hits_failed = 1;
			return;
		}
		w->hits = nh;
		w->caphits = k;
	}
	w->hits[w->nhits].off = off;
	w->hits[w->nhits].len = len;
	w->hits[w->nhits].rule = rule;
	w->nhits++;
}

/*
 * Copy the posted window into win; wipe what an older, longer window left
 * behind it.
 */
static int
copy_window(struct rule_worker *w)
{
	size_t n = w->na + w->nb, cap;
	unsigned char *nw;

	if (n > w->win_cap) {
		cap = (n + 4095) & ~(size_t)4095;
		if ((nw = sodium_malloc(cap)) == NULL)
			return AL_ENOMEM;
		if (w->win != NULL)
			sodium_free(w->win);	/* wipes it */
		w->win = nw;
		w->win_cap = cap;
		w->win_used = 0;
	}
	memcpy(w->win, w->a, w->na);
	if (w->nb)
		memcpy(w->win + w->na, w->b, w->nb);
	if (w->win_used > n)
		sodium_memzero(w->win + n, w->win_used - n);
	w->win_used = n;
	return 0;
}

/*
 * Scan the posted window (the poster waits for JOB_COPIED or JOB_DONE
 * before it touches what the job reads).  A window that is kept is wiped
 * by the next job or by rule_worker_free; any other copy right away.
 */
static int
scan_job(struct rule_worker *w)
{
	const unsigned char *p = w->b;
	size_t n = w->na + w->nb;
	int rc;

	w->nhits = 0;
	w->hits_failed = 0;
	w->copied = 0;
	if (w->na == 0 && !w->keep && w->win_used != 0) {
		sodium_memzero(w->win, w->win_used);	/* a kept window */
		w->win_used = 0;
	}
	if (w->na != 0 || w->keep) {
		if ((rc = copy_window(w)) != 0)
			return rc;
		p = w->win;
		w->copied = 1;
		if (w->keep)
			set_state(w, JOB_COPIED);
	}
	rc = w->r->rule_fn(w->r->rule_arg, p, n, on_hit, w);
	if (p == w->win && !w->keep) {
		sodium_memzero(w->win, n);
		w->win_used = 0;
	}
	if (rc == 0 && w->hits_failed)
		rc = AL_ENOMEM;
	return rc;
}

static void *
worker_main(void *arg)
{
	struct rule_worker *w = arg;
	int st = JOB_IDLE;

	for (;;) {
		/* After a job, the poster moves DONE to IDLE or QUIT. */
		while (st == JOB_IDLE || st == JOB_DONE)
			st = wait_change(w, st, 0);
		if (st == JOB_QUIT)
			break;
		w->rc = scan_job(w);
		set_state(w, JOB_DONE);
		st = JOB_DONE;
	}
	return NULL;
}

int
rule_worker_new(const struct redact *r, struct rule_worker **out)
{
	struct rule_worker *w;
	sigset_t all, old;
	int rc;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return AL_ENOMEM;
	w->r = r;
	atomic_init(&w->state, JOB_IDLE);
	atomic_init(&w->sleepers, 0);
	/* Signals stay with the thread that waits for them (signalfd). */
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->th, NULL, worker_main, w);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		free(w);
		return AL_ENOMEM;
	}
	*out = w;
	return 0;
}

void
rule_worker_post(struct rule_worker *w, const unsigned char *a, size_t na,
    const unsigned char *b, size_t nb, int keep)
{
	w->a = a;
	w->na = na;
	w->b = b;
	w->nb = nb;
	w->keep = keep;
	set_state(w, JOB_POSTED);
}

const unsigned char *
rule_worker_copied(struct rule_worker *w)
{
	int st;

	while ((st = atomic_load(&w->state)) == JOB_POSTED)
		(void)wait_change(w, st, WAIT_SPINS);
	return w->copied ? w->win : NULL;
}

void
rule_worker_wipe(struct rule_worker *w)
{
	if (w->win_used != 0)
		sodium_memzero(w->win, w->win_used);
	w->win_used = 0;
}

int
rule_worker_wait(struct rule_worker *w, redact_hit_fn hit, void *hit_arg)
{
	size_t k;
	int st;

	while ((st = atomic_load(&w->state)) == JOB_POSTED ||
	    st == JOB_COPIED)
		(void)wait_change(w, st, WAIT_SPINS);
	atomic_store(&w->state, JOB_IDLE);
	if (w->rc != 0 || hit == NULL)
		return w->rc;
	for (k = 0; k < w->nhits; k++)
		hit(hit_arg, w->hits[k].off, w->hits[k].len, w->hits[k].rule);
	return 0;
}

void
rule_worker_free(struct rule_worker *w)
{
	int rc;

	if (w == NULL)
		return;
	rc = rule_worker_wait(w, NULL, NULL);	/* a job still running */
	(void)rc;
	set_state(w, JOB_QUIT);
	(void)pthread_join(w->th, NULL);
	if (w->win != NULL)
		sodium_free(w->win);
	free(w->hits);
	free(w);
}

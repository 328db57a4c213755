/*
 * bench_http_floor (bench/http_floor*.c): the pieces that its two
 * transports share.  http_floor.c holds main, the group commit and the
 * routes of a lease cycle; http_floor_mhd.c serves them with
 * libmicrohttpd as the broker drives it, http_floor_raw.c with a bare
 * epoll loop.
 */
#ifndef AIRLOCK_BENCH_HTTP_FLOOR_H
#define AIRLOCK_BENCH_HTTP_FLOOR_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* As in src/broker/http_int.h and include/airlock/api.h. */
#define HTTP_CONN_MAX		4000
#define IDLE_CONN_TIMEOUT	120
#define LINE_LEN		600	/* one line of DIR/floor.log */
#define RAW_IN_MAX		16384	/* headers and body of one request */
#define RAW_OUT_MAX		2048	/* one reply */

/* The group commit's second thread, as src/broker/syncer.c. */
struct syncer {
	int		 fd;		/* DIR/floor.log */
	int		 go_fd;		/* loop -> thread */
	int		 done_fd;	/* thread -> loop */
	int		 busy;		/* a round is under way (loop side) */
	pthread_t	 thread;
	int		 started;
	pthread_mutex_t	 mu;		/* guards what follows */
	uint64_t	 want;		/* lines written before the round */
	uint64_t	 durable;	/* lines synced by the last round */
	int		 err;		/* errno of the last round, or 0 */
	int		 stop;
	uint64_t	 rounds;	/* fdatasync calls so far */
	int64_t		 sync_ns;	/* their total time */
	int64_t		 max_ns;	/* the longest */
};

/* What one request gets. */
struct reply {
	int		 status;
	const char	*ctype;
	int		 value;		/* add Cache-Control: no-store */
	size_t		 len;
	char		 body[512];
};

struct mreq;
struct rconn;

struct floor {
	int		 raw, sync;
	int		 lfd, ep, sigfd;
	int		 stopping;
	struct syncer	 sy;
	uint64_t	 written;	/* lines appended to floor.log */
	uint64_t	 durable;	/* lines known durable */
	size_t		 parked;	/* requests waiting for the disk */
	struct MHD_Daemon	*d;
	int		 resumed;	/* MHD_run again at once */
	struct mreq	*mparked;
	struct rconn	*rparked;
};

/*
 * Answer one request of a lease cycle into r.  Returns the line of
 * floor.log that the reply must wait for (--sync), 0 when it waits for
 * nothing.
 */
uint64_t	route(struct floor *f, const char *method, const char *path,
		    struct reply *r);

/* Start a sync round if a request waits and none is under way. */
void	sync_kick(struct floor *f);

/* A sync round ended (its eventfd is readable): update f->durable. */
void	sync_done(struct floor *f);

/*
 * Serve until f->stopping: f->sigfd (and f->sy.done_fd with --sync) are
 * already in f->ep; m_loop knows them by data.fd, r_loop by data.ptr
 * (their address in f).  Return -1 with errno on failure.
 */
int	m_loop(struct floor *f);
int	r_loop(struct floor *f);

#endif

/* Private to src/broker: the transport (http.c, peer.c, serve.c). */
#ifndef AIRLOCK_BROKER_HTTP_INT_H
#define AIRLOCK_BROKER_HTTP_INT_H

#include "broker_int.h"
#include "mhd_dl.h"

/* At most this many client connections at once (idle ones included). */
#define HTTP_CONN_MAX	4000

struct ident;
struct ident_cache;
struct request;
struct syncer;

struct server {
	struct broker		*b;
	struct mhd_dl		 mhd;		/* libmicrohttpd */
	struct MHD_Daemon	*d;
	int			 ep;		/* our epoll set */
	int			 sigfd;
	uint64_t		 next_conn;
	struct request		*parked;	/* suspended requests */
	int			 stopping;
	int			 resumed;	/* MHD_run again at once */
	int64_t		 sync_due;	/* sync by then (ms), 0: clean */
	struct syncer		*syncer;	/* fdatasync on a second thread */
	uint64_t		 durable;	/* audit lines synced and leases
						 * committed up to this seq */
	struct ident_cache	*icache;	/* executable hashes */
	int			 no_diag_logged; /* sock_diag missing, said */
};

/* One client connection: who is at the other end. */
struct conn {
	struct broker_caller	 caller;
	struct server		*srv;
	struct ident		*id;		/* owns the selectors */
	char			 repo[512];	/* normalized git remote */
	int			 fd;
	int			 ident_failed;
	int			 changed;	/* the peer called exec */
};

/*
 * Identify the peer of fd (SO_PEERCRED and what follows from it).  Never
 * NULL unless out of memory; a peer that cannot be identified gets a conn
 * with ident_failed set, whose every request is refused.
 */
struct conn *conn_new(struct server *s, int fd, uint64_t id);
void	conn_free(struct conn *c);
/*
 * Check the peer again before a request is served (full: identify it
 * anew, as before a value goes out): 0, or an error (with why) when it
 * exited or is no longer the program that connected; the latter sticks to
 * the connection.
 */
int	conn_refresh(struct conn *c, int full, struct al_err *err) AL_WUR;

/*
 * The sync thread (syncer.c).  syncer_request starts a round (audit_sync of
 * everything written so far) unless one is under way; syncer_fd becomes
 * readable when it ends, and syncer_result then gives its outcome (AL_EBUSY
 * while it runs).  syncer_stop lets a round under way finish.
 */
int	syncer_start(struct audit_log *log, struct syncer **out,
	    struct al_err *err) AL_WUR;
int	syncer_fd(const struct syncer *sy);
int	syncer_busy(const struct syncer *sy);
int	syncer_request(struct syncer *sy, struct al_err *err) AL_WUR;
int	syncer_result(struct syncer *sy, uint64_t *durable,
	    struct al_err *err);
void	syncer_stop(struct syncer *sy);

int	http_start(struct server *s, int lfd, struct al_err *err) AL_WUR;
int	http_loop(struct server *s, struct al_err *err) AL_WUR;
void	http_stop(struct server *s);

#endif

/* Private to src/broker: the transport (http.c, peer.c, serve.c). */
#ifndef AIRLOCK_BROKER_HTTP_INT_H
#define AIRLOCK_BROKER_HTTP_INT_H

#include <sys/types.h>

#include "airlock/identity.h"
#include "broker_int.h"
#include "mhd_dl.h"

/* At most this many client connections at once (idle ones included). */
#define HTTP_CONN_MAX	4000
/*
 * (fewer when the descriptor limit is lower: see conn_max).  One uid holds
 * at most conn_max - CONN_RESERVE of them (a sixteenth with few
 * descriptors): the rest are for other users.  A uid at its limit, or a table nearly full, makes room
 * by closing the connection idle the longest (of that uid, or of anyone),
 * never one holding a bound lease or waiting for an approval.
 */
#define CONN_RESERVE	256
#define CONN_SPARE	8
/*
 * Peers whose /proc entry (and status and cgroup files and exe link) is
 * held open while they are connected (the rest are looked up by pid at
 * each request, as they were identified).
 */
#define PEERS_HELD_MAX	64
/*
 * Descriptors kept for everything but connections: the stores, logs and
 * event sets, the ancestors the identity cache holds open (each with its
 * status file, a pidfd and its exe link at most), and the peers' /proc
 * entries, status and cgroup files and exe links.
 */
#define FD_SPARE	(64 + 4 * IDENT_CACHE_ANCESTORS + 4 * PEERS_HELD_MAX)

struct ident;
struct ident_cache;
struct repo_cache;

struct uid_count {
	uid_t	uid;
	size_t	n;
};
struct request;
struct syncer;

/* What tells the loop that the socket file may have changed. */
struct sockwatch {
	int		 ifd;		/* inotify; -1: none, or polled */
	int		 mfd;		/* /proc/self/mountinfo; -1: none */
	int		 dir_wd;	/* the socket's directory */
	const char	*name;		/* the socket's name in it */
	int		 due;		/* look at the file at the turn's end */
	int		 lost;		/* a watch went away (IN_IGNORED) */
	int		 polled;	/* nothing watched: looked at */
	int64_t		 poll_ms;	/* ... again then */
	int		 logged;	/* the fallback was logged */
};

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
	/*
	 * The socket file as bound (st_dev, st_ino): a broker whose socket
	 * was removed (its state directory deleted) or replaced can be
	 * reached by no client and stops (sockwatch.c).
	 */
	dev_t			 sock_dev;
	ino_t			 sock_ino;
	struct sockwatch	 watch;
	int64_t		 sync_due;	/* sync by then (ms), 0: clean */
	struct syncer		*syncer;	/* fdatasync on a second thread */
	uint64_t		 durable;	/* audit lines synced and leases
						 * committed up to this seq */
	struct ident_cache	*icache;	/* executable hashes */
	struct repo_cache	*repos;		/* repositories by cwd */
	unsigned		 conn_max;	/* connections at most */
	size_t			 uid_max;	/* per uid */
	struct uid_count	*uids;		/* open connections per uid */
	size_t			 nuids;
	struct conn		*idle_head;	/* idle connections, oldest */
	struct conn		*idle_tail;	/* first */
	uint64_t		 evicted;	/* since the last log line */
	int64_t			 evict_logged_ms;
	uint64_t		 unidentified;	/* since the last log line */
	int64_t			 unident_logged_ms;
	int			 no_diag_logged; /* sock_diag missing, said */
	size_t			 peers_held;	/* at most PEERS_HELD_MAX */
	struct rstream		*streams;	/* running redaction streams */
	int			 stream_fd;	/* eventfd: one of them ended */
};

/* Peers that could not be identified are logged this often at most. */
#define UNIDENT_LOG_MS	60000

/* One client connection: who is at the other end. */
struct conn {
	struct broker_caller	 caller;
	struct server		*srv;
	struct ident		*id;		/* owns the selectors */
	char			 repo[512];	/* normalized git remote */
	int			 repo_done;	/* looked up (repo.c) */
	int			 ident_failed;
	int			 ident_pending;	/* not yet: conn_identify */
	/* Connection management (http.c). */
	int			 fd;
	uid_t			 uid;		/* (uid_t)-1: not identified */
	int			 counted;	/* in srv->uids */
	int			 busy;		/* a request is under way */
	int			 held;		/* bound lease or approval */
	int			 closing;	/* shut down to make room */
	int			 in_idle;
	struct conn		*idle_prev;
	struct conn		*idle_next;
	int			 changed;	/* the peer called exec */
	/*
	 * Identified in full by dispatch for the request being handled
	 * now, and not yet taken by a recheck: the first recheck of that
	 * request takes it instead of identifying the peer again.
	 */
	int			 fresh;
	int			 holds_peer;	/* counted in peers_held */
};

/*
 * A new connection on fd, with its uid (SO_PEERCRED) for the connection
 * table, even when the peer cannot be identified.  NULL only when out of
 * memory.
 */
struct conn *conn_new(struct server *s, int fd, uint64_t id);
/*
 * Identify the peer (SO_PEERCRED and what /proc says about it), once.  A
 * peer that cannot be identified gets ident_failed, and its every request
 * is refused.
 */
void	conn_identify(struct conn *c);
void	conn_free(struct conn *c);
/*
 * Check the peer again before a request is served (full: identify it
 * anew, as before a value goes out): 0, or an error (with why) when it
 * exited or is no longer the program that connected; the latter sticks to
 * the connection.
 */
int	conn_refresh(struct conn *c, int full, struct al_err *err) AL_WUR;

/*
 * The repository of a connection's peer (repo.c), for broker_caller's
 * find_repo: looked up once, bounded, cached by working directory.
 */
int	repo_cache_new(struct repo_cache **out) AL_WUR;
void	repo_cache_free(struct repo_cache *rc);
const char *conn_find_repo(void *arg);

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

/*
 * The socket file's watch (sockwatch.c).  sockwatch_start adds its
 * descriptors to s->ep (s->watch.ifd and .mfd start at -1); when it cannot,
 * it logs so once and the file is looked at every 5 s instead: then
 * sockwatch_timeout gives the ms until the next look (-1 when watched).
 * sockwatch_read takes the events of a descriptor sockwatch_owns;
 * sockwatch_check, at the end of every turn, looks at the file when an
 * event (or the start, or the period) calls for it and sets s->stopping
 * when it is no longer the one bound.
 */
void	sockwatch_start(struct server *s);
int	sockwatch_owns(const struct server *s, int fd);
void	sockwatch_read(struct server *s, int fd);
int64_t	sockwatch_timeout(const struct server *s, int64_t now_ms);
void	sockwatch_check(struct server *s, int64_t now_ms);
void	sockwatch_stop(struct server *s);

/* Add fd to the loop's epoll set (s->ep), for events; -1 with errno. */
int	loop_wait_on(struct server *s, int fd, uint32_t events) AL_WUR;

int	http_start(struct server *s, int lfd, struct al_err *err) AL_WUR;
int	http_loop(struct server *s, struct al_err *err) AL_WUR;
void	http_stop(struct server *s);

#endif

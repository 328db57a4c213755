/* Private to src/broker: the transport (http.c, peer.c, serve.c). */
#ifndef AIRLOCK_BROKER_HTTP_INT_H
#define AIRLOCK_BROKER_HTTP_INT_H

#include "broker_int.h"

/* At most this many client connections at once (idle ones included). */
#define HTTP_CONN_MAX	4000

struct MHD_Daemon;
struct ident;
struct ident_cache;
struct request;

struct server {
	struct broker		*b;
	struct MHD_Daemon	*d;
	int			 ep;		/* our epoll set */
	int			 sigfd;
	uint64_t		 next_conn;
	struct request		*parked;	/* suspended requests */
	int			 stopping;
	int			 resumed;	/* MHD_run again at once */
	int64_t			 dirty_since_us; /* unsynced lines, no waiter */
	struct ident_cache	*icache;	/* executable hashes */
};

/* One client connection: who is at the other end. */
struct conn {
	struct broker_caller	 caller;
	struct ident		*id;		/* owns the selectors */
	char			 repo[512];	/* normalized git remote */
	int			 ident_failed;
};

/*
 * Identify the peer of fd (SO_PEERCRED and what follows from it).  Never
 * NULL unless out of memory; a peer that cannot be identified gets a conn
 * with ident_failed set, whose every request is refused.
 */
struct conn *conn_new(struct server *s, int fd, uint64_t id);
void	conn_free(struct conn *c);

int	http_start(struct server *s, int lfd, struct al_err *err) AL_WUR;
int	http_loop(struct server *s, struct al_err *err) AL_WUR;
void	http_stop(struct server *s);

#endif

/* Private to src/proxy. */
#ifndef AIRLOCK_PROXY_INT_H
#define AIRLOCK_PROXY_INT_H

#include <pthread.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "airlock/proxy.h"
#include "airlock/redact.h"
#include "ossl_dl.h"

#define PROXY_HOST_MAX		255
#define PROXY_CRED_LEN		32	/* hex characters */
#define PROXY_RUN_ID_MAX	64
#define PROXY_LEAVES_MAX	64	/* hosts with a minted leaf per run */

/* ---- the run's CA (ca.c) ------------------------------------------------- */

struct proxy_leaf {
	char	 host[PROXY_HOST_MAX + 1];
	SSL_CTX	*ctx;
};

struct proxy_ca {
	const struct ossl_dl	*dl;		/* the proxy's table */
	EVP_PKEY		*key;		/* the CA's key: memory only */
	X509			*cert;
	EVP_PKEY		*leaf_key;	/* shared by the run's leaves */
	char			*pem;		/* the CA certificate */
	int64_t			 not_after;
	pthread_mutex_t		 lock;		/* leaves */
	struct proxy_leaf	 leaves[PROXY_LEAVES_MAX];
	size_t			 nleaves;
};

int	ca_init(struct proxy_ca *ca, const struct ossl_dl *dl,
	    const char *run_id, int64_t not_after, struct al_err *err) AL_WUR;
void	ca_release(struct proxy_ca *ca);
/* The server context for host (minted on first use, cached); NULL if not. */
SSL_CTX	*ca_leaf_ctx(struct proxy_ca *ca, const char *host);

/* ---- placeholders (placeholder.c) ---------------------------------------- */

/* A fresh placeholder drawn from fmt (NULL: the default), malloc'd. */
int	placeholder_new(const char *name, const char *fmt, char **out,
	    struct al_err *err) AL_WUR;

/* ---- a run (run.c) ------------------------------------------------------- */

struct run_secret {
	char			*name;
	struct al_secret	*value;
	char			**hosts;
	size_t			 nhosts;
	int			 inject;
	char			*headers;	/* extra credential headers */
	char			*placeholder;
	struct redact		*ph;	/* finds the placeholder, any encoding */
};

struct proxy_run {
	char			 id[PROXY_RUN_ID_MAX + 1];
	char			 cred[PROXY_CRED_LEN + 1];
	struct run_secret	*s;
	size_t			 n;
	struct redact		*values;	/* masks the values in responses */
	struct proxy_ca		 ca;
	int64_t			 expires;
	/* Under the hub's lock: */
	unsigned long		 owner;		/* uid (proxy_run_set_owner) */
	unsigned		 refs;		/* the hub's, one per connection */
	int			 dead;
	struct proxy_run	*next;
};

int	run_new(const struct ossl_dl *dl, const char *run_id,
	    const struct proxy_secret *secrets,
	    size_t n, int64_t expires, struct proxy_run **out,
	    struct al_err *err) AL_WUR;
void	run_free(struct proxy_run *r);
/* Whether the run is usable now (alive, not past its end); hub locked. */
int	run_alive(const struct proxy_run *r);
/* Bit i set when secret i's placeholder is in p[0..n) (any encoding). */
int	run_find(const struct proxy_run *r, const void *p, size_t n,
	    uint64_t *hits) AL_WUR;
/*
 * Call fn for each placeholder in p[0..n) (any encoding): secret i, and
 * where its match lies in p.  One pass per secret, so a caller with many
 * small fields joins them (NUL between them: no encoding holds one).
 */
typedef void (*run_span_fn)(void *arg, size_t i, unsigned long long off,
    unsigned long long len);
int	run_find_spans(const struct proxy_run *r, const void *p, size_t n,
	    run_span_fn fn, void *arg) AL_WUR;
/* Whether secret i may go to host:port. */
int	run_bound(const struct proxy_run *r, size_t i, const char *host,
	    int port);

/* ---- the hub (hub.c) ----------------------------------------------------- */

struct conn;

struct proxy {
	int			 lfd;
	int			 hfd;		/* handoff socket, or -1 */
	char			 handoff[48];	/* its abstract name */
	int			 wake_fd;	/* eventfd: stop accepting */
	int			 port;
	int			 idle_ms;
	size_t			 buffer_max;	/* request bytes, all conns */
	size_t			 buffered;	/* under lock */
	struct ossl_dl		 dl;		/* OpenSSL and zlib, loaded */
	SSL_CTX			*upstream;	/* verified client context */
	proxy_event_fn		 on_event;
	void			*event_arg;
	pthread_t		 acceptor;
	int			 started;
	pthread_mutex_t		 lock;
	pthread_cond_t		 idle;		/* nconns reached 0 */
	struct proxy_run	*runs;
	struct conn		*conns;
	size_t			 nconns;
	size_t			 nevicted;	/* shut down, not yet done */
	/* Threads whose connection is done, to join (they end right after). */
	pthread_t		*done;
	size_t			 ndone, done_cap;
	int			 stopping;
};

/*
 * Give c the live run whose credential is cred (a reference, dropped by
 * hub_conn_done); -1 if there is none, -2 if the run's owner holds
 * PROXY_USER_CONNS_MAX connections already.
 */
int	hub_conn_auth(struct proxy *p, struct conn *c, const char *cred,
	    size_t len);
/*
 * A connection thread's last step with the hub: unlink, close, free c and
 * list the thread to be joined (it may still release its own state, but
 * the hub, and the OpenSSL table in it, outlive the join).
 */
void	hub_conn_done(struct proxy *p, struct conn *c);
int	hub_run_alive(struct proxy *p, struct proxy_run *r);
/* Count n more request bytes against the budget; -1 if it would pass it. */
int	hub_buffer_take(struct proxy *p, size_t n);
void	hub_buffer_give(struct proxy *p, size_t n);
/* Set the connection's upstream descriptor (so an ending run can stop it). */
void	hub_conn_set_ufd(struct proxy *p, struct conn *c, int fd);

/* ---- headers (headers.c) ------------------------------------------------- */

#define PROXY_HDRS_MAX	128

/* Headers as llhttp hands them over, in one buffer. */
struct hdr {
	size_t	name_off, name_len;
	size_t	val_off, val_len;
};

struct hcol {
	struct al_buf	buf;
	struct hdr	h[PROXY_HDRS_MAX];
	size_t		n;
	int		in_value;
	int		overflow;
};

void	hcol_reset(struct hcol *c);
/* Append a piece of a name or of a value; -1 past the limits. */
int	hcol_field(struct hcol *c, const char *p, size_t n);
int	hcol_value(struct hcol *c, const char *p, size_t n);
int	hname_is(const struct hcol *c, size_t i, const char *name);
const char *hval(const struct hcol *c, size_t i);
/* Index of the first header called name, or -1. */
long	hfind(const struct hcol *c, const char *name);
/* Hop-by-hop and framing headers the proxy sets itself. */
int	hop_header(const struct hcol *c, size_t i);

/* ---- relaying a response (response.c) ------------------------------------ */

#define PROXY_READ_CHUNK	(256 * 1024)
#define PROXY_OBUF_MAX		(256 * 1024)
#define PROXY_OBUF_HEAD		16	/* room for a chunk's size line */

/*
 * A connection's buffers, kept for its life and wiped between requests:
 * guarded memory is costly to map and unmap for every request.
 */
struct relay_bufs {
	struct al_buf	 out;		/* the request upstream (guarded) */
	struct hcol	 rhc;		/* response headers (guarded) */
	struct al_buf	 rhead;		/* response head, unmasked (guarded) */
	struct al_buf	 masked;	/* response head, masked */
	unsigned char	*rbuf;		/* upstream reads (guarded) */
	unsigned char	*obuf;		/* a masked chunk (guarded) */
	struct al_buf	 ws_rest;	/* upstream bytes after a 101 (guarded) */
};

int	relay_bufs_init(struct relay_bufs *b) AL_WUR;
void	relay_bufs_release(struct relay_bufs *b);
/*
 * Send b->out (the rewritten request) upstream and relay the response to
 * the client, chunked, through the run's redactor.  0: it went through
 * whole; 1: nothing reached the client yet (it may get a 502 with why);
 * -1: the client connection must be closed.  *status is what the client
 * got, *down the body bytes sent.  With ws (a WebSocket handshake), a 101
 * is passed on (its head masked, without chunked framing) and ends the
 * exchange with *status 101; what upstream sent after it is in
 * b->ws_rest.
 */
int	relay_exchange(struct conn *c, struct relay_bufs *b, int is_head,
	    int ws, int *status, uint64_t *down, char *why, size_t whysz);

/* ---- a WebSocket (ws.c) -------------------------------------------------- */

struct ws_result {
	long		blocked;	/* the secret found in a frame, or -1 */
	int		bad;		/* a malformed frame ended it */
	int		timed_out;
	uint64_t	bytes_up, bytes_down;
};

/*
 * Relay frames both ways after a 101 (ws: relay_exchange was asked for a
 * WebSocket and upstream switched): b->ws_rest holds what upstream sent
 * after its head, crest what the client sent after its request.  Returns
 * when either side closes or is idle past the proxy's idle time; 1 if a
 * placeholder in a client frame ended it (the client got a close frame),
 * else 0.  Both connections must be closed afterwards.
 */
int	ws_relay(struct conn *c, struct relay_bufs *b, const void *crest,
	    size_t crest_len, struct ws_result *res);

/* ---- one client connection (conn.c, request.c) --------------------------- */

struct conn {
	struct proxy		*p;
	struct proxy_run	*run;
	int			 cfd;
	int			 ufd;
	int			 handoff;	/* cfd passes the client's */
	SSL			*cssl;
	SSL			*ussl;
	char			 host[PROXY_HOST_MAX + 1];
	int			 port;
	int			 evicted;	/* hub's lock: shut, unauthenticated */
	struct conn		*next;
};

/*
 * Append p[0..n) to out with each placeholder of the secrets in mask
 * replaced by its value (raw).  The _basic form takes a whole
 * "Basic <base64>" header value and replaces inside the decoded
 * credentials (an undecodable one is replaced in as it is).  0, or an
 * AL_E code from the buffer.
 */
int	request_subst(const struct proxy_run *r, uint64_t mask, const char *p,
	    size_t n, struct al_buf *out) AL_WUR;
int	request_subst_basic(const struct proxy_run *r, uint64_t mask,
	    const char *v, size_t n, struct al_buf *out) AL_WUR;

/*
 * c's client socket is now fd (a handed-over connection); the handoff
 * socket it replaces is closed.
 */
void	hub_conn_set_cfd(struct proxy *p, struct conn *c, int fd);

/* The connection thread. */
void	*conn_main(void *arg);
/* Serve requests inside the TLS session until the client is done. */
void	conn_serve(struct conn *c);
/* Write everything (TLS) on s, one of c's sessions; 0 or -1. */
int	conn_ssl_write(const struct conn *c, SSL *s, const void *p, size_t n);
/* A short plain reply on the client's TLS session, with a text body. */
int	conn_reply(struct conn *c, int status, const char *reason,
	    const char *body);
/* Open the verified upstream TLS session; 0, or -1 with why in msg. */
int	conn_upstream(struct conn *c, char *msg, size_t msgsz);
void	conn_upstream_close(struct conn *c);

#endif

/*
 * airlock proxy: the credential-injecting HTTPS proxy behind `run --proxy`.
 *
 * One proxy (struct proxy) listens on a loopback port and serves any number
 * of runs (struct proxy_run).  A run's child gets placeholders instead of
 * secret values, and the proxy URL with the run's own credential
 * (http://airlock:<credential>@127.0.0.1:<port>); the values stay in the
 * process that owns the proxy (the broker), in guarded memory.
 *
 * Per connection:
 *   CONNECT host:port with Proxy-Authorization: Basic airlock:<credential>
 *   (wrong, missing or of an ended run: 407; anything but CONNECT: 405)
 *   -> TLS with the client, terminated with a leaf certificate for host
 *      minted on the fly by the run's own CA (ALPN http/1.1 only; the SNI,
 *      when sent, must be host)
 *   -> each HTTP/1.1 request parsed (llhttp); its Host header must name the
 *      CONNECT host, or 421; placeholders looked for in the target, every
 *      header and the body, in every encoding the redactor knows:
 *        a placeholder for a host its secret is not bound to: 403;
 *        in the query or the body without the secret's opt-in: 403;
 *        in a header (raw, or inside "Authorization: Basic" base64 of
 *        user:placeholder): replaced by the value;
 *   -> the request sent upstream over TLS, verified against the system
 *      trust store (plus opts.upstream_ca_file), asking for an identity
 *      encoding; the response comes back chunked, its headers and body
 *      through a redactor of the run's values.
 *   A WebSocket handshake is such a request (extensions dropped); after a
 *   101 the frames are relayed both ways: a placeholder in a client frame
 *   ends the connection (never substituted), server frames are masked.
 * Every request ends in one event (proxy_event_fn), blocked or not.
 *
 * Threads: proxy_new starts an accept thread; each connection gets a thread
 * of its own.  proxy_run_add, proxy_run_end and proxy_free may be called
 * from any one thread (the broker's loop); the event callback is called
 * from connection threads and must be thread-safe.
 */
#ifndef AIRLOCK_PROXY_H
#define AIRLOCK_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "airlock/base.h"

/* Where a secret's value may be put besides headers (opt-in). */
#define PROXY_INJECT_BODY	0x1
#define PROXY_INJECT_QUERY	0x2

/* Most secrets in one run, hosts per secret. */
#define PROXY_SECRETS_MAX	64
#define PROXY_HOSTS_MAX		32
/* Longest request head and body the proxy reads before deciding. */
#define PROXY_HEAD_MAX		(64 * 1024)
#define PROXY_BODY_MAX		(16 * 1024 * 1024)
#define PROXY_BUFFER_MAX	((size_t)256 * 1024 * 1024)
/* A placeholder is at most this long (its format's length). */
#define PROXY_PLACEHOLDER_MAX	(64 * 1024)
/* The proxy URL's user name; the password is the run's credential. */
#define PROXY_USER		"airlock"

struct proxy;
struct proxy_run;

/* One request's outcome, for the audit log.  Strings valid during the call. */
struct proxy_event {
	const char	*run_id;
	/* "proxy_request" (forwarded, or refused before any secret moved)
	 * or "egress_blocked" (a placeholder bound for the wrong place). */
	const char	*event;
	const char	*secret;	/* the secret involved, or NULL */
	const char	*host;		/* CONNECT host */
	int		 port;
	const char	*method;	/* may be NULL (unparsable request) */
	const char	*path;		/* query values replaced by "..." */
	int		 status;	/* what the client got */
	uint64_t	 bytes_up;	/* request bytes sent upstream */
	uint64_t	 bytes_down;	/* response bytes sent to the client */
	const char	*reason;	/* why it was refused, or NULL */
};

typedef void (*proxy_event_fn)(void *arg, const struct proxy_event *ev);

struct proxy_opts {
	/* Port to listen on at 127.0.0.1; 0: any free port. */
	int		 port;
	/* Extra trust anchors for upstream servers (PEM); NULL: none. */
	const char	*upstream_ca_file;
	proxy_event_fn	 on_event;	/* may be NULL */
	void		*event_arg;
	/* Idle time after which a connection is closed (0: 60 s). */
	int		 idle_ms;
	/*
	 * Request bytes all connections together may hold while they are
	 * read and rewritten (0: PROXY_BUFFER_MAX); past it, 503.
	 */
	size_t		 buffer_max;
};

/*
 * Start listening and accepting.  AL_ESYS (socket, thread), AL_ECRYPTO
 * (TLS setup, unreadable upstream_ca_file), AL_ENOMEM.
 */
int	proxy_new(const struct proxy_opts *o, struct proxy **out,
	    struct al_err *err) AL_WUR;
/* Stop accepting, end every run and connection, wipe, free.  NULL: no-op. */
void	proxy_free(struct proxy *p);
int	proxy_port(const struct proxy *p);
/*
 * The name of the proxy's handoff socket, an abstract Unix socket (the
 * name without its leading NUL byte) on which a process may pass a client
 * connection it accepted (SCM_RIGHTS, with one byte of data): the proxy
 * serves it as if it had connected to the port, and no process copies
 * its bytes.  Only a connected TCP socket is taken.  NULL when there is
 * none (use the port).
 */
const char *proxy_handoff(const struct proxy *p);

/* One secret of a run. */
struct proxy_secret {
	const char		*name;	/* as the audit log and masks name it */
	struct al_secret	*value;	/* taken over (also on failure) */
	/* Patterns of the hosts it may go to: "api.example.com",
	 * "*.example.com", "host:8443" (no port: any port). */
	char *const		*hosts;
	size_t			 nhosts;
	int			 inject;	/* PROXY_INJECT_* */
	/*
	 * More header names the value may be put in, besides the credential
	 * headers (see proxy_cred_header): comma-separated, case aside;
	 * NULL: none.
	 */
	const char		*headers;
	/*
	 * The placeholder's format (see proxy_format_check); NULL: 32
	 * random letters and digits.  Never derived from the value.
	 */
	const char		*format;
};

/*
 * Add a run: a fresh credential, a CA whose certificate is valid from a
 * minute ago until expires (seconds since the epoch), a placeholder per
 * secret (from its format).  Every value is taken over, even on failure.
 * AL_EINVAL: a secret without hosts, a bad host pattern or format, a
 * value shorter than 4 bytes or holding a control character (it could not
 * go in a header); AL_ECRYPTO, AL_ENOMEM.  The run is served until proxy_run_end or expires.
 */
int	proxy_run_add(struct proxy *p, const char *run_id,
	    const struct proxy_secret *secrets, size_t n, int64_t expires,
	    struct proxy_run **out, struct al_err *err) AL_WUR;
/*
 * Whose run r is (the uid that asked for it), before its credential is
 * handed out.  The runs of one user hold at most PROXY_USER_CONNS_MAX of
 * the proxy's connections, so that others always find room; past that a
 * CONNECT gets 503.
 */
#define PROXY_USER_CONNS_MAX	448
void	proxy_run_set_owner(struct proxy *p, struct proxy_run *r,
	    unsigned long owner);
/*
 * End a run: its credential stops working (407), its connections are
 * closed, its values and CA key wiped once the last connection thread
 * lets go.  The pointer is invalid afterwards.
 */
void	proxy_run_end(struct proxy *p, struct proxy_run *r);

/* The placeholder of secret i (as added), the credential, the CA (PEM). */
const char *proxy_run_placeholder(const struct proxy_run *r, size_t i);
const char *proxy_run_credential(const struct proxy_run *r);
const char *proxy_run_ca_pem(const struct proxy_run *r);
const char *proxy_run_id(const struct proxy_run *r);

/*
 * Check a placeholder format: literal letters, digits, '-', '_', '.' and
 * groups {CLASS:N}, N (1-256) random characters of CLASS: alnum, alpha,
 * lower, upper, digit, hex (0-9a-f), HEX (0-9A-F), base64url (alnum, - and
 * _); at least 64 random bits in all ("ghp_{alnum:36}").  NULL is fine
 * (the default).  AL_EINVAL naming the secret and what is wrong.
 */
int	proxy_format_check(const char *name, const char *fmt,
	    struct al_err *err) AL_WUR;

/*
 * Whether a header called name[0..n) carries credentials, so that a
 * placeholder in it is replaced by its value: Authorization, Cookie, and
 * names ending in "-Token" or "-Key" (X-Api-Key, Private-Token), except
 * Sec-* (set by the client's library, and Sec-WebSocket-Key is answered
 * with its hash) and Idempotency-Key (APIs echo it back); or one of extra
 * (comma-separated, may be NULL).  Case-insensitive.  Proxy-Authorization
 * is not one: it is never forwarded.
 */
int	proxy_cred_header(const char *name, size_t n, const char *extra);

/*
 * Whether host:port matches pattern ("*" matches any run of characters,
 * case-insensitive; a pattern without a port matches any port).
 */
int	proxy_host_match(const char *pattern, const char *host, int port);

#endif

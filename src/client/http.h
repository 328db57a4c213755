/*
 * Private to src/client: reading the broker's HTTP/1.1 replies.
 *
 * Both ends are airlock's, so the parser accepts exactly what the broker
 * sends and nothing looser: an "HTTP/1.1 NNN reason" status line (200-599;
 * no interim replies, none is ever asked for), header lines ending in CRLF
 * with token names and no folding or control characters, framing by one
 * Content-Length (digits only) or by "Transfer-Encoding: chunked" (hex
 * sizes, no extensions), never both, and no bytes after the reply.  Every
 * part has a length limit below.
 *
 * A value (a 200 reply of API_CT_VALUE to a value request) is read from the
 * source straight into new guarded memory; bytes of it that arrived in the
 * receive buffer together with the headers are copied out and wiped there.
 * A value never goes into the JSON buffer: a value reply to any other
 * request, or a 200 of another type to a value request, is refused unread.
 */
#ifndef AIRLOCK_CLIENT_HTTP_H
#define AIRLOCK_CLIENT_HTTP_H

#include <stddef.h>
#include <sys/types.h>

#include "airlock/base.h"

#define HTTP_BUF_SIZE	16384		/* the receive buffer */
#define HTTP_LINE_MAX	1024		/* a status, header or trailer line */
#define HTTP_HEAD_MAX	8192		/* the status line and all headers */
#define HTTP_FIELDS_MAX	32		/* header lines; trailer lines */
#define HTTP_CTYPE_MAX	128		/* a Content-Type, with its NUL */
#define HTTP_JSON_MAX	(8 * 1024 * 1024)	/* a JSON (or text) body */

/* Where replies come from: the broker's socket, or a test's bytes. */
struct http_src {
	/*
	 * Read at most n (> 0) bytes into p: the count, 0 at the end of the
	 * stream, or -1 with err set (timeout, connection error).
	 */
	ssize_t		(*read)(void *ctx, void *p, size_t n,
			    struct al_err *err);
	void		 *ctx;
	size_t		  off;		/* next unread byte in buf */
	size_t		  len;		/* bytes in buf */
	size_t		  dirty;	/* buf[0, dirty) may hold reply bytes */
	unsigned char	  buf[HTTP_BUF_SIZE];
};

struct http_reply {
	long			 status;
	char			 ctype[HTTP_CTYPE_MAX];	/* "" if none */
	char			 lease[33];	/* Airlock-Lease; "" if none */
	int			 close;	/* the connection must not be reused */
	int			 got_any;	/* a byte of it arrived */
	/* The body unless it is a value (init by the caller; max applies). */
	struct al_buf		*body;
	struct al_secret	*value;	/* the value, closed; NULL if none */
	/*
	 * Set by the caller of an upgrade request: a 101 reply is taken (it
	 * has no body; the connection then carries another protocol).
	 */
	int			 upgrade;
};

void	http_src_init(struct http_src *s, ssize_t (*read)(void *, void *,
	    size_t, struct al_err *), void *ctx);
/* Forget buffered bytes, wiping them (a new connection). */
void	http_src_reset(struct http_src *s);

/*
 * Read one reply into r (status, ctype, close, body or value).  want_value:
 * a 200 reply must be API_CT_VALUE; its body goes into r->value (at most
 * API_VALUE_MAX).  Every other reply goes into r->body.  The receive buffer
 * is wiped before returning.  AL_EPROTO: malformed (the message says how);
 * AL_ETOOBIG: over a limit; otherwise the read function's error.  On error
 * r->close is set and r->value is NULL.
 */
int	http_read_reply(struct http_src *s, int want_value,
	    struct http_reply *r, struct al_err *err) AL_WUR;

#endif

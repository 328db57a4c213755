/*
 * The requests inside one tunnel: each is parsed (llhttp), checked for
 * placeholders, rewritten for upstream (values in headers where the secret
 * is bound; identity encoding asked for), sent, and its response streamed
 * back chunked through a redactor of the run's values.
 *
 * A request is read whole (head and body, up to PROXY_BODY_MAX) before
 * anything is sent upstream: a placeholder late in a body must stop the
 * request before any of it left.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <llhttp.h>
#include <sodium.h>
#include <zlib.h>

#include "proxy_int.h"

/* The proxy's OpenSSL and zlib table, from a connection. */
#define DL(c)	(&(c)->p->dl)

#define HDRS_MAX	128
#define URL_MAX		(16 * 1024)
#define READ_CHUNK	(64 * 1024)

/* Headers as llhttp hands them over, in one buffer. */
struct hdr {
	size_t	name_off, name_len;
	size_t	val_off, val_len;
};

struct hcol {
	struct al_buf	buf;
	struct hdr	h[HDRS_MAX];
	size_t		n;
	int		in_value;
	int		overflow;
};

static void
hcol_reset(struct hcol *c)
{
	al_buf_reset(&c->buf);
	c->n = 0;
	c->in_value = 0;
	c->overflow = 0;
}

static int
hcol_field(struct hcol *c, const char *p, size_t n)
{
	if (c->n == 0 || c->in_value) {
		if (c->n == HDRS_MAX) {
			c->overflow = 1;
			return -1;
		}
		c->h[c->n].name_off = c->buf.len;
		c->h[c->n].name_len = 0;
		c->h[c->n].val_off = c->h[c->n].val_len = 0;
		c->n++;
		c->in_value = 0;
	}
	if (al_buf_append(&c->buf, p, n) != 0) {
		c->overflow = 1;
		return -1;
	}
	c->h[c->n - 1].name_len += n;
	return 0;
}

static int
hcol_value(struct hcol *c, const char *p, size_t n)
{
	if (c->n == 0)
		return -1;
	if (!c->in_value) {
		c->h[c->n - 1].val_off = c->buf.len;
		c->in_value = 1;
	}
	if (al_buf_append(&c->buf, p, n) != 0) {
		c->overflow = 1;
		return -1;
	}
	c->h[c->n - 1].val_len += n;
	return 0;
}

static int
hname_is(const struct hcol *c, size_t i, const char *name)
{
	return c->h[i].name_len == strlen(name) &&
	    strncasecmp((const char *)c->buf.data + c->h[i].name_off, name,
	    c->h[i].name_len) == 0;
}

static const char *
hval(const struct hcol *c, size_t i)
{
	return (const char *)c->buf.data + c->h[i].val_off;
}

/* Index of the first header called name, or -1. */
static long
hfind(const struct hcol *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (hname_is(c, i, name))
			return (long)i;
	return -1;
}

/* Hop-by-hop and framing headers the proxy sets itself. */
static int
hop_header(const struct hcol *c, size_t i)
{
	static const char *const names[] = { "connection", "keep-alive",
	    "proxy-connection", "proxy-authorization", "proxy-authenticate",
	    "te", "trailer", "transfer-encoding", "upgrade", "expect",
	    "content-length", "accept-encoding", NULL };
	size_t k;

	for (k = 0; names[k] != NULL; k++)
		if (hname_is(c, i, names[k]))
			return 1;
	return 0;
}

/* ---- the request ---------------------------------------------------------- */

struct req {
	struct conn	*c;
	struct hcol	 hc;
	struct al_buf	 url;
	struct al_buf	 body;
	int		 error;		/* status to answer a bad request with */
	int		 complete;
	/*
	 * Kept for the connection's life and reset (wiped) between uses:
	 * guarded memory is costly to map and unmap for every request.
	 */
	struct al_buf	 out;		/* the request upstream (guarded) */
	struct al_buf	 head;		/* its headers, to search (plain) */
	struct hcol	 rhc;		/* response headers (guarded) */
	struct al_buf	 rhead;		/* response head, unmasked (guarded) */
	struct al_buf	 masked;	/* response head, masked */
	unsigned char	*rbuf;		/* upstream reads (guarded) */
	unsigned char	*obuf;		/* a masked chunk (guarded) */
};

static int
rq_begin(llhttp_t *h)
{
	struct req *q = h->data;

	hcol_reset(&q->hc);
	al_buf_reset(&q->url);
	al_buf_reset(&q->body);
	q->error = 0;
	q->complete = 0;
	return 0;
}

static int
rq_url(llhttp_t *h, const char *p, size_t n)
{
	struct req *q = h->data;

	if (al_buf_append(&q->url, p, n) != 0) {
		q->error = 414;
		return -1;
	}
	return 0;
}

static int
rq_field(llhttp_t *h, const char *p, size_t n)
{
	struct req *q = h->data;

	if (hcol_field(&q->hc, p, n) != 0) {
		q->error = 431;
		return -1;
	}
	return 0;
}

static int
rq_value(llhttp_t *h, const char *p, size_t n)
{
	struct req *q = h->data;

	if (hcol_value(&q->hc, p, n) != 0) {
		q->error = 431;
		return -1;
	}
	return 0;
}

static int
rq_head_done(llhttp_t *h)
{
	struct req *q = h->data;
	long i = hfind(&q->hc, "expect");
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	/* The body is read here, whole, before anything goes upstream. */
	if (i >= 0 && q->hc.h[i].val_len == 12 &&
	    strncasecmp(hval(&q->hc, (size_t)i), "100-continue", 12) == 0 &&
	    conn_ssl_write(q->c, q->c->cssl, cont, sizeof(cont) - 1) != 0)
		return -1;
	return 0;
}

static int
rq_body(llhttp_t *h, const char *p, size_t n)
{
	struct req *q = h->data;

	if (al_buf_append(&q->body, p, n) != 0) {
		q->error = 413;
		return -1;
	}
	return 0;
}

static int
rq_done(llhttp_t *h)
{
	struct req *q = h->data;

	q->complete = 1;
	return HPE_PAUSED;
}

/* ---- substitution --------------------------------------------------------- */

/* Append p[0..n) to out with each placeholder of the secrets in mask
 * replaced by its value. */
static int
subst(const struct proxy_run *r, uint64_t mask, const char *p, size_t n,
    struct al_buf *out)
{
	size_t i, k, best_len;
	long best;
	const char *ph;
	int rc = 0;

	k = 0;
	while (k < n && rc == 0) {
		best = -1;
		best_len = 0;
		for (i = 0; i < r->n; i++) {
			if (!(mask & ((uint64_t)1 << i)))
				continue;
			ph = r->s[i].placeholder;
			if (strlen(ph) <= n - k && memcmp(p + k, ph,
			    strlen(ph)) == 0 && strlen(ph) > best_len) {
				best = (long)i;
				best_len = strlen(ph);
			}
		}
		if (best < 0) {
			rc = al_buf_append(out, p + k, 1);
			k++;
			continue;
		}
		rc = al_buf_append(out, al_secret_open(r->s[best].value),
		    al_secret_len(r->s[best].value));
		al_secret_close(r->s[best].value);
		k += best_len;
	}
	return rc;
}

/* "Basic base64(user:placeholder)": decode, substitute, encode again. */
static int
subst_basic(const struct proxy_run *r, uint64_t mask, const char *v,
    size_t n, struct al_buf *out)
{
	struct al_buf dec, plain;
	size_t dlen = 0, b64len;
	const char *b64 = v + 6;
	int rc = -1;

	al_buf_init(&dec, n + 1, AL_BUF_SENSITIVE);
	al_buf_init(&plain, PROXY_HEAD_MAX, AL_BUF_SENSITIVE);
	b64len = n - 6;
	if (al_buf_reserve(&dec, n) != 0 ||
	    sodium_base642bin(dec.data, n, b64, b64len, " ", &dlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		goto out;
	if (subst(r, mask, (const char *)dec.data, dlen, &plain) != 0)
		goto out;
	b64len = sodium_base64_ENCODED_LEN(plain.len,
	    sodium_base64_VARIANT_ORIGINAL);
	if (al_buf_append(out, v, 6) != 0 || al_buf_reserve(out, b64len) != 0)
		goto out;
	sodium_bin2base64((char *)out->data + out->len, b64len, plain.data,
	    plain.len, sodium_base64_VARIANT_ORIGINAL);
	out->len += b64len - 1;
	rc = 0;
out:
	al_buf_release(&dec);
	al_buf_release(&plain);
	return rc;
}

/* ---- the response --------------------------------------------------------- */

struct resp {
	struct conn		*c;
	struct req		*q;
	struct hcol		*hc;
	struct al_buf		 reason;
	struct redact_stream	*rs;
	z_stream		 z;
	int			 inflating;
	int			 is_head;
	int			 head_sent;
	int			 chunked;
	int			 status;
	int			 complete;
	int			 failed;	/* reply 502 with why */
	char			 why[160];
	uint64_t		 bytes_down;
	/* Masked bytes gathered into one chunk per read (guarded). */
	unsigned char		*obuf;
	size_t			 olen;
};

#define OBUF_MAX	(64 * 1024)
#define OBUF_HEAD	16	/* room for the chunk's size line */

/* Send what obuf holds as one chunk. */
static int
flush_chunk(struct resp *s)
{
	char head[OBUF_HEAD];
	int l;

	if (s->olen == 0)
		return 0;
	/* One write: the size line goes right before the data. */
	l = snprintf(head, sizeof(head), "%zx\r\n", s->olen);
	memcpy(s->obuf + OBUF_HEAD - l, head, (size_t)l);
	memcpy(s->obuf + OBUF_HEAD + s->olen, "\r\n", 2);
	if (conn_ssl_write(s->c, s->c->cssl, s->obuf + OBUF_HEAD - l,
	    (size_t)l + s->olen + 2) != 0)
		return -1;
	s->bytes_down += s->olen;
	s->olen = 0;
	return 0;
}

static int
emit_chunk(void *arg, const void *p, size_t n)
{
	struct resp *s = arg;
	size_t k;

	while (n > 0) {
		if (s->olen == OBUF_MAX && flush_chunk(s) != 0)
			return -1;
		k = OBUF_MAX - s->olen < n ? OBUF_MAX - s->olen : n;
		memcpy(s->obuf + OBUF_HEAD + s->olen, p, k);
		s->olen += k;
		p = (const char *)p + k;
		n -= k;
	}
	return 0;
}

static int
rs_begin(llhttp_t *h)
{
	struct resp *s = h->data;

	hcol_reset(s->hc);
	al_buf_reset(&s->reason);
	return 0;
}

static int
rs_status(llhttp_t *h, const char *p, size_t n)
{
	struct resp *s = h->data;

	return al_buf_append(&s->reason, p, n) == 0 ? 0 : -1;
}

static int
rs_field(llhttp_t *h, const char *p, size_t n)
{
	return hcol_field(((struct resp *)h->data)->hc, p, n);
}

static int
rs_value(llhttp_t *h, const char *p, size_t n)
{
	return hcol_value(((struct resp *)h->data)->hc, p, n);
}

static int
fail(struct resp *s, const char *why)
{
	s->failed = 1;
	(void)snprintf(s->why, sizeof(s->why), "%s", why);
	return -1;
}

static int
rs_head_done(llhttp_t *h)
{
	struct resp *s = h->data;
	const struct proxy_run *r = s->c->run;
	struct al_buf *head = &s->q->rhead, *masked = &s->q->masked;
	size_t i;
	long ce;
	int rc = -1, no_body;

	s->status = h->status_code;
	if (s->status == 101)
		return fail(s, "upstream switched protocols; upgrades are not "
		    "supported");
	if (s->status >= 100 && s->status < 200)
		return 0;	/* an interim response: not forwarded */
	if ((ce = hfind(s->hc, "content-encoding")) >= 0) {
		const char *v = hval(s->hc, (size_t)ce);
		size_t vl = s->hc->h[ce].val_len;

		if ((vl == 4 && strncasecmp(v, "gzip", 4) == 0) ||
		    (vl == 6 && strncasecmp(v, "x-gzip", 6) == 0) ||
		    (vl == 7 && strncasecmp(v, "deflate", 7) == 0)) {
			memset(&s->z, 0, sizeof(s->z));
			if (DL(s->c)->inflateInit2_(&s->z, 15 + 32, ZLIB_VERSION,
			    (int)sizeof(z_stream)) != Z_OK)
				return fail(s, "cannot decompress");
			s->inflating = 1;
		} else if (!(vl == 8 && strncasecmp(v, "identity", 8) == 0))
			return fail(s, "upstream sent a body in an encoding "
			    "the proxy cannot inspect");
	}
	no_body = s->is_head || s->status == 204 || s->status == 304;
	s->chunked = !no_body;
	al_buf_reset(head);
	al_buf_reset(masked);
	if (al_buf_printf(head, "HTTP/1.1 %d %.*s\r\n", s->status,
	    (int)s->reason.len, (const char *)s->reason.data) != 0)
		goto out;
	for (i = 0; i < s->hc->n; i++) {
		if (hop_header(s->hc, i) || (s->inflating &&
		    hname_is(s->hc, i, "content-encoding")))
			continue;
		if (al_buf_printf(head, "%.*s: %.*s\r\n",
		    (int)s->hc->h[i].name_len,
		    (const char *)s->hc->buf.data + s->hc->h[i].name_off,
		    (int)s->hc->h[i].val_len, hval(s->hc, i)) != 0)
			goto out;
	}
	if (s->chunked && al_buf_puts(head, "Transfer-Encoding: chunked\r\n"))
		goto out;
	if (s->is_head && al_buf_puts(head, "Content-Length: 0\r\n"))
		goto out;
	if (al_buf_puts(head, "\r\n") != 0 ||
	    redact_buffer(r->values, head->data, head->len, masked, NULL) != 0 ||
	    conn_ssl_write(s->c, s->c->cssl, masked->data, masked->len) != 0)
		goto out;
	s->head_sent = 1;
	if (s->chunked && redact_stream_new(r->values, &s->rs) != 0)
		goto out;
	rc = no_body ? 1 : 0;
out:
	al_buf_reset(head);	/* wiped: it held unmasked bytes */
	if (rc < 0 && !s->head_sent)
		return fail(s, "cannot relay the response");
	return rc;
}

static int
rs_body(llhttp_t *h, const char *p, size_t n)
{
	struct resp *s = h->data;
	unsigned char out[READ_CHUNK];
	int zr;

	if (s->rs == NULL)
		return 0;
	if (!s->inflating)
		return redact_stream_write(s->rs, p, n, emit_chunk, s) == 0 ?
		    0 : -1;
	s->z.next_in = (unsigned char *)(uintptr_t)p;
	s->z.avail_in = (uInt)n;
	do {
		s->z.next_out = out;
		s->z.avail_out = sizeof(out);
		zr = DL(s->c)->inflate(&s->z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return -1;
		if (sizeof(out) - s->z.avail_out > 0 &&
		    redact_stream_write(s->rs, out, sizeof(out) -
		    s->z.avail_out, emit_chunk, s) != 0)
			return -1;
	} while (s->z.avail_out == 0 || s->z.avail_in > 0);
	sodium_memzero(out, sizeof(out));
	return 0;
}

static int
rs_done(llhttp_t *h)
{
	struct resp *s = h->data;

	if (s->status >= 100 && s->status < 200)
		return 0;
	if (s->rs != NULL && (redact_stream_finish(s->rs, emit_chunk, s) != 0 ||
	    flush_chunk(s) != 0))
		return -1;
	if (s->chunked && conn_ssl_write(s->c, s->c->cssl, "0\r\n\r\n", 5) != 0)
		return -1;
	s->complete = 1;
	return HPE_PAUSED;
}

static llhttp_settings_t resp_set, req_set;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static void
settings_init(void)
{
	llhttp_settings_init(&resp_set);
	resp_set.on_message_begin = rs_begin;
	resp_set.on_status = rs_status;
	resp_set.on_header_field = rs_field;
	resp_set.on_header_value = rs_value;
	resp_set.on_headers_complete = rs_head_done;
	resp_set.on_body = rs_body;
	resp_set.on_message_complete = rs_done;
	llhttp_settings_init(&req_set);
	req_set.on_message_begin = rq_begin;
	req_set.on_url = rq_url;
	req_set.on_header_field = rq_field;
	req_set.on_header_value = rq_value;
	req_set.on_headers_complete = rq_head_done;
	req_set.on_body = rq_body;
	req_set.on_message_complete = rq_done;
}

/*
 * Send out (the rewritten request) and relay the response.  Returns 0 when
 * the response went through whole; -1 when the client connection must be
 * closed (*status says what the client got, 502 with why when nothing was
 * sent yet).
 */
static int
exchange(struct conn *c, struct req *q, int is_head, int *status,
    uint64_t *down, char *why, size_t whysz)
{
	const struct al_buf *out = &q->out;
	struct resp s;
	llhttp_t h;
	unsigned char *buf = q->rbuf;
	size_t got, off;
	llhttp_errno_t e;
	int rc = -1, keep = 0;

	memset(&s, 0, sizeof(s));
	s.c = c;
	s.q = q;
	s.hc = &q->rhc;
	s.obuf = q->obuf;
	s.is_head = is_head;
	al_buf_init(&s.reason, 256, 0);
	*status = 502;
	if (conn_ssl_write(c, c->ussl, out->data, out->len) != 0) {
		(void)snprintf(why, whysz, "cannot send the request to %.200s",
		    c->host);
		goto out;
	}
	llhttp_init(&h, HTTP_RESPONSE, &resp_set);
	h.data = &s;
	while (!s.complete) {
		if (DL(c)->SSL_read_ex(c->ussl, buf, READ_CHUNK, &got) == 1) {
			size_t more;

			/* Take every record already here: fewer, larger chunks. */
			while (got < READ_CHUNK &&
			    DL(c)->SSL_has_pending(c->ussl) &&
			    DL(c)->SSL_read_ex(c->ussl, buf + got,
			    READ_CHUNK - got, &more) == 1)
				got += more;
		} else {
			e = llhttp_finish(&h);
			if (!s.complete) {
				if (!s.failed)
					(void)fail(&s, "upstream closed the "
					    "connection mid-response");
				break;
			}
			keep = -1;	/* ended by EOF: do not reuse */
			break;
		}
		off = 0;
		e = llhttp_execute(&h, (const char *)buf, got);
		if (e == HPE_OK && flush_chunk(&s) != 0)
			e = HPE_USER;
		if (e == HPE_PAUSED)
			break;
		if (e != HPE_OK) {
			if (!s.failed)
				(void)fail(&s, "upstream sent a malformed "
				    "response");
			break;
		}
		(void)off;
	}
	if (s.complete) {
		rc = 0;
		*status = s.status;
		if (keep == 0 && !llhttp_should_keep_alive(&h))
			keep = -1;
	} else if (s.head_sent)
		*status = s.status;
	(void)snprintf(why, whysz, "%s", s.failed ? s.why : "");
out:
	if (keep != 0 || rc != 0)
		conn_upstream_close(c);
	if (s.inflating)
		DL(c)->inflateEnd(&s.z);
	redact_stream_free(s.rs);
	/* Upstream bytes may have held a value before they were masked. */
	hcol_reset(&q->rhc);
	sodium_memzero(q->rbuf, READ_CHUNK);
	sodium_memzero(q->obuf, OBUF_HEAD + OBUF_MAX + 2);
	al_buf_release(&s.reason);
	*down = s.bytes_down;
	/* Nothing sent yet: the client may still get a 502 of its own. */
	if (rc != 0 && !s.head_sent)
		return 1;
	return rc;
}

/* ---- deciding and forwarding one request ----------------------------------- */

/* The path as the audit log keeps it: query values replaced by "...". */
static void
audit_path(const struct al_buf *url, char *out, size_t outsz)
{
	const char *u = (const char *)url->data;
	size_t n = url->len, i, o = 0;
	int in_val = 0, in_query = 0;

	for (i = 0; i < n && o + 4 < outsz; i++) {
		char ch = u[i];

		if (in_query && ch == '&')
			in_val = 0;
		if (in_val)
			continue;
		if ((unsigned char)ch < 0x20 || (unsigned char)ch > 0x7e)
			ch = '?';
		out[o++] = ch;
		if (!in_query && u[i] == '?')
			in_query = 1;
		else if (in_query && u[i] == '=') {
			memcpy(out + o, "...", 3);
			o += 3;
			in_val = 1;
		}
	}
	out[o] = '\0';
}

/* Does the Host header name the CONNECT target? */
static int
host_ok(const struct conn *c, const struct hcol *hc)
{
	char want[PROXY_HOST_MAX + 16], bracket[PROXY_HOST_MAX + 3];
	const char *h;
	long i = hfind(hc, "host");
	size_t n, k, count = 0;

	for (k = 0; k < hc->n; k++)
		count += hname_is(hc, k, "host");
	if (i < 0 || count != 1)
		return 0;
	h = hval(hc, (size_t)i);
	n = hc->h[i].val_len;
	if (strchr(c->host, ':') != NULL)
		(void)snprintf(bracket, sizeof(bracket), "[%s]", c->host);
	else
		(void)snprintf(bracket, sizeof(bracket), "%s", c->host);
	if (n == strlen(bracket) && strncasecmp(h, bracket, n) == 0)
		return c->port == 443;
	(void)snprintf(want, sizeof(want), "%s:%d", bracket, c->port);
	return n == strlen(want) && strncasecmp(h, want, n) == 0;
}

static void
event(struct conn *c, const char *ev, long secret, const char *method,
    const char *path, int status, uint64_t up, uint64_t down,
    const char *reason)
{
	struct proxy_event e;

	if (c->p->on_event == NULL)
		return;
	memset(&e, 0, sizeof(e));
	e.run_id = c->run->id;
	e.event = ev;
	e.secret = secret >= 0 ? c->run->s[secret].name : NULL;
	e.host = c->host;
	e.port = c->port;
	e.method = method;
	e.path = path;
	e.status = status;
	e.bytes_up = up;
	e.bytes_down = down;
	e.reason = reason;
	c->p->on_event(c->p->event_arg, &e);
}

/* 403 naming the secret and where it may go. */
static void
block(struct conn *c, size_t i, const char *where, const char *method,
    const char *path)
{
	struct al_buf b;
	size_t k;

	al_buf_init(&b, 8192, 0);
	if (al_buf_printf(&b, "airlock proxy: refused: the request carries "
	    "secret '%s' %s; it may only be sent to:", c->run->s[i].name,
	    where) == 0) {
		for (k = 0; k < c->run->s[i].nhosts; k++)
			if (al_buf_printf(&b, " %s", c->run->s[i].hosts[k]))
				break;
	}
	/* The audit line gets the reason, the client the same and a newline. */
	event(c, "egress_blocked", (long)i, method, path, 403, 0, 0,
	    al_buf_str(&b) + strlen("airlock proxy: refused: "));
	if (al_buf_puts(&b, "\n") != 0)
		al_buf_reset(&b);
	(void)conn_reply(c, 403, "Forbidden", al_buf_str(&b));
	al_buf_release(&b);
}

/* Returns 0 to go on with the next request, -1 to close. */
static int
handle(struct conn *c, llhttp_t *h, struct req *q)
{
	const struct proxy_run *r = c->run;
	const char *method = llhttp_method_name(llhttp_get_method(h));
	char path[512], why[256];
	struct al_buf *head = &q->head, *out = &q->out;
	uint64_t ht, hh, hb, all, inj_url = 0, inj_head = 0, inj_body = 0;
	uint64_t down = 0;
	size_t i;
	int status = 0, rc = -1, is_basic;

	al_buf_reset(head);
	al_buf_reset(out);
	audit_path(&q->url, path, sizeof(path));
	if (!hub_run_alive(c->p, c->run)) {
		(void)conn_reply(c, 407, "Proxy Authentication Required",
		    "airlock proxy: the run has ended\n");
		goto out;
	}
	if (!host_ok(c, &q->hc)) {
		(void)conn_reply(c, 421, "Misdirected Request", "airlock "
		    "proxy: the Host header must name the CONNECT target\n");
		event(c, "proxy_request", -1, method, path, 421, 0, 0,
		    "Host header does not match the CONNECT target");
		goto out;
	}
	for (i = 0; i < q->hc.n; i++)
		if (al_buf_printf(head, "%.*s: %.*s\r\n",
		    (int)q->hc.h[i].name_len,
		    (const char *)q->hc.buf.data + q->hc.h[i].name_off,
		    (int)q->hc.h[i].val_len, hval(&q->hc, i)) != 0)
			goto out;
	if (run_find(r, q->url.data, q->url.len, &ht) != 0 ||
	    run_find(r, head->data, head->len, &hh) != 0 ||
	    run_find(r, q->body.data, q->body.len, &hb) != 0) {
		(void)conn_reply(c, 500, "Internal Server Error",
		    "airlock proxy: cannot inspect the request\n");
		goto out;
	}
	all = ht | hh | hb;
	for (i = 0; i < r->n; i++) {
		uint64_t bit = (uint64_t)1 << i;

		if (!(all & bit))
			continue;
		if (!run_bound(r, i, c->host, c->port)) {
			block(c, i, "to a host it is not bound to", method,
			    path);
			rc = 0;
			goto out;
		}
		if ((ht & bit) && !(r->s[i].inject & PROXY_INJECT_QUERY)) {
			block(c, i, "in the URL (it goes in headers only "
			    "unless the secret allows --inject query)", method,
			    path);
			rc = 0;
			goto out;
		}
		if ((hb & bit) && !(r->s[i].inject & PROXY_INJECT_BODY)) {
			block(c, i, "in the body (it goes in headers only "
			    "unless the secret allows --inject body)", method,
			    path);
			rc = 0;
			goto out;
		}
		if (ht & bit)
			inj_url |= bit;
		if (hh & bit)
			inj_head |= bit;
		if (hb & bit)
			inj_body |= bit;
	}
	/* The request upstream, in guarded memory: it may hold values. */
	if (al_buf_printf(out, "%s ", method) != 0 ||
	    subst(r, inj_url, (const char *)q->url.data, q->url.len, out) ||
	    al_buf_puts(out, " HTTP/1.1\r\n") != 0)
		goto out;
	for (i = 0; i < q->hc.n; i++) {
		const char *v = hval(&q->hc, i);
		size_t vl = q->hc.h[i].val_len;

		if (hop_header(&q->hc, i))
			continue;
		if (al_buf_append(out, q->hc.buf.data + q->hc.h[i].name_off,
		    q->hc.h[i].name_len) != 0 || al_buf_puts(out, ": "))
			goto out;
		is_basic = hname_is(&q->hc, i, "authorization") && vl > 6 &&
		    strncasecmp(v, "Basic ", 6) == 0;
		if (is_basic && inj_head) {
			if (subst_basic(r, inj_head, v, vl, out) != 0)
				goto out;
		} else if (subst(r, inj_head, v, vl, out) != 0)
			goto out;
		if (al_buf_puts(out, "\r\n") != 0)
			goto out;
	}
	if (al_buf_puts(out, "Accept-Encoding: identity\r\n"
	    "Connection: keep-alive\r\n") != 0)
		goto out;
	{
		size_t mark = out->len, blen;

		/* The body after substitution decides Content-Length. */
		if (subst(r, inj_body, (const char *)q->body.data, q->body.len,
		    out) != 0)
			goto out;
		blen = out->len - mark;
		if (blen > 0 || hfind(&q->hc, "content-length") >= 0 ||
		    hfind(&q->hc, "transfer-encoding") >= 0) {
			char cl[48];
			int l = snprintf(cl, sizeof(cl), "Content-Length: "
			    "%zu\r\n\r\n", blen);

			/* Put the framing in front of the body. */
			if (al_buf_reserve(out, (size_t)l) != 0)
				goto out;
			memmove(out->data + mark + l, out->data + mark, blen);
			memcpy(out->data + mark, cl, (size_t)l);
			out->len += (size_t)l;
		} else if (al_buf_puts(out, "\r\n") != 0)
			goto out;
	}
	if (conn_upstream(c, why, sizeof(why)) != 0) {
		(void)conn_reply(c, 502, "Bad Gateway", why);
		event(c, "proxy_request", -1, method, path, 502, 0, 0, why);
		rc = 0;
		goto out;
	}
	rc = exchange(c, q, llhttp_get_method(h) == HTTP_HEAD, &status,
	    &down, why, sizeof(why));
	if (rc == 1) {
		char body[300];

		(void)snprintf(body, sizeof(body), "airlock proxy: %s\n", why);
		(void)conn_reply(c, 502, "Bad Gateway", body);
		status = 502;
		rc = 0;
	}
	for (i = 0; i < r->n; i++)
		if ((inj_url | inj_head | inj_body) & ((uint64_t)1 << i))
			break;
	event(c, "proxy_request", i < r->n ? (long)i : -1, method, path,
	    status, out->len, down, why[0] ? why : NULL);
out:
	al_buf_reset(out);	/* wiped: it held the values */
	return rc;
}

void
conn_serve(struct conn *c)
{
	struct req q;
	llhttp_t h;
	unsigned char *buf = NULL;
	const char *pos;
	size_t got, off;
	llhttp_errno_t e;
	int started = 0;

	memset(&q, 0, sizeof(q));
	q.c = c;
	al_buf_init(&q.hc.buf, PROXY_HEAD_MAX, 0);
	al_buf_init(&q.url, URL_MAX, 0);
	al_buf_init(&q.body, PROXY_BODY_MAX, 0);
	al_buf_init(&q.out, PROXY_HEAD_MAX * 4 + PROXY_BODY_MAX * 2,
	    AL_BUF_SENSITIVE);
	al_buf_init(&q.head, PROXY_HEAD_MAX * 2, 0);
	al_buf_init(&q.rhc.buf, PROXY_HEAD_MAX, AL_BUF_SENSITIVE);
	al_buf_init(&q.rhead, PROXY_HEAD_MAX * 2, AL_BUF_SENSITIVE);
	al_buf_init(&q.masked, PROXY_HEAD_MAX * 4, 0);
	if ((buf = malloc(READ_CHUNK)) == NULL ||
	    (q.rbuf = sodium_malloc(READ_CHUNK)) == NULL ||
	    (q.obuf = sodium_malloc(OBUF_HEAD + OBUF_MAX + 2)) == NULL)
		goto out;
	pthread_once(&settings_once, settings_init);
	llhttp_init(&h, HTTP_REQUEST, &req_set);
	h.data = &q;
	for (;;) {
		if (DL(c)->SSL_read_ex(c->cssl, buf, READ_CHUNK, &got) != 1) {
			/* Idle timeout in the middle of a request: 408. */
			if (started && !q.complete)
				(void)conn_reply(c, 408, "Request Timeout",
				    "airlock proxy: request incomplete\n");
			break;
		}
		off = 0;
		while (off < got) {
			started = 1;
			e = llhttp_execute(&h, (const char *)buf + off,
			    got - off);
			if (e == HPE_OK)
				break;
			if (e == HPE_PAUSED_UPGRADE) {
				(void)conn_reply(c, 501, "Not Implemented",
				    "airlock proxy: protocol upgrades "
				    "(WebSocket) are not supported\n");
				goto out;
			}
			if (e != HPE_PAUSED) {
				if (q.error == 413)
					(void)conn_reply(c, 413, "Content Too "
					    "Large", "airlock proxy: request "
					    "body too large\n");
				else if (q.error == 431 || q.error == 414)
					(void)conn_reply(c, 431, "Request "
					    "Header Fields Too Large", "airlock "
					    "proxy: request head too large\n");
				else
					(void)conn_reply(c, 400, "Bad Request",
					    "airlock proxy: malformed "
					    "request\n");
				goto out;
			}
			pos = llhttp_get_error_pos(&h);
			off = pos != NULL ? (size_t)(pos - (const char *)buf) :
			    got;
			if (handle(c, &h, &q) != 0 || !llhttp_should_keep_alive(
			    &h))
				goto out;
			started = 0;
			q.complete = 0;
			llhttp_resume(&h);
		}
	}
out:
	al_buf_release(&q.hc.buf);
	al_buf_release(&q.url);
	al_buf_release(&q.body);
	al_buf_release(&q.out);
	al_buf_release(&q.head);
	al_buf_release(&q.rhc.buf);
	al_buf_release(&q.rhead);
	al_buf_release(&q.masked);
	if (q.rbuf != NULL)
		sodium_free(q.rbuf);
	if (q.obuf != NULL)
		sodium_free(q.obuf);
	free(buf);
}

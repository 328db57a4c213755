/*
 * The response side of one request: read from upstream (llhttp), its head
 * masked by a redactor of the run's values and sent with chunked framing
 * (masking changes lengths), its body streamed through the same redactor
 * (a gzip or deflate body inflated first; any other encoding refused), one
 * chunk per read.  Upstream bytes are in guarded memory until masked.
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


struct resp {
	struct conn		*c;
	struct relay_bufs	*b;
	struct hcol		*hc;
	struct al_buf		 reason;
	struct redact_stream	*rs;
	z_stream		 z;
	int			 inflating;
	int			 is_head;
	int			 ws;		/* a WebSocket handshake */
	int			 upgraded;	/* upstream answered 101 */
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
	size_t			 ohigh;		/* most obuf held: to wipe */
};

#define OBUF_MAX	PROXY_OBUF_MAX
#define OBUF_HEAD	PROXY_OBUF_HEAD

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
	if (s->olen > s->ohigh)
		s->ohigh = s->olen;
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

/*
 * Append the upstream's end-to-end headers to head (without
 * Content-Encoding when drop_encoding: the body goes out inflated).
 */
static int
put_headers(struct resp *s, struct al_buf *head, int drop_encoding)
{
	size_t i;

	for (i = 0; i < s->hc->n; i++) {
		if (hop_header(s->hc, i) || (drop_encoding &&
		    hname_is(s->hc, i, "content-encoding")))
			continue;
		if (al_buf_printf(head, "%.*s: %.*s\r\n",
		    (int)s->hc->h[i].name_len,
		    (const char *)s->hc->buf.data + s->hc->h[i].name_off,
		    (int)s->hc->h[i].val_len, hval(s->hc, i)) != 0)
			return -1;
	}
	return 0;
}

/*
 * Upstream accepted the WebSocket: its head goes back masked, with the
 * upgrade headers, and the exchange ends (ws.c relays the frames).  An
 * extension was not offered (request.c drops the client's), so none may
 * be chosen: a compressed frame could not be searched.
 */
static int
switched(struct resp *s)
{
	const struct proxy_run *r = s->c->run;
	struct al_buf *head = &s->b->rhead, *masked = &s->b->masked;
	int rc = -1;

	if (hfind(s->hc, "sec-websocket-extensions") >= 0)
		return fail(s, "upstream chose a WebSocket extension that was "
		    "not offered");
	al_buf_reset(head);
	al_buf_reset(masked);
	if (al_buf_printf(head, "HTTP/1.1 101 %.*s\r\n",
	    (int)s->reason.len, (const char *)s->reason.data) != 0)
		goto out;
	if (put_headers(s, head, 0) != 0)
		goto out;
	if (al_buf_puts(head, "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "\r\n") != 0 ||
	    redact_buffer(r->values, head->data, head->len, masked, NULL) != 0 ||
	    conn_ssl_write(s->c, s->c->cssl, masked->data, masked->len) != 0)
		goto out;
	s->head_sent = 1;
	s->upgraded = 1;
	rc = 0;
out:
	al_buf_reset(head);
	if (rc < 0 && !s->head_sent)
		return fail(s, "cannot relay the response");
	return rc;
}

static int
rs_head_done(llhttp_t *h)
{
	struct resp *s = h->data;
	const struct proxy_run *r = s->c->run;
	struct al_buf *head = &s->b->rhead, *masked = &s->b->masked;
	size_t i, n;
	long ce;
	int rc = -1, no_body;

	s->status = h->status_code;
	if (s->status == 101 && !s->ws)
		return fail(s, "upstream switched protocols unasked");
	if (s->status == 101)
		return switched(s);
	if (s->status >= 100 && s->status < 200)
		return 0;	/* an interim response: not forwarded */
	/*
	 * The body must be readable to be masked: one Content-Encoding at
	 * most (a second could hide a compressed body behind "identity"),
	 * and no Transfer-Encoding but chunked (llhttp undoes only that).
	 */
	for (i = 0, n = 0; i < s->hc->n; i++) {
		n += hname_is(s->hc, i, "content-encoding");
		if (hname_is(s->hc, i, "transfer-encoding") &&
		    !(s->hc->h[i].val_len == 7 && strncasecmp(hval(s->hc, i),
		    "chunked", 7) == 0))
			return fail(s, "upstream sent a transfer encoding the "
			    "proxy cannot inspect");
	}
	if (n > 1)
		return fail(s, "upstream sent more than one content encoding");
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
	if (put_headers(s, head, s->inflating) != 0)
		goto out;
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
	unsigned char out[64 * 1024];
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
		/*
		 * A member ended and more follows: the next gzip member (as
		 * concatenated .gz files are; anything else fails to
		 * inflate).  inflate would otherwise answer Z_STREAM_END
		 * again without taking a byte, forever.
		 */
		if (zr == Z_STREAM_END && s->z.avail_in > 0 &&
		    DL(s->c)->inflateReset(&s->z) != Z_OK)
			return -1;
		/* No progress with room left on both sides: nothing will. */
		if (zr == Z_BUF_ERROR && s->z.avail_out > 0)
			break;
	} while (s->z.avail_out == 0 || s->z.avail_in > 0);
	sodium_memzero(out, sizeof(out));
	return 0;
}

static int
rs_done(llhttp_t *h)
{
	struct resp *s = h->data;

	if (s->upgraded) {
		s->complete = 1;
		return HPE_PAUSED;
	}
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


static llhttp_settings_t resp_set;
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
}

int
relay_bufs_init(struct relay_bufs *b)
{
	memset(b, 0, sizeof(*b));
	al_buf_init(&b->out, PROXY_HEAD_MAX * 4 + PROXY_BODY_MAX * 2,
	    AL_BUF_SENSITIVE);
	al_buf_init(&b->rhc.buf, PROXY_HEAD_MAX, AL_BUF_SENSITIVE);
	al_buf_init(&b->rhead, PROXY_HEAD_MAX * 2, AL_BUF_SENSITIVE);
	al_buf_init(&b->masked, PROXY_HEAD_MAX * 4, 0);
	al_buf_init(&b->ws_rest, PROXY_READ_CHUNK, AL_BUF_SENSITIVE);
	if ((b->rbuf = sodium_malloc(PROXY_READ_CHUNK)) == NULL ||
	    (b->obuf = sodium_malloc(OBUF_HEAD + OBUF_MAX + 2)) == NULL)
		return AL_ENOMEM;
	return 0;
}

void
relay_bufs_release(struct relay_bufs *b)
{
	al_buf_release(&b->out);
	al_buf_release(&b->rhc.buf);
	al_buf_release(&b->rhead);
	al_buf_release(&b->masked);
	al_buf_release(&b->ws_rest);
	if (b->rbuf != NULL)
		sodium_free(b->rbuf);
	if (b->obuf != NULL)
		sodium_free(b->obuf);
	b->rbuf = b->obuf = NULL;
}


int
relay_exchange(struct conn *c, struct relay_bufs *q, int is_head, int ws,
    int *status, uint64_t *down, char *why, size_t whysz)
{
	const struct al_buf *out = &q->out;
	struct resp s;
	llhttp_t h;
	unsigned char *buf = q->rbuf;
	size_t got, high = 0;
	llhttp_errno_t e;
	int rc = -1, keep = 0;

	memset(&s, 0, sizeof(s));
	s.c = c;
	s.b = q;
	s.hc = &q->rhc;
	s.obuf = q->obuf;
	s.is_head = is_head;
	s.ws = ws;
	al_buf_init(&s.reason, 256, 0);
	*status = 502;
	if (conn_ssl_write(c, c->ussl, out->data, out->len) != 0) {
		(void)snprintf(why, whysz, "cannot send the request to %.200s",
		    c->host);
		goto out;
	}
	pthread_once(&settings_once, settings_init);
	llhttp_init(&h, HTTP_RESPONSE, &resp_set);
	h.data = &s;
	while (!s.complete) {
		if (DL(c)->SSL_read_ex(c->ussl, buf, PROXY_READ_CHUNK, &got) == 1) {
			size_t more;

			/* Take every record already here: fewer, larger chunks. */
			while (got < PROXY_READ_CHUNK &&
			    DL(c)->SSL_has_pending(c->ussl) &&
			    DL(c)->SSL_read_ex(c->ussl, buf + got,
			    PROXY_READ_CHUNK - got, &more) == 1)
				got += more;
			if (got > high)
				high = got;
		} else {
			/* End of stream: a response may end by it. */
			(void)llhttp_finish(&h);
			if (!s.complete) {
				if (!s.failed)
					(void)fail(&s, "upstream closed the "
					    "connection mid-response");
				break;
			}
			keep = -1;	/* ended by EOF: do not reuse */
			break;
		}
		e = llhttp_execute(&h, (const char *)buf, got);
		if (e == HPE_OK && flush_chunk(&s) != 0)
			e = HPE_USER;
		if (s.upgraded && (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE)) {
			const char *pos = llhttp_get_error_pos(&h);
			size_t at = pos != NULL ? (size_t)(pos -
			    (const char *)buf) : got;

			/* The first frames may have come with the head. */
			s.complete = 1;
			if (at < got && al_buf_append(&q->ws_rest, buf + at,
			    got - at) != 0)
				s.complete = 0;
			break;
		}
		if (e == HPE_PAUSED)
			break;
		if (e != HPE_OK) {
			if (!s.failed)
				(void)fail(&s, "upstream sent a malformed "
				    "response");
			break;
		}
	}
	if (s.complete) {
		rc = 0;
		*status = s.status;
		if (keep == 0 && !s.upgraded && !llhttp_should_keep_alive(&h))
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
	/* As far as they were used: a small response leaves most untouched. */
	sodium_memzero(q->rbuf, high);
	sodium_memzero(q->obuf, OBUF_HEAD + (s.olen > s.ohigh ? s.olen :
	    s.ohigh) + 2);
	al_buf_release(&s.reason);
	*down = s.bytes_down;
	/* Nothing sent yet: the client may still get a 502 of its own. */
	if (rc != 0 && !s.head_sent)
		return 1;
	return rc;
}

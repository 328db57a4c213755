/*
 * The requests inside one tunnel: each is parsed (llhttp), checked for
 * placeholders, rewritten for upstream (values in headers where the secret
 * is bound; identity encoding asked for) and handed to response.c, which
 * sends it and streams the response back.
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

#include "proxy_int.h"

/* The proxy's OpenSSL table, from a connection. */
#define DL(c)	(&(c)->p->dl)

#define URL_MAX		(16 * 1024)
#define READ_CHUNK	PROXY_READ_CHUNK

/* ---- the request ---------------------------------------------------------- */

struct req {
	struct conn	*c;
	struct hcol	 hc;
	struct al_buf	 url;
	struct al_buf	 body;
	struct al_buf	 scan;		/* target and headers, to search */
	int		 error;		/* status to answer a bad request with */
	int		 complete;
	struct relay_bufs rb;		/* kept for the connection's life */
	size_t		 taken;		/* bytes counted against the budget */
	/* What the client sent after the request (for a WebSocket). */
	const unsigned char *rest;
	size_t		 rest_len;
};

/*
 * A body byte costs about three in memory: the body (a buffer that grows
 * by doubling) and the rewritten request.  Every connection together may
 * hold PROXY_BUFFER_MAX (or the proxy's buffer_max): 512 connections of
 * 16 MiB bodies would otherwise take the broker's memory.
 */
#define BODY_COST	3
#define KEEP_MAX	(1024 * 1024)	/* larger buffers go after a request */

/* Give back the request's budget, and large buffers with it. */
static void
req_settle(struct req *q)
{
	if (q->body.cap > KEEP_MAX)
		al_buf_release(&q->body);
	if (q->rb.out.cap > KEEP_MAX)
		al_buf_release(&q->rb.out);
	if (q->taken > 0)
		hub_buffer_give(q->c->p, q->taken);
	q->taken = 0;
}

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

	if (q->body.len + n > PROXY_BODY_MAX) {
		q->error = 413;
		return -1;
	}
	if (hub_buffer_take(q->c->p, BODY_COST * n) != 0) {
		q->error = 503;
		return -1;
	}
	q->taken += BODY_COST * n;
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
int
request_subst(const struct proxy_run *r, uint64_t mask, const char *p,
    size_t n, struct al_buf *out)
{
	size_t i, k = 0, at, best_at, best_len, len;
	const char *hit;
	long best;
	int rc = 0;

	while (k < n && rc == 0) {
		/* The nearest placeholder from k on (the longest there). */
		best = -1;
		best_at = n;
		best_len = 0;
		for (i = 0; mask != 0 && i < r->n; i++) {
			if (!(mask & ((uint64_t)1 << i)))
				continue;
			len = strlen(r->s[i].placeholder);
			hit = memmem(p + k, n - k, r->s[i].placeholder, len);
			if (hit == NULL)
				continue;
			at = (size_t)(hit - p);
			if (at < best_at || (at == best_at && len > best_len)) {
				best = (long)i;
				best_at = at;
				best_len = len;
			}
		}
		if ((rc = al_buf_append(out, p + k, best_at - k)) != 0 ||
		    best < 0)
			break;
		rc = al_buf_append(out, al_secret_open(r->s[best].value),
		    al_secret_len(r->s[best].value));
		al_secret_close(r->s[best].value);
		k = best_at + best_len;
	}
	return rc;
}

/* "Basic base64(user:placeholder)": decode, substitute, encode again. */
int
request_subst_basic(const struct proxy_run *r, uint64_t mask, const char *v,
    size_t n, struct al_buf *out)
{
	struct al_buf dec, plain;
	size_t dlen = 0, b64len;
	const char *b64 = v + 6;
	int rc = -1;

	al_buf_init(&dec, n + 1, AL_BUF_SENSITIVE);
	al_buf_init(&plain, PROXY_HEAD_MAX, AL_BUF_SENSITIVE);
	b64len = n - 6;
	if (al_buf_reserve(&dec, n) != 0)
		goto out;
	if (sodium_base642bin(dec.data, n, b64, b64len, " ", &dlen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0) {
		/* Not base64 after all: an ordinary header value. */
		rc = request_subst(r, mask, v, n, out);
		goto out;
	}
	if (request_subst(r, mask, (const char *)dec.data, dlen, &plain) != 0)
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

static llhttp_settings_t req_set;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static void
settings_init(void)
{
	llhttp_settings_init(&req_set);
	req_set.on_message_begin = rq_begin;
	req_set.on_url = rq_url;
	req_set.on_header_field = rq_field;
	req_set.on_header_value = rq_value;
	req_set.on_headers_complete = rq_head_done;
	req_set.on_body = rq_body;
	req_set.on_message_complete = rq_done;
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

/*
 * Is the request target a path ("/..."), or "*" for OPTIONS?  An absolute
 * URI names a host of its own, and a server (a shared front end) routes by
 * it rather than by Host: the request would go where the secret is not
 * bound, with the value in its headers.
 */
static int
target_ok(llhttp_t *h, const struct al_buf *url)
{
	const char *u = (const char *)url->data;

	if (url->len >= 1 && u[0] == '/')
		return 1;
	return url->len == 1 && u[0] == '*' &&
	    llhttp_get_method(h) == HTTP_OPTIONS;
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

/*
 * Where secret i's placeholder may be in this request's headers: only in
 * the credential headers (proxy_cred_header, plus the secret's own list).
 * Any other header could be shown back or logged by the bound server (an
 * Origin a CORS server echoes, a debug header), and the value with it.
 * The index of the first header it may not be in, or -1.
 */
static long
misplaced(const struct proxy_run *r, size_t i, const struct hcol *hc,
    const uint64_t *hv)
{
	size_t k;

	for (k = 0; k < hc->n; k++)
		if ((hv[k] & ((uint64_t)1 << i)) &&
		    !proxy_cred_header((const char *)hc->buf.data +
		    hc->h[k].name_off, hc->h[k].name_len, r->s[i].headers))
			return (long)k;
	return -1;
}

/* A WebSocket handshake: GET with Upgrade: websocket. */
static int
ws_handshake(llhttp_t *h, const struct hcol *hc)
{
	long i = hfind(hc, "upgrade");

	return llhttp_get_method(h) == HTTP_GET && i >= 0 &&
	    hc->h[i].val_len == 9 &&
	    strncasecmp(hval(hc, (size_t)i), "websocket", 9) == 0;
}

/*
 * After the 101: relay the frames, audit how it ended.  The connection
 * closes afterwards, whatever happened.
 */
static void
websocket(struct conn *c, struct req *q, const char *method,
    const char *path)
{
	struct ws_result res;
	char why[200];

	if (ws_relay(c, &q->rb, q->rest, q->rest_len, &res) == 1) {
		(void)snprintf(why, sizeof(why), "secret '%s' in a WebSocket "
		    "frame (placeholders are never substituted in frames)",
		    c->run->s[res.blocked].name);
		event(c, "egress_blocked", res.blocked, method, path, 101,
		    res.bytes_up, res.bytes_down, why);
		return;
	}
	event(c, "proxy_request", -1, method, path, 101, res.bytes_up,
	    res.bytes_down, res.bad ? "WebSocket ended by a malformed frame" :
	    res.timed_out ? "WebSocket idle, closed" : "WebSocket closed");
}

/*
 * Where the placeholders are in the target and the headers: one search
 * over "target\0name\0value\0name\0value\0..." (a stream per search
 * costs guarded memory; one per header would cost it many times), each
 * match put back on its field.
 */
struct where {
	size_t		 start[1 + 2 * PROXY_HDRS_MAX + 1];	/* fields */
	size_t		 nfields;
	uint64_t	 url, names, *hv;
};

static void
on_found(void *arg, size_t i, unsigned long long off, unsigned long long len)
{
	struct where *w = arg;
	uint64_t bit = (uint64_t)1 << i;
	size_t f = 0;

	(void)len;
	while (f + 1 < w->nfields && w->start[f + 1] <= off)
		f++;
	if (f == 0)
		w->url |= bit;
	else if (f % 2 == 1)
		w->names |= bit;
	else
		w->hv[f / 2 - 1] |= bit;
}

static int
find_head(const struct proxy_run *r, struct req *q, struct where *w)
{
	struct al_buf *b = &q->scan;
	size_t i;

	al_buf_reset(b);
	w->nfields = 0;
	w->url = w->names = 0;
	w->start[w->nfields++] = 0;
	if (al_buf_append(b, q->url.data, q->url.len) != 0 ||
	    al_buf_putc(b, '\0') != 0)
		return -1;
	for (i = 0; i < q->hc.n; i++) {
		w->hv[i] = 0;
		w->start[w->nfields++] = b->len;
		if (al_buf_append(b, q->hc.buf.data + q->hc.h[i].name_off,
		    q->hc.h[i].name_len) != 0 || al_buf_putc(b, '\0') != 0)
			return -1;
		w->start[w->nfields++] = b->len;
		if (al_buf_append(b, hval(&q->hc, i), q->hc.h[i].val_len) != 0 ||
		    al_buf_putc(b, '\0') != 0)
			return -1;
	}
	return run_find_spans(r, b->data, b->len, on_found, w);
}

/* Returns 0 to go on with the next request, -1 to close. */
static int
handle(struct conn *c, llhttp_t *h, struct req *q)
{
	const struct proxy_run *r = c->run;
	const char *method = llhttp_method_name(llhttp_get_method(h));
	char path[512], why[256], where[200];
	struct al_buf *out = &q->rb.out;
	uint64_t ht, hh = 0, hn = 0, hb, all, inj_url = 0, inj_head = 0;
	uint64_t inj_body = 0, down = 0;
	uint64_t hv[PROXY_HDRS_MAX];	/* secrets in each header's value */
	struct where wh;
	size_t i;
	long bad;
	int status = 0, rc = -1, is_basic, ws = 0;

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
	if (!target_ok(h, &q->url)) {
		(void)conn_reply(c, 400, "Bad Request", "airlock proxy: the "
		    "request target must be a path (origin form)\n");
		event(c, "proxy_request", -1, method, path, 400, 0, 0,
		    "request target not in origin form");
		rc = 0;
		goto out;
	}
	if (llhttp_get_upgrade(h)) {
		if (!ws_handshake(h, &q->hc)) {
			(void)conn_reply(c, 501, "Not Implemented", "airlock "
			    "proxy: only WebSocket upgrades are supported\n");
			event(c, "proxy_request", -1, method, path, 501, 0, 0,
			    "protocol upgrade other than WebSocket");
			goto out;
		}
		ws = 1;
	}
	/* Each header on its own: where a placeholder is decides. */
	wh.hv = hv;
	if (find_head(r, q, &wh) != 0 ||
	    run_find(r, q->body.data, q->body.len, &hb) != 0) {
		(void)conn_reply(c, 500, "Internal Server Error",
		    "airlock proxy: cannot inspect the request\n");
		goto out;
	}
	ht = wh.url;
	hn = wh.names;
	for (i = 0; i < q->hc.n; i++)
		hh |= hv[i];
	all = ht | hh | hn | hb;
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
		if (hn & bit) {
			block(c, i, "in a header name", method, path);
			rc = 0;
			goto out;
		}
		if ((bad = misplaced(r, i, &q->hc, hv)) >= 0) {
			(void)snprintf(where, sizeof(where), "in header "
			    "'%.*s' (it goes only in Authorization, Cookie, "
			    "*-Token and *-Key headers)",
			    (int)(q->hc.h[bad].name_len > 64 ? 64 :
			    q->hc.h[bad].name_len), (const char *)q->hc.buf.data
			    + q->hc.h[bad].name_off);
			block(c, i, where, method, path);
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
	    request_subst(r, inj_url, (const char *)q->url.data, q->url.len,
	    out) != 0 || al_buf_puts(out, " HTTP/1.1\r\n") != 0)
		goto out;
	for (i = 0; i < q->hc.n; i++) {
		const char *v = hval(&q->hc, i);
		size_t vl = q->hc.h[i].val_len;

		/* Proxy-Authorization among them: it never goes upstream. */
		/*
		 * No WebSocket extension: a compressed frame could not be
		 * searched for placeholders, nor masked.
		 */
		if (hop_header(&q->hc, i) || (ws && hname_is(&q->hc, i,
		    "sec-websocket-extensions")))
			continue;
		if (al_buf_append(out, q->hc.buf.data + q->hc.h[i].name_off,
		    q->hc.h[i].name_len) != 0 || al_buf_puts(out, ": "))
			goto out;
		/* Only credential headers have hits left: others refused. */
		is_basic = hname_is(&q->hc, i, "authorization") && vl > 6 &&
		    strncasecmp(v, "Basic ", 6) == 0;
		if (is_basic && (hv[i] & inj_head)) {
			if (request_subst_basic(r, hv[i] & inj_head, v, vl,
			    out) != 0)
				goto out;
		} else if (request_subst(r, hv[i] & inj_head, v, vl, out) != 0)
			goto out;
		if (al_buf_puts(out, "\r\n") != 0)
			goto out;
	}
	if (al_buf_puts(out, "Accept-Encoding: identity\r\n") != 0 ||
	    al_buf_puts(out, ws ? "Connection: Upgrade\r\n"
	    "Upgrade: websocket\r\n" : "Connection: keep-alive\r\n") != 0)
		goto out;
	{
		size_t mark = out->len, blen;

		/* The body after substitution decides Content-Length. */
		if (request_subst(r, inj_body, (const char *)q->body.data,
		    q->body.len, out) != 0)
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
	rc = relay_exchange(c, &q->rb, llhttp_get_method(h) == HTTP_HEAD, ws,
	    &status, &down, why, sizeof(why));
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
	if (ws && rc == 0 && status == 101) {
		al_buf_reset(out);	/* wiped: it held the values */
		websocket(c, q, method, path);
		rc = -1;
	} else if (ws)
		rc = -1;	/* refused upstream: the client gives up */
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
	int started = 0, rc;

	memset(&q, 0, sizeof(q));
	q.c = c;
	al_buf_init(&q.hc.buf, PROXY_HEAD_MAX, 0);
	al_buf_init(&q.url, URL_MAX, 0);
	al_buf_init(&q.body, PROXY_BODY_MAX, 0);
	al_buf_init(&q.scan, URL_MAX + PROXY_HEAD_MAX + 2 * PROXY_HDRS_MAX + 8,
	    0);
	if (relay_bufs_init(&q.rb) != 0 || (buf = malloc(READ_CHUNK)) == NULL)
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
			if (e != HPE_PAUSED && !(e == HPE_PAUSED_UPGRADE &&
			    q.complete)) {
				if (q.error == 503)
					(void)conn_reply(c, 503, "Service "
					    "Unavailable", "airlock proxy: too "
					    "many large requests at once; try "
					    "again later\n");
				else if (q.error == 413)
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
			q.rest = buf + off;
			q.rest_len = got - off;
			rc = handle(c, &h, &q);
			req_settle(&q);
			if (rc != 0 || !llhttp_should_keep_alive(&h))
				goto out;
			started = 0;
			q.complete = 0;
			llhttp_resume(&h);
		}
	}
out:
	req_settle(&q);
	al_buf_release(&q.hc.buf);
	al_buf_release(&q.url);
	al_buf_release(&q.body);
	al_buf_release(&q.scan);
	relay_bufs_release(&q.rb);
	free(buf);
}

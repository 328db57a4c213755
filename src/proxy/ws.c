/*
 * A WebSocket after its handshake went through (request.c, response.c):
 * frames relayed both ways until either side closes.
 *
 * Client to server: frames are forwarded as they came (still masked), but
 * their payloads are unmasked (RFC 6455, 5.3) and searched for the run's
 * placeholders, in every encoding the redactor knows, across frame
 * boundaries (the last bytes of the previous payloads are searched again
 * with each read).  A placeholder is never substituted in a frame: the
 * read that completes one is not forwarded, the client gets a close frame
 * (1008) and both connections end.  No extension is negotiated (request.c
 * drops Sec-WebSocket-Extensions), so payloads are never compressed.
 *
 * Server to client: each message's payload goes through a redactor of the
 * run's values, as response bodies do, one redactor for all the frames of
 * the message (a value cut across two of its frames is masked).  Masking
 * changes lengths, so a message is sent on as fragments, one per read (the
 * first with the message's opcode, the next as continuations, the last
 * with FIN once its last frame has come); what the redactor holds back at
 * the end of a frame goes with the next.  A control frame (at most 125
 * bytes, possibly between two frames of a message) is masked whole.  A
 * message ends whole, so a value cut across two messages is not masked.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proxy_int.h"

#define DL(c)	(&(c)->p->dl)

#define WS_CLOSE	0x8
#define WS_CONTROL_MAX	125
#define WS_TICK_MS	1000	/* how often the run's end is looked at */

/* Where a direction's parser stands. */
struct ws_dir {
	unsigned char	 hdr[14];
	size_t		 hlen;		/* header bytes so far */
	size_t		 hneed;		/* header bytes in all (2 until known) */
	uint64_t	 remain;	/* payload bytes still to come */
	unsigned char	 key[4];
	size_t		 koff;		/* position in the masking key */
	int		 opcode;
	int		 fin;
	int		 masked;
	/* Server to client: the message being masked. */
	struct redact_stream *rs;
	int		 msg_op;	/* its opcode */
	int		 sent_piece;	/* a fragment of it went out */
	unsigned char	 ctl[WS_CONTROL_MAX];
	size_t		 ctl_len;
};

struct ws {
	struct conn		*c;
	const struct proxy_run	*r;
	struct ws_dir		 up, down;	/* client->server, back */
	struct al_buf		 scan;		/* unmasked client payload */
	size_t			 tail_max;	/* kept for the next search */
	struct al_buf		 piece;		/* masked, for the client */
	struct al_buf		 wout;		/* frames for the client */
	long			 blocked;	/* secret found, or -1 */
	uint64_t		 bytes_up, bytes_down;
};

/* Header length once its second byte is known (and the length bytes). */
static size_t
hdr_need(const unsigned char *h, size_t have)
{
	size_t n = 2;
	unsigned len7 = h[1] & 0x7f;

	if (have < 2)
		return 2;
	if (len7 == 126)
		n += 2;
	else if (len7 == 127)
		n += 8;
	if (h[1] & 0x80)
		n += 4;
	return n;
}

/* The frame's header is complete: read its fields. */
static int
hdr_done(struct ws_dir *d)
{
	unsigned len7 = d->hdr[1] & 0x7f;
	size_t k, at = 2;

	d->fin = (d->hdr[0] & 0x80) != 0;
	d->opcode = d->hdr[0] & 0x0f;
	d->masked = (d->hdr[1] & 0x80) != 0;
	/* No extension was negotiated: no RSV bit may be set. */
	if (d->hdr[0] & 0x70)
		return -1;
	if (len7 < 126)
		d->remain = len7;
	else if (len7 == 126) {
		d->remain = ((uint64_t)d->hdr[2] << 8) | d->hdr[3];
		at = 4;
	} else {
		d->remain = 0;
		for (k = 0; k < 8; k++)
			d->remain = (d->remain << 8) | d->hdr[2 + k];
		at = 10;
		if (d->remain >> 63)
			return -1;
	}
	if (d->opcode >= 8 && (d->remain > WS_CONTROL_MAX || !d->fin))
		return -1;
	if (d->masked)
		memcpy(d->key, d->hdr + at, 4);
	d->koff = 0;
	return 0;
}

/* Take header bytes from p; how many, or -1 on a bad frame. */
static long
hdr_take(struct ws_dir *d, const unsigned char *p, size_t n)
{
	size_t used = 0;

	while (used < n && d->hlen < d->hneed) {
		d->hdr[d->hlen++] = p[used++];
		d->hneed = hdr_need(d->hdr, d->hlen);
	}
	if (d->hlen == d->hneed && hdr_done(d) != 0)
		return -1;
	return (long)used;
}

static void
dir_next_frame(struct ws_dir *d)
{
	d->hlen = 0;
	d->hneed = 2;
}

/* ---- client to server ---------------------------------------------------- */

/*
 * Look for placeholders in what this read brought (unmasked), after the
 * tail of what came before; keep the new tail.
 */
static int
scan_client(struct ws *w)
{
	uint64_t hits = 0;
	size_t i, keep;

	if (run_find(w->r, w->scan.data, w->scan.len, &hits) != 0)
		return -1;
	for (i = 0; i < w->r->n; i++)
		if (hits & ((uint64_t)1 << i)) {
			w->blocked = (long)i;
			return 1;
		}
	keep = w->scan.len < w->tail_max ? w->scan.len : w->tail_max;
	memmove(w->scan.data, w->scan.data + w->scan.len - keep, keep);
	w->scan.len = keep;
	return 0;
}

/* 0: forward p; 1: a placeholder (do not); -1: a bad frame. */
static int
from_client(struct ws *w, const unsigned char *p, size_t n)
{
	struct ws_dir *d = &w->up;
	size_t k, take;
	long used;

	while (n > 0) {
		if (d->hlen < d->hneed) {
			if ((used = hdr_take(d, p, n)) < 0)
				return -1;
			/* A client must mask its frames (RFC 6455, 5.1). */
			if (d->hlen == d->hneed && !d->masked)
				return -1;
			p += used;
			n -= (size_t)used;
			if (d->hlen == d->hneed && d->remain == 0)
				dir_next_frame(d);
			continue;
		}
		take = d->remain < n ? (size_t)d->remain : n;
		if (al_buf_reserve(&w->scan, take) != 0)
			return -1;
		for (k = 0; k < take; k++)
			w->scan.data[w->scan.len + k] = p[k] ^
			    d->key[(d->koff + k) & 3];
		w->scan.len += take;
		d->koff = (d->koff + take) & 3;
		d->remain -= take;
		p += take;
		n -= take;
		if (d->remain == 0)
			dir_next_frame(d);
	}
	return scan_client(w);
}

/* ---- server to client ---------------------------------------------------- */

static int
put_frame(struct al_buf *o, int fin, int opcode, const void *p, size_t n)
{
	unsigned char h[10];
	size_t hl = 2, k;

	h[0] = (unsigned char)((fin ? 0x80 : 0) | opcode);
	if (n < 126)
		h[1] = (unsigned char)n;
	else if (n <= 0xffff) {
		h[1] = 126;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		hl = 4;
	} else {
		h[1] = 127;
		for (k = 0; k < 8; k++)
			h[2 + k] = (unsigned char)((uint64_t)n >> (56 - 8 * k));
		hl = 10;
	}
	if (al_buf_append(o, h, hl) != 0 || al_buf_append(o, p, n) != 0)
		return -1;
	return 0;
}

static int
emit_piece(void *arg, const void *p, size_t n)
{
	return al_buf_append(&((struct ws *)arg)->piece, p, n) == 0 ? 0 : -1;
}

/* Send what the frame's redactor gave as a fragment (last: with FIN). */
static int
piece_out(struct ws *w, int last)
{
	struct ws_dir *d = &w->down;
	int op = d->sent_piece ? 0 : d->msg_op;

	if (w->piece.len == 0 && !last)
		return 0;
	if (put_frame(&w->wout, last, op, w->piece.data, w->piece.len) != 0)
		return -1;
	w->bytes_down += w->piece.len;
	al_buf_reset(&w->piece);
	d->sent_piece = 1;
	return 0;
}

/* The server frame's payload has all come (its message too, with FIN). */
static int
down_frame_end(struct ws *w)
{
	struct ws_dir *d = &w->down;
	struct al_buf m;
	int rc = -1;

	if (d->opcode >= 8) {
		al_buf_init(&m, 4 * WS_CONTROL_MAX + 64, 0);
		if (redact_buffer(w->r->values, d->ctl, d->ctl_len, &m,
		    NULL) == 0)
			rc = put_frame(&w->wout, 1, d->opcode, m.data,
			    m.len > WS_CONTROL_MAX ? WS_CONTROL_MAX : m.len);
		w->bytes_down += d->ctl_len;
		al_buf_release(&m);
		sodium_memzero(d->ctl, sizeof(d->ctl));
		d->ctl_len = 0;
	} else if (!d->fin) {
		rc = piece_out(w, 0);	/* the message goes on */
	} else {
		if (redact_stream_finish(d->rs, emit_piece, w) == 0)
			rc = piece_out(w, 1);
		redact_stream_free(d->rs);
		d->rs = NULL;
	}
	dir_next_frame(d);
	return rc;
}

static int
from_server(struct ws *w, const unsigned char *p, size_t n)
{
	struct ws_dir *d = &w->down;
	size_t take;
	long used;

	while (n > 0) {
		if (d->hlen < d->hneed) {
			if ((used = hdr_take(d, p, n)) < 0)
				return -1;
			p += used;
			n -= (size_t)used;
			if (d->hlen < d->hneed)
				continue;
			/* A server must not mask its frames. */
			if (d->masked)
				return -1;
			/*
			 * A data frame begins a message or, as a continuation
			 * (opcode 0), goes on with the one begun: anything
			 * else is a broken stream of frames (RFC 6455, 5.4).
			 */
			if (d->opcode < 8 && (d->opcode == 0) != (d->rs != NULL))
				return -1;
			if (d->opcode != 0 && d->opcode < 8) {
				d->sent_piece = 0;
				d->msg_op = d->opcode;
				if (redact_stream_new(w->r->values, &d->rs))
					return -1;
			}
			if (d->remain == 0 && down_frame_end(w) != 0)
				return -1;
			continue;
		}
		take = d->remain < n ? (size_t)d->remain : n;
		if (d->opcode >= 8) {
			memcpy(d->ctl + d->ctl_len, p, take);
			d->ctl_len += take;
		} else if (redact_stream_write(d->rs, p, take, emit_piece,
		    w) != 0)
			return -1;
		d->remain -= take;
		p += take;
		n -= take;
		if (d->remain == 0 && down_frame_end(w) != 0)
			return -1;
	}
	/* What this read gave of an unfinished frame goes now. */
	if (d->hlen == d->hneed && d->opcode < 8 && piece_out(w, 0) != 0)
		return -1;
	return 0;
}

/* ---- the relay ----------------------------------------------------------- */

static int
flush_client(struct ws *w)
{
	int rc = 0;

	if (w->wout.len > 0)
		rc = conn_ssl_write(w->c, w->c->cssl, w->wout.data,
		    w->wout.len);
	al_buf_reset(&w->wout);
	return rc;
}

/* Tell the client why, if no server frame is half sent. */
static void
close_blocked(struct ws *w)
{
	static const char why[] = "\x03\xf0" "airlock: placeholder in a "
	    "WebSocket frame";

	if (w->down.hlen == 0 && w->wout.len == 0 &&
	    put_frame(&w->wout, 1, WS_CLOSE, why, sizeof(why) - 1) == 0)
		(void)flush_client(w);
}

static int
client_bytes(struct ws *w, const unsigned char *p, size_t n)
{
	int rc = from_client(w, p, n);

	if (rc != 0)
		return rc;
	if (conn_ssl_write(w->c, w->c->ussl, p, n) != 0)
		return -1;
	w->bytes_up += n;
	return 0;
}

static int
server_bytes(struct ws *w, const unsigned char *p, size_t n)
{
	if (from_server(w, p, n) != 0)
		return -1;
	return flush_client(w);
}

int
ws_relay(struct conn *c, struct relay_bufs *b, const void *crest,
    size_t crest_len, struct ws_result *res)
{
	const struct ossl_dl *dl = DL(c);
	struct pollfd pf[2];
	struct ws w;
	unsigned char *cbuf = NULL;
	size_t got, i, ph;
	int rc = 0, pr, cready, uready, idle;

	memset(res, 0, sizeof(*res));
	res->blocked = -1;
	memset(&w, 0, sizeof(w));
	w.c = c;
	w.r = c->run;
	w.blocked = -1;
	dir_next_frame(&w.up);
	dir_next_frame(&w.down);
	/* The longest form of a placeholder the redactor looks for. */
	for (i = 0; i < w.r->n; i++)
		if ((ph = redact_max_held(w.r->s[i].ph)) > w.tail_max)
			w.tail_max = ph;
	al_buf_init(&w.scan, w.tail_max + PROXY_READ_CHUNK + 16, 0);
	al_buf_init(&w.piece, (size_t)1 << 30, 0);
	al_buf_init(&w.wout, (size_t)1 << 30, 0);
	if ((cbuf = malloc(PROXY_READ_CHUNK)) == NULL)
		goto out;
	/* Blocking reads return when a record held no data (a ticket). */
	(void)dl->SSL_ctrl(c->cssl, SSL_CTRL_CLEAR_MODE, SSL_MODE_AUTO_RETRY,
	    NULL);
	(void)dl->SSL_ctrl(c->ussl, SSL_CTRL_CLEAR_MODE, SSL_MODE_AUTO_RETRY,
	    NULL);
	if (b->ws_rest.len > 0 && (rc = server_bytes(&w, b->ws_rest.data,
	    b->ws_rest.len)) != 0)
		goto out;
	al_buf_reset(&b->ws_rest);
	if (crest_len > 0 && (rc = client_bytes(&w, crest, crest_len)) != 0)
		goto out;
	for (idle = 0;;) {
		/* A run that ended (its lease expired) takes its sockets. */
		if (!hub_run_alive(c->p, c->run))
			break;
		cready = dl->SSL_has_pending(c->cssl);
		uready = dl->SSL_has_pending(c->ussl);
		if (!cready && !uready) {
			pf[0].fd = c->cfd;
			pf[1].fd = c->ufd;
			pf[0].events = pf[1].events = POLLIN;
			pr = poll(pf, 2, WS_TICK_MS);
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr < 0)
				break;
			if (pr == 0) {
				if ((idle += WS_TICK_MS) >= c->p->idle_ms) {
					res->timed_out = 1;
					break;
				}
				continue;
			}
			cready = pf[0].revents != 0;
			uready = pf[1].revents != 0;
		}
		idle = 0;
		if (cready) {
			if (dl->SSL_read_ex(c->cssl, cbuf, PROXY_READ_CHUNK,
			    &got) != 1) {
				if (dl->SSL_get_error(c->cssl, 0) !=
				    SSL_ERROR_WANT_READ)
					break;
			} else if ((rc = client_bytes(&w, cbuf, got)) != 0)
				break;
		}
		if (uready) {
			if (dl->SSL_read_ex(c->ussl, b->rbuf, PROXY_READ_CHUNK,
			    &got) != 1) {
				if (dl->SSL_get_error(c->ussl, 0) !=
				    SSL_ERROR_WANT_READ)
					break;
			} else if ((rc = server_bytes(&w, b->rbuf, got)) != 0)
				break;
		}
	}
out:
	if (rc == 1) {
		res->blocked = w.blocked;
		close_blocked(&w);
	}
	res->bad = rc < 0;
	res->bytes_up = w.bytes_up;
	res->bytes_down = w.bytes_down;
	redact_stream_free(w.down.rs);
	sodium_memzero(b->rbuf, PROXY_READ_CHUNK);
	sodium_memzero(w.down.ctl, sizeof(w.down.ctl));
	al_buf_release(&w.scan);
	al_buf_release(&w.piece);
	al_buf_release(&w.wout);
	al_buf_reset(&b->ws_rest);
	if (cbuf != NULL)
		sodium_memzero(cbuf, PROXY_READ_CHUNK);
	free(cbuf);
	return rc == 1 ? 1 : 0;
}

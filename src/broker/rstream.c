/*
 * POST /v1/redact/stream: a redactor stream held in the broker.  The
 * request sets it up on the loop thread (the policy decides which values,
 * as for /v1/redact; they are read from the vault into the redactor's
 * guarded tables and never leave it); the connection is then upgraded to
 * frames (see api.h) and the stream runs on a thread of its own, so that
 * masking a large input never delays the loop's other requests.  The
 * thread owns the socket, the redactor and the stream until it ends; it
 * then marks itself done and wakes the loop, which joins it and writes one
 * `redact` audit line with the counts (never a text).
 *
 * What the stream releases is what `airlock run` releases: after a data
 * frame, all but the fixed hold; at a flush frame (the client's input has
 * paused), what a pause releases; at the end frame, the rest, whole
 * values masked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/redact.h"
#include "broker_int.h"

#define OUT_CHUNK	(256 * 1024)	/* output sent in frames this big */

struct worker {
	struct rstream		*rs;
	struct redact_stream	*st;
	unsigned char		*out;		/* masked output, OUT_CHUNK */
	size_t			 nout;
	size_t			 extra_off;
	unsigned		*per_value;	/* masks per value */
	int			 io_failed;
};

_Static_assert(API_RS_HEAD == AL_FRAME_HEAD,
    "redaction frames are base frames");

static int
send_frame(struct worker *w, char type, const void *p, size_t n)
{
	if (al_frame_send(w->rs->sock, type, p, n) != 0) {
		w->io_failed = 1;
		return -1;
	}
	return 0;
}

static int
send_out(struct worker *w)
{
	int rc = 0;

	if (w->nout > 0)
		rc = send_frame(w, API_RS_DATA, w->out, w->nout);
	w->nout = 0;
	return rc;
}

/* The redactor's output (masked: nothing secret) into frames. */
static int
emit(void *arg, const void *p, size_t n)
{
	struct worker *w = arg;
	const unsigned char *b = p;
	size_t k;

	while (n > 0) {
		k = OUT_CHUNK - w->nout;
		if (k > n)
			k = n;
		memcpy(w->out + w->nout, b, k);
		w->nout += k;
		b += k;
		n -= k;
		if (w->nout == OUT_CHUNK && send_out(w) != 0)
			return AL_EIO;
	}
	return 0;
}

static void
on_span(void *arg, unsigned long long off, unsigned long long len,
    unsigned int value,
    const char *rule)
{
	struct worker *w = arg;

	(void)off;
	(void)len;
	(void)rule;
	if (value != REDACT_SPAN_RULE && value < w->rs->nnames)
		w->per_value[value]++;
}

/* Exactly n bytes: first what libmicrohttpd had read, then the socket. */
static int
recv_full(struct worker *w, void *p, size_t n)
{
	struct rstream *rs = w->rs;
	unsigned char *b = p;
	size_t k;

	if (w->extra_off < rs->nextra) {
		k = rs->nextra - w->extra_off;
		if (k > n)
			k = n;
		memcpy(b, rs->extra + w->extra_off, k);
		w->extra_off += k;
		b += k;
		n -= k;
	}
	return al_recv_full(rs->sock, b, n);
}

static void
fail(struct worker *w, const char *msg)
{
	(void)snprintf(w->rs->error, sizeof(w->rs->error), "%s", msg);
	if (!w->io_failed)
		(void)send_frame(w, API_RS_ERROR, msg, strlen(msg));
}

static void
serve(struct worker *w, unsigned char *in)
{
	struct rstream *rs = w->rs;
	unsigned char head[API_RS_HEAD], cnt[8];
	unsigned long long m;
	size_t len;
	int rc, i;

	for (;;) {
		if (recv_full(w, head, sizeof(head)) != 0) {
			/* Gone without an end: nothing more is released. */
			(void)snprintf(rs->error, sizeof(rs->error), "%s",
			    atomic_load(&rs->aborted) ? "the broker stopped" :
			    "the client went away before the end of the "
			    "stream");
			return;
		}
		len = al_frame_len(head);
		if (len > API_RS_FRAME_MAX || (head[0] != API_RS_DATA &&
		    len != 0)) {
			fail(w, "malformed frame");
			return;
		}
		if (len > 0 && recv_full(w, in, len) != 0) {
			(void)snprintf(rs->error, sizeof(rs->error), "the "
			    "client went away in the middle of a frame");
			return;
		}
		switch (head[0]) {
		case API_RS_DATA:
			rs->bytes_in += len;
			rc = w->st == NULL ? emit(w, in, len) :
			    redact_stream_write(w->st, in, len, emit, w);
			sodium_memzero(in, len);
			if (rc != 0 || send_out(w) != 0)
				goto failed;
			break;
		case API_RS_FLUSH:
			rs->flushes++;
			if ((w->st != NULL && redact_stream_flush(w->st, emit,
			    w) != 0) || send_out(w) != 0 ||
			    send_frame(w, API_RS_FLUSH, NULL, 0) != 0)
				goto failed;
			break;
		case API_RS_END:
			if ((w->st != NULL && redact_stream_finish(w->st, emit,
			    w) != 0) || send_out(w) != 0)
				goto failed;
			m = w->st != NULL ? redact_stream_masks(w->st) : 0;
			rs->masks = m;
			for (i = 7; i >= 0; i--) {
				cnt[i] = (unsigned char)m;
				m >>= 8;
			}
			if (send_frame(w, API_RS_END, cnt, sizeof(cnt)) != 0)
				goto failed;
			rs->ok = 1;
			return;
		default:
			fail(w, "unknown frame type");
			return;
		}
	}
failed:
	if (w->st != NULL)
		rs->masks = redact_stream_masks(w->st);
	if (w->io_failed)
		(void)snprintf(rs->error, sizeof(rs->error), "the client "
		    "stopped reading");
	else
		fail(w, "redaction failed");
}

static void *
run(void *arg)
{
	struct rstream *rs = arg;
	struct worker w;
	struct al_err err;
	unsigned char *in;
	uint64_t one = 1;
	size_t k;
	int fl;

	memset(&w, 0, sizeof(w));
	w.rs = rs;
	/* This thread waits on the socket; the loop never does. */
	if ((fl = fcntl(rs->sock, F_GETFL)) >= 0)
		(void)fcntl(rs->sock, F_SETFL, fl & ~O_NONBLOCK);
	in = sodium_malloc(API_RS_FRAME_MAX);
	w.out = malloc(OUT_CHUNK);
	w.per_value = calloc(rs->nnames + 1, sizeof(*w.per_value));
	if (in == NULL || w.out == NULL || w.per_value == NULL)
		fail(&w, "out of memory");
	else if (rs->r != NULL && (redact_compile(rs->r, &err) != 0 ||
	    redact_stream_new(rs->r, &w.st) != 0))
		fail(&w, "the redactor could not be built");
	else {
		if (w.st != NULL)
			redact_stream_set_span(w.st, on_span, &w);
		serve(&w, in);
	}
	redact_stream_free(w.st);
	for (k = 0; w.per_value != NULL && k < rs->nnames; k++)
		rs->names[k].n = w.per_value[k];
	free(w.per_value);
	free(w.out);
	sodium_free(in);	/* wipes it */
	atomic_store(&rs->done, 1);
	(void)!write(rs->notify_fd, &one, sizeof(one));
	return NULL;
}

int
rstream_start(struct rstream *rs, int sock, const char *extra, size_t nextra,
    int notify_fd)
{
	rs->sock = sock;
	rs->notify_fd = notify_fd;
	if (nextra > 0) {
		/* It may hold values: guarded, wiped on free. */
		if ((rs->extra = sodium_malloc(nextra)) == NULL)
			return AL_ENOMEM;
		memcpy(rs->extra, extra, nextra);
		rs->nextra = nextra;
	}
	if (pthread_create(&rs->thread, NULL, run, rs) != 0)
		return AL_ESYS;
	rs->started = 1;
	return 0;
}

int
rstream_done(const struct rstream *rs)
{
	return atomic_load(&rs->done);
}

void
rstream_abort(struct rstream *rs)
{
	if (rs->started && !rstream_done(rs)) {
		atomic_store(&rs->aborted, 1);
		(void)shutdown(rs->sock, SHUT_RDWR);
	}
}

void
rstream_end(struct rstream *rs)
{
	json_t *detail, *fo;
	size_t k;

	if (rs->started)
		(void)pthread_join(rs->thread, NULL);
	rs->started = 0;
	fo = json_object();
	for (k = 0; fo != NULL && k < rs->nnames; k++)
		if (rs->names[k].n > 0)
			json_object_set_new(fo, rs->names[k].name,
			    json_integer(rs->names[k].n));
	detail = json_pack("{s:s,s:I,s:I,s:I,s:i,s:o*}", "mode", "stream",
	    "bytes", (json_int_t)rs->bytes_in, "masks", (json_int_t)rs->masks,
	    "secrets_checked", (json_int_t)rs->nnames, "flushes",
	    (int)rs->flushes, "found", fo);
	if (detail != NULL && !rs->ok)
		json_object_set_new(detail, "error", json_string(rs->error));
	/* The output is already out: recorded whatever the log's state. */
	record_fact(rs->b, "redact", rs->ok ? "ok" : "error", rs->who, NULL,
	    NULL, rs->task, rs->intent, NULL, detail);
	json_decref(detail);
	rstream_free(rs);
}

void
rstream_free(struct rstream *rs)
{
	if (rs == NULL)
		return;
	if (rs->started)
		(void)pthread_join(rs->thread, NULL);
	json_decref(rs->who);
	redact_free(rs->r);
	free(rs->names);
	sodium_free(rs->extra);
	free(rs);
}

void
h_redact_stream(struct route_args *a)
{
	struct broker *b = a->b;
	const char *q = a->req->query;
	char secrets[API_TEXT_MAX * 4 + 1];
	struct rstream *rs;
	struct al_err err;
	int only;

	if (b->audit_failed) {
		reply_error(a->resp, 503, API_E_UNAVAILABLE, "the audit log "
		    "cannot be written (see /v1/health)");
		return;
	}
	if ((rs = calloc(1, sizeof(*rs))) == NULL) {
		reply_error(a->resp, 500, API_E_INTERNAL, "out of memory");
		return;
	}
	rs->b = b;
	rs->sock = -1;
	rs->uid = a->req->caller->uid;
	(void)snprintf(rs->intent, sizeof(rs->intent), "redact");
	only = query_get(q, "secrets", secrets, sizeof(secrets)) == 0;
	if ((query_get(q, "task", rs->task, sizeof(rs->task)) == 0 &&
	    !text_ok(rs->task)) || (query_get(q, "intent", rs->intent,
	    sizeof(rs->intent)) == 0 && !text_ok(rs->intent)) ||
	    (!only && strstr(q != NULL ? q : "", "secrets=") != NULL) ||
	    (only && secrets[0] == '\0')) {
		reply_error(a->resp, 400, API_E_BAD_REQUEST, "task and intent "
		    "printable, at most 256 bytes; secrets a comma-separated "
		    "list of names");
		goto bad;
	}
	if (text_guard(a, API_F_TASK, rs->task) != 0 ||
	    text_guard(a, API_F_INTENT, rs->intent) != 0)
		goto bad;
	if (rs->intent[0] == '\0')
		(void)snprintf(rs->intent, sizeof(rs->intent), "redact");
	/* Read here (the vault is the loop's); compiled on the thread. */
	if (redact_for_caller(b, a->req->caller, rs->task, rs->intent,
	    only ? secrets : NULL, 0, &rs->r, &rs->names, &rs->nnames,
	    &err) != 0) {
		reply_al_err(a->resp, &err);
		goto bad;
	}
	if (rs->nnames == 0) {
		redact_free(rs->r);
		rs->r = NULL;
	}
	rs->who = caller_json(a->req->caller);
	a->resp->status = 101;
	a->resp->upgrade = rs;
	return;
bad:
	rstream_free(rs);
}

/*
 * The guard's HTTP side: libmicrohttpd accepts the agent's requests (one
 * thread per connection), the body is masked (body.c), and libcurl sends
 * it upstream.  The response streams back as it arrives: the connection's
 * thread drives the transfer from libmicrohttpd's content reader, so no
 * byte waits for the next one and nothing is buffered beyond one read.
 *
 * Every refusal answers in the provider's own error shape, so the agent
 * shows its user why: Anthropic's for the Messages API, OpenAI's for
 * everything else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "airlock/redact.h"
#include "guard_int.h"

#define UPSTREAM_CONNECT_S	15
#define UPSTREAM_STALL_S	600	/* no byte for this long: give up */
#define READER_BLOCK		(32 * 1024)
#define URI_MAX			(64 * 1024)

struct req {
	struct guard	*g;
	char		*uri;		/* as sent, with the query */
	struct al_buf	 body;		/* guarded */
	int		 started;
	int		 too_big;
};

struct call {			/* one upstream transfer */
	struct guard	*g;
	CURLM		*multi;
	CURL		*easy;
	struct curl_slist *hdrs;
	struct al_buf	 body;		/* the masked body being sent */
	long		 status;
	int		 headers_done;
	int		 done;
	CURLcode	 result;
	char		**rh;		/* response headers, "Name: value" */
	size_t		 nrh;
	unsigned char	*pend;		/* received, not yet handed on */
	size_t		 pend_len, pend_off, pend_cap;
	char		 errbuf[CURL_ERROR_SIZE];
};

/* ---- errors in the provider's shape ------------------------------------ */

static int
anthropic_path(const char *url)
{
	return strstr(url, "/v1/messages") != NULL;
}

static enum MHD_Result
reply_send(struct guard *g, struct MHD_Connection *c, const char *url,
    unsigned status, const char *msg)
{
	struct MHD_Response *r;
	json_t *j;
	char *text = NULL;
	const char *type;
	enum MHD_Result ret;

	if (anthropic_path(url)) {
		type = status == 413 ? "request_too_large" :
		    status >= 500 ? "api_error" : "invalid_request_error";
		j = json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error",
		    "type", type, "message", msg);
	} else {
		type = status >= 500 ? "server_error" :
		    "invalid_request_error";
		j = json_pack("{s:{s:s, s:s, s:n, s:s}}", "error", "message",
		    msg, "type", type, "param", "code", status == 413 ?
		    "request_too_large" : status >= 500 ? "airlock_guard" :
		    "airlock_secret_refused");
	}
	if (j != NULL)
		text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (text == NULL)
		return MHD_NO;
	r = g->dl.create_response_from_buffer(strlen(text), text,
	    MHD_RESPMEM_MUST_COPY);
	free(text);
	if (r == NULL)
		return MHD_NO;
	(void)g->dl.add_response_header(r, "Content-Type", "application/json");
	(void)g->dl.add_response_header(r, "X-Airlock-Guard", "refused");
	ret = g->dl.queue_response(c, status, r);
	g->dl.destroy_response(r);
	return ret;
}

/* A refusal of the guard's own (or 502: the upstream failed), counted. */
static enum MHD_Result
reply_error(struct guard *g, struct MHD_Connection *c, const char *url,
    unsigned status, const char *msg)
{
	guard_count(g, status == 502 ? GUARD_UPSTREAM_FAILED : GUARD_REFUSED,
	    NULL);
	return reply_send(g, c, url, status, msg);
}

/* ---- the upstream transfer --------------------------------------------- */

static void
call_free(void *arg)
{
	struct call *k = arg;
	size_t i;

	if (k == NULL)
		return;
	if (k->easy != NULL) {
		if (k->multi != NULL)
			(void)k->g->dl.multi_remove_handle(k->multi, k->easy);
		k->g->dl.easy_cleanup(k->easy);
	}
	if (k->multi != NULL)
		(void)k->g->dl.multi_cleanup(k->multi);
	if (k->hdrs != NULL)
		k->g->dl.slist_free_all(k->hdrs);
	for (i = 0; i < k->nrh; i++)
		free(k->rh[i]);
	free(k->rh);
	free(k->pend);
	al_buf_release(&k->body);
	free(k);
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct call *k = arg;
	size_t len = size * n, l = len;
	char **nrh, *h;

	while (l > 0 && (p[l - 1] == '\r' || p[l - 1] == '\n'))
		l--;
	if (l >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* A status line: a 1xx before it is forgotten. */
		while (k->nrh > 0)
			free(k->rh[--k->nrh]);
		k->status = 0;
		(void)k->g->dl.easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE,
		    &k->status);
		return len;
	}
	if (l == 0) {
		if (k->status >= 200)
			k->headers_done = 1;
		return len;
	}
	if ((nrh = realloc(k->rh, (k->nrh + 1) * sizeof(*nrh))) == NULL)
		return 0;
	k->rh = nrh;
	if ((h = strndup(p, l)) == NULL)
		return 0;
	k->rh[k->nrh++] = h;
	return len;
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct call *k = arg;
	size_t len = size * n, ncap;
	unsigned char *np;

	if (k->pend_off == k->pend_len)
		k->pend_off = k->pend_len = 0;
	if (k->pend_len + len > k->pend_cap) {
		ncap = k->pend_cap ? k->pend_cap : 16384;
		while (ncap < k->pend_len + len)
			ncap *= 2;
		if ((np = realloc(k->pend, ncap)) == NULL)
			return 0;
		k->pend = np;
		k->pend_cap = ncap;
	}
	memcpy(k->pend + k->pend_len, p, len);
	k->pend_len += len;
	return len;
}

/* Move the transfer on, waiting up to wait_ms for the network. */
static void
drive(struct call *k, int wait_ms)
{
	struct CURLMsg *m;
	int running = 0, left;

	if (k->g->dl.multi_perform(k->multi, &running) != CURLM_OK) {
		k->done = 1;
		k->result = CURLE_FAILED_INIT;
		return;
	}
	while ((m = k->g->dl.multi_info_read(k->multi, &left)) != NULL)
		if (m->msg == CURLMSG_DONE) {
			k->done = 1;
			k->result = m->data.result;
		}
	if (!k->done && running > 0 && k->pend_off == k->pend_len)
		(void)k->g->dl.multi_poll(k->multi, NULL, 0, wait_ms, NULL);
	if (!k->done && running == 0)
		k->done = 1;
}

static ssize_t
reader(void *arg, uint64_t pos, char *buf, size_t max)
{
	struct call *k = arg;
	size_t n;

	(void)pos;
	for (;;) {
		if (k->pend_off < k->pend_len) {
			n = k->pend_len - k->pend_off;
			if (n > max)
				n = max;
			memcpy(buf, k->pend + k->pend_off, n);
			k->pend_off += n;
			return (ssize_t)n;
		}
		if (k->done)
			return k->result == CURLE_OK ?
			    MHD_CONTENT_READER_END_OF_STREAM :
			    MHD_CONTENT_READER_END_WITH_ERROR;
		drive(k, 1000);
	}
}

struct hdr_ctx {
	struct call	*k;
	int		 has_ct, has_accept, oom;
};

/* Hop-by-hop headers, and those curl must write itself. */
static int
hop(const char *name)
{
	static const char *const skip[] = { "host", "content-length",
	    "connection", "keep-alive", "transfer-encoding", "te", "trailer",
	    "upgrade", "proxy-connection", "proxy-authorization", "expect",
	    NULL };
	size_t i;

	for (i = 0; skip[i] != NULL; i++)
		if (strcasecmp(name, skip[i]) == 0)
			return 1;
	return 0;
}

static enum MHD_Result
copy_header(void *arg, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct hdr_ctx *h = arg;
	struct curl_slist *l;
	char *line;

	(void)kind;
	if (key == NULL || hop(key))
		return MHD_YES;
	if (strcasecmp(key, "content-type") == 0)
		h->has_ct = 1;
	if (strcasecmp(key, "accept") == 0)
		h->has_accept = 1;
	/* "Name;" sends a header with an empty value (curl's convention). */
	if (asprintf(&line, value != NULL && *value ? "%s: %s" : "%s;", key,
	    value != NULL ? value : "") < 0) {
		h->oom = 1;
		return MHD_NO;
	}
	l = h->k->g->dl.slist_append(h->k->hdrs, line);
	free(line);
	if (l == NULL) {
		h->oom = 1;
		return MHD_NO;
	}
	h->k->hdrs = l;
	return MHD_YES;
}

static int
add_hdr(struct call *k, const char *line)
{
	struct curl_slist *l = k->g->dl.slist_append(k->hdrs, line);

	if (l == NULL)
		return -1;
	k->hdrs = l;
	return 0;
}

/*
 * Start the transfer of k->body and wait for the response's headers.  0
 * when they came; otherwise msg says why (the upstream is down).
 */
static int
call_start(struct call *k, struct MHD_Connection *c, const char *method,
    const char *uri, char *msg, size_t msgsz)
{
	struct guard *g = k->g;
	struct hdr_ctx h = { k, 0, 0, 0 };
	char *url = NULL;
	int rc = -1;

	if (asprintf(&url, "%s%s", g->upstream, uri) < 0 ||
	    (k->multi = g->dl.multi_init()) == NULL ||
	    (k->easy = g->dl.easy_init()) == NULL) {
		(void)snprintf(msg, msgsz, "out of memory");
		goto out;
	}
	(void)g->dl.get_connection_values(c, MHD_HEADER_KIND, copy_header,
	    &h);
	if (h.oom || add_hdr(k, "Expect:") != 0 ||
	    (!h.has_ct && add_hdr(k, "Content-Type:") != 0) ||
	    (!h.has_accept && add_hdr(k, "Accept:") != 0)) {
		(void)snprintf(msg, msgsz, "out of memory");
		goto out;
	}
	g->dl.easy_setopt(k->easy, CURLOPT_URL, url);
	g->dl.easy_setopt(k->easy, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		g->dl.easy_setopt(k->easy, CURLOPT_POSTFIELDS,
		    k->body.len ? (char *)k->body.data : "");
		g->dl.easy_setopt(k->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)k->body.len);
	}
	if (strcmp(method, "HEAD") == 0)
		g->dl.easy_setopt(k->easy, CURLOPT_NOBODY, 1L);
	g->dl.easy_setopt(k->easy, CURLOPT_HTTPHEADER, k->hdrs);
	g->dl.easy_setopt(k->easy, CURLOPT_HEADERFUNCTION, on_header);
	g->dl.easy_setopt(k->easy, CURLOPT_HEADERDATA, k);
	g->dl.easy_setopt(k->easy, CURLOPT_WRITEFUNCTION, on_data);
	g->dl.easy_setopt(k->easy, CURLOPT_WRITEDATA, k);
	g->dl.easy_setopt(k->easy, CURLOPT_ERRORBUFFER, k->errbuf);
	g->dl.easy_setopt(k->easy, CURLOPT_NOSIGNAL, 1L);
	g->dl.easy_setopt(k->easy, CURLOPT_CONNECTTIMEOUT,
	    (long)UPSTREAM_CONNECT_S);
	g->dl.easy_setopt(k->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	g->dl.easy_setopt(k->easy, CURLOPT_LOW_SPEED_TIME,
	    (long)UPSTREAM_STALL_S);
	g->dl.easy_setopt(k->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	g->dl.easy_setopt(k->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	g->dl.easy_setopt(k->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	g->dl.easy_setopt(k->easy, CURLOPT_TCP_NODELAY, 1L);
	if (g->cfg.ca_file != NULL)
		g->dl.easy_setopt(k->easy, CURLOPT_CAINFO, g->cfg.ca_file);
	if (g->dl.multi_add_handle(k->multi, k->easy) != CURLM_OK) {
		(void)snprintf(msg, msgsz, "cannot start the upstream request");
		goto out;
	}
	while (!k->headers_done && !k->done)
		drive(k, 1000);
	if (!k->headers_done) {
		(void)snprintf(msg, msgsz, "the upstream %.300s did not answer: %.300s",
		    g->upstream, k->errbuf[0] ? k->errbuf :
		    g->dl.easy_strerror(k->result));
		goto out;
	}
	rc = 0;
out:
	free(url);
	return rc;
}

static enum MHD_Result
respond(struct guard *g, struct MHD_Connection *c, const char *path,
    struct call *k)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t i;
	char *colon, *v;

	r = g->dl.create_response_from_callback(MHD_SIZE_UNKNOWN, READER_BLOCK,
	    reader, k, call_free);
	if (r == NULL) {
		call_free(k);
		return reply_send(g, c, path, 502, "airlock guard: out of "
		    "memory");
	}
	for (i = 0; i < k->nrh; i++) {
		if ((colon = strchr(k->rh[i], ':')) == NULL)
			continue;
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		if (!hop(k->rh[i]))
			(void)g->dl.add_response_header(r, k->rh[i], v);
		*colon = ':';
	}
	ret = g->dl.queue_response(c, (unsigned)k->status, r);
	g->dl.destroy_response(r);
	return ret;
}

/* ---- requests ---------------------------------------------------------- */

static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct guard *g = cls;
	struct req *q;

	(void)c;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	q->g = g;
	q->uri = strndup(uri, URI_MAX);
	al_buf_init(&q->body, g->cfg.body_max, AL_BUF_SENSITIVE);
	return q;
}

static void
on_done(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *q = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (q == NULL)
		return;
	al_buf_release(&q->body);	/* wipes it */
	free(q->uri);
	free(q);
	*con_cls = NULL;
}

static void
refusal(char *msg, size_t msgsz, const struct guard_findings *f,
    const char *why)
{
	size_t i, len;

	len = (size_t)snprintf(msg, msgsz, "airlock guard refused this "
	    "request: %s (", why);
	for (i = 0; i < f->nhits && len < msgsz; i++)
		len += (size_t)snprintf(msg + len, msgsz - len, "%s%s '%s'",
		    i ? ", " : "", f->hits[i].rule ? "rule" : "secret",
		    f->hits[i].name);
	if (len < msgsz)
		(void)snprintf(msg + len, msgsz - len, ")");
}

/* The body is complete: mask it, audit, refuse or forward. */
static enum MHD_Result
forward(struct guard *g, struct req *q, struct MHD_Connection *c,
    const char *path, const char *method)
{
	struct guard_setref *sets = NULL;
	struct guard_findings f;
	struct call *k = NULL;
	struct al_err err;
	char msg[1024];
	int refused = 0, rc;
	enum MHD_Result ret;

	al_err_clear(&err);
	if ((sets = guard_sets_take(g)) == NULL) {
		pthread_mutex_lock(&g->lock);
		(void)snprintf(msg, sizeof(msg), "airlock guard cannot load "
		    "the secret values it must mask, so nothing is sent: %s",
		    g->why);
		pthread_mutex_unlock(&g->lock);
		return reply_error(g, c, path, 503, msg);
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		guard_sets_drop(g, sets);
		return reply_error(g, c, path, 503, "airlock guard: out of "
		    "memory");
	}
	k->g = g;
	al_buf_init(&k->body, g->cfg.body_max * 4 + 4096, AL_BUF_SENSITIVE);
	rc = guard_body_mask(&sets->sets, q->body.data, q->body.len, &k->body,
	    &f, &err);
	guard_sets_drop(g, sets);
	al_buf_release(&q->body);	/* the unmasked body, wiped */
	if (rc != 0) {
		call_free(k);
		(void)snprintf(msg, sizeof(msg), "airlock guard could not mask "
		    "this request, so it was not sent: %s", err.msg);
		return reply_error(g, c, path, rc == AL_ETOOBIG ? 413 : 503,
		    msg);
	}
	if (f.thinking) {
		refused = 1;
		refusal(msg, sizeof(msg), &f, "a secret value is inside a "
		    "thinking block, which is signed and cannot be masked; "
		    "start a new conversation without it");
	} else if (f.residue && !f.json) {
		refused = 1;
		(void)snprintf(msg, sizeof(msg), "airlock guard refused this "
		    "request: the body is not valid JSON (RFC 8259), and its "
		    "escapes spell a secret value that cannot be masked in "
		    "place");
	} else if (f.residue) {
		refused = 1;
		refusal(msg, sizeof(msg), &f, "a secret value is in the body "
		    "outside any string it could be masked in");
		if (f.nhits == 0)
			(void)snprintf(msg, sizeof(msg), "airlock guard refused "
			    "this request: a secret value is in the body "
			    "outside any string it could be masked in");
	} else if (g->cfg.block && f.masks > 0) {
		refused = 1;
		refusal(msg, sizeof(msg), &f, "it carries a secret, and the "
		    "guard blocks such requests instead of masking them");
	}
	if (f.masks > 0 || refused) {
		pthread_mutex_lock(&g->audit_lock);
		rc = g->cfg.audit(g->cfg.audit_arg, path, &f, refused, &err);
		pthread_mutex_unlock(&g->audit_lock);
		if (rc != 0) {
			call_free(k);
			(void)snprintf(msg, sizeof(msg), "airlock guard cannot "
			    "record this request in the audit log, so it was "
			    "not sent: %s", err.msg);
			return reply_error(g, c, path, 503, msg);
		}
	}
	if (refused) {
		call_free(k);
		guard_count(g, g->cfg.block && !f.thinking && !f.residue ?
		    GUARD_BLOCKED : GUARD_REFUSED, &f);
		return reply_send(g, c, path, 400, msg);
	}
	if (call_start(k, c, method, q->uri, msg, sizeof(msg)) != 0) {
		call_free(k);
		guard_count(g, GUARD_UPSTREAM_FAILED, &f);
		return reply_send(g, c, path, 502, msg);
	}
	guard_count(g, f.masks > 0 ? GUARD_MASKED : GUARD_FORWARDED, &f);
	ret = respond(g, c, path, k);
	return ret;
}

/*
 * Every Content-Encoding header counts: upstream reads them all (a second
 * one behind "identity" too).  *arg is set to the first that is neither
 * empty nor "identity".
 */
static enum MHD_Result
find_encoding(void *arg, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	const char **bad = arg;

	(void)kind;
	if (key != NULL && strcasecmp(key, "content-encoding") == 0 &&
	    value != NULL && *value != '\0' &&
	    strcasecmp(value, "identity") != 0 && *bad == NULL)
		*bad = value;
	return MHD_YES;
}

/*
 * A charset other than UTF-8 (or its ASCII subset) in any Content-Type
 * header: a provider that honours it reads other characters than the bytes
 * searched.  *arg is set to the first such header's value.
 */
static enum MHD_Result
find_charset(void *arg, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	const char **bad = arg;
	const char *p, *v;
	size_t n;

	(void)kind;
	if (key == NULL || strcasecmp(key, "content-type") != 0 ||
	    value == NULL || *bad != NULL)
		return MHD_YES;
	for (p = strchr(value, ';'); p != NULL; p = strchr(p + 1, ';')) {
		for (v = p + 1; *v == ' ' || *v == '\t'; v++)
			;
		if (strncasecmp(v, "charset", 7) != 0)
			continue;
		for (v += 7; *v == ' ' || *v == '\t'; v++)
			;
		if (*v != '=')
			continue;
		for (v++; *v == ' ' || *v == '\t' || *v == '"'; v++)
			;
		n = strcspn(v, "\"; \t");
		if (!((n == 5 && strncasecmp(v, "utf-8", 5) == 0) ||
		    (n == 4 && strncasecmp(v, "utf8", 4) == 0) ||
		    (n == 8 && strncasecmp(v, "us-ascii", 8) == 0))) {
			*bad = value;
			return MHD_YES;
		}
	}
	return MHD_YES;
}

/*
 * A body in UTF-16 or UTF-32: a byte order mark, or a JSON text's first
 * character with the zero bytes those encodings give it (the detection of
 * RFC 4627, which parsers such as Python's json.loads still apply to
 * bytes).  Its characters are not the bytes searched, so no value in it
 * would show.
 */
static int
wide_text(const unsigned char *b, size_t n)
{
	unsigned long cp;

	if (n >= 2 && ((b[0] == 0xfe && b[1] == 0xff) ||
	    (b[0] == 0xff && b[1] == 0xfe)))
		return 1;
	if (n >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0xfe && b[3] == 0xff)
		return 1;
	if (n < 2 || (b[0] != 0 && b[1] != 0))
		return 0;
	if (n >= 4 && b[0] == 0 && b[1] == 0)		/* UTF-32BE */
		cp = (unsigned long)b[2] << 8 | b[3];
	else if (b[0] == 0)				/* UTF-16BE */
		cp = b[1];
	else						/* UTF-16LE, -32LE */
		cp = b[0];
	return cp != 0 && cp < 0x80 &&
	    strchr(" \t\r\n{[\"-0123456789tfn", (int)cp) != NULL;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct guard *g = cls;
	struct req *q = *con_cls;
	const char *cl, *ce;
	char msg[256], *end;
	unsigned long long len;

	(void)version;
	if (q == NULL || q->uri == NULL)
		return MHD_NO;
	if (!q->started) {
		q->started = 1;
		/*
		 * Only a path is appended to the upstream: "@host/..." or an
		 * absolute URL would send the request, and its API key,
		 * somewhere else.
		 */
		if (q->uri[0] != '/' || strpbrk(q->uri, "\\#\r\n") != NULL)
			return reply_error(g, c, url, 400, "airlock guard: the "
			    "request target must be a path");
		/*
		 * A compressed body would be searched as compressed bytes,
		 * where no value shows: refused, never forwarded unread.
		 */
		ce = NULL;
		(void)g->dl.get_connection_values(c, MHD_HEADER_KIND,
		    find_encoding, &ce);
		if (ce != NULL)
			return reply_error(g, c, url, 415, "airlock guard cannot "
			    "read a compressed request body, so it was not "
			    "sent; turn the agent's request compression off");
		ce = NULL;
		(void)g->dl.get_connection_values(c, MHD_HEADER_KIND,
		    find_charset, &ce);
		if (ce != NULL)
			return reply_error(g, c, url, 415, "airlock guard "
			    "searches request bodies in UTF-8 only, so a body "
			    "declared in another charset was not sent");
		cl = g->dl.lookup_connection_value(c, MHD_HEADER_KIND,
		    "Content-Length");
		if (cl != NULL) {
			errno = 0;
			len = strtoull(cl, &end, 10);
			if (errno != 0 || *end != '\0' || len > g->cfg.body_max)
				q->too_big = 1;
			/* One guarded allocation, not one per doubling. */
			else if (al_buf_reserve(&q->body, (size_t)len) != 0)
				return MHD_NO;
		}
		if (!q->too_big)
			return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!q->too_big && al_buf_append(&q->body, upload_data,
		    *upload_data_size) != 0) {
			q->too_big = 1;
			al_buf_release(&q->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (q->too_big) {
		(void)snprintf(msg, sizeof(msg), "airlock guard: the request "
		    "body is over %zu bytes", g->cfg.body_max);
		return reply_error(g, c, url, 413, msg);
	}
	if (wide_text(q->body.data, q->body.len))
		return reply_error(g, c, url, 415, "airlock guard searches "
		    "request bodies in UTF-8 only, so a body in UTF-16 or "
		    "UTF-32 was not sent");
	return forward(g, q, c, url, method);
}

/*
 * A connection is served only when this user's process made it (see
 * peer.c); any other, or one whose owner cannot be told, is closed
 * unanswered.
 */
static enum MHD_Result
accept_ok(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct guard *g = cls;
	uid_t uid;

	if (addr == NULL || len < (socklen_t)sizeof(struct sockaddr_in) ||
	    addr->sa_family != AF_INET ||
	    guard_peer_uid((const struct sockaddr_in *)(const void *)addr,
	    &g->local, &uid) != 0 || uid != geteuid())
		return MHD_NO;
	return MHD_YES;
}

int
guard_http_start(struct guard *g, struct al_err *err)
{
	if (g->dl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return al_err_set(err, AL_ESYS, "cannot initialise libcurl");
	g->mhd = g->dl.start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0, accept_ok, g,
	    on_request, g,
	    MHD_OPTION_LISTEN_SOCKET, g->listen_fd,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, g,
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, g,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
	    MHD_OPTION_END);
	if (g->mhd == NULL)
		return al_err_set(err, AL_ESYS, "cannot start serving on %s",
		    g->address);
	g->listen_fd = -1;	/* libmicrohttpd's now */
	return 0;
}

void
guard_http_stop(struct guard *g)
{
	if (g->mhd != NULL)
		g->dl.stop_daemon(g->mhd);
	g->mhd = NULL;
}

/* Reading the broker's HTTP/1.1 replies (see http.h). */
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "airlock/api.h"
#include "http.h"

#define CHUNK_LINE_MAX	16		/* "ffffffff" and a little */
#define CHUNK_DIGITS	8

void
http_src_init(struct http_src *s, ssize_t (*read)(void *, void *, size_t,
    struct al_err *), void *ctx)
{
	s->read = read;
	s->ctx = ctx;
	s->off = s->len = s->dirty = 0;
}

void
http_src_reset(struct http_src *s)
{
	sodium_memzero(s->buf, s->dirty);
	s->off = s->len = s->dirty = 0;
}

static int
malformed(struct al_err *err, const char *what)
{
	return al_err_set(err, AL_EPROTO, "the broker sent a malformed reply: "
	    "%s", what);
}

static int
truncated(struct al_err *err)
{
	return al_err_set(err, AL_EPROTO, "the broker's reply was cut short");
}

/* Refill an empty buffer: 1, 0 at the end of the stream, or an error (< 0). */
static int
fill(struct http_src *s, struct al_err *err)
{
	ssize_t n;

	s->off = s->len = 0;
	if ((n = s->read(s->ctx, s->buf, sizeof(s->buf), err)) < 0)
		return err->code < 0 ? err->code : AL_EIO;
	if ((size_t)n > sizeof(s->buf))
		return al_err_set(err, AL_EIO, "read returned too much");
	s->len = (size_t)n;
	if (s->len > s->dirty)
		s->dirty = s->len;
	return n > 0;
}

/* One byte: 1, 0 at the end of the stream, or an error code (< 0). */
static int
get_byte(struct http_src *s, unsigned char *c, struct al_err *err)
{
	int rc;

	if (s->off == s->len && (rc = fill(s, err)) <= 0)
		return rc;
	*c = s->buf[s->off++];
	return 1;
}

/*
 * The next line, without its CRLF, into line (NUL terminated, at most
 * max - 1 bytes).  Only CRLF ends a line; HT and bytes from 0x20 up (but
 * DEL) may be in it.  *budget: bytes the head may still take.
 */
static int
get_line(struct http_src *s, char *line, size_t max, size_t *budget,
    struct al_err *err)
{
	unsigned char c;
	size_t len = 0;
	int rc;

	for (;;) {
		if ((rc = get_byte(s, &c, err)) < 0)
			return rc;
		if (rc == 0)
			return truncated(err);
		if (*budget == 0)
			return al_err_set(err, AL_ETOOBIG, "the broker's reply "
			    "headers are larger than %d bytes", HTTP_HEAD_MAX);
		(*budget)--;
		if (c == '\r') {
			if ((rc = get_byte(s, &c, err)) < 0)
				return rc;
			if (rc == 0)
				return truncated(err);
			if (c != '\n')
				return malformed(err, "CR without LF");
			if (*budget == 0)
				return al_err_set(err, AL_ETOOBIG, "the broker's "
				    "reply headers are larger than %d bytes",
				    HTTP_HEAD_MAX);
			(*budget)--;
			line[len] = '\0';
			return 0;
		}
		if (c == '\n')
			return malformed(err, "LF without CR");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return malformed(err, "a control character in a line");
		if (len + 1 >= max)
			return al_err_set(err, AL_ETOOBIG, "a line of the broker's "
			    "reply is longer than %zu bytes", max - 1);
		line[len++] = (char)c;
	}
}

/* "HTTP/1.1 NNN[ reason]" */
static int
parse_status(const char *l, long *status, int upgrade, struct al_err *err)
{
	if (strncmp(l, "HTTP/1.1 ", 9) != 0)
		return malformed(err, "not an HTTP/1.1 status line");
	l += 9;
	if (l[0] < '1' || l[0] > '5' || l[1] < '0' || l[1] > '9' ||
	    l[2] < '0' || l[2] > '9' || (l[3] != '\0' && l[3] != ' '))
		return malformed(err, "a bad status code");
	*status = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	if (*status < 200 && !(upgrade && *status == 101))
		return malformed(err, "an interim (1xx) reply");
	return 0;
}

static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * Split "name: value" in place: *name and *value (without surrounding
 * blanks).  get_line has already refused control characters.
 */
static int
split_field(char *l, char **name, char **value, struct al_err *err)
{
	char *p = l, *end;

	if (*p == ' ' || *p == '\t')
		return malformed(err, "a folded header line");
	while (is_tchar((unsigned char)*p))
		p++;
	if (p == l || *p != ':')
		return malformed(err, "a header line without a name");
	*p++ = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	*name = l;
	*value = p;
	return 0;
}

struct head {
	long	clen;		/* -1: none */
	int	chunked;
	int	have_ctype;
};

static int
parse_clen(const char *v, long *out, struct al_err *err)
{
	long n = 0;
	size_t i;

	if (v[0] == '\0')
		return malformed(err, "an empty Content-Length");
	for (i = 0; v[i]; i++) {
		if (v[i] < '0' || v[i] > '9')
			return malformed(err, "a bad Content-Length");
		if (n > HTTP_JSON_MAX)
			return al_err_set(err, AL_ETOOBIG, "the broker's reply is "
			    "too large");
		n = n * 10 + (v[i] - '0');
	}
	*out = n;
	return 0;
}

/* "close" among Connection's comma-separated options. */
static int
says_close(const char *v)
{
	size_t n;

	while (*v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		n = strcspn(v, " \t,");
		if (n == 5 && strncasecmp(v, "close", 5) == 0)
			return 1;
		v += n;
	}
	return 0;
}

static int
read_head(struct http_src *s, struct http_reply *r, struct head *h,
    struct al_err *err)
{
	char line[HTTP_LINE_MAX], *name, *value;
	size_t budget = HTTP_HEAD_MAX, fields = 0;
	unsigned char c;
	int rc;

	/* The first byte tells a closed connection from a cut reply. */
	if ((rc = get_byte(s, &c, err)) < 0)
		return rc;
	if (rc == 0)
		return al_err_set(err, AL_EUNAVAIL, "the broker closed the "
		    "connection");
	r->got_any = 1;
	s->off--;
	if ((rc = get_line(s, line, sizeof(line), &budget, err)) != 0 ||
	    (rc = parse_status(line, &r->status, r->upgrade,
	    err)) != 0)
		return rc;
	h->clen = -1;
	for (;;) {
		if ((rc = get_line(s, line, sizeof(line), &budget, err)) != 0)
			return rc;
		if (line[0] == '\0')
			break;
		if (++fields > HTTP_FIELDS_MAX)
			return al_err_set(err, AL_ETOOBIG, "the broker's reply has "
			    "more than %d header lines", HTTP_FIELDS_MAX);
		if ((rc = split_field(line, &name, &value, err)) != 0)
			return rc;
		if (strcasecmp(name, "Content-Length") == 0) {
			if (h->clen >= 0)
				return malformed(err, "two Content-Lengths");
			if ((rc = parse_clen(value, &h->clen, err)) != 0)
				return rc;
		} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
			if (h->chunked)
				return malformed(err, "two Transfer-Encodings");
			if (strcasecmp(value, "chunked") != 0)
				return malformed(err, "a transfer coding other "
				    "than chunked");
			h->chunked = 1;
		} else if (strcasecmp(name, "Content-Type") == 0) {
			if (h->have_ctype)
				return malformed(err, "two Content-Types");
			if (strlen(value) >= sizeof(r->ctype))
				return al_err_set(err, AL_ETOOBIG, "the broker's "
				    "Content-Type is longer than %zu bytes",
				    sizeof(r->ctype) - 1);
			memcpy(r->ctype, value, strlen(value) + 1);
			h->have_ctype = 1;
		} else if (strcasecmp(name, "Connection") == 0) {
			if (says_close(value))
				r->close = 1;
		} else if (strcasecmp(name, API_H_LEASE) == 0) {
			if (r->lease[0] != '\0')
				return malformed(err, "two " API_H_LEASE
				    " fields");
			if (strlen(value) != 32 || strspn(value,
			    "0123456789abcdef") != 32)
				return malformed(err, "an " API_H_LEASE " that "
				    "is not a lease id");
			memcpy(r->lease, value, 33);
		}
	}
	if (h->chunked && h->clen >= 0)
		return malformed(err, "both Content-Length and chunked");
	return 0;
}

/*
 * Where body bytes go: guarded memory (open while the body is read) or the
 * JSON buffer; at most max bytes in all.
 */
struct sink {
	struct al_secret	*value;
	unsigned char		*vp;
	struct al_buf		*body;
	size_t			 len;
	size_t			 max;
};

/* Exactly n bytes into the sink: from the buffer (wiped), then the source. */
static int
take(struct http_src *s, struct sink *k, size_t n, struct al_err *err)
{
	unsigned char *dst;
	size_t m;
	ssize_t got;

	if (n > k->max - k->len)
		return al_err_set(err, AL_ETOOBIG, "the broker's reply is too "
		    "large");
	if (k->value != NULL) {
		dst = k->vp + k->len;
	} else {
		if (al_buf_reserve(k->body, n) != 0)
			return al_err_set(err, AL_ETOOBIG, "the broker's reply is "
			    "too large");
		dst = k->body->data + k->body->len;
	}
	while (n > 0) {
		if (s->off < s->len) {
			m = s->len - s->off < n ? s->len - s->off : n;
			memcpy(dst, s->buf + s->off, m);
			sodium_memzero(s->buf + s->off, m);
			s->off += m;
		} else {
			if ((got = s->read(s->ctx, dst, n, err)) < 0)
				return err->code < 0 ? err->code : AL_EIO;
			if (got == 0)
				return truncated(err);
			if ((size_t)got > n)
				return al_err_set(err, AL_EIO, "read returned "
				    "too much");
			m = (size_t)got;
		}
		dst += m;
		n -= m;
		k->len += m;
		if (k->value != NULL) {
			al_secret_set_len(k->value, k->len);
		} else {
			k->body->len += m;
			k->body->data[k->body->len] = '\0';
		}
	}
	return 0;
}

/* The CRLF after a chunk's data. */
static int
expect_crlf(struct http_src *s, struct al_err *err)
{
	unsigned char c[2];
	int rc, i;

	for (i = 0; i < 2; i++) {
		if ((rc = get_byte(s, &c[i], err)) < 0)
			return rc;
		if (rc == 0)
			return truncated(err);
	}
	if (c[0] != '\r' || c[1] != '\n')
		return malformed(err, "a chunk not followed by CRLF");
	return 0;
}

static int
read_chunked(struct http_src *s, struct sink *k, struct al_err *err)
{
	char line[HTTP_LINE_MAX], *name, *value;
	size_t budget, size, i, fields = 0;
	int rc, d;

	for (;;) {
		budget = CHUNK_LINE_MAX;
		if ((rc = get_line(s, line, CHUNK_LINE_MAX, &budget, err)) != 0)
			return rc == AL_ETOOBIG ? malformed(err, "a chunk size "
			    "line too long") : rc;
		if (line[0] == '\0')
			return malformed(err, "an empty chunk size");
		size = 0;
		for (i = 0; line[i]; i++) {
			if (line[i] >= '0' && line[i] <= '9')
				d = line[i] - '0';
			else if (line[i] >= 'a' && line[i] <= 'f')
				d = line[i] - 'a' + 10;
			else if (line[i] >= 'A' && line[i] <= 'F')
				d = line[i] - 'A' + 10;
			else
				return malformed(err, "a bad chunk size");
			if (i >= CHUNK_DIGITS)
				return malformed(err, "a chunk size too long");
			size = size * 16 + (size_t)d;
		}
		if (size == 0)
			break;
		if ((rc = take(s, k, size, err)) != 0 ||
		    (rc = expect_crlf(s, err)) != 0)
			return rc;
	}
	/* Trailer lines (ignored, but well formed), then the empty line. */
	budget = HTTP_HEAD_MAX;
	for (;;) {
		if ((rc = get_line(s, line, sizeof(line), &budget, err)) != 0)
			return rc;
		if (line[0] == '\0')
			return 0;
		if (++fields > HTTP_FIELDS_MAX)
			return al_err_set(err, AL_ETOOBIG, "the broker's reply has "
			    "more than %d trailer lines", HTTP_FIELDS_MAX);
		if ((rc = split_field(line, &name, &value, err)) != 0)
			return rc;
	}
}

static int
read_body(struct http_src *s, int want_value, const struct head *h,
    struct http_reply *r, struct al_err *err)
{
	struct sink k;
	int rc;

	memset(&k, 0, sizeof(k));
	if (r->status == 204 || r->status == 304 || r->status == 101)
		return 0;
	if (h->clen < 0 && !h->chunked)
		return malformed(err, "no Content-Length and not chunked");
	if (want_value && r->status == 200) {
		if (strcmp(r->ctype, API_CT_VALUE) != 0)
			return al_err_set(err, AL_EPROTO, "the broker sent a "
			    "value of type '%.40s'", r->ctype);
		if (h->clen > API_VALUE_MAX)
			return al_err_set(err, AL_ETOOBIG, "the broker's reply is "
			    "too large");
		if ((rc = al_secret_new(h->clen >= 0 ? (size_t)h->clen :
		    API_VALUE_MAX, &k.value)) != 0)
			return al_err_set(err, rc, "cannot allocate guarded "
			    "memory");
		k.vp = al_secret_open(k.value);
		k.max = al_secret_cap(k.value);
	} else {
		/* A value is read into nothing but guarded memory. */
		if (strcmp(r->ctype, API_CT_VALUE) == 0)
			return al_err_set(err, AL_EPROTO, "the broker sent a "
			    "value where none was asked for");
		k.body = r->body;
		k.len = r->body->len;
		k.max = r->body->max;
	}
	if (h->chunked)
		rc = read_chunked(s, &k, err);
	else
		rc = take(s, &k, (size_t)h->clen, err);
	if (k.value != NULL) {
		al_secret_close(k.value);
		if (rc == 0)
			r->value = k.value;
		else
			al_secret_free(k.value);	/* wipes it */
	}
	return rc;
}

int
http_read_reply(struct http_src *s, int want_value, struct http_reply *r,
    struct al_err *err)
{
	struct head h;
	int rc;

	r->status = 0;
	r->ctype[0] = '\0';
	r->lease[0] = '\0';
	r->close = 0;
	r->got_any = 0;
	r->value = NULL;
	memset(&h, 0, sizeof(h));
	if ((rc = read_head(s, r, &h, err)) == 0 &&
	    (rc = read_body(s, want_value, &h, r, err)) == 0 &&
	    s->off != s->len)
		rc = malformed(err, "bytes after the reply");
	if (rc != 0) {
		r->close = 1;
		if (r->value != NULL) {
			al_secret_free(r->value);
			r->value = NULL;
		}
	}
	http_src_reset(s);
	return rc;
}

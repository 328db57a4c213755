/*
 * The broker client: its reply parser takes exactly well-formed HTTP/1.1
 * replies, whatever pieces they arrive in, and refuses every malformed or
 * oversized part; a value lands in guarded memory and nowhere else (not in
 * the receive buffer, not in the JSON buffer), even when refused.  Then the
 * whole client against a socket with no broker, and against a server that
 * closes a kept connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "airlock/api.h"
#include "airlock/client.h"
#include "http.h"

/* A reply from memory, step bytes per read at most; then EOF or an error. */
struct mem {
	const unsigned char	*p;
	size_t			 len;
	size_t			 off;
	size_t			 step;
	int			 fail;		/* after the bytes: an error */
};

static ssize_t
mem_read(void *ctx, void *buf, size_t n, struct al_err *err)
{
	struct mem *m = ctx;
	size_t k = m->len - m->off;

	if (k == 0) {
		if (m->fail) {
			(void)al_err_set(err, AL_ETIMEDOUT, "test timeout");
			return -1;
		}
		return 0;
	}
	if (k > n)
		k = n;
	if (k > m->step)
		k = m->step;
	memcpy(buf, m->p + m->off, k);
	m->off += k;
	return (ssize_t)k;
}

struct fixture {
	struct http_src		*src;
	struct al_buf		 body;
	struct http_reply	 r;
	struct al_err		 err;
};

static const size_t steps[] = { 1, 2, 7, 64, SIZE_MAX };

/* Parse len bytes of text in pieces of step; the rc. */
static int
parse_n(struct fixture *f, const void *text, size_t len, size_t step,
    int want_value, int fail)
{
	struct mem m = { text, len, 0, step, fail };
	size_t i;
	int rc;

	if (f->src == NULL)
		assert_non_null(f->src = calloc(1, sizeof(*f->src)));
	http_src_init(f->src, mem_read, &m);
	al_buf_release(&f->body);
	al_buf_init(&f->body, 4096, 0);
	memset(&f->r, 0, sizeof(f->r));
	f->r.body = &f->body;
	memset(&f->err, 0, sizeof(f->err));
	rc = http_read_reply(f->src, want_value, &f->r, &f->err);
	/* Whatever happened, no reply byte stays in the receive buffer. */
	for (i = 0; i < sizeof(f->src->buf); i++)
		if (f->src->buf[i] != 0)
			fail_msg("receive buffer not wiped at %zu", i);
	if (rc != 0) {
		assert_null(f->r.value);
		assert_int_equal(f->r.close, 1);
	}
	return rc;
}

/* Every split gives rc (and the message contains msg, if not NULL). */
static void
expect_all(struct fixture *f, const char *text, int want_value, int rc,
    const char *msg)
{
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int got = parse_n(f, text, strlen(text), steps[i], want_value,
		    0);

		if (got != rc)
			fail_msg("step %zu: rc %d, want %d (%s) for:\n%s",
			    steps[i], got, rc, f->err.msg, text);
		if (msg != NULL && strstr(f->err.msg, msg) == NULL)
			fail_msg("step %zu: message '%s' lacks '%s'", steps[i],
			    f->err.msg, msg);
		al_secret_free(f->r.value);
		f->r.value = NULL;
	}
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	al_buf_init(&f->body, 4096, 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	al_buf_release(&f->body);
	al_secret_free(f->r.value);
	free(f->src);
	free(f);
	return 0;
}

static void
test_json_reply_with_content_length(void **state)
{
	struct fixture *f = *state;
	const char *t = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	    "Content-Length: 11\r\nX-Other:  a b \r\n\r\n{\"ok\":true}";
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		assert_int_equal(parse_n(f, t, strlen(t), steps[i], 0, 0), 0);
		assert_int_equal(f->r.status, 200);
		assert_string_equal(f->r.ctype, API_CT_JSON);
		assert_int_equal(f->r.close, 0);
		assert_int_equal(f->body.len, 11);
		assert_string_equal((char *)f->body.data, "{\"ok\":true}");
		assert_null(f->r.value);
	}
}

static void
test_chunked_reply_with_trailers(void **state)
{
	struct fixture *f = *state;
	const char *t = "HTTP/1.1 404 Not Found\r\ncontent-type: application/"
	    "json\r\nTRANSFER-ENCODING: Chunked\r\nConnection: keep-alive, "
	    "Close\r\n\r\n4\r\n{\"a\"\r\nA\r\n:12345678}\r\n0\r\nX-T: 1\r\n"
	    "\r\n";
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		assert_int_equal(parse_n(f, t, strlen(t), steps[i], 1, 0), 0);
		assert_int_equal(f->r.status, 404);
		assert_int_equal(f->r.close, 1);
		assert_string_equal((char *)f->body.data,
		    "{\"a\":12345678}");
		assert_null(f->r.value);	/* an error reply is JSON */
	}
}

static void
test_no_content(void **state)
{
	struct fixture *f = *state;

	expect_all(f, "HTTP/1.1 204 No Content\r\n\r\n", 0, 0, NULL);
	assert_int_equal(f->body.len, 0);
}

/* A random value, as the broker sends it; and the same chunked. */
static void
value_reply(char *out, size_t outsz, const char *canary, int chunked)
{
	if (chunked)
		(void)snprintf(out, outsz, "HTTP/1.1 200 OK\r\nCache-Control: "
		    "no-store\r\nContent-Type: " API_CT_VALUE "\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
		    strlen(canary), canary);
	else
		(void)snprintf(out, outsz, "HTTP/1.1 200 OK\r\nCache-Control: "
		    "no-store\r\nContent-Type: " API_CT_VALUE "\r\n"
		    "Content-Length: %zu\r\n\r\n%s", strlen(canary), canary);
}

static void
make_canary(char *c, size_t n)
{
	unsigned char raw[16];

	randombytes_buf(raw, sizeof(raw));
	assert_true(n > 2 * sizeof(raw) + 8);
	memcpy(c, "canary-", 7);
	sodium_bin2hex(c + 7, n - 7, raw, sizeof(raw));
}

static void
test_value_lands_only_in_guarded_memory(void **state)
{
	struct fixture *f = *state;
	char canary[64], t[512];
	size_t i;
	int chunked;

	make_canary(canary, sizeof(canary));
	for (chunked = 0; chunked < 2; chunked++) {
		value_reply(t, sizeof(t), canary, chunked);
		for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
			assert_int_equal(parse_n(f, t, strlen(t), steps[i], 1,
			    0), 0);
			assert_non_null(f->r.value);
			assert_int_equal(al_secret_len(f->r.value),
			    strlen(canary));
			assert_memory_equal(al_secret_open(f->r.value),
			    canary, strlen(canary));
			al_secret_close(f->r.value);
			al_secret_free(f->r.value);
			f->r.value = NULL;
			/* Not in the JSON buffer (the receive buffer is
			 * checked by parse_n). */
			assert_int_equal(f->body.len, 0);
		}
	}
	/* An empty value is a value. */
	expect_all(f, "HTTP/1.1 200 OK\r\nContent-Type: " API_CT_VALUE
	    "\r\nContent-Length: 0\r\n\r\n", 1, 0, NULL);
}

/* A refused or cut value leaves no byte of it anywhere readable. */
static void
test_refused_value_is_not_read(void **state)
{
	struct fixture *f = *state;
	char canary[64], t[512];
	size_t i;

	make_canary(canary, sizeof(canary));
	/* A value where JSON was asked for. */
	value_reply(t, sizeof(t), canary, 0);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		assert_int_equal(parse_n(f, t, strlen(t), steps[i], 0, 0),
		    AL_EPROTO);
		assert_non_null(strstr(f->err.msg, "a value where none"));
		assert_int_equal(f->body.len, 0);
	}
	/* A 200 of another type where a value was asked for. */
	(void)snprintf(t, sizeof(t), "HTTP/1.1 200 OK\r\nContent-Type: text/"
	    "plain\r\nContent-Length: %zu\r\n\r\n%s", strlen(canary), canary);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		assert_int_equal(parse_n(f, t, strlen(t), steps[i], 1, 0),
		    AL_EPROTO);
		assert_string_equal(f->err.msg, "the broker sent a value of "
		    "type 'text/plain'");
		assert_int_equal(f->body.len, 0);
	}
	/* Cut short, and then the connection fails. */
	value_reply(t, sizeof(t), canary, 0);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		assert_int_equal(parse_n(f, t, strlen(t) - 3, steps[i], 1, 0),
		    AL_EPROTO);
		assert_string_equal(f->err.msg, "the broker's reply was cut "
		    "short");
		assert_int_equal(parse_n(f, t, strlen(t) - 3, steps[i], 1, 1),
		    AL_ETIMEDOUT);
		assert_int_equal(f->body.len, 0);
	}
	assert_null(memmem(f->err.msg, strlen(f->err.msg), canary, 7 + 8));
}

static void
test_malformed_status_lines(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
		"http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
		"HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 O\001K\r\nContent-Length: 0\r\n\r\n",
		"\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_all(f, bad[i], 0, AL_EPROTO, "the broker sent a "
		    "malformed reply: ");
	expect_all(f, "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0, 0,
	    NULL);
}

/* One read of text as the reply to an upgrade request (or not). */
static int
parse_upgrade(const char *text, int upgrade, long *status)
{
	struct mem m = { (const unsigned char *)text, strlen(text), 0,
	    SIZE_MAX, 0 };
	struct http_src *src;
	struct http_reply r;
	struct al_buf body;
	struct al_err err;
	int rc;

	assert_non_null(src = calloc(1, sizeof(*src)));
	http_src_init(src, mem_read, &m);
	al_buf_init(&body, 4096, 0);
	memset(&r, 0, sizeof(r));
	r.body = &body;
	r.upgrade = upgrade;
	rc = http_read_reply(src, 0, &r, &err);
	*status = r.status;
	al_buf_release(&body);
	free(src);
	return rc;
}

/* 101 is taken only in answer to an upgrade request, and has no body. */
static void
test_upgrade_reply(void **state)
{
	static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\n"
	    "Connection: Upgrade\r\nUpgrade: airlock-redact\r\n\r\n";
	long status;

	(void)state;
	assert_int_equal(parse_upgrade(ok, 0, &status), AL_EPROTO);
	assert_int_equal(parse_upgrade(ok, 1, &status), 0);
	assert_int_equal(status, 101);
	/* Other interim replies stay refused. */
	assert_int_equal(parse_upgrade("HTTP/1.1 100 Continue\r\n\r\n", 1,
	    &status), AL_EPROTO);
	/* The broker sends nothing on the stream before it is asked. */
	assert_int_equal(parse_upgrade("HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: airlock-redact\r\n\r\nDATA", 1, &status),
	    AL_EPROTO);
	/* An error reply to an upgrade request is read as usual. */
	assert_int_equal(parse_upgrade("HTTP/1.1 429 Too Many Requests\r\n"
	    "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
	    1, &status), 0);
	assert_int_equal(status, 429);
}

static void
test_malformed_headers(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		/* folding, no name, bad name, control characters */
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n X: y\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: y\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA B: y\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\000b\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\177\r\nContent-Length: 0\r\n\r\n",
		/* framing */
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n1",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n1",
		"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n1",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1"
		    "\r\n\r\n1",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		    "Content-Length: 1\r\n\r\n1\r\nx\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
		    "0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: a\r\nContent-Type: a\r\n"
		    "Content-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}",
	};
	static const char *const extra[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}}",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK"
		    "\r\nContent-Length: 0\r\n\r\n",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_all(f, bad[i], 0, AL_EPROTO, NULL);
	/*
	 * Bytes after the reply (never asked for) that arrived with it; the
	 * client drops a kept connection with unread bytes before reusing it.
	 */
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		assert_int_equal(parse_n(f, extra[i], strlen(extra[i]),
		    SIZE_MAX, 0, 0), AL_EPROTO);
		assert_non_null(strstr(f->err.msg, "bytes after the reply"));
	}
}

static void
test_oversized_heads(void **state)
{
	struct fixture *f = *state;
	char t[HTTP_HEAD_MAX * 2 + 256];
	size_t n, i;

	/* One line over HTTP_LINE_MAX. */
	n = (size_t)snprintf(t, sizeof(t), "HTTP/1.1 200 OK\r\nX: ");
	memset(t + n, 'a', HTTP_LINE_MAX);
	(void)snprintf(t + n + HTTP_LINE_MAX, sizeof(t) - n - HTTP_LINE_MAX,
	    "\r\nContent-Length: 0\r\n\r\n");
	expect_all(f, t, 0, AL_ETOOBIG, "longer than 1023 bytes");
	/* Just under it is fine. */
	n = (size_t)snprintf(t, sizeof(t), "HTTP/1.1 200 OK\r\nX: ");
	memset(t + n, 'a', HTTP_LINE_MAX - 1 - 3);
	(void)snprintf(t + n + HTTP_LINE_MAX - 4, sizeof(t) - n -
	    HTTP_LINE_MAX + 4, "\r\n"
	    "Content-Length: 0\r\n\r\n");
	expect_all(f, t, 0, 0, NULL);
	/* Too many lines. */
	n = (size_t)snprintf(t, sizeof(t), "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < HTTP_FIELDS_MAX; i++)
		n += (size_t)snprintf(t + n, sizeof(t) - n, "X-%zu: y\r\n", i);
	(void)snprintf(t + n, sizeof(t) - n, "Content-Length: 0\r\n\r\n");
	expect_all(f, t, 0, AL_ETOOBIG, "more than 32 header lines");
	/* Short lines, too many bytes in all. */
	n = (size_t)snprintf(t, sizeof(t), "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < 10; i++) {
		n += (size_t)snprintf(t + n, sizeof(t) - n, "X: ");
		memset(t + n, 'b', 1000);
		n += 1000;
		n += (size_t)snprintf(t + n, sizeof(t) - n, "\r\n");
	}
	(void)snprintf(t + n, sizeof(t) - n, "Content-Length: 0\r\n\r\n");
	expect_all(f, t, 0, AL_ETOOBIG, "headers are larger than 8192");
	/* A Content-Type longer than kept. */
	n = (size_t)snprintf(t, sizeof(t), "HTTP/1.1 200 OK\r\nContent-Type: ");
	memset(t + n, 'c', HTTP_CTYPE_MAX);
	(void)snprintf(t + n + HTTP_CTYPE_MAX, sizeof(t) - n -
	    HTTP_CTYPE_MAX, "\r\n"
	    "Content-Length: 0\r\n\r\n");
	expect_all(f, t, 0, AL_ETOOBIG, "Content-Type is longer");
	/* Bodies over the buffer's maximum (4096 here) or any value's. */
	expect_all(f, "HTTP/1.1 200 OK\r\nContent-Length: 4097\r\n\r\n", 0,
	    AL_ETOOBIG, "too large");
	expect_all(f, "HTTP/1.1 200 OK\r\nContent-Length: "
	    "99999999999999999999999\r\n\r\n", 0, AL_ETOOBIG, "too large");
	expect_all(f, "HTTP/1.1 200 OK\r\nContent-Type: " API_CT_VALUE
	    "\r\nContent-Length: 65537\r\n\r\n", 1, AL_ETOOBIG, "too large");
	expect_all(f, "HTTP/1.1 200 OK\r\nContent-Type: " API_CT_VALUE
	    "\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n", 1,
	    AL_ETOOBIG, "too large");
	expect_all(f, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "800\r\n", 0, AL_EPROTO, "cut short");
	expect_all(f, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "1001\r\n", 0, AL_ETOOBIG, "too large");
}

static void
test_bad_chunks(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"\r\n",			/* empty size */
		"g\r\nx\r\n0\r\n\r\n",	/* not hex */
		"-1\r\n",
		" 1\r\nx\r\n0\r\n\r\n",
		"1 \r\nx\r\n0\r\n\r\n",
		"1;ext=1\r\nx\r\n0\r\n\r\n",
		"0x1\r\nx\r\n0\r\n\r\n",
		"123456789\r\n",		/* nine digits */
		"00000000000000001\r\nx\r\n0\r\n\r\n",	/* line too long */
		"1\r\nxy\r\n0\r\n\r\n",	/* data longer than its size */
		"2\r\nx\r\n0\r\n\r\n",	/* shorter */
		"1\r\nx\n0\r\n\r\n",	/* LF only after the data */
		"1\r\nx\r\n0\r\n",	/* no end of trailers */
		"1\r\nx\r\n0\r\nbad trailer\r\n\r\n",
		"1\r\nx\r\n",		/* no last chunk */
	};
	char t[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(t, sizeof(t), "HTTP/1.1 200 OK\r\nContent-Type: "
		    "application/json\r\nTransfer-Encoding: chunked\r\n\r\n%s",
		    bad[i]);
		expect_all(f, t, 0, AL_EPROTO, NULL);
	}
	expect_all(f, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0000000A\r\n0123456789\r\n0\r\n\r\n", 0, 0, NULL);
	assert_string_equal((char *)f->body.data, "0123456789");
}

static void
test_truncated_and_closed(void **state)
{
	struct fixture *f = *state;
	const char *t = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234";

	expect_all(f, t, 0, AL_EPROTO, "cut short");
	expect_all(f, "HTTP/1.1 200 OK\r\nContent-Len", 0, AL_EPROTO,
	    "cut short");
	/* Nothing at all: the broker closed the connection. */
	assert_int_equal(parse_n(f, "", 0, 1, 0, 0), AL_EUNAVAIL);
	assert_int_equal(f->r.got_any, 0);
	assert_int_equal(parse_n(f, t, 1, 1, 0, 0), AL_EPROTO);
	assert_int_equal(f->r.got_any, 1);
	/* The source's error comes through. */
	assert_int_equal(parse_n(f, t, strlen(t), 3, 0, 1), AL_ETIMEDOUT);
	assert_string_equal(f->err.msg, "test timeout");
}

/* The whole client: no broker on the socket. */
static void
test_client_open_without_broker_says_so(void **state)
{
	char dir[] = "/tmp/airlock-test-client.XXXXXX", sock[64], want[128];
	struct client_opts o;
	struct client *cl = NULL;
	struct al_err err;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(sock, sizeof(sock), "%s/airlockd.sock", dir);
	memset(&o, 0, sizeof(o));
	o.home = dir;
	o.socket_path = sock;
	o.airlock_bin = NULL;	/* never autostart */
	assert_int_equal(client_open(&o, &cl, &err), AL_EUNAVAIL);
	assert_null(cl);
	(void)snprintf(want, sizeof(want), "no broker answers on %s: start "
	    "one with `airlock serve`", sock);
	assert_string_equal(err.msg, want);
	client_close(NULL);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_client_name_that_looks_like_a_value_is_refused(void **state)
{
	static const char *const values[] = {
		"4f9a2b7c1d3e5f60718293a4b5c6d7e8f9012345",	/* 40 hex */
		"sk_live_51h8abcdef0123456789xyz",
		"ghp_a1b2c3d4e5f6g7h8i9j0",
		"123e4567-e89b-12d3-a456-426614174000",		/* a UUID */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",		/* 32, no digit */
	};
	static const char *const names[] = {
		"deploy-token", "prod-db", "github-pat-2024", "aws.key_id",
		"stripe-live", "x1", "registry-token", "tls-key",
		"build-20240101", "service-account-json",
	};
	struct al_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		assert_true(client_name_looks_like_value(values[i]));
		assert_int_equal(client_name_check(values[i], &err),
		    AL_EINVAL);
		/* The message never repeats what was judged. */
		assert_null(strstr(err.msg, values[i]));
		assert_non_null(strstr(err.msg, "this looks like a value"));
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_false(client_name_looks_like_value(names[i]));
		assert_int_equal(client_name_check(names[i], &err), 0);
	}
}

static void
test_client_text_holding_a_value_is_refused_naming_the_field(void **state)
{
	static const char *const values[] = {
		"push with ghp_a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8",
		"deploy 4f9a2b7c1d3e5f60718293a4b5c6d7e8f9012345",
		"job 123e4567-e89b-12d3-a456-426614174000 retry",
		"key=AKIA2E0A8F3B244C9986",
		"xoxb-123456789012-AbCdEfGhIjKlMnOpQrStUvWx",
	};
	static const char *const texts[] = {
		"fix-issue-4211", "deploy 2026-12-07", "T-42",
		"rotate the staging database password before the release",
		"revert commit 3f2a9c1d4e5b", "internationalization",
		"run the migration on prod-db (ticket OPS-20931)",
		"", "read s3://bucket/2026/12/07/report.csv",
	};
	struct al_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		assert_int_equal(client_text_check("intent", values[i], &err),
		    AL_EINVAL);
		assert_null(strstr(err.msg, values[i]));
		assert_non_null(strstr(err.msg, "'intent' looks like it holds "
		    "a value"));
	}
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		assert_int_equal(client_text_check("task", texts[i], &err), 0);
	assert_int_equal(client_text_check("task", NULL, &err), 0);
}

static void
test_client_text_mask_withholds_only_token_shaped_parts(void **state)
{
	char t[256];

	(void)state;
	(void)snprintf(t, sizeof(t), "file /home/u/.claude/projects/p/"
	    "123e4567-e89b-12d3-a456-426614174000.jsonl");
	client_text_mask(t);
	assert_string_equal(t, "file /home/u/.claude/projects/p/"
	    CLIENT_TEXT_WITHHELD ".jsonl");
	(void)snprintf(t, sizeof(t), "a 4f9a2b7c1d3e5f60718293a4b5c6d7e8f9012345"
	    " b ghp_a1b2c3d4e5f6g7h8i9j0k1l2 c");
	client_text_mask(t);
	assert_string_equal(t, "a " CLIENT_TEXT_WITHHELD " b ghp_"
	    CLIENT_TEXT_WITHHELD " c");
	(void)snprintf(t, sizeof(t), "file src/broker/h_lease.c:42");
	client_text_mask(t);
	assert_string_equal(t, "file src/broker/h_lease.c:42");
}

/*
 * A server that answers one request per connection and then closes it:
 * the client notices the closed kept connection and makes a new one.
 * Each reply carries the number of its connection.
 */
static void
serve_one_per_connection(int lfd, int conns)
{
	char req[4096], reply[256], body[64];
	int i, fd;
	ssize_t n;

	for (i = 1; i <= conns; i++) {
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			_exit(1);
		if ((n = read(fd, req, sizeof(req) - 1)) <= 0)
			_exit(2);
		req[n] = '\0';
		if (strncmp(req, "GET /v1/", 8) != 0 ||
		    strstr(req, " HTTP/1.1\r\nHost: airlock\r\n") == NULL)
			_exit(3);
		(void)snprintf(body, sizeof(body), "{\"conn\":%d}", i);
		(void)snprintf(reply, sizeof(reply), "HTTP/1.1 200 OK\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		    "\r\n%s", strlen(body), body);
		if (write(fd, reply, strlen(reply)) != (ssize_t)strlen(reply))
			_exit(4);
		(void)close(fd);
	}
	_exit(0);
}

static void
test_client_reconnects_after_the_broker_closes(void **state)
{
	char dir[] = "/tmp/airlock-test-client.XXXXXX", sock[64];
	struct sockaddr_un sa;
	struct client_opts o;
	struct client *cl = NULL;
	struct al_err err;
	json_t *j = NULL;
	int lfd, status, i;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(sock, sizeof(sock), "%s/airlockd.sock", dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	assert_true((lfd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0)
		serve_one_per_connection(lfd, 3);
	(void)close(lfd);
	memset(&o, 0, sizeof(o));
	o.home = dir;
	o.socket_path = sock;
	o.timeout_ms = 5000;
	assert_int_equal(client_open(&o, &cl, &err), 0);	/* conn 1 */
	for (i = 2; i <= 3; i++) {
		/* Let the close arrive before the next request. */
		(void)usleep(20000);
		assert_int_equal(client_health(cl, &j, &err), 0);
		assert_int_equal(json_integer_value(json_object_get(j, "conn")),
		    i);
		json_decref(j);
	}
	client_close(cl);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(unlink(sock), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* A broker that accepts and never answers: the request times out. */
static void
test_client_times_out(void **state)
{
	char dir[] = "/tmp/airlock-test-client.XXXXXX", sock[64], want[64];
	struct sockaddr_un sa;
	struct client_opts o;
	struct client *cl = NULL;
	struct al_err err;
	int lfd;
	int64_t t0;
	struct timespec ts;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(sock, sizeof(sock), "%s/airlockd.sock", dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	assert_true((lfd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);	/* the kernel accepts */
	memset(&o, 0, sizeof(o));
	o.home = dir;
	o.socket_path = sock;
	o.timeout_ms = 300;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	assert_int_equal(client_open(&o, &cl, &err), AL_ETIMEDOUT);
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - t0;
	assert_true(t0 >= 290 && t0 < 5000);
	(void)snprintf(want, sizeof(want), "the broker did not answer within "
	    "300 ms");
	assert_string_equal(err.msg, want);
	assert_null(cl);
	(void)close(lfd);
	assert_int_equal(unlink(sock), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_json_reply_with_content_length, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_chunked_reply_with_trailers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_content, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_value_lands_only_in_guarded_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_refused_value_is_not_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_status_lines,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_headers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_oversized_heads, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_chunks, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_truncated_and_closed,
		    setup, teardown),
		cmocka_unit_test(test_upgrade_reply),
		cmocka_unit_test(test_client_open_without_broker_says_so),
		cmocka_unit_test(
		    test_client_name_that_looks_like_a_value_is_refused),
		cmocka_unit_test(
		    test_client_text_holding_a_value_is_refused_naming_the_field),
		cmocka_unit_test(
		    test_client_text_mask_withholds_only_token_shaped_parts),
		cmocka_unit_test(
		    test_client_reconnects_after_the_broker_closes),
		cmocka_unit_test(test_client_times_out),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The scanner's rules behind the redactor, loaded on first output
 * (redact_use_scan_lazy): never for a stream that stays silent, once for
 * every stream of the set, and a failed load lets nothing through.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "airlock/redact.h"
#include "airlock/scan.h"
#include "redact_test.h"

struct loader {
	int	fail;
	size_t	calls;
};

static int
load(void *arg, struct scan_engine **out, struct al_err *err)
{
	struct loader *l = arg;

	l->calls++;
	if (l->fail)
		return al_err_set(err, AL_EIO, "rules.yaml:3: no such rule "
		    "file");
	return scan_engine_new_builtin(SCAN_ENGINE_SECRETS_ONLY, out, err);
}

static struct redact *
build_lazy(struct loader *l, const char *v)
{
	struct redact *r;
	struct al_secret *s;
	struct al_err err;

	assert_int_equal(redact_new(&r, &err), 0);
	assert_int_equal(redact_use_scan_lazy(r, NULL, l, &err), AL_EINVAL);
	assert_int_equal(redact_use_scan_lazy(r, load, l, &err), 0);
	assert_int_equal(redact_use_scan_lazy(r, load, l, &err), AL_EINVAL);
	assert_int_equal(al_secret_from(v, strlen(v), &s), 0);
	assert_int_equal(redact_add_value(r, "val", s, &err), 0);
	al_secret_free(s);
	assert_int_equal(redact_compile(r, &err), 0);
	return r;
}

void
test_redact_lazy_rules_load_on_first_output_only(void **state)
{
	struct loader l = { 0, 0 };
	struct redact_stream *so, *se;
	struct redact *r;
	struct sink ko, ke;
	char v[21], tok[41], in[128];

	(void)state;
	canary(v, 20, "ghijklmnopqrstuvwxyz");
	memcpy(tok, "ghp_", 4);
	canary(tok + 4, 36, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop0123456789");
	r = build_lazy(&l, v);
	assert_null(redact_rule_error(r));

	/* A command that prints nothing never loads the rules. */
	sink_init(&ko);
	assert_int_equal(redact_stream_new(r, &so), 0);
	assert_int_equal(redact_stream_write(so, "", 0, sink_emit, &ko), 0);
	assert_int_equal(redact_stream_flush(so, sink_emit, &ko), 0);
	assert_int_equal(redact_stream_finish(so, sink_emit, &ko), 0);
	assert_int_equal(ko.b.len, 0);
	assert_int_equal(l.calls, 0);
	redact_stream_free(so);

	/* The first output loads them, once for both streams. */
	sink_init(&ke);
	assert_int_equal(redact_stream_new(r, &so), 0);
	assert_int_equal(redact_stream_new(r, &se), 0);
	(void)snprintf(in, sizeof(in), "token %s and %s\n", tok, v);
	assert_int_equal(redact_stream_write(so, in, strlen(in), sink_emit,
	    &ko), 0);
	assert_int_equal(l.calls, 1);
	assert_int_equal(redact_stream_write(se, in, strlen(in), sink_emit,
	    &ke), 0);
	assert_int_equal(l.calls, 1);
	assert_int_equal(redact_stream_finish(so, sink_emit, &ko), 0);
	assert_int_equal(redact_stream_finish(se, sink_emit, &ke), 0);
	assert_string_equal(al_buf_str(&ko.b),
	    "token [REDACTED:github-pat] and [REDACTED:val]\n");
	assert_string_equal(al_buf_str(&ke.b), al_buf_str(&ko.b));
	assert_null(redact_rule_error(r));
	redact_stream_free(so);
	redact_stream_free(se);
	al_buf_release(&ko.b);
	al_buf_release(&ke.b);
	redact_free(r);
}

void
test_redact_lazy_rules_failed_load_lets_nothing_through(void **state)
{
	struct loader l = { 1, 0 };
	struct redact_stream *so, *se;
	struct redact *r;
	struct sink ko, ke;
	char v[21];

	(void)state;
	canary(v, 20, "ghijklmnopqrstuvwxyz");
	r = build_lazy(&l, v);
	sink_init(&ko);
	sink_init(&ke);
	assert_int_equal(redact_stream_new(r, &so), 0);
	assert_int_equal(redact_stream_new(r, &se), 0);
	/* Plain text that the values alone would pass at once. */
	assert_int_equal(redact_stream_write(so, "hello\n", 6, sink_emit, &ko),
	    AL_EIO);
	assert_int_equal(ko.b.len, 0);
	assert_non_null(redact_rule_error(r));
	assert_string_equal(redact_rule_error(r),
	    "rules.yaml:3: no such rule file");
	/* Every later write, of either stream, fails the same way. */
	assert_int_equal(redact_stream_write(so, "x\n", 2, sink_emit, &ko),
	    AL_EIO);
	assert_int_equal(redact_stream_write(se, "hello\n", 6, sink_emit, &ke),
	    AL_EIO);
	assert_int_equal(redact_stream_flush(se, sink_emit, &ke), AL_EIO);
	assert_int_equal(ko.b.len + ke.b.len, 0);
	assert_int_equal(l.calls, 1);
	redact_stream_free(so);
	redact_stream_free(se);
	al_buf_release(&ko.b);
	al_buf_release(&ke.b);
	redact_free(r);
}

/*
 * A private key printed a line at a time (as `cat key.pem` on a terminal
 * may): the lines of an armored block are held until its END line, so the
 * multi-line rule sees the whole key; the same key across the boundary of
 * two large writes, and a certificate-like block that no rule matches,
 * which comes out whole once closed.
 */
void
test_redact_armored_key_written_line_by_line(void **state)
{
	static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789+/";
	struct loader l = { 0, 0 };
	struct redact_stream *s;
	struct redact *r;
	struct sink k;
	char v[21], key[2048], line[80], *big;
	size_t i, n = 0, at, bn = 3 * MB;

	(void)state;
	canary(v, 20, "ghijklmnopqrstuvwxyz");
	r = build_lazy(&l, v);
	n += (size_t)snprintf(key + n, sizeof(key) - n,
	    "-----BEGIN RSA PRIVATE KEY-----\n");
	for (i = 0; i < 20; i++) {
		canary(line, 64, B64);
		n += (size_t)snprintf(key + n, sizeof(key) - n, "%s\n", line);
	}
	n += (size_t)snprintf(key + n, sizeof(key) - n,
	    "-----END RSA PRIVATE KEY-----\n");

	/* One line per write. */
	sink_init(&k);
	assert_int_equal(redact_stream_new(r, &s), 0);
	assert_int_equal(redact_stream_write(s, "before\n", 7, sink_emit, &k),
	    0);
	for (i = 0; i < n; i = (size_t)(strchr(key + i, '\n') - key) + 1) {
		assert_int_equal(redact_stream_write(s, key + i,
		    (size_t)(strchr(key + i, '\n') - key) + 1 - i, sink_emit,
		    &k), 0);
		/* Nothing of the key is out before its END line is. */
		assert_false(contains(k.b.data, k.b.len, "-----BEGIN", 10));
	}
	assert_int_equal(redact_stream_write(s, "after\n", 6, sink_emit, &k),
	    0);
	assert_int_equal(redact_stream_finish(s, sink_emit, &k), 0);
	redact_stream_free(s);
	assert_string_equal(al_buf_str(&k.b),
	    "before\n[REDACTED:private-key-rsa]\nafter\n");
	al_buf_release(&k.b);

	/* Across the boundary of two 1 MiB writes. */
	assert_non_null(big = malloc(bn));
	canary(big, bn - 1, "abcdefghijklmnopqrstuvwxyz     ");
	for (i = 79; i < bn; i += 80)
		big[i] = '\n';
	at = MB - n / 2;
	at -= at % 80;
	memcpy(big + at, key, n);
	sink_init(&k);
	assert_int_equal(redact_stream_new(r, &s), 0);
	for (i = 0; i < bn; i += MB)
		assert_int_equal(redact_stream_write(s, big + i, MB, sink_emit,
		    &k), 0);
	assert_int_equal(redact_stream_finish(s, sink_emit, &k), 0);
	redact_stream_free(s);
	assert_false(contains(k.b.data, k.b.len, "-----BEGIN", 10));
	for (i = 32; i < n; i += 65)
		assert_false(contains(k.b.data, k.b.len, key + i, 64));
	assert_true(contains(k.b.data, k.b.len, "[REDACTED:private-key-rsa]",
	    26));
	al_buf_release(&k.b);
	free(big);

	/*
	 * A block no rule matches: a pause does not release it while it is
	 * open, and releases it whole once its END line has ended.
	 */
	sink_init(&k);
	assert_int_equal(redact_stream_new(r, &s), 0);
	assert_int_equal(redact_stream_write(s, "-----BEGIN NOTE-----\n", 21,
	    sink_emit, &k), 0);
	assert_int_equal(redact_stream_write(s, "hello\n", 6, sink_emit, &k),
	    0);
	assert_int_equal(redact_stream_flush(s, sink_emit, &k), 0);
	assert_int_equal(k.b.len, 0);
	assert_int_equal(redact_stream_write(s, "-----END NOTE-----\nx", 20,
	    sink_emit, &k), 0);
	assert_int_equal(redact_stream_flush(s, sink_emit, &k), 0);
	assert_string_equal(al_buf_str(&k.b),
	    "-----BEGIN NOTE-----\nhello\n-----END NOTE-----\n");
	assert_int_equal(redact_stream_finish(s, sink_emit, &k), 0);
	redact_stream_free(s);
	al_buf_release(&k.b);
	redact_free(r);
}

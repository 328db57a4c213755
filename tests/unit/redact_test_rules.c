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

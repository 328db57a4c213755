/* Helpers of the redactor's unit tests (see redact_test.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "airlock/redact.h"
#include "redact_test.h"

const char ALNUM[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

void
canary(char *out, size_t n, const char *alpha)
{
	size_t i, na = strlen(alpha);

	/* One call for the randomness: fillers are megabytes long. */
	randombytes_buf(out, n);
	for (i = 0; i < n; i++)
		out[i] = alpha[(unsigned char)out[i] % na];
	out[n] = '\0';
}

struct redact *
build(size_t n, const char **names, const void **vals, const size_t *lens)
{
	struct redact *r;
	struct al_secret *s;
	struct al_err err;
	size_t i;

	assert_int_equal(redact_new(&r, &err), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(al_secret_from(vals[i], lens[i], &s), 0);
		if (redact_add_value(r, names[i], s, &err) != 0)
			fail_msg("add %s: %s", names[i], err.msg);
		al_secret_free(s);
	}
	if (redact_compile(r, &err) != 0)
		fail_msg("compile: %s", err.msg);
	return r;
}

struct redact *
build1(const char *name, const void *v, size_t n)
{
	return build(1, &name, &v, &n);
}

int
sink_emit(void *arg, const void *p, size_t n)
{
	struct sink *k = arg;

	assert_true(n > 0);
	k->calls++;
	return al_buf_append(&k->b, p, n);
}

void
sink_init(struct sink *k)
{
	memset(k, 0, sizeof(*k));
	al_buf_init(&k->b, 512 * MB, 0);
}

/* Mask in, written in pieces of the given sizes (cycled), into k. */
void
mask_split(const struct redact *r, const void *in, size_t n,
    const size_t *sizes, size_t nsizes, struct sink *k)
{
	struct redact_stream *s;
	const unsigned char *p = in;
	size_t o = 0, w, i = 0;

	assert_int_equal(redact_stream_new(r, &s), 0);
	while (o < n) {
		w = sizes[i++ % nsizes];
		if (w > n - o)
			w = n - o;
		assert_int_equal(redact_stream_write(s, p + o, w, sink_emit, k),
		    0);
		assert_true(redact_stream_held(s) <= redact_max_held(r));
		o += w;
	}
	assert_int_equal(redact_stream_finish(s, sink_emit, k), 0);
	assert_int_equal(redact_stream_held(s), 0);
	assert_int_equal(redact_stream_in(s), n);
	assert_int_equal(redact_stream_out(s), k->b.len);
	redact_stream_free(s);
}

char *
mask_str(const struct redact *r, const void *in, size_t n)
{
	struct al_buf b;
	struct al_err err;
	char *out;

	al_buf_init(&b, 64 * MB, 0);
	assert_int_equal(redact_buffer(r, in, n, &b, &err), 0);
	out = strdup(al_buf_str(&b));
	al_buf_release(&b);
	return out;
}

void
assert_masked(const struct redact *r, const char *in, const char *want)
{
	char *got = mask_str(r, in, strlen(in));

	assert_string_equal(got, want);
	free(got);
}

int
contains(const void *hay, size_t hn, const void *needle, size_t nn)
{
	/* An empty sink has no buffer yet: memmem must not see NULL. */
	return hn != 0 && memmem(hay, hn, needle, nn) != NULL;
}

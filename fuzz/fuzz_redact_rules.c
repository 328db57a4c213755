/*
 * libFuzzer target for src/redact with a rule matcher, on writes large
 * enough for the rules to run on the stream's second thread.  The input
 * is repeated into a text of 4 KiB to 256 KiB, written in pieces of 4 KiB
 * to 256 KiB (sizes and calls taken from the first bytes); invariants:
 *   - write_more (with the caller's buffer scribbled over after each call,
 *     and complete called where the input says) gives exactly what write
 *     gives in the same pieces;
 *   - the output holds no compiled pattern of the fixed values and no
 *     token the matcher would hit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "redact_fuzz.h"

#define RULE_MAX	256
#define TEXT_MAX	(256 * 1024)

struct state {
	struct redact		*r;
	struct fuzz_pats	 pats;
	unsigned char		*text, *scratch;
};

static struct state *S;

static int
alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z');
}

/* The end of a token at p[i] ("tok_" and 8 or more letters or digits). */
static size_t
token_end(const unsigned char *p, size_t n, size_t i)
{
	size_t j;

	if (n - i < 4 || memcmp(p + i, "tok_", 4) != 0)
		return 0;
	for (j = i + 4; j < n && j - i < RULE_MAX && alnum(p[j]); j++)
		;
	return j - i - 4 >= 8 ? j : 0;
}

static int
matcher(void *arg, const unsigned char *p, size_t n, redact_hit_fn hit,
    void *hit_arg)
{
	size_t i, e;

	(void)arg;
	for (i = 0; i < n; i++)
		if ((e = token_end(p, n, i)) != 0) {
			hit(hit_arg, i, e - i, "fuzz-rule");
			i = e - 1;
		}
	return 0;
}

static struct state *
setup(void)
{
	struct state *st;
	struct al_err err;

	if (sodium_init() < 0 || (st = calloc(1, sizeof(*st))) == NULL ||
	    (st->text = malloc(TEXT_MAX)) == NULL ||
	    (st->scratch = malloc(TEXT_MAX)) == NULL ||
	    redact_new(&st->r, &err) != 0 ||
	    redact_set_rule_matcher(st->r, matcher, NULL, RULE_MAX, &err) != 0)
		abort();
	fuzz_values_compile(st->r, &st->pats);
	return st;
}

/* Write text in pieces of w; with more, through write_more (see top). */
static void
run(struct state *st, size_t n, size_t w, unsigned flags, int more,
    struct al_buf *out)
{
	struct redact_stream *s;
	size_t o, m, k;

	if (redact_stream_new(st->r, &s) != 0)
		abort();
	for (o = 0, k = 0; o < n; o += m, k++) {
		m = n - o < w ? n - o : w;
		if (!more) {
			if (redact_stream_write(s, st->text + o, m, fuzz_emit,
			    out) != 0)
				abort();
			continue;
		}
		memcpy(st->scratch, st->text + o, m);
		if (redact_stream_write_more(s, st->scratch, m, fuzz_emit,
		    out) != 0)
			abort();
		memset(st->scratch, 'X', m);
		if ((flags >> (k % 8)) & 1 &&
		    redact_stream_complete(s, fuzz_emit, out) != 0)
			abort();
	}
	if (redact_stream_finish(s, fuzz_emit, out) != 0)
		abort();
	redact_stream_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct al_buf plain, more;
	size_t n, w, i, o, m;
	unsigned flags;

	if (S == NULL)
		S = setup();
	if (size < 4)
		return 0;
	n = ((size_t)data[0] % 64 + 1) * 4096;
	w = ((size_t)data[1] % 64 + 1) * 4096;
	flags = data[2];
	data += 3;
	size -= 3;
	for (o = 0; o < n; o += m) {
		m = n - o < size ? n - o : size;
		memcpy(S->text + o, data, m);
	}
	al_buf_init(&plain, 1 << 26, 0);
	al_buf_init(&more, 1 << 26, 0);
	run(S, n, w, flags, 0, &plain);
	run(S, n, w, flags, 1, &more);
	if (plain.len != more.len ||
	    (plain.len && memcmp(plain.data, more.data, plain.len) != 0))
		abort();
	if (fuzz_has_pattern(&S->pats, plain.data, plain.len))
		abort();
	for (i = 0; i < plain.len; i++)
		if (token_end((const unsigned char *)plain.data, plain.len,
		    i) != 0)
			abort();
	al_buf_release(&plain);
	al_buf_release(&more);
	return 0;
}

/*
 * Streaming tests of src/redact: one byte at a time, the exact bytes held,
 * end of input, longest match, multi-line values, huge lines and streams,
 * the property test against the naive reference, and the rule matcher.
 */
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
#include "redact_ref.h"
#include "redact_test.h"

/* ---- streaming --------------------------------------------------------- */

void
test_redact_one_byte_at_a_time_never_shows_a_prefix(void **state)
{
	char v[41], in[128];
	struct redact_stream *s;
	struct redact *r;
	struct sink k;
	size_t i, n;

	(void)state;
	canary(v, 40, ALNUM);
	r = build1("tok", v, 40);
	n = (size_t)snprintf(in, sizeof(in), "Password: x%s\n", v);
	sink_init(&k);
	assert_int_equal(redact_stream_new(r, &s), 0);
	/* A byte per write, each followed by a pause (flush). */
	for (i = 0; i < n; i++) {
		assert_int_equal(redact_stream_write(s, in + i, 1, sink_emit,
		    &k), 0);
		assert_int_equal(redact_stream_flush(s, sink_emit, &k), 0);
		/* Nothing of the value shows before it is known whole. */
		assert_false(contains(k.b.data, k.b.len, v, 6));
		assert_true(k.b.len <= 10);
		if (i + 1 == 10) {	/* the prompt is out at the pause */
			assert_int_equal(k.b.len, 10);
			assert_memory_equal(k.b.data, "Password: ", 10);
			assert_int_equal(redact_stream_held(s), 0);
		}
	}
	assert_int_equal(redact_stream_finish(s, sink_emit, &k), 0);
	assert_string_equal(al_buf_str(&k.b), "Password: x[REDACTED:tok]\n");
	assert_int_equal(redact_stream_masks(s), 1);
	redact_stream_free(s);
	al_buf_release(&k.b);
	redact_free(r);
}

/*
 * What a stream holds, and what it releases after each write, pause and
 * the end, must not tell whether the bytes begin a value: feed every
 * prefix of a value, and a string of the same length and shape that is
 * not one, in the same pieces, with the same pauses, and compare what
 * came out after every step.  A redactor that held exactly the bytes that
 * may begin a value would let a caller recover the value a character at
 * a time, and one that masked a value's start at the end would tell it
 * that it had guessed right.
 */
struct trace {
	size_t	out[256];
	size_t	held[256];
	size_t	n;
};

static void
trace_run(const struct redact *r, const char *in, size_t n, size_t piece,
    struct trace *t, struct sink *k)
{
	struct redact_stream *s;
	size_t o, w;

	t->n = 0;
	sink_init(k);
	assert_int_equal(redact_stream_new(r, &s), 0);
	for (o = 0; o < n; o += w) {
		w = n - o < piece ? n - o : piece;
		assert_int_equal(redact_stream_write(s, in + o, w, sink_emit,
		    k), 0);
		t->out[t->n] = k->b.len;
		t->held[t->n++] = redact_stream_held(s);
		assert_int_equal(redact_stream_flush(s, sink_emit, k), 0);
		t->out[t->n] = k->b.len;
		t->held[t->n++] = redact_stream_held(s);
		assert_true(t->n + 2 < 256);
	}
	assert_int_equal(redact_stream_finish(s, sink_emit, k), 0);
	t->out[t->n] = k->b.len;
	t->held[t->n++] = 0;
	redact_stream_free(s);
}

static void
assert_same_holding(const struct redact *r, const char *a, const char *b,
    size_t n, size_t piece)
{
	struct trace ta, tb;
	struct sink ka, kb;

	trace_run(r, a, n, piece, &ta, &ka);
	trace_run(r, b, n, piece, &tb, &kb);
	assert_int_equal(ta.n, tb.n);
	assert_memory_equal(ta.out, tb.out, ta.n * sizeof(ta.out[0]));
	assert_memory_equal(ta.held, tb.held, ta.n * sizeof(ta.held[0]));
	/* No whole value in either: both come out as they went in. */
	assert_int_equal(ka.b.len, n);
	assert_memory_equal(ka.b.data, a, n);
	assert_memory_equal(kb.b.data, b, n);
	al_buf_release(&ka.b);
	al_buf_release(&kb.b);
}

void
test_redact_holding_does_not_depend_on_the_value(void **state)
{
	static const char *shapes[] = { "\x01%s", "x %s", "%s\n", "\x01%s\x01",
	    "Password: %s" };
	char v[41], hex[81], other[81], a[128], b[128], fa[100], fb[100];
	struct redact *r;
	size_t L, i, sh, piece, n;

	(void)state;
	canary(v, 40, ALNUM);
	r = build1("tok", v, 40);
	for (L = 1; L < 40; L++) {
		/* The prefix, and the same with its last character changed. */
		(void)snprintf(fa, sizeof(fa), "%.*s", (int)L, v);
		memcpy(fb, fa, L + 1);
		fb[L - 1] = fb[L - 1] == 'Q' ? 'R' : 'Q';
		for (sh = 0; sh < sizeof(shapes) / sizeof(shapes[0]); sh++) {
			n = (size_t)snprintf(a, sizeof(a), shapes[sh], fa);
			(void)snprintf(b, sizeof(b), shapes[sh], fb);
			for (piece = 1; piece <= 64; piece *= 4)
				assert_same_holding(r, a, b, n, piece);
		}
	}
	/* The hex of the value, wrapped as xxd -p does, cut anywhere. */
	for (i = 0; i < 40; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", (unsigned char)v[i]);
	for (i = 0; i < 80; i++)
		other[i] = "0123456789abcdef"[(hex[i] - '0' + 1) % 10];
	for (L = 1; L < 80; L++) {
		n = (size_t)snprintf(a, sizeof(a), "%.*s%s%.*s",
		    (int)(L < 60 ? L : 60), hex, L > 60 ? "\n" : "",
		    (int)(L > 60 ? L - 60 : 0), hex + 60);
		(void)snprintf(b, sizeof(b), "%.*s%s%.*s",
		    (int)(L < 60 ? L : 60), other, L > 60 ? "\n" : "",
		    (int)(L > 60 ? L - 60 : 0), other + 60);
		assert_same_holding(r, a, b, n, 7);
		assert_same_holding(r, a, b, n, n);
	}
	redact_free(r);
}

/* A pause shows a prompt, and holds a last word, whatever it is. */
void
test_redact_pause_shows_a_prompt(void **state)
{
	static const char *prompts[] = { "Password: ", "Enter pass phrase:",
	    "Continue? [y/N]", "$ ", ">>> ", "line\n" };
	struct redact_stream *s;
	struct redact *r;
	struct sink k;
	char v[41];
	size_t i, n;

	(void)state;
	canary(v, 40, ALNUM);
	r = build1("tok", v, 40);
	for (i = 0; i < sizeof(prompts) / sizeof(prompts[0]); i++) {
		n = strlen(prompts[i]);
		sink_init(&k);
		assert_int_equal(redact_stream_new(r, &s), 0);
		assert_int_equal(redact_stream_write(s, prompts[i], n,
		    sink_emit, &k), 0);
		assert_int_equal(k.b.len, 0);
		assert_int_equal(redact_stream_flush(s, sink_emit, &k), 0);
		assert_int_equal(k.b.len, n);
		assert_memory_equal(k.b.data, prompts[i], n);
		assert_int_equal(redact_stream_held(s), 0);
		/* A word after it stays, a value's start or not. */
		assert_int_equal(redact_stream_write(s, v, 10, sink_emit, &k),
		    0);
		assert_int_equal(redact_stream_flush(s, sink_emit, &k), 0);
		assert_int_equal(redact_stream_held(s), 10);
		assert_int_equal(redact_stream_write(s, "zzzzzzzzzz", 10,
		    sink_emit, &k), 0);
		assert_int_equal(redact_stream_flush(s, sink_emit, &k), 0);
		assert_int_equal(redact_stream_held(s), 20);
		assert_int_equal(redact_stream_finish(s, sink_emit, &k), 0);
		assert_int_equal(k.b.len, n + 20);
		redact_stream_free(s);
		al_buf_release(&k.b);
	}
	redact_free(r);
}

/* Whatever the bytes, a write leaves exactly the last max_held held. */
void
test_redact_holds_the_same_bytes_whatever_they_are(void **state)
{
	static const char other[] = " \t\n!#()[]{}<>,;:\"'|";
	const char *names[3] = { "a", "b", "c" };
	const void *vals[3];
	size_t lens[3] = { 32, 40, 20 }, i, w, o, h, alpha;
	char v[3][41], text[4096];
	struct redact_stream *s;
	struct redact *r;
	struct sink k;

	(void)state;
	for (i = 0; i < 3; i++) {
		canary(v[i], lens[i], ALNUM);
		vals[i] = v[i];
	}
	r = build(3, names, vals, lens);
	h = redact_max_held(r);
	assert_true(h >= 3 * 40 + 1);	/* the longest form: %XX each */
	for (alpha = 0; alpha < 2; alpha++) {
		canary(text, sizeof(text) - 1, alpha ? ALNUM : other);
		sink_init(&k);
		assert_int_equal(redact_stream_new(r, &s), 0);
		for (o = 0; o < sizeof(text) - 1; o += w) {
			w = 1 + randombytes_uniform(200);
			if (w > sizeof(text) - 1 - o)
				w = sizeof(text) - 1 - o;
			assert_int_equal(redact_stream_write(s, text + o, w,
			    sink_emit, &k), 0);
			assert_int_equal(redact_stream_held(s),
			    o + w < h ? o + w : h);
			assert_int_equal(k.b.len,
			    o + w - redact_stream_held(s));
		}
		assert_int_equal(redact_stream_finish(s, sink_emit, &k), 0);
		assert_int_equal(k.b.len, sizeof(text) - 1);
		assert_memory_equal(k.b.data, text, sizeof(text) - 1);
		redact_stream_free(s);
		al_buf_release(&k.b);
	}
	redact_free(r);
}

void
test_redact_end_of_input_masks_whole_values_only(void **state)
{
	char v[33], in[64];
	struct redact *r;

	(void)state;
	canary(v, 32, "ghijklmnopqrstuvwxyz");
	r = build1("tok", v, 32);
	(void)snprintf(in, sizeof(in), "end: %.5s", v);
	assert_masked(r, in, in);
	(void)snprintf(in, sizeof(in), "end: %.6s", v);
	assert_masked(r, in, in);
	(void)snprintf(in, sizeof(in), "end: %.31s", v);
	assert_masked(r, in, in);
	(void)snprintf(in, sizeof(in), "end: %s", v);
	assert_masked(r, in, "end: [REDACTED:tok]");
	redact_free(r);
}

void
test_redact_longest_match_wins(void **state)
{
	char a[13], b[33], c[17], in[256], want[256];
	const char *names[3] = { "a", "b", "c" };
	const void *vals[3];
	size_t lens[3] = { 12, 32, 16 }, order;
	struct redact *r;

	(void)state;
	canary(a, 12, "ghijklmnopqrstuvwxyz");
	memcpy(b, a, 12);
	canary(b + 12, 20, "ghijklmnopqrstuvwxyz");		/* a is b's prefix */
	memcpy(c, a + 6, 6);
	canary(c + 6, 10, "ghijklmnopqrstuvwxyz");		/* c overlaps a */
	for (order = 0; order < 2; order++) {
		vals[0] = order ? b : a;
		vals[1] = order ? a : b;
		vals[2] = c;
		names[0] = order ? "b" : "a";
		names[1] = order ? "a" : "b";
		lens[0] = order ? 32 : 12;
		lens[1] = order ? 12 : 32;
		r = build(3, names, vals, lens);
		(void)snprintf(in, sizeof(in), "x %s y", b);
		assert_masked(r, in, "x [REDACTED:b] y");
		(void)snprintf(in, sizeof(in), "x %s y", a);
		assert_masked(r, in, "x [REDACTED:a] y");
		(void)snprintf(in, sizeof(in), "x %s%.8s!", a, b + 12);
		(void)snprintf(want, sizeof(want), "x [REDACTED:a]%.8s!",
		    b + 12);
		assert_masked(r, in, want);
		(void)snprintf(in, sizeof(in), "x %s%s y", a, c + 6);
		assert_masked(r, in, "x [REDACTED:c] y");
		redact_free(r);
	}
}

void
test_redact_multiline_value_whole_lines_and_crlf(void **state)
{
	char l1[41], l2[41], v[256], in[512], crlf[256], x;
	struct redact *r;
	size_t n;

	(void)state;
	canary(l1, 40, ALNUM);
	canary(l2, 40, ALNUM);
	n = (size_t)snprintf(v, sizeof(v), "-----BEGIN TEST KEY-----\n%s\n"
	    "%s\nshort\n-----END TEST KEY-----\n", l1, l2);
	r = build1("pem", v, n);
	(void)snprintf(in, sizeof(in), "key:\n%sdone\n", v);
	assert_masked(r, in, "key:\n[REDACTED:pem]done\n");
	(void)snprintf(crlf, sizeof(crlf), "-----BEGIN TEST KEY-----\r\n%s\r\n"
	    "%s\r\nshort\r\n-----END TEST KEY-----\r\n", l1, l2);
	(void)snprintf(in, sizeof(in), "key:\r\n%sdone\r\n", crlf);
	assert_masked(r, in, "key:\r\n[REDACTED:pem]done\r\n");
	(void)snprintf(in, sizeof(in), "line: %s!\n", l2);
	assert_masked(r, in, "line: [REDACTED:pem]!\n");
	/* Armour and short lines are not secret on their own. */
	assert_masked(r, "-----BEGIN TEST KEY-----\nshort\n",
	    "-----BEGIN TEST KEY-----\nshort\n");
	/*
	 * The whole key, but one line changed: each other line masked.  The
	 * changed first character must differ from the random one.
	 */
	x = l2[0] == 'X' ? 'Y' : 'X';
	(void)snprintf(in, sizeof(in), "-----BEGIN TEST KEY-----\n%s\n%c%s\n",
	    l1, x, l2 + 1);
	n = strlen(in);
	{
		char *got = mask_str(r, in, n), want[256];

		(void)snprintf(want, sizeof(want), "-----BEGIN TEST KEY-----\n"
		    "[REDACTED:pem]\n%c%s\n", x, l2 + 1);
		assert_string_equal(got, want);
		free(got);
	}
	redact_free(r);
}

/*
 * in[0..n) masked as want whatever the writes: in one, in two at every
 * offset, a byte at a time; the reference masks it so too.
 */
static void
assert_masked_any_split(const struct redact *r, const char *in, size_t n,
    const char *want)
{
	struct ref ref;
	struct al_buf b;
	struct sink k;
	size_t a, sizes[2];

	assert_int_equal(ref_load(&ref, r), 0);
	al_buf_init(&b, MB, 0);
	assert_int_equal(ref_mask(&ref, (const unsigned char *)in, n, &b), 0);
	assert_string_equal(al_buf_str(&b), want);
	al_buf_release(&b);
	ref_release(&ref);
	for (a = 0; a <= n; a++) {
		sizes[0] = a == 0 ? n : a == n ? 1 : a;
		sizes[1] = a == 0 ? n : a == n ? 1 : n - a;
		sink_init(&k);
		mask_split(r, in, n, sizes, 2, &k);
		if (strcmp(al_buf_str(&k.b), want) != 0)
			fail_msg("writes of %zu and %zu: got \"%s\"", sizes[0],
			    sizes[1], al_buf_str(&k.b));
		al_buf_release(&k.b);
	}
}

/*
 * A wrapped hex or base64 match with only its first character before a
 * CRLF: masked like any other wrapped match, alone or as the last of
 * overlapping ones.
 */
void
test_redact_wrapped_match_one_character_before_crlf(void **state)
{
	unsigned char v[30];
	char enc[64], in[160];
	struct redact *r;
	size_t f, n;

	(void)state;
	/*
	 * The hex of sixteen "b" holds eight overlapping matches of the hex
	 * of nine; the last starts at the "6" before the break.
	 */
	r = build1("v", "bbbbbbbbb", 9);
	(void)snprintf(in, sizeof(in), "xxd: 0626262626262626\r\n"
	    "26262626262626262a\n");
	assert_masked_any_split(r, in, strlen(in), "xxd: 0[REDACTED:v]a\n");
	redact_free(r);

	/* A whole value so wrapped, in hex and in base64. */
	randombytes_buf(v, sizeof(v));
	r = build1("v", v, sizeof(v));
	for (f = 0; f < 2; f++) {
		if (f == 0)
			sodium_bin2hex(enc, sizeof(enc), v, sizeof(v));
		else
			sodium_bin2base64(enc, sizeof(enc), v, sizeof(v),
			    sodium_base64_VARIANT_ORIGINAL);
		n = (size_t)snprintf(in, sizeof(in), "out: zzzzzzzzzzzzzzz%c"
		    "\r\n%s\n", enc[0], enc + 1);
		assert_masked_any_split(r, in, n,
		    "out: zzzzzzzzzzzzzzz[REDACTED:v]\n");
	}
	redact_free(r);
}

/* A compare sink: the first `skip` bytes must equal the filler. */
struct cmp_sink {
	const unsigned char	*fill;
	size_t			 fill_len, skip, off;
	struct al_buf		 tail;
};

static int
cmp_emit(void *arg, const void *p, size_t n)
{
	struct cmp_sink *c = arg;
	const unsigned char *q = p;
	size_t w;

	while (n > 0 && c->off < c->skip) {
		w = c->fill_len - c->off % c->fill_len;
		if (w > n)
			w = n;
		if (w > c->skip - c->off)
			w = c->skip - c->off;
		if (memcmp(q, c->fill + c->off % c->fill_len, w) != 0)
			return 1;
		c->off += w;
		q += w;
		n -= w;
	}
	return n ? al_buf_append(&c->tail, q, n) : 0;
}

void
test_redact_value_after_100_mb_of_output(void **state)
{
	unsigned char *fill;
	char v[41], want[64];
	struct redact_stream *s;
	struct redact *r;
	struct cmp_sink c;
	size_t o, total = 100 * 1000 * 1000 + 12345, w;

	(void)state;
	canary(v, 40, ALNUM);
	r = build1("late", v, 40);
	assert_non_null(fill = malloc(MB));
	canary((char *)fill, MB - 1, "ghijklmnopqrstuvwxyz ,.;\n");
	fill[MB - 1] = '\n';
	memset(&c, 0, sizeof(c));
	c.fill = fill;
	c.fill_len = MB;
	c.skip = total;
	al_buf_init(&c.tail, MB, 0);
	assert_int_equal(redact_stream_new(r, &s), 0);
	for (o = 0; o < total; o += w) {
		w = 65536 - (o % 7);
		if (w > total - o)
			w = total - o;
		if (o % MB + w > MB)
			w = MB - o % MB;
		assert_int_equal(redact_stream_write(s, fill + o % MB, w,
		    cmp_emit, &c), 0);
	}
	assert_int_equal(redact_stream_write(s, " ", 1, cmp_emit, &c), 0);
	assert_int_equal(redact_stream_write(s, v, 13, cmp_emit, &c), 0);
	assert_int_equal(redact_stream_write(s, v + 13, 1, cmp_emit, &c), 0);
	assert_int_equal(redact_stream_write(s, v + 14, 26, cmp_emit, &c), 0);
	assert_int_equal(redact_stream_write(s, "\n", 1, cmp_emit, &c), 0);
	assert_int_equal(redact_stream_finish(s, cmp_emit, &c), 0);
	assert_int_equal(c.off, total);
	(void)snprintf(want, sizeof(want), " [REDACTED:late]\n");
	assert_string_equal(al_buf_str(&c.tail), want);
	redact_stream_free(s);
	al_buf_release(&c.tail);
	free(fill);
	redact_free(r);
}

void
test_redact_value_inside_a_10_mb_line(void **state)
{
	const size_t n = 10 * MB, at[] = { 65536 - 20, 4 * MB + 3, n - 40 };
	static const size_t splits[] = { 65536, 4093, 1, 131072, 17 };
	char v[41];
	unsigned char *in, *want;
	struct redact *r;
	struct sink k;
	size_t i, wl, pos;

	(void)state;
	canary(v, 40, ALNUM);
	r = build1("deep", v, 40);
	assert_non_null(in = malloc(n));
	assert_non_null(want = malloc(n));
	canary((char *)in, n - 1, "ghijklmnopqrstuvwxyz ,.;");
	in[n - 1] = 'z';
	for (i = 0; i < 3; i++)
		memcpy(in + at[i], v, 40);
	for (i = 0, wl = 0, pos = 0; i < 3; i++) {
		memcpy(want + wl, in + pos, at[i] - pos);
		wl += at[i] - pos;
		memcpy(want + wl, "[REDACTED:deep]", 15);
		wl += 15;
		pos = at[i] + 40;
	}
	for (i = 0; i < 2; i++) {
		sink_init(&k);
		mask_split(r, in, n, i ? splits : &n, i ? 5 : 1, &k);
		assert_int_equal(k.b.len, wl);
		assert_memory_equal(k.b.data, want, wl);
		al_buf_release(&k.b);
	}
	free(in);
	free(want);
	redact_free(r);
}

/* ---- property: streaming equals the reference -------------------------- */

struct prop {
	char		 names[8][8];
	unsigned char	 vals[8][128];
	size_t		 lens[8];
	size_t		 nv;
};

static void
prop_values(struct prop *p)
{
	size_t i, j, n, per;
	unsigned char *v;

	p->nv = 1 + randombytes_uniform(5);
	for (i = 0; i < p->nv; i++) {
		v = p->vals[i];
		(void)snprintf(p->names[i], sizeof(p->names[i]), "v%zu", i);
		switch (i == 0 ? randombytes_uniform(3) :
		    randombytes_uniform(7)) {
		case 0:
			n = 8 + randombytes_uniform(33);
			canary((char *)v, n, ALNUM);
			break;
		case 1:
			n = 4 + randombytes_uniform(21);
			randombytes_buf(v, n);
			break;
		case 2:
			n = 6 + randombytes_uniform(25);
			canary((char *)v, n, "abcXYZ019 \"'\\/<>&%+=-_\n\t");
			break;
		case 3:	/* an earlier value and more */
			j = randombytes_uniform((uint32_t)i);
			n = p->lens[j] + 1 + randombytes_uniform(10);
			memcpy(v, p->vals[j], p->lens[j]);
			canary((char *)v + p->lens[j], n - p->lens[j], ALNUM);
			break;
		case 4:	/* overlaps the end of an earlier value */
			j = randombytes_uniform((uint32_t)i);
			per = p->lens[j] / 2;
			n = per + 4 + randombytes_uniform(10);
			memcpy(v, p->vals[j] + p->lens[j] - per, per);
			canary((char *)v + per, n - per, ALNUM);
			break;
		case 5:	/* periodic */
			per = 1 + randombytes_uniform(3);
			n = 8 + randombytes_uniform(12);
			canary((char *)v, per, "ab");
			for (j = per; j < n; j++)
				v[j] = v[j - per];
			break;
		default: /* lines */
			n = 0;
			for (j = 0; j < 2 + randombytes_uniform(3); j++) {
				per = 4 + randombytes_uniform(16);
				canary((char *)v + n, per, ALNUM);
				n += per;
				if (randombytes_uniform(2))
					v[n++] = '\r';
				v[n++] = '\n';
			}
			n--;
			break;
		}
		p->lens[i] = n;
	}
}

/* Text from fragments that provoke partial, whole and broken matches. */
static size_t
prop_text(const struct ref *ref, const struct prop *pv, unsigned char *t,
    size_t max)
{
	static const int b64v[] = { sodium_base64_VARIANT_ORIGINAL,
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
	    sodium_base64_VARIANT_URLSAFE,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING };
	unsigned char x[160];
	char enc[256], wr[512];
	const struct ref_pat *p;
	size_t n = 0, w, k, np, ns, j, o, ww;

	while (n < max) {
		p = &ref->pat[randombytes_uniform((uint32_t)ref->npat)];
		switch (randombytes_uniform(9)) {
		case 0:
			w = randombytes_uniform(20);
			if (w > max - n)
				w = max - n;
			randombytes_buf(t + n, w);
			break;
		case 1:
			w = randombytes_uniform(20);
			if (w > max - n)
				w = max - n;
			canary((char *)t + n, w, "ABCabc012+/=-_ \n");
			break;
		case 2:
		case 3:	/* a whole pattern, or its start */
			w = randombytes_uniform(2) ? p->n :
			    randombytes_uniform((uint32_t)p->n + 1);
			if (w > max - n)
				w = max - n;
			memcpy(t + n, p->p, w);
			break;
		case 4:	/* one byte wrong */
			w = p->n < max - n ? p->n : max - n;
			memcpy(t + n, p->p, w);
			if (w)
				t[n + randombytes_uniform((uint32_t)w)] ^= 1;
			break;
		case 7:
		case 8:	/* hex or base64 of a value, wrapped */
			k = randombytes_uniform((uint32_t)pv->nv);
			np = randombytes_uniform(6);
			randombytes_buf(x, np);
			memcpy(x + np, pv->vals[k], pv->lens[k]);
			if (randombytes_uniform(2))
				sodium_bin2hex(enc, sizeof(enc), x,
				    np + pv->lens[k]);
			else
				sodium_bin2base64(enc, sizeof(enc), x,
				    np + pv->lens[k],
				    b64v[randombytes_uniform(4)]);
			ww = 12 + randombytes_uniform(70);
			j = randombytes_uniform(2);
			for (o = 0, w = 0; enc[o] != '\0'; o++) {
				if (o > 0 && o % ww == 0) {
					if (j)
						wr[w++] = '\r';
					wr[w++] = '\n';
				}
				wr[w++] = enc[o];
			}
			if (w > max - n)
				w = max - n;
			memcpy(t + n, wr, w);
			break;
		default: /* base64 of a value inside other bytes */
			k = randombytes_uniform((uint32_t)pv->nv);
			np = randombytes_uniform(6);
			ns = randombytes_uniform(6);
			randombytes_buf(x, np + ns);
			memmove(x + np + pv->lens[k], x + np, ns);
			memcpy(x + np, pv->vals[k], pv->lens[k]);
			sodium_bin2base64(enc, sizeof(enc), x,
			    np + pv->lens[k] + ns, b64v[randombytes_uniform(4)]);
			w = strlen(enc);
			if (w > max - n)
				w = max - n;
			memcpy(t + n, enc, w);
			break;
		}
		n += w;
		(void)j;
	}
	return n;
}

/*
 * RX_PROP_DEBUG=file: on a difference, write the values and both outputs
 * around the first differing byte there, then the write sizes and the
 * whole input (a debugging aid for a soak: enough to replay the case).
 */
static void
prop_dump(const struct prop *pv, const struct al_buf *got,
    const struct al_buf *want, const unsigned char *in, size_t n,
    const size_t *sizes, size_t nsizes)
{
	size_t d, from, i;
	FILE *f;

	for (d = 0; d < got->len && d < want->len &&
	    got->data[d] == want->data[d]; d++)
		;
	if (d == got->len && d == want->len)
		return;
	if ((f = fopen(getenv("RX_PROP_DEBUG"), "w")) == NULL)
		return;
	from = d > 300 ? d - 300 : 0;
	fprintf(f, "first difference at %zu\n-- got:\n", d);
	fwrite(got->data + from, 1, got->len - from < 600 ?
	    got->len - from : 600, f);
	fprintf(f, "\n-- want:\n");
	fwrite(want->data + from, 1, want->len - from < 600 ?
	    want->len - from : 600, f);
	for (i = 0; i < pv->nv; i++) {
		fprintf(f, "\n-- value %zu:\n", i);
		fwrite(pv->vals[i], 1, pv->lens[i], f);
	}
	fprintf(f, "\n-- writes:");
	for (i = 0; i < nsizes; i++)
		fprintf(f, " %zu", sizes[i]);
	fprintf(f, "\n-- input, %zu bytes:\n", n);
	fwrite(in, 1, n, f);
	fclose(f);
}

void
test_redact_random_splits_match_reference(void **state)
{
	struct prop pv;
	struct ref ref;
	struct redact *r;
	struct al_buf want;
	struct sink k;
	unsigned char *t;
	size_t it, n, max, sizes[16], i, mode, iters;
	const void *vals[8];
	const char *names[8];

	(void)state;
	/*
	 * RX_PROP_ITERS raises the count for a long soak by hand, and
	 * RX_PROP_DEBUG names a file for what a failure saw.
	 */
	iters = getenv("RX_PROP_ITERS") != NULL ?
	    strtoul(getenv("RX_PROP_ITERS"), NULL, 10) : 60;
	assert_non_null(t = malloc(80000));
	for (it = 0; it < iters; it++) {
		prop_values(&pv);
		for (i = 0; i < pv.nv; i++) {
			vals[i] = pv.vals[i];
			names[i] = pv.names[i];
		}
		r = build(pv.nv, names, vals, pv.lens);
		assert_int_equal(ref_load(&ref, r), 0);
		assert_int_equal(ref.npat, redact_pattern_count(r));
		max = it % 10 == 9 ? 70000 : 200 + randombytes_uniform(3000);
		n = prop_text(&ref, &pv, t, max);
		al_buf_init(&want, 64 * MB, 0);
		assert_int_equal(ref_mask(&ref, t, n, &want), 0);
		for (mode = 0; mode < 4; mode++) {
			for (i = 0; i < 16; i++)
				sizes[i] = mode == 0 ? n : mode == 1 ? 1 :
				    mode == 2 ? 1 + randombytes_uniform(64) :
				    1 + randombytes_uniform(40000);
			if (mode == 1 && n > 5000)
				continue;
			sink_init(&k);
			mask_split(r, t, n, sizes, 16, &k);
			if (getenv("RX_PROP_DEBUG") != NULL)
				prop_dump(&pv, &k.b, &want, t, n, sizes, 16);
			if (k.b.len != want.len ||
			    memcmp(k.b.data, want.data, want.len) != 0) {
				fail_msg("iteration %zu mode %zu: stream and "
				    "reference differ (%zu vs %zu bytes)", it,
				    mode, k.b.len, want.len);
			}
			al_buf_release(&k.b);
		}
		al_buf_release(&want);
		ref_release(&ref);
		redact_free(r);
	}
	free(t);
}

/*
 * Wrapped encodings, densely: a value (random, or a run of "a" and "b" that
 * overlaps itself) after 0-3 other bytes, in hex of either case or base64,
 * cut into lines of 13 to 21 characters that end in LF, CRLF, a lone CR,
 * CR CR LF or "=", the first break anywhere in the encoding, amid hex
 * digits and breaks; streamed whole, a byte at a time and in small random
 * pieces, always as the reference masks it.
 */
static size_t
wrap_text(const unsigned char *v, size_t nv, int periodic, char *in)
{
	static const char *brk[] = { "\r", "\r\r\n", "=" };
	unsigned char x[48];
	char enc[128];
	size_t n = 0, k, i, w, np, o, next, ww;
	int crlf;

	for (k = 0; k < 1 + randombytes_uniform(4); k++) {
		w = randombytes_uniform(20);
		for (i = 0; i < w; i++)
			in[n++] = randombytes_uniform(4) ?
			    "0123456789abcdef"[randombytes_uniform(16)] :
			    "\r\n=zQ "[randombytes_uniform(6)];
		np = randombytes_uniform(4);
		randombytes_buf(x, np);
		if (periodic && randombytes_uniform(2))
			memset(x, v[0], np);
		memcpy(x + np, v, nv);
		switch (randombytes_uniform(3)) {
		case 0:
			sodium_bin2hex(enc, sizeof(enc), x, np + nv);
			break;
		case 1:
			sodium_bin2hex(enc, sizeof(enc), x, np + nv);
			for (i = 0; enc[i] != '\0'; i++)
				if (enc[i] >= 'a')
					enc[i] = (char)(enc[i] - 32);
			break;
		default:
			sodium_bin2base64(enc, sizeof(enc), x, np + nv,
			    randombytes_uniform(2) ?
			    sodium_base64_VARIANT_ORIGINAL :
			    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		}
		ww = 14 + randombytes_uniform(8);
		next = 1 + randombytes_uniform((uint32_t)ww);
		crlf = (int)randombytes_uniform(2);
		for (o = 0; enc[o] != '\0'; o++) {
			if (o == next) {
				i = randombytes_uniform(12);
				if (i < 3) {
					memcpy(in + n, brk[i], strlen(brk[i]));
					n += strlen(brk[i]);
				} else {
					if (crlf)
						in[n++] = '\r';
					in[n++] = '\n';
				}
				next = o + (randombytes_uniform(2) ? ww :
				    13 + randombytes_uniform(6));
			}
			in[n++] = enc[o];
		}
	}
	return n;
}

void
test_redact_wrapped_runs_match_reference(void **state)
{
	unsigned char v[24];
	char in[1024];
	struct ref ref;
	struct redact *r;
	struct al_buf want;
	struct sink k;
	size_t it, i, n, nv, mode, sizes[4];
	uint32_t per;

	(void)state;
	for (it = 0; it < 1500; it++) {
		nv = 4 + randombytes_uniform(20);
		if ((per = randombytes_uniform(3)) != 0)
			for (i = 0; i < nv; i++)
				v[i] = i % per ? 'b' : 'a';
		else
			randombytes_buf(v, nv);
		r = build1("v", v, nv);
		assert_int_equal(ref_load(&ref, r), 0);
		n = wrap_text(v, nv, per != 0, in);
		al_buf_init(&want, MB, 0);
		assert_int_equal(ref_mask(&ref, (unsigned char *)in, n, &want),
		    0);
		for (mode = 0; mode < 3; mode++) {
			for (i = 0; i < 4; i++)
				sizes[i] = mode == 0 ? n : mode == 1 ? 1 :
				    1 + randombytes_uniform(40);
			sink_init(&k);
			mask_split(r, in, n, sizes, 4, &k);
			if (k.b.len != want.len ||
			    memcmp(k.b.data, want.data, want.len) != 0)
				fail_msg("iteration %zu mode %zu: stream and "
				    "reference differ on \"%.*s\"", it, mode,
				    (int)n, in);
			al_buf_release(&k.b);
		}
		al_buf_release(&want);
		ref_release(&ref);
		redact_free(r);
	}
}

/*
 * Binary output (as a download is) with the values' encodings planted in
 * it: at 32-byte block edges and around the 64 KiB chunks, wrapped into
 * lines, one byte off, after runs of their first two bytes, and inside
 * long runs of base64 characters (where the skip filter gives way to the
 * lanes).  Whatever the automaton skips, the masked output must be the
 * reference's.
 */
void
test_redact_skip_filter_matches_reference(void **state)
{
	struct ref ref;
	struct redact *r;
	struct al_buf want;
	struct sink k;
	unsigned char *t, raw[24];
	char vals[2][64], wr[512];
	const void *vp[2] = { vals[0], vals[1] };
	const char *names[2] = { "one", "two" };
	size_t lens[2], n = 300000, it, i, j, at, w, sizes[8], mode;
	const struct ref_pat *pp;

	(void)state;
	assert_non_null(t = malloc(n));
	for (it = 0; it < 12; it++) {
		for (i = 0; i < 2; i++) {
			randombytes_buf(raw, sizeof(raw));
			sodium_bin2base64(vals[i], sizeof(vals[i]), raw,
			    sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
			lens[i] = strlen(vals[i]);
		}
		r = build(1 + it % 2, names, vp, lens);
#if defined(__x86_64__)
		/* The case this test is for: the filter is on. */
		if (it % 2 == 0 && __builtin_cpu_supports("avx2"))
			assert_true(ref_skips(r));
#endif
		assert_int_equal(ref_load(&ref, r), 0);
		randombytes_buf(t, n);
		/* Base64 characters only, for a while: the filter stops often. */
		at = 100000 + randombytes_uniform(50000);
		canary((char *)t + at, 30000, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"
		    "ghijklmnopqrstuvwxyz0123456789+/");
		for (j = 0; j < 60; j++) {
			pp = &ref.pat[randombytes_uniform((uint32_t)ref.npat)];
			switch (j % 6) {
			case 0:	/* across a 32-byte block edge */
				at = 32 * (1 + randombytes_uniform(9000)) -
				    randombytes_uniform((uint32_t)pp->n);
				break;
			case 1:	/* around a 64 KiB chunk's end */
				at = 65536 * (1 + randombytes_uniform(4)) -
				    randombytes_uniform((uint32_t)pp->n + 4);
				break;
			case 2:	/* in the base64 run */
				at = 100000 + randombytes_uniform(75000);
				break;
			default:
				at = randombytes_uniform((uint32_t)(n - 600));
				break;
			}
			if (at + 2 * pp->n + 8 > n)
				continue;
			if (j % 6 == 3) {	/* one byte off */
				memcpy(t + at, pp->p, pp->n);
				t[at + randombytes_uniform((uint32_t)pp->n)] ^= 1;
			} else if (j % 6 == 4) {	/* after its first pair */
				for (i = 0; i < 6; i++)
					memcpy(t + at + 2 * i, pp->p, 2);
				memcpy(t + at + 12, pp->p, pp->n);
			} else if (j % 6 == 5 && ref.nwpat > 0) { /* wrapped */
				pp = &ref.wpat[randombytes_uniform(
				    (uint32_t)ref.nwpat)];
				for (i = 0, w = 0; i < pp->n && w + 2 <
				    sizeof(wr); i++) {
					if (i > 0 && i % 20 == 0)
						wr[w++] = '\n';
					wr[w++] = (char)pp->p[i];
				}
				if (at + w <= n)
					memcpy(t + at, wr, w);
			} else
				memcpy(t + at, pp->p, pp->n);
		}
		al_buf_init(&want, 64 * MB, 0);
		assert_int_equal(ref_mask(&ref, t, n, &want), 0);
		for (mode = 0; mode < 3; mode++) {
			for (i = 0; i < 8; i++)
				sizes[i] = mode == 0 ? n : mode == 1 ?
				    1 + randombytes_uniform(70000) :
				    200 + randombytes_uniform(2000);
			sink_init(&k);
			mask_split(r, t, n, sizes, 8, &k);
			if (k.b.len != want.len ||
			    memcmp(k.b.data, want.data, want.len) != 0)
				fail_msg("iteration %zu mode %zu: stream and "
				    "reference differ (%zu vs %zu bytes)", it,
				    mode, k.b.len, want.len);
			al_buf_release(&k.b);
		}
		al_buf_release(&want);
		ref_release(&ref);
		redact_free(r);
	}
	free(t);
}

/* ---- rule matcher ------------------------------------------------------ */

struct rules {
	int	fail;
	size_t	calls;
};

/* Hits "tok_" followed by 12 or more letters and digits. */
static int
test_matcher(void *arg, const unsigned char *p, size_t n, redact_hit_fn hit,
    void *hit_arg)
{
	struct rules *ru = arg;
	size_t i, j;

	ru->calls++;
	if (ru->fail)
		return AL_EIO;
	for (i = 0; i + 4 <= n; i++) {
		if (memcmp(p + i, "tok_", 4) != 0)
			continue;
		for (j = i + 4; j < n && strchr(ALNUM, p[j]) && p[j]; j++)
			;
		if (j - i - 4 >= 12)
			hit(hit_arg, i, j - i, "test-token");
		i = j - 1;
	}
	return 0;
}

static struct redact *
build_rules(struct rules *ru, const char *v, size_t max_len)
{
	struct redact *r;
	struct al_secret *s;
	struct al_err err;

	assert_int_equal(redact_new(&r, &err), 0);
	assert_int_equal(redact_set_rule_matcher(r, test_matcher, ru, 0, &err),
	    AL_EINVAL);
	assert_int_equal(redact_set_rule_matcher(r, test_matcher, ru, max_len,
	    &err), 0);
	if (v != NULL) {
		assert_int_equal(al_secret_from(v, strlen(v), &s), 0);
		assert_int_equal(redact_add_value(r, "val", s, &err), 0);
		al_secret_free(s);
	}
	assert_int_equal(redact_compile(r, &err), 0);
	return r;
}

/* With rules too, a value's prefix is held like any other text. */
void
test_redact_holding_with_rules_does_not_depend_on_the_value(void **state)
{
	static const char *shapes[] = { "\x01%s", "x %s\ny", "%s\n" };
	struct rules ru = { 0, 0 };
	char v[41], a[128], b[128], fa[64], fb[64];
	struct redact *r;
	size_t L, sh, n;

	(void)state;
	canary(v, 40, ALNUM);
	r = build_rules(&ru, v, 256);
	for (L = 1; L < 40; L += 3) {
		(void)snprintf(fa, sizeof(fa), "%.*s", (int)L, v);
		memcpy(fb, fa, L + 1);
		fb[L - 1] = fb[L - 1] == 'Q' ? 'R' : 'Q';
		for (sh = 0; sh < sizeof(shapes) / sizeof(shapes[0]); sh++) {
			n = (size_t)snprintf(a, sizeof(a), shapes[sh], fa);
			(void)snprintf(b, sizeof(b), shapes[sh], fb);
			assert_same_holding(r, a, b, n, 1);
			assert_same_holding(r, a, b, n, 5);
		}
	}
	redact_free(r);
}

void
test_redact_rule_hits_are_masked_and_lines_held(void **state)
{
	struct rules ru = { 0, 0 };
	struct redact_stream *s;
	struct redact *r;
	struct sink k;
	char v[17], in[128], *got;
	size_t i;

	(void)state;
	canary(v, 16, "ghijklmnopqrstuvwxyz");
	r = build_rules(&ru, v, 256);
	assert_masked(r, "id tok_ABCDEFGHIJKL12 ok\n",
	    "id [REDACTED:test-token] ok\n");
	assert_masked(r, "id tok_short ok\n", "id tok_short ok\n");
	/* A value inside a hit: one mask, the longer (the hit) names it. */
	(void)snprintf(in, sizeof(in), "x tok_%s y\n", v);
	assert_masked(r, in, "x [REDACTED:test-token] y\n");
	(void)snprintf(in, sizeof(in), "x %s y\n", v);
	assert_masked(r, in, "x [REDACTED:val] y\n");
	/* One byte at a time: nothing shows before the newline. */
	sink_init(&k);
	assert_int_equal(redact_stream_new(r, &s), 0);
	(void)snprintf(in, sizeof(in), "id tok_ABCDEFGHIJKL12 ok\n");
	for (i = 0; in[i]; i++) {
		assert_int_equal(redact_stream_write(s, in + i, 1, sink_emit,
		    &k), 0);
		if (in[i] != '\n')
			assert_int_equal(k.b.len, 0);
	}
	assert_int_equal(redact_stream_flush(s, sink_emit, &k), 0);
	assert_string_equal(al_buf_str(&k.b), "id [REDACTED:test-token] ok\n");
	/* flush releases an unfinished line (a prompt). */
	assert_int_equal(redact_stream_write(s, "Password: ", 10, sink_emit,
	    &k), 0);
	assert_int_equal(redact_stream_held(s), 10);
	assert_int_equal(redact_stream_flush(s, sink_emit, &k), 0);
	assert_int_equal(redact_stream_held(s), 0);
	assert_string_equal(al_buf_str(&k.b),
	    "id [REDACTED:test-token] ok\nPassword: ");
	assert_int_equal(redact_stream_finish(s, sink_emit, &k), 0);
	redact_stream_free(s);
	al_buf_release(&k.b);
	/* The same text without the matcher (--no-rules) is left alone. */
	redact_free(r);
	r = build1("val", v, 16);
	got = mask_str(r, "id tok_ABCDEFGHIJKL12 ok\n", 25);
	assert_string_equal(got, "id tok_ABCDEFGHIJKL12 ok\n");
	free(got);
	redact_free(r);
}

void
test_redact_rule_window_is_bounded_and_errors_propagate(void **state)
{
	struct rules ru = { 0, 0 };
	struct redact_stream *s;
	struct redact *r;
	struct sink k;
	char line[2000];
	size_t i;

	(void)state;
	r = build_rules(&ru, NULL, 64);
	assert_int_equal(redact_max_held(r), 64);
	canary(line, sizeof(line) - 1, "ghijklmnopqrstuvwxyz ");
	memcpy(line + 1000, "tok_ABCDEFGHIJKLMNOP", 20);
	sink_init(&k);
	assert_int_equal(redact_stream_new(r, &s), 0);
	for (i = 0; i < sizeof(line) - 1; i += 7) {
		assert_int_equal(redact_stream_write(s, line + i,
		    i + 7 < sizeof(line) - 1 ? 7 : sizeof(line) - 1 - i,
		    sink_emit, &k), 0);
		assert_true(redact_stream_held(s) <= 64);
	}
	assert_int_equal(redact_stream_finish(s, sink_emit, &k), 0);
	assert_true(contains(k.b.data, k.b.len, "[REDACTED:test-token]", 21));
	assert_false(contains(k.b.data, k.b.len, "tok_", 4));
	redact_stream_free(s);
	al_buf_release(&k.b);
	ru.fail = 1;
	sink_init(&k);
	assert_int_equal(redact_stream_new(r, &s), 0);
	assert_int_equal(redact_stream_write(s, "a\n", 2, sink_emit, &k),
	    AL_EIO);
	assert_int_equal(redact_stream_write(s, "b\n", 2, sink_emit, &k),
	    AL_EIO);
	redact_stream_free(s);
	al_buf_release(&k.b);
	redact_free(r);
}

/* Write in[0..n) in pieces of `piece` bytes; the output in k. */
static int
write_pieces(const struct redact *r, const char *in, size_t n, size_t piece,
    struct sink *k)
{
	struct redact_stream *s;
	size_t i, m;
	int rc = 0;

	sink_init(k);
	assert_int_equal(redact_stream_new(r, &s), 0);
	for (i = 0; i < n && rc == 0; i += m) {
		m = n - i < piece ? n - i : piece;
		rc = redact_stream_write(s, in + i, m, sink_emit, k);
	}
	if (rc == 0)
		rc = redact_stream_finish(s, sink_emit, k);
	redact_stream_free(s);
	return rc;
}

/*
 * Large writes run the rules on a second thread while the automaton runs:
 * the output must be the one small writes (rules inline) give, byte for
 * byte, with hits on chunk boundaries, values among them, and a stretch
 * so dense in values that the automaton stops short of a chunk (its hits
 * are then found inline).
 */
void
test_redact_rules_on_big_writes_match_small_writes(void **state)
{
	static const size_t pieces[] = { 3 * MB, 1000 * 1000, 100 * 1000 };
	struct rules ru = { 0, 0 };
	struct redact *r;
	struct sink small, big;
	char v[17], tok[21], *in;
	size_t n = 3 * MB, at, i, p;

	(void)state;
	canary(v, 16, "ghijklmnopqrstuvwxyz");
	r = build_rules(&ru, v, 256);
	assert_non_null(in = malloc(n + 1));
	/* Lines of 79 letters and spaces. */
	canary(in, n, "abcdefghijklmnopqrstuvwxyz      ");
	for (i = 79; i < n; i += 80)
		in[i] = '\n';
	/* Tokens across each 256 KiB boundary and at random places. */
	for (at = 256 * 1024; at + 32 < n; at += 256 * 1024) {
		for (i = 0; i < 3; i++) {
			canary(tok, 20, "ABCDEFGHIJKLMNOP0123456789");
			memcpy(tok, "tok_", 4);
			p = at - 10 - i * 25 - (i == 2 ? 40000 : 0);
			memcpy(in + p, tok, 20);
			in[p + 20] = ' ';
		}
		memcpy(in + at + 300, v, 16);
	}
	/* 3,000 values within 64 KiB: more events than one scan holds. */
	for (i = 0, p = MB + 123; i < 3000; i++, p += 20) {
		memcpy(in + p, v, 16);
		memcpy(in + p + 16, " \n  ", 4);
	}
	memcpy(in + MB + 70000, "tok_QWERTYUIOPASDFGH", 20);
	in[n] = '\0';
	assert_int_equal(write_pieces(r, in, n, 4096, &small), 0);
	assert_false(contains(small.b.data, small.b.len, v, 16));
	assert_false(contains(small.b.data, small.b.len, "tok_", 4));
	assert_true(contains(small.b.data, small.b.len,
	    "[REDACTED:test-token]", 21));
	for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		assert_int_equal(write_pieces(r, in, n, pieces[i], &big), 0);
		assert_int_equal(big.b.len, small.b.len);
		assert_memory_equal(big.b.data, small.b.data, small.b.len);
		al_buf_release(&big.b);
	}
	/* A matcher failing on the second thread fails the write. */
	ru.fail = 1;
	assert_int_equal(write_pieces(r, in, n, n, &big), AL_EIO);
	assert_int_equal(big.b.len, 0);
	al_buf_release(&big.b);
	al_buf_release(&small.b);
	free(in);
	redact_free(r);
}

/*
 * write_more may leave the last chunk of a large write undecided while
 * its rules run; the caller reuses its buffer at once (scribbled here),
 * and complete, the next write or finish decides it from the stream's
 * own copy: the output is the one plain writes give.
 */
void
test_redact_write_more_defers_and_copies(void **state)
{
	struct rules ru = { 0, 0 };
	struct redact_stream *s;
	struct redact *r;
	struct sink want, got;
	char v[17], *in, *buf;
	size_t n = 2 * MB, piece = 256 * 1024, i, m, before;

	(void)state;
	canary(v, 16, "ghijklmnopqrstuvwxyz");
	r = build_rules(&ru, v, 256);
	assert_non_null(in = malloc(n));
	assert_non_null(buf = malloc(piece));
	canary(in, n - 1, "abcdefghijklmnopqrstuvwxyz      ");
	for (i = 79; i < n; i += 80)
		in[i] = '\n';
	for (i = 1000; i + 40 < n; i += 150 * 1000) {
		memcpy(in + i, "tok_ABCDEFGHIJKLMNOP ", 21);
		memcpy(in + i + 21, v, 16);
	}
	/* Across the boundary of two pieces. */
	memcpy(in + piece - 8, "tok_ZYXWVUTSRQPONMLK ", 21);
	memcpy(in + 3 * piece - 7, v, 16);
	assert_int_equal(write_pieces(r, in, n, piece, &want), 0);
	assert_false(contains(want.b.data, want.b.len, v, 16));
	assert_false(contains(want.b.data, want.b.len, "tok_", 4));

	sink_init(&got);
	assert_int_equal(redact_stream_new(r, &s), 0);
	for (i = 0; i < n; i += m) {
		m = n - i < piece ? n - i : piece;
		memcpy(buf, in + i, m);
		before = got.b.len;
		assert_int_equal(redact_stream_write_more(s, buf, m, sink_emit,
		    &got), 0);
		/* Left undecided: none of this piece is out yet. */
		if (i == 0 || i == piece)
			assert_int_equal(got.b.len, before);
		assert_true(redact_stream_held(s) >= m);
		memset(buf, 'X', m);
		if (i == 0) {
			assert_int_equal(redact_stream_complete(s, sink_emit,
			    &got), 0);
			assert_true(redact_stream_held(s) <= 256);
			assert_int_equal(redact_stream_complete(s, sink_emit,
			    &got), 0);
		}
	}
	assert_int_equal(redact_stream_finish(s, sink_emit, &got), 0);
	redact_stream_free(s);
	assert_int_equal(got.b.len, want.b.len);
	assert_memory_equal(got.b.data, want.b.data, want.b.len);
	al_buf_release(&got.b);

	/*
	 * A deferred chunk then a small write, and a deferred chunk then a
	 * flush: each gives what plain writes give.
	 */
	sink_init(&got);
	assert_int_equal(redact_stream_new(r, &s), 0);
	assert_int_equal(redact_stream_write_more(s, in, piece, sink_emit,
	    &got), 0);
	assert_int_equal(redact_stream_write(s, in + piece, 100, sink_emit,
	    &got), 0);
	assert_int_equal(redact_stream_write_more(s, in + piece + 100, piece,
	    sink_emit, &got), 0);
	assert_int_equal(redact_stream_flush(s, sink_emit, &got), 0);
	/* Decided: only what may begin a value is left. */
	assert_true(redact_stream_held(s) < 256);
	assert_int_equal(redact_stream_write(s, in + 2 * piece + 100,
	    n - 2 * piece - 100, sink_emit, &got), 0);
	assert_int_equal(redact_stream_finish(s, sink_emit, &got), 0);
	redact_stream_free(s);
	assert_false(contains(got.b.data, got.b.len, v, 16));
	assert_false(contains(got.b.data, got.b.len, "tok_", 4));
	al_buf_release(&got.b);

	/* Freed with a chunk still undecided: nothing leaks, no hang. */
	assert_int_equal(redact_stream_new(r, &s), 0);
	sink_init(&got);
	assert_int_equal(redact_stream_write_more(s, in, piece, sink_emit,
	    &got), 0);
	redact_stream_free(s);
	al_buf_release(&got.b);

	/* The deferred chunk's rule error comes with the next call. */
	assert_int_equal(redact_stream_new(r, &s), 0);
	sink_init(&got);
	ru.fail = 1;
	assert_int_equal(redact_stream_write_more(s, in, piece, sink_emit,
	    &got), 0);
	assert_int_equal(redact_stream_complete(s, sink_emit, &got), AL_EIO);
	assert_int_equal(got.b.len, 0);
	redact_stream_free(s);
	al_buf_release(&got.b);
	al_buf_release(&want.b);
	free(buf);
	free(in);
	redact_free(r);
}

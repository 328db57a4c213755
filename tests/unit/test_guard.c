/*
 * Unit tests for src/guard: masking one request body.  Each case states the
 * exact bytes that would be sent: masks where the values were, every other
 * byte as it came.
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

#include "airlock/guard.h"
#include "airlock/redact.h"

struct val {
	const char	*name;
	const char	*v;
};

static struct redact *
build(const struct val *vals)
{
	struct redact *r;
	struct al_secret *s;
	struct al_err err;

	assert_int_equal(redact_new(&r, &err), 0);
	for (; vals->name != NULL; vals++) {
		assert_int_equal(al_secret_from(vals->v, strlen(vals->v), &s),
		    0);
		assert_int_equal(redact_add_value(r, vals->name, s, &err), 0);
		al_secret_free(s);
	}
	assert_int_equal(redact_compile(r, &err), 0);
	return r;
}

static void
sets_new(struct guard_sets *s, const struct val *vals)
{
	s->mask = build(vals);
	s->check = build(vals);
}

static void
sets_free(struct guard_sets *s)
{
	redact_free(s->mask);
	redact_free(s->check);
}

/* Mask body (n bytes) into a new string the caller frees. */
static char *
mask_n(const struct guard_sets *s, const char *body, size_t n,
    struct guard_findings *f, size_t *outlen)
{
	struct al_buf out;
	struct al_err err;
	char *res;

	al_buf_init(&out, 4 * n + 4096, AL_BUF_SENSITIVE);
	assert_int_equal(guard_body_mask(s, body, n, &out, f, &err), 0);
	res = malloc(out.len + 1);
	assert_non_null(res);
	memcpy(res, out.data ? (char *)out.data : "", out.len);
	res[out.len] = '\0';
	if (outlen != NULL)
		*outlen = out.len;
	al_buf_release(&out);
	return res;
}

static void
assert_body(const struct guard_sets *s, const char *in, const char *want,
    int json)
{
	struct guard_findings f;
	char *got = mask_n(s, in, strlen(in), &f, NULL);

	assert_string_equal(got, want);
	assert_int_equal(f.json, json);
	assert_int_equal(f.residue, 0);
	assert_int_equal(f.thinking, 0);
	free(got);
}

static const struct val VALS[] = {
	{ "tok", "tok-ABCDEFGH12345678" },
	{ "pw", "pa\"ss\\word!" },
	{ "pin", "73519286044217" },
	{ "acc", "\xc3\xa9t\xc3\xa9-secret-42" },	/* "été-secret-42" */
	{ "split", "ab\",\"cdef-99" },
	{ NULL, NULL },
};

static void
test_guard_masks_strings_and_keeps_every_other_byte(void **state)
{
	struct guard_sets s;

	(void)state;
	sets_new(&s, VALS);
	assert_body(&s,
	    "{ \"a\" :[1, 2.5e-3 ,true,null],\"m\":\"use tok-ABCDEFGH12345678 "
	    "now\" ,\"tok-ABCDEFGH12345678\": \"k\"}\n",
	    "{ \"a\" :[1, 2.5e-3 ,true,null],\"m\":\"use [REDACTED:tok] "
	    "now\" ,\"[REDACTED:tok]\": \"k\"}\n", 1);
	/* Two values touching, and the same value twice. */
	assert_body(&s,
	    "[\"tok-ABCDEFGH12345678tok-ABCDEFGH12345678\"]",
	    "[\"[REDACTED:tok][REDACTED:tok]\"]", 1);
	/* Nothing to mask: the very bytes. */
	assert_body(&s, " {\"x\" : \"caf\\u00e9\"} ", " {\"x\" : \"caf\\u00e9\"} ",
	    1);
	sets_free(&s);
}

static void
test_guard_escapes_that_spell_a_value_are_masked_whole(void **state)
{
	struct guard_sets s;

	(void)state;
	sets_new(&s, VALS);
	/* \u escapes inside the value: the escapes go with the mask. */
	assert_body(&s, "{\"m\":\"x\\ntok-\\u0041BCDEFGH1234567\\u0038\\t\"}",
	    "{\"m\":\"x\\n[REDACTED:tok]\\t\"}", 1);
	/* Every byte escaped. */
	assert_body(&s, "[\"\\u0074\\u006f\\u006b\\u002d\\u0041\\u0042\\u0043"
	    "\\u0044\\u0045\\u0046\\u0047\\u0048\\u0031\\u0032\\u0033\\u0034"
	    "\\u0035\\u0036\\u0037\\u0038\"]", "[\"[REDACTED:tok]\"]", 1);
	/* A value with a quote and a backslash, as JSON writes it. */
	assert_body(&s, "{\"p\":\"pw=pa\\\"ss\\\\word!;\"}",
	    "{\"p\":\"pw=[REDACTED:pw];\"}", 1);
	/* Surrogate pairs next to a value stay as they were. */
	assert_body(&s, "[\"\\ud83d\\ude00tok-ABCDEFGH12345678\\ud83d\\ude00\"]",
	    "[\"\\ud83d\\ude00[REDACTED:tok]\\ud83d\\ude00\"]", 1);
	/* A multi-byte value spelled with \u escapes and raw UTF-8. */
	assert_body(&s, "[\"<\\u00e9t\xc3\xa9-secret-42>\"]",
	    "[\"<[REDACTED:acc]>\"]", 1);
	sets_free(&s);
}

static void
test_guard_mask_never_cuts_a_character(void **state)
{
	static const struct val half[] = {
		/* Starts with the second byte of "é". */
		{ "half", "\xa9-secret-value" },
		{ NULL, NULL },
	};
	struct guard_sets s;
	struct guard_findings f, f2;
	char *got, *again;

	(void)state;
	sets_new(&s, half);
	got = mask_n(&s, "[\"caf\xc3\xa9-secret-value!\"]",
	    strlen("[\"caf\xc3\xa9-secret-value!\"]"), &f, NULL);
	assert_string_equal(got, "[\"caf[REDACTED:half]!\"]");
	assert_int_equal(f.json, 1);
	/* What is sent is still JSON, and masking it again changes nothing. */
	again = mask_n(&s, got, strlen(got), &f2, NULL);
	assert_string_equal(again, got);
	assert_int_equal(f2.json, 1);
	assert_int_equal(f2.masks, 0);
	free(got);
	free(again);
	sets_free(&s);
}

static void
test_guard_value_outside_any_string_is_residue(void **state)
{
	struct guard_sets s;
	struct guard_findings f;
	char *got;

	(void)state;
	sets_new(&s, VALS);
	got = mask_n(&s, "{\"n\": 73519286044217}", 21, &f, NULL);
	assert_int_equal(strlen("{\"n\": 73519286044217}"), 21);
	assert_int_equal(f.json, 1);
	assert_int_equal(f.masks, 0);
	assert_int_equal(f.residue, 1);
	free(got);
	/* Across two strings: no string holds it, the body does. */
	got = mask_n(&s, "[\"x ab\",\"cdef-99 y\"]", 20, &f, NULL);
	assert_int_equal(strlen("[\"x ab\",\"cdef-99 y\"]"), 20);
	assert_int_equal(f.json, 1);
	assert_int_equal(f.residue, 1);
	free(got);
	sets_free(&s);
}

static void
test_guard_thinking_blocks_are_flagged_not_masked(void **state)
{
	struct guard_sets s;
	struct guard_findings f;
	char *got;
	const char *in[] = {
	    "{\"messages\":[{\"content\":[{\"type\":\"thinking\",\"thinking\":"
	    "\"tok-ABCDEFGH12345678\",\"signature\":\"s\"}]}]}",
	    /* type last, the value deeper inside */
	    "[{\"thinking\":{\"x\":[\"tok-ABCDEFGH12345678\"]},"
	    "\"type\":\"thinking\"}]",
	    "[{\"type\":\"redacted_thinking\",\"data\":\"tok-ABCDEFGH12345678\"}]",
	    /* the type spelled with an escape */
	    "[{\"t\\u0079pe\":\"thinking\",\"thinking\":\"tok-ABCDEFGH12345678\"}]",
	};
	size_t i;

	(void)state;
	sets_new(&s, VALS);
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		got = mask_n(&s, in[i], strlen(in[i]), &f, NULL);
		assert_int_equal(f.thinking, 1);
		free(got);
	}
	/* A sibling of a thinking block is masked as usual. */
	assert_body(&s, "[{\"type\":\"thinking\",\"thinking\":\"ok\"},"
	    "{\"type\":\"text\",\"text\":\"tok-ABCDEFGH12345678\"}]",
	    "[{\"type\":\"thinking\",\"thinking\":\"ok\"},"
	    "{\"type\":\"text\",\"text\":\"[REDACTED:tok]\"}]", 1);
	/* "thinking" as a value of another key is no thinking block. */
	assert_body(&s, "[{\"kind\":\"thinking\",\"t\":\"tok-ABCDEFGH12345678\"}]",
	    "[{\"kind\":\"thinking\",\"t\":\"[REDACTED:tok]\"}]", 1);
	sets_free(&s);
}

static void
test_guard_bodies_that_are_not_json_are_masked_as_text(void **state)
{
	struct guard_sets s;
	struct guard_findings f;
	char *got;
	size_t n;

	(void)state;
	sets_new(&s, VALS);
	/* Invalid UTF-8 in a string. */
	assert_body(&s, "[\"\xc3\x28 tok-ABCDEFGH12345678\"]",
	    "[\"\xc3\x28 [REDACTED:tok]\"]", 0);
	/* A lone surrogate, a bad escape, trailing bytes, a raw newline. */
	assert_body(&s, "[\"\\ud800 tok-ABCDEFGH12345678\"]",
	    "[\"\\ud800 [REDACTED:tok]\"]", 0);
	assert_body(&s, "[\"\\x tok-ABCDEFGH12345678\"]",
	    "[\"\\x [REDACTED:tok]\"]", 0);
	assert_body(&s, "{} tok-ABCDEFGH12345678", "{} [REDACTED:tok]", 0);
	assert_body(&s, "[\"a\nb\"]", "[\"a\nb\"]", 0);
	assert_body(&s, "[01]", "[01]", 0);
	assert_body(&s, "[1.]", "[1.]", 0);
	assert_body(&s, "{\"a\":}", "{\"a\":}", 0);
	assert_body(&s, "[tru]", "[tru]", 0);
	got = mask_n(&s, "", 0, &f, &n);
	assert_int_equal(n, 0);
	assert_int_equal(f.json, 0);
	free(got);
	sets_free(&s);
}

/*
 * A body that is not strict JSON but that a provider's parser reads all the
 * same (a lone surrogate, which JavaScript and Python accept; a byte order
 * mark; NaN): masked as text, a value spelled with \u escapes would go out
 * unseen.  Such a body is refused when its escapes, decoded, spell a value.
 */
static void
assert_refused_text(const struct guard_sets *s, const char *in)
{
	struct guard_findings f;
	char *got = mask_n(s, in, strlen(in), &f, NULL);

	assert_int_equal(f.json, 0);
	assert_int_equal(f.residue, 1);
	free(got);
}

static void
test_guard_escaped_value_in_a_body_that_is_not_json_is_refused(void **state)
{
	struct guard_sets s;

	(void)state;
	sets_new(&s, VALS);
	assert_refused_text(&s, "[\"\\ud800\", \"tok-\\u0041BCDEFGH12345678\"]");
	assert_refused_text(&s, "\xef\xbb\xbf{\"m\":\"tok-\\u0041BCDEFGH1234567"
	    "\\u0038\"}");
	assert_refused_text(&s, "{\"n\":NaN,\"m\":\"\\u0074ok-ABCDEFGH12345678\"}");
	/* Surrogate halves and escaped quotes around it change nothing. */
	assert_refused_text(&s, "[\"\\udc00\\ud83d\\ude00\\\"tok\\u002dABCDEFGH"
	    "12345678\"]");
	/* The raw value is masked as before; a body with no value passes. */
	assert_body(&s, "[\"\\ud800 tok-ABCDEFGH12345678\"]",
	    "[\"\\ud800 [REDACTED:tok]\"]", 0);
	assert_body(&s, "[\"\\ud800\", \"\\u0041\"]", "[\"\\ud800\", \"\\u0041\"]", 0);
	sets_free(&s);
}

static void
test_guard_deep_nesting_and_huge_strings(void **state)
{
	struct guard_sets s;
	struct guard_findings f;
	size_t depth = 200000, n, i, big = 8u << 20, vl;
	char *in, *got;
	const char *v = VALS[0].v;

	(void)state;
	sets_new(&s, VALS);
	vl = strlen(v);
	n = 2 * depth + vl + 2;
	in = malloc(n + 1);
	assert_non_null(in);
	memset(in, '[', depth);
	in[depth] = '"';
	memcpy(in + depth + 1, v, vl);
	in[depth + 1 + vl] = '"';
	memset(in + depth + 2 + vl, ']', depth);
	got = mask_n(&s, in, n, &f, NULL);
	assert_int_equal(f.json, 1);
	assert_int_equal(f.masks, 1);
	assert_memory_equal(got + depth, "\"[REDACTED:tok]\"", 16);
	free(got);
	free(in);

	/* An 8 MiB string, a value at each end. */
	n = big + 2 * vl + 4;
	in = malloc(n + 1);
	assert_non_null(in);
	memcpy(in, "[\"", 2);
	memcpy(in + 2, v, vl);
	for (i = 0; i < big; i++)
		in[2 + vl + i] = "abcdefgh \\n"[i % 9];
	memcpy(in + 2 + vl + big, v, vl);
	memcpy(in + n - 2, "\"]", 2);
	got = mask_n(&s, in, n, &f, &i);
	assert_int_equal(f.json, 1);
	assert_int_equal(f.masks, 2);
	assert_int_equal(i, n - 2 * vl + 2 * strlen("[REDACTED:tok]"));
	assert_memory_equal(got, "[\"[REDACTED:tok]", 16);
	assert_memory_equal(got + 16, in + 2 + vl, big);
	free(got);
	free(in);
	sets_free(&s);
}

static void
test_guard_findings_name_each_secret_and_count(void **state)
{
	struct guard_sets s;
	struct guard_findings f;
	const char *in = "[\"tok-ABCDEFGH12345678\",\"pa\\\"ss\\\\word!\","
	    "{\"x\":\"tok-ABCDEFGH12345678\"}]";
	char *a, *b;

	(void)state;
	sets_new(&s, VALS);
	a = mask_n(&s, in, strlen(in), &f, NULL);
	assert_int_equal(f.masks, 3);
	assert_int_equal(f.nhits, 2);
	assert_string_equal(f.hits[0].name, "tok");
	assert_int_equal(f.hits[0].count, 2);
	assert_int_equal(f.hits[0].rule, 0);
	assert_string_equal(f.hits[1].name, "pw");
	assert_int_equal(f.hits[1].count, 1);
	/* The same input, the same bytes out. */
	b = mask_n(&s, in, strlen(in), &f, NULL);
	assert_string_equal(a, b);
	free(a);
	free(b);
	sets_free(&s);
}

/* A rule matcher for the tests: "RULEHIT-" and 8 more bytes. */
static int
test_rule(void *arg, const unsigned char *p, size_t n, redact_hit_fn hit,
    void *hit_arg)
{
	const unsigned char *q = p, *end = p + n;

	(void)arg;
	while ((q = memmem(q, (size_t)(end - q), "RULEHIT-", 8)) != NULL &&
	    end - q >= 16) {
		hit(hit_arg, (size_t)(q - p), 16, "test-rule");
		q += 16;
	}
	return 0;
}

static void
test_guard_rule_hits_are_masked_except_in_thinking_blocks(void **state)
{
	struct guard_sets s;
	struct guard_findings f;
	struct al_err err;
	char *got;
	const char *in;

	(void)state;
	s.check = build(VALS);
	assert_int_equal(redact_new(&s.mask, &err), 0);
	assert_int_equal(redact_set_rule_matcher(s.mask, test_rule, NULL, 64,
	    &err), 0);
	assert_int_equal(redact_compile(s.mask, &err), 0);
	in = "[{\"type\":\"text\",\"text\":\"k=RULEHIT-12345678;\"}]";
	got = mask_n(&s, in, strlen(in), &f, NULL);
	assert_string_equal(got, "[{\"type\":\"text\",\"text\":"
	    "\"k=[REDACTED:test-rule];\"}]");
	assert_int_equal(f.nhits, 1);
	assert_int_equal(f.hits[0].rule, 1);
	assert_string_equal(f.hits[0].name, "test-rule");
	free(got);
	/* Signed, and written by the provider's model: left as it is. */
	in = "[{\"type\":\"thinking\",\"thinking\":\"k=RULEHIT-12345678\","
	    "\"signature\":\"s\"}]";
	got = mask_n(&s, in, strlen(in), &f, NULL);
	assert_string_equal(got, in);
	assert_int_equal(f.thinking, 0);
	assert_int_equal(f.masks, 0);
	assert_int_equal(f.nhits, 0);
	free(got);
	sets_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_guard_masks_strings_and_keeps_every_other_byte),
		cmocka_unit_test(
		    test_guard_escapes_that_spell_a_value_are_masked_whole),
		cmocka_unit_test(test_guard_mask_never_cuts_a_character),
		cmocka_unit_test(
		    test_guard_value_outside_any_string_is_residue),
		cmocka_unit_test(
		    test_guard_thinking_blocks_are_flagged_not_masked),
		cmocka_unit_test(
		    test_guard_bodies_that_are_not_json_are_masked_as_text),
		cmocka_unit_test(test_guard_deep_nesting_and_huge_strings),
		cmocka_unit_test(
		    test_guard_escaped_value_in_a_body_that_is_not_json_is_refused),
		cmocka_unit_test(test_guard_findings_name_each_secret_and_count),
		cmocka_unit_test(
		    test_guard_rule_hits_are_masked_except_in_thinking_blocks),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

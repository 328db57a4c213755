/*
 * Unit tests for src/redact: an adversarial suite.  Values are random
 * canaries unless a golden table fixes them; encodings are produced by
 * independent libraries (libsodium, jansson, libcurl) where one exists;
 * streaming results are checked against a naive reference (redact_ref.c)
 * under every way of splitting the input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "airlock/redact.h"
#include "redact_test.h"

/* ---- basic behaviour --------------------------------------------------- */

static void
test_redact_masks_value_and_keeps_surrounding_text(void **state)
{
	char v[33], in[128], want[128];
	struct redact *r;

	(void)state;
	canary(v, 32, ALNUM);
	r = build1("deploy-token", v, 32);
	(void)snprintf(in, sizeof(in), "token=%s; done\n", v);
	assert_masked(r, in, "token=[REDACTED:deploy-token]; done\n");
	(void)snprintf(in, sizeof(in), "%s%s", v, v);
	(void)snprintf(want, sizeof(want), "%s",
	    "[REDACTED:deploy-token][REDACTED:deploy-token]");
	assert_masked(r, in, want);
	assert_masked(r, "nothing secret here\n", "nothing secret here\n");
	assert_int_equal(redact_value_count(r), 1);
	redact_free(r);
}

static void
test_redact_rejects_bad_values_names_and_late_adds(void **state)
{
	struct redact *r;
	struct redact_stream *s;
	struct al_secret *v;
	struct al_err err;

	(void)state;
	assert_int_equal(redact_new(&r, &err), 0);
	assert_int_equal(al_secret_from("abc", 3, &v), 0);
	assert_int_equal(redact_add_value(r, "short", v, &err), AL_EINVAL);
	assert_string_equal(err.msg, "value of 'short' is 3 bytes; values "
	    "shorter than 4 bytes cannot be masked without masking ordinary "
	    "text (use a longer secret)");
	al_secret_free(v);
	assert_int_equal(al_secret_from("abcdefgh", 8, &v), 0);
	assert_int_equal(redact_add_value(r, "bad name", v, &err), AL_EINVAL);
	assert_string_equal(err.msg, "bad secret name for a mask (1-64 "
	    "characters of A-Z a-z 0-9 . _ - : /)");
	assert_int_equal(redact_add_value(r, "", v, &err), AL_EINVAL);
	assert_int_equal(redact_stream_new(r, &s), AL_EINVAL);
	assert_int_equal(redact_add_value(r, "ok", v, &err), 0);
	assert_int_equal(redact_compile(r, &err), 0);
	assert_int_equal(redact_add_value(r, "late", v, &err), AL_EINVAL);
	assert_string_equal(err.msg,
	    "cannot add a value after the redactor is compiled");
	assert_int_equal(redact_compile(r, &err), AL_EINVAL);
	al_secret_free(v);
	redact_free(r);
	redact_free(NULL);
	redact_stream_free(NULL);
}

static void
test_redact_empty_set_passes_everything_at_once(void **state)
{
	struct redact *r;
	struct redact_stream *s;
	struct sink k;

	(void)state;
	r = build(0, NULL, NULL, NULL);
	assert_int_equal(redact_max_held(r), 0);
	sink_init(&k);
	assert_int_equal(redact_stream_new(r, &s), 0);
	assert_int_equal(redact_stream_write(s, "abc\0def", 7, sink_emit, &k),
	    0);
	assert_int_equal(redact_stream_held(s), 0);
	assert_int_equal(k.b.len, 7);
	assert_memory_equal(k.b.data, "abc\0def", 7);
	assert_int_equal(redact_stream_finish(s, sink_emit, &k), 0);
	assert_int_equal(redact_stream_write(s, "x", 1, sink_emit, &k),
	    AL_EINVAL);
	redact_stream_free(s);
	al_buf_release(&k.b);
	redact_free(r);
}

static int
emit_refuse(void *arg, const void *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return 1;
}

static void
test_redact_emit_abort_fails_the_stream(void **state)
{
	struct redact *r;
	struct redact_stream *s;
	struct sink k;

	(void)state;
	r = build1("k", "abcdefgh", 8);
	sink_init(&k);
	assert_int_equal(redact_stream_new(r, &s), 0);
	/* The pause releases the prompt: the emit refuses it. */
	assert_int_equal(redact_stream_write(s, "hello ", 6, sink_emit, &k), 0);
	assert_int_equal(redact_stream_flush(s, emit_refuse, NULL), AL_EIO);
	assert_int_equal(redact_stream_write(s, "x", 1, sink_emit, &k), AL_EIO);
	assert_int_equal(redact_stream_finish(s, sink_emit, &k), AL_EIO);
	assert_int_equal(k.b.len, 0);
	redact_stream_free(s);
	al_buf_release(&k.b);
	redact_free(r);
}

/* ---- encodings --------------------------------------------------------- */

static void
expect_wrapped(const struct redact *r, const char *label, const char *enc)
{
	char in[8192], want[8192];

	(void)snprintf(in, sizeof(in), "<<%s>>", enc);
	(void)snprintf(want, sizeof(want), "<<[REDACTED:%s]>>", label);
	assert_masked(r, in, want);
}

static void
test_redact_masks_encodings_from_independent_libraries(void **state)
{
	static const char special[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
	    "klmnopqrstuvwxyz0123456789 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
	static const int b64v[] = { sodium_base64_VARIANT_ORIGINAL,
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
	    sodium_base64_VARIANT_URLSAFE,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING };
	static const size_t jflags[] = { JSON_ENCODE_ANY,
	    JSON_ENCODE_ANY | JSON_ESCAPE_SLASH,
	    JSON_ENCODE_ANY | JSON_ENSURE_ASCII };
	char v[64], enc[512], *j, *u;
	struct redact *r;
	json_t *js;
	size_t n, i, t;

	(void)state;
	for (t = 0; t < 40; t++) {
		n = 8 + randombytes_uniform(48);
		canary(v, n, t % 2 ? special : ALNUM);
		if (t % 8 == 7) {	/* UTF-8 for JSON's \uXXXX forms */
			n = n < 16 ? 16 : n;
			canary(v, n, ALNUM);
			memcpy(v + 2, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
		}
		r = build1("v", v, n);
		for (i = 0; i < 4; i++) {
			sodium_bin2base64(enc, sizeof(enc), (unsigned char *)v,
			    n, b64v[i]);
			expect_wrapped(r, "v", enc);
		}
		sodium_bin2hex(enc, sizeof(enc), (unsigned char *)v, n);
		expect_wrapped(r, "v", enc);
		for (i = 0; enc[i]; i++)
			enc[i] = (char)(enc[i] >= 'a' ? enc[i] - 32 : enc[i]);
		expect_wrapped(r, "v", enc);
		for (i = 0; i < 3; i++) {
			assert_non_null(js = json_stringn(v, n));
			assert_non_null(j = json_dumps(js, jflags[i]));
			j[strlen(j) - 1] = '\0';	/* the quotes */
			expect_wrapped(r, "v", j + 1);
			free(j);
			json_decref(js);
		}
		assert_non_null(u = curl_easy_escape(NULL, v, (int)n));
		expect_wrapped(r, "v", u);
		curl_free(u);
		redact_free(r);
	}
}

/* The base64 of P+V+S: every character with a bit of V is masked. */
static void
test_redact_base64_every_alignment_inside_longer_text(void **state)
{
	static const int b64v[] = { sodium_base64_VARIANT_ORIGINAL,
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
	    sodium_base64_VARIANT_URLSAFE,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING };
	unsigned char x[64];
	char enc[128], in[160], want[192];
	size_t np, nv, ns, a, b, i, el, t;
	struct redact *r;

	(void)state;
	for (t = 0; t < 150; t++) {
		np = t % 6;
		ns = (t / 6) % 6;
		nv = 4 + randombytes_uniform(36);
		randombytes_buf(x, np + nv + ns);
		r = build1("k", x + np, nv);
		for (i = 0; i < 4; i++) {
			sodium_bin2base64(enc, sizeof(enc), x, np + nv + ns,
			    b64v[i]);
			el = strlen(enc);
			a = 8 * np / 6;
			b = (8 * (np + nv) + 5) / 6;
			if (ns == 0)
				b = el;		/* the padding goes too */
			(void)snprintf(in, sizeof(in), "(%s)", enc);
			(void)snprintf(want, sizeof(want), "(%.*s[REDACTED:k]%s)",
			    (int)a, enc, enc + b);
			assert_masked(r, in, want);
		}
		redact_free(r);
	}
}

/* enc cut into lines of w characters (LF or CRLF) after a prefix. */
static size_t
wrap_lines(char *out, size_t cap, const char *pre, const char *enc,
    size_t w, const char *eol)
{
	size_t n = 0, o, el = strlen(enc), wl;

	n += (size_t)snprintf(out + n, cap - n, "%s", pre);
	for (o = 0; o < el; o += w) {
		wl = el - o < w ? el - o : w;
		n += (size_t)snprintf(out + n, cap - n, "%.*s%s", (int)wl,
		    enc + o, eol);
	}
	return n;
}

/*
 * Hex and base64 cut into lines, as xxd -p (60), basenc --base16 (76),
 * PEM (64), MIME and base64 (76) print them, or at any other width from
 * 16 up: the mask covers the whole run, line breaks included.
 */
static void
test_redact_wrapped_hex_and_base64_at_any_width(void **state)
{
	static const size_t widths[] = { 16, 20, 60, 64, 76, 100 };
	static const char *eols[] = { "\n", "\r\n" };
	unsigned char v[200];
	char enc[420], in[1024], want[1024], *got;
	size_t w, e, nv, i, f, n;
	struct redact *r;

	(void)state;
	for (nv = 40; nv <= 200; nv += 160) {
		randombytes_buf(v, nv);
		r = build1("v", v, nv);
		for (f = 0; f < 4; f++) {
			if (f == 0)
				sodium_bin2hex(enc, sizeof(enc), v, nv);
			else if (f == 1) {
				sodium_bin2hex(enc, sizeof(enc), v, nv);
				for (i = 0; enc[i]; i++)
					if (enc[i] >= 'a')
						enc[i] = (char)(enc[i] - 32);
			} else
				sodium_bin2base64(enc, sizeof(enc), v, nv,
				    f == 2 ? sodium_base64_VARIANT_ORIGINAL :
				    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
			for (w = 0; w < 6; w++)
				for (e = 0; e < 2; e++) {
					wrap_lines(in, sizeof(in), "out:\n",
					    enc, widths[w], eols[e]);
					(void)snprintf(in + strlen(in),
					    sizeof(in) - strlen(in), "end\n");
					(void)snprintf(want, sizeof(want),
					    "out:\n[REDACTED:v]%send\n",
					    eols[e]);
					assert_masked(r, in, want);
				}
		}
		redact_free(r);
	}

	/* printf 'key=%s' "$V" | xxd -p: the prefix stays, the rest goes. */
	randombytes_buf(v, 40);
	r = build1("v", v, 40);
	memcpy(in, "key=", 4);
	memcpy(in + 4, v, 40);
	sodium_bin2hex(enc, sizeof(enc), (unsigned char *)in, 44);
	n = wrap_lines(want, sizeof(want), "", enc, 60, "\n");
	got = mask_str(r, want, n);
	assert_string_equal(got, "6b65793d[REDACTED:v]\n");
	free(got);
	/* Lines of 15: too short to be taken for a wrapped encoding. */
	sodium_bin2hex(enc, sizeof(enc), v, 40);
	n = wrap_lines(in, sizeof(in), "", enc, 15, "\n");
	got = mask_str(r, in, n);
	assert_string_equal(got, in);
	free(got);
	redact_free(r);
}

static void
test_redact_nul_bytes_and_invalid_utf8(void **state)
{
	unsigned char v[24], in[64], hexin[80];
	char hex[64];
	struct sink k;
	struct redact *r;
	size_t one = 1;

	(void)state;
	memcpy(v, "\x00\xff\xfe", 3);
	randombytes_buf(v + 3, 16);
	memcpy(v + 19, "\x00\xc3\x28\xed\xa0", 5);	/* bad UTF-8 */
	r = build1("bin", v, sizeof(v));
	memcpy(in, "\x00\x00", 2);
	memcpy(in + 2, v, sizeof(v));
	memcpy(in + 2 + sizeof(v), "\xff\x00", 2);
	sink_init(&k);
	mask_split(r, in, sizeof(v) + 4, &one, 1, &k);
	assert_int_equal(k.b.len, 2 + 14 + 2);
	assert_memory_equal(k.b.data, "\x00\x00[REDACTED:bin]\xff\x00", 18);
	al_buf_release(&k.b);
	sodium_bin2hex(hex, sizeof(hex), v, sizeof(v));
	hexin[0] = 0;
	memcpy(hexin + 1, hex, 48);
	hexin[49] = 0;
	sink_init(&k);
	mask_split(r, hexin, 50, &one, 1, &k);
	assert_int_equal(k.b.len, 16);
	assert_memory_equal(k.b.data, "\x00[REDACTED:bin]\x00", 16);
	al_buf_release(&k.b);
	redact_free(r);
}

/* ---- golden table ------------------------------------------------------ */

/* Decode \n \r \t \\ \0 \xHH in place; returns the length. */
static size_t
unescape(char *s)
{
	char *w = s, *p = s;
	unsigned int x;

	while (*p) {
		if (*p != '\\') {
			*w++ = *p++;
			continue;
		}
		p++;
		switch (*p) {
		case 'n': *w++ = '\n'; p++; break;
		case 'r': *w++ = '\r'; p++; break;
		case 't': *w++ = '\t'; p++; break;
		case '0': *w++ = '\0'; p++; break;
		case '\\': *w++ = '\\'; p++; break;
		case 'x':
			assert_int_equal(sscanf(p + 1, "%2x", &x), 1);
			*w++ = (char)x;
			p += 3;
			break;
		default:
			fail_msg("bad escape \\%c in golden table", *p);
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void
golden_check(const char **names, const void **vals, const size_t *lens,
    size_t nv, char *in, size_t inl, char *want, size_t wantl, int line)
{
	static const size_t splits[] = { 1, 7, 1, 64, 3 };
	struct redact *r = build(nv, names, vals, lens);
	struct sink k;
	size_t sz;

	for (sz = 0; sz < 3; sz++) {
		sink_init(&k);
		if (sz == 0)
			mask_split(r, in, inl, &inl, 1, &k);
		else
			mask_split(r, in, inl, sz == 1 ? splits : splits + 2,
			    3, &k);
		if (k.b.len != wantl || memcmp(k.b.data, want, wantl) != 0)
			fail_msg("golden.txt:%d: got '%s'", line,
			    al_buf_str(&k.b));
		al_buf_release(&k.b);
	}
	redact_free(r);
}

static void
test_redact_golden_table(void **state)
{
	char path[4096], line[8192], *tab, *names[8], *vals[8], *sp;
	size_t lens[8], nv = 0, ncase = 0, i;
	int lineno = 0;
	FILE *f;

	(void)state;
	(void)snprintf(path, sizeof(path), "%s/redact/golden.txt",
	    AIRLOCK_TEST_DATA);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (strcmp(line, "set") == 0) {
			for (i = 0; i < nv; i++) {
				free(names[i]);
				free(vals[i]);
			}
			nv = 0;
		} else if (strncmp(line, "value ", 6) == 0) {
			assert_true(nv < 8);
			assert_non_null(sp = strchr(line + 6, ' '));
			*sp = '\0';
			names[nv] = strdup(line + 6);
			vals[nv] = strdup(sp + 1);
			lens[nv] = unescape(vals[nv]);
			nv++;
		} else if (strncmp(line, "case ", 5) == 0) {
			char *in = line + 5;
			size_t inl, wl;

			assert_non_null(tab = strchr(in, '\t'));
			*tab = '\0';
			inl = unescape(in);
			wl = unescape(tab + 1);
			golden_check((const char **)names, (const void **)vals,
			    lens, nv, in, inl, tab + 1, wl, lineno);
			ncase++;
		} else
			fail_msg("golden.txt:%d: unknown line", lineno);
	}
	fclose(f);
	for (i = 0; i < nv; i++) {
		free(names[i]);
		free(vals[i]);
	}
	assert_true(ncase >= 40);
}

/* ---- where masks fall ---------------------------------------------------- */

struct spans {
	unsigned long long	 off[8], len[8];
	unsigned		 value[8];
	size_t			 n;
};

static void
on_span(void *arg, unsigned long long off, unsigned long long len,
    unsigned value, const char *rule)
{
	struct spans *sp = arg;

	assert_null(rule);
	assert_true(sp->n < 8);
	sp->off[sp->n] = off;
	sp->len[sp->n] = len;
	sp->value[sp->n++] = value;
}

static int
sink(void *arg, const void *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return 0;
}

static void
test_redact_span_reports_each_mask_in_input_offsets(void **state)
{
	char v[25], in[160];
	unsigned char b64[64];
	struct redact *r;
	struct redact_stream *s;
	struct spans sp;
	size_t i, n;

	(void)state;
	canary(v, 24, ALNUM);
	r = build1("deploy-token", v, 24);
	sodium_bin2base64((char *)b64, sizeof(b64), (unsigned char *)v, 24,
	    sodium_base64_VARIANT_ORIGINAL);
	n = (size_t)snprintf(in, sizeof(in), "a %s b %s c", v, b64);
	memset(&sp, 0, sizeof(sp));
	assert_int_equal(redact_stream_new(r, &s), 0);
	redact_stream_set_span(s, on_span, &sp);
	/* One byte at a time: offsets count the whole input, not a write. */
	for (i = 0; i < n; i++)
		assert_int_equal(redact_stream_write(s, in + i, 1, sink, NULL),
		    0);
	assert_int_equal(redact_stream_finish(s, sink, NULL), 0);
	assert_int_equal(sp.n, 2);
	assert_int_equal(sp.off[0], 2);
	assert_int_equal(sp.len[0], 24);
	assert_int_equal(sp.off[1], 2 + 24 + 3);
	assert_int_equal(sp.len[1], strlen((char *)b64));
	assert_int_equal(sp.value[0], 0);
	assert_int_equal(sp.value[1], 0);
	assert_string_equal(redact_value_label(r, 0),
	    "[REDACTED:deploy-token]");
	assert_null(redact_value_label(r, 1));
	redact_stream_free(s);
	redact_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_redact_masks_value_and_keeps_surrounding_text),
		cmocka_unit_test(
		    test_redact_rejects_bad_values_names_and_late_adds),
		cmocka_unit_test(test_redact_empty_set_passes_everything_at_once),
		cmocka_unit_test(test_redact_emit_abort_fails_the_stream),
		cmocka_unit_test(
		    test_redact_masks_encodings_from_independent_libraries),
		cmocka_unit_test(
		    test_redact_base64_every_alignment_inside_longer_text),
		cmocka_unit_test(
		    test_redact_wrapped_hex_and_base64_at_any_width),
		cmocka_unit_test(
		    test_redact_wrapped_match_one_character_before_crlf),
		cmocka_unit_test(test_redact_nul_bytes_and_invalid_utf8),
		cmocka_unit_test(
		    test_redact_python_repr_of_non_ascii_quote_and_backslash),
		cmocka_unit_test(
		    test_redact_bash_ansi_c_quoting_of_control_characters),
		cmocka_unit_test(test_redact_json_escapes_del_in_both_cases),
		cmocka_unit_test(
		    test_redact_lower_case_percent_encoding_of_every_byte),
		cmocka_unit_test(test_redact_golden_table),
		cmocka_unit_test(
		    test_redact_one_byte_at_a_time_never_shows_a_prefix),
		cmocka_unit_test(
		    test_redact_holding_does_not_depend_on_the_value),
		cmocka_unit_test(
		    test_redact_holds_the_same_bytes_whatever_they_are),
		cmocka_unit_test(test_redact_pause_shows_a_prompt),
		cmocka_unit_test(
		    test_redact_end_of_input_masks_whole_values_only),
		cmocka_unit_test(test_redact_longest_match_wins),
		cmocka_unit_test(
		    test_redact_multiline_value_whole_lines_and_crlf),
		cmocka_unit_test(test_redact_value_after_100_mb_of_output),
		cmocka_unit_test(test_redact_value_inside_a_10_mb_line),
		cmocka_unit_test(test_redact_random_splits_match_reference),
		cmocka_unit_test(test_redact_wrapped_runs_match_reference),
		cmocka_unit_test(test_redact_skip_filter_matches_reference),
		cmocka_unit_test(test_redact_rule_hits_are_masked_and_lines_held),
		cmocka_unit_test(
		    test_redact_holding_with_rules_does_not_depend_on_the_value),
		cmocka_unit_test(
		    test_redact_rule_window_is_bounded_and_errors_propagate),
		cmocka_unit_test(
		    test_redact_rules_on_big_writes_match_small_writes),
		cmocka_unit_test(test_redact_write_more_defers_and_copies),
		cmocka_unit_test(
		    test_redact_lazy_rules_load_on_first_output_only),
		cmocka_unit_test(
		    test_redact_lazy_rules_failed_load_lets_nothing_through),
		cmocka_unit_test(test_redact_armored_key_written_line_by_line),
		cmocka_unit_test(
		    test_redact_span_reports_each_mask_in_input_offsets),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for src/scan: rules, engine, config, previews, baselines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "airlock/scan.h"
#include "scan_int.h"

/* ---- helpers ---------------------------------------------------------- */

struct hits {
	char	ids[32][72];
	size_t	off[32], len[32];
	size_t	n;
};

static int
collect(const struct scan_match *m, const unsigned char *buf, size_t n,
    void *arg)
{
	struct hits *h = arg;

	(void)buf;
	(void)n;
	if (h->n < 32) {
		snprintf(h->ids[h->n], sizeof(h->ids[0]), "%s", m->rule->id);
		h->off[h->n] = m->off;
		h->len[h->n] = m->len;
		h->n++;
	}
	return 0;
}

static struct scan_engine *
builtin_engine(void)
{
	struct scan_engine *e = NULL;
	struct al_err err;

	al_err_clear(&err);
	if (scan_engine_new_builtin(0, &e, &err) != 0)
		fail_msg("built-in engine: %s", err.msg);
	return e;
}

static void
scan_text(struct scan_engine *e, const char *path, const char *text,
    struct hits *h)
{
	struct scan_scratch *s = NULL;
	struct al_err err;

	memset(h, 0, sizeof(*h));
	assert_int_equal(scan_scratch_new(e, &s, &err), 0);
	assert_int_equal(scan_buffer(e, s, path, text, strlen(text), collect,
	    h, &err), 0);
	scan_scratch_free(s);
}

/* ---- the built-in rule set -------------------------------------------- */

static void
test_builtin_rules_are_at_least_150_with_examples(void **state)
{
	struct scan_rules *r = NULL;
	struct al_err err;
	size_t i, nunsafe = 0;

	(void)state;
	assert_int_equal(scan_rules_builtin(&r, &err), 0);
	assert_true(scan_rules_count(r) >= 150);
	for (i = 0; i < r->n; i++) {
		if (r->v[i].positive.n == 0 || r->v[i].negative.n == 0)
			fail_msg("rule %s lacks a positive or negative example",
			    r->v[i].id);
		if (r->v[i].info.category == SCAN_CAT_UNSAFE) {
			nunsafe++;
			assert_int_equal(r->v[i].info.severity,
			    SCAN_SEV_WARNING);
		}
		if (strlen(r->v[i].description) < 8)
			fail_msg("rule %s: description too short", r->v[i].id);
	}
	assert_true(nunsafe >= 10);
	scan_rules_free(r);
}

static void
test_builtin_rule_examples_all_hold(void **state)
{
	struct scan_engine *e = builtin_engine();
	struct scan_scratch *s = NULL;
	struct al_err err;
	size_t i, bad = 0;

	(void)state;
	assert_int_equal(scan_scratch_new(e, &s, &err), 0);
	for (i = 0; i < scan_engine_rule_count(e); i++) {
		al_err_clear(&err);
		if (scan_engine_check_examples(e, s, i, &err) != 0) {
			print_error("%s\n", err.msg);
			bad++;
		}
	}
	scan_scratch_free(s);
	scan_engine_free(e);
	assert_int_equal(bad, 0);
}

static void
test_keywords_occur_in_positive_examples(void **state)
{
	struct scan_rules *r = NULL;
	struct al_err err;
	size_t i, j, k;

	(void)state;
	assert_int_equal(scan_rules_builtin(&r, &err), 0);
	for (i = 0; i < r->n; i++) {
		for (j = 0; j < r->v[i].positive.n; j++) {
			int found = r->v[i].keywords.n == 0;

			for (k = 0; k < r->v[i].keywords.n && !found; k++)
				found = strcasestr(r->v[i].positive.v[j],
				    r->v[i].keywords.v[k]) != NULL;
			if (!found)
				fail_msg("rule %s: positive %zu has none of "
				    "its keywords", r->v[i].id, j + 1);
		}
	}
	scan_rules_free(r);
}

static void
test_scan_buffer_reports_secret_offsets(void **state)
{
	struct scan_engine *e = builtin_engine();
	const char *text = "x\ntoken: ghp_a8Kd02LmQz7vXy3NpR5tUw1Bc4Ef6Gh9Ij0K\n";
	struct hits h;

	(void)state;
	scan_text(e, NULL, text, &h);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.ids[0], "github-pat");
	assert_int_equal(h.off[0], 9);
	assert_int_equal(h.len[0], 40);
	scan_engine_free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_rules_are_at_least_150_with_examples),
		cmocka_unit_test(test_builtin_rule_examples_all_hold),
		cmocka_unit_test(test_keywords_occur_in_positive_examples),
		cmocka_unit_test(test_scan_buffer_reports_secret_offsets),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

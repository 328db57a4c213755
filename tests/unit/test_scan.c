/* Unit tests for src/scan: rules, engine, config, previews, baselines. */
#include <fcntl.h>
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
#include "engine_int.h"
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
				found = (r->v[i].keywords_cased ?
				    strstr(r->v[i].positive.v[j],
				    r->v[i].keywords.v[k]) :
				    strcasestr(r->v[i].positive.v[j],
				    r->v[i].keywords.v[k])) != NULL;
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

static void
test_generic_rule_yields_to_specific(void **state)
{
	struct scan_engine *e = builtin_engine();
	struct hits h;

	(void)state;
	scan_text(e, "a.py",
	    "api_key = \"ghp_a8Kd02LmQz7vXy3NpR5tUw1Bc4Ef6Gh9Ij0K\"\n", &h);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.ids[0], "github-pat");
	scan_engine_free(e);
}

static void
test_path_rules_apply_only_to_their_files(void **state)
{
	struct scan_engine *e = builtin_engine();
	struct hits h;

	(void)state;
	scan_text(e, "Dockerfile", "FROM node\nARG NPM_TOKEN\n", &h);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.ids[0], "unsafe-dockerfile-secret-arg");
	scan_text(e, "notes.txt", "FROM node\nARG NPM_TOKEN\n", &h);
	assert_int_equal(h.n, 0);
	scan_text(e, NULL, "FROM node\nARG NPM_TOKEN\n", &h);
	assert_int_equal(h.n, 0);
	scan_engine_free(e);
}

/* A path-limited rule is decided per buffer, even with one scratch. */
static void
test_path_rules_are_decided_per_buffer(void **state)
{
	static const char text[] = "FROM node\nARG NPM_TOKEN\n";
	static const char *const paths[] = { "Dockerfile", "notes.txt",
	    "Dockerfile", NULL, "docker/Dockerfile", "docs/notes.md" };
	static const size_t want[] = { 1, 0, 1, 0, 1, 0 };
	struct scan_engine *e = builtin_engine();
	struct scan_scratch *s = NULL;
	struct al_err err;
	struct hits h;
	size_t i;

	(void)state;
	/* Files no path-limited rule applies to take the smaller database. */
	assert_non_null(e->db_base);
	assert_true(e->nlimited > 0);
	assert_int_equal(scan_scratch_new(e, &s, &err), 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		memset(&h, 0, sizeof(h));
		assert_int_equal(scan_buffer(e, s, paths[i], text,
		    strlen(text), collect, &h, &err), 0);
		assert_int_equal(h.n, want[i]);
		if (want[i])
			assert_string_equal(h.ids[0],
			    "unsafe-dockerfile-secret-arg");
	}
	scan_scratch_free(s);
	scan_engine_free(e);
}

static void
test_multiline_private_key_is_one_match(void **state)
{
	struct scan_engine *e = builtin_engine();
	const char *key = "x = 1\n-----BEGIN OPENSSH PRIVATE KEY-----\n"
	    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz\n"
	    "c2gtZWQyNTUxOQAAACDk2Gm0hQe2V0n4kSg7cK1mYF2tq8hVvBqT3Lr6XyZ0bAAA\n"
	    "AJgYk3lSGJN5UgAAAAtzc2gtZWQyNTUxOQAAACDk2Gm0hQe2V0n4kSg7cK1mYF2t\n"
	    "-----END OPENSSH PRIVATE KEY-----\ny = 2\n";
	struct hits h;

	(void)state;
	scan_text(e, "id_ed25519", key, &h);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.ids[0], "private-key-openssh");
	assert_int_equal(h.off[0], 6);
	assert_int_equal(h.len[0], strlen(key) - 6 - strlen("\ny = 2\n"));
	scan_engine_free(e);
}

static void
test_requires_gates_set_x(void **state)
{
	struct scan_engine *e = builtin_engine();
	struct hits h;

	(void)state;
	scan_text(e, "b.sh", "#!/bin/sh\nset -eux\nmake\n", &h);
	assert_int_equal(h.n, 0);
	scan_text(e, "b.sh", "#!/bin/sh\nset -eux\ncurl -u me:$API_TOKEN x\n",
	    &h);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.ids[0], "unsafe-set-x-with-secrets");
	scan_engine_free(e);
}

static void
test_secrets_only_engine_leaves_out_unsafe_rules(void **state)
{
	struct scan_engine *e = NULL;
	struct al_err err;
	struct hits h;
	size_t i;

	(void)state;
	assert_int_equal(scan_engine_new_builtin(SCAN_ENGINE_SECRETS_ONLY, &e,
	    &err), 0);
	for (i = 0; i < scan_engine_rule_count(e); i++)
		assert_int_equal(scan_engine_rule(e, i)->category,
		    SCAN_CAT_SECRET);
	scan_text(e, "a.js", "console.log(process.env.GITHUB_TOKEN)\n", &h);
	assert_int_equal(h.n, 0);
	scan_engine_free(e);
}

static void
test_placeholders_and_references_are_not_secrets(void **state)
{
	struct scan_engine *e = builtin_engine();
	struct hits h;

	(void)state;
	scan_text(e, "a.py", "password = \"${DB_PASSWORD}\"\n"
	    "api_key = \"YOUR_API_KEY_HERE\"\n"
	    "token = \"f47ac10b-58cc-4372-a567-0e02b2c3d479\"\n"
	    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
	    "\"integrity\": \"sha512-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+/abcd==\"\n",
	    &h);
	assert_int_equal(h.n, 0);
	scan_engine_free(e);
}

static void
test_preview_shows_at_most_four_and_two(void **state)
{
	char out[80];

	(void)state;
	scan_preview((const unsigned char *)"ghp_abcdefghijklmnopqrstuvwxyz0123456789",
	    40, 0, out, sizeof(out));
	assert_string_equal(out, "ghp_...89");
	scan_preview((const unsigned char *)"hunter22", 8, 0, out, sizeof(out));
	assert_string_equal(out, "hu...2");
	scan_preview((const unsigned char *)"abc", 3, 0, out, sizeof(out));
	assert_string_equal(out, "...");
	scan_preview((const unsigned char *)"ab\ncdefghijklmnop\x01", 18, 0, out,
	    sizeof(out));
	assert_string_equal(out, "ab?c...p?");
	scan_preview((const unsigned char *)"echo $TOKEN", 11, 1, out, 8);
	assert_string_equal(out, "ech...");
}

static void
test_entropy_in_bits_per_byte(void **state)
{
	(void)state;
	assert_true(scan_entropy("aaaa", 4) == 0.0);
	assert_true(scan_entropy("abcd", 4) == 2.0);
	assert_true(scan_entropy("", 0) == 0.0);
}

static void
test_config_errors_name_the_line(void **state)
{
	struct scan_config *c = NULL;
	struct al_err err;
	const char *bad_key = "allow:\n  paths: [a]\nmax_file_size: 1M\n"
	    "disabel: [x]\n";

	(void)state;
	assert_int_equal(scan_config_parse(bad_key, strlen(bad_key),
	    ".airlock.yaml", &c, &err), AL_EINVAL);
	assert_null(c);
	assert_string_equal(err.msg, ".airlock.yaml:4: unknown key 'disabel' "
	    "(expected rules, disable, allow, max_file_size)");
	assert_int_equal(scan_config_parse("max_file_size: 5X\n", 18,
	    "c.yaml", &c, &err), AL_EINVAL);
	assert_string_equal(err.msg, "c.yaml:1: 'max_file_size' must be a "
	    "size from 1 to 4G (e.g. 512K, 10M)");
	assert_int_equal(scan_config_parse("rules:\n  - id: Bad_Id\n", 22,
	    "c.yaml", &c, &err), AL_EINVAL);
	assert_string_equal(err.msg, "c.yaml:2: a rule needs an 'id' of 1-64 "
	    "characters a-z 0-9 -");
	assert_int_equal(scan_config_parse("[1, 2]\n", 7, "c.yaml", &c, &err),
	    AL_EINVAL);
	assert_int_equal(scan_config_parse("", 0, "c.yaml", &c, &err), 0);
	scan_config_free(c);
}

static void
test_config_disables_adds_and_allowlists(void **state)
{
	const char *text = "disable: [generic-password]\n"
	    "allow:\n  paths: ['fixtures/*']\n  secrets: ['^ghp_a8Kd']\n"
	    "max_file_size: 2M\n"
	    "rules:\n  - id: acme-token\n    regex: '\\b(acme_[a-z0-9]{8})\\b'\n"
	    "    examples: {positive: ['acme_a1b2c3d4'], negative: ['acme_x']}\n";
	struct scan_config *c = NULL;
	struct scan_rules *r = NULL;
	struct scan_engine *e = NULL;
	struct al_err err;
	struct hits h;
	size_t i, n;

	(void)state;
	assert_int_equal(scan_config_parse(text, strlen(text), "c", &c, &err),
	    0);
	assert_int_equal(scan_config_max_file_size(c), 2 * 1024 * 1024);
	assert_true(scan_config_path_allowed(c, "fixtures/a/b.env"));
	assert_true(scan_config_path_allowed(c, "./fixtures/x"));
	assert_false(scan_config_path_allowed(c, "src/fixtures/x"));
	assert_int_equal(scan_rules_builtin(&r, &err), 0);
	n = scan_rules_count(r);
	assert_int_equal(scan_rules_apply_config(r, c, &err), 0);
	assert_int_equal(scan_rules_count(r), n + 1);
	for (i = 0; i < scan_rules_count(r); i++)
		if (strcmp(scan_rules_info(r, i)->id, "generic-password") == 0)
			assert_false(scan_rules_enabled(r, i));
	assert_int_equal(scan_engine_new(r, 0, &e, &err), 0);
	scan_text(e, "a.py", "k = acme_z9y8x7w6\npassword = \"Zq8-kd93jfLs0\"\n"
	    "t = ghp_a8Kd02LmQz7vXy3NpR5tUw1Bc4Ef6Gh9Ij0K\n", &h);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.ids[0], "acme-token");
	scan_engine_free(e);
	scan_rules_free(r);
	scan_config_free(c);
}

/*
 * keywords_cased: the keywords wake the rule only as written, so a rule
 * about upper-case variable names is not run on every line holding the
 * word in lower case; without it any case does.
 */
static void
test_cased_keywords_match_as_written(void **state)
{
	const char *fmt = "rules:\n  - id: acme-var\n"
	    "    regex: '(?i)\\$(acme_[a-z]{4})'\n"
	    "    keywords: ['ACME_']\n%s"
	    "    examples: {positive: ['$ACME_ABCD'], negative: ['x']}\n";
	char text[512];
	struct scan_config *c = NULL;
	struct scan_rules *r = NULL;
	struct scan_engine *e = NULL;
	struct al_err err;
	struct hits h;
	int cased;

	(void)state;
	for (cased = 0; cased < 2; cased++) {
		snprintf(text, sizeof(text), fmt,
		    cased ? "    keywords_cased: true\n" : "");
		assert_int_equal(scan_config_parse(text, strlen(text), "c", &c,
		    &err), 0);
		assert_int_equal(scan_rules_builtin(&r, &err), 0);
		assert_int_equal(scan_rules_apply_config(r, c, &err), 0);
		assert_int_equal(scan_engine_new(r, 0, &e, &err), 0);
		scan_text(e, "a.sh", "echo $acme_wxyz\n", &h);
		assert_int_equal(h.n, cased ? 0 : 1);
		scan_text(e, "a.sh", "echo $ACME_WXYZ\n", &h);
		assert_int_equal(h.n, 1);
		assert_string_equal(h.ids[0], "acme-var");
		scan_engine_free(e);
		scan_rules_free(r);
		scan_config_free(c);
		e = NULL, r = NULL, c = NULL;
	}
}

/*
 * A generic rule yields to a decoding rule's verdict: the base64 of a
 * placeholder in a Secret is not a random-looking value for the generic
 * rules, and a real value is reported once, decoded.
 */
static void
test_generic_rules_yield_to_a_decoded_verdict(void **state)
{
	struct scan_engine *e = builtin_engine();
	struct hits h;

	(void)state;
	/* base64 of "changeme" and of "${API_KEY}" */
	scan_text(e, "k8s/secret.yaml", "apiVersion: v1\nkind: Secret\n"
	    "data:\n  password: Y2hhbmdlbWU=\n  api_key: JHtBUElfS0VZfQ==\n",
	    &h);
	assert_int_equal(h.n, 0);
	/* base64 of "Kv8Lq2Xm9Zp4" */
	scan_text(e, "k8s/secret.yaml", "apiVersion: v1\nkind: Secret\n"
	    "data:\n  password: S3Y4THEyWG05WnA0\n", &h);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.ids[0], "kubernetes-secret-data");
	scan_engine_free(e);
}

/* Without rules limited to some paths there is one database. */
static void
test_one_database_without_path_rules(void **state)
{
	const char *text = "rules:\n  - id: acme-token\n"
	    "    regex: '\\b(acme_[a-z0-9]{8})\\b'\n"
	    "    examples: {positive: ['acme_a1b2c3d4'], negative: ['acme_x']}\n";
	struct scan_config *c = NULL;
	struct scan_rules *all = NULL;
	struct scan_engine *e = NULL;
	struct al_err err;
	size_t i;

	(void)state;
	assert_int_equal(scan_config_parse(text, strlen(text), "c", &c, &err),
	    0);
	assert_int_equal(scan_rules_builtin(&all, &err), 0);
	assert_int_equal(scan_rules_apply_config(all, c, &err), 0);
	/* Keep only the added rule. */
	for (i = 0; i < all->n; i++)
		all->v[i].enabled = strcmp(all->v[i].id, "acme-token") == 0;
	assert_int_equal(scan_engine_new(all, 0, &e, &err), 0);
	assert_null(e->db_base);
	assert_int_equal(e->nlimited, 0);
	scan_engine_free(e);
	scan_rules_free(all);
	scan_config_free(c);
}

static void
test_user_rules_are_checked_at_load(void **state)
{
	const char *bad_re = "rules:\n  - id: broken\n    regex: '(a'\n"
	    "    examples: {positive: [a]}\n";
	const char *weak = "rules:\n  - id: weak\n    regex: 'wk_[0-9]{4}'\n"
	    "    examples: {positive: ['wk_12']}\n";
	const char *group = "rules:\n  - id: grp\n    regex: 'g_([0-9]{4})'\n"
	    "    group: 2\n    examples: {positive: ['g_1234']}\n";
	const char *dup = "disable: [github-pat]\nrules:\n  - id: github-pat\n"
	    "    regex: 'x'\n";
	const char *const cases[][2] = {
		{ bad_re, "rule 'broken': invalid regex at offset 2: missing "
		    "closing parenthesis" },
		{ weak, "rule 'weak' (line 2): positive example 1 does not "
		    "match" },
		{ group, "rule 'grp': 'group' is 2 but the regex has 1 "
		    "group(s)" },
		{ dup, "rule 'github-pat' (line 3) has the id of a built-in "
		    "rule; pick another id, or disable the built-in one and "
		    "name yours differently" },
	};
	struct scan_config *c;
	struct scan_rules *r;
	struct scan_engine *e;
	struct al_err err;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = NULL;
		r = NULL;
		e = NULL;
		al_err_clear(&err);
		assert_int_equal(scan_config_parse(cases[i][0],
		    strlen(cases[i][0]), "c", &c, &err), 0);
		assert_int_equal(scan_rules_builtin(&r, &err), 0);
		rc = scan_rules_apply_config(r, c, &err);
		if (rc == 0)
			rc = scan_engine_new(r, 0, &e, &err);
		assert_int_equal(rc, AL_EINVAL);
		assert_null(e);
		assert_string_equal(err.msg, cases[i][1]);
		scan_rules_free(r);
		scan_config_free(c);
	}
}

static void
test_baseline_round_trip_and_filter(void **state)
{
	struct scan_baseline *b = NULL, *b2 = NULL, *b3 = NULL;
	struct scan_rule_info ri = { "github-pat", "d", SCAN_SEV_ERROR,
	    SCAN_CAT_SECRET, 0 };
	struct scan_report rep;
	struct scan_finding f[2];
	char path[] = "/tmp/airlock-test-baseline-XXXXXX", fp[SCAN_FINGERPRINT_MAX];
	struct al_err err;
	int fd;

	(void)state;
	memset(&rep, 0, sizeof(rep));
	memset(f, 0, sizeof(f));
	f[0].rule = f[1].rule = &ri;
	f[0].path = strdup("a.py");
	f[1].path = strdup("b.py");
	snprintf(f[0].hash, sizeof(f[0].hash), "%s", "00112233445566778899aabbccddeeff");
	snprintf(f[1].hash, sizeof(f[1].hash), "%s", "ffeeddccbbaa99887766554433221100");
	rep.findings = f;
	rep.nfindings = 1;
	assert_int_equal(scan_fingerprint(&f[0], fp, sizeof(fp)), 0);
	assert_string_equal(fp, "github-pat:a.py:00112233445566778899aabbccddeeff");
	assert_int_equal(scan_baseline_new(&b, &err), 0);
	assert_non_null((fd = mkstemp(path)) >= 0 ? path : NULL);
	close(fd);
	assert_int_equal(scan_baseline_write(b, &rep, path, &err), 0);
	assert_int_equal(scan_baseline_load(path, &b2, &err), 0);
	assert_memory_equal(scan_baseline_key(b), scan_baseline_key(b2),
	    SCAN_FP_KEY_BYTES);
	rep.findings = calloc(2, sizeof(*rep.findings));
	rep.findings[0] = f[0];
	rep.findings[1] = f[1];
	rep.nfindings = 2;
	assert_int_equal(scan_baseline_filter(b2, &rep), 1);
	assert_int_equal(rep.nfindings, 1);
	assert_string_equal(rep.findings[0].path, "b.py");
	free(rep.findings[0].path);
	free(rep.findings);
	unlink(path);
	assert_int_equal(scan_baseline_load(path, &b3, &err), AL_ENOENT);
	assert_null(b3);
	scan_baseline_free(b);
	scan_baseline_free(b2);
}

/* The table compiled from rules/default.yaml holds exactly what it says. */
static void
test_builtin_table_matches_the_rule_file(void **state)
{
	struct scan_rules *tab = NULL, *yml = NULL;
	struct al_buf text;
	struct al_err err;
	const struct scan_rule *a, *b;
	size_t i, k;
	int fd;

	(void)state;
	al_buf_init(&text, 16u * 1024 * 1024, 0);
	fd = open(AIRLOCK_TEST_DATA "/../../rules/default.yaml", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(al_buf_read_fd(&text, fd, text.max, "default.yaml",
	    &err), 0);
	close(fd);
	assert_int_equal(scan_rules_parse((const char *)text.data, text.len,
	    "rules/default.yaml", &yml, &err), 0);
	assert_int_equal(scan_rules_builtin(&tab, &err), 0);
	assert_int_equal(tab->n, yml->n);
	assert_int_equal(tab->allow.n, yml->allow.n);
	for (k = 0; k < tab->allow.n; k++)
		assert_string_equal(tab->allow.v[k], yml->allow.v[k]);
	for (i = 0; i < tab->n; i++) {
		const struct scan_strv *ta[5], *ya[5];

		a = &tab->v[i];
		b = &yml->v[i];
		assert_string_equal(a->id, b->id);
		assert_string_equal(a->info.id, b->id);
		assert_string_equal(a->description, b->description);
		assert_string_equal(a->info.description, b->description);
		assert_string_equal(a->regex, b->regex);
		assert_true((a->requires == NULL) == (b->requires == NULL));
		if (a->requires != NULL)
			assert_string_equal(a->requires, b->requires);
		assert_true((a->example_path == NULL) ==
		    (b->example_path == NULL));
		if (a->example_path != NULL)
			assert_string_equal(a->example_path, b->example_path);
		assert_true(a->entropy == b->entropy);
		assert_int_equal(a->group, b->group);
		assert_int_equal(a->multiline, b->multiline);
		assert_int_equal(a->keywords_cased, b->keywords_cased);
		assert_int_equal(a->decode, b->decode);
		assert_int_equal(a->info.generic, b->info.generic);
		assert_int_equal(a->info.severity, b->info.severity);
		assert_int_equal(a->info.category, b->info.category);
		assert_int_equal(a->line, b->line);
		assert_int_equal(a->enabled, 1);
		assert_int_equal(a->builtin, 1);
		ta[0] = &a->keywords, ya[0] = &b->keywords;
		ta[1] = &a->allow, ya[1] = &b->allow;
		ta[2] = &a->paths, ya[2] = &b->paths;
		ta[3] = &a->positive, ya[3] = &b->positive;
		ta[4] = &a->negative, ya[4] = &b->negative;
		for (k = 0; k < 5; k++) {
			size_t j;

			assert_int_equal(ta[k]->n, ya[k]->n);
			for (j = 0; j < ta[k]->n; j++)
				assert_string_equal(ta[k]->v[j], ya[k]->v[j]);
		}
	}
	scan_rules_free(tab);
	scan_rules_free(yml);
	al_buf_release(&text);
}

/* JSON is written a finding at a time: the bytes of a whole-tree dump. */
static void
test_json_report_is_exact(void **state)
{
	struct scan_rule_info ri = { "github-pat", "GitHub token", SCAN_SEV_ERROR,
	    SCAN_CAT_SECRET, 0 }, ru = { "unsafe-set-x", "set -x",
	    SCAN_SEV_WARNING, SCAN_CAT_UNSAFE, 0 };
	struct scan_commit c = { "0123456789abcdef0123456789abcdef01234567",
	    "Zo\xc3\xab <z@example.com>", "2024-01-02T03:04:05+01:00", 0 };
	struct scan_finding f[2];
	struct scan_report rep;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	static const char want[] =
	    "{\n  \"version\": 1,\n  \"findings\": [\n    {\n"
	    "      \"rule\": \"github-pat\",\n"
	    "      \"description\": \"GitHub token\",\n"
	    "      \"severity\": \"error\",\n"
	    "      \"category\": \"secret\",\n"
	    "      \"path\": \"d/\\u00E9.py\",\n"
	    "      \"line\": 3,\n      \"column\": 7,\n"
	    "      \"end_line\": 3,\n"
	    "      \"preview\": \"ghp_...Zz\",\n"
	    "      \"entropy\": 4.25,\n"
	    "      \"fingerprint\": \"github-pat:d/\\u00E9.py:"
	    "00112233445566778899aabbccddeeff\",\n"
	    "      \"commit\": \"0123456789abcdef0123456789abcdef01234567\",\n"
	    "      \"author\": \"Zo\\u00EB <z@example.com>\",\n"
	    "      \"date\": \"2024-01-02T03:04:05+01:00\"\n    },\n    {\n"
	    "      \"rule\": \"unsafe-set-x\",\n"
	    "      \"description\": \"set -x\",\n"
	    "      \"severity\": \"warning\",\n"
	    "      \"category\": \"unsafe\",\n"
	    "      \"path\": \"run.sh\",\n"
	    "      \"line\": 1,\n      \"column\": 1,\n"
	    "      \"end_line\": 1,\n"
	    "      \"preview\": \"set -x\",\n"
	    "      \"entropy\": 0.0\n    }\n  ],\n"
	    "  \"summary\": {\n    \"files\": 2,\n    \"bytes\": 90,\n"
	    "    \"skipped\": 1,\n    \"errors\": 0,\n"
	    "    \"commits\": 1,\n    \"findings\": 2\n  }\n}\n";
	static const char want_empty[] =
	    "{\n  \"version\": 1,\n  \"findings\": [],\n"
	    "  \"summary\": {\n    \"files\": 0,\n    \"bytes\": 0,\n"
	    "    \"skipped\": 0,\n    \"errors\": 0,\n"
	    "    \"commits\": 0,\n    \"findings\": 0\n  }\n}\n";

	(void)state;
	memset(f, 0, sizeof(f));
	memset(&rep, 0, sizeof(rep));
	f[0].rule = &ri;
	f[0].path = "d/\xc3\xa9.py";
	f[0].line = f[0].end_line = 3;
	f[0].col = 7;
	snprintf(f[0].preview, sizeof(f[0].preview), "ghp_...Zz");
	snprintf(f[0].hash, sizeof(f[0].hash), "00112233445566778899aabbccddeeff");
	f[0].entropy = 4.2571;
	f[0].commit = &c;
	f[1].rule = &ru;
	f[1].path = "run.sh";
	f[1].line = f[1].end_line = f[1].col = 1;
	snprintf(f[1].preview, sizeof(f[1].preview), "set -x");
	rep.findings = f;
	rep.nfindings = 2;
	rep.files = 2;
	rep.bytes = 90;
	rep.skipped = 1;
	rep.commits = 1;
	assert_non_null(out = open_memstream(&buf, &len));
	assert_int_equal(scan_report_write_json(&rep, out), 0);
	fclose(out);
	assert_string_equal(buf, want);
	free(buf);
	memset(&rep, 0, sizeof(rep));
	assert_non_null(out = open_memstream(&buf, &len));
	assert_int_equal(scan_report_write_json(&rep, out), 0);
	fclose(out);
	assert_string_equal(buf, want_empty);
	free(buf);
}

/* Vectorscan runs each regex with its tail weakened, never more. */
static void
test_prefilter_weakens_only_the_tail(void **state)
{
	static const char *const cases[][2] = {
		/* lookarounds dropped, the last repeat cut to its minimum */
		{ "(?<![a-z])(ghp_[A-Za-z0-9]{36,255})(?![A-Za-z0-9])",
		  "(?<![a-z])(ghp_[A-Za-z0-9]{36})" },
		{ "(glpat-[A-Za-z0-9_-]{20,})\\b", "(glpat-[A-Za-z0-9_-]{20})" },
		{ "(ABSK[A-Za-z0-9+/]{108,}={0,2})(?![A-Za-z0-9+/=])",
		  "(ABSK[A-Za-z0-9+/]{108})" },
		{ "key-[0-9a-f]+$", "key-[0-9a-f]" },
		{ "(?:tok_)\\w{8,}", "(?:tok_)\\w{8}" },
		{ "x[a-z]{3,}?", "x[a-z]{3}" },
		{ "a\\.[A-Z]{4,9}", "a\\.[A-Z]{4}" },
		{ "a.{4,}", "a.{4}" },
		/* a tail that may cross a line is kept */
		{ "pw=([^\"]{8,})", "pw=([^\"]{8,})" },
		{ "pw=([^\"\\s]{8,})", "pw=([^\"\\s]{8})" },
		{ "k:\\s{1,4}", "k:\\s{1,4}" },
		{ "(?s)a.{4,}", "(?s)a.{4,}" },
		{ "(?is:a).{4,}", "(?is:a).{4,}" },
		/* quoting, comments, extended mode: kept whole */
		{ "\\Qa)\\E[a-z]{3,}", "\\Qa)\\E[a-z]{3,}" },
		{ "(?#(x)[a-z]{3,}", "(?#(x)[a-z]{3,}" },
		{ "(?x) a [a-z]{3,} # tail", "(?x) a [a-z]{3,} # tail" },
		{ "(?i)tok_[a-z]{3,}", "(?i)tok_[a-z]{3}" },
		/* what is not understood is left alone */
		{ "(?:abc|def)[0-9]{4,}|xyz", "(?:abc|def)[0-9]{4,}|xyz" },
		{ "a(?:-[a-z]+)+", "a(?:-[a-z]+)+" },
		{ "a\\x41{3,}", "a\\x41{3,}" },
		{ "[[:alpha:]]{3,}", "[[:alpha:]]{3,}" },
		{ "abc", "abc" },
		{ "(", "(" },
		{ "[a-", "[a-" },
		{ "\\", "\\" },
		{ "a{2,", "a{2," },
	};
	size_t i;
	char *got;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_non_null(got = scan_prefilter_expr(cases[i][0]));
		if (strcmp(got, cases[i][1]) != 0)
			fail_msg("%s: got %s, want %s", cases[i][0], got,
			    cases[i][1]);
		free(got);
	}
}

/* A match longer than what vectorscan reports is still found whole. */
static void
test_long_match_found_whole(void **state)
{
	struct scan_engine *e = builtin_engine();
	char text[512], tok[300];
	struct hits h;
	size_t i;

	(void)state;
	for (i = 0; i < 250; i++)
		tok[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[(i * 7 + i / 3) % 62];
	tok[250] = '\0';
	snprintf(text, sizeof(text), "x = 1\ntoken: glpat-%s\n", tok);
	scan_text(e, "a.yml", text, &h);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.ids[0], "gitlab-pat");
	assert_int_equal(h.off[0], 13);
	assert_int_equal(h.len[0], 6 + 250);
	scan_engine_free(e);
}

/* Rules switch from interpreted to JIT code as they get busy: same hits. */
static void
test_matches_same_before_and_after_jit(void **state)
{
	struct scan_engine *e = builtin_engine();
	struct hits first, h;
	char text[256];
	int i;

	(void)state;
	snprintf(text, sizeof(text), "password = \"Xq7!vR2#mK9pL4sT\"\n"
	    "t = \"glpat-%s\"\necho $API_TOKEN\n", "AbCdEfGhIjKlMnOpQrSt");
	scan_text(e, "deploy.sh", text, &first);
	assert_true(first.n >= 2);
	for (i = 0; i < 3 * SCAN_JIT_AFTER; i++) {
		scan_text(e, "deploy.sh", text, &h);
		assert_int_equal(h.n, first.n);
		assert_memory_equal(h.ids, first.ids, sizeof(h.ids));
		assert_memory_equal(h.off, first.off, sizeof(h.off));
		assert_memory_equal(h.len, first.len, sizeof(h.len));
	}
	scan_engine_free(e);
}

/*
 * Two rules with one regex (a strict rule and its weak variant) run it
 * once per window and share the matches; each still judges them by its
 * own entropy and allowlist, before and after JIT, as when alone.
 */
static void
test_rules_sharing_a_regex_judge_alone(void **state)
{
	static const char rules[] = "rules:\n"
	    "  - id: strong\n    regex: 'pw=([!-~]{4,40})'\n"
	    "    entropy: 3.5\n    keywords: [pw=]\n"
	    "    examples: {positive: ['pw=Xq7vR2mK9pL4sTw8']}\n"
	    "  - id: weak\n    regex: 'pw=([!-~]{4,40})'\n"
	    "    keywords: [pw=]\n    allow: ['^[A-Za-z0-9]{9,}$']\n"
	    "    examples: {positive: ['pw=hunter2']}\n";
	static const char text[] = "a pw=hunter2 b pw=Xq7vR2mK9pL4sTw8\n"
	    "pw=aaaa pw=Zk3#Qw9!Lp2@Vn8 pw=hunter2\n";
	static const char *const want[] = { "weak", "strong", "weak",
	    "strong", "weak", "weak" };
	static const size_t off[] = { 5, 18, 38, 46, 46, 65 };
	struct scan_rules *r = NULL;
	struct scan_engine *e = NULL;
	struct al_err err;
	struct hits h;
	size_t i, k;

	(void)state;
	assert_int_equal(scan_rules_parse(rules, strlen(rules), "r", &r,
	    &err), 0);
	assert_int_equal(scan_engine_new(r, 0, &e, &err), 0);
	assert_int_equal(e->r[1].twin, 0);
	assert_true(e->r[1].follower);
	for (k = 0; k < 3 * SCAN_JIT_AFTER; k++) {
		scan_text(e, "a.conf", text, &h);
		assert_int_equal(h.n, sizeof(want) / sizeof(want[0]));
		for (i = 0; i < h.n; i++) {
			assert_string_equal(h.ids[i], want[i]);
			assert_int_equal(h.off[i], off[i]);
		}
	}
	scan_engine_free(e);
	scan_rules_free(r);
}

/*
 * The JSON of awkward paths (quotes, backslashes, control bytes, DEL,
 * bytes that are not UTF-8) and of grouped history findings is what
 * jansson prints for them.
 */
static void
test_json_report_escapes_and_occurrences(void **state)
{
	struct scan_rule_info ri = { "github-pat", "GitHub token", SCAN_SEV_ERROR,
	    SCAN_CAT_SECRET, 0 };
	struct scan_commit c1 = { "1111111111111111111111111111111111111111",
	    "A \"B\" \\\t\x01\x7f <a@b>", "2024-01-02T03:04:05+00:00", 0 }, c2 = {
	    "2222222222222222222222222222222222222222", "x <x@y>",
	    "2024-02-02T03:04:05+00:00", 1 };
	struct scan_occurrence occ[2] = { { &c1, 4, 9 }, { &c2, 5, 1 } };
	struct scan_finding f;
	struct scan_report rep;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	static const char want[] =
	    "{\n  \"version\": 1,\n  \"findings\": [\n    {\n"
	    "      \"rule\": \"github-pat\",\n"
	    "      \"description\": \"GitHub token\",\n"
	    "      \"severity\": \"error\",\n"
	    "      \"category\": \"secret\",\n"
	    "      \"path\": \"a\\\"b\\\\\\\\c\\\\t\\\\x01\\\\x7f\\\\xff.py\",\n"
	    "      \"line\": 4,\n      \"column\": 9,\n"
	    "      \"end_line\": 4,\n"
	    "      \"preview\": \"ghp_...Zz\",\n"
	    "      \"entropy\": 4.0,\n"
	    "      \"commit\": \"1111111111111111111111111111111111111111\",\n"
	    "      \"author\": \"A \\\"B\\\" \\\\\\t\\u0001\x7f <a@b>\",\n"
	    "      \"date\": \"2024-01-02T03:04:05+00:00\",\n"
	    "      \"count\": 2,\n"
	    "      \"last_commit\": \"2222222222222222222222222222222222222222\",\n"
	    "      \"last_date\": \"2024-02-02T03:04:05+00:00\",\n"
	    "      \"occurrences\": [\n        {\n"
	    "          \"commit\": \"1111111111111111111111111111111111111111\",\n"
	    "          \"date\": \"2024-01-02T03:04:05+00:00\",\n"
	    "          \"line\": 4,\n          \"column\": 9\n        },\n"
	    "        {\n"
	    "          \"commit\": \"2222222222222222222222222222222222222222\",\n"
	    "          \"date\": \"2024-02-02T03:04:05+00:00\",\n"
	    "          \"line\": 5,\n          \"column\": 1\n        }\n"
	    "      ]\n    }\n  ],\n"
	    "  \"summary\": {\n    \"files\": 1,\n    \"bytes\": 12,\n"
	    "    \"skipped\": 0,\n    \"errors\": 0,\n"
	    "    \"commits\": 2,\n    \"findings\": 1\n  }\n}\n";

	(void)state;
	memset(&f, 0, sizeof(f));
	memset(&rep, 0, sizeof(rep));
	f.rule = &ri;
	f.path = "a\"b\\c\t\x01\x7f\xff.py";
	f.line = f.end_line = 4;
	f.col = 9;
	snprintf(f.preview, sizeof(f.preview), "ghp_...Zz");
	f.entropy = 4.0;
	f.commit = &c1;
	f.last = &c2;
	f.count = 2;
	f.occ = occ;
	rep.findings = &f;
	rep.nfindings = 1;
	rep.files = 1;
	rep.bytes = 12;
	rep.commits = 2;
	assert_non_null(out = open_memstream(&buf, &len));
	assert_int_equal(scan_report_write_json(&rep, out), 0);
	fclose(out);
	assert_string_equal(buf, want);
	free(buf);
}

/*
 * Rules limited to the same paths decide them once per buffer, and each
 * still applies its own exclusions: an unsafe-code rule stays quiet on
 * documentation where a secret rule with the same paths reports.
 */
static void
test_rules_sharing_paths_decide_per_buffer(void **state)
{
	static const char rules[] = "rules:\n"
	    "  - id: code\n    category: unsafe\n"
	    "    regex: 'leak\\(\\$TOKEN\\)'\n"
	    "    paths: ['\\.(?:md|sh)$']\n"
	    "    examples: {positive: ['leak($TOKEN)']}\n"
	    "    example_path: a.sh\n"
	    "  - id: tok\n    regex: 'tk_[0-9]{6}'\n"
	    "    paths: ['\\.(?:md|sh)$']\n"
	    "    examples: {positive: ['tk_123456']}\n"
	    "    example_path: a.sh\n";
	static const char *const texts[] = { "leak($TOKEN) tk_123456\n",
	    "tk_123456 leak($TOKEN)\n" };
	static const char *const paths[] = { "a.sh", "a.md", "a.c", "b.md",
	    "b.sh", NULL };
	static const size_t want[] = { 2, 1, 0, 1, 2, 0 };
	struct scan_rules *r = NULL;
	struct scan_engine *e = NULL;
	struct scan_scratch *sc = NULL;
	struct al_err err;
	struct hits h;
	size_t i, k, t;

	(void)state;
	assert_int_equal(scan_rules_parse(rules, strlen(rules), "r", &r,
	    &err), 0);
	assert_int_equal(scan_engine_new(r, 0, &e, &err), 0);
	assert_int_equal(e->r[1].path_twin, 0);
	assert_int_equal(scan_scratch_new(e, &sc, &err), 0);
	for (k = 0; k < 2 * sizeof(want) / sizeof(want[0]); k++) {
		t = k / (sizeof(want) / sizeof(want[0]));
		i = k % (sizeof(want) / sizeof(want[0]));
		memset(&h, 0, sizeof(h));
		assert_int_equal(scan_buffer(e, sc, paths[i], texts[t],
		    strlen(texts[t]), collect, &h, &err), 0);
		if (h.n != want[i])
			fail_msg("%s: %zu findings", paths[i] ? paths[i] :
			    "(none)", h.n);
		if (want[i] == 1)
			assert_string_equal(h.ids[0], "tok");
	}
	scan_scratch_free(sc);
	scan_engine_free(e);
	scan_rules_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_rules_are_at_least_150_with_examples),
		cmocka_unit_test(test_builtin_rule_examples_all_hold),
		cmocka_unit_test(test_keywords_occur_in_positive_examples),
		cmocka_unit_test(test_scan_buffer_reports_secret_offsets),
		cmocka_unit_test(test_generic_rule_yields_to_specific),
		cmocka_unit_test(test_path_rules_apply_only_to_their_files),
		cmocka_unit_test(test_path_rules_are_decided_per_buffer),
		cmocka_unit_test(test_multiline_private_key_is_one_match),
		cmocka_unit_test(test_requires_gates_set_x),
		cmocka_unit_test(test_secrets_only_engine_leaves_out_unsafe_rules),
		cmocka_unit_test(test_placeholders_and_references_are_not_secrets),
		cmocka_unit_test(test_preview_shows_at_most_four_and_two),
		cmocka_unit_test(test_entropy_in_bits_per_byte),
		cmocka_unit_test(test_config_errors_name_the_line),
		cmocka_unit_test(test_config_disables_adds_and_allowlists),
		cmocka_unit_test(test_cased_keywords_match_as_written),
		cmocka_unit_test(test_one_database_without_path_rules),
		cmocka_unit_test(test_generic_rules_yield_to_a_decoded_verdict),
		cmocka_unit_test(test_user_rules_are_checked_at_load),
		cmocka_unit_test(test_baseline_round_trip_and_filter),
		cmocka_unit_test(test_builtin_table_matches_the_rule_file),
		cmocka_unit_test(test_json_report_is_exact),
		cmocka_unit_test(test_prefilter_weakens_only_the_tail),
		cmocka_unit_test(test_long_match_found_whole),
		cmocka_unit_test(test_matches_same_before_and_after_jit),
		cmocka_unit_test(test_rules_sharing_a_regex_judge_alone),
		cmocka_unit_test(test_json_report_escapes_and_occurrences),
		cmocka_unit_test(test_rules_sharing_paths_decide_per_buffer),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

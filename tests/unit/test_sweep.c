/* Unit tests of src/sweep: finding, rewriting, JSON Lines. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "airlock/redact.h"
#include "airlock/sweep.h"

struct fx {
	char		 dir[64];
	struct redact	*r;
};

static void
add(struct redact *r, const char *name, const char *v)
{
	struct al_secret *s = NULL;

	assert_int_equal(al_secret_from(v, strlen(v), &s), 0);
	assert_int_equal(redact_add_value(r, name, s, NULL), 0);
	al_secret_free(s);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_sweep.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(redact_new(&f->r, NULL), 0);
	add(f->r, "api-key", "Zq7-SECRET-9vX");
	add(f->r, "nkey", "nQ4pLm8sT2");
	assert_int_equal(redact_compile(f->r, NULL), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	redact_free(f->r);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void
put_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static char *
get_file(const char *path)
{
	static char buf[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

#define JV(s)	sweep_json_valid(s, strlen(s))

static void
test_sweep_json_valid_lines(void **state)
{
	(void)state;
	assert_true(JV("{\"a\":[1,true,null,\"x\\u00e9\"]}"));
	assert_true(JV(" 12 "));
	assert_true(JV("{\"a\":\"[REDACTED:k]\"}"));
	assert_false(JV("{\"a\":\"x\\[REDACTED:k]\"}"));
	assert_false(JV("{\"a\":\"x}"));
	assert_false(JV("{\"a\" 1}"));
	assert_false(JV("[1,]x"));
	assert_false(JV("not json"));
	assert_false(JV(""));
}

static void
test_sweep_fix_masks_byte_exact(void **state)
{
	struct fx *f = *state;
	struct sweep *s = NULL;
	const struct sweep_hit *h;
	struct stat st;
	char path[128];
	size_t n;

	(void)snprintf(path, sizeof(path), "%s/hist", f->dir);
	/* Plain on line 2, base64 ("Zq7-SECRET-9vX") on line 3. */
	put_file(path, "ls\nexport K=Zq7-SECRET-9vX # x\r\necho WnE3LVNFQ1JFVC05dlg= |"
	    "\n", 0640);
	assert_int_equal(sweep_new(f->r, SWEEP_FIX, &s, NULL), 0);
	assert_int_equal(sweep_path(s, path, 1, NULL), 0);
	h = sweep_hits(s, &n);
	assert_int_equal(n, 2);
	assert_string_equal(h[0].name, "api-key");
	assert_int_equal(h[0].kind, SWEEP_HIT_VALUE);
	assert_int_equal(h[0].line, 2);
	assert_int_equal(h[0].col, 10);
	assert_int_equal(h[1].line, 3);
	assert_int_equal(h[1].col, 6);
	assert_true(h[0].fixed && h[1].fixed);
	assert_int_equal(sweep_fixed(s), 1);
	assert_string_equal(get_file(path), "ls\nexport K=[REDACTED:api-key] # "
	    "x\r\necho [REDACTED:api-key] |\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(sweep_errors(s), 0);
	sweep_free(s);
}

static void
test_sweep_report_only_leaves_file(void **state)
{
	struct fx *f = *state;
	struct sweep *s = NULL;
	char path[128];
	size_t n;

	(void)snprintf(path, sizeof(path), "%s/a.txt", f->dir);
	put_file(path, "k=Zq7-SECRET-9vX\n", 0600);
	assert_int_equal(sweep_new(f->r, 0, &s, NULL), 0);
	assert_int_equal(sweep_path(s, f->dir, 1, NULL), 0);
	(void)sweep_hits(s, &n);
	assert_int_equal(n, 1);
	assert_string_equal(get_file(path), "k=Zq7-SECRET-9vX\n");
	sweep_free(s);
}

/*
 * "\n" then a value starting with 'n': the value's own pattern matches from
 * the escape's 'n'.  The backslash joins the mask so the line stays JSON.
 */
static void
test_sweep_jsonl_backslash_joins_mask(void **state)
{
	struct fx *f = *state;
	struct sweep *s = NULL;
	char path[128];
	const char *out;

	(void)snprintf(path, sizeof(path), "%s/t.jsonl", f->dir);
	put_file(path, "{\"m\":\"a\\nQ4pLm8sT2 b\"}\nnot json nQ4pLm8sT2\n",
	    0600);
	assert_int_equal(sweep_new(f->r, SWEEP_FIX, &s, NULL), 0);
	assert_int_equal(sweep_path(s, path, 1, NULL), 0);
	assert_int_equal(sweep_fixed(s), 1);
	out = get_file(path);
	assert_string_equal(out, "{\"m\":\"a[REDACTED:nkey] b\"}\nnot json "
	    "[REDACTED:nkey]\n");
	assert_true(sweep_json_valid(out, strchr(out, '\n') - out));
	sweep_free(s);
}

/* A .json file stays valid as a whole: the backslash joins the mask. */
static void
test_sweep_json_file_stays_valid(void **state)
{
	struct fx *f = *state;
	struct sweep *s = NULL;
	char path[128];
	const char *out;

	(void)snprintf(path, sizeof(path), "%s/c.json", f->dir);
	put_file(path, "{\n  \"h\": [\n    \"x\\nQ4pLm8sT2\"\n  ]\n}\n", 0600);
	assert_int_equal(sweep_new(f->r, SWEEP_FIX, &s, NULL), 0);
	assert_int_equal(sweep_path(s, path, 1, NULL), 0);
	assert_int_equal(sweep_fixed(s), 1);
	out = get_file(path);
	assert_string_equal(out, "{\n  \"h\": [\n    \"x[REDACTED:nkey]\"\n  "
	    "]\n}\n");
	assert_true(sweep_json_valid(out, strlen(out)));
	sweep_free(s);
}

static void
test_sweep_binary_not_rewritten(void **state)
{
	struct fx *f = *state;
	struct sweep *s = NULL;
	const struct sweep_problem *p;
	char path[128];
	size_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "%s/b.bin", f->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(fd, "x\0yZq7-SECRET-9vX", 17), 17);
	close(fd);
	assert_int_equal(sweep_new(f->r, SWEEP_FIX, &s, NULL), 0);
	assert_int_equal(sweep_path(s, path, 1, NULL), 0);
	(void)sweep_hits(s, &n);
	assert_int_equal(n, 1);
	assert_int_equal(sweep_fixed(s), 0);
	p = sweep_problems(s, &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(p[0].what, "binary file"));
	sweep_free(s);
}

static void
append_x(void *arg, const char *path)
{
	FILE *f = fopen(path, "a");

	(void)arg;
	assert_non_null(f);
	fputs("more\n", f);
	fclose(f);
}

static void
test_sweep_changed_file_left_alone(void **state)
{
	struct fx *f = *state;
	struct sweep *s = NULL;
	const struct sweep_problem *p;
	char path[128], cmd[256];
	size_t n;

	(void)snprintf(path, sizeof(path), "%s/c.txt", f->dir);
	put_file(path, "k=Zq7-SECRET-9vX\n", 0600);
	assert_int_equal(sweep_new(f->r, SWEEP_FIX, &s, NULL), 0);
	sweep_on_searched(s, append_x, NULL);
	assert_int_equal(sweep_path(s, path, 1, NULL), 0);
	assert_int_equal(sweep_fixed(s), 0);
	assert_string_equal(get_file(path), "k=Zq7-SECRET-9vX\nmore\n");
	p = sweep_problems(s, &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(p[0].what, "changed during the sweep"));
	/* No temporary file is left beside it. */
	(void)snprintf(cmd, sizeof(cmd), "ls -A %s | grep -q airlock-sweep",
	    f->dir);
	assert_int_not_equal(system(cmd), 0);
	sweep_free(s);
}

static void
test_sweep_read_only_not_rewritten(void **state)
{
	struct fx *f = *state;
	struct sweep *s = NULL;
	const struct sweep_problem *p;
	char path[128];
	size_t n;

	(void)snprintf(path, sizeof(path), "%s/ro.txt", f->dir);
	put_file(path, "k=Zq7-SECRET-9vX\n", 0444);
	assert_int_equal(sweep_new(f->r, SWEEP_FIX, &s, NULL), 0);
	assert_int_equal(sweep_path(s, path, 1, NULL), 0);
	(void)sweep_hits(s, &n);
	assert_int_equal(n, 1);
	assert_int_equal(sweep_fixed(s), 0);
	assert_string_equal(get_file(path), "k=Zq7-SECRET-9vX\n");
	p = sweep_problems(s, &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(p[0].what, "read-only: not rewritten"));
	sweep_free(s);
}

static void
test_sweep_sort_by_path_line_col(void **state)
{
	struct fx *f = *state;
	struct sweep *s = NULL;
	const struct sweep_hit *h;
	char path[128];
	const char *names[] = { "z", "a", "m" };
	size_t n, i;

	for (i = 0; i < 3; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", f->dir, names[i]);
		put_file(path, "x Zq7-SECRET-9vX Zq7-SECRET-9vX\n"
		    "Zq7-SECRET-9vX\n", 0600);
	}
	assert_int_equal(sweep_new(f->r, 0, &s, NULL), 0);
	assert_int_equal(sweep_path(s, f->dir, 1, NULL), 0);
	sweep_sort(s);
	h = sweep_hits(s, &n);
	assert_int_equal(n, 9);
	for (i = 0; i < n; i++) {
		assert_int_equal(h[i].path[strlen(h[i].path) - 1],
		    "amz"[i / 3]);
		assert_int_equal(h[i].line, i % 3 == 2 ? 2 : 1);
		assert_int_equal(h[i].col, i % 3 == 0 ? 3 : i % 3 == 1 ? 18 :
		    1);
	}
	sweep_free(s);
}

static void
test_sweep_missing_path_is_error(void **state)
{
	struct fx *f = *state;
	struct sweep *s = NULL;
	char path[128];

	(void)snprintf(path, sizeof(path), "%s/nope", f->dir);
	assert_int_equal(sweep_new(f->r, 0, &s, NULL), 0);
	assert_int_equal(sweep_path(s, path, 0, NULL), 0);
	assert_int_equal(sweep_errors(s), 0);
	assert_int_equal(sweep_path(s, path, 1, NULL), 0);
	assert_int_equal(sweep_errors(s), 1);
	sweep_free(s);
}

/*
 * A diff's added lines only: not the removed ones, not the headers; each
 * hit at its new file's path, line and column, an added line that starts
 * "++ " too.
 */
static void
test_sweep_diff_added_lines_only(void **state)
{
	static const char diff[] =
	    "diff --git a/old.txt b/old.txt\n"
	    "index 1111111..2222222 100644\n"
	    "--- a/old.txt\n"
	    "+++ b/old.txt\n"
	    "@@ -3 +2,0 @@\n"
	    "-gone Zq7-SECRET-9vX\n"
	    "@@ -9,0 +7,2 @@\n"
	    "+clean line\n"
	    "+x nQ4pLm8sT2\n"
	    "diff --git a/d/c d.txt b/d/c d.txt\n"
	    "new file mode 100644\n"
	    "--- /dev/null\n"
	    "+++ b/d/c d.txt\t\n"
	    "@@ -0,0 +1,2 @@\n"
	    "++++ Zq7-SECRET-9vX\n"
	    "+nothing\n"
	    "diff --git a/nQ4pLm8sT2 b/nQ4pLm8sT2\n";
	struct fx *f = *state;
	struct sweep *s = NULL;
	const struct sweep_hit *h;
	char path[128];
	size_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "%s/staged.diff", f->dir);
	put_file(path, diff, 0600);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(sweep_new(f->r, 0, &s, NULL), 0);
	assert_int_equal(sweep_diff(s, fd, "staged", NULL), 0);
	close(fd);
	sweep_sort(s);
	h = sweep_hits(s, &n);
	assert_int_equal(n, 2);
	assert_string_equal(h[0].path, "d/c d.txt");
	assert_string_equal(h[0].name, "api-key");
	assert_int_equal(h[0].kind, SWEEP_HIT_VALUE);
	assert_int_equal(h[0].line, 1);
	assert_int_equal(h[0].col, 5);
	assert_string_equal(h[1].path, "old.txt");
	assert_string_equal(h[1].name, "nkey");
	assert_int_equal(h[1].line, 8);
	assert_int_equal(h[1].col, 3);
	assert_int_equal(sweep_errors(s), 0);
	h = NULL;
	(void)sweep_problems(s, &n);
	assert_int_equal(n, 0);
	sweep_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sweep_json_valid_lines),
		cmocka_unit_test_setup_teardown(test_sweep_fix_masks_byte_exact,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sweep_report_only_leaves_file, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sweep_jsonl_backslash_joins_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sweep_json_file_stays_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_binary_not_rewritten,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sweep_changed_file_left_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sweep_read_only_not_rewritten, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sweep_sort_by_path_line_col, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sweep_missing_path_is_error, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_sweep_diff_added_lines_only, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

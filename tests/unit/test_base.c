/* Unit tests for src/base. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "airlock/base.h"

static void
test_buf_refuses_growth_past_max(void **state)
{
	struct al_buf b;

	(void)state;
	al_buf_init(&b, 8, 0);
	assert_int_equal(al_buf_append(&b, "12345678", 8), 0);
	assert_int_equal(al_buf_append(&b, "9", 1), AL_ETOOBIG);
	assert_string_equal(al_buf_str(&b), "12345678");
	al_buf_release(&b);
}

static void
test_buf_sensitive_grows_and_keeps_contents(void **state)
{
	struct al_buf b;
	int i;

	(void)state;
	al_buf_init(&b, 1 << 20, AL_BUF_SENSITIVE);
	for (i = 0; i < 1000; i++)
		assert_int_equal(al_buf_printf(&b, "%04d", i), 0);
	assert_int_equal(b.len, 4000);
	assert_memory_equal(b.data + 3996, "0999", 4);
	al_buf_reset(&b);
	assert_int_equal(b.len, 0);
	al_buf_release(&b);
}

static void
test_buf_escapes_control_and_invalid_utf8(void **state)
{
	struct al_buf b;

	(void)state;
	al_buf_init(&b, 1024, 0);
	assert_int_equal(al_buf_append_escaped(&b, "a\nb\x1b[0m\xff\xc3\xa9",
	    10), 0);
	assert_string_equal(al_buf_str(&b), "a\\nb\\x1b[0m\\xff\xc3\xa9");
	al_buf_release(&b);
}

static void
test_parse_duration_accepts_units_and_combinations(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(al_parse_duration("90s", "ttl", &v, NULL), 0);
	assert_int_equal(v, 90);
	assert_int_equal(al_parse_duration("1h30m", "ttl", &v, NULL), 0);
	assert_int_equal(v, 5400);
	assert_int_equal(al_parse_duration("2w", "ttl", &v, NULL), 0);
	assert_int_equal(v, 14 * 86400);
	assert_int_equal(al_parse_duration("45", "ttl", &v, NULL), 0);
	assert_int_equal(v, 45);
}

static void
test_parse_duration_rejects_garbage_naming_the_field(void **state)
{
	struct al_err err;
	int64_t v;

	(void)state;
	assert_int_equal(al_parse_duration("15x", "--ttl", &v, &err),
	    AL_EINVAL);
	assert_non_null(strstr(err.msg, "--ttl"));
	assert_int_equal(al_parse_duration("", "--ttl", &v, &err), AL_EINVAL);
	assert_int_equal(al_parse_duration("0s", "--ttl", &v, &err),
	    AL_EINVAL);
	assert_int_equal(al_parse_duration("1h5", "--ttl", &v, &err),
	    AL_EINVAL);
	assert_int_equal(al_parse_duration("99999999999999999999d", "--ttl",
	    &v, &err), AL_EINVAL);
	assert_int_equal(v, 0);
}

static void
test_parse_duration_ms_accepts_milliseconds(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(al_parse_duration_ms("250ms", "--grace", &v, NULL), 0);
	assert_int_equal(v, 250);
	assert_int_equal(al_parse_duration_ms("2s", "--grace", &v, NULL), 0);
	assert_int_equal(v, 2000);
	assert_int_equal(al_parse_duration_ms("0ms", "--grace", &v, NULL),
	    AL_EINVAL);
	assert_int_equal(al_parse_duration_ms("1.5ms", "--grace", &v, NULL),
	    AL_EINVAL);
}

static void
test_parse_time_accepts_dates_and_durations(void **state)
{
	int64_t t;
	char out[21];

	(void)state;
	assert_int_equal(al_parse_time("2027-01-31", 0, "--expires", &t,
	    NULL), 0);
	al_format_time(t, out);
	assert_string_equal(out, "2027-01-31T00:00:00Z");
	assert_int_equal(al_parse_time("2027-01-31T12:30:05Z", 0, "x", &t,
	    NULL), 0);
	al_format_time(t, out);
	assert_string_equal(out, "2027-01-31T12:30:05Z");
	assert_int_equal(al_parse_time("90d", 1000, "x", &t, NULL), 0);
	assert_int_equal(t, 1000 + 90 * 86400);
	assert_int_equal(al_parse_time("2027-13-01", 0, "x", &t, NULL),
	    AL_EINVAL);
	assert_int_equal(al_parse_time("tomorrow", 0, "x", &t, NULL),
	    AL_EINVAL);
}

static void
test_buf_put_uri_path_encodes_reserved_bytes(void **state)
{
	struct al_buf b;

	(void)state;
	al_buf_init(&b, 256, 0);
	assert_int_equal(al_buf_put_uri_path(&b, "src/a b#?%\xc3\xa9-._~.c"),
	    0);
	assert_string_equal(al_buf_str(&b),
	    "src/a%20b%23%3F%25%C3%A9-._~.c");
	al_buf_release(&b);
}

static void
test_utf8_put_encodes_each_length(void **state)
{
	static const struct {
		uint32_t	cp;
		const char	*utf8;
	} cases[] = {
		{ 0x41, "A" }, { 0x7f, "\x7f" }, { 0x80, "\xc2\x80" },
		{ 0x7ff, "\xdf\xbf" }, { 0x800, "\xe0\xa0\x80" },
		{ 0x20ac, "\xe2\x82\xac" }, { 0xffff, "\xef\xbf\xbf" },
		{ 0x10000, "\xf0\x90\x80\x80" },
		{ 0x1f600, "\xf0\x9f\x98\x80" },
		{ 0x10ffff, "\xf4\x8f\xbf\xbf" },
	};
	unsigned char out[4];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = al_utf8_put(cases[i].cp, out);
		assert_int_equal(n, strlen(cases[i].utf8));
		assert_memory_equal(out, cases[i].utf8, n);
	}
}

static void
test_format_duration_is_shortest(void **state)
{
	char out[32];

	(void)state;
	al_format_duration(5400, out);
	assert_string_equal(out, "1h30m");
	al_format_duration(7 * 86400, out);
	assert_string_equal(out, "1w");
}

static void
test_parse_int_checks_range(void **state)
{
	long long v;
	struct al_err err;

	(void)state;
	assert_int_equal(al_parse_int("42", 0, 100, "n", &v, NULL), 0);
	assert_int_equal(v, 42);
	assert_int_equal(al_parse_int("420", 0, 100, "--fd", &v, &err),
	    AL_EINVAL);
	assert_string_equal(err.msg, "--fd: must be between 0 and 100");
	assert_int_equal(al_parse_int("4x", 0, 100, "n", &v, NULL), AL_EINVAL);
	assert_int_equal(al_parse_int(" 4", 0, 100, "n", &v, NULL), AL_EINVAL);
}

static void
test_secret_read_fd_refuses_oversize(void **state)
{
	struct al_secret *s;
	struct al_err err;
	int p[2];
	char big[100];

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], big, sizeof(big)), (ssize_t)sizeof(big));
	close(p[1]);
	assert_int_equal(al_secret_read_fd(p[0], 50, &s, &err), AL_ETOOBIG);
	assert_null(s);
	close(p[0]);

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], big, 50), 50);
	close(p[1]);
	assert_int_equal(al_secret_read_fd(p[0], 50, &s, &err), 0);
	assert_int_equal(al_secret_len(s), 50);
	assert_memory_equal(al_secret_open(s), big, 50);
	al_secret_close(s);
	al_secret_free(s);
	close(p[0]);
	al_secret_free(NULL);
}

/* A returned block is wiped and lent again; big requests bypass the pool. */
static void
test_secret_pool_reuses_wiped_blocks(void **state)
{
	struct al_secret_pool *pool;
	struct al_secret *a, *b, *big, *c;
	unsigned char *pa, zero[64] = { 0 };

	(void)state;
	assert_int_equal(al_secret_pool_new(0, 4, &pool), AL_EINVAL);
	assert_int_equal(al_secret_pool_new(64, 1, &pool), 0);
	assert_int_equal(al_secret_pool_take(pool, 10, &a), 0);
	assert_int_equal(al_secret_cap(a), 10);
	pa = al_secret_open(a);
	memset(pa, 'k', 64);
	al_secret_set_len(a, 10);
	al_secret_close(a);
	/* Pooled secrets stay readable after close. */
	assert_int_equal(pa[3], 'k');
	al_secret_free(a);
	assert_int_equal(al_secret_pool_take(pool, 64, &b), 0);
	assert_ptr_equal(al_secret_open(b), pa);
	assert_memory_equal(pa, zero, sizeof(zero));
	assert_int_equal(al_secret_len(b), 0);
	/* Larger than a block: an ordinary guarded secret. */
	assert_int_equal(al_secret_pool_take(pool, 65, &big), 0);
	assert_int_equal(al_secret_cap(big), 65);
	assert_ptr_not_equal(al_secret_open(big), pa);
	al_secret_close(big);
	al_secret_free(big);
	/* With the idle slot taken, a second loan maps a new block. */
	assert_int_equal(al_secret_pool_take(pool, 8, &c), 0);
	assert_ptr_not_equal(al_secret_open(c), pa);
	/* The pool may go first; the loans free it when they come back. */
	al_secret_pool_free(pool);
	al_secret_free(b);
	al_secret_free(c);
	assert_int_equal(al_secret_pool_take(NULL, 5, &a), 0);
	al_secret_free(a);
}

static void
test_fs_check_private_names_path_and_mode(void **state)
{
	char dir[] = "/tmp/al_base_XXXXXX";
	char file[64];
	struct al_err err;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(al_fs_check_private(dir, 1, &err), 0);
	assert_int_equal(chmod(dir, 0750), 0);
	assert_int_equal(al_fs_check_private(dir, 1, &err), AL_EPERM);
	assert_non_null(strstr(err.msg, dir));
	assert_non_null(strstr(err.msg, "0750"));
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(al_path_join(file, sizeof(file), dir, "k"), 0);
	assert_int_equal(al_fs_write_new(file, "abc", 3, &err), 0);
	assert_int_equal(al_fs_write_new(file, "abc", 3, &err), AL_EEXIST);
	assert_int_equal(al_fs_check_private(file, 0, &err), 0);
	assert_int_equal(chmod(file, 0644), 0);
	assert_int_equal(al_fs_check_private(file, 0, &err), AL_EPERM);
	assert_non_null(strstr(err.msg, "0644"));
	unlink(file);
	rmdir(dir);
}

static void
test_buf_read_fd_reads_to_eof_within_max(void **state)
{
	struct al_buf b;
	struct al_err err;
	char big[100];
	int p[2];

	(void)state;
	memset(big, 'y', sizeof(big));
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], big, sizeof(big)), (ssize_t)sizeof(big));
	close(p[1]);
	al_buf_init(&b, 1000, 0);
	assert_int_equal(al_buf_read_fd(&b, p[0], 100, "pipe", &err), 0);
	assert_int_equal(b.len, 100);
	close(p[0]);
	al_buf_release(&b);

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], big, sizeof(big)), (ssize_t)sizeof(big));
	close(p[1]);
	al_buf_init(&b, 1000, 0);
	assert_int_equal(al_buf_read_fd(&b, p[0], 99, "cfg.yaml", &err),
	    AL_ETOOBIG);
	assert_string_equal(err.msg, "cfg.yaml is larger than 99 bytes");
	close(p[0]);
	al_buf_release(&b);
}

static void
test_err_set_escapes_control_characters(void **state)
{
	struct al_err err;

	(void)state;
	assert_int_equal(al_err_set(&err, AL_EINVAL, "bad %s", "a\nb"),
	    AL_EINVAL);
	assert_string_equal(err.msg, "bad a\\x0ab");
	assert_int_equal(al_err_set(NULL, AL_EIO, "x"), AL_EIO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_refuses_growth_past_max),
		cmocka_unit_test(test_buf_sensitive_grows_and_keeps_contents),
		cmocka_unit_test(test_buf_escapes_control_and_invalid_utf8),
		cmocka_unit_test(test_parse_duration_accepts_units_and_combinations),
		cmocka_unit_test(test_parse_duration_rejects_garbage_naming_the_field),
		cmocka_unit_test(test_parse_duration_ms_accepts_milliseconds),
		cmocka_unit_test(test_parse_time_accepts_dates_and_durations),
		cmocka_unit_test(test_format_duration_is_shortest),
		cmocka_unit_test(test_utf8_put_encodes_each_length),
		cmocka_unit_test(test_buf_put_uri_path_encodes_reserved_bytes),
		cmocka_unit_test(test_parse_int_checks_range),
		cmocka_unit_test(test_secret_read_fd_refuses_oversize),
		cmocka_unit_test(test_secret_pool_reuses_wiped_blocks),
		cmocka_unit_test(test_fs_check_private_names_path_and_mode),
		cmocka_unit_test(test_buf_read_fd_reads_to_eof_within_max),
		cmocka_unit_test(test_err_set_escapes_control_characters),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

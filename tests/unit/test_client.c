/*
 * The client's libcurl, loaded at run time: the table has every function,
 * the variadic curl_easy_setopt and curl_easy_getinfo work through it with
 * their documented argument types, and a library that cannot be loaded is
 * an error that names it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "airlock/client.h"
#include "curl_dl.h"

static void
test_curl_dl_loads_every_function(void **state)
{
	struct curl_dl t, zero;
	struct al_err err;

	(void)state;
	assert_int_equal(curl_dl_open(&t, CURL_DL_SONAME, &err), 0);
	assert_non_null(t.handle);
#define CHECK(field, fn)	assert_non_null(t.field);
	CURL_DL_FUNCS(CHECK)
#undef CHECK
	curl_dl_close(&t);
	memset(&zero, 0, sizeof(zero));
	assert_memory_equal(&t, &zero, sizeof(t));
	curl_dl_close(&t);	/* a cleared table: no-op */
}

/* A pointer and a long go in through setopt and come back out of getinfo. */
static void
test_curl_dl_variadic_calls_pass_their_types(void **state)
{
	struct curl_dl t;
	struct al_err err;
	struct curl_slist *l = NULL;
	char tag[] = "airlock-test", *got = NULL;
	long code = -1;
	CURL *c;

	(void)state;
	assert_int_equal(curl_dl_open(&t, CURL_DL_SONAME, &err), 0);
	assert_non_null(c = t.easy_init());
	assert_int_equal(t.easy_setopt(c, CURLOPT_PRIVATE, tag), CURLE_OK);
	assert_int_equal(t.easy_getinfo(c, CURLINFO_PRIVATE, &got), CURLE_OK);
	assert_ptr_equal(got, tag);
	assert_int_equal(t.easy_setopt(c, CURLOPT_TIMEOUT_MS, 1500L),
	    CURLE_OK);
	assert_int_equal(t.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "nope"),
	    CURLE_UNSUPPORTED_PROTOCOL);
	/* Nothing transferred yet: no response code. */
	assert_int_equal(t.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code),
	    CURLE_OK);
	assert_int_equal(code, 0);
	assert_string_equal(t.easy_strerror(CURLE_COULDNT_CONNECT),
	    "Couldn't connect to server");
	assert_non_null(l = t.slist_append(l, "Expect:"));
	assert_string_equal(l->data, "Expect:");
	t.slist_free_all(l);
	t.easy_cleanup(c);
	curl_dl_close(&t);
}

static void
test_curl_dl_missing_library_names_it_and_who_needs_it(void **state)
{
	struct curl_dl t, zero;
	struct al_err err;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(curl_dl_open(&t, "libcurl.so.0-airlock-test-missing",
	    &err), AL_ESYS);
	assert_string_equal(err.msg, "talking to the broker needs libcurl "
	    "(libcurl.so.0-airlock-test-missing): "
	    "libcurl.so.0-airlock-test-missing: cannot open shared object "
	    "file: No such file or directory");
	assert_memory_equal(&t, &zero, sizeof(t));
}

/* Another library in its place: the first missing function is named. */
static void
test_curl_dl_wrong_library_names_the_function(void **state)
{
	struct curl_dl t, zero;
	struct al_err err;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(curl_dl_open(&t, "libc.so.6", &err), AL_ESYS);
	assert_non_null(strstr(err.msg, "needs libcurl (libc.so.6): "));
	assert_non_null(strstr(err.msg, "undefined symbol: curl_easy_init"));
	assert_memory_equal(&t, &zero, sizeof(t));
}

/* The whole client through the table: no broker on the socket. */
static void
test_client_open_without_broker_says_so(void **state)
{
	char dir[] = "/tmp/airlock-test-client.XXXXXX", sock[64], want[128];
	struct client_opts o;
	struct client *cl = NULL;
	struct al_err err;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(sock, sizeof(sock), "%s/airlockd.sock", dir);
	memset(&o, 0, sizeof(o));
	o.home = dir;
	o.socket_path = sock;
	o.airlock_bin = NULL;	/* never autostart */
	assert_int_equal(client_open(&o, &cl, &err), AL_EUNAVAIL);
	assert_null(cl);
	(void)snprintf(want, sizeof(want), "no broker answers on %s: start "
	    "one with `airlock serve`", sock);
	assert_string_equal(err.msg, want);
	client_close(NULL);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_client_name_that_looks_like_a_value_is_refused(void **state)
{
	static const char *const values[] = {
		"4f9a2b7c1d3e5f60718293a4b5c6d7e8f9012345",	/* 40 hex */
		"sk_live_51h8abcdef0123456789xyz",
		"ghp_a1b2c3d4e5f6g7h8i9j0",
		"123e4567-e89b-12d3-a456-426614174000",		/* a UUID */
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",		/* 32, no digit */
	};
	static const char *const names[] = {
		"deploy-token", "prod-db", "github-pat-2024", "aws.key_id",
		"stripe-live", "x1", "registry-token", "tls-key",
		"build-20240101", "service-account-json",
	};
	struct al_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		assert_true(client_name_looks_like_value(values[i]));
		assert_int_equal(client_name_check(values[i], &err),
		    AL_EINVAL);
		/* The message never repeats what was judged. */
		assert_null(strstr(err.msg, values[i]));
		assert_non_null(strstr(err.msg, "this looks like a value"));
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_false(client_name_looks_like_value(names[i]));
		assert_int_equal(client_name_check(names[i], &err), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_curl_dl_loads_every_function),
		cmocka_unit_test(test_curl_dl_variadic_calls_pass_their_types),
		cmocka_unit_test(
		    test_curl_dl_missing_library_names_it_and_who_needs_it),
		cmocka_unit_test(test_curl_dl_wrong_library_names_the_function),
		cmocka_unit_test(test_client_open_without_broker_says_so),
		cmocka_unit_test(
		    test_client_name_that_looks_like_a_value_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for src/vault: envelope encryption, tampering, key changes. */
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
#include <sqlite3.h>

#include "airlock/vault.h"

struct fixture {
	char		 home[64];
	int64_t		 now;
	struct al_clock	 clock;
	struct vault	*v;
};

static int64_t
fake_now(void *arg)
{
	return ((struct fixture *)arg)->now;
}

static int64_t
fake_now_ms(void *arg)
{
	return ((struct fixture *)arg)->now * 1000;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vault_key key = { VAULT_KEY_KIND_FILE, NULL };

	(void)snprintf(f->home, sizeof(f->home), "/tmp/al_vault_XXXXXX");
	if (mkdtemp(f->home) == NULL)
		return -1;
	f->now = 1800000000;
	f->clock.now = fake_now;
	f->clock.now_ms = fake_now_ms;
	f->clock.arg = f;
	if (vault_create(f->home, &key, &f->clock, NULL) != 0 ||
	    vault_open(f->home, &f->clock, &f->v, NULL) != 0 ||
	    vault_unlock(f->v, &key, NULL) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	vault_close(f->v);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->home);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
add(struct fixture *f, const char *name, const void *val, size_t n)
{
	struct vault_meta m;
	struct al_secret *s;

	memset(&m, 0, sizeof(m));
	(void)snprintf(m.name, sizeof(m.name), "%s", name);
	m.owner = "team";
	m.purpose = "tests";
	assert_int_equal(al_secret_from(val, n, &s), 0);
	assert_int_equal(vault_secret_add(f->v, &m, s, NULL), 0);
	al_secret_free(s);
}

static void
check_value(struct fixture *f, const char *name, const void *val, size_t n)
{
	struct al_secret *s;
	struct al_err err;

	assert_int_equal(vault_secret_read(f->v, name, &s, NULL, &err), 0);
	assert_int_equal(al_secret_len(s), n);
	assert_memory_equal(al_secret_open(s), val, n);
	al_secret_free(s);
}

/* Run SQL against the vault file behind the vault's back. */
static void
tamper(struct fixture *f, const char *sql)
{
	char path[128];
	sqlite3 *db;

	(void)snprintf(path, sizeof(path), "%s/vault.db", f->home);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
test_vault_value_roundtrip_is_binary_safe(void **state)
{
	struct fixture *f = *state;
	unsigned char big[VAULT_VALUE_MAX];

	add(f, "bin", "a\0b\nc\xff", 6);
	check_value(f, "bin", "a\0b\nc\xff", 6);
	randombytes_buf(big, sizeof(big));
	add(f, "big", big, sizeof(big));
	check_value(f, "big", big, sizeof(big));
}

static void
test_vault_add_refuses_duplicate_and_bad_input(void **state)
{
	struct fixture *f = *state;
	struct vault_meta m;
	struct al_secret *s, *empty, *huge;
	struct al_err err;

	add(f, "dup", "value-1234", 10);
	memset(&m, 0, sizeof(m));
	strcpy(m.name, "dup");
	m.owner = "o";
	m.purpose = "p";
	assert_int_equal(al_secret_from("x", 1, &s), 0);
	assert_int_equal(vault_secret_add(f->v, &m, s, &err), AL_EEXIST);
	assert_non_null(strstr(err.msg, "'dup' already exists"));
	strcpy(m.name, "Bad Name");
	assert_int_equal(vault_secret_add(f->v, &m, s, &err), AL_EINVAL);
	strcpy(m.name, "ok");
	m.owner = NULL;
	assert_int_equal(vault_secret_add(f->v, &m, s, &err), AL_EINVAL);
	assert_string_equal(err.msg, "owner must not be empty");
	m.owner = "o";
	assert_int_equal(al_secret_new(0, &empty), 0);
	assert_int_equal(vault_secret_add(f->v, &m, empty, &err), AL_EINVAL);
	assert_int_equal(al_secret_new(VAULT_VALUE_MAX + 1, &huge), 0);
	al_secret_set_len(huge, VAULT_VALUE_MAX + 1);
	assert_int_equal(vault_secret_add(f->v, &m, huge, &err), AL_ETOOBIG);
	al_secret_free(s);
	al_secret_free(empty);
	al_secret_free(huge);
}

static void
test_vault_name_rules(void **state)
{
	(void)state;
	assert_int_equal(vault_name_check("deploy-token", NULL), 0);
	assert_int_equal(vault_name_check("a", NULL), 0);
	assert_int_equal(vault_name_check("0.x_y-z", NULL), 0);
	assert_int_equal(vault_name_check("-lead", NULL), AL_EINVAL);
	assert_int_equal(vault_name_check(".lead", NULL), AL_EINVAL);
	assert_int_equal(vault_name_check("GITHUB_TOKEN", NULL), 0);
	assert_int_equal(vault_name_check("work/aws/key", NULL), 0);
	assert_int_equal(vault_name_check("Work/AWS.key-2", NULL), 0);
	assert_int_equal(vault_name_check("", NULL), AL_EINVAL);
	assert_int_equal(vault_name_check("/a", NULL), AL_EINVAL);
	assert_int_equal(vault_name_check("a/", NULL), AL_EINVAL);
	assert_int_equal(vault_name_check("a//b", NULL), AL_EINVAL);
	assert_int_equal(vault_name_check("a/./b", NULL), AL_EINVAL);
	assert_int_equal(vault_name_check("a/../b", NULL), AL_EINVAL);
	assert_int_equal(vault_name_check("a/-b", NULL), AL_EINVAL);
	assert_int_equal(vault_name_check("a b", NULL), AL_EINVAL);
	assert_int_equal(vault_name_check("a:b", NULL), AL_EINVAL);
	assert_int_equal(vault_name_check(
	    "a234567890123456789012345678901234567890123456789012345678901234",
	    NULL), 0);
	assert_int_equal(vault_name_check(
	    "a2345678901234567890123456789012345678901234567890123456789012345",
	    NULL), AL_EINVAL);
}

static void
test_vault_swapped_rows_fail_to_open_naming_the_secret(void **state)
{
	struct fixture *f = *state;
	struct al_secret *s;
	struct al_err err;

	add(f, "alpha", "alpha-value-1", 13);
	add(f, "beta", "beta-value-22", 13);
	add(f, "gamma", "gamma-value-3", 13);
	/* Give beta alpha's sealed value: the AD binds id and name. */
	tamper(f, "UPDATE secrets SET nonce=(SELECT nonce FROM secrets WHERE "
	    "name='alpha'), ct=(SELECT ct FROM secrets WHERE name='alpha') "
	    "WHERE name='beta';");
	assert_int_equal(vault_secret_read(f->v, "beta", &s, NULL, &err),
	    AL_ECRYPTO);
	assert_null(s);
	assert_non_null(strstr(err.msg, "secret 'beta'"));
	/* The others still open. */
	check_value(f, "alpha", "alpha-value-1", 13);
	check_value(f, "gamma", "gamma-value-3", 13);
}

static void
test_vault_replayed_old_version_fails(void **state)
{
	struct fixture *f = *state;
	struct al_secret *s, *nv;
	struct al_err err;

	add(f, "tok", "version-one-value", 17);
	tamper(f, "CREATE TABLE old AS SELECT nonce, ct FROM secrets WHERE "
	    "name='tok';");
	assert_int_equal(al_secret_from("version-two-value", 17, &nv), 0);
	assert_int_equal(vault_secret_rotate(f->v, "tok", nv, NULL), 0);
	al_secret_free(nv);
	check_value(f, "tok", "version-two-value", 17);
	/* Put version 1's ciphertext back under version 2. */
	tamper(f, "UPDATE secrets SET nonce=(SELECT nonce FROM old), "
	    "ct=(SELECT ct FROM old) WHERE name='tok';");
	assert_int_equal(vault_secret_read(f->v, "tok", &s, NULL, &err),
	    AL_ECRYPTO);
	assert_non_null(strstr(err.msg, "secret 'tok'"));
}

static void
test_vault_flipped_byte_fails(void **state)
{
	struct fixture *f = *state;
	struct al_secret *s;
	struct al_err err;

	add(f, "tok", "some-secret-value", 17);
	/* Another byte whatever it was (x'00' over a 0 changed nothing). */
	tamper(f, "UPDATE secrets SET ct = substr(ct, 1, 3) || "
	    "CASE WHEN substr(ct, 4, 1) = x'00' THEN x'01' ELSE x'00' END || "
	    "substr(ct, 5) WHERE name='tok';");
	assert_int_equal(vault_secret_read(f->v, "tok", &s, NULL, &err),
	    AL_ECRYPTO);
}

static void
test_vault_rotate_bumps_version_and_time(void **state)
{
	struct fixture *f = *state;
	struct vault_meta m;
	struct al_secret *nv;

	add(f, "tok", "first-value-xyz", 15);
	f->now += 100;
	assert_int_equal(al_secret_from("second-value-xyz", 16, &nv), 0);
	assert_int_equal(vault_secret_rotate(f->v, "tok", nv, NULL), 0);
	al_secret_free(nv);
	assert_int_equal(vault_secret_get(f->v, "tok", &m, NULL), 0);
	assert_int_equal(m.version, 2);
	assert_int_equal(m.last_rotated, f->now);
	assert_int_equal(m.created, f->now - 100);
	vault_meta_release(&m);
	check_value(f, "tok", "second-value-xyz", 16);
}

static void
test_vault_status_expired_and_rotation_due_follow_clock(void **state)
{
	struct fixture *f = *state;
	struct vault_meta m, *list;
	size_t n;

	add(f, "tok", "value-12345678", 14);
	assert_int_equal(vault_secret_get(f->v, "tok", &m, NULL), 0);
	m.expires = f->now + 3600;
	m.rotate_every = 86400;
	assert_int_equal(vault_secret_update(f->v, &m, NULL), 0);
	vault_meta_release(&m);
	assert_int_equal(vault_secret_list(f->v, &list, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(vault_meta_status(&list[0], f->now), VAULT_ACTIVE);
	assert_false(vault_meta_rotation_due(&list[0], f->now));
	assert_int_equal(vault_meta_status(&list[0], f->now + 3600),
	    VAULT_EXPIRED);
	assert_true(vault_meta_rotation_due(&list[0], f->now + 86400));
	vault_meta_list_free(list, n);
}

static void
test_vault_unknown_name_suggests_near_miss(void **state)
{
	struct fixture *f = *state;
	struct vault_meta m;
	struct al_err err;

	add(f, "deploy-token", "value-12345678", 14);
	assert_int_equal(vault_secret_get(f->v, "deploy-tokn", &m, &err),
	    AL_ENOENT);
	assert_string_equal(err.msg, "no secret named 'deploy-tokn' (did you "
	    "mean 'deploy-token'?)");
	assert_int_equal(vault_secret_remove(f->v, "zzz", &err), AL_ENOENT);
	assert_string_equal(err.msg, "no secret named 'zzz'");
}

static void
test_vault_remove_is_for_good(void **state)
{
	struct fixture *f = *state;
	struct vault_meta *list;
	size_t n;

	add(f, "tok", "value-12345678", 14);
	assert_int_equal(vault_secret_remove(f->v, "tok", NULL), 0);
	assert_int_equal(vault_secret_list(f->v, &list, &n, NULL), 0);
	assert_int_equal(n, 0);
	free(list);
}

static void
test_vault_refuses_to_overwrite(void **state)
{
	struct fixture *f = *state;
	struct vault_key key = { VAULT_KEY_KIND_FILE, NULL };
	struct al_err err;

	assert_int_equal(vault_create(f->home, &key, &f->clock, &err),
	    AL_EEXIST);
	assert_non_null(strstr(err.msg, "refusing to overwrite"));
}

static void
test_vault_refuses_unsafe_permissions(void **state)
{
	struct fixture *f = *state;
	struct vault *v;
	struct al_err err;
	char path[128];

	assert_int_equal(chmod(f->home, 0755), 0);
	assert_int_equal(vault_open(f->home, &f->clock, &v, &err), AL_EPERM);
	assert_non_null(strstr(err.msg, "0755"));
	assert_int_equal(chmod(f->home, 0700), 0);
	(void)snprintf(path, sizeof(path), "%s/master.key", f->home);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(vault_open(f->home, &f->clock, &v, &err), 0);
	{
		struct vault_key key = { VAULT_KEY_KIND_FILE, NULL };

		assert_int_equal(vault_unlock(v, &key, &err), AL_EPERM);
		assert_non_null(strstr(err.msg, "master.key has mode 0640"));
	}
	vault_close(v);
	assert_int_equal(chmod(path, 0600), 0);
}

static void
test_vault_missing_is_reported(void **state)
{
	struct fixture *f = *state;
	struct vault *v;
	struct al_err err;
	char path[128];

	(void)snprintf(path, sizeof(path), "%s/none", f->home);
	assert_int_equal(vault_open(path, &f->clock, &v, &err), AL_ENOVAULT);
	assert_non_null(strstr(err.msg, "run `airlock init`"));
}

static void
test_vault_key_change_keeps_values_and_aux_keys(void **state)
{
	struct fixture *f = *state;
	struct vault_key pk = { VAULT_KEY_KIND_PASSPHRASE, NULL };
	struct vault_key bad = { VAULT_KEY_KIND_PASSPHRASE, NULL };
	struct vault_key fk = { VAULT_KEY_KIND_FILE, NULL };
	struct al_secret *a1, *a2;
	struct vault *v;
	struct al_err err;
	char path[128];

	add(f, "tok", "value-abcdefgh", 14);
	assert_int_equal(vault_aux_key(f->v, "audit", &a1, NULL), 0);
	assert_int_equal(al_secret_from("correct horse", 13, &pk.passphrase),
	    0);
	assert_int_equal(al_secret_from("wrong horse", 11, &bad.passphrase), 0);
	assert_int_equal(vault_key_change(f->v, &pk, &err), 0);
	(void)snprintf(path, sizeof(path), "%s/master.key", f->home);
	assert_int_not_equal(access(path, F_OK), 0);

	assert_int_equal(vault_open(f->home, &f->clock, &v, NULL), 0);
	assert_int_equal(vault_key_kind(v), VAULT_KEY_KIND_PASSPHRASE);
	assert_int_equal(vault_unlock(v, &bad, &err), AL_EBADKEY);
	assert_non_null(strstr(err.msg, "wrong passphrase"));
	assert_int_equal(vault_unlock(v, &pk, NULL), 0);
	assert_int_equal(vault_aux_key(v, "audit", &a2, NULL), 0);
	assert_memory_equal(al_secret_open(a1), al_secret_open(a2), 32);
	al_secret_free(a2);
	/* And back to a key file. */
	assert_int_equal(vault_key_change(v, &fk, NULL), 0);
	vault_close(v);
	assert_int_equal(vault_open(f->home, &f->clock, &v, NULL), 0);
	assert_int_equal(vault_key_kind(v), VAULT_KEY_KIND_FILE);
	assert_int_equal(vault_unlock(v, &fk, NULL), 0);
	vault_close(f->v);
	f->v = v;
	check_value(f, "tok", "value-abcdefgh", 14);
	assert_int_equal(vault_aux_key(v, "audit", &a2, NULL), 0);
	assert_memory_equal(al_secret_open(a1), al_secret_open(a2), 32);
	al_secret_free(a1);
	al_secret_free(a2);
	al_secret_free(pk.passphrase);
	al_secret_free(bad.passphrase);
}

static void
test_vault_foreign_key_file_is_refused(void **state)
{
	struct fixture *f = *state;
	struct vault_key fk = { VAULT_KEY_KIND_FILE, NULL };
	char other[64], cmd[256];
	struct vault *v;
	struct al_err err;

	(void)snprintf(other, sizeof(other), "/tmp/al_vault2_XXXXXX");
	assert_non_null(mkdtemp(other));
	assert_int_equal(vault_create(other, &fk, &f->clock, NULL), 0);
	(void)snprintf(cmd, sizeof(cmd), "cp '%s/master.key' '%s/master.key' "
	    "&& rm -rf '%s'", other, f->home, other);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(vault_open(f->home, &f->clock, &v, NULL), 0);
	assert_int_equal(vault_unlock(v, &fk, &err), AL_EBADKEY);
	assert_non_null(strstr(err.msg, "does not open this vault"));
	vault_close(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_vault_value_roundtrip_is_binary_safe),
		T(test_vault_add_refuses_duplicate_and_bad_input),
		T(test_vault_name_rules),
		T(test_vault_swapped_rows_fail_to_open_naming_the_secret),
		T(test_vault_replayed_old_version_fails),
		T(test_vault_flipped_byte_fails),
		T(test_vault_rotate_bumps_version_and_time),
		T(test_vault_status_expired_and_rotation_due_follow_clock),
		T(test_vault_unknown_name_suggests_near_miss),
		T(test_vault_remove_is_for_good),
		T(test_vault_refuses_to_overwrite),
		T(test_vault_refuses_unsafe_permissions),
		T(test_vault_missing_is_reported),
		T(test_vault_key_change_keeps_values_and_aux_keys),
		T(test_vault_foreign_key_file_is_refused),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

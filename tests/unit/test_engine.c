/*
 * Unit tests for src/engine: configuration from labels, the root
 * credential's format, SCRAM verifiers, and the durable record of a
 * credential (written before the database is asked, kept when it fails).
 * The end-to-end test (t_dynamic.sh) runs the postgres engine against a
 * real PostgreSQL.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "cred_int.h"
#include "pq_dl.h"
#include "state_int.h"

static int
parse(const struct engine_kv *kv, size_t n, struct engine_config *c,
    struct al_err *err)
{
	al_err_clear(err);
	return engine_config_from_kv(kv, n, c, err);
}

static void
test_engine_config_from_labels(void **state)
{
	const struct engine_kv kv[] = {
		{ "engine", "postgres" },
		{ "engine.connection", "host=/tmp dbname=app" },
		{ "engine.grant.2", "GRANT b TO {{role}}" },
		{ "engine.grant.1", "GRANT a TO {{role}}" },
		{ "engine.role-prefix", "app_" },
		{ "team", "x" },
	};
	struct engine_config c;
	struct al_err err;

	(void)state;
	assert_int_equal(parse(kv, 6, &c, &err), 0);
	assert_string_equal(c.engine, "postgres");
	assert_string_equal(c.prefix, "app_");
	assert_int_equal(c.ngrants, 2);
	assert_string_equal(c.grants[0], "GRANT a TO {{role}}");
	assert_string_equal(c.grants[1], "GRANT b TO {{role}}");
	assert_null(c.group);
	engine_config_release(&c);
}

static void
test_engine_config_refuses_bad_labels(void **state)
{
	struct engine_kv kv[] = {
		{ "engine", "postgres" },
		{ "engine.connection", "host=/tmp password=x" },
		{ "engine.group", "g" },
	};
	struct engine_config c;
	struct al_err err;

	(void)state;
	assert_int_equal(parse(kv, 3, &c, &err), AL_EINVAL);
	assert_string_equal(err.msg, "--connection must not hold a password: "
	    "give it on stdin (it is stored encrypted)");
	kv[1].value = "host=/tmp";
	kv[2].key = "engine.grant.2";
	assert_int_equal(parse(kv, 3, &c, &err), AL_EINVAL);
	assert_string_equal(err.msg, "label 'engine.grant.1' is missing");
	kv[2].key = "engine.role-prefix";
	kv[2].value = "Bad-";
	assert_int_equal(parse(kv, 3, &c, &err), AL_EINVAL);
	assert_string_equal(err.msg, "--engine postgres needs --group ROLE or "
	    "at least one --grant SQL");
	kv[0].value = "oracle";
	assert_int_equal(parse(kv, 1, &c, &err), AL_EINVAL);
	assert_string_equal(err.msg, "--engine: unknown engine 'oracle' "
	    "(known: postgres, exec, github-app)");
}

static void
test_engine_config_refuses_short_or_odd_prefix(void **state)
{
	struct engine_kv kv[] = {
		{ "engine", "postgres" },
		{ "engine.connection", "dbname=app" },
		{ "engine.group", "g" },
		{ "engine.role-prefix", "a-b" },
	};
	struct engine_config c;
	struct al_err err;

	(void)state;
	assert_int_equal(parse(kv, 4, &c, &err), AL_EINVAL);
	assert_string_equal(err.msg, "--role-prefix: only a-z, 0-9 and _ "
	    "(byte 2)");
	kv[3].value = "ab";
	assert_int_equal(parse(kv, 4, &c, &err), AL_EINVAL);
	assert_non_null(strstr(err.msg, "at least 3 characters"));
}

static void
test_engine_root_carries_a_version_byte(void **state)
{
	struct al_secret *pw = NULL, *root = NULL;
	const unsigned char *p;

	(void)state;
	assert_int_equal(al_secret_from("hunter2", 7, &pw), 0);
	assert_int_equal(engine_root_make(pw, &root), 0);
	assert_int_equal(al_secret_len(root), 8);
	p = al_secret_open(root);
	assert_int_equal(p[0], 1);
	assert_memory_equal(p + 1, "hunter2", 7);
	al_secret_close(root);
	al_secret_free(root);
	assert_int_equal(engine_root_make(NULL, &root), 0);
	assert_int_equal(al_secret_len(root), 1);
	al_secret_free(root);
	al_secret_free(pw);
}

/* The verifier's keys are those RFC 5802 derives from its own salt. */
static void
test_engine_scram_verifier_derives_rfc5802_keys(void **state)
{
	const char *pw = "0123456789abcdef";
	char v[ENGINE_SCRAM_MAX], v2[ENGINE_SCRAM_MAX], *salt_b64, *keys;
	unsigned char salt[64], salted[32], ck[32], stored[32], sk[32];
	unsigned char got[64];
	size_t salt_len, got_len;
	unsigned int n = 32;
	struct pq_dl dl;
	struct al_err err;

	(void)state;
	memset(&dl, 0, sizeof(dl));
	assert_int_equal(pq_dl_open(&dl, &err), 0);
	assert_int_equal(engine_scram_verifier(&dl, pw, strlen(pw), 4096, v,
	    sizeof(v)), 0);
	assert_int_equal(strncmp(v, "SCRAM-SHA-256$4096:", 19), 0);
	salt_b64 = v + 19;
	assert_non_null(keys = strchr(salt_b64, '$'));
	*keys++ = '\0';
	assert_int_equal(sodium_base642bin(salt, sizeof(salt), salt_b64,
	    strlen(salt_b64), NULL, &salt_len, NULL,
	    sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(salt_len, 16);
	assert_int_equal(PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt,
	    (int)salt_len, 4096, EVP_sha256(), 32, salted), 1);
	HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key",
	    10, ck, &n);
	SHA256(ck, 32, stored);
	HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Server Key",
	    10, sk, &n);
	assert_non_null(strchr(keys, ':'));
	*strchr(keys, ':') = '\0';
	assert_int_equal(sodium_base642bin(got, sizeof(got), keys,
	    strlen(keys), NULL, &got_len, NULL,
	    sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(got_len, 32);
	assert_memory_equal(got, stored, 32);
	keys += strlen(keys) + 1;
	assert_int_equal(sodium_base642bin(got, sizeof(got), keys,
	    strlen(keys), NULL, &got_len, NULL,
	    sodium_base64_VARIANT_ORIGINAL), 0);
	assert_memory_equal(got, sk, 32);
	/* A fresh salt each time. */
	assert_int_equal(engine_scram_verifier(&dl, pw, strlen(pw), 4096, v2,
	    sizeof(v2)), 0);
	pq_dl_close(&dl);
	assert_int_not_equal(strncmp(v2 + 19, salt_b64, strlen(salt_b64)), 0);
}

static void
count_revoking(const struct engine_cred *c, void *arg)
{
	if (c->revoking && strncmp(c->role, "unit_", 5) == 0)
		(*(int *)arg)++;
}

/* Remove dir and the engine's state database in it. */
static void
remove_state(const char *dir)
{
	static const char *const names[] = { "engine.db", "engine.db-wal",
	    "engine.db-shm" };
	char path[160];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		(void)unlink(path);
	}
	assert_int_equal(rmdir(dir), 0);
}

/*
 * A mint the database refuses leaves its record, queued for revocation,
 * and that record survives a restart: a role the database may have
 * created before the answer was lost is never forgotten.
 */
static void
test_engine_failed_mint_stays_recorded(void **state)
{
	const struct engine_kv kv[] = {
		{ "engine", "postgres" },
		{ "engine.connection", "host=/nonexistent/airlock port=1 "
		    "dbname=x connect_timeout=1" },
		{ "engine.group", "g" },
		{ "engine.role-prefix", "unit_" },
	};
	char dir[] = "/tmp/airlock-engine.XXXXXX", path[128];
	char role[ENGINE_ROLE_MAX + 1];
	struct engine_config c;
	struct engine *e = NULL;
	struct engine_stats st;
	struct al_secret *root = NULL, *value = NULL;
	struct al_err err;
	int n = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/engine.db", dir);
	assert_int_equal(parse(kv, 4, &c, &err), 0);
	assert_int_equal(engine_root_make(NULL, &root), 0);
	assert_int_equal(engine_open(path, NULL, &e, &err), 0);
	assert_int_equal(engine_source_set(e, "db", 1, &c, root, &err), 0);
	assert_int_equal(engine_mint(e, "db", "lease1", 7, 2000000000, NULL, &value,
	    role, &err), AL_EUNAVAIL);
	assert_null(value);
	assert_non_null(strstr(err.msg, "cannot connect to PostgreSQL"));
	engine_list(e, count_revoking, &n);
	assert_int_equal(n, 1);
	engine_stats(e, &st);
	assert_int_equal(st.revoking, 1);
	engine_free(e);
	e = NULL;
	assert_int_equal(engine_open(path, NULL, &e, &err), 0);
	n = 0;
	engine_list(e, count_revoking, &n);
	assert_int_equal(n, 1);
	engine_free(e);
	engine_config_release(&c);
	al_secret_free(root);
	remove_state(dir);
}

struct late_mint {
	struct engine	*e;
	int		 done;	/* atomic */
	int		 rc;
};

static void *
late_mint(void *arg)
{
	struct late_mint *m = arg;
	char role[ENGINE_ROLE_MAX + 1];
	struct al_secret *v = NULL;
	struct al_err err;

	m->rc = engine_mint(m->e, "x", "late", 99, 2000000000, NULL, &v, role,
	    &err);
	al_secret_free(v);
	__atomic_store_n(&m->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static int
live_none(const char *lease, void *arg)
{
	(void)lease;
	(void)arg;
	return 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

static int64_t fake_ms = 1000000;	/* atomic */

static int64_t
fake_now_ms(void *arg)
{
	(void)arg;
	return __atomic_load_n(&fake_ms, __ATOMIC_SEQ_CST);
}

static int64_t
fake_now(void *arg)
{
	return fake_now_ms(arg) / 1000;
}

/* Mint n credentials of source "x" for leases lease0.., then end them. */
static void
mint_and_end(struct engine *e, int n)
{
	char lease[32], role[ENGINE_ROLE_MAX + 1];
	struct al_secret *v = NULL;
	struct al_err err;
	size_t k;
	int i;

	for (i = 0; i < n; i++) {
		(void)snprintf(lease, sizeof(lease), "lease%d", i);
		assert_int_equal(engine_mint(e, "x", lease, (uint64_t)i + 1,
		    2000000000, NULL, &v, role, &err), 0);
		al_secret_free(v);
		v = NULL;
	}
	for (i = 0; i < n; i++) {
		(void)snprintf(lease, sizeof(lease), "lease%d", i);
		assert_int_equal(engine_lease_ended(e, lease, &k), 0);
		assert_int_equal(k, 1);
	}
}

/*
 * An exec engine with source "x" in a fresh directory, recovered with no
 * live lease: its issue command prints a credential, its revoke command is
 * what the test writes into revoke (after rig_dir, from the files it names
 * with rig_file) before rig_start.  rig_end frees it and removes the
 * directory with everything in it.
 */
struct exec_rig {
	char			 dir[32];
	char			 path[160];	/* the state database */
	char			 files[3][160];	/* named by rig_file */
	size_t			 nfiles;
	char			 revoke[512];
	struct engine_config	 c;
	struct al_secret	*root;
	struct engine		*e;
};

static void
rig_dir(struct exec_rig *r)
{
	memset(r, 0, sizeof(*r));
	(void)snprintf(r->dir, sizeof(r->dir), "/tmp/airlock-engine.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	(void)snprintf(r->path, sizeof(r->path), "%s/engine.db", r->dir);
}

/* The path of name in the rig's directory, removed by rig_end. */
static const char *
rig_file(struct exec_rig *r, const char *name)
{
	char buf[sizeof(r->files[0])], *f;

	assert_true(r->nfiles < sizeof(r->files) / sizeof(r->files[0]));
	(void)snprintf(buf, sizeof(buf), "%s/%s", r->dir, name);
	f = memcpy(r->files[r->nfiles++], buf, sizeof(buf));
	return f;
}

static void
rig_start(struct exec_rig *r, const struct al_clock *clock)
{
	const struct engine_kv kv[] = {
		{ "engine", "exec" },
		{ "engine.issue", "printf '{\"value\": \"v\", \"id\": "
		    "\"i%s\"}' \"$$\"" },
		{ "engine.revoke", r->revoke },
		{ "engine.timeout", "60" },
	};
	struct al_err err;
	size_t n;

	assert_int_equal(parse(kv, 4, &r->c, &err), 0);
	assert_int_equal(engine_root_make(NULL, &r->root), 0);
	assert_int_equal(engine_open(r->path, clock, &r->e, &err), 0);
	assert_int_equal(engine_source_set(r->e, "x", 1, &r->c, r->root,
	    &err), 0);
	assert_int_equal(engine_recover(r->e, live_none, NULL, &n, &err), 0);
}

static void
rig_end(struct exec_rig *r)
{
	size_t i;

	engine_free(r->e);
	r->e = NULL;
	engine_config_release(&r->c);
	al_secret_free(r->root);
	r->root = NULL;
	for (i = 0; i < r->nfiles; i++)
		(void)unlink(r->files[i]);
	remove_state(r->dir);
}

/*
 * A mint waits while more than ENGINE_BACKLOG ended credentials wait for
 * their first revocation: a host kept busy minting must not leave
 * revocations queued behind it.  Forty-eight credentials are ended while
 * their issuer's revoke command runs; with the engine's clock standing
 * still (every attempt just begun) a new mint waits.  But not for
 * revocations held up (a lock a lease's holder keeps makes each take the
 * lock timeout): once the attempts under way are ENGINE_BACKLOG_STUCK_MS
 * old, the mint goes on, long before the revoke command is released.
 */
static void
test_engine_mint_waits_for_queued_revocations(void **state)
{
	struct exec_rig r;
	struct engine_stats st;
	struct late_mint m = { NULL, 0, -1 };
	struct al_clock clock = { fake_now, fake_now_ms, NULL };
	const char *go;
	pthread_t th;
	size_t n;
	int i, fd;

	(void)state;
	rig_dir(&r);
	go = rig_file(&r, "go");
	(void)snprintf(r.revoke, sizeof(r.revoke), "while [ ! -e %s ]; do "
	    "sleep 0.01; done", go);
	rig_start(&r, &clock);
	mint_and_end(r.e, 48);
	m.e = r.e;
	assert_int_equal(pthread_create(&th, NULL, late_mint, &m), 0);
	sleep_ms(600);
	assert_int_equal(__atomic_load_n(&m.done, __ATOMIC_SEQ_CST), 0);
	/* The attempts under way are now held up: the mint goes on. */
	__atomic_add_fetch(&fake_ms, ENGINE_BACKLOG_STUCK_MS, __ATOMIC_SEQ_CST);
	for (i = 0; i < 6000 && !__atomic_load_n(&m.done, __ATOMIC_SEQ_CST);
	    i++)
		sleep_ms(10);
	assert_int_equal(__atomic_load_n(&m.done, __ATOMIC_SEQ_CST), 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true((fd = open(go, O_WRONLY | O_CREAT, 0600)) >= 0);
	(void)close(fd);
	assert_int_equal(m.rc, 0);
	assert_int_equal(engine_lease_ended(r.e, "late", &n), 0);
	/* Bounds, not figures: a sanitizer build starts commands slowly. */
	for (i = 0; i < 12000; i++) {
		engine_stats(r.e, &st);
		if (st.revoking == 0)
			break;
		sleep_ms(10);
	}
	assert_int_equal(st.revoking, 0);
	rig_end(&r);
}

static void *
free_engine(void *arg)
{
	engine_free(arg);
	return NULL;
}

static int
count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int c, n = 0;

	if (f == NULL)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	(void)fclose(f);
	return n;
}

static void
count_queued(const struct engine_cred *c, void *arg)
{
	*(int *)arg += c->revoking;
}

/* Credentials with a revocation attempt under way on a connection. */
static void
count_under_way(const struct engine_cred *c, void *arg)
{
	*(int *)arg += c->attempt_ms != 0;
}

/*
 * A revocation waiting for a connection when the engine stops is left
 * queued for the next start, not begun then: engine_free waits for the
 * workers, and the broker's stop with it.  Twenty credentials end while
 * their revoke command hangs: seven take the connections revocations may
 * hold (and are listed as under way), an eighth waits for one (and is not);
 * the engine is stopped, the command
 * released.  The command ran seven times, and thirteen credentials are
 * still queued when the state is opened again.
 */
static void
test_engine_stop_leaves_waiting_revocation_queued(void **state)
{
	struct exec_rig r;
	struct al_err err;
	const char *go, *tries;
	pthread_t th;
	int i, fd, left = 0, busy = 0;

	(void)state;
	rig_dir(&r);
	go = rig_file(&r, "go");
	tries = rig_file(&r, "tries");
	(void)snprintf(r.revoke, sizeof(r.revoke), "echo x >>%s; while [ ! -e "
	    "%s ]; do sleep 0.01; done", tries, go);
	rig_start(&r, NULL);
	mint_and_end(r.e, 20);
	for (i = 0; i < 12000 && count_lines(tries) < 7; i++)
		sleep_ms(10);
	sleep_ms(300);
	assert_int_equal(count_lines(tries), 7);
	/*
	 * The eighth worker waits for a connection: its revocation is not
	 * under way, and must not count as held up (a mint would then stop
	 * waiting for the queue: see backlog_wait).
	 */
	engine_list(r.e, count_under_way, &busy);
	assert_int_equal(busy, 7);
	assert_int_equal(pthread_create(&th, NULL, free_engine, r.e), 0);
	sleep_ms(300);
	assert_true((fd = open(go, O_WRONLY | O_CREAT, 0600)) >= 0);
	(void)close(fd);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(count_lines(tries), 7);
	r.e = NULL;	/* freed by free_engine */
	assert_int_equal(engine_open(r.path, NULL, &r.e, &err), 0);
	engine_list(r.e, count_queued, &left);
	assert_int_equal(left, 13);
	rig_end(&r);
}

struct find_cred {
	const char	*role;
	int		 found, attempts;
};

static void
find_cred(const struct engine_cred *c, void *arg)
{
	struct find_cred *f = arg;

	if (strcmp(c->role, f->role) == 0) {
		f->found = 1;
		f->attempts = c->attempts;
	}
}

/*
 * First attempts go before retries, but a due retry always has a worker:
 * a steady stream of ended credentials must not hold back the one whose
 * first attempt failed (it can still log in).  The first revocation fails
 * once; then two hundred credentials end, each taking 0.3 s to revoke
 * (about nine seconds of first attempts on seven connections); the failed
 * one is retried and gone long before they are.
 */
static void
test_engine_retry_not_held_back_by_first_attempts(void **state)
{
	char lease[32], role[ENGINE_ROLE_MAX + 1];
	char failing[ENGINE_ROLE_MAX + 1];
	struct exec_rig r;
	struct engine_stats st;
	struct al_secret *v = NULL;
	struct find_cred f;
	struct al_err err;
	const char *mark;
	size_t n;
	int i;

	(void)state;
	rig_dir(&r);
	mark = rig_file(&r, "failed");
	(void)snprintf(r.revoke, sizeof(r.revoke), "if [ ! -e %s ]; then : "
	    ">%s; exit 1; fi; sleep 0.3", mark, mark);
	rig_start(&r, NULL);
	for (i = 0; i <= 200; i++) {
		(void)snprintf(lease, sizeof(lease), "lease%d", i);
		assert_int_equal(engine_mint(r.e, "x", lease, (uint64_t)i + 1,
		    2000000000, NULL, &v, role, &err), 0);
		al_secret_free(v);
		v = NULL;
		if (i == 0)
			memcpy(failing, role, sizeof(failing));
	}
	assert_int_equal(engine_lease_ended(r.e, "lease0", &n), 0);
	f.role = failing;
	for (i = 0; i < 6000; i++) {
		f.found = 0;
		engine_list(r.e, find_cred, &f);
		if (f.found && f.attempts >= 1)
			break;
		sleep_ms(10);
	}
	assert_int_equal(f.attempts, 1);
	for (i = 1; i <= 200; i++) {
		(void)snprintf(lease, sizeof(lease), "lease%d", i);
		assert_int_equal(engine_lease_ended(r.e, lease, &n), 0);
	}
	for (i = 0; i < 6000; i++) {
		f.found = 0;
		engine_list(r.e, find_cred, &f);
		if (!f.found)
			break;
		sleep_ms(10);
	}
	assert_int_equal(f.found, 0);
	engine_stats(r.e, &st);
	assert_true(st.revoking > 100);	/* the stream is still under way */
	rig_end(&r);
}

/* Whether pid runs (a zombie does not). */
static int
alive(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	(void)fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] == '\0')
		return 0;
	return p[2] != 'Z';
}

/* The pid a command wrote to path, or -1. */
static pid_t
pid_in(const char *path)
{
	FILE *f;
	long v = -1;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	(void)fclose(f);
	return (pid_t)v;
}

static int
cmd_run(const char *cmd, const char *in, int timeout, size_t max,
    struct al_secret **out, struct al_secret **errout, int *status,
    struct al_err *err)
{
	struct engine_cmd c = { "the test command", cmd, "arg1", in,
	    in ? strlen(in) : 0, timeout, max, max };

	return engine_cmd_run(&c, out, errout, status, err);
}

static void
test_engine_cmd_output_in_guarded_memory(void **state)
{
	struct al_secret *o = NULL, *e = NULL;
	struct al_err err;
	int st = -1;

	(void)state;
	assert_int_equal(cmd_run("cat; printf %s \"$1\"; echo oops >&2; exit 4",
	    "in ", 5, 1024, &o, &e, &st, &err), 0);
	assert_int_equal(st, 4);
	assert_int_equal(al_secret_len(o), 7);
	assert_memory_equal(al_secret_open(o), "in arg1", 7);
	al_secret_close(o);
	assert_int_equal(al_secret_len(e), 5);
	al_secret_free(o);
	al_secret_free(e);
	assert_int_equal(cmd_run("head -c 2000 /dev/zero", NULL, 5, 1024, &o,
	    &e, &st, &err), AL_ETOOBIG);
	assert_null(o);
	assert_string_equal(err.msg, "the test command printed more than "
	    "1024 bytes");
}

/*
 * A command that closes its stdin before all was written: EPIPE for the
 * runner, not the end of a caller that does not ignore SIGPIPE.
 */
static void
test_engine_cmd_closed_stdin_is_no_sigpipe(void **state)
{
	struct al_secret *o = NULL;
	struct al_err err;
	char *big;
	int st = -1;

	(void)state;
	assert_non_null(big = malloc(1 << 20));
	memset(big, 'x', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\0';
	assert_int_equal(signal(SIGPIPE, SIG_DFL) != SIG_ERR, 1);
	assert_int_equal(cmd_run("exec <&-; sleep 0.2; echo done", big, 5,
	    1024, &o, NULL, &st, &err), 0);
	assert_int_equal(st, 0);
	assert_int_equal(al_secret_len(o), 5);
	al_secret_free(o);
	free(big);
}

/*
 * What a command leaves behind -- a child that left its process group, an
 * orphan -- ends with it, and everything ends at the timeout.
 */
static void *
finish_at_once(void *arg)
{
	return arg;
}

/*
 * A command's status is its own whatever the calling process's other
 * threads do: one that has finished and is not joined yet (the broker's
 * minting threads while it stops) must not show in the keeper, whose exit
 * a sanitizer's runtime took for its own and gave status 66 (a thread
 * leak report).  The status is checked for 0 and for 3.
 */
static void
test_engine_cmd_status_with_a_finished_thread(void **state)
{
	struct al_secret *o = NULL;
	struct al_err err;
	pthread_t th;
	int st = -1;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, finish_at_once, NULL), 0);
	sleep_ms(200);		/* finished, not joined */
	assert_int_equal(cmd_run("echo v", NULL, 10, 1024, &o, NULL, &st,
	    &err), 0);
	assert_int_equal(st, 0);
	al_secret_free(o);
	o = NULL;
	assert_int_equal(cmd_run("echo v; exit 3", NULL, 10, 1024, &o, NULL,
	    &st, &err), 0);
	assert_int_equal(st, 3);
	al_secret_free(o);
	assert_int_equal(pthread_join(th, NULL), 0);
}

static void
test_engine_cmd_leaves_nothing_running(void **state)
{
	struct al_secret *o = NULL;
	struct al_err err;
	char dir[] = "/tmp/al-test-cmd.XXXXXX", cmd[512], p1[64], p2[64];
	pid_t a, b;
	int st = -1, i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	(void)snprintf(p1, sizeof(p1), "%s/a", dir);
	(void)snprintf(p2, sizeof(p2), "%s/b", dir);
	(void)snprintf(cmd, sizeof(cmd), "setsid sleep 93 </dev/null "
	    ">/dev/null 2>&1 & echo $! >%s; (sleep 93 </dev/null >/dev/null "
	    "2>&1 & echo $! >%s); echo v", p1, p2);
	assert_int_equal(cmd_run(cmd, NULL, 5, 1024, &o, NULL, &st, &err), 0);
	assert_int_equal(st, 0);
	al_secret_free(o);
	a = pid_in(p1);
	b = pid_in(p2);
	assert_true(a > 0 && b > 0);
	for (i = 0; i < 100 && (alive(a) || alive(b)); i++)
		usleep(50000);
	assert_false(alive(a));
	assert_false(alive(b));
	(void)snprintf(cmd, sizeof(cmd), "setsid sleep 93 </dev/null "
	    ">/dev/null 2>&1 & echo $! >%s; exec sleep 93", p1);
	assert_int_equal(cmd_run(cmd, NULL, 1, 1024, &o, NULL, &st, &err),
	    AL_ETIMEDOUT);
	assert_null(o);
	assert_string_equal(err.msg, "the test command: killed after 1 s");
	a = pid_in(p1);
	assert_true(a > 0);
	for (i = 0; i < 100 && alive(a); i++)
		usleep(50000);
	assert_false(alive(a));
	(void)unlink(p1);
	(void)unlink(p2);
	(void)rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_config_from_labels),
		cmocka_unit_test(test_engine_config_refuses_bad_labels),
		cmocka_unit_test(test_engine_config_refuses_short_or_odd_prefix),
		cmocka_unit_test(test_engine_root_carries_a_version_byte),
		cmocka_unit_test(test_engine_scram_verifier_derives_rfc5802_keys),
		cmocka_unit_test(test_engine_failed_mint_stays_recorded),
		cmocka_unit_test(test_engine_mint_waits_for_queued_revocations),
		cmocka_unit_test(test_engine_stop_leaves_waiting_revocation_queued),
		cmocka_unit_test(test_engine_retry_not_held_back_by_first_attempts),
		cmocka_unit_test(test_engine_cmd_output_in_guarded_memory),
		cmocka_unit_test(test_engine_cmd_closed_stdin_is_no_sigpipe),
		cmocka_unit_test(test_engine_cmd_leaves_nothing_running),
		cmocka_unit_test(test_engine_cmd_status_with_a_finished_thread),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

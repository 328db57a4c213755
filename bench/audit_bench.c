/*
 * Appends per second to the audit log: one fdatasync per append, appends
 * from many threads sharing syncs (group commit), batches made durable by
 * one audit_sync, and no sync at all for reference.
 *
 * usage: bench_audit DIR [N]
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/audit.h"

struct ctx {
	struct audit_log	*log;
	const struct audit_event *ev;
	long			 n;
	int			 rc;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
worker(void *arg)
{
	struct ctx *c = arg;
	long i;

	for (i = 0; i < c->n && c->rc == 0; i++)
		c->rc = audit_append(c->log, c->ev, NULL, NULL);
	return NULL;
}

static int
open_fresh(const char *dir, const char *name, struct al_secret *key,
    struct audit_log **log)
{
	char path[PATH_MAX], head[PATH_MAX + 8];
	struct al_err err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(head, sizeof(head), "%s.head", path);
	unlink(path);
	unlink(head);
	if (audit_open(path, key, al_clock_system(), log, &err) != 0) {
		fprintf(stderr, "bench_audit: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static void
report(const char *what, long n, double secs)
{
	printf("%-44s %8ld appends in %6.2f s = %9.0f appends/s\n", what, n,
	    secs, (double)n / secs);
}

int
main(int argc, char **argv)
{
	struct audit_event ev;
	struct audit_log *log = NULL;
	struct al_secret *key = NULL;
	struct ctx c[128];
	pthread_t t[128];
	json_t *caller;
	long n = argc > 2 ? atol(argv[2]) : 2000, i;
	int threads[] = { 16, 128 }, k, j;
	double t0;

	if (argc < 2 || n <= 0 || sodium_init() < 0) {
		fprintf(stderr, "usage: bench_audit DIR [N]\n");
		return 2;
	}
	if (al_secret_new(AUDIT_KEY_LEN, &key) != 0)
		return 2;
	randombytes_buf(al_secret_open(key), AUDIT_KEY_LEN);
	al_secret_set_len(key, AUDIT_KEY_LEN);
	al_secret_close(key);
	caller = json_pack("{s:s, s:i, s:i, s:s, s:i, s:s, s:[s, s, s]}",
	    "kind", "unix", "uid", 1000, "gid", 1000, "user", "alice", "pid",
	    424242, "exe", "/usr/local/bin/airlock", "ancestors",
	    "/usr/bin/bash", "/usr/bin/node", "/usr/lib/systemd/systemd");
	memset(&ev, 0, sizeof(ev));
	ev.event = "grant";
	ev.outcome = "ok";
	ev.caller = caller;
	ev.secret = "deploy-token";
	ev.lease = "7f3c2a9e41d04b6f8a1c5e2d9b0f6a3c";
	ev.task = "TASK-1234";
	ev.intent = "deploy the web app to production";
	ev.reason = "rule 3 (agents may deploy)";

	/* 1. One fdatasync per append. */
	if (open_fresh(argv[1], "seq.log", key, &log) != 0)
		return 2;
	t0 = now();
	for (i = 0; i < n; i++)
		if (audit_append(log, &ev, NULL, NULL) != 0)
			return 2;
	report("durable, 1 thread (fdatasync each)", n, now() - t0);
	audit_close(log);

	/* 2. Many threads: concurrent appends share one fdatasync. */
	for (k = 0; k < 2; k++) {
		char what[64];

		if (open_fresh(argv[1], "group.log", key, &log) != 0)
			return 2;
		t0 = now();
		for (j = 0; j < threads[k]; j++) {
			c[j].log = log;
			c[j].ev = &ev;
			c[j].n = (n * 4) / threads[k];
			c[j].rc = 0;
			pthread_create(&t[j], NULL, worker, &c[j]);
		}
		for (j = 0; j < threads[k]; j++) {
			pthread_join(t[j], NULL);
			if (c[j].rc != 0)
				return 2;
		}
		snprintf(what, sizeof(what), "durable, %d threads (group commit)",
		    threads[k]);
		report(what, (n * 4) / threads[k] * threads[k], now() - t0);
		audit_close(log);
	}

	/* 3. An event loop: batches of 64, one audit_sync each. */
	if (open_fresh(argv[1], "batch.log", key, &log) != 0)
		return 2;
	t0 = now();
	for (i = 0; i < n * 16; i++) {
		if (audit_append_nosync(log, &ev, NULL, NULL) != 0)
			return 2;
		if (i % 64 == 63 && audit_sync(log, NULL, NULL) != 0)
			return 2;
	}
	if (audit_sync(log, NULL, NULL) != 0)
		return 2;
	report("durable, batches of 64 + audit_sync", n * 16, now() - t0);
	audit_close(log);

	/* 4. No sync at all: the cost of formatting and chaining. */
	if (open_fresh(argv[1], "nosync.log", key, &log) != 0)
		return 2;
	t0 = now();
	for (i = 0; i < n * 16; i++)
		if (audit_append_nosync(log, &ev, NULL, NULL) != 0)
			return 2;
	report("not durable (no sync, reference)", n * 16, now() - t0);
	audit_close(log);

	json_decref(caller);
	al_secret_free(key);
	return 0;
}

/*
 * bench_broker: full lease cycles (request -> use -> revoke) against a
 * running broker, from C concurrent clients (one thread and one connection
 * each), through the real client library.
 *
 * usage: bench_broker HOME SECRET CLIENTS SECONDS
 * Prints cycles/s, p50/p99/max cycle latency and the broker's RSS (from
 * its pid file) before and after.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "airlock/client.h"

#define LAT_MAX	(4u << 20)	/* samples kept per thread */

struct worker {
	pthread_t	 t;
	const char	*home;
	const char	*secret;
	int64_t		 stop_ns;
	uint32_t	*lat_us;
	size_t		 n;
	size_t		 errors;
	char		 first_err[600];
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	struct client_opts o = { w->home, NULL, NULL, 10000 };
	struct client_lease_req r = { w->secret, "bench", "benchmark", 60, 2,
	    0 };
	struct client_lease l;
	struct client_approval ap;
	struct al_secret *v;
	struct client *cl = NULL;
	struct al_err err;
	int64_t t0;

	if (client_open(&o, &cl, &err) != 0) {
		(void)snprintf(w->first_err, sizeof(w->first_err), "%s",
		    err.msg);
		w->errors++;
		return NULL;
	}
	while ((t0 = now_ns()) < w->stop_ns && w->n < LAT_MAX) {
		if (client_lease_request(cl, &r, &l, &ap, &err) != 0 ||
		    client_lease_value(cl, l.id, &v, &err) != 0 ||
		    (al_secret_free(v), 0) ||
		    client_lease_revoke(cl, l.id, &err) != 0) {
			if (w->errors++ == 0)
				(void)snprintf(w->first_err,
				    sizeof(w->first_err), "%s", err.msg);
			continue;
		}
		w->lat_us[w->n++] = (uint32_t)((now_ns() - t0) / 1000);
	}
	client_close(cl);
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static long
broker_rss_kb(const char *home)
{
	char path[4096], line[256];
	long pid = 0, kb = -1;
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/airlockd.pid", home);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	(void)fclose(f);
	(void)snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if (pid <= 0 || (f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	(void)fclose(f);
	return kb;
}

int
main(int argc, char **argv)
{
	struct worker *w;
	uint32_t *all;
	size_t i, n = 0, errors = 0;
	int clients, secs, rc = 1;
	int64_t t0, el;
	long rss0, rss1;

	if (argc != 5 || (clients = atoi(argv[3])) <= 0 || clients > 1024 ||
	    (secs = atoi(argv[4])) <= 0) {
		fprintf(stderr, "usage: bench_broker HOME SECRET CLIENTS "
		    "SECONDS\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 2;
	if ((w = calloc((size_t)clients, sizeof(*w))) == NULL)
		return 2;
	rss0 = broker_rss_kb(argv[1]);
	t0 = now_ns();
	for (i = 0; i < (size_t)clients; i++) {
		w[i].home = argv[1];
		w[i].secret = argv[2];
		w[i].stop_ns = t0 + (int64_t)secs * 1000000000;
		if ((w[i].lat_us = malloc(LAT_MAX / (size_t)clients *
		    sizeof(uint32_t) + 4096)) == NULL ||
		    pthread_create(&w[i].t, NULL, run, &w[i]) != 0) {
			fprintf(stderr, "bench_broker: cannot start client %zu\n",
			    i);
			return 2;
		}
	}
	for (i = 0; i < (size_t)clients; i++)
		(void)pthread_join(w[i].t, NULL);
	el = now_ns() - t0;
	rss1 = broker_rss_kb(argv[1]);
	for (i = 0; i < (size_t)clients; i++) {
		n += w[i].n;
		errors += w[i].errors;
	}
	if ((all = malloc((n + 1) * sizeof(*all))) == NULL)
		return 2;
	for (n = 0, i = 0; i < (size_t)clients; i++) {
		memcpy(all + n, w[i].lat_us, w[i].n * sizeof(*all));
		n += w[i].n;
	}
	qsort(all, n, sizeof(*all), cmp_u32);
	if (n > 0) {
		printf("clients %4d: %8zu cycles in %.1f s = %7.0f cycles/s, "
		    "p50 %.2f ms, p99 %.2f ms, max %.2f ms, errors %zu, "
		    "broker RSS %ld -> %ld kB\n", clients, n, el / 1e9,
		    n / (el / 1e9), all[n / 2] / 1e3, all[n * 99 / 100] / 1e3,
		    all[n - 1] / 1e3, errors, rss0, rss1);
		rc = errors != 0;
	}
	for (i = 0; i < (size_t)clients; i++) {
		if (w[i].errors)
			fprintf(stderr, "client %zu: %zu errors, first: %s\n",
			    i, w[i].errors, w[i].first_err);
		free(w[i].lat_us);
	}
	free(all);
	free(w);
	return rc;
}

/*
 * What the broker's free-text check costs per field: a vault of N secrets
 * (random 8- to 40-byte values), a broker over it, and text_guard called
 * on texts that hold no value, one request each (so the vault's files are
 * looked at every time, as in service).  Also the time to build the set.
 * Usage: bench_textguard [N] [ITERATIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/broker.h"
#include "airlock/vault.h"
#include "broker_int.h"

static double
now_s(void)
{
	struct timespec t;

	(void)clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
fill(struct vault *v, int n)
{
	struct al_secret *val;
	struct vault_meta m;
	unsigned char raw[20];
	char hex[41];
	int i, len;

	for (i = 0; i < n; i++) {
		memset(&m, 0, sizeof(m));
		(void)snprintf(m.name, sizeof(m.name), "bench-%d", i);
		m.owner = "bench";
		m.purpose = "benchmark";
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
		len = 8 + (int)(randombytes_uniform(33));
		if (al_secret_from(hex, (size_t)len, &val) != 0 ||
		    vault_secret_add(v, &m, val, NULL) != 0)
			return -1;
		al_secret_free(val);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const char *const texts[] = {
		"fix-issue-4211",
		"deploy the web service to staging after the migration ran",
		"rotate the staging database password before the release, "
		"then run the smoke tests against every region and report "
		"the results in the channel; roll back if anything fails. "
		"Tickets OPS-20931 and OPS-20932, commit 3f2a9c1d4e5b, on "
		"behalf of the release manager for the 2026-12-07 window.",
	};
	struct vault_key key = { VAULT_KEY_KIND_FILE, NULL };
	struct broker_config cfg;
	struct broker_resp resp;
	struct broker_req req;
	struct broker_caller who;
	struct route_args a;
	struct broker *b = NULL;
	struct vault *v = NULL;
	char home[64], cmd[96];
	int n = argc > 1 ? atoi(argv[1]) : 100;
	long iters = argc > 2 ? atol(argv[2]) : 200000, k;
	size_t t;
	double t0, dt;

	if (sodium_init() < 0 || n < 0 || iters <= 0)
		return 2;
	(void)snprintf(home, sizeof(home), "/tmp/al-bench-tg.XXXXXX");
	if (mkdtemp(home) == NULL ||
	    vault_create(home, &key, al_clock_system(), NULL) != 0 ||
	    vault_open(home, al_clock_system(), &v, NULL) != 0 ||
	    vault_unlock(v, &key, NULL) != 0 || fill(v, n) != 0) {
		fprintf(stderr, "cannot make the vault\n");
		return 1;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.home = home;
	cfg.clock = al_clock_system();
	cfg.log_fd = -1;
	if (broker_new(&cfg, v, &b, NULL) != 0) {
		fprintf(stderr, "cannot start the broker\n");
		return 1;
	}
	memset(&req, 0, sizeof(req));
	memset(&who, 0, sizeof(who));
	who.conn = 1;
	who.uid = getuid();
	req.caller = &who;	/* the free-text limits are per uid */
	broker_resp_init(&resp);
	memset(&a, 0, sizeof(a));
	a.b = b;
	a.req = &req;
	a.resp = &resp;
	/*
	 * Past the second after the vault's last change, in which the set
	 * is rebuilt on every check: from here on it is built once.
	 */
	(void)sleep(2);
	b->metrics.requests++;
	t0 = now_s();
	if (text_guard(&a, "task", texts[0]) != 0)
		return 1;
	printf("%d secrets: set built in %.3f ms\n", n, (now_s() - t0) * 1e3);
	for (t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
		t0 = now_s();
		for (k = 0; k < iters; k++) {
			b->metrics.requests++;
			if (text_guard(&a, "task", texts[t]) != 0)
				return 1;
		}
		dt = now_s() - t0;
		printf("%d secrets, %3zu-byte text: %.0f ns per check\n", n,
		    strlen(texts[t]), dt / (double)iters * 1e9);
	}
	broker_resp_release(&resp);
	broker_free(b);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
	return system(cmd) == 0 ? 0 : 1;
}

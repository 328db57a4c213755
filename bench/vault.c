/*
 * bench_vault: add N secrets (one durable transaction each, as `airlock
 * secret add` does), then read and decrypt every one; print ops/s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "airlock/vault.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct vault_key key = { VAULT_KEY_KIND_FILE, NULL };
	struct vault *v = NULL;
	struct al_err err;
	struct vault_meta m;
	struct al_secret *val, *out;
	char home[] = "/tmp/bench_vault_XXXXXX", cmd[64];
	unsigned char raw[48];
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000, i;
	double t0, t_add, t_read;

	if (n <= 0 || sodium_init() < 0 || mkdtemp(home) == NULL)
		return 2;
	if (vault_create(home, &key, al_clock_system(), &err) != 0 ||
	    vault_open(home, al_clock_system(), &v, &err) != 0 ||
	    vault_unlock(v, &key, &err) != 0) {
		fprintf(stderr, "bench_vault: %s\n", err.msg);
		return 2;
	}
	memset(&m, 0, sizeof(m));
	m.owner = "bench";
	m.purpose = "benchmark";
	t0 = now_s();
	for (i = 0; i < n; i++) {
		randombytes_buf(raw, sizeof(raw));
		(void)snprintf(m.name, sizeof(m.name), "secret-%06ld", i);
		if (al_secret_from(raw, sizeof(raw), &val) != 0 ||
		    vault_secret_add(v, &m, val, &err) != 0) {
			fprintf(stderr, "bench_vault: add: %s\n", err.msg);
			return 2;
		}
		al_secret_free(val);
	}
	t_add = now_s() - t0;
	t0 = now_s();
	for (i = 0; i < n; i++) {
		(void)snprintf(m.name, sizeof(m.name), "secret-%06ld", i);
		if (vault_secret_read(v, m.name, &out, NULL, &err) != 0) {
			fprintf(stderr, "bench_vault: read: %s\n", err.msg);
			return 2;
		}
		al_secret_free(out);
	}
	t_read = now_s() - t0;
	printf("vault: %ld secrets\n", n);
	printf("  add  (durable, one transaction each): %8.0f ops/s  (%.2f s)\n",
	    n / t_add, t_add);
	printf("  read (authenticated decrypt):         %8.0f ops/s  (%.2f s)\n",
	    n / t_read, t_read);
	vault_close(v);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	return system(cmd) == 0 ? 0 : 2;
}

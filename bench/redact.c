/*
 * Throughput of the redactor: 100 live secrets with every encoding
 * compiled, fed log-like text (with secrets in it, in various encodings),
 * random base64 (the worst case: every byte may start a pattern) and
 * random data as xxd -p and base64 print it (lines of hex and base64,
 * where every line break may be crossed by a wrapped value), in 64 KiB
 * writes, to a sink that only counts.  Prints MB/s (1 MB = 10^6).
 *
 * usage: bench_redact [MEGABYTES]   (default 256 per corpus)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "airlock/redact.h"

#define NSECRET		100
#define CORPUS		(32u * 1024 * 1024)
#define WRITE		(64 * 1024)

static const char ALNUM[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The corpus needs speed, not unpredictability: xorshift64*. */
static uint64_t rng_state;

static uint32_t
rng(uint32_t bound)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32) % bound;
}

static void
rand_str(char *out, size_t n, const char *alpha, size_t na)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = alpha[rng((uint32_t)na)];
}

/* A secret in one of the shapes real ones have. */
static size_t
make_secret(int i, char *v)
{
	size_t n = 0, l;

	switch (i % 5) {
	case 0:
		memcpy(v, "ghp_", 4);
		rand_str(v + 4, 36, ALNUM, 62);
		return 40;
	case 1:
		rand_str(v, 40, B64, 64);	/* AWS secret key style */
		return 40;
	case 2:
		memcpy(v, "sk-proj-", 8);
		rand_str(v + 8, 48, ALNUM, 62);
		return 56;
	case 3:
		rand_str(v, 20, "abcdefghijkmnopqrstuvwxyz0123456789!#$%&*+-=?@^_",
		    48);			/* a password */
		return 20;
	default:
		if (i % 50 == 4) {		/* a PEM key, 25 lines */
			n = (size_t)sprintf(v, "-----BEGIN OPENSSH PRIVATE "
			    "KEY-----\n");
			for (l = 0; l < 25; l++) {
				rand_str(v + n, 64, B64, 64);
				n += 64;
				v[n++] = '\n';
			}
			n += (size_t)sprintf(v + n,
			    "-----END OPENSSH PRIVATE KEY-----");
			return n;
		}
		rand_str(v, 32, "0123456789abcdef", 16);
		return 32;
	}
}

/* Log-like text with a secret, encoded some way, every ~200 KB. */
static void
make_logs(unsigned char *buf, size_t n, char sec[][2048], size_t *slen)
{
	size_t o = 0, k;
	char line[512], enc[8192];
	int m;

	while (o < n) {
		switch (rng(6)) {
		case 0:
			m = snprintf(line, sizeof(line), "2025-01-%02u "
			    "12:%02u:%02u INFO request id=%08x%08x status=200 "
			    "bytes=%u path=/api/v1/items\n",
			    rng(28) + 1, rng(60),
			    rng(60), rng(UINT32_MAX),
			    rng(UINT32_MAX), rng(99999));
			break;
		case 1:
			m = snprintf(line, sizeof(line), "{\"user\":\"u%u\","
			    "\"action\":\"deploy\",\"ok\":true,\"ms\":%u}\n",
			    rng(1000), rng(5000));
			break;
		case 2:
			rand_str(enc, 76, B64, 64);
			m = snprintf(line, sizeof(line), "%.76s\n", enc);
			break;
		case 3:
			m = snprintf(line, sizeof(line), "   Compiling module "
			    "%u of 812: src/lib/handler_%u.c -> obj/%u.o\n",
			    rng(812), rng(99),
			    rng(99));
			break;
		case 4:
			m = snprintf(line, sizeof(line), "commit %08x%08x%08x"
			    "%08x%08x\nAuthor: Dev <dev@example.com>\n",
			    rng(UINT32_MAX), rng(UINT32_MAX),
			    rng(UINT32_MAX), rng(UINT32_MAX),
			    rng(UINT32_MAX));
			break;
		default:
			if (rng(400) == 0) {
				k = rng(NSECRET);
				if (rng(2))
					sodium_bin2base64(enc, sizeof(enc),
					    (unsigned char *)sec[k], slen[k],
					    sodium_base64_VARIANT_ORIGINAL);
				else
					sodium_bin2hex(enc, sizeof(enc),
					    (unsigned char *)sec[k],
					    slen[k] < 2000 ? slen[k] : 2000);
				m = snprintf(line, sizeof(line),
				    "token: %.400s\n", enc);
			} else
				m = snprintf(line, sizeof(line), "The quick "
				    "brown fox jumps over the lazy dog; "
				    "retrying in %u ms...\n",
				    rng(1000));
			break;
		}
		if ((size_t)m > n - o)
			m = (int)(n - o);
		memcpy(buf + o, line, (size_t)m);
		o += (size_t)m;
	}
}

/* Random bytes as xxd -p (60) and base64 (76) wrap them, in turns. */
static void
make_wrapped(unsigned char *buf, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, k, w;
	int b64;

	while (o < n) {
		b64 = rng(2);
		w = b64 ? 76 : 60;
		for (k = 0; k < 40 && o < n; k++) {
			rand_str((char *)buf + o, w < n - o ? w : n - o,
			    b64 ? B64 : hex, b64 ? 64 : 16);
			o += w < n - o ? w : n - o;
			if (o < n)
				buf[o++] = '\n';
		}
	}
}

static int
count(void *arg, const void *p, size_t n)
{
	(void)p;
	*(unsigned long long *)arg += n;
	return 0;
}

static double
clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/*
 * Returns MB/s of CPU time (the redactor's own speed; the machine may be
 * shared) and sets *wall to MB/s of elapsed time.
 */
static double
run(const struct redact *r, const unsigned char *buf, size_t n, size_t total,
    unsigned long long *masked_out, double *wall)
{
	double c0, c1;
	struct redact_stream *s;
	unsigned long long out = 0;
	size_t done = 0, o, w;
	double t0, t1;

	if (redact_stream_new(r, &s) != 0)
		exit(2);
	t0 = now();
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	while (done < total) {
		for (o = 0; o < n && done < total; o += w, done += w) {
			w = n - o < WRITE ? n - o : WRITE;
			if (redact_stream_write(s, buf + o, w, count, &out) != 0)
				exit(2);
		}
	}
	if (redact_stream_finish(s, count, &out) != 0)
		exit(2);
	c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	t1 = now();
	redact_stream_free(s);
	*masked_out = out;
	*wall = (double)total / 1e6 / (t1 - t0);
	return (double)total / 1e6 / (c1 - c0);
}

int
main(int argc, char **argv)
{
	static char sec[NSECRET][2048];
	size_t slen[NSECRET], total, i;
	struct redact *r;
	struct al_secret *v;
	struct al_err err;
	unsigned char *buf;
	unsigned long long out;
	double t0, mbs_logs, mbs_b64, mbs_wrap, wall;

	total = (argc > 1 ? strtoul(argv[1], NULL, 10) : 256) * 1000000ul;
	if (sodium_init() < 0 || redact_new(&r, &err) != 0)
		return 2;
	randombytes_buf(&rng_state, sizeof(rng_state));
	rng_state |= 1;
	for (i = 0; i < NSECRET; i++) {
		char name[32];

		slen[i] = make_secret((int)i, sec[i]);
		(void)snprintf(name, sizeof(name), "secret-%02zu", i);
		if (al_secret_from(sec[i], slen[i], &v) != 0 ||
		    redact_add_value(r, name, v, &err) != 0) {
			fprintf(stderr, "bench_redact: %s\n", err.msg);
			return 2;
		}
		al_secret_free(v);
	}
	t0 = now();
	if (redact_compile(r, &err) != 0) {
		fprintf(stderr, "bench_redact: %s\n", err.msg);
		return 2;
	}
	printf("redact: %d secrets, %zu patterns, compiled in %.1f ms, "
	    "max held %zu bytes\n", NSECRET, redact_pattern_count(r),
	    (now() - t0) * 1e3, redact_max_held(r));
	if ((buf = malloc(CORPUS)) == NULL)
		return 2;
	make_logs(buf, CORPUS, sec, slen);
	mbs_logs = run(r, buf, CORPUS, total, &out, &wall);
	printf("redact: log-like text: %.0f MB/s CPU, %.0f MB/s elapsed "
	    "(%zu MB in, %llu MB out)\n", mbs_logs, wall, total / 1000000,
	    out / 1000000);
	rand_str((char *)buf, CORPUS, B64, 64);
	mbs_b64 = run(r, buf, CORPUS, total, &out, &wall);
	printf("redact: random base64 (worst case): %.0f MB/s CPU, %.0f MB/s "
	    "elapsed\n", mbs_b64, wall);
	make_wrapped(buf, CORPUS);
	mbs_wrap = run(r, buf, CORPUS, total, &out, &wall);
	printf("redact: xxd -p and base64 lines: %.0f MB/s CPU, %.0f MB/s "
	    "elapsed\n", mbs_wrap, wall);
	printf("redact: throughput %.0f MB/s of CPU (target >= 500): %s\n",
	    mbs_logs,
	    mbs_logs >= 500 ? "met" : "NOT met");
	free(buf);
	redact_free(r);
	return 0;
}

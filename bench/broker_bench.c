/*
 * bench_broker: full lease cycles (request -> use -> revoke) against a
 * running broker, from C concurrent clients (one process and one connection
 * each, as agents are), through the real client library.
 *
 * usage: bench_broker [--lib] [--with-value] HOME SECRET CLIENTS SECONDS
 * Prints cycles/s, p50/p99/max cycle latency, the CPU time per cycle of the
 * broker and of the clients, and the broker's RSS (from its pid file)
 * before and after.
 *
 * By default each client is a lean load generator, the way wrk measures a
 * web server: HTTP/1.1 written and read by hand on one kept-alive
 * connection to the socket, so the figure is the broker's and not the
 * client library's.  --lib drives the real client library (values into
 * guarded memory) instead.
 *
 * --with-value asks for the value with the grant (POST /v1/leases with
 * "value": true: one request where the default takes two), as `airlock
 * run` does; with --lib, through what run calls (client_lease_and_fetch).
 */
#include <errno.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "airlock/client.h"

#define LAT_MAX	(4u << 20)	/* samples kept per thread */

/* One client's results, in memory shared with the parent. */
struct worker {
	pid_t		 pid;
	const char	*home;
	const char	*secret;
	int64_t		 stop_ns;
	int		 with_value;
	uint32_t	*lat_us;
	size_t		 max;		/* room in lat_us */
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

/* One kept-alive HTTP/1.1 connection to the broker's socket. */
struct conn {
	int	fd;
	char	buf[16384];
	size_t	len;			/* bytes in buf */
};

static int
conn_open(struct conn *c, const char *home)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	c->len = 0;
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/airlockd.sock",
	    home);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	return connect(c->fd, (struct sockaddr *)&sa, sizeof(sa));
}

/*
 * Send one request and read its reply (Content-Length framed) into
 * c->buf; *body points at the body, *blen its length.  Returns the status.
 */
static int
conn_call(struct conn *c, const char *method, const char *path,
    const char *json, const char **body, size_t *blen)
{
	char req[1024], *end, *cl;
	size_t need, hlen;
	ssize_t r;
	int n, status;

	n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: airlock\r\n"
	    "%s%s%.0zu%s\r\n%s", method, path,
	    json ? "Content-Type: application/json\r\n" : "",
	    json ? "Content-Length: " : "", json ? strlen(json) : 0,
	    json ? "\r\n" : "", json ? json : "");
	if (n <= 0 || (size_t)n >= sizeof(req) ||
	    write(c->fd, req, (size_t)n) != n)
		return -1;
	c->len = 0;
	for (;;) {
		c->buf[c->len] = '\0';
		if ((end = strstr(c->buf, "\r\n\r\n")) != NULL)
			break;
		if (c->len >= sizeof(c->buf) - 1 || (r = read(c->fd,
		    c->buf + c->len, sizeof(c->buf) - 1 - c->len)) <= 0)
			return -1;
		c->len += (size_t)r;
	}
	hlen = (size_t)(end + 4 - c->buf);
	if (sscanf(c->buf, "HTTP/1.1 %d", &status) != 1 ||
	    (cl = strcasestr(c->buf, "\r\nContent-Length:")) == NULL ||
	    cl > end)
		return -1;
	need = hlen + strtoul(cl + 17, NULL, 10);
	if (need >= sizeof(c->buf))
		return -1;
	while (c->len < need) {
		if ((r = read(c->fd, c->buf + c->len, need - c->len)) <= 0)
			return -1;
		c->len += (size_t)r;
	}
	*body = c->buf + hlen;
	*blen = need - hlen;
	return status;
}

static void
fail(struct worker *w, const char *what, int status)
{
	if (w->errors++ == 0)
		(void)snprintf(w->first_err, sizeof(w->first_err),
		    "%s: HTTP %d", what, status);
}

static void
run_lean(struct worker *w)
{
	char json[256], path[128], id[33];
	const char *body, *p;
	struct conn c;
	size_t blen;
	int64_t t0;
	int st;

	if (conn_open(&c, w->home) != 0) {
		fail(w, "cannot connect", 0);
		return;
	}
	(void)snprintf(json, sizeof(json), "{\"secret\":\"%s\",\"task\":"
	    "\"bench\",\"intent\":\"benchmark\",\"ttl\":60,\"uses\":2,"
	    "\"bind\":false}", w->secret);
	if (w->with_value)
		(void)snprintf(json, sizeof(json), "{\"secret\":\"%s\","
		    "\"task\":\"bench\",\"intent\":\"benchmark\",\"ttl\":60,"
		    "\"uses\":2,\"bind\":false,\"value\":true}", w->secret);
	while ((t0 = now_ns()) < w->stop_ns && w->n < w->max) {
		if (w->with_value) {
			/* The value, its lease named in the head. */
			if ((st = conn_call(&c, "POST", "/v1/leases", json,
			    &body, &blen)) != 200 || blen == 0 ||
			    (p = strcasestr(c.buf, "\r\nAirlock-Lease: ")) ==
			    NULL || p > body || strspn(p + 17,
			    "0123456789abcdef") != 32) {
				fail(w, "lease request with the value", st);
				break;
			}
			memcpy(id, p + 17, 32);
			id[32] = '\0';
			sodium_memzero(c.buf, c.len);
			goto revoke;
		}
		if ((st = conn_call(&c, "POST", "/v1/leases", json, &body,
		    &blen)) != 201) {
			fail(w, "lease request", st);
			break;
		}
		if ((p = strstr(body, "\"id\":\"")) == NULL ||
		    strspn(p + 6, "0123456789abcdef") != 32) {
			fail(w, "lease reply without an id", st);
			break;
		}
		memcpy(id, p + 6, 32);
		id[32] = '\0';
		(void)snprintf(path, sizeof(path), "/v1/leases/%s/value", id);
		if ((st = conn_call(&c, "GET", path, NULL, &body, &blen)) !=
		    200 || blen == 0) {
			fail(w, "value", st);
			break;
		}
		sodium_memzero(c.buf, c.len);
revoke:
		(void)snprintf(path, sizeof(path), "/v1/leases/%s", id);
		if ((st = conn_call(&c, "DELETE", path, NULL, &body,
		    &blen)) != 200) {
			fail(w, "revoke", st);
			break;
		}
		w->lat_us[w->n++] = (uint32_t)((now_ns() - t0) / 1000);
	}
	(void)close(c.fd);
}

static void
run_lib(struct worker *w)
{
	struct client_opts o = { .home = w->home, .timeout_ms = 10000 };
	struct client_lease_req r = { .secret = w->secret, .task = "bench",
	    .intent = "benchmark", .ttl = 60, .uses = 2 };
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
		return;
	}
	while ((t0 = now_ns()) < w->stop_ns && w->n < w->max) {
		if ((w->with_value ? client_lease_and_fetch(cl, &r, 0, &l, &v,
		    &err) != 0 : client_lease_request(cl, &r, &l, &ap,
		    &err) != 0 || client_lease_value(cl, l.id, &v,
		    &err) != 0) ||
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
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static long
broker_pid(const char *home)
{
	char path[4096];
	long pid = 0;
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/airlockd.pid", home);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	(void)fclose(f);
	return pid;
}

/* The broker's CPU time (user + system) so far, in ms. */
static double
broker_cpu_ms(const char *home)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	long pid = broker_pid(home);
	FILE *f;
	size_t n;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (pid <= 0 || (f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	(void)fclose(f);
	/* Fields after the command name: state is 3, utime 14, stime 15. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return 0;
	return (ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static long
broker_rss_kb(const char *home)
{
	char path[4096], line[256];
	long pid = broker_pid(home), kb = -1;
	FILE *f;

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
	size_t i, n = 0, errors = 0, per;
	int clients, secs, rc = 1, lib = 0, with_value = 0;
	int64_t t0, el;
	pid_t pid;
	long rss0, rss1;
	double cpu0, cpu1, ccpu;
	struct rusage ru;

	while (argc > 1 && (strcmp(argv[1], "--lib") == 0 ||
	    strcmp(argv[1], "--with-value") == 0)) {
		if (strcmp(argv[1], "--lib") == 0)
			lib = 1;
		else
			with_value = 1;
		argv++;
		argc--;
	}
	if (argc != 5 || (clients = atoi(argv[3])) <= 0 || clients > 1024 ||
	    (secs = atoi(argv[4])) <= 0) {
		fprintf(stderr, "usage: bench_broker [--lib] [--with-value] "
		    "HOME SECRET CLIENTS SECONDS\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 2;
	per = LAT_MAX / (size_t)clients + 1024;
	w = mmap(NULL, (size_t)clients * (sizeof(*w) + per * sizeof(uint32_t)),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED)
		return 2;
	rss0 = broker_rss_kb(argv[1]);
	cpu0 = broker_cpu_ms(argv[1]);
	t0 = now_ns();
	for (i = 0; i < (size_t)clients; i++) {
		w[i].home = argv[1];
		w[i].secret = argv[2];
		w[i].with_value = with_value;
		w[i].stop_ns = t0 + (int64_t)secs * 1000000000;
		w[i].lat_us = (uint32_t *)(void *)(w + clients) + i * per;
		w[i].max = per;
		/*
		 * The worker table is shared: only the parent may store the
		 * pid, or a child's 0 can overwrite it before the parent's.
		 */
		if ((pid = fork()) < 0) {
			fprintf(stderr, "bench_broker: cannot start client %zu\n",
			    i);
			return 2;
		}
		if (pid == 0) {
			if (lib)
				run_lib(&w[i]);
			else
				run_lean(&w[i]);
			_exit(0);
		}
		w[i].pid = pid;
	}
	for (i = 0; i < (size_t)clients; i++)
		while (waitpid(w[i].pid, NULL, 0) < 0 && errno == EINTR)
			;
	el = now_ns() - t0;
	rss1 = broker_rss_kb(argv[1]);
	cpu1 = broker_cpu_ms(argv[1]);
	(void)getrusage(RUSAGE_CHILDREN, &ru);
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
		printf("%s %4d: %8zu cycles in %.1f s = %7.0f cycles/s, "
		    "p50 %.2f ms, p99 %.2f ms, max %.2f ms, errors %zu, "
		    "broker RSS %ld -> %ld kB\n", lib ? "lib clients" :
		    "clients", clients, n, el / 1e9,
		    n / (el / 1e9), all[n / 2] / 1e3, all[n * 99 / 100] / 1e3,
		    all[n - 1] / 1e3, errors, rss0, rss1);
		ccpu = ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
		    ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
		printf("              CPU per cycle: broker %.0f us, "
		    "clients %.0f us\n", (cpu1 - cpu0) * 1e3 / (double)n,
		    ccpu * 1e3 / (double)n);
		rc = errors != 0;
	}
	for (i = 0; i < (size_t)clients; i++) {
		if (w[i].errors)
			fprintf(stderr, "client %zu: %zu errors, first: %s\n",
			    i, w[i].errors, w[i].first_err);
	}
	free(all);
	return rc;
}

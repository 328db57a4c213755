/*
 * bench_http_floor: the transport floor under bench/broker.  A server that
 * answers the three requests of a lease cycle the way bench_broker's lean
 * clients expect, doing nothing but HTTP over the Unix socket: no vault,
 * no policy, no lease table, no audit chain.  What bench_broker measures
 * against it is what this machine allows the broker at best.
 *
 * usage: bench_http_floor [--raw] [--sync] DIR
 * Listens on DIR/airlockd.sock (0600), writes DIR/airlockd.pid, stops on
 * SIGTERM or SIGINT.
 *
 *   default  libmicrohttpd set up exactly as src/broker/http.c http_start()
 *            does (external epoll loop, suspend/resume, turbo, same
 *            options), linked normally;
 *   --raw    no libmicrohttpd: one epoll loop over nonblocking sockets
 *            that parses just enough HTTP/1.1 (request line,
 *            Content-Length, keep-alive);
 *   --sync   one 600-byte line is appended to DIR/floor.log per request,
 *            and every value and revoke reply waits, as the broker's do,
 *            until an fdatasync on a second thread has made its line
 *            durable (group commit: the requests parked during one
 *            fdatasync are released together, lines written meanwhile go
 *            in the next round).
 *
 * This file: main, the group commit, the routes.  The transports are in
 * http_floor_mhd.c and http_floor_raw.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "airlock/base.h"
#include "http_floor.h"

static int64_t
now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *
sync_run(void *arg)
{
	struct syncer *sy = arg;
	uint64_t want;
	int64_t t0, ns;
	int stop, e;

	for (;;) {
		(void)al_event_take(sy->go_fd);
		(void)pthread_mutex_lock(&sy->mu);
		stop = sy->stop;
		want = sy->want;
		(void)pthread_mutex_unlock(&sy->mu);
		if (stop)
			break;
		t0 = now_ns();
		e = fdatasync(sy->fd) == 0 ? 0 : errno;
		ns = now_ns() - t0;
		(void)pthread_mutex_lock(&sy->mu);
		sy->rounds++;
		sy->sync_ns += ns;
		if (ns > sy->max_ns)
			sy->max_ns = ns;
		sy->err = e;
		if (e == 0)
			sy->durable = want;
		(void)pthread_mutex_unlock(&sy->mu);
		if (al_event_post(sy->done_fd) != 0)
			break;
	}
	return NULL;
}

static int
sync_start(struct syncer *sy, const char *dir)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/floor.log", dir) >=
	    sizeof(path))
		return -1;
	sy->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC |
	    O_CLOEXEC | O_NOFOLLOW, 0600);
	sy->go_fd = eventfd(0, EFD_CLOEXEC);
	sy->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sy->fd < 0 || sy->go_fd < 0 || sy->done_fd < 0 ||
	    pthread_mutex_init(&sy->mu, NULL) != 0)
		return -1;
	if (pthread_create(&sy->thread, NULL, sync_run, sy) != 0)
		return -1;
	sy->started = 1;
	return 0;
}

static void
sync_stop(struct syncer *sy)
{
	if (sy->started) {
		(void)pthread_mutex_lock(&sy->mu);
		sy->stop = 1;
		(void)pthread_mutex_unlock(&sy->mu);
		(void)al_event_post(sy->go_fd);
		(void)pthread_join(sy->thread, NULL);
	}
}

void
sync_kick(struct floor *f)
{
	if (!f->sync || f->parked == 0 || f->sy.busy)
		return;
	(void)pthread_mutex_lock(&f->sy.mu);
	f->sy.want = f->written;
	(void)pthread_mutex_unlock(&f->sy.mu);
	if (al_event_post(f->sy.go_fd) != 0) {
		perror("bench_http_floor: eventfd");
		f->stopping = 1;
		return;
	}
	f->sy.busy = 1;
}

void
sync_done(struct floor *f)
{
	int e;

	(void)al_event_take(f->sy.done_fd);
	(void)pthread_mutex_lock(&f->sy.mu);
	e = f->sy.err;
	f->durable = f->sy.durable;
	(void)pthread_mutex_unlock(&f->sy.mu);
	f->sy.busy = 0;
	if (e != 0) {
		fprintf(stderr, "bench_http_floor: fdatasync: %s\n",
		    strerror(e));
		f->stopping = 1;
	}
}

/* Append the request's line; returns its number, 0 on failure. */
static uint64_t
log_line(struct floor *f, const char *event, const char *id)
{
	char line[LINE_LEN];
	int n;

	n = snprintf(line, sizeof(line), "{\"seq\":%llu,\"event\":\"%s\","
	    "\"lease\":\"%s\",\"pad\":\"", (unsigned long long)f->written + 1,
	    event, id);
	if (n <= 0 || (size_t)n > sizeof(line) - 3)
		return 0;
	memset(line + n, 'x', sizeof(line) - 3 - (size_t)n);
	memcpy(line + sizeof(line) - 3, "\"}\n", 3);
	if (write(f->sy.fd, line, sizeof(line)) != (ssize_t)sizeof(line)) {
		perror("bench_http_floor: floor.log");
		f->stopping = 1;
		return 0;
	}
	return ++f->written;
}

static void
reply_json(struct reply *r, int status, const char *fmt, const char *id,
    const char *state)
{
	int n;

	r->status = status;
	r->ctype = "application/json";
	n = snprintf(r->body, sizeof(r->body), fmt, id, state);
	r->len = n > 0 && (size_t)n < sizeof(r->body) ? (size_t)n : 0;
}

/* A lease as the broker shows it (src/broker/reply.c lease_json). */
#define LEASE_JSON "{\"lease\":{\"id\":\"%s\",\"secret\":\"bench-token\"," \
	"\"state\":\"%s\",\"task\":\"bench\",\"intent\":\"benchmark\"," \
	"\"holder\":\"unix:uid:1000\",\"issued\":\"2024-05-01T12:00:00Z\"," \
	"\"expires\":\"2024-05-01T12:01:00Z\",\"expires_unix\":1714564860," \
	"\"uses\":0,\"uses_left\":2,\"bound\":false,\"ended\":null}"

static int
is_id(const char *p, size_t len)
{
	return len == 32 && strspn(p, "0123456789abcdef") >= 32;
}

/* The routes of one lease cycle. */
uint64_t
route(struct floor *f, const char *method, const char *path,
    struct reply *r)
{
	static const char value[32] = "floor-value-0123456789abcdefghij";
	const char *p, *slash;
	unsigned char raw[16];
	char id[33];
	uint64_t seq = 0;

	memset(r, 0, sizeof(*r));
	if (strcmp(method, "POST") == 0 && strcmp(path, "/v1/leases") == 0) {
		randombytes_buf(raw, sizeof(raw));
		(void)sodium_bin2hex(id, sizeof(id), raw, sizeof(raw));
		reply_json(r, 201, LEASE_JSON ",\"rule\":\"bench\"}", id,
		    "active");
		/* The grant's line is not waited for: the use's round syncs
		 * it, as in the broker. */
		if (f->sync)
			(void)log_line(f, "grant", id);
		return 0;
	}
	if (strncmp(path, "/v1/leases/", sizeof("/v1/leases/") - 1) != 0) {
		reply_json(r, 404, "{\"error\":{\"code\":\"not_found\","
		    "\"message\":\"no route %s%s\"}}", "", "");
		return 0;
	}
	p = path + sizeof("/v1/leases/") - 1;
	slash = strchr(p, '/');
	if (strcmp(method, "GET") == 0 && slash != NULL &&
	    strcmp(slash, "/value") == 0 && is_id(p, (size_t)(slash - p))) {
		memcpy(id, p, 32);
		id[32] = '\0';
		r->status = 200;
		r->ctype = "application/octet-stream";
		r->value = 1;
		r->len = sizeof(value);
		memcpy(r->body, value, sizeof(value));
		if (f->sync)
			seq = log_line(f, "use", id);
	} else if (strcmp(method, "DELETE") == 0 && slash == NULL &&
	    is_id(p, strlen(p))) {
		reply_json(r, 200, LEASE_JSON "}", p, "revoked");
		if (f->sync)
			seq = log_line(f, "revoke", p);
	} else {
		reply_json(r, 404, "{\"error\":{\"code\":\"not_found\","
		    "\"message\":\"no route %s%s\"}}", "", "");
	}
	return seq;
}

/* ---- setup ---- */

static int
listen_on(struct floor *f, const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int rc;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path),
	    "%s/airlockd.sock", dir) >= sizeof(sa.sun_path))
		return -1;
	(void)unlink(sa.sun_path);
	if ((f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) < 0)
		return -1;
	old = umask(0177);	/* 0600 from the start */
	rc = bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa));
	(void)umask(old);
	return rc == 0 ? listen(f->lfd, 1024) : -1;
}

static int
write_pid(const char *dir)
{
	char path[4096];
	FILE *fp;
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/airlockd.pid", dir) >=
	    sizeof(path) || (fp = fopen(path, "w")) == NULL)
		return -1;
	rc = fprintf(fp, "%ld\n", (long)getpid()) < 0;
	return fclose(fp) != 0 || rc ? -1 : 0;
}

static void
cleanup(const char *dir)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/airlockd.sock", dir) <
	    sizeof(path))
		(void)unlink(path);
	if ((size_t)snprintf(path, sizeof(path), "%s/airlockd.pid", dir) <
	    sizeof(path))
		(void)unlink(path);
}

int
main(int argc, char **argv)
{
	struct floor f;
	struct epoll_event ev;
	sigset_t set;
	const char *dir;
	int i, rc = 1;

	memset(&f, 0, sizeof(f));
	f.lfd = f.ep = f.sigfd = f.sy.fd = f.sy.go_fd = f.sy.done_fd = -1;
	for (i = 1; i < argc - 1; i++) {
		if (strcmp(argv[i], "--raw") == 0)
			f.raw = 1;
		else if (strcmp(argv[i], "--sync") == 0)
			f.sync = 1;
		else
			break;
	}
	if (i != argc - 1 || argv[i][0] == '-') {
		fprintf(stderr, "usage: bench_http_floor [--raw] [--sync] "
		    "DIR\n");
		return 2;
	}
	dir = argv[i];
	if (sodium_init() < 0)
		return 2;
	(void)signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (f.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    (f.ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("bench_http_floor: signals");
		return 2;
	}
	if (f.sync && sync_start(&f.sy, dir) != 0) {
		perror("bench_http_floor: sync thread or floor.log");
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	/* The raw loop tells its descriptors by pointer, MHD's by number. */
	if (f.raw)
		ev.data.ptr = &f.sigfd;
	else
		ev.data.fd = f.sigfd;
	if (epoll_ctl(f.ep, EPOLL_CTL_ADD, f.sigfd, &ev) != 0)
		goto out;
	if (f.sync) {
		if (f.raw)
			ev.data.ptr = &f.sy.done_fd;
		else
			ev.data.fd = f.sy.done_fd;
		if (epoll_ctl(f.ep, EPOLL_CTL_ADD, f.sy.done_fd, &ev) != 0)
			goto out;
	}
	if (listen_on(&f, dir) != 0 || write_pid(dir) != 0) {
		fprintf(stderr, "bench_http_floor: cannot listen on "
		    "%s/airlockd.sock: %s\n", dir, strerror(errno));
		goto out;
	}
	if ((f.raw ? r_loop(&f) : m_loop(&f)) != 0)
		fprintf(stderr, "bench_http_floor: %s\n", f.raw ? strerror(errno) :
		    "cannot run libmicrohttpd");
	else
		rc = 0;
out:
	sync_stop(&f.sy);
	/* What the disk did: bench/http_floor.sh prints it. */
	if (f.sync && f.sy.rounds != 0)
		fprintf(stderr, "floor.log: %llu lines, %llu fdatasync rounds "
		    "(%.1f lines each), fdatasync mean %.2f ms, max %.2f ms\n",
		    (unsigned long long)f.written,
		    (unsigned long long)f.sy.rounds,
		    (double)f.written / (double)f.sy.rounds,
		    (double)f.sy.sync_ns / (double)f.sy.rounds / 1e6,
		    (double)f.sy.max_ns / 1e6);
	if (f.d != NULL)
		MHD_stop_daemon(f.d);
	cleanup(dir);
	return rc;
}

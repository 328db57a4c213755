/*
 * airlock guard: configuration, the values and their refresh (see
 * guard.h).  The HTTP side is in server.c, the body in body.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "airlock/redact.h"
#include "guard_int.h"

#define GUARD_REFRESH_MS_DEFAULT	5000

const char *const guard_outcome_names[GUARD_NOUTCOMES] = {
	"forwarded", "masked", "blocked", "refused", "upstream_failed",
};

/* Add n masks of (name, rule) to c. */
static void
counts_add_mask(struct guard_counts *c, const char *name, int rule,
    unsigned long long n)
{
	size_t i;

	for (i = 0; i < c->nmasks; i++)
		if (c->masks[i].rule == rule &&
		    strcmp(c->masks[i].name, name) == 0) {
			c->masks[i].count += (unsigned)n;
			return;
		}
	if (c->nmasks == GUARD_HITS_MAX) {
		c->other_masks += n;
		return;
	}
	(void)snprintf(c->masks[i].name, sizeof(c->masks[i].name), "%s",
	    name);
	c->masks[i].rule = rule;
	c->masks[i].count = (unsigned)n;
	c->nmasks++;
}

void
guard_count(struct guard *g, enum guard_outcome o,
    const struct guard_findings *f)
{
	size_t i;

	pthread_mutex_lock(&g->count_lock);
	g->counts.requests[o]++;
	for (i = 0; f != NULL && i < f->nhits; i++)
		counts_add_mask(&g->counts, f->hits[i].name, f->hits[i].rule,
		    f->hits[i].count);
	pthread_mutex_unlock(&g->count_lock);
}

/*
 * Hand the counts since the last report over; a failed report puts them
 * back, merged with what was counted meanwhile.
 */
static void
report(struct guard *g)
{
	struct guard_counts c;
	struct al_err err;
	size_t i;
	int any = 0;

	if (g->cfg.report == NULL)
		return;
	pthread_mutex_lock(&g->count_lock);
	c = g->counts;
	memset(&g->counts, 0, sizeof(g->counts));
	pthread_mutex_unlock(&g->count_lock);
	for (i = 0; i < GUARD_NOUTCOMES; i++)
		any |= c.requests[i] != 0;
	if (!any && c.nmasks == 0 && c.other_masks == 0)
		return;
	al_err_clear(&err);
	if (g->cfg.report(g->cfg.report_arg, &c, &err) == 0)
		return;
	pthread_mutex_lock(&g->count_lock);
	for (i = 0; i < GUARD_NOUTCOMES; i++)
		g->counts.requests[i] += c.requests[i];
	for (i = 0; i < c.nmasks; i++)
		counts_add_mask(&g->counts, c.masks[i].name, c.masks[i].rule,
		    c.masks[i].count);
	g->counts.other_masks += c.other_masks;
	pthread_mutex_unlock(&g->count_lock);
}

static void
sets_free(struct guard_setref *r)
{
	if (r == NULL)
		return;
	redact_free(r->sets.mask);
	redact_free(r->sets.check);
	free(r);
}

struct guard_setref *
guard_sets_take(struct guard *g)
{
	struct guard_setref *r = NULL;

	pthread_mutex_lock(&g->lock);
	if (!g->failed && g->cur != NULL) {
		r = g->cur;
		r->refs++;
	}
	pthread_mutex_unlock(&g->lock);
	return r;
}

void
guard_sets_drop(struct guard *g, struct guard_setref *r)
{
	int last;

	if (r == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	last = --r->refs == 0;
	pthread_mutex_unlock(&g->lock);
	if (last)
		sets_free(r);
}

/*
 * Load the values; a new set replaces the current one (requests holding
 * the old one finish with it).  On failure every request is refused until
 * a load works again: a secret added since the last load would otherwise
 * pass unmasked.
 */
static int
refresh(struct guard *g, struct al_err *err)
{
	struct guard_sets s;
	struct guard_setref *r, *old = NULL;
	int rc;

	memset(&s, 0, sizeof(s));
	rc = g->cfg.load(g->cfg.load_arg, &s, err);
	pthread_mutex_lock(&g->lock);
	if (rc != 0) {
		g->failed = 1;
		(void)snprintf(g->why, sizeof(g->why), "%s", err->msg);
		pthread_mutex_unlock(&g->lock);
		return rc;
	}
	g->failed = g->cur == NULL && s.mask == NULL;
	pthread_mutex_unlock(&g->lock);
	if (s.mask == NULL) {
		redact_free(s.check);
		return 0;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		redact_free(s.mask);
		redact_free(s.check);
		pthread_mutex_lock(&g->lock);
		g->failed = 1;
		(void)snprintf(g->why, sizeof(g->why), "out of memory");
		pthread_mutex_unlock(&g->lock);
		return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	r->sets = s;
	r->refs = 1;		/* the guard's own */
	pthread_mutex_lock(&g->lock);
	old = g->cur;
	g->cur = r;
	g->failed = 0;
	pthread_mutex_unlock(&g->lock);
	guard_sets_drop(g, old);
	return 0;
}

/*
 * The host of h (up to ':', '/' or the end) is 127.x.x.x, localhost or
 * [::1]: not merely a name that starts like one ("127.0.0.1.example.com").
 */
static int
loopback_host(const char *h)
{
	size_t n = strcspn(h, ":/"), i, dots = 0, digits = 0;

	if (strncmp(h, "[::1]", 5) == 0)
		return h[5] == '\0' || h[5] == ':' || h[5] == '/';
	if (n == 9 && strncmp(h, "localhost", 9) == 0)
		return 1;
	if (n < 7 || strncmp(h, "127.", 4) != 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (h[i] == '.') {
			if (digits == 0)
				return 0;
			dots++;
			digits = 0;
		} else if (h[i] >= '0' && h[i] <= '9' && digits < 3)
			digits++;
		else
			return 0;
	}
	return dots == 3 && digits > 0;
}

/* "https://host..." or "http://" a loopback host; no trailing '/'. */
static int
check_upstream(struct guard *g, const char *u, struct al_err *err)
{
	const char *host;
	size_t n = strlen(u);

	if (strncmp(u, "https://", 8) == 0)
		host = u + 8;
	else if (strncmp(u, "http://", 7) == 0) {
		host = u + 7;
		if (!loopback_host(host))
			return al_err_set(err, AL_EINVAL, "--upstream: plain "
			    "http:// only to a loopback host; use https://");
	} else
		return al_err_set(err, AL_EINVAL, "--upstream: '%s' is not "
		    "an https:// URL", u);
	/* "user@host": the host is not what it seems to be at a glance. */
	if (memchr(host, '@', strcspn(host, "/")) != NULL)
		return al_err_set(err, AL_EINVAL, "--upstream: '%s' has a "
		    "user name ('@'): name the host alone", u);
	if (*host == '\0' || *host == '/' || strpbrk(u, " \t\r\n?#") != NULL)
		return al_err_set(err, AL_EINVAL, "--upstream: '%s' has no "
		    "host, or a query or fragment", u);
	while (n > 0 && u[n - 1] == '/')
		n--;
	if (n >= sizeof(g->upstream))
		return al_err_set(err, AL_ETOOBIG, "--upstream: too long");
	memcpy(g->upstream, u, n);
	g->upstream[n] = '\0';
	return 0;
}

/* Bind a loopback IPv4 address ("127.0.0.1:PORT", or any free port). */
static int
bind_listen(struct guard *g, const char *listen_at, struct al_err *err)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char host[32];
	const char *colon;
	long port = 0;
	char *end;
	int fd = -1, one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listen_at != NULL) {
		colon = strrchr(listen_at, ':');
		if (colon == NULL || (size_t)(colon - listen_at) >=
		    sizeof(host))
			return al_err_set(err, AL_EINVAL, "--listen: '%s' is "
			    "not ADDRESS:PORT", listen_at);
		memcpy(host, listen_at, (size_t)(colon - listen_at));
		host[colon - listen_at] = '\0';
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (colon[1] == '\0' || *end != '\0' || errno != 0 ||
		    port < 0 || port > 65535)
			return al_err_set(err, AL_EINVAL, "--listen: port "
			    "'%s' is not 0-65535", colon + 1);
		if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
		    (ntohl(sa.sin_addr.s_addr) >> 24) != 127)
			return al_err_set(err, AL_EINVAL, "--listen: '%s' is "
			    "not a loopback IPv4 address (127.x.x.x): the "
			    "guard serves this machine only", host);
		sa.sin_port = htons((unsigned short)port);
	}
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return al_err_set(err, AL_ESYS, "socket: %s", strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
		int e = errno;

		close(fd);
		return al_err_set(err, AL_ESYS, "cannot listen on %s: %s",
		    listen_at != NULL ? listen_at : "127.0.0.1", strerror(e));
	}
	if (inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host)) == NULL)
		(void)snprintf(host, sizeof(host), "127.0.0.1");
	(void)snprintf(g->address, sizeof(g->address), "%s:%u", host,
	    (unsigned)ntohs(sa.sin_port));
	g->local = sa;
	g->listen_fd = fd;
	return 0;
}

int
guard_new(const struct guard_config *cfg, struct guard **out,
    struct al_err *err)
{
	struct guard *g;
	int rc;

	*out = NULL;
	if (cfg->upstream == NULL || cfg->load == NULL || cfg->audit == NULL)
		return al_err_set(err, AL_EINVAL, "--upstream is required");
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	g->cfg = *cfg;
	g->listen_fd = -1;
	if (g->cfg.body_max == 0)
		g->cfg.body_max = GUARD_BODY_MAX_DEFAULT;
	if (g->cfg.refresh_ms <= 0)
		g->cfg.refresh_ms = GUARD_REFRESH_MS_DEFAULT;
	pthread_mutex_init(&g->lock, NULL);
	pthread_mutex_init(&g->audit_lock, NULL);
	pthread_mutex_init(&g->count_lock, NULL);
	if ((rc = check_upstream(g, cfg->upstream, err)) != 0 ||
	    (rc = refresh(g, err)) != 0 ||
	    (rc = guard_dl_open(&g->dl, err)) != 0 ||
	    (rc = bind_listen(g, cfg->listen, err)) != 0 ||
	    (rc = guard_http_start(g, err)) != 0) {
		guard_free(g);
		return rc;
	}
	*out = g;
	return 0;
}

const char *
guard_address(const struct guard *g)
{
	return g->address;
}

int
guard_run(struct guard *g, int stop_fd, struct al_err *err)
{
	struct pollfd p = { stop_fd, POLLIN, 0 };
	struct al_err e2;
	int n, was_failed;

	for (;;) {
		n = poll(&p, 1, g->cfg.refresh_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return al_err_set(err, AL_ESYS, "poll: %s",
			    strerror(errno));
		if (n > 0) {
			report(g);
			return 0;
		}
		pthread_mutex_lock(&g->lock);
		was_failed = g->failed;
		pthread_mutex_unlock(&g->lock);
		al_err_clear(&e2);
		if (refresh(g, &e2) != 0)
			fprintf(stderr, "airlock guard: cannot load the values, "
			    "refusing requests until it can: %s\n", e2.msg);
		else if (was_failed)
			fprintf(stderr, "airlock guard: values loaded again, "
			    "serving\n");
		report(g);
	}
}

void
guard_free(struct guard *g)
{
	if (g == NULL)
		return;
	guard_http_stop(g);
	if (g->listen_fd >= 0)
		close(g->listen_fd);
	guard_sets_drop(g, g->cur);
	pthread_mutex_destroy(&g->lock);
	pthread_mutex_destroy(&g->audit_lock);
	pthread_mutex_destroy(&g->count_lock);
	free(g);
}

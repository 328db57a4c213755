/*
 * The proxy's listener: one accept thread on 127.0.0.1, one thread per
 * connection, and the table of runs those connections authenticate
 * against.  A run that ends is unlinked at once (its credential gets 407
 * from then on) and the sockets of its connections are shut down; the
 * last connection thread to let go of it frees it (values wiped, CA key
 * freed).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/err.h>
#include <sodium.h>

#include "proxy_int.h"

#define IDLE_MS_DEFAULT	60000
#define CONNS_MAX	512

/*
 * Any local process may connect to the proxy, credential or not.  When
 * CONNS_MAX connections are open, the oldest one still waiting for its
 * CONNECT is shut down to make room: a flood of connections that never
 * authenticate cannot keep a run from its proxy (a client sends its
 * CONNECT at once).  Hub locked; 0 if every connection is authenticated.
 */
static int
evict_waiting(struct proxy *p)
{
	struct conn *c, *oldest = NULL;

	for (c = p->conns; c != NULL; c = c->next)
		if (c->run == NULL && !c->evicted)
			oldest = c;	/* the list is newest first */
	if (oldest == NULL)
		return 0;
	(void)shutdown(oldest->cfd, SHUT_RDWR);
	oldest->evicted = 1;
	p->nevicted++;
	return 1;
}

/* Join the threads whose connections are done. */
static void
reap(struct proxy *p)
{
	pthread_t *v;
	size_t n, i;

	pthread_mutex_lock(&p->lock);
	v = p->done;
	n = p->ndone;
	p->done = NULL;
	p->ndone = p->done_cap = 0;
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < n; i++)
		pthread_join(v[i], NULL);
	free(v);
}

/* Accept one connection on lfd (or the handoff socket) and serve it. */
static void
take(struct proxy *p, int lfd, int handoff)
{
	struct conn *c;
	pthread_t t;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		/* Out of descriptors: let some connections end. */
		if (errno == EMFILE || errno == ENFILE ||
		    errno == ENOBUFS || errno == ENOMEM)
			(void)poll(NULL, 0, 100);
		return;
	}
	pthread_mutex_lock(&p->lock);
	if (!p->stopping && p->nconns - p->nevicted >= CONNS_MAX)
		(void)evict_waiting(p);
	/* Evicted ones are ending: at most CONNS_MAX of them. */
	if (p->stopping || p->nconns - p->nevicted >= CONNS_MAX ||
	    p->nconns >= 2 * CONNS_MAX ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		pthread_mutex_unlock(&p->lock);
		close(fd);
		return;
	}
	c->p = p;
	c->cfd = fd;
	c->ufd = -1;
	c->handoff = handoff;
	c->next = p->conns;
	p->conns = c;
	p->nconns++;
	if (pthread_create(&t, NULL, conn_main, c) != 0) {
		p->conns = c->next;
		p->nconns--;
		free(c);
		close(fd);
	}
	pthread_mutex_unlock(&p->lock);
}

static void *
acceptor(void *arg)
{
	struct proxy *p = arg;
	struct pollfd pfd[3];

	for (;;) {
		reap(p);
		pfd[0].fd = p->lfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = p->wake_fd;
		pfd[1].events = POLLIN;
		pfd[2].fd = p->hfd;
		pfd[2].events = POLLIN;
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents & POLLIN)
			take(p, p->lfd, 0);
		if (pfd[2].revents & POLLIN)
			take(p, p->hfd, 1);
	}
	return NULL;
}

/*
 * The handoff socket: an abstract Unix socket (its name random, so
 * nothing depends on a file or its permissions) on which a relay that
 * accepted a client connection in another network namespace passes that
 * connection (SCM_RIGHTS), which is then served as if it had come to lfd,
 * with no relaying of its bytes.  Whoever may connect to it could
 * connect to lfd as well; the run's credential is asked for either way.
 * None when it cannot be made: relays connect to lfd then.
 */
static void
handoff_open(struct proxy *p)
{
	struct sockaddr_un sa;
	unsigned char rnd[12];
	size_t n;
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	randombytes_buf(rnd, sizeof(rnd));
	memcpy(p->handoff, "airlock-proxy-", 14);
	(void)sodium_bin2hex(p->handoff + 14, sizeof(p->handoff) - 14, rnd,
	    sizeof(rnd));
	n = strlen(p->handoff);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + 1, p->handoff, n);
	if (bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct
	    sockaddr_un, sun_path) + 1 + n)) != 0 || listen(fd, 128) != 0) {
		close(fd);
		p->handoff[0] = '\0';
		return;
	}
	p->hfd = fd;
}

int
proxy_new(const struct proxy_opts *o, struct proxy **out, struct al_err *err)
{
	struct proxy *p;
	struct sockaddr_in sa;
	socklen_t slen = sizeof(sa);
	const struct ossl_dl *dl = NULL;
	sigset_t all, old;
	int rc, one = 1;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	p->lfd = p->wake_fd = p->hfd = -1;
	p->on_event = o->on_event;
	p->event_arg = o->event_arg;
	p->idle_ms = o->idle_ms > 0 ? o->idle_ms : IDLE_MS_DEFAULT;
	p->buffer_max = o->buffer_max > 0 ? o->buffer_max : PROXY_BUFFER_MAX;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->idle, NULL);
	if ((rc = ossl_dl_open(&p->dl, err)) != 0)
		goto fail;
	dl = &p->dl;
	if ((p->upstream = dl->SSL_CTX_new(dl->TLS_client_method())) == NULL ||
	    !dl->SSL_CTX_ctrl(p->upstream, SSL_CTRL_SET_MIN_PROTO_VERSION,
	    TLS1_2_VERSION, NULL) ||
	    dl->SSL_CTX_set_default_verify_paths(p->upstream) != 1) {
		rc = al_err_set(err, AL_ECRYPTO, "cannot set up upstream TLS");
		goto fail;
	}
	if (o->upstream_ca_file != NULL && o->upstream_ca_file[0] &&
	    dl->SSL_CTX_load_verify_locations(p->upstream, o->upstream_ca_file,
	    NULL) != 1) {
		rc = al_err_set(err, AL_ECRYPTO, "cannot load upstream CA file "
		    "%s", o->upstream_ca_file);
		goto fail;
	}
	dl->SSL_CTX_set_verify(p->upstream, SSL_VERIFY_PEER, NULL);
	(void)dl->SSL_CTX_ctrl(p->upstream, SSL_CTRL_SET_READ_AHEAD, 1, NULL);
	/* Several records per read(): fewer system calls on downloads. */
	dl->SSL_CTX_set_default_read_buffer_len(p->upstream, PROXY_READ_CHUNK);
	if (dl->SSL_CTX_set_alpn_protos(p->upstream,
	    (const unsigned char *)"\x08http/1.1", 9) != 0) {
		rc = al_err_set(err, AL_ECRYPTO, "cannot set up upstream TLS");
		goto fail;
	}
	if ((p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
	    (p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		rc = al_err_set(err, AL_ESYS, "socket: %s", strerror(errno));
		goto fail;
	}
	(void)setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)o->port);
	if (bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(p->lfd, 128) != 0 ||
	    getsockname(p->lfd, (struct sockaddr *)&sa, &slen) != 0) {
		rc = al_err_set(err, AL_ESYS, "cannot listen on 127.0.0.1:%d: "
		    "%s", o->port, strerror(errno));
		goto fail;
	}
	p->port = ntohs(sa.sin_port);
	handoff_open(p);
	/*
	 * The proxy's threads take no signals: a peer that hangs up makes a
	 * write fail with EPIPE instead of raising SIGPIPE, and signals the
	 * caller reads from a signalfd are never taken by a proxy thread.
	 * Connection threads inherit the mask from the acceptor.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->acceptor, NULL, acceptor, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		rc = al_err_set(err, AL_ESYS, "cannot start the proxy thread");
		goto fail;
	}
	p->started = 1;
	*out = p;
	return 0;
fail:
	if (dl != NULL)
		dl->ERR_clear_error();
	proxy_free(p);
	return rc;
}

int
proxy_port(const struct proxy *p)
{
	return p->port;
}

const char *
proxy_handoff(const struct proxy *p)
{
	return p->hfd >= 0 ? p->handoff : NULL;
}

/* Shut down the sockets of r's connections (all when r is NULL). */
static void
shut_conns(struct proxy *p, struct proxy_run *r)
{
	struct conn *c;

	for (c = p->conns; c != NULL; c = c->next) {
		if (r != NULL && c->run != r)
			continue;
		(void)shutdown(c->cfd, SHUT_RDWR);
		if (c->ufd >= 0)
			(void)shutdown(c->ufd, SHUT_RDWR);
	}
}

/* Unlink r and drop the hub's reference; hub locked. */
static void
end_locked(struct proxy *p, struct proxy_run *r)
{
	struct proxy_run **pp;

	for (pp = &p->runs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	r->dead = 1;
	shut_conns(p, r);
	if (--r->refs == 0)
		run_free(r);
}

void
proxy_free(struct proxy *p)
{
	if (p == NULL)
		return;
	if (p->started) {
		(void)al_event_post(p->wake_fd);
		pthread_join(p->acceptor, NULL);
	}
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	while (p->runs != NULL)
		end_locked(p, p->runs);
	shut_conns(p, NULL);
	while (p->nconns > 0)
		pthread_cond_wait(&p->idle, &p->lock);
	pthread_mutex_unlock(&p->lock);
	/* Every connection thread has listed itself: wait until each ends. */
	reap(p);
	if (p->lfd >= 0)
		close(p->lfd);
	if (p->hfd >= 0)
		close(p->hfd);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	if (p->dl.SSL_CTX_free != NULL)
		p->dl.SSL_CTX_free(p->upstream);
	ossl_dl_close(&p->dl);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->idle);
	free(p);
}

int
proxy_run_add(struct proxy *p, const char *run_id,
    const struct proxy_secret *secrets, size_t n, int64_t expires,
    struct proxy_run **out, struct al_err *err)
{
	struct proxy_run *r;
	int rc;

	*out = NULL;
	if ((rc = run_new(&p->dl, run_id, secrets, n, expires, &r, err)) != 0)
		return rc;
	pthread_mutex_lock(&p->lock);
	r->refs = 1;
	r->next = p->runs;
	p->runs = r;
	pthread_mutex_unlock(&p->lock);
	*out = r;
	return 0;
}

void
proxy_run_end(struct proxy *p, struct proxy_run *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	end_locked(p, r);
	pthread_mutex_unlock(&p->lock);
}

int
hub_conn_auth(struct proxy *p, struct conn *c, const char *cred, size_t len)
{
	struct proxy_run *r, *found = NULL;

	pthread_mutex_lock(&p->lock);
	/* Compare with every run in constant time: no early exit. */
	for (r = p->runs; r != NULL; r = r->next)
		if (len == PROXY_CRED_LEN && sodium_memcmp(r->cred, cred,
		    PROXY_CRED_LEN) == 0 && run_alive(r))
			found = r;
	if (found != NULL) {
		struct conn *o;
		size_t held = 0;

		/* One user's runs leave room for the others'. */
		for (o = p->conns; o != NULL; o = o->next)
			held += o->run != NULL && o->run->owner == found->owner;
		if (held >= PROXY_USER_CONNS_MAX) {
			pthread_mutex_unlock(&p->lock);
			return -2;
		}
		found->refs++;
		c->run = found;
	}
	pthread_mutex_unlock(&p->lock);
	return found != NULL ? 0 : -1;
}

void
proxy_run_set_owner(struct proxy *p, struct proxy_run *r, unsigned long owner)
{
	pthread_mutex_lock(&p->lock);
	r->owner = owner;
	pthread_mutex_unlock(&p->lock);
}

int
hub_buffer_take(struct proxy *p, size_t n)
{
	int rc = -1;

	pthread_mutex_lock(&p->lock);
	if (n <= p->buffer_max - p->buffered) {
		p->buffered += n;
		rc = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void
hub_buffer_give(struct proxy *p, size_t n)
{
	pthread_mutex_lock(&p->lock);
	p->buffered -= n < p->buffered ? n : p->buffered;
	pthread_mutex_unlock(&p->lock);
}

int
hub_run_alive(struct proxy *p, struct proxy_run *r)
{
	int alive;

	pthread_mutex_lock(&p->lock);
	alive = run_alive(r);
	pthread_mutex_unlock(&p->lock);
	return alive;
}

void
hub_conn_set_ufd(struct proxy *p, struct conn *c, int fd)
{
	pthread_mutex_lock(&p->lock);
	c->ufd = fd;
	/* A run that ended while this connected must not be served. */
	if (fd >= 0 && c->run != NULL && c->run->dead)
		(void)shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&p->lock);
}

void
hub_conn_set_cfd(struct proxy *p, struct conn *c, int fd)
{
	int old;

	pthread_mutex_lock(&p->lock);
	old = c->cfd;
	c->cfd = fd;
	/* Stopping: the old socket was shut down, and so must this be. */
	if (p->stopping)
		(void)shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&p->lock);
	close(old);
}

void
hub_conn_done(struct proxy *p, struct conn *c)
{
	struct conn **pp;
	struct proxy_run *r;

	pthread_mutex_lock(&p->lock);
	for (pp = &p->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	r = c->run;
	if (r != NULL && --r->refs == 0)
		run_free(r);
	if (c->evicted)
		p->nevicted--;
	if (c->ufd >= 0)
		close(c->ufd);
	close(c->cfd);
	free(c);
	if (p->ndone == p->done_cap) {
		size_t ncap = p->done_cap ? 2 * p->done_cap : 16;
		pthread_t *nv = realloc(p->done, ncap * sizeof(*nv));

		if (nv != NULL) {
			p->done = nv;
			p->done_cap = ncap;
		}
	}
	if (p->ndone < p->done_cap)
		p->done[p->ndone++] = pthread_self();
	else
		(void)pthread_detach(pthread_self());	/* out of memory */
	if (--p->nconns == 0)
		pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->lock);
}

/*
 * The stdio transport: newline-delimited JSON-RPC on two descriptors.
 *
 * The reading thread parses and dispatches every message in order.  Slow
 * tool calls run on their own threads so that, meanwhile, `ping`,
 * `tools/list` and above all `notifications/cancelled` are served; a
 * cancelled call is told through an eventfd (which a child-process pump
 * can poll) and an atomic flag, and its reply is dropped as the spec asks.
 * Replies and notifications are written whole, one line each, under a
 * mutex so that two threads never interleave bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "airlock/exec.h"
#include "mcp_int.h"

struct mcp_call *
mcp_call_new(struct mcp_server *s, struct mcp_sink *sink, json_t *id,
    enum mcp_era era, json_t *progress_token)
{
	struct mcp_call *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->srv = s;
	c->sink = sink;
	c->era = era;
	c->old_rev = era == MCP_ERA_LEGACY &&
	    strcmp(s->version, "2025-03-26") == 0;
	atomic_init(&c->cancelled, 0);
	c->progress = -1;
	c->id = json_deep_copy(id);
	if (progress_token != NULL)
		c->progress_token = json_deep_copy(progress_token);
	c->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->id == NULL || c->cancel_fd == -1 ||
	    (progress_token != NULL && c->progress_token == NULL)) {
		mcp_call_free(c);
		return NULL;
	}
	return c;
}

void
mcp_call_free(struct mcp_call *c)
{
	if (c == NULL)
		return;
	json_decref(c->id);
	json_decref(c->progress_token);
	if (c->cancel_fd != -1)
		(void)close(c->cancel_fd);
	free(c);
}

int
mcp_call_is_cancelled(struct mcp_call *c)
{
	return atomic_load(&c->cancelled);
}

int
mcp_sink_write(struct mcp_sink *k, json_t *msg)
{
	char *text;
	size_t len, off = 0;
	ssize_t n;
	int rc = 0;

	if ((text = mcp_dump(msg)) == NULL)
		return AL_ENOMEM;
	len = strlen(text);
	text[len] = '\0';
	pthread_mutex_lock(&k->lock);
	if (k->failed) {
		rc = AL_EIO;
		goto out;
	}
	while (off <= len) {
		/* The message, then its newline, in as many writes as it takes. */
		if (off < len)
			n = write(k->fd, text + off, len - off);
		else
			n = write(k->fd, "\n", 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			k->failed = 1;
			rc = AL_EIO;
			goto out;
		}
		off += (size_t)n;
	}
out:
	pthread_mutex_unlock(&k->lock);
	free(text);
	return rc;
}

void
mcp_call_progress(struct mcp_call *c, double progress, double total,
    const char *message)
{
	json_t *n, *p;

	if (c->sink == NULL || c->progress_token == NULL ||
	    mcp_call_is_cancelled(c) || progress <= c->progress)
		return;	/* progress must increase with every notification */
	c->progress = progress;
	p = json_pack("{s:O, s:f}", "progressToken", c->progress_token,
	    "progress", progress);
	if (p == NULL)
		return;
	if (total > 0)
		json_object_set_new(p, "total", json_real(total));
	if (message != NULL && !c->old_rev)
		json_object_set_new(p, "message", json_string(message));
	n = json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method",
	    "notifications/progress", "params", p);
	if (n != NULL)
		(void)mcp_sink_write(c->sink, n);
	json_decref(n);
}

void
mcp_cancel(struct mcp_server *s, json_t *request_id)
{
	struct mcp_call *c;

	pthread_mutex_lock(&s->lock);
	for (c = s->active; c != NULL; c = c->next) {
		if (request_id != NULL && !json_equal(c->id, request_id))
			continue;
		atomic_store(&c->cancelled, 1);
		/* The counter cannot overflow at 1 per cancel. */
		(void)al_event_post(c->cancel_fd);
		mcp_log(s, "request cancelled");
	}
	pthread_mutex_unlock(&s->lock);
}

struct worker {
	struct mcp_server	*s;
	const struct mcp_tool	*t;
	struct mcp_call		*c;
	json_t			*args;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct mcp_server *s = w->s;
	struct mcp_call *c = w->c, **pp;
	json_t *r;

	r = mcp_tool_invoke(s, w->t, c, w->args);
	if (r != NULL && !mcp_call_is_cancelled(c))
		(void)mcp_sink_write(c->sink, r);
	json_decref(r);
	json_decref(w->args);
	pthread_mutex_lock(&s->lock);
	for (pp = &s->active; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	s->nactive--;
	pthread_cond_broadcast(&c->sink->idle);
	pthread_mutex_unlock(&s->lock);
	mcp_call_free(c);
	free(w);
	return NULL;
}

int
mcp_call_spawn(struct mcp_server *s, const struct mcp_tool *t,
    struct mcp_call *c, json_t *args)
{
	struct worker *w;
	pthread_attr_t attr;
	pthread_t th;
	int rc = AL_EBUSY;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return AL_ENOMEM;
	w->s = s;
	w->t = t;
	w->c = c;
	if ((w->args = json_deep_copy(args)) == NULL) {
		free(w);
		return AL_ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	if (s->nactive >= MCP_MAX_ACTIVE)
		goto out;
	c->next = s->active;
	s->active = c;
	s->nactive++;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, worker_main, w) != 0) {
		s->active = c->next;
		s->nactive--;
		rc = AL_ESYS;
	} else {
		w = NULL;
		rc = 0;
	}
	pthread_attr_destroy(&attr);
out:
	pthread_mutex_unlock(&s->lock);
	if (w != NULL) {
		json_decref(w->args);
		free(w);
	}
	return rc;
}

/* Parse and answer one line. */
static void
serve_line(struct mcp_server *s, struct mcp_sink *k, const char *p,
    size_t n)
{
	json_t *in, *out;
	json_error_t jerr;
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			break;
	if (i == n)
		return;		/* blank lines are not messages */
	in = json_loadb(p, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (in == NULL) {
		char m[96];

		(void)snprintf(m, sizeof(m), "Parse error: invalid JSON at "
		    "line %d, column %d", jerr.line, jerr.column);
		out = mcp_error(NULL, MCP_PARSE_ERROR, m, NULL);
		mcp_log(s, "%s", m);
	} else {
		out = mcp_dispatch(s, in, k);
		json_decref(in);
	}
	if (out != NULL)
		(void)mcp_sink_write(k, out);
	json_decref(out);
}

int
mcp_serve(struct mcp_server *s, int in_fd, int out_fd, struct al_err *err)
{
	struct mcp_sink k;
	struct al_buf line;
	char chunk[65536], *nl;
	size_t start, len;
	ssize_t n;
	struct timespec deadline;
	struct signalfd_siginfo si;
	struct pollfd pf[2];
	sigset_t block, old, term;
	int skipping = 0, rc = 0, sigfd, signalled = 0;

	/*
	 * `run` hands the task to exec, which takes these signals over in
	 * its thread: every thread must have them blocked (exec.h), so block
	 * them before the first worker starts.  SIGINT, SIGTERM and SIGHUP
	 * then end the server as end of input does, through a signalfd.
	 */
	exec_signals(&block);
	(void)pthread_sigmask(SIG_BLOCK, &block, &old);
	(void)sigemptyset(&term);
	(void)sigaddset(&term, SIGINT);
	(void)sigaddset(&term, SIGTERM);
	(void)sigaddset(&term, SIGHUP);
	sigfd = signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);
	memset(&k, 0, sizeof(k));
	k.fd = out_fd;
	pthread_mutex_init(&k.lock, NULL);
	pthread_cond_init(&k.idle, NULL);
	al_buf_init(&line, MCP_MAX_MESSAGE + sizeof(chunk), 0);
	for (;;) {
		pf[0].fd = in_fd;
		pf[0].events = POLLIN;
		pf[1].fd = sigfd;
		pf[1].events = POLLIN;
		pf[0].revents = pf[1].revents = 0;
		if (poll(pf, sigfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR) {
			rc = al_err_set(err, AL_ESYS, "poll: %s",
			    strerror(errno));
			break;
		}
		if (sigfd >= 0 && (pf[1].revents & POLLIN) &&
		    read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			mcp_log(s, "signal %u: ending running calls and "
			    "exiting", si.ssi_signo);
			signalled = 1;
			break;
		}
		if (pf[0].revents == 0)
			continue;
		n = read(in_fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = al_err_set(err, AL_EIO, "reading standard input: "
			    "%s", strerror(errno));
			break;
		}
		if (n == 0)
			break;
		start = 0;
		while (start < (size_t)n) {
			nl = memchr(chunk + start, '\n', (size_t)n - start);
			len = nl != NULL ? (size_t)(nl - chunk) - start :
			    (size_t)n - start;
			if (!skipping && al_buf_append(&line, chunk + start,
			    len) != 0) {
				/* Over the limit: answer once, drop the rest. */
				json_t *e = mcp_error(NULL, MCP_PARSE_ERROR,
				    "Parse error: message over the size limit",
				    NULL);

				(void)mcp_sink_write(&k, e);
				json_decref(e);
				al_buf_reset(&line);
				skipping = 1;
			}
			if (nl == NULL)
				break;
			if (!skipping)
				serve_line(s, &k, (const char *)line.data,
				    line.len);
			al_buf_reset(&line);
			skipping = 0;
			start += len + 1;
		}
		if (k.failed) {
			rc = al_err_set(err, AL_EIO, "standard output closed");
			break;
		}
	}
	if (rc == 0 && !signalled && !skipping && line.len > 0)
		serve_line(s, &k, (const char *)line.data, line.len);
	/*
	 * End of input: the client is shutting down.  Calls about to finish
	 * get a short grace period (a client that half-closes its pipe still
	 * reads their replies); whatever still runs then is cancelled, so
	 * the server exits promptly as the stdio transport expects.
	 */
	pthread_mutex_lock(&s->lock);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += signalled ? 0 : MCP_EOF_GRACE_MS / 1000;
	while (s->nactive > 0 && pthread_cond_timedwait(&k.idle, &s->lock,
	    &deadline) == 0)
		;
	pthread_mutex_unlock(&s->lock);
	mcp_cancel(s, NULL);
	pthread_mutex_lock(&s->lock);
	while (s->nactive > 0)
		pthread_cond_wait(&k.idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
	al_buf_release(&line);
	if (sigfd >= 0)
		(void)close(sigfd);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_cond_destroy(&k.idle);
	pthread_mutex_destroy(&k.lock);
	return rc;
}

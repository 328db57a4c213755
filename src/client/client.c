/*
 * The broker client: one connection to the broker's Unix socket, reused for
 * every request so that it (and what is bound to it) lives as long as the
 * client.  Requests are written here; replies are read by http.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/api.h"
#include "client_int.h"

static void
disconnect(struct client *cl)
{
	if (cl->fd >= 0)
		(void)close(cl->fd);
	cl->fd = -1;
	cl->reused = 0;
	http_src_reset(&cl->in);
}

/* Wait for events on the socket until the request's deadline. */
static int
wait_for(struct client *cl, short events, struct al_err *err)
{
	struct pollfd p = { cl->fd, events, 0 };
	int64_t left;
	int n;

	for (;;) {
		if ((left = cl->deadline_ms - al_mono_ms()) <= 0)
			return al_err_set(err, AL_ETIMEDOUT, "the broker did not "
			    "answer within %d ms", cl->timeout_ms);
		n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return al_err_set(err, AL_ESYS, "poll: %s",
			    strerror(errno));
	}
}

static int
io_failed(struct client *cl, const char *what, int e, struct al_err *err)
{
	return al_err_set(err, AL_EUNAVAIL, "talking to the broker on %s "
	    "failed: %s: %s", cl->socket_path, what, strerror(e));
}

/* http_src's read: the socket, within the deadline. */
static ssize_t
sock_read(void *ctx, void *p, size_t n, struct al_err *err)
{
	struct client *cl = ctx;
	ssize_t got;

	for (;;) {
		if ((got = read(cl->fd, p, n)) >= 0)
			return got;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			(void)io_failed(cl, "read", errno, err);
			return -1;
		}
		if (wait_for(cl, POLLIN, err) != 0)
			return -1;
	}
}

static int
send_all(struct client *cl, const unsigned char *p, size_t n,
    struct al_err *err)
{
	ssize_t k;
	int rc;

	while (n > 0) {
		k = send(cl->fd, p, n, MSG_NOSIGNAL);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
		} else if (k < 0 && errno == EINTR) {
			continue;
		} else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if ((rc = wait_for(cl, POLLOUT, err)) != 0)
				return rc;
		} else {
			return io_failed(cl, "send", k < 0 ? errno : EPIPE,
			    err);
		}
	}
	return 0;
}

static int
sock_connect(struct client *cl, struct al_err *err)
{
	struct sockaddr_un sa;
	size_t n = strlen(cl->socket_path);
	int e;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (n >= sizeof(sa.sun_path))
		return al_err_set(err, AL_ETOOBIG, "socket path %s is too long",
		    cl->socket_path);
	memcpy(sa.sun_path, cl->socket_path, n + 1);
	if ((cl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) < 0)
		return al_err_set(err, AL_ESYS, "socket: %s", strerror(errno));
	cl->reused = 0;
	http_src_reset(&cl->in);
	for (;;) {
		if (connect(cl->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return 0;
		e = errno;
		if (e == EINTR)
			continue;
		/* A full backlog: the broker is busy, try again shortly. */
		if (e == EAGAIN && al_mono_ms() < cl->deadline_ms) {
			(void)poll(NULL, 0, 2);
			continue;
		}
		disconnect(cl);
		if (e == EAGAIN)
			return al_err_set(err, AL_ETIMEDOUT, "the broker did not "
			    "answer within %d ms", cl->timeout_ms);
		return al_err_set(err, AL_EUNAVAIL, "no broker answers on %s",
		    cl->socket_path);
	}
}

/*
 * Whether what listens on cl->fd is an airlock broker of the user that owns
 * the socket's directory (the state directory, or the directory a broker of
 * its own user shares).  Checked before anything secret (the approver PIN)
 * is sent, so a socket path pointed elsewhere collects nothing:
 *   - the peer's uid (SO_PEERCRED) must own the socket's directory and the
 *     socket itself;
 *   - its executable (/proc/PID/exe), when readable, must be this program's
 *     file or be named "airlock"; when not readable (a broker of another
 *     user), its command name (/proc/PID/comm) must be "airlock".
 */
static int
peer_is_broker(struct client *cl, struct al_err *err)
{
	struct ucred uc;
	socklen_t ul = sizeof(uc);
	struct stat dst, sst, pst, mst;
	char dir[PATH_MAX], p[64], exe[PATH_MAX], comm[32];
	const char *base;
	ssize_t n;
	FILE *f;

	if (getsockopt(cl->fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) != 0 ||
	    ul != sizeof(uc) || uc.pid <= 0)
		return al_err_set(err, AL_EPERM, "refusing to send the approver "
		    "PIN: cannot tell who listens on %s", cl->socket_path);
	(void)snprintf(dir, sizeof(dir), "%s", cl->socket_path);
	if (stat(dirname(dir), &dst) != 0 || stat(cl->socket_path, &sst) != 0)
		return al_err_set(err, AL_EPERM, "refusing to send the approver "
		    "PIN: cannot check the owner of %s", cl->socket_path);
	if (uc.uid != dst.st_uid || uc.uid != sst.st_uid)
		return al_err_set(err, AL_EPERM, "refusing to send the approver "
		    "PIN: %s is served by uid %ld, but the socket and its "
		    "directory belong to uid %ld/%ld (not the broker)",
		    cl->socket_path, (long)uc.uid, (long)sst.st_uid,
		    (long)dst.st_uid);
	(void)snprintf(p, sizeof(p), "/proc/%ld/exe", (long)uc.pid);
	if ((n = readlink(p, exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		/* A broker still running a binary since replaced. */
		if ((size_t)n > sizeof(" (deleted)") - 1 && strcmp(exe + n -
		    (sizeof(" (deleted)") - 1), " (deleted)") == 0)
			exe[n - (sizeof(" (deleted)") - 1)] = '\0';
		base = strrchr(exe, '/');
		base = base ? base + 1 : exe;
		if (stat(p, &pst) == 0 && stat("/proc/self/exe", &mst) == 0 &&
		    pst.st_dev == mst.st_dev && pst.st_ino == mst.st_ino)
			return 0;
		if (strcmp(base, "airlock") == 0)
			return 0;
		return al_err_set(err, AL_EPERM, "refusing to send the approver "
		    "PIN: %s is served by %s (pid %ld), not an airlock broker",
		    cl->socket_path, exe, (long)uc.pid);
	}
	(void)snprintf(p, sizeof(p), "/proc/%ld/comm", (long)uc.pid);
	comm[0] = '\0';
	if ((f = fopen(p, "re")) != NULL) {
		if (fgets(comm, sizeof(comm), f) == NULL)
			comm[0] = '\0';
		(void)fclose(f);
	}
	comm[strcspn(comm, "\n")] = '\0';
	if (strcmp(comm, "airlock") == 0)
		return 0;
	return al_err_set(err, AL_EPERM, "refusing to send the approver PIN: "
	    "%s is served by '%s' (pid %ld), not an airlock broker",
	    cl->socket_path, comm, (long)uc.pid);
}

/*
 * A kept connection the broker has closed (or that holds bytes nobody asked
 * for) is dropped before a request goes out on it.
 */
static void
drop_if_stale(struct client *cl)
{
	struct pollfd p = { cl->fd, POLLIN | POLLRDHUP, 0 };

	if (cl->fd >= 0 && poll(&p, 1, 0) != 0)
		disconnect(cl);
}

void
client_conn_init(struct client *cl)
{
	cl->fd = -1;
	cl->reused = 0;
	http_src_init(&cl->in, sock_read, cl);
}

/* The request line and headers (nothing secret is ever sent). */
static int
request_head(struct al_buf *req, const char *method, const char *path,
    size_t body_len, int has_body, struct al_err *err)
{
	size_t i;

	for (i = 0; method[i]; i++)
		if (method[i] < 'A' || method[i] > 'Z')
			return al_err_set(err, AL_EINVAL, "bad request method");
	for (i = 0; path[i]; i++)
		if ((unsigned char)path[i] <= 0x20 ||
		    (unsigned char)path[i] >= 0x7f)
			return al_err_set(err, AL_EINVAL, "bad request path");
	if (i == 0 || i > 4096 || path[0] != '/')
		return al_err_set(err, AL_EINVAL, "bad request path");
	if (al_buf_printf(req, "%s %s HTTP/1.1\r\nHost: airlock\r\n", method,
	    path) != 0 || (has_body && al_buf_printf(req, "Content-Type: "
	    API_CT_JSON "\r\nContent-Length: %zu\r\n", body_len) != 0) ||
	    al_buf_puts(req, "\r\n") != 0)
		return al_err_set(err, AL_ETOOBIG, "request too large");
	return 0;
}

/* Send req and read its reply, on a new connection if needed. */
static int
exchange(struct client *cl, const struct al_buf *req, int want_value,
    struct http_reply *r, struct al_err *err)
{
	int rc, tries, was_reused;

	cl->deadline_ms = al_mono_ms() + cl->timeout_ms;
	for (tries = 0; ; tries++) {
		drop_if_stale(cl);
		if (cl->fd < 0 && (rc = sock_connect(cl, err)) != 0)
			return rc;
		if (cl->verify_peer && (rc = peer_is_broker(cl, err)) != 0) {
			disconnect(cl);
			return rc;
		}
		was_reused = cl->reused;
		rc = send_all(cl, req->data, req->len, err);
		if (rc == 0) {
			al_buf_reset(r->body);
			rc = http_read_reply(&cl->in, want_value, r, err);
		}
		if (rc == 0) {
			if (r->close)
				disconnect(cl);
			else
				cl->reused = 1;
			return 0;
		}
		disconnect(cl);
		/*
		 * A kept connection the broker closed just as we sent: once
		 * more on a new one, as long as no byte of a reply came.
		 */
		if (!was_reused || r->got_any || tries > 0 ||
		    (rc != AL_EUNAVAIL))
			return rc;
	}
}

static int
code_for(long status, const char *name)
{
	if (status == 403 && name && strcmp(name, API_E_DENIED) == 0)
		return AL_EDENIED;
	switch (status) {
	case 400:	return AL_EINVAL;
	case 403:	return AL_EPERM;
	case 404:	return AL_ENOENT;
	case 405:	return AL_EPROTO;
	case 409:	return AL_EEXIST;
	case 410:	return AL_EEXPIRED;
	case 413:	return AL_ETOOBIG;
	case 429:	return AL_EBUSY;
	case 503:	return AL_EUNAVAIL;
	default:	return AL_EIO;
	}
}

/* Turn an error reply into err; keep the reply for callers that want it. */
static int
error_from(long status, json_t *j, struct al_err *err)
{
	json_t *e = json_object_get(j, API_F_ERROR);
	const char *name = json_string_value(json_object_get(e, API_F_CODE));
	const char *msg = json_string_value(json_object_get(e, API_F_MESSAGE));
	const char *rule = json_string_value(json_object_get(e, API_F_RULE));
	int code = code_for(status, name);

	if (msg == NULL)
		return al_err_set(err, AL_EPROTO, "the broker answered HTTP "
		    "%ld without an error message", status);
	if (code == AL_EDENIED && rule && rule[0])
		return al_err_set(err, code, "denied by policy rule '%s': %s",
		    rule, msg);
	if (code == AL_EDENIED)
		return al_err_set(err, code, "denied: %s", msg);
	return al_err_set(err, code, "%s", msg);
}

int
client_call(struct client *cl, const char *method, const char *path,
    json_t *body, struct al_secret **value, long *status, json_t **out,
    struct al_err *err)
{
	struct al_buf req, reply;
	struct http_reply r;
	json_error_t jerr;
	json_t *j = NULL;
	char *payload = NULL;
	size_t plen = 0;
	int rc;

	if (out)
		*out = NULL;
	if (value)
		*value = NULL;
	/*
	 * The largest body a route takes (texts to mask) plus the head;
	 * a body may carry the approver PIN: guarded then, and wiped on
	 * free.  A request without one is a method and a path, which hold
	 * no value (request_head), and needs no guarded pages.
	 */
	al_buf_init(&req, API_REDACT_BODY_MAX + 4096, body != NULL ?
	    AL_BUF_SENSITIVE : 0);
	al_buf_init(&reply, HTTP_JSON_MAX, 0);
	memset(&r, 0, sizeof(r));
	r.body = &reply;
	if (body != NULL) {
		if ((payload = json_dumps(body, JSON_COMPACT)) == NULL) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			goto out;
		}
		plen = strlen(payload);
		/* The head and the body in one guarded allocation. */
		if (al_buf_reserve(&req, plen + 1200) != 0) {
			rc = al_err_set(err, AL_ETOOBIG, "request too large");
			goto out;
		}
	}
	if ((rc = request_head(&req, method, path, plen, body != NULL,
	    err)) != 0)
		goto out;
	if (plen > 0 && al_buf_append(&req, payload, plen) != 0) {
		rc = al_err_set(err, AL_ETOOBIG, "request too large");
		goto out;
	}
	if ((rc = exchange(cl, &req, value != NULL, &r, err)) != 0)
		goto out;
	if (status)
		*status = r.status;
	if (r.value != NULL) {
		*value = r.value;
		r.value = NULL;
		memcpy(cl->value_lease, r.lease, sizeof(cl->value_lease));
		rc = 0;
		goto out;
	}
	if (strncmp(r.ctype, API_CT_JSON, strlen(API_CT_JSON)) == 0) {
		j = json_loadb((const char *)reply.data, reply.len, 0, &jerr);
		if (j == NULL) {
			rc = al_err_set(err, AL_EPROTO, "the broker sent malformed "
			    "JSON (HTTP %ld)", r.status);
			goto out;
		}
	} else if (r.status < 300 && out != NULL) {
		/* Only /metrics is text; callers of JSON routes get an error. */
		j = json_stringn((const char *)reply.data, reply.len);
	}
	if (r.status >= 400) {
		rc = error_from(r.status, j, err);
		goto out;
	}
	/* A JSON reply where a value may come goes to out, if given. */
	if (value != NULL && out == NULL) {
		rc = al_err_set(err, AL_EPROTO, "unexpected reply to a value "
		    "request (HTTP %ld)", r.status);
		goto out;
	}
	if (out) {
		*out = j;
		j = NULL;
	}
	rc = 0;
out:
	al_secret_free(r.value);
	json_decref(j);
	if (payload != NULL)	/* it may hold the approver PIN */
		sodium_memzero(payload, strlen(payload));
	free(payload);
	al_buf_release(&req);
	al_buf_release(&reply);
	return rc;
}

int
client_send(struct client *cl, const char *method, const char *path,
    struct al_err *err)
{
	struct al_buf req;
	int rc;

	al_buf_init(&req, 8192, 0);
	cl->deadline_ms = al_mono_ms() + cl->timeout_ms;
	if ((rc = request_head(&req, method, path, 0, 0, err)) == 0 &&
	    (cl->fd >= 0 || (rc = sock_connect(cl, err)) == 0) &&
	    (rc = send_all(cl, req.data, req.len, err)) != 0)
		disconnect(cl);
	al_buf_release(&req);
	return rc;
}

int
client_recv(struct client *cl, json_t **out, struct al_err *err)
{
	struct al_buf reply;
	struct http_reply r;
	json_error_t jerr;
	json_t *j = NULL;
	int rc;

	*out = NULL;
	al_buf_init(&reply, HTTP_JSON_MAX, 0);
	memset(&r, 0, sizeof(r));
	r.body = &reply;
	cl->deadline_ms = al_mono_ms() + cl->timeout_ms;
	if ((rc = http_read_reply(&cl->in, 0, &r, err)) != 0) {
		disconnect(cl);
		goto out;
	}
	if (r.close)
		disconnect(cl);
	if (strncmp(r.ctype, API_CT_JSON, strlen(API_CT_JSON)) != 0 ||
	    (j = json_loadb((const char *)reply.data, reply.len, 0,
	    &jerr)) == NULL) {
		rc = al_err_set(err, AL_EPROTO, "the broker sent malformed "
		    "JSON (HTTP %ld)", r.status);
		goto out;
	}
	if (r.status >= 400) {
		rc = error_from(r.status, j, err);
		goto out;
	}
	*out = j;
	j = NULL;
out:
	json_decref(j);
	al_secret_free(r.value);
	al_buf_release(&reply);
	return rc;
}

/* s, percent-encoded but for unreserved characters, onto b. */
static int
pct_append(struct al_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; *s; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("-._~,", c) != NULL) {
			if (al_buf_putc(b, (char)c) != 0)
				return -1;
		} else if (al_buf_putc(b, '%') != 0 ||
		    al_buf_putc(b, hex[c >> 4]) != 0 ||
		    al_buf_putc(b, hex[c & 15]) != 0)
			return -1;
	}
	return 0;
}

int
client_redact_stream(struct client *cl, const char *task, const char *intent,
    const char *secrets, int *fd, struct al_err *err)
{
	struct al_buf req, reply;
	struct http_reply r;
	json_error_t jerr;
	json_t *j = NULL;
	char one[API_TEXT_MAX + 1];
	const char *p;
	size_t n;
	int rc, fl;

	*fd = -1;
	if ((rc = client_text_check(API_F_TASK, task, err)) != 0 ||
	    (rc = client_text_check(API_F_INTENT, intent, err)) != 0)
		return rc;
	/* A value typed as a name is not sent. */
	for (p = secrets; p != NULL && *p; p += n + (p[n] == ',')) {
		n = strcspn(p, ",");
		if (n >= sizeof(one))
			return al_err_set(err, AL_EINVAL, "a secret name is too "
			    "long");
		memcpy(one, p, n);
		one[n] = '\0';
		if ((rc = client_name_check(one, err)) != 0) {
			sodium_memzero(one, sizeof(one));
			return rc;
		}
	}
	/* The stream takes a connection of its own over. */
	disconnect(cl);
	al_buf_init(&req, 8192, 0);
	al_buf_init(&reply, HTTP_JSON_MAX, 0);
	memset(&r, 0, sizeof(r));
	r.body = &reply;
	r.upgrade = 1;
	if (al_buf_puts(&req, "POST " API_REDACT_STREAM "?intent=") != 0 ||
	    pct_append(&req, intent ? intent : "redact") != 0 ||
	    (task != NULL && (al_buf_puts(&req, "&task=") != 0 ||
	    pct_append(&req, task) != 0)) ||
	    (secrets != NULL && (al_buf_puts(&req, "&secrets=") != 0 ||
	    pct_append(&req, secrets) != 0)) ||
	    al_buf_puts(&req, " HTTP/1.1\r\nHost: airlock\r\nConnection: "
	    "Upgrade\r\nUpgrade: " API_RS_PROTO "\r\nContent-Length: 0"
	    "\r\n\r\n") != 0) {
		rc = al_err_set(err, AL_ETOOBIG, "task, intent or secret names "
		    "too long");
		goto out;
	}
	if ((rc = exchange(cl, &req, 0, &r, err)) != 0)
		goto out;
	if (r.status == 101) {
		*fd = cl->fd;
		cl->fd = -1;
		cl->reused = 0;
		if ((fl = fcntl(*fd, F_GETFL)) >= 0)
			(void)fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK);
		rc = 0;
		goto out;
	}
	if (strncmp(r.ctype, API_CT_JSON, strlen(API_CT_JSON)) == 0)
		j = json_loadb((const char *)reply.data, reply.len, 0, &jerr);
	if (r.status >= 400 && j != NULL)
		rc = error_from(r.status, j, err);
	else
		rc = al_err_set(err, AL_EPROTO, "unexpected reply to a redaction "
		    "stream request (HTTP %ld)", r.status);
out:
	json_decref(j);
	al_buf_release(&req);
	al_buf_release(&reply);
	return rc;
}

void
client_conn_close(struct client *cl)
{
	disconnect(cl);
}

void
client_close(struct client *cl)
{
	if (cl == NULL)
		return;
	disconnect(cl);
	free(cl);
}

/*
 * Finding a broker, and starting one when none answers (as gpg-agent is
 * started by gpg): `airlock serve` takes the state directory's lock,
 * detaches and exits once its socket accepts connections, so when it exits
 * the broker is ready (or its error is on the pipe we gave it as stderr).
 * Two clients starting one at once is harmless: the second `serve` finds
 * the lock taken and both clients then reach the first broker.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "airlock/api.h"
#include "client_int.h"

#define START_TIMEOUT_MS	15000

/* Read the child's stderr until EOF or the deadline. */
static void
drain(int fd, char *buf, size_t bufsz, int64_t deadline)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char sink[256];
	size_t len = 0;
	ssize_t n;
	int64_t left;

	buf[0] = '\0';
	while ((left = deadline - al_mono_ms()) > 0) {
		if (poll(&p, 1, (int)left) <= 0)
			break;
		if (len < bufsz - 1)
			n = read(fd, buf + len, bufsz - 1 - len);
		else
			n = read(fd, sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len < bufsz - 1)
			len += (size_t)n;
	}
	buf[len] = '\0';
	/* Keep the first line, without the "airlock: error: " prefix. */
	buf[strcspn(buf, "\n")] = '\0';
}

extern char **environ;

/* environ with AIRLOCK_HOME and AIRLOCK_SOCKET set to ours (malloc'ed). */
static char **
child_env(struct client *cl)
{
	char **env;
	size_t n = 0, i, j = 0;

	while (environ[n])
		n++;
	if ((env = calloc(n + 3, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "AIRLOCK_HOME=", 13) != 0 &&
		    strncmp(environ[i], "AIRLOCK_SOCKET=", 15) != 0)
			env[j++] = environ[i];
	if (asprintf(&env[j], "AIRLOCK_HOME=%s", cl->home) < 0) {
		free(env);
		return NULL;
	}
	if (asprintf(&env[j + 1], "AIRLOCK_SOCKET=%s", cl->socket_path) < 0) {
		free(env[j]);
		free(env);
		return NULL;
	}
	return env;
}

static void
child_env_free(char **env)
{
	size_t n = 0;

	if (env == NULL)
		return;
	while (env[n])
		n++;
	/* Only the last two are ours. */
	free(env[n - 1]);
	free(env[n - 2]);
	free(env);
}

int
client_autostart(struct client *cl, struct al_err *err)
{
	char msg[512], *args[] = { "airlock", "serve", NULL }, **env = NULL;
	const char *p;
	int64_t deadline = al_mono_ms() + START_TIMEOUT_MS;
	int pfd[2] = { -1, -1 }, status, rc, devnull;
	pid_t pid, w;

	if (cl->bin[0] == '\0')
		return al_err_set(err, AL_EUNAVAIL, "no broker answers on %s: "
		    "start one with `airlock serve`", cl->socket_path);
	if ((env = child_env(cl)) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		child_env_free(env);
		return al_err_set(err, AL_ESYS, "pipe: %s", strerror(errno));
	}
	if ((pid = fork()) < 0) {
		rc = al_err_set(err, AL_ESYS, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec. */
		devnull = open("/dev/null", O_RDWR);
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 ||
		    dup2(pfd[1], 2) < 0)
			_exit(127);
		/* Nothing of ours leaks into the broker. */
		(void)close_range(3, ~0U, 0);
		execve(cl->bin, args, env);
		_exit(127);
	}
	(void)close(pfd[1]);
	pfd[1] = -1;
	drain(pfd[0], msg, sizeof(msg), deadline);
	do {
		w = waitpid(pid, &status, 0);
	} while (w < 0 && errno == EINTR);
	if (w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		rc = 0;
		goto out;
	}
	p = msg;
	if (strncmp(p, "airlock: error: ", 16) == 0)
		p += 16;
	/* Lost a race with another client's `serve`: fine, connect to it. */
	if (strstr(p, "already running") != NULL) {
		rc = 0;
		goto out;
	}
	rc = al_err_set(err, AL_EUNAVAIL, "cannot start the broker: %s",
	    p[0] ? p : "`airlock serve` failed (see airlockd.log)");
out:
	child_env_free(env);
	if (pfd[0] >= 0)
		(void)close(pfd[0]);
	if (pfd[1] >= 0)
		(void)close(pfd[1]);
	return rc;
}

static void
notice(const struct client_opts *o, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (o->notice == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);	/* may truncate */
	va_end(ap);
	o->notice(msg, o->notice_arg);
}

/*
 * A broker of another version (an upgrade or a rebuild left it running):
 * stopped when idle (0: start ours), else left alone with a word (1).
 */
static int
other_version(const struct client_opts *o, struct client *cl, json_t *h,
    struct al_err *err)
{
	const char *v = json_string_value(json_object_get(h, "version"));
	json_int_t pid = json_integer_value(json_object_get(h, "pid"));
	int rc;

	if (v != NULL && strcmp(v, AIRLOCK_VERSION) == 0)
		return 1;
	if (json_integer_value(json_object_get(h, "leases")) != 0 ||
	    json_integer_value(json_object_get(h, "approvals")) != 0) {
		notice(o, "the broker runs airlock %s and this is airlock %s; "
		    "it is busy, so it keeps running (restarted once idle, or "
		    "run `airlock stop`)", v ? v : "of an unknown version",
		    AIRLOCK_VERSION);
		return 1;
	}
	notice(o, "the broker runs airlock %s and this is airlock %s: "
	    "restarting it", v ? v : "of an unknown version", AIRLOCK_VERSION);
	if ((rc = client_stop_pid(cl->home, (pid_t)pid, err)) != 0)
		return rc;
	return 0;
}

int
client_open(const struct client_opts *o, struct client **out,
    struct al_err *err)
{
	struct client *cl;
	int64_t deadline;
	json_t *h = NULL;
	int rc;

	*out = NULL;
	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	cl->fd = -1;
	cl->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
	if (snprintf(cl->home, sizeof(cl->home), "%s", o->home) >=
	    (int)sizeof(cl->home) ||
	    snprintf(cl->bin, sizeof(cl->bin), "%s", o->airlock_bin ?
	    o->airlock_bin : "") >= (int)sizeof(cl->bin)) {
		rc = al_err_set(err, AL_ETOOBIG, "path too long");
		goto out;
	}
	if (o->socket_path != NULL && o->socket_path[0])
		rc = snprintf(cl->socket_path, sizeof(cl->socket_path), "%s",
		    o->socket_path) < (int)sizeof(cl->socket_path) ? 0 :
		    AL_ETOOBIG;
	else
		rc = al_path_join(cl->socket_path, sizeof(cl->socket_path),
		    o->home, API_SOCKET_FILE);
	if (rc != 0) {
		rc = al_err_set(err, rc, "socket path too long");
		goto out;
	}
	client_conn_init(cl);
	rc = client_call(cl, "GET", API_HEALTH, NULL, NULL, NULL, &h,
	    err);
	if (rc == 0 && cl->bin[0] != '\0' && (rc = other_version(o, cl, h,
	    err)) == 0) {
		json_decref(h);
		h = NULL;
		rc = AL_EUNAVAIL;	/* stopped: start ours */
	} else if (rc == 1)
		rc = 0;
	if (rc == AL_EUNAVAIL) {
		if ((rc = client_autostart(cl, err)) != 0)
			goto out;
		/* Ready was signalled; a lost race may need a moment more. */
		deadline = al_mono_ms() + START_TIMEOUT_MS;
		do {
			rc = client_call(cl, "GET", API_HEALTH, NULL, NULL,
			    NULL, &h, err);
			if (rc != AL_EUNAVAIL)
				break;
			(void)poll(NULL, 0, 20);
		} while (al_mono_ms() < deadline);
	}
	if (rc != 0)
		goto out;
	if (json_is_string(json_object_get(h, "policy_error")))
		notice(o, "the broker refused its edited policy and keeps the "
		    "previous one: %s", json_string_value(json_object_get(h,
		    "policy_error")));
	*out = cl;
	cl = NULL;
out:
	json_decref(h);
	client_close(cl);
	return rc;
}

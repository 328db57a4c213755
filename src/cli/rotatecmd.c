/* A secret's rotation command, run with its output in guarded memory. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "airlock/vault.h"
#include "exposure.h"
#include "rotatecmd.h"

extern char **environ;

static int64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read what fd has into s (guarded, open); *done at EOF. */
static int
take(int fd, unsigned char *b, size_t *n, int *done, struct al_err *err)
{
	ssize_t r;

	if (*n == CLI_ROTATE_OUT_MAX)
		return al_err_set(err, AL_ETOOBIG, "the rotation command "
		    "printed more than %d bytes", CLI_ROTATE_OUT_MAX);
	r = read(fd, b + *n, CLI_ROTATE_OUT_MAX - *n);
	if (r > 0)
		*n += (size_t)r;
	else if (r == 0 || errno != EINTR)
		*done = 1;
	return 0;
}

int
cli_rotate_cmd_run(const char *cmd, int timeout, struct al_secret **out,
    struct al_secret **errout, int *status, struct al_err *err)
{
	int pout[2] = { -1, -1 }, perr[2] = { -1, -1 }, devnull = -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	char *argv[4];
	struct al_secret *ob = NULL, *eb = NULL;
	struct pollfd pf[2];
	unsigned char *o = NULL, *e = NULL;
	size_t on = 0, en = 0;
	int64_t deadline = mono_ms() + (int64_t)timeout * 1000;
	pid_t pid = -1;
	int rc = 0, w, st = 0, done_out = 0, done_err = 0;

	*out = *errout = NULL;
	if (pipe2(pout, O_CLOEXEC) != 0 || pipe2(perr, O_CLOEXEC) != 0 ||
	    (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		rc = al_err_set(err, AL_ESYS, "rotation command: %s",
		    strerror(errno));
		goto out;
	}
	if (al_secret_new(CLI_ROTATE_OUT_MAX, &ob) != 0 ||
	    al_secret_new(CLI_ROTATE_OUT_MAX, &eb) != 0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	o = al_secret_open(ob);
	e = al_secret_open(eb);
	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = (char *)cmd;
	argv[3] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, devnull, 0);
	posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
	posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
#ifdef __GLIBC__
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	w = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (w != 0) {
		pid = -1;
		rc = al_err_set(err, AL_ESYS, "cannot start /bin/sh: %s",
		    strerror(w));
		goto out;
	}
	(void)close(pout[1]);
	(void)close(perr[1]);
	pout[1] = perr[1] = -1;
	while (!done_out || !done_err) {
		int64_t left = deadline - mono_ms();

		if (left <= 0) {
			rc = al_err_set(err, AL_ETIMEDOUT, "the rotation "
			    "command was killed after %d s", timeout);
			goto out;
		}
		pf[0].fd = done_out ? -1 : pout[0];
		pf[1].fd = done_err ? -1 : perr[0];
		pf[0].events = pf[1].events = POLLIN;
		if (poll(pf, 2, (int)left) < 0 && errno != EINTR) {
			rc = al_err_set(err, AL_ESYS, "poll: %s",
			    strerror(errno));
			goto out;
		}
		if (pf[0].revents && (rc = take(pout[0], o, &on, &done_out,
		    err)) != 0)
			goto out;
		if (pf[1].revents && (rc = take(perr[0], e, &en, &done_err,
		    err)) != 0)
			goto out;
	}
	for (;;) {
		struct timespec ts = { 0, 5000000 };

		w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			rc = al_err_set(err, AL_ESYS, "waitpid: %s",
			    strerror(errno));
			goto out;
		}
		if (mono_ms() >= deadline) {
			rc = al_err_set(err, AL_ETIMEDOUT, "the rotation "
			    "command was killed after %d s", timeout);
			goto out;
		}
		(void)nanosleep(&ts, NULL);
	}
	pid = -1;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	al_secret_set_len(ob, on);
	al_secret_set_len(eb, en);
	al_secret_close(ob);
	al_secret_close(eb);
	*out = ob;
	*errout = eb;
	ob = eb = NULL;
out:
	if (pid > 0) {
		(void)kill(-pid, SIGKILL);
		(void)kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	al_secret_free(ob);
	al_secret_free(eb);
	for (w = 0; w < 2; w++) {
		if (pout[w] >= 0)
			(void)close(pout[w]);
		if (perr[w] >= 0)
			(void)close(perr[w]);
	}
	if (devnull >= 0)
		(void)close(devnull);
	return rc;
}

int64_t
cli_rotate_within(const char *v)
{
	char *end;
	long long n;

	if (v == NULL || *v == '\0')
		return CLI_ROTATE_WITHIN_DEFAULT;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1)
		return CLI_ROTATE_WITHIN_DEFAULT;
	return (int64_t)n;
}

int
cli_exposure_overdue(int64_t since, int64_t within, int64_t now, int64_t *by)
{
	*by = since + within;
	return now >= *by;
}

static const char *
label_value(const struct vault_meta *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->nlabels; i++)
		if (strcmp(m->labels[i].key, key) == 0)
			return m->labels[i].value;
	return NULL;
}

int
cli_meta_overdue(const struct vault_meta *m, int64_t now, int64_t *by)
{
	const char *since = label_value(m, CLI_EXPOSED_SINCE);
	struct al_err e;
	int64_t t0;

	*by = 0;
	if (since == NULL || m->status != VAULT_EXPOSED ||
	    al_parse_time(since, now, CLI_EXPOSED_SINCE, &t0, &e) != 0)
		return 0;
	return cli_exposure_overdue(t0, cli_rotate_within(label_value(m,
	    CLI_ROTATE_WITHIN)), now, by);
}

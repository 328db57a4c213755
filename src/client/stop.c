/*
 * Stopping the broker (`airlock stop`, as `ssh-agent -k`), and replacing
 * one of another version when it is idle.  The broker is stopped the way a
 * service manager would: SIGTERM to its pid, which it answers by ending its
 * bound leases and exiting.  The pid comes from its health reply and must
 * agree with airlockd.pid in the state directory, so a reply alone never
 * names a process to signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "airlock/api.h"
#include "client_int.h"

#define STOP_TIMEOUT_MS	10000

/* The pid in home/airlockd.pid, or 0. */
static pid_t
pid_file(const char *home)
{
	char path[PATH_MAX], buf[32];
	ssize_t n;
	long v;
	int fd;

	if (al_path_join(path, sizeof(path), home, API_PID_FILE) != 0 ||
	    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 1 && v < (1L << 30) ? (pid_t)v : 0;
}

/* Whether pid is gone (or a zombie, which is as good as gone). */
static int
gone(pid_t pid)
{
	struct al_proc_stat st;

	if (kill(pid, 0) != 0 && errno == ESRCH)
		return 1;
	return al_proc_stat(pid, &st) != 0 || st.state == 'Z';
}

int
client_stop_pid(const char *home, pid_t pid, struct al_err *err)
{
	int64_t deadline;

	if (pid <= 1 || pid_file(home) != pid)
		return al_err_set(err, AL_EINVAL, "the broker says it is pid "
		    "%ld, which is not the pid in %s/%s: not stopping it",
		    (long)pid, home, API_PID_FILE);
	if (kill(pid, SIGTERM) != 0)
		return al_err_set(err, errno == EPERM ? AL_EPERM : AL_ESYS,
		    "cannot stop the broker (pid %ld): %s%s", (long)pid,
		    strerror(errno), errno == EPERM ? " (it runs as another "
		    "user: stop it with its service manager)" : "");
	deadline = al_mono_ms() + STOP_TIMEOUT_MS;
	while (!gone(pid)) {
		if (al_mono_ms() > deadline)
			return al_err_set(err, AL_ETIMEDOUT, "the broker (pid "
			    "%ld) did not stop within 10 s", (long)pid);
		(void)poll(NULL, 0, 10);
	}
	return 0;
}

int
client_stop(const struct client_opts *o, long *pid, struct al_err *err)
{
	struct client_opts q = *o;
	struct client *cl = NULL;
	json_t *h = NULL;
	int rc;

	*pid = 0;
	q.airlock_bin = NULL;		/* never start one to stop it */
	q.notice = NULL;
	if ((rc = client_open(&q, &cl, err)) != 0)
		return rc == AL_EUNAVAIL ? al_err_set(err, AL_ENOENT, "no "
		    "broker is running for %s", o->home) : rc;
	if ((rc = client_health(cl, &h, err)) == 0) {
		*pid = (long)json_integer_value(json_object_get(h, "pid"));
		client_close(cl);
		cl = NULL;
		/* Our connection is closed first: it holds nothing then. */
		if ((rc = client_stop_pid(o->home, (pid_t)*pid, err)) != 0)
			*pid = 0;
	}
	json_decref(h);
	client_close(cl);
	return rc;
}

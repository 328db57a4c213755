/*
 * The processes of a task.  With a PID namespace, the caller's child is the
 * namespace's reaper, and every process of the task is below it.  Without,
 * the caller is a child subreaper while the task runs, so every process the
 * command starts stays in the caller's process tree: an orphan (a daemon
 * that double-forked and called setsid included) is re-parented to the
 * caller, not to init.  The tree is read from /proc/PID/task/TID/children
 * (of the caller's /proc, which shows the namespace's processes too).
 *
 * Signals go through pidfds, and only to a process whose parent is still
 * the caller or another process of the task, so a pid reused between the
 * walk and the kill is never hit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "airlock/exec.h"
#include "exec_int.h"

/* A runaway fork loop stops being walked past this many processes. */
#define TASK_MAX_PROCS	32768

struct pidvec {
	pid_t	*v;
	size_t	 n, cap;
};

static int
pv_push(struct pidvec *pv, pid_t pid)
{
	pid_t *nv;
	size_t ncap;

	if (pv->n == pv->cap) {
		ncap = pv->cap ? pv->cap * 2 : 32;
		if ((nv = reallocarray(pv->v, ncap, sizeof(pid_t))) == NULL)
			return AL_ENOMEM;
		pv->v = nv;
		pv->cap = ncap;
	}
	pv->v[pv->n++] = pid;
	return 0;
}

static int
pv_has(const pid_t *v, size_t n, pid_t pid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == pid)
			return 1;
	return 0;
}

/* Parse the space-separated pids of one children file into out. */
static int
read_children_file(const char *path, struct pidvec *out)
{
	char buf[4096];
	long cur = 0;
	int fd, innum = 0, rc = 0;
	ssize_t n, i;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;	/* the thread or process is gone */
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < n && rc == 0; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				cur = cur * 10 + (buf[i] - '0');
				innum = 1;
				if (cur > 1L << 30)
					cur = 0, innum = 0;
			} else if (innum) {
				rc = pv_push(out, (pid_t)cur);
				cur = 0;
				innum = 0;
			}
		}
	}
	if (rc == 0 && innum)
		rc = pv_push(out, (pid_t)cur);
	(void)close(fd);
	return rc;
}

/* Append the children of every thread of pid (0: the caller). */
static int
read_children(pid_t pid, struct pidvec *out)
{
	char dpath[64], fpath[128];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (pid == 0)
		(void)snprintf(dpath, sizeof(dpath), "/proc/self/task");
	else
		(void)snprintf(dpath, sizeof(dpath), "/proc/%d/task", (int)pid);
	if ((d = opendir(dpath)) == NULL)
		return errno == ENOENT || errno == ESRCH ? 0 : AL_ESYS;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(fpath, sizeof(fpath), "%s/%s/children", dpath,
		    de->d_name) >= (int)sizeof(fpath))
			continue;
		rc = read_children_file(fpath, out);
	}
	(void)closedir(d);
	return rc;
}

/* The parent of pid from /proc/PID/stat, or -1. */
static pid_t
read_ppid(pid_t pid)
{
	struct al_proc_stat st;

	if (al_proc_stat(pid, &st) != 0 || st.ppid <= 0)
		return -1;
	return st.ppid;
}

int
task_init(struct exec_task *t, struct al_err *err)
{
	struct pidvec pv = { NULL, 0, 0 };
	int rc;

	memset(t, 0, sizeof(*t));
	t->statfd = -1;
	t->self = getpid();
	if ((rc = read_children(0, &pv)) != 0) {
		free(pv.v);
		return al_err_set(err, rc, "cannot list the children of this "
		    "process in /proc: %s", strerror(errno));
	}
	t->pre = pv.v;
	t->npre = pv.n;
	return 0;
}

void
task_release(struct exec_task *t)
{
	free(t->pre);
	t->pre = NULL;
	t->npre = 0;
	if (t->statfd >= 0)
		(void)close(t->statfd);
	t->statfd = -1;
}

void
task_child_done(struct exec_task *t, int ws)
{
	ssize_t n;
	int st;

	t->child_reaped = 1;
	t->child_wstatus = ws;
	if (t->statfd < 0)
		return;
	/*
	 * The reaper wrote the command's status before exiting; a reaper
	 * killed before that (timeout, SIGKILL) wrote nothing, and its own
	 * status stands.
	 */
	do
		n = read(t->statfd, &st, sizeof(st));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(st))
		t->child_wstatus = st;
	(void)close(t->statfd);
	t->statfd = -1;
}

void
task_reap(struct exec_task *t)
{
	struct pidvec pv = { NULL, 0, 0 };
	size_t i;
	pid_t r;
	int ws;

	if (read_children(0, &pv) != 0)
		pv.n = 0;
	/* Without /proc, at least the child itself is reaped. */
	if (t->child && !t->child_reaped && !pv_has(pv.v, pv.n, t->child))
		(void)pv_push(&pv, t->child);
	for (i = 0; i < pv.n; i++) {
		if (pv_has(t->pre, t->npre, pv.v[i]))
			continue;
		if (pv.v[i] == t->child && t->child_reaped)
			continue;
		do
			r = waitpid(pv.v[i], &ws, WNOHANG);
		while (r < 0 && errno == EINTR);
		if (r == pv.v[i] && r == t->child)
			task_child_done(t, ws);
	}
	free(pv.v);
}

static int
cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return x < y ? -1 : x > y;
}

int
task_collect(struct exec_task *t, pid_t **out, size_t *n)
{
	struct pidvec pv = { NULL, 0, 0 }, top = { NULL, 0, 0 };
	size_t i, k;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = read_children(0, &top)) != 0)
		goto out;
	for (i = 0; i < top.n; i++)
		if (!pv_has(t->pre, t->npre, top.v[i]) &&
		    !(top.v[i] == t->child && t->child_reaped) &&
		    (rc = pv_push(&pv, top.v[i])) != 0)
			goto out;
	/* Breadth first: pv grows while it is walked. */
	for (i = 0; i < pv.n && pv.n < TASK_MAX_PROCS; i++)
		if ((rc = read_children(pv.v[i], &pv)) != 0)
			goto out;
	/* A process re-parented during the walk may appear twice. */
	if (pv.n > 1) {
		qsort(pv.v, pv.n, sizeof(pid_t), cmp_pid);
		for (i = 1, k = 1; i < pv.n; i++)
			if (pv.v[i] != pv.v[k - 1])
				pv.v[k++] = pv.v[i];
		pv.n = k;
	}
	*out = pv.v;
	*n = pv.n;
	pv.v = NULL;
out:
	free(pv.v);
	free(top.v);
	return rc;
}

/* Signal pid if it is still a process of the task (see the top). */
static void
signal_pid(struct exec_task *t, pid_t pid, int sig, const pid_t *set,
    size_t n)
{
	pid_t ppid;
	int fd;

	if ((fd = pidfd_open(pid, 0)) < 0) {
		if (errno == ENOSYS)
			(void)kill(pid, sig);
		return;
	}
	ppid = read_ppid(pid);
	if (ppid == t->self || pv_has(set, n, ppid))
		(void)pidfd_send_signal(fd, sig, NULL, 0);
	(void)close(fd);
}

int
task_signal(struct exec_task *t, int sig, size_t *count)
{
	pid_t *v = NULL;
	size_t n = 0, i;
	int rc;

	*count = 0;
	if ((rc = task_collect(t, &v, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		signal_pid(t, v[i], sig, v, n);
		/* A stopped process cannot act on SIGTERM until continued. */
		if (sig == SIGTERM)
			signal_pid(t, v[i], SIGCONT, v, n);
	}
	*count = n;
	free(v);
	return 0;
}

int
task_kill_all(struct exec_task *t, int64_t limit_ms, size_t *count,
    struct al_err *err)
{
	int64_t start = exec_now_ms();
	pid_t *v = NULL;
	size_t n, i;
	int rc, first = 1;

	*count = 0;
	for (;;) {
		task_reap(t);
		if ((rc = task_collect(t, &v, &n)) != 0)
			return al_err_set(err, rc, "cannot list the processes "
			    "of the task");
		if (first)
			*count = n;
		first = 0;
		if (n == 0)
			break;
		if (exec_now_ms() - start > limit_ms) {
			free(v);
			return al_err_set(err, AL_EIO, "%zu processes of the "
			    "task survived SIGKILL for %lld ms", n,
			    (long long)limit_ms);
		}
		for (i = 0; i < n; i++)
			signal_pid(t, v[i], SIGKILL, v, n);
		free(v);
		v = NULL;
		/* Let them die; their orphans come to us next round. */
		(void)poll(NULL, 0, 1);
	}
	free(v);
	return 0;
}

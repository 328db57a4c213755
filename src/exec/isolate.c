/*
 * The task's PID namespace.  The kernel, not a cleanup path of ours, must end
 * the task when the command exits or when we die (a SIGKILL skips every
 * cleanup path): the processes of a PID namespace are all killed when its
 * pid 1 exits, and our pid 1 asks for SIGKILL when we die.
 *
 * The pid 1 is a small reaper forked from us, not the command: pid 1 of a
 * namespace ignores every signal it has no handler for (so SIGTERM, SIGINT
 * and a fault's SIGSEGV would not end a command run as pid 1, and 128+N
 * could not be reported) and it inherits every orphan of the namespace.  The
 * reaper starts the command as pid 2, reaps whatever ends, and when the
 * command itself ends, writes its wait status to a pipe and exits: the kernel
 * then kills every process left in the namespace before we see the reaper's
 * exit.  It holds no descriptor of the task once the command runs, and
 * stays not dumpable (it never execs), so the task cannot read its memory.
 *
 * Not root: a user namespace comes with it, mapping only our own uid and gid
 * (so the command runs as the same user with no capabilities).  Root: the
 * PID and mount namespaces alone.  A mount namespace with its own /proc lets
 * the task see its own processes under the pids it knows (ps, kill, /proc/$$).
 *
 * fork() is not async-signal-safe in a threaded caller and cannot take
 * namespace flags, so the reaper and the command are started by the clone
 * system call itself, with the fork semantics (no shared memory); between it
 * and the exec, only system calls are made, as between fork and exec.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "airlock/exec.h"
#include "exec_int.h"

/* The command's pid inside the namespace: the reaper's first child. */
#define ISO_COMMAND_NSPID	2

/* Exit codes of the probe's child. */
enum { PROBE_OWN_PROC = 0, PROBE_HOST_PROC = 1, PROBE_MAPS = 2 };

static pid_t
raw_clone(unsigned long flags)
{
	/* Arguments after flags: no new stack (fork semantics), no tids. */
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL,
	    NULL);
}

static int
write_file(const char *path, const char *s)
{
	size_t n = strlen(s);
	ssize_t w;
	int fd, e;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	w = write(fd, s, n);
	e = errno;
	(void)close(fd);
	return w == (ssize_t)n ? 0 : w < 0 ? -e : -EIO;
}

/*
 * In the new namespaces: the identity maps (user namespace), then a /proc of
 * our own.  Returns 0 or -errno of a map that could not be written; *own_proc
 * says whether /proc was mounted.  Async-signal-safe.
 */
static int
ns_setup(const struct exec_prep *p, int userns, int *own_proc)
{
	int rc;

	*own_proc = 0;
	if (userns) {
		/*
		 * /proc/self of a process that is not dumpable belongs to
		 * root, so not even the process itself may write its maps:
		 * dumpable for these three writes only.  A process of the
		 * same user could read this copy of the caller's memory in
		 * that window; it holds the values of the command about to
		 * run (which that process could read from the command's
		 * environment and memfds anyway once it runs) and no vault
		 * key (the broker keeps it).
		 */
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
			return -errno;
		/* An unprivileged gid map needs setgroups denied first. */
		if ((rc = write_file("/proc/self/setgroups", "deny")) == 0 &&
		    (rc = write_file("/proc/self/uid_map", p->uid_map)) == 0)
			rc = write_file("/proc/self/gid_map", p->gid_map);
		(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		if (rc != 0)
			return rc;
	}
	/*
	 * Mounts made here must not propagate back to the caller's namespace:
	 * without a slave root, no /proc of our own.
	 */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) == 0 &&
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    NULL) == 0)
		*own_proc = 1;
	return 0;
}

/* pid 1 of the task's namespace (see the top). */
static void __attribute__((noreturn))
reaper_main(struct exec_prep *p, int userns)
{
	struct pollfd pf;
	int statfd = 3 + (int)p->nmemfd + 1, ws, rc, own_proc;
	pid_t cmd, r;

	/* Die with the caller, and make sure it is not gone already. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		exec_raw_exit(EXEC_STATUS_FAIL);
	pf.fd = p->selfpidfd;
	pf.events = POLLIN;
	pf.revents = 0;
	if (poll(&pf, 1, 0) != 0)
		exec_raw_exit(EXEC_STATUS_FAIL);
	child_fds(p, p->statpipe[1]);
	/*
	 * Tell the caller first whether the namespaces are usable (0, or
	 * the errno of a map that could not be written, as where a security
	 * module strips a new user namespace of its capabilities): it then
	 * starts the command without them.
	 */
	rc = -ns_setup(p, userns, &own_proc);
	if (write(statfd, &rc, sizeof(rc)) != (ssize_t)sizeof(rc) || rc != 0)
		exec_raw_exit(EXEC_STATUS_FAIL);
	/* Out of the caller's session: its terminal's signals are not ours. */
	(void)setsid();
	p->parent = getpid();
	if ((cmd = raw_clone(0)) < 0)
		child_fail(p, STAGE_SETUP, errno);
	if (cmd == 0) {
		(void)close(statfd);
		child_exec(p);
	}
	/*
	 * The command has its own copies: drop the descriptors (pipes, pty,
	 * memfds, report pipe) and the environment with the values.
	 */
	(void)close_range(0, (unsigned)statfd - 1, 0);
	if (p->senv != NULL)
		explicit_bzero(p->senv, p->senv_cap);
	for (;;) {
		r = waitpid(-1, &ws, 0);
		if (r == cmd) {
			(void)!write(statfd, &ws, sizeof(ws));
			/* Exiting kills everything left in the namespace. */
			exec_raw_exit(0);
		}
		if (r < 0 && errno != EINTR)
			exec_raw_exit(EXEC_STATUS_FAIL);
	}
}

static void
fill_maps(struct exec_prep *p)
{
	(void)snprintf(p->uid_map, sizeof(p->uid_map), "%u %u 1\n",
	    (unsigned)geteuid(), (unsigned)geteuid());
	(void)snprintf(p->gid_map, sizeof(p->gid_map), "%u %u 1\n",
	    (unsigned)getegid(), (unsigned)getegid());
}

int
iso_prepare(struct exec_prep *p)
{
	if ((p->selfpidfd = pidfd_open(getpid(), 0)) < 0)
		return AL_ESYS;
	if (prep_fd_above(p, &p->selfpidfd, NULL) != 0)
		return AL_ESYS;
	if (pipe2(p->statpipe, O_CLOEXEC) != 0)
		return AL_ESYS;
	if (prep_fd_above(p, &p->statpipe[0], NULL) != 0 ||
	    prep_fd_above(p, &p->statpipe[1], NULL) != 0)
		return AL_ESYS;
	fill_maps(p);
	return 0;
}

pid_t
iso_clone(struct exec_prep *p)
{
	unsigned long flags = CLONE_NEWPID | CLONE_NEWNS;
	int userns = geteuid() != 0;
	pid_t pid;

	for (;;) {
		pid = raw_clone(flags | (userns ? CLONE_NEWUSER : 0));
		if (pid == 0)
			reaper_main(p, userns);
		if (pid > 0) {
			p->ns = 1;
			return pid;
		}
		/* Root without CAP_SYS_ADMIN (a container): try as a user. */
		if (userns || errno != EPERM)
			return -1;
		userns = 1;
	}
}

/* Parse "NSpid:\tOUTER\t...\tINNER" from /proc/PID/status; -1 if absent. */
static long
nspid_inner(pid_t pid)
{
	char path[64], buf[2048], *l, *e;
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((l = strstr(buf, "\nNSpid:")) == NULL)
		return -1;
	l += 7;
	if ((e = strchr(l, '\n')) != NULL)
		*e = '\0';
	if ((l = strrchr(l, '\t')) == NULL)
		return -1;
	return strtol(l + 1, NULL, 10);
}

int
iso_verdict(struct exec_prep *p, pid_t reaper)
{
	ssize_t n;
	int v = 0, ws;

	/* Only the reaper may hold the write end, or EOF would never come. */
	if (p->statpipe[1] >= 0)
		(void)close(p->statpipe[1]);
	p->statpipe[1] = -1;
	do
		n = read(p->statpipe[0], &v, sizeof(v));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(v) && v == 0)
		return 0;
	if (n != (ssize_t)sizeof(v) || v <= 0)
		v = EPERM;
	while (waitpid(reaper, &ws, 0) < 0 && errno == EINTR)
		;
	p->ns = 0;
	return v;
}

pid_t
iso_find_command(pid_t reaper)
{
	char path[96], buf[512], *s, *end;
	long v;

	(void)snprintf(path, sizeof(path), "/proc/%d/task/%d/children",
	    (int)reaper, (int)reaper);
	if (al_proc_read_at(AT_FDCWD, path, buf, sizeof(buf)) != 0)
		return 0;
	for (s = buf; *s != '\0'; s = end) {
		v = strtol(s, &end, 10);
		if (end == s)
			break;
		if (v > 0 && nspid_inner((pid_t)v) == ISO_COMMAND_NSPID)
			return (pid_t)v;
	}
	return 0;
}

const char *
exec_isolation_name(enum exec_isolation iso)
{
	switch (iso) {
	case EXEC_ISOLATION_PIDNS:
		return "PID namespace";
	case EXEC_ISOLATION_SUBREAPER:
		return "subreaper";
	default:
		return "none";
	}
}

void
exec_isolation_probe(struct exec_isolation_info *out)
{
	unsigned long flags = CLONE_NEWPID | CLONE_NEWNS;
	struct exec_prep p;
	int userns = geteuid() != 0, ws, own_proc;
	pid_t pid, r;

	memset(out, 0, sizeof(*out));
	out->isolation = EXEC_ISOLATION_SUBREAPER;
	prep_init(&p);
	fill_maps(&p);
	for (;;) {
		pid = raw_clone(flags | (userns ? CLONE_NEWUSER : 0));
		if (pid == 0) {
			if (ns_setup(&p, userns, &own_proc) != 0)
				exec_raw_exit(PROBE_MAPS);
			exec_raw_exit(own_proc ? PROBE_OWN_PROC :
			    PROBE_HOST_PROC);
		}
		if (pid > 0 || userns || errno != EPERM)
			break;
		userns = 1;
	}
	if (pid < 0) {
		out->ns_errno = errno;
		return;
	}
	while ((r = waitpid(pid, &ws, 0)) < 0 && errno == EINTR)
		;
	if (r != pid || !WIFEXITED(ws) || WEXITSTATUS(ws) == PROBE_MAPS) {
		out->ns_errno = EPERM;
		return;
	}
	out->isolation = EXEC_ISOLATION_PIDNS;
	out->userns = userns;
	out->own_proc = WEXITSTATUS(ws) == PROBE_OWN_PROC;
}

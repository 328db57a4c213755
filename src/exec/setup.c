/*
 * Setting up a run: the child's descriptors (pipes, pty, input), the output
 * pumps, signals and the subreaper flag.  Everything here is undone by
 * teardown in run.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <linux/kcmp.h>

#include "airlock/exec.h"
#include "exec_int.h"

/* Pipe capacity asked for the child's output (fewer wake-ups). */
#define RUN_PIPE_SIZE	(1024 * 1024)

void
exec_spec_init(struct exec_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->in_fd = 0;
	spec->out_fd = 1;
	spec->err_fd = 2;
	spec->cancel_fd = -1;
	spec->netns_fd = spec->userns_fd = -1;
}

void
exec_signals(sigset_t *set)
{
	(void)sigemptyset(set);
	(void)sigaddset(set, SIGCHLD);
	(void)sigaddset(set, SIGINT);
	(void)sigaddset(set, SIGTERM);
	(void)sigaddset(set, SIGHUP);
	(void)sigaddset(set, SIGWINCH);
	(void)sigaddset(set, SIGPIPE);
}

/* Whether out and err are one file (2>&1), whose order must be kept. */
static int
same_output(int a, int b)
{
	struct stat sa, sb;

	if (a == b)
		return 1;
	if (fstat(a, &sa) != 0 || fstat(b, &sb) != 0)
		return 0;
	if (sa.st_dev != sb.st_dev || sa.st_ino != sb.st_ino)
		return 0;
	if (!S_ISREG(sa.st_mode))
		return 1;
	return syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, a, b) == 0;
}

static int
out_pipe(struct run *r, int *rd, int *wr, struct al_err *err)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) != 0)
		return al_err_set(err, AL_ESYS, "cannot create a pipe: %s",
		    strerror(errno));
	(void)fcntl(p[0], F_SETPIPE_SZ, RUN_PIPE_SIZE);
	(void)fcntl(p[0], F_SETFL, O_NONBLOCK);
	*rd = p[0];
	*wr = p[1];
	return prep_fd_above(&r->prep, wr, err);
}

/* The child's stdin (non-pty): passed as it is, /dev/null, or relayed. */
static int
setup_input(struct run *r, int in, struct al_err *err)
{
	struct stat st;
	int fd, p[2], rc;

	if (in < 0) {
		if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
			return al_err_set(err, AL_ESYS, "cannot open /dev/null: "
			    "%s", strerror(errno));
		r->prep.child_fd[0] = fd;
		return prep_fd_above(&r->prep, &r->prep.child_fd[0], err);
	}
	if (fstat(in, &st) != 0)
		return al_err_set(err, AL_EINVAL, "input descriptor %d is not "
		    "open: %s", in, strerror(errno));
	if (S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode) ||
	    S_ISBLK(st.st_mode) || (S_ISCHR(st.st_mode) && !isatty(in))) {
		if ((fd = fcntl(in, F_DUPFD_CLOEXEC, r->prep.base)) < 0)
			return al_err_set(err, AL_ESYS, "cannot duplicate the "
			    "input descriptor: %s", strerror(errno));
		r->prep.child_fd[0] = fd;
		return 0;
	}
	/* A terminal or socket could be written to: relay it. */
	if (pipe2(p, O_CLOEXEC) != 0)
		return al_err_set(err, AL_ESYS, "cannot create a pipe: %s",
		    strerror(errno));
	r->prep.child_fd[0] = p[0];
	(void)fcntl(p[1], F_SETFL, O_NONBLOCK);
	relay_init(&r->in, in, p[1], 0);
	if ((rc = prep_fd_above(&r->prep, &r->prep.child_fd[0], err)) != 0)
		return rc;
	return 0;
}

int
setup_io(struct run *r, struct al_err *err)
{
	const struct exec_spec *s = r->spec;
	int in = s->in_fd, rd[2] = { -1, -1 }, rc, wfds[3];
	struct termios tio;
	int have_tio = 0;
	pid_t pg;

	relay_init(&r->in, -1, -1, 0);
	/*
	 * Reading our controlling terminal from the background would stop
	 * us (SIGTTIN): the child gets no input instead.
	 */
	if (in >= 0 && isatty(in) && (pg = tcgetpgrp(in)) >= 0 &&
	    pg != getpgrp())
		in = -1;
	if (s->flags & EXEC_PTY) {
		if (in >= 0 && isatty(in) && tcgetattr(in, &tio) == 0)
			have_tio = 1;
		if ((rc = pty_open(&r->master, &r->prep.child_fd[1],
		    have_tio ? &tio : NULL, err)) != 0)
			return rc;
		if ((rc = prep_fd_above(&r->prep, &r->prep.child_fd[1],
		    err)) != 0)
			return rc;
		r->prep.child_fd[2] = r->prep.child_fd[1];
		r->prep.pty = 1;
		/*
		 * No input at all: stdin is /dev/null (every read ends), the
		 * terminal stays for output and /dev/tty.
		 */
		if (in < 0 && (rc = setup_input(r, -1, err)) != 0)
			return rc;
		if (in >= 0)
			r->prep.child_fd[0] = r->prep.child_fd[1];
		wfds[0] = in;
		wfds[1] = s->out_fd;
		wfds[2] = s->err_fd;
		pty_copy_winsize(r->master, wfds, 3);
		relay_init(&r->in, in, r->master, 1);
		if ((rc = pump_init(&r->pump[0], r->master, s->out_fd, &s->out,
		    err)) != 0)
			return rc;
		r->pump[0].shared_src = 1;
		if ((rc = pump_init(&r->pump[1], -1, s->err_fd, &s->err,
		    err)) != 0)
			return rc;
		if (have_tio && pty_make_raw(in, &r->raw_saved) == 0)
			r->raw_fd = in;
		return 0;
	}
	if ((rc = setup_input(r, in, err)) != 0)
		return rc;
	if ((rc = out_pipe(r, &rd[0], &r->prep.child_fd[1], err)) != 0)
		return rc;
	if ((rc = pump_init(&r->pump[0], rd[0], s->out_fd, &s->out,
	    err)) != 0) {
		(void)close(rd[0]);
		return rc;
	}
	if (same_output(s->out_fd, s->err_fd)) {
		/* One pipe keeps the order of 2>&1; the out filter sees both. */
		r->prep.child_fd[2] = dup(r->prep.child_fd[1]);
		if (r->prep.child_fd[2] < 0 ||
		    fcntl(r->prep.child_fd[2], F_SETFD, FD_CLOEXEC) != 0)
			return al_err_set(err, AL_ESYS, "cannot duplicate a "
			    "descriptor: %s", strerror(errno));
		rc = prep_fd_above(&r->prep, &r->prep.child_fd[2], err);
		return rc ? rc : pump_init(&r->pump[1], -1, s->err_fd, &s->err,
		    err);
	}
	if ((rc = out_pipe(r, &rd[1], &r->prep.child_fd[2], err)) != 0)
		return rc;
	if ((rc = pump_init(&r->pump[1], rd[1], s->err_fd, &s->err,
	    err)) != 0) {
		(void)close(rd[1]);
		return rc;
	}
	return 0;
}

int
setup_signals(struct run *r, struct al_err *err)
{
	struct sigaction sa;
	sigset_t set;
	int e;

	exec_signals(&set);
	if ((e = pthread_sigmask(SIG_BLOCK, &set, &r->oldmask)) != 0)
		return al_err_set(err, AL_ESYS, "cannot block signals: %s",
		    strerror(e));
	r->mask_saved = 1;
	if ((r->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return al_err_set(err, AL_ESYS, "cannot create a signalfd: %s",
		    strerror(errno));
	/* SIG_IGN or SA_NOCLDWAIT would reap children behind our back. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	if (sigaction(SIGCHLD, &sa, &r->oldchld) == 0)
		r->chld_saved = 1;
	if (prctl(PR_GET_CHILD_SUBREAPER, &r->oldreaper, 0, 0, 0) != 0 ||
	    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
		return al_err_set(err, AL_ESYS, "cannot become a child "
		    "subreaper: %s", strerror(errno));
	r->reaper_set = 1;
	return 0;
}

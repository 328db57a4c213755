/*
 * A command run through /bin/sh -c with its output in guarded memory, of
 * which nothing outlives the run: not when it ends, not at its timeout, and
 * not when airlock itself is killed (kill -9 skips every cleanup path).
 *
 * So the kernel must start the cleanup.  The command is not our child but
 * our grandchild: between us sits a keeper, forked from us, that
 *   - asks for SIGTERM when the thread that started it dies
 *     (PR_SET_PDEATHSIG), and checks that it is not gone already;
 *   - is a child subreaper, so every process the command leaves behind,
 *     even one that left its process group (setsid) or double-forked, is
 *     re-parented to it rather than to init;
 *   - starts the command in a process group of its own and waits.
 * When the command exits, or a signal comes (our death, our timeout, a ^C),
 * the keeper kills the command's group and then every process still below
 * it, reaps them all, and exits with the command's status (128 + N when a
 * signal N ended it, or ended the keeper first).  We never see the
 * command's pid: we signal the keeper and wait for it.
 *
 * The keeper never execs.  fork() is not async-signal-safe in a threaded
 * caller (the broker runs engine commands on its worker threads), so the
 * keeper and the command are started by the clone system call with fork
 * semantics, as the exec component does, and between it and the exec (or
 * the keeper's exit) only system calls are made: everything they need is
 * prepared before.  An exec failure comes back on a close-on-exec pipe.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/engine.h"

extern char **environ;

/* The keeper's own failures, before the command ran. */
#define KEEPER_FAIL	126

struct prep {
	char		*argv[6];
	int		 in, out, err;	/* the command's 0, 1, 2 */
	int		 xpipe;		/* write end: errno of a failed start */
	pid_t		 parent;
	sigset_t	 keep;		/* what the keeper waits for */
	sigset_t	 none;
};

/* What the keeper waits for: its command's end, or to end it. */
static const int waited[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT };
#define NWAITED	(sizeof(waited) / sizeof(waited[0]))

/* The keeper's children (it is single-threaded: its tid is its pid). */
#define CHILDREN_FILE	"/proc/thread-self/children"

/*
 * The end of the keeper and of its command before the exec: the exit_group
 * system call itself.  The C library's _exit may be a sanitizer's, which
 * runs that runtime's end with the state of the thread that cloned us and
 * changes the status (66 when the caller had a finished thread not joined
 * yet: the broker's minting threads while it stops).
 */
static void __attribute__((noreturn))
raw_exit(int status)
{
	for (;;)
		(void)syscall(SYS_exit_group, status);
}

static pid_t
raw_clone(void)
{
	/* Fork semantics: no new stack, no tids. */
	return (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
}

/*
 * Signal dispositions and masks by system call, not through the C library,
 * whose wrappers a sanitizer may intercept with state of the thread that
 * cloned us.  A disposition of all zeroes is SIG_DFL, no flags, no mask,
 * whatever the architecture's layout; the kernel's signal set is 8 bytes.
 */
#define KSIGSET_SIZE	8

static void
sig_default(int s)
{
	unsigned long k[4] = { 0, 0, 0, 0 };

	(void)syscall(SYS_rt_sigaction, s, k, NULL, KSIGSET_SIZE);
}

static void
sig_setmask(const sigset_t *set)
{
	(void)syscall(SYS_rt_sigprocmask, SIG_SETMASK, set, NULL,
	    KSIGSET_SIZE);
}

/* Write e (an errno) to fd; async-signal-safe. */
static void
tell(int fd, int e)
{
	ssize_t w;

	do
		w = write(fd, &e, sizeof(e));
	while (w < 0 && errno == EINTR);
}

/* Close every descriptor from lo on but keep.  Async-signal-safe. */
static void
close_from(int lo, int keep)
{
	int fd;

	if (keep > lo &&
	    syscall(SYS_close_range, lo, keep - 1, 0) != 0)
		for (fd = lo; fd < keep; fd++)
			(void)close(fd);
	if (keep >= lo)
		lo = keep + 1;
	if (syscall(SYS_close_range, lo, ~0U, 0) != 0)
		for (fd = lo; fd < 4096; fd++)
			(void)close(fd);
}

/*
 * Whether /proc/thread-self is this process as our PID namespace numbers
 * it (a /proc of another namespace would name other processes' pids).
 * Async-signal-safe.
 */
static int
proc_is_ours(void)
{
	char buf[64];
	pid_t pid = 0, me = getpid();
	ssize_t n, i;

	if ((n = readlink("/proc/thread-self", buf, sizeof(buf))) <= 0)
		return 0;
	for (i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		pid = pid * 10 + (buf[i] - '0');
	return i < n && buf[i] == '/' && pid == me;
}

/* The command, in the keeper's child.  Async-signal-safe. */
static void __attribute__((noreturn))
command_main(const struct prep *p)
{
	int s;

	(void)setpgid(0, 0);
	/* An ignored signal would stay ignored across the exec. */
	for (s = 1; s < NSIG; s++)
		sig_default(s);
	if (dup2(p->in, 0) < 0 || dup2(p->out, 1) < 0 || dup2(p->err, 2) < 0) {
		tell(p->xpipe, errno);
		raw_exit(KEEPER_FAIL);
	}
	/* Nothing of ours reaches the command; xpipe closes at the exec. */
	close_from(3, p->xpipe);
	sig_setmask(&p->none);
	(void)prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	execve("/bin/sh", p->argv, environ);
	tell(p->xpipe, errno);
	raw_exit(KEEPER_FAIL);
}

/*
 * kill(pid, SIGKILL) for each decimal pid of buf[0..n), "1 2 3 "; a last
 * one cut short by a full buffer is left for the next read.
 */
static int
kill_listed(const char *buf, ssize_t n, int full)
{
	pid_t pid = 0;
	int any = 0;
	ssize_t i;

	for (i = 0; i <= n; i++) {
		if (i < n && buf[i] >= '0' && buf[i] <= '9') {
			pid = pid * 10 + (buf[i] - '0');
			continue;
		}
		if (pid > 0 && (i < n || !full)) {
			(void)kill(pid, SIGKILL);
			any = 1;
		}
		pid = 0;
	}
	return any;
}

/*
 * Kill the command's group, then every process left below the keeper (its
 * children, and each one's orphans as they are re-parented here), reaping
 * all of them.  Async-signal-safe.
 */
static void
end_all(pid_t cmd, int walk)
{
	char buf[4096];
	ssize_t n;
	int fd;

	if (cmd > 0)
		(void)kill(-cmd, SIGKILL);
	for (;;) {
		fd = walk ? open(CHILDREN_FILE, O_RDONLY | O_CLOEXEC) : -1;
		n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
		if (fd >= 0)
			(void)close(fd);
		/* Without that file: the group's end is all there is. */
		if (n < 0 || !kill_listed(buf, n, n == sizeof(buf))) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			if (n < 0 || waitpid(-1, NULL, WNOHANG) < 0)
				return;
		}
		/* One reaped at a time: its orphans come here meanwhile. */
		if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)
			return;
	}
}

/* The keeper (see the top).  Async-signal-safe. */
static void __attribute__((noreturn))
keeper_main(const struct prep *p)
{
	siginfo_t si;
	pid_t cmd, w;
	int st, code, walk;
	size_t i;

	/* Waited for, so never ignored (an ignored signal is dropped). */
	for (i = 0; i < NWAITED; i++)
		sig_default(waited[i]);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) != 0 ||
	    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
		tell(p->xpipe, errno);
		raw_exit(KEEPER_FAIL);
	}
	if (getppid() != p->parent)
		raw_exit(KEEPER_FAIL);	/* gone before we could ask */
	if ((cmd = raw_clone()) < 0) {
		tell(p->xpipe, errno);
		raw_exit(KEEPER_FAIL);
	}
	if (cmd == 0)
		command_main(p);
	(void)setpgid(cmd, cmd);
	walk = proc_is_ours();
	/*
	 * None of the caller's descriptors: the command's pipes close when
	 * it is done with them, and nothing else is held for its lifetime.
	 */
	close_from(0, -1);
	code = KEEPER_FAIL;
	for (;;) {
		if (syscall(SYS_rt_sigtimedwait, &p->keep, &si, NULL,
		    KSIGSET_SIZE) < 0)
			continue;
		if (si.si_signo != SIGCHLD) {
			code = 128 + si.si_signo;
			break;
		}
		while ((w = waitpid(-1, &st, WNOHANG)) > 0)
			if (w == cmd)
				break;
		if (w == cmd) {
			code = WIFEXITED(st) ? WEXITSTATUS(st) :
			    128 + WTERMSIG(st);
			break;
		}
	}
	end_all(cmd, walk);
	raw_exit(code);
}

/* Read what fd has into b (up to max, *n so far); *done at EOF. */
static int
take(const char *what, int fd, unsigned char *b, size_t max, size_t *n,
    int *done, struct al_err *err)
{
	unsigned char sink[4096];
	ssize_t r;

	if (b == NULL) {
		r = read(fd, sink, sizeof(sink));
		sodium_memzero(sink, sizeof(sink));
	} else {
		if (*n == max)
			return al_err_set(err, AL_ETOOBIG, "%s printed more "
			    "than %zu bytes", what, max);
		r = read(fd, b + *n, max - *n);
		if (r > 0)
			*n += (size_t)r;
	}
	if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
		*done = 1;
	return 0;
}

/*
 * Write to the command's stdin: a command that closed it makes this EPIPE,
 * not the end of the caller (a SIGPIPE raised is taken off before the
 * caller's mask comes back).
 */
static ssize_t
put(int fd, const char *p, size_t n)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t pipe_set, old;
	ssize_t r;
	int e;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	(void)pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	r = write(fd, p, n);
	e = errno;
	while (!sigismember(&old, SIGPIPE) &&
	    sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
		;
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return r;
}

/*
 * Stop the keeper (it ends everything below it first) and reap it.  A
 * keeper that a process of the same user stopped (SIGSTOP) takes SIGTERM
 * only once continued, and may be stopped again as soon as it is: it is
 * continued until KEEPER_GRACE_MS is over, then killed, so that the
 * caller (a thread of the broker) never waits for it forever.  What it
 * started then outlives it, re-parented, as only a keeper held still by
 * someone else's signals leaves it.
 */
#define KEEPER_GRACE_MS	2000

static void
keeper_stop(pid_t k)
{
	static const struct timespec tick = { 0, 10000000 };
	int64_t until = al_mono_ms() + KEEPER_GRACE_MS;
	pid_t w;

	(void)kill(k, SIGTERM);
	for (;;) {
		(void)kill(k, SIGCONT);
		w = waitpid(k, NULL, WNOHANG);
		if (w == k || (w < 0 && errno != EINTR))
			return;
		if (al_mono_ms() >= until)
			break;
		(void)nanosleep(&tick, NULL);
	}
	(void)kill(k, SIGKILL);
	while (waitpid(k, NULL, 0) < 0 && errno == EINTR)
		;
}

int
engine_cmd_run(const struct engine_cmd *c, struct al_secret **out,
    struct al_secret **errout, int *status, struct al_err *err)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	int xp[2] = { -1, -1 };
	struct prep p;
	struct al_secret *ob = NULL, *eb = NULL;
	struct pollfd pf[3];
	unsigned char *o = NULL, *e = NULL;
	size_t inoff = 0, on = 0, en = 0;
	int64_t deadline = al_mono_ms() + (int64_t)c->timeout * 1000;
	sigset_t old;
	size_t i;
	pid_t k = -1;
	ssize_t r;
	int rc = 0, x = 0, done_out = 0, done_err = 0;

	*out = NULL;
	if (errout != NULL)
		*errout = NULL;
	*status = 0;
	memset(&p, 0, sizeof(p));
	if (pipe2(pin, O_CLOEXEC) != 0 || pipe2(pout, O_CLOEXEC) != 0 ||
	    pipe2(perr, O_CLOEXEC) != 0 || pipe2(xp, O_CLOEXEC) != 0) {
		rc = al_err_set(err, AL_ESYS, "%s: pipe: %s", c->what,
		    strerror(errno));
		goto out;
	}
	if (al_secret_new(c->out_max, &ob) != 0 || (c->err_max > 0 &&
	    al_secret_new(c->err_max, &eb) != 0)) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	o = al_secret_open(ob);
	if (eb != NULL)
		e = al_secret_open(eb);
	/* Everything the keeper and the command need, before the clone. */
	p.argv[0] = "sh";
	p.argv[1] = "-c";
	p.argv[2] = (char *)c->cmd;
	p.argv[3] = c->arg != NULL ? "sh" : NULL;
	p.argv[4] = (char *)c->arg;
	p.argv[5] = NULL;
	p.in = pin[0];
	p.out = pout[1];
	p.err = perr[1];
	p.xpipe = xp[1];
	p.parent = getpid();
	sigemptyset(&p.none);
	sigemptyset(&p.keep);
	for (i = 0; i < NWAITED; i++)
		sigaddset(&p.keep, waited[i]);
	/*
	 * Blocked before the clone, so the keeper never runs a handler of
	 * ours; the caller's mask comes back right after.
	 */
	(void)pthread_sigmask(SIG_BLOCK, &p.keep, &old);
	if ((k = raw_clone()) == 0)
		keeper_main(&p);
	x = errno;
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (k < 0) {
		rc = al_err_set(err, AL_ESYS, "%s: cannot start it: %s",
		    c->what, strerror(x));
		goto out;
	}
	(void)close(pin[0]);
	(void)close(pout[1]);
	(void)close(perr[1]);
	(void)close(xp[1]);
	pin[0] = pout[1] = perr[1] = xp[1] = -1;
	/*
	 * Started (the exec closed the pipe), or why not; within the time,
	 * as a keeper held stopped would never close its end.
	 */
	for (;;) {
		struct pollfd xf = { .fd = xp[0], .events = POLLIN };
		int64_t left = deadline - al_mono_ms();

		if (left <= 0) {
			rc = al_err_set(err, AL_ETIMEDOUT, "%s: killed after "
			    "%d s", c->what, c->timeout);
			goto out;
		}
		if (poll(&xf, 1, (int)left) < 0 && errno != EINTR) {
			rc = al_err_set(err, AL_ESYS, "%s: poll: %s", c->what,
			    strerror(errno));
			goto out;
		}
		if (xf.revents)
			break;
	}
	do
		r = read(xp[0], &x, sizeof(x));
	while (r < 0 && errno == EINTR);
	if (r == (ssize_t)sizeof(x)) {
		rc = al_err_set(err, AL_ESYS, "%s: cannot start /bin/sh: %s",
		    c->what, strerror(x));
		goto out;
	}
	(void)fcntl(pin[1], F_SETFL, O_NONBLOCK);
	if (c->inlen == 0) {
		(void)close(pin[1]);
		pin[1] = -1;
	}
	while (!done_out || !done_err) {
		int64_t left = deadline - al_mono_ms();
		nfds_t n = 0;

		if (left <= 0) {
			rc = al_err_set(err, AL_ETIMEDOUT, "%s: killed after "
			    "%d s", c->what, c->timeout);
			goto out;
		}
		pf[n].fd = done_out ? -1 : pout[0];
		pf[n++].events = POLLIN;
		pf[n].fd = done_err ? -1 : perr[0];
		pf[n++].events = POLLIN;
		if (pin[1] >= 0) {
			pf[n].fd = pin[1];
			pf[n++].events = POLLOUT;
		}
		if (poll(pf, n, (int)left) < 0 && errno != EINTR) {
			rc = al_err_set(err, AL_ESYS, "%s: poll: %s", c->what,
			    strerror(errno));
			goto out;
		}
		if (n == 3 && pf[2].revents) {
			r = put(pin[1], c->in + inoff, c->inlen - inoff);
			if (r > 0)
				inoff += (size_t)r;
			if (r < 0 && errno != EAGAIN && errno != EINTR)
				inoff = c->inlen;	/* it closed stdin */
			if (inoff == c->inlen) {
				(void)close(pin[1]);
				pin[1] = -1;
			}
		}
		if (pf[0].revents && (rc = take(c->what, pout[0], o,
		    c->out_max, &on, &done_out, err)) != 0)
			goto out;
		if (pf[1].revents && (rc = take(c->what, perr[0], e,
		    c->err_max, &en, &done_err, err)) != 0)
			goto out;
	}
	/* Both pipes closed; the command may still run, within the time. */
	for (;;) {
		struct timespec ts = { 0, 5000000 };
		pid_t w = waitpid(k, &x, WNOHANG);

		if (w == k)
			break;
		if (w < 0 && errno != EINTR) {
			rc = al_err_set(err, AL_ESYS, "%s: waitpid: %s",
			    c->what, strerror(errno));
			goto out;
		}
		if (al_mono_ms() >= deadline) {
			rc = al_err_set(err, AL_ETIMEDOUT, "%s: killed after "
			    "%d s", c->what, c->timeout);
			goto out;
		}
		(void)nanosleep(&ts, NULL);
	}
	k = -1;
	*status = WIFEXITED(x) ? WEXITSTATUS(x) : 128 + WTERMSIG(x);
	al_secret_set_len(ob, on);
	al_secret_close(ob);
	*out = ob;
	ob = NULL;
	if (eb != NULL) {
		al_secret_set_len(eb, en);
		al_secret_close(eb);
	}
	if (errout != NULL) {
		*errout = eb;
		eb = NULL;
	}
out:
	if (k > 0)
		keeper_stop(k);
	al_secret_free(ob);
	al_secret_free(eb);
	for (x = 0; x < 2; x++) {
		if (pin[x] >= 0)
			(void)close(pin[x]);
		if (pout[x] >= 0)
			(void)close(pout[x]);
		if (perr[x] >= 0)
			(void)close(perr[x]);
		if (xp[x] >= 0)
			(void)close(xp[x]);
	}
	return rc;
}

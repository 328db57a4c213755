/*
 * test_exec, part two: the boundary (terminal, pty), ending the task
 * (daemons, timeout, signals) and the caller's side.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <grp.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "airlock/exec.h"
#include "exec_fixture.h"
#include "exec_tests.h"

/* ---- the boundary ------------------------------------------------------- */

/*
 * The caller has a controlling terminal (as airlock run in a shell does);
 * the child must not: it runs in a forked helper that takes a pty as its
 * own controlling terminal first.  Exit codes of the helper tell the step.
 */
void
test_exec_child_has_no_controlling_tty(void **state)
{
	int m, s, ws, fd;
	pid_t helper;

	(void)state;
	if ((helper = fork()) == 0) {
		struct t t;

		if (setsid() < 0 || (m = posix_openpt(O_RDWR)) < 0 ||
		    grantpt(m) != 0 || unlockpt(m) != 0)
			_exit(10);
		/* Without O_NOCTTY: it becomes our controlling terminal. */
		if ((s = open(ptsname(m), O_RDWR)) < 0)
			_exit(11);
		if ((fd = open("/dev/tty", O_RDWR)) < 0)
			_exit(12);
		(void)close(fd);
		t_init(&t);
		t_var(&t, "TOKEN", 0, EXEC_VAR_ENV);
		t.spec.argv = PROBE("tty", "TOKEN");
		if (exec_run(&t.spec, &t.res, &t.err) != 0 || t.res.status != 0)
			_exit(13);
		t.out = slurp(t.outfd, &t.outn);
		if (strcmp(t.out, "tty: No such device or address\n") != 0)
			_exit(14);
		_exit(0);
	}
	assert_true(helper > 0);
	assert_int_equal(waitpid(helper, &ws, 0), helper);
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 0);
}

void
test_exec_pty_tty_output_is_filtered(void **state)
{
	struct t t;

	(void)state;
	t_init(&t);
	t.spec.flags = EXEC_PTY;
	t_var(&t, "TOKEN", 0, EXEC_VAR_ENV);
	t_run(&t, PROBE("tty", "TOKEN"));
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.res.status, 0);
	assert_string_equal(t.out, "tty: opened\r\nvia-tty " MASK "\r\n");
	assert_string_equal(t.errs, "");
	t_free(&t);
}

/*
 * A process outside the task, as a window manager: once the child has
 * printed its first size on the outer terminal, resize the outer terminal
 * and send SIGWINCH to the caller (the task, in a PID namespace of its own,
 * cannot name the caller).
 */
static pid_t
resizer(int master, int rows, int cols, pid_t caller)
{
	struct winsize ws = { .ws_row = (unsigned short)rows,
	    .ws_col = (unsigned short)cols };
	pid_t pid;
	int n = 0, k;

	if ((pid = fork()) != 0)
		return pid;
	for (k = 0; k < 1000 && n == 0; k++) {
		if (ioctl(master, FIONREAD, &n) != 0)
			_exit(2);
		if (n == 0)
			(void)poll(NULL, 0, 5);
	}
	if (n == 0 || ioctl(master, TIOCSWINSZ, &ws) != 0 ||
	    kill(caller, SIGWINCH) != 0)
		_exit(1);
	_exit(0);
}

/*
 * The pty starts with the caller's terminal size and follows it on
 * SIGWINCH: the child prints its size, the outer terminal is resized and
 * the caller gets SIGWINCH; the kernel tells the child (SIGWINCH) once the
 * pty has the new size, and it prints it.
 */
void
test_exec_pty_relays_window_size(void **state)
{
	struct winsize ws = { .ws_row = 33, .ws_col = 99 };
	struct termios tio;
	char buf[512];
	struct t t;
	ssize_t n;
	pid_t helper;
	int m, s, hs;

	(void)state;
	assert_true((m = posix_openpt(O_RDWR | O_NOCTTY)) >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	assert_true((s = open(ptsname(m), O_RDWR | O_NOCTTY)) >= 0);
	assert_int_equal(ioctl(m, TIOCSWINSZ, &ws), 0);
	assert_int_equal(tcgetattr(s, &tio), 0);
	cfmakeraw(&tio);
	assert_int_equal(tcsetattr(s, TCSANOW, &tio), 0);
	helper = resizer(m, 40, 120, getpid());
	assert_true(helper > 0);
	t_init(&t);
	t.spec.flags = EXEC_PTY;
	t.spec.out_fd = s;
	t.spec.timeout_ms = 10000;
	t_run(&t, SH("trap 'stty size </dev/tty; exit 0' WINCH; "
	    "stty size </dev/tty; while :; do sleep 0.05; done"));
	assert_int_equal(waitpid(helper, &hs, 0), helper);
	assert_true(WIFEXITED(hs));
	assert_int_equal(WEXITSTATUS(hs), 0);
	assert_false(t.res.timed_out);
	assert_int_equal(t.res.status, 0);
	(void)fcntl(m, F_SETFL, O_NONBLOCK);
	n = read(m, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "33 99\r\n40 120\r\n");
	t_free(&t);
	(void)close(s);
	(void)close(m);
}

static int
proc_alive(pid_t pid)
{
	char path[64];

	(void)snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return access(path, F_OK) == 0;
}

/*
 * A daemon (double fork, setsid) that prints the value every 2 ms: when the
 * command exits, it is ended at once, whether it ignores SIGTERM or not (no
 * grace period: the grace is the command's, on a timeout).  With a PID
 * namespace the kernel ends it with the reaper; without (no_ns), exec_run
 * stops and kills it.
 */
static void
daemon_case(int stubborn, int no_ns)
{
	struct t t;
	int daemon_pid = 0;
	size_t n1;
	char *again;

	t_init(&t);
	t.spec.grace_ms = 1500;
	if (no_ns)
		t.spec.flags |= EXEC_NO_NAMESPACE;
	t_var(&t, "TOKEN", 0, EXEC_VAR_ENV);
	t_run(&t, stubborn ? PROBE("daemon", "TOKEN", "stubborn") :
	    PROBE("daemon", "TOKEN"));
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.res.status, 0);
	assert_int_equal(sscanf(t.out, "daemon pid=%d\n", &daemon_pid), 1);
	assert_true(daemon_pid > 0);
	assert_non_null(strstr(t.out, "\ntick " MASK "\n"));
	if (t.res.isolation == EXEC_ISOLATION_SUBREAPER) {
		/* Its pid is ours to check only without a namespace. */
		assert_false(proc_alive(daemon_pid));
		/*
		 * The daemon, and its first parent too if that had not exited
		 * yet when the command did (a slow, sanitized build).
		 */
		assert_in_range(t.res.ended, 1, 2);
		assert_in_range(t.res.killed, 1, 2);
	} else {
		assert_int_equal(t.res.isolation, EXEC_ISOLATION_PIDNS);
		assert_int_equal(t.res.ended, 0);
	}
	if (no_ns)
		assert_int_equal(t.res.isolation, EXEC_ISOLATION_SUBREAPER);
	/* No grace for leftovers. */
	assert_true(t.res.elapsed_ms < 1000);
	/* Nothing more arrives after exec_run returned. */
	n1 = t.outn;
	(void)poll(NULL, 0, 30);
	again = slurp(t.outfd, &n1);
	assert_int_equal(n1, t.outn);
	no_leak(&t, again, n1);
	free(again);
	t_free(&t);
}

void
test_exec_daemonized_grandchild_is_ended(void **state)
{
	(void)state;
	daemon_case(0, 0);
	daemon_case(0, 1);
}

void
test_exec_stubborn_daemon_gets_no_grace(void **state)
{
	(void)state;
	daemon_case(1, 0);
	daemon_case(1, 1);
}

void
test_exec_timeout_ends_whole_task(void **state)
{
	struct t t;

	(void)state;
	t_init(&t);
	t.spec.timeout_ms = 200;
	t_run(&t, SH("sleep 10 & sleep 10; echo never"));
	assert_int_equal(t.rc, 0);
	assert_true(t.res.timed_out);
	assert_int_equal(t.res.status, 128 + SIGTERM);
	/* sh, both sleeps, and the namespace's reaper if there is one. */
	assert_int_equal(t.res.ended,
	    3 + (t.res.isolation == EXEC_ISOLATION_PIDNS));
	assert_true(t.res.elapsed_ms >= 200 && t.res.elapsed_ms < 2000);
	assert_string_equal(t.out, "");
	t_free(&t);
}

void
test_exec_cancel_fd_ends_whole_task(void **state)
{
	struct itimerspec its;
	struct t t;
	int tfd;

	(void)state;
	/* A descriptor that becomes readable while the command runs. */
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	assert_true(tfd >= 0);
	memset(&its, 0, sizeof(its));
	its.it_value.tv_nsec = 200 * 1000 * 1000;
	assert_int_equal(timerfd_settime(tfd, 0, &its, NULL), 0);
	t_init(&t);
	t_var(&t, "SECRET_A", 0, EXEC_VAR_ENV);
	t.spec.cancel_fd = tfd;
	t.spec.grace_ms = 300;
	t_run(&t, SH("trap 'echo bye-$SECRET_A; exit 3' TERM; "
	    "sleep 10 & echo started; wait; echo never"));
	assert_int_equal(t.rc, 0);
	assert_true(t.res.cancelled);
	assert_false(t.res.timed_out);
	assert_int_equal(t.res.exit_code, 3);
	assert_true(t.res.ended >= 2);
	assert_true(t.res.elapsed_ms >= 200 && t.res.elapsed_ms < 2000);
	/* Output up to the end is relayed, through the filter. */
	assert_string_equal(t.out, "started\nbye-" MASK "\n");
	no_leak(&t, t.out, t.outn);
	t_free(&t);
	(void)close(tfd);

	/* Cancelled before it starts: nothing runs. */
	tfd = eventfd(1, EFD_CLOEXEC);
	assert_true(tfd >= 0);
	t_init(&t);
	t.spec.cancel_fd = tfd;
	t_run(&t, SH("echo ran"));
	assert_int_equal(t.rc, AL_ETIMEDOUT);
	assert_true(t.res.cancelled);
	assert_int_equal(t.res.pid, 0);
	assert_int_equal(t.res.status, EXEC_STATUS_FAIL);
	assert_string_equal(t.out, "");
	assert_string_equal(t.err.msg, "'/bin/sh' was cancelled before it "
	    "started");
	t_free(&t);
	(void)close(tfd);

	/* Not set: nothing is cancelled. */
	t_init(&t);
	assert_int_equal(t.spec.cancel_fd, -1);
	t_run(&t, SH("echo ok"));
	assert_int_equal(t.rc, 0);
	assert_false(t.res.cancelled);
	assert_int_equal(t.res.status, 0);
	t_free(&t);
}

/*
 * A process outside the task signals the caller once the child is ready
 * (it printed its first line): exec_run must pass the signal down.
 */
static pid_t
signaller(int outfd, int sig, pid_t caller)
{
	struct stat st;
	pid_t pid;
	int k;

	if ((pid = fork()) != 0)
		return pid;
	for (k = 0; k < 2000; k++) {
		if (fstat(outfd, &st) != 0)
			_exit(2);
		if (st.st_size > 0)
			_exit(kill(caller, sig) == 0 ? 0 : 1);
		(void)poll(NULL, 0, 5);
	}
	_exit(3);
}

void
test_exec_forwards_int_term_hup(void **state)
{
	static const char *sigs[] = { "INT", "TERM", "HUP" };
	static const int signo[] = { SIGINT, SIGTERM, SIGHUP };
	char script[256], want[32];
	struct t t;
	pid_t helper;
	size_t i;
	int hs;

	(void)state;
	for (i = 0; i < 3; i++) {
		(void)snprintf(script, sizeof(script), "trap 'echo got-%s; "
		    "exit 7' %s; echo ready; sleep 3 & wait", sigs[i],
		    sigs[i]);
		(void)snprintf(want, sizeof(want), "ready\ngot-%s\n", sigs[i]);
		t_init(&t);
		helper = signaller(t.outfd, signo[i], getpid());
		assert_true(helper > 0);
		t_run(&t, SH(script));
		assert_int_equal(waitpid(helper, &hs, 0), helper);
		assert_true(WIFEXITED(hs));
		assert_int_equal(WEXITSTATUS(hs), 0);
		assert_int_equal(t.rc, 0);
		assert_int_equal(t.res.status, 7);
		assert_string_equal(t.out, want);
		assert_true(t.res.elapsed_ms < 2000);
		t_free(&t);
	}
}

/* ---- the caller's side -------------------------------------------------- */

void
test_exec_preexisting_child_left_alone(void **state)
{
	struct t t;
	pid_t other;
	int ws;

	(void)state;
	if ((other = fork()) == 0) {
		usleep(150 * 1000);
		_exit(42);
	}
	assert_true(other > 0);
	t_init(&t);
	t_run(&t, SH("sleep 0.3 &"));
	/* The kernel ends the sleep with the namespace; or we do. */
	assert_int_equal(t.res.ended,
	    t.res.isolation == EXEC_ISOLATION_SUBREAPER ? 1 : 0);
	t_free(&t);
	assert_int_equal(waitpid(other, &ws, 0), other);
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 42);
}

struct hooks_seen {
	pid_t	started;
	int	exited_status;
	int	calls;
};

static void
on_started(void *arg, pid_t pid)
{
	struct hooks_seen *h = arg;

	h->started = pid;
	h->calls++;
}

static void
on_exited(void *arg, const struct exec_result *r)
{
	struct hooks_seen *h = arg;

	h->exited_status = r->status;
	h->calls += 10;
}

void
test_exec_hooks_report_start_and_exit(void **state)
{
	struct hooks_seen h = { 0, -1, 0 };
	struct t t;

	(void)state;
	t_init(&t);
	t.spec.hooks.started = on_started;
	t.spec.hooks.child_exited = on_exited;
	t.spec.hooks.arg = &h;
	t_run(&t, SH("exit 5"));
	assert_int_equal(h.calls, 11);
	assert_int_equal(h.started, t.res.pid);
	assert_int_equal(h.exited_status, 5);
	t_free(&t);
}

void
test_exec_closed_reader_gives_child_sigpipe(void **state)
{
	struct t t;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	(void)close(p[0]);
	t_init(&t);
	t.spec.out_fd = p[1];
	t_run(&t, SH("yes"));
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.res.status, 128 + SIGPIPE);
	(void)close(p[1]);
	t_free(&t);
}

void
test_exec_stalled_reader_does_not_stall_timeout(void **state)
{
	struct t t;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	t_init(&t);
	t.spec.out_fd = p[1];
	t.spec.timeout_ms = 200;
	t_run(&t, SH("yes"));
	assert_int_equal(t.rc, 0);
	assert_true(t.res.timed_out);
	assert_int_equal(t.res.status, 128 + SIGTERM);
	assert_true(t.res.dropped > 0);
	assert_true(t.res.elapsed_ms < 2000);
	(void)close(p[0]);
	(void)close(p[1]);
	t_free(&t);
}

/*
 * An interactive prompt through the pty: a separate "user" process reads
 * the output, answers the prompt and reports how long the prompt took.
 */
void
test_exec_pty_prompt_answered_quickly(void **state)
{
	int in[2], out[2], rep[2], ws;
	char buf[4096], report[4200];
	size_t got = 0;
	long long t0, lat = -1;
	struct t t;
	pid_t user;
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(rep), 0);
	if ((user = fork()) == 0) {
		char *p;

		(void)close(in[0]);
		(void)close(out[1]);
		(void)close(rep[0]);
		while ((n = read(out[0], buf + got, sizeof(buf) - 1 - got)) >
		    0) {
			got += (size_t)n;
			buf[got] = '\0';
			if (lat < 0 && (p = strstr(buf, "Password: ")) != NULL &&
			    sscanf(buf, "t0=%lld", &t0) == 1) {
				lat = (mono_ns() - t0) / 1000;
				(void)!write(in[1], "hunter2\n", 8);
			}
		}
		n = snprintf(report, sizeof(report), "%lld\n%s", lat, buf);
		(void)!write(rep[1], report, (size_t)n);
		_exit(0);
	}
	(void)close(in[1]);
	(void)close(out[0]);
	(void)close(rep[1]);
	t_init(&t);
	t.spec.flags = EXEC_PTY;
	t.spec.in_fd = in[0];
	t.spec.out_fd = out[1];
	t.spec.timeout_ms = 5000;
	t_run(&t, PROBE("prompt"));
	(void)close(out[1]);
	(void)close(in[0]);
	assert_int_equal(t.rc, 0);
	assert_false(t.res.timed_out);
	assert_int_equal(t.res.status, 0);
	n = read(rep[0], report, sizeof(report) - 1);
	assert_true(n > 0);
	report[n] = '\0';
	assert_int_equal(waitpid(user, &ws, 0), user);
	(void)close(rep[0]);
	assert_int_equal(sscanf(report, "%lld", &lat), 1);
	print_message("prompt latency: %lld us\n", lat);
	assert_true(lat >= 0 && lat < 50000);
	assert_non_null(strstr(report, "Password: hunter2\r\ngot 7\r\n"));
	t_free(&t);
}


/*
 * Where the system has namespaces, the task sees itself in its own: the
 * command is pid 2 (the reaper is 1) and, with its own /proc, only the
 * task's processes are listed; exec_isolation_probe says the same as the
 * run.  The caller sees the command under its pid in the caller's namespace.
 */
void
test_exec_pid_namespace_isolates_task(void **state)
{
	struct exec_isolation_info info;
	struct t t;
	int self = -1, nproc = -1;

	(void)state;
	exec_isolation_probe(&info);
	t_init(&t);
	t_run(&t, SH("echo $$; ls /proc | grep -c '^[0-9][0-9]*$'"));
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.res.status, 0);
	assert_int_equal(t.res.isolation, info.isolation);
	assert_int_equal(sscanf(t.out, "%d\n%d", &self, &nproc), 2);
	assert_true(t.res.pid > 0);
	if (info.isolation != EXEC_ISOLATION_PIDNS) {
		print_message("no PID namespace here (%s)\n",
		    strerror(info.ns_errno));
		assert_int_equal(self, t.res.pid);
		t_free(&t);
		return;
	}
	assert_int_equal(self, 2);
	assert_int_not_equal(t.res.pid, 2);
	if (info.own_proc)	/* reaper, sh, ls, grep */
		assert_true(nproc >= 3 && nproc <= 4);
	t_free(&t);
}

/*
 * A user namespace whose maps cannot be written (as where a security module
 * strips a new user namespace of its capabilities): the command still runs,
 * without namespaces, and the run says why.  Made here as root: a helper
 * with a read-only /proc in a mount namespace of its own, as another user.
 * Exit codes of the helper tell the step.
 */
void
test_exec_unusable_namespace_falls_back(void **state)
{
	pid_t helper;
	int ws;

	(void)state;
	if (geteuid() != 0) {
		print_message("not root: cannot make /proc read-only here\n");
		return;
	}
	if ((helper = fork()) == 0) {
		struct t t;
		int pid = 0;

		if (unshare(CLONE_NEWNS) != 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount(NULL, "/proc", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY,
		    NULL) != 0)
			_exit(10);
		if (setgroups(0, NULL) != 0 || setresgid(65534, 65534,
		    65534) != 0 || setresuid(65534, 65534, 65534) != 0)
			_exit(11);
		t_init(&t);
		t_var(&t, "TOKEN", 0, EXEC_VAR_ENV);
		t_run(&t, SH("echo $$ $TOKEN"));
		if (t.rc != 0 || t.res.status != 0)
			_exit(12);
		if (t.res.isolation != EXEC_ISOLATION_SUBREAPER ||
		    t.res.ns_errno != EROFS)
			_exit(13);
		if (sscanf(t.out, "%d", &pid) != 1 || pid != t.res.pid ||
		    strstr(t.out, " " MASK "\n") == NULL)
			_exit(14);
		_exit(0);
	}
	assert_true(helper > 0);
	assert_int_equal(waitpid(helper, &ws, 0), helper);
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 0);
}

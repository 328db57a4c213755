/*
 * exec_run: set up the boundary, run the poll loop, end the task.
 *
 * Phases: RUN while the child lives (output pumped, input relayed, signals
 * forwarded, timeout watched); END once the timeout passed or the task was
 * cancelled (every process got SIGTERM, output is still pumped for the
 * grace period or until the command exits); FINAL once the child exited or
 * the grace is over (SIGSTOP then SIGKILL to whatever is left, read the
 * pipes to the end, flush the filters).
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/exec.h"
#include "exec_int.h"

/*
 * One read from the child, in guarded memory (it is unfiltered output):
 * RUN_READ_MIN at first, RUN_READ_BUF once a read fills it (bulk output),
 * so a short command does not pay for locking a megabyte.
 */
#define RUN_READ_MIN	(64 * 1024)
#define RUN_READ_BUF	(1024 * 1024)
/* How often leftovers are counted during the grace period. */
#define RUN_END_POLL_MS	10
/* How long SIGKILL may take to empty the task. */
#define RUN_KILL_LIMIT_MS 5000

int64_t
exec_now_ms(void)
{
	return al_mono_ms();
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
}

static void
set_status(struct run *r)
{
	int ws = r->task.child_wstatus;

	if (WIFEXITED(ws)) {
		r->res->exit_code = WEXITSTATUS(ws);
		r->res->term_signal = 0;
		r->res->status = WEXITSTATUS(ws);
	} else if (WIFSIGNALED(ws)) {
		r->res->exit_code = -1;
		r->res->term_signal = WTERMSIG(ws);
		r->res->status = 128 + WTERMSIG(ws);
	}
}

static void
reap(struct run *r)
{
	if (!r->all_gone)
		task_reap(&r->task);
	if (r->task.child_reaped && !r->notified) {
		r->notified = 1;
		set_status(r);
		close_fd(&r->pidfd);
		if (r->spec->hooks.child_exited != NULL)
			r->spec->hooks.child_exited(r->spec->hooks.arg, r->res);
	}
}

static void
handle_signals(struct run *r)
{
	struct signalfd_siginfo si;
	int fds[3];

	while (read(r->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap(r);
			break;
		case SIGINT:
		case SIGTERM:
		case SIGHUP:
			r->stopped = 1;
			if (r->task.child_reaped)
				break;
			/* The command leads its own session and group. */
			if (r->task.cmd > 0 &&
			    kill(-r->task.cmd, (int)si.ssi_signo) != 0)
				(void)kill(r->task.cmd, (int)si.ssi_signo);
			break;
		case SIGWINCH:
			if (r->master < 0)
				break;
			fds[0] = r->in.src;
			fds[1] = r->spec->out_fd;
			fds[2] = r->spec->err_fd;
			pty_copy_winsize(r->master, fds, 3);
			break;
		default:	/* SIGPIPE: the write reports EPIPE */
			break;
		}
	}
}

/*
 * pump_read into the read buffer, grown to RUN_READ_BUF after a read that
 * filled it.  A failed growth keeps the smaller buffer.
 */
static int
run_read(struct run *r, struct exec_pump *p)
{
	unsigned char *nb;
	int rc;

	rc = pump_read(p, r->rbuf, r->rbuf_cap);
	if (rc > 0 && p->last_read == r->rbuf_cap &&
	    r->rbuf_cap < RUN_READ_BUF &&
	    (nb = sodium_malloc(RUN_READ_BUF)) != NULL) {
		sodium_free(r->rbuf);
		r->rbuf = nb;
		r->rbuf_cap = RUN_READ_BUF;
	}
	return rc;
}

/* Read what the pumps hold right now (bounded: a writer may not stop). */
static int
drain_now(struct run *r)
{
	int i, k, rc;

	for (i = 0; i < 2; i++)
		for (k = 0; k < 64 && pump_wants_read(&r->pump[i]); k++) {
			if ((rc = run_read(r, &r->pump[i])) < 0)
				return rc;
			if (rc == 0)
				break;
		}
	return 0;
}

/*
 * The child exited: whatever it left behind is ended at once, with no grace
 * (finish stops and kills it).  The time is up or the task was cancelled:
 * every process is asked to stop, and the command gets the grace period.
 */
static int
begin_end(struct run *r, int timed_out)
{
	pid_t *v = NULL;
	size_t n = 0;
	int rc;

	relay_stop(&r->in);
	if (!timed_out && (rc = drain_now(r)) != 0)
		return rc;
	reap(r);
	if (task_collect(&r->task, &v, &n) == 0 && n == 0 &&
	    r->task.child_reaped) {
		free(v);
		r->all_gone = 1;
		r->phase = PH_FINAL;
		return 0;
	}
	free(v);
	if (r->task.child_reaped) {
		r->phase = PH_FINAL;
		return 0;
	}
	if (task_signal(&r->task, SIGTERM, &n) == 0)
		r->res->ended = (unsigned)n;
	r->end_deadline = exec_now_ms() + r->grace;
	r->phase = PH_END;
	return 0;
}

static int
poll_timeout(const struct run *r, int64_t now)
{
	int64_t t = INT64_MAX;	/* no deadline */
	int i;

	if (r->phase == PH_RUN) {
		if (r->deadline != 0)
			t = r->deadline - now;
	} else {
		t = r->end_deadline - now;
		if (t > RUN_END_POLL_MS)
			t = RUN_END_POLL_MS;
	}
	/* Wake up for a filter that wants to release an idle stream. */
	for (i = 0; i < 2; i++) {
		if (r->pump[i].idle_at != 0 && r->pump[i].idle_at - now < t)
			t = r->pump[i].idle_at - now;
		if (r->pump[i].deferred)
			t = 0;	/* only look whether more is ready */
	}
	if (t == INT64_MAX)
		return -1;
	if (t > INT32_MAX)
		t = INT32_MAX;
	return t < 0 ? 0 : (int)t;
}

static int
filter_failed(const struct run *r, int rc, struct al_err *err)
{
	return al_err_set(err, AL_EIO, "output of '%s' could not be filtered "
	    "(%s); the task was ended", r->spec->argv[0], al_strerror(rc));
}

#define ADD(f, ev) do { pf[n].fd = (f); pf[n].events = (ev); \
	pf[n].revents = 0; n++; } while (0)
#define READY(i) ((i) >= 0 && (pf[i].revents & \
	(POLLIN | POLLOUT | POLLHUP | POLLERR)))

static int
loop(struct run *r, struct al_err *err)
{
	struct pollfd pf[10];
	int n, i, rc, ix_sig, ix_pid, ix_src[2], ix_dst[2], ix_in, ix_out;
	int ix_cancel, ix_watch, wfd;
	int64_t now;
	pid_t *v;
	size_t nv;

	while (r->phase != PH_FINAL) {
		n = 0;
		ix_pid = ix_in = ix_out = ix_cancel = ix_watch = -1;
		ix_sig = n;
		ADD(r->sigfd, POLLIN);
		if (r->pidfd >= 0 && !r->task.child_reaped) {
			ix_pid = n;
			ADD(r->pidfd, POLLIN);
		}
		for (i = 0; i < 2; i++) {
			ix_src[i] = ix_dst[i] = -1;
			if (pump_wants_read(&r->pump[i])) {
				ix_src[i] = n;
				ADD(r->pump[i].src, POLLIN);
			} else if (r->pump[i].qlen > 0) {
				ix_dst[i] = n;
				ADD(r->pump[i].dst, POLLOUT);
			}
		}
		if (r->phase == PH_RUN && relay_wants_read(&r->in)) {
			ix_in = n;
			ADD(r->in.src, POLLIN);
		}
		if (r->phase == PH_RUN && relay_wants_write(&r->in)) {
			ix_out = n;
			ADD(r->in.dst, POLLOUT);
		}
		if (r->phase == PH_RUN && r->spec->cancel_fd >= 0) {
			ix_cancel = n;
			ADD(r->spec->cancel_fd, POLLIN);
		}
		if (r->phase == PH_RUN && r->spec->watch.fn != NULL &&
		    (wfd = r->spec->watch.fd(r->spec->watch.arg)) >= 0) {
			ix_watch = n;
			ADD(wfd, POLLIN);
		}
		if (poll(pf, (nfds_t)n, poll_timeout(r, exec_now_ms())) < 0 &&
		    errno != EINTR)
			return al_err_set(err, AL_ESYS, "poll: %s",
			    strerror(errno));
		for (i = 0; i < 2; i++) {
			if (READY(ix_dst[i]))
				pump_flush(&r->pump[i]);
			if (READY(ix_src[i]))
				rc = run_read(r, &r->pump[i]);
			else	/* nothing more ready: decide what waits */
				rc = pump_complete(&r->pump[i]);
			if (rc < 0)
				return filter_failed(r, rc, err);
		}
		now = exec_now_ms();
		for (i = 0; i < 2; i++)
			if ((rc = pump_idle(&r->pump[i], now)) < 0)
				return filter_failed(r, rc, err);
		if (READY(ix_in))
			relay_read(&r->in);
		if (READY(ix_out))
			relay_write(&r->in);
		if (READY(ix_sig))
			handle_signals(r);
		if (READY(ix_pid))
			reap(r);
		now = exec_now_ms();
		if (r->phase == PH_RUN) {
			if (r->task.child_reaped)
				rc = begin_end(r, 0);
			else if (READY(ix_cancel)) {
				/* Stopped from outside: as a timeout. */
				r->res->cancelled = 1;
				rc = begin_end(r, 1);
			} else if (READY(ix_watch) &&
			    r->spec->watch.fn(r->spec->watch.arg) != 0) {
				/* The watcher wants it over: as a timeout. */
				r->res->watch_ended = 1;
				rc = begin_end(r, 1);
			} else if (r->deadline != 0 && now >= r->deadline) {
				r->res->timed_out = 1;
				rc = begin_end(r, 1);
			} else
				rc = 0;
			if (rc != 0)
				return rc;
		} else if (r->phase == PH_END) {
			reap(r);
			if (task_collect(&r->task, &v, &nv) == 0) {
				free(v);
				if (nv == 0 && r->task.child_reaped)
					r->all_gone = 1;
			}
			/* The grace is the command's: its leftovers get none. */
			if (r->task.child_reaped || now >= r->end_deadline)
				r->phase = PH_FINAL;
		}
	}
	return 0;
}

/* Wait until p's queue is written, or until limit (0: no limit). */
static void
flush_wait(struct run *r, struct exec_pump *p, int64_t limit)
{
	struct pollfd pf[2];
	int64_t left;
	int t;

	while (p->qlen > 0 && !r->stopped) {
		t = -1;
		if (limit != 0) {
			if ((left = limit - exec_now_ms()) <= 0)
				break;
			t = (int)left;
		}
		pf[0].fd = p->dst;
		pf[0].events = POLLOUT;
		pf[1].fd = r->sigfd;
		pf[1].events = POLLIN;
		if (poll(pf, 2, t) < 0 && errno != EINTR)
			break;
		if (pf[1].revents & POLLIN)
			handle_signals(r);
		pump_flush(p);
	}
	/* Out of time or interrupted: what is left is not delivered. */
	if (p->qlen > 0) {
		p->dropped += p->qlen;
		p->qlen = p->qoff = 0;
	}
}

/* Every writer is gone: read each stream to its end, then flush it. */
static int
final_drain(struct run *r, int64_t limit)
{
	struct pollfd pf;
	struct exec_pump *p;
	int i, rc, tries;

	for (i = 0; i < 2; i++) {
		p = &r->pump[i];
		tries = 0;
		while (!p->src_done) {
			if (p->qlen > 0)
				flush_wait(r, p, limit);
			if ((rc = run_read(r, p)) < 0)
				return rc;
			if (rc > 0 || p->src_done)
				continue;
			/*
			 * Nothing now.  A pipe with no writer left would say
			 * EOF, so a process outside the task holds it: stop.
			 * A pty says EIO once its last bytes are through.
			 */
			if (!p->shared_src || ++tries > 3)
				break;
			pf.fd = p->src;
			pf.events = POLLIN;
			if (poll(&pf, 1, 50) == 0)
				break;
		}
		if ((rc = pump_finish(p)) != 0)
			return rc;
		flush_wait(r, p, limit);
	}
	return 0;
}

static int
finish(struct run *r, int filter_failed, struct al_err *err)
{
	size_t n = 0;
	int rc, drc, ws;

	rc = 0;
	if (!r->all_gone) {
		/*
		 * Stopped first, all of them, so none can act (or fork) while
		 * the others are being killed one by one.
		 */
		(void)task_signal(&r->task, SIGSTOP, &n);
		rc = task_kill_all(&r->task, RUN_KILL_LIMIT_MS, &n, err);
		r->res->killed = (unsigned)n;
		if (r->res->ended < n)
			r->res->ended = (unsigned)n;
	}
	if (!r->task.child_reaped) {
		while (waitpid(r->task.child, &ws, 0) < 0 && errno == EINTR)
			;
		task_child_done(&r->task, ws);
	}
	reap(r);
	if (filter_failed)
		return rc;
	/* Only a signal that comes while flushing gives up on the reader. */
	r->stopped = 0;
	drc = final_drain(r, r->res->timed_out || r->res->cancelled ||
	    r->res->watch_ended ?
	    exec_now_ms() + r->grace : 0);
	return drc != 0 ? drc : rc;
}

static void
teardown(struct run *r)
{
	struct signalfd_siginfo si;

	if (r->raw_fd >= 0)
		pty_restore(r->raw_fd, &r->raw_saved);
	pump_release(&r->pump[0]);
	pump_release(&r->pump[1]);
	relay_stop(&r->in);
	close_fd(&r->master);
	close_fd(&r->pidfd);
	if (r->sigfd >= 0) {
		/* Signals meant for the task are not replayed on us. */
		while (read(r->sigfd, &si, sizeof(si)) > 0)
			;
		close_fd(&r->sigfd);
	}
	if (r->reaper_set)
		(void)prctl(PR_SET_CHILD_SUBREAPER, r->oldreaper, 0, 0, 0);
	if (r->chld_saved)
		(void)sigaction(SIGCHLD, &r->oldchld, NULL);
	if (r->mask_saved)
		(void)pthread_sigmask(SIG_SETMASK, &r->oldmask, NULL);
	if (r->rbuf != NULL)
		sodium_free(r->rbuf);
	r->rbuf = NULL;
	prep_release(&r->prep);
	task_release(&r->task);
}

static int
cancelled_already(const struct exec_spec *spec)
{
	struct pollfd pf;

	if (spec->cancel_fd < 0)
		return 0;
	pf.fd = spec->cancel_fd;
	pf.events = POLLIN;
	pf.revents = 0;
	return poll(&pf, 1, 0) > 0 && (pf.revents & (POLLIN | POLLHUP)) != 0;
}

int
exec_run(const struct exec_spec *spec, struct exec_result *res,
    struct al_err *err)
{
	struct run r;
	int rc;

	memset(res, 0, sizeof(*res));
	res->status = EXEC_STATUS_FAIL;
	res->exit_code = -1;
	memset(&r, 0, sizeof(r));
	r.spec = spec;
	r.res = res;
	r.sigfd = r.pidfd = r.master = r.raw_fd = -1;
	r.task.statfd = -1;
	r.pump[0].src = r.pump[1].src = r.pump[0].dst = r.pump[1].dst = -1;
	relay_init(&r.in, -1, -1, 0);
	prep_init(&r.prep);
	r.t0 = exec_now_ms();
	r.grace = spec->grace_ms > 0 ? spec->grace_ms : EXEC_GRACE_MS_DEFAULT;
	if ((rc = prep_command(&r.prep, spec, res, err)) != 0)
		goto out;
	r.rbuf_cap = RUN_READ_MIN;
	if ((r.rbuf = sodium_malloc(r.rbuf_cap)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = setup_io(&r, err)) != 0 ||
	    (rc = setup_signals(&r, err)) != 0 ||
	    (rc = task_init(&r.task, err)) != 0)
		goto out;
	if (cancelled_already(spec)) {
		/* Told to stop before it started: nothing runs. */
		res->cancelled = 1;
		rc = al_err_set(err, AL_ETIMEDOUT, "'%s' was cancelled before "
		    "it started", spec->argv[0]);
		goto out;
	}
	if ((rc = prep_spawn(&r.prep, res, &r.task.child, err)) != 0) {
		r.task.child = 0;
		goto out;
	}
	r.task.cmd = res->pid;
	if (r.prep.ns) {
		r.task.statfd = r.prep.statpipe[0];
		r.prep.statpipe[0] = -1;
	}
	if ((r.pidfd = pidfd_open(r.task.child, 0)) < 0 && errno != ENOSYS) {
		rc = al_err_set(err, AL_ESYS, "cannot watch the child: %s",
		    strerror(errno));
		(void)finish(&r, 1, NULL);
		goto out;
	}
	if (spec->timeout_ms > 0)
		r.deadline = r.t0 + spec->timeout_ms;
	if (spec->hooks.started != NULL)
		spec->hooks.started(spec->hooks.arg, res->pid);
	if ((rc = loop(&r, err)) != 0) {
		(void)finish(&r, 1, NULL);
		goto out;
	}
	if ((rc = finish(&r, 0, err)) != 0 && rc != AL_EIO)
		rc = filter_failed(&r, rc, err);
out:
	res->out_bytes = r.pump[0].in_bytes;
	res->err_bytes = r.pump[1].in_bytes;
	res->dropped = r.pump[0].dropped + r.pump[1].dropped;
	teardown(&r);
	res->elapsed_ms = exec_now_ms() - r.t0;
	return rc;
}

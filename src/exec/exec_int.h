/*
 * Private to src/exec: the pieces exec_run is made of.
 *
 *   spawn.c  everything prepared before the fork (command path, environment
 *            in guarded memory, memfds, descriptors), the child's side of
 *            the fork and the exec-failure report;
 *   isolate.c the task's PID namespace and its reaper (pid 1), the probe;
 *   task.c   the task's processes: children that existed before, walking
 *            the process tree through /proc, signalling, reaping, ending;
 *   pump.c   output streams (child -> filter -> caller) and input relay;
 *   pty.c    pseudo-terminal, raw mode, window size;
 *   setup.c  descriptors for the child, pumps, signals, subreaper;
 *   run.c    exec_run: the poll loop, the end of the task, teardown.
 */
#ifndef AIRLOCK_EXEC_INT_H
#define AIRLOCK_EXEC_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <termios.h>

#include "airlock/exec.h"

/*
 * The end of a child started by the clone system call (see isolate.c): the
 * exit_group system call itself.  The C library's _exit may be a
 * sanitizer's, which runs that runtime's end in the child with the state of
 * the thread that cloned it, and changes the status (66 for a report of the
 * caller's threads).
 */
static inline void __attribute__((noreturn))
exec_raw_exit(int status)
{
	for (;;)
		(void)syscall(SYS_exit_group, status);
}

/* ---- boundary.c, proxied.c --------------------------------------------- */

/* The redactor as an output filter (its state: a struct redact_stream). */
extern const struct exec_filter_ops exec_redact_filter;
/*
 * A run's redactor, its values added: the run's scanner rules (given, or
 * loaded when first needed) added, compiled, and a stream opened for each
 * of stdout (*so) and stderr (*se).  0, or an error in err; the caller
 * frees what was opened either way.
 */
struct exec_boundary;
int	exec_redactor_ready(const struct exec_boundary *b, struct redact *r,
	    struct redact_stream **so, struct redact_stream **se,
	    struct al_err *err) AL_WUR;
/* exec_boundary_run with b->proxy set. */
int	exec_proxied_run(const struct exec_boundary *b,
	    struct exec_spec *spec, struct exec_result *res,
	    struct al_err *err) AL_WUR;

/* ---- watch.c ----------------------------------------------------------- */

/* A run's watch on its leases (see watch.c). */
struct client_watch;
struct exec_lease_watch {
	struct client_watch	*w;
	struct exec_result	*res;
};

/*
 * Watch ids[0..n) (n may be 0: nothing to watch) on a connection of its
 * own to cl's broker and hook it into spec->watch: exec_run then ends the
 * task when one of them ends, with the secret and the reason in res.
 */
int	exec_watch_start(struct exec_lease_watch *lw, struct client *cl,
	    const char *const *ids, size_t n, struct exec_spec *spec,
	    struct exec_result *res, struct al_err *err) AL_WUR;
/* Close the watch (before the leases are revoked) and unhook it. */
void	exec_watch_stop(struct exec_lease_watch *lw, struct exec_spec *spec);
/* After exec_run: a task the watch ended exits 143 if it exited 0. */
void	exec_watch_status(struct exec_result *res);

/* ---- netns.c ----------------------------------------------------------- */

/* A network namespace whose only way out is a relay to 127.0.0.1:port. */
struct exec_netns {
	int			 listen_fd;	/* inside, 127.0.0.1:inner_port */
	int			 inner_port;
	int			 netns_fd;
	int			 userns_fd;	/* -1 when root needs none */
	int			 stop_fd;
	int			 port;
	char			 handoff[64];	/* the proxy's, or "" */
	int			 inited, started;
	pthread_t		 acceptor;
	pthread_mutex_t		 lock;
	pthread_cond_t		 idle;
	struct relay		*relays;
	size_t			 nrelays;
};

/* Make the namespaces (a helper process); AL_ESYS says why not. */
int	exec_netns_open(struct exec_netns *ns, struct al_err *err) AL_WUR;
/* Relay connections made inside to 127.0.0.1:port outside (a thread). */
int	exec_netns_start(struct exec_netns *ns, int port, const char *handoff,
	    struct al_err *err) AL_WUR;
/* Stop relaying, close everything. */
void	exec_netns_close(struct exec_netns *ns);

/* ---- spawn.c ------------------------------------------------------------ */

/* What the child needs, all of it prepared before the fork. */
struct exec_prep {
	char		*path;		/* resolved command */
	char		**argv;		/* spec->argv (borrowed) */
	char		**sh_argv;	/* "/bin/sh" path args..., for ENOEXEC */
	char		**envp;		/* borrowed base strings + ours */
	unsigned char	*senv;		/* guarded "VAR=value\0" strings */
	size_t		 senv_cap;
	char		*fenv;		/* "VAR=/dev/fd/N\0" strings */
	int		 memfd[EXEC_VARS_MAX];
	size_t		 nmemfd;
	/* Sources the child dups to 0, 1, 2 (all above `base`). */
	int		 child_fd[3];
	int		 errpipe[2];	/* exec failure report, close-on-exec */
	int		 base;		/* first descriptor the child closes */
	unsigned	 maxfd;		/* close_range fallback */
	const char	*cwd;
	pid_t		 parent;
	int		 pty;		/* child_fd[1] is the pty slave */
	/* PID namespace: the reaper's wait-status pipe and what it needs. */
	int		 statpipe[2];
	int		 selfpidfd;	/* the caller, to see it die */
	char		 uid_map[32];	/* "UID UID 1\n" */
	char		 gid_map[32];
	int		 ns;		/* forked into namespaces */
	int		 no_ns;		/* EXEC_NO_NAMESPACE */
	int		 netns_fd;	/* ours (dups), joined by the child */
	int		 userns_fd;
};

void	prep_init(struct exec_prep *p);
/* Free everything; wipes the guarded environment. */
void	prep_release(struct exec_prep *p);
/*
 * Resolve the command, validate and build the environment and the memfds.
 * Sets res->status to 127/126 when the command cannot be found or run.
 */
int	prep_command(struct exec_prep *p, const struct exec_spec *spec,
	    struct exec_result *res, struct al_err *err);
/* Move our *fd to a close-on-exec descriptor >= p->base, closing the old. */
int	prep_fd_above(struct exec_prep *p, int *fd, struct al_err *err);
/*
 * Fork and exec.  On return in the caller: *pid is set, the child's
 * descriptors and the guarded environment are closed and wiped, and the
 * exec failure (if any) has been read and mapped into res and err.
 */
int	prep_spawn(struct exec_prep *p, struct exec_result *res, pid_t *pid,
	    struct al_err *err);

/*
 * The child's side, for isolate.c too.  child_fds puts 0-2, the memfds
 * (3..) and the exec report pipe (right after them) in place and closes
 * every other descriptor but `keep` (moved right after the report pipe; -1:
 * none).  child_exec is the rest: session, terminal, parent-death signal,
 * directory, exec.  Both are async-signal-safe and end the process on
 * failure, reporting it.
 */
void	child_fds(struct exec_prep *p, int keep);
void	child_exec(const struct exec_prep *p) __attribute__((noreturn));
void	child_fail(const struct exec_prep *p, int stage, int e)
	    __attribute__((noreturn));
enum { STAGE_SETUP = 1, STAGE_CHDIR, STAGE_EXEC };

/* ---- isolate.c ---------------------------------------------------------- */

/*
 * Prepare what the namespace path needs (maps, pipes) before the fork.
 * Returns 0 or AL_ESYS; on failure the caller falls back to a plain fork.
 */
int	iso_prepare(struct exec_prep *p);
/*
 * Clone the task's reaper into new namespaces.  Returns its pid in the
 * caller, or -1 with errno set when the namespaces cannot be made (the
 * caller then forks without them).  Never returns in the child.
 */
pid_t	iso_clone(struct exec_prep *p);
/*
 * Wait for the reaper to say whether its namespaces are usable (its user
 * namespace maps written).  0: go on; otherwise the reaper was reaped, and
 * the errno to report is returned (the command must be started without
 * namespaces; its descriptors are still all there).
 */
int	iso_verdict(struct exec_prep *p, pid_t reaper);
/*
 * The command's pid in our namespace: the child of reaper whose pid in its
 * own namespace is 2.  0 when it is gone.
 */
pid_t	iso_find_command(pid_t reaper);

/* ---- task.c ------------------------------------------------------------- */

struct exec_task {
	pid_t	 self;
	pid_t	*pre;		/* children that existed before the task */
	size_t	 npre;
	pid_t	 child;		/* 0 until forked (the reaper with a PID ns) */
	pid_t	 cmd;		/* the command (== child without a PID ns) */
	int	 statfd;	/* the reaper's wait-status pipe, or -1 */
	int	 child_reaped;
	int	 child_wstatus;
};

int	task_init(struct exec_task *t, struct al_err *err);
void	task_release(struct exec_task *t);
/*
 * Reap every task child of ours that has ended (never the pre-existing
 * ones).  Sets child_reaped / child_wstatus when the child is among them.
 */
void	task_reap(struct exec_task *t);
/*
 * Record that the child was reaped with wait status ws; with a PID
 * namespace, the command's own status comes from statfd instead.
 */
void	task_child_done(struct exec_task *t, int ws);
/*
 * The live processes of the task: our children that are not pre-existing
 * and all their descendants.  *out is malloc'ed; *n may be 0.
 */
int	task_collect(struct exec_task *t, pid_t **out, size_t *n);
/* Send sig to every process of the task; *n gets how many there were. */
int	task_signal(struct exec_task *t, int sig, size_t *n);
/*
 * SIGKILL every process of the task until none is left (reaping them),
 * for at most limit_ms.  AL_EIO if some survive.
 */
int	task_kill_all(struct exec_task *t, int64_t limit_ms, size_t *n,
	    struct al_err *err);

/* ---- pump.c ------------------------------------------------------------- */

enum pump_dst { DST_WRITE = 1, DST_NONBLOCK, DST_SEND };

/* One output stream: child -> filter -> caller. */
struct exec_pump {
	int				 src;	/* ours, O_NONBLOCK; -1 when closed */
	int				 dst;
	int				 dst_owned;
	enum pump_dst			 mode;
	const struct exec_filter	*filter;
	unsigned char			*q;	/* filtered, not yet written */
	size_t				 qlen, qoff, qcap;
	int				 src_done;	/* EOF / EIO / closed */
	int				 dst_broken;
	int				 finished;
	int				 shared_src;	/* pty master: not ours to close */
	uint64_t			 in_bytes;
	uint64_t			 dropped;
	int64_t				 idle_at;	/* when to run idle; 0: no */
	int				 deferred;	/* filter may hold work */
	size_t				 last_read;	/* bytes of the last read */
};

/* Prepare p; dst is the caller's descriptor, reopened non-blocking if it can. */
int	pump_init(struct exec_pump *p, int src, int dst,
	    const struct exec_filter *f, struct al_err *err);
void	pump_release(struct exec_pump *p);
/* True while the pump should be polled for reading its source. */
int	pump_wants_read(const struct exec_pump *p);
/*
 * Read once from the source into buf and pass it through the filter.
 * Returns 1 when bytes were read, 0 when none were ready or the source
 * ended (src_done set), or a negative code when the filter failed.
 */
int	pump_read(struct exec_pump *p, unsigned char *buf, size_t cap);
/*
 * Let the filter finish what a read that filled the buffer left undecided
 * (deferred); call it when the source has nothing ready.  0 or the
 * filter's error.
 */
int	pump_complete(struct exec_pump *p);
/*
 * Run the filter's idle op if the source has been quiet since idle_at
 * (now >= idle_at).  0, or a negative code when the filter failed.
 */
int	pump_idle(struct exec_pump *p, int64_t now);
/* Write queued bytes as far as dst takes them without blocking. */
void	pump_flush(struct exec_pump *p);
/* Run the filter's finish once. */
int	pump_finish(struct exec_pump *p);
/* Close the source (the child gets SIGPIPE / EIO on its next write). */
void	pump_close_src(struct exec_pump *p);

/* Input: caller -> child (pipe or pty master). */
struct exec_relay {
	int		 src;	/* caller's descriptor, not ours; -1: none */
	int		 dst;	/* ours, O_NONBLOCK; -1 when closed */
	int		 pty;	/* dst is the pty master (shared) */
	unsigned char	 buf[4096];
	size_t		 len, off;
	int		 src_done;
	unsigned char	 last;	/* last byte passed on */
};

void	relay_init(struct exec_relay *r, int src, int dst, int pty);
int	relay_wants_read(const struct exec_relay *r);
int	relay_wants_write(const struct exec_relay *r);
void	relay_read(struct exec_relay *r);
void	relay_write(struct exec_relay *r);
/* Stop relaying; closes the child's stdin pipe. */
void	relay_stop(struct exec_relay *r);

/* ---- pty.c -------------------------------------------------------------- */

/*
 * Open a pty pair: *master (ours, O_NONBLOCK, close-on-exec) and *slave.
 * When tio is not NULL the slave starts with those attributes.
 */
int	pty_open(int *master, int *slave, const struct termios *tio,
	    struct al_err *err);
/* Copy the window size of the first terminal among fds to the pty. */
void	pty_copy_winsize(int master, const int *fds, size_t n);
/*
 * Tell the pty that input ended: VEOF when it is canonical (twice when a
 * partial line is pending, as a user would type it).
 */
void	pty_send_eof(int master, int partial);
/* Put terminal fd in raw mode, saving its attributes in saved. */
int	pty_make_raw(int fd, struct termios *saved);
void	pty_restore(int fd, const struct termios *saved);

/* ---- setup.c and run.c -------------------------------------------------- */

enum phase { PH_RUN, PH_END, PH_FINAL };

struct run {
	const struct exec_spec	*spec;
	struct exec_result	*res;
	struct exec_prep	 prep;
	struct exec_task	 task;
	struct exec_pump	 pump[2];	/* stdout, stderr */
	struct exec_relay	 in;
	unsigned char		*rbuf;		/* guarded; see run_read */
	size_t			 rbuf_cap;
	int			 sigfd;
	int			 pidfd;
	int			 master;	/* pty master, -1 */
	int			 raw_fd;	/* terminal put in raw mode, -1 */
	struct termios		 raw_saved;
	sigset_t		 oldmask;
	int			 mask_saved;
	struct sigaction	 oldchld;
	int			 chld_saved;
	int			 oldreaper;
	int			 reaper_set;
	enum phase		 phase;
	int64_t			 t0;
	int64_t			 deadline;	/* timeout, 0: none */
	int64_t			 end_deadline;	/* grace */
	int64_t			 grace;
	int			 notified;
	int			 all_gone;	/* nothing of the task is left */
	int			 stopped;	/* a signal asked to stop flushing */
};

int	setup_io(struct run *r, struct al_err *err);
int	setup_signals(struct run *r, struct al_err *err);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t	exec_now_ms(void);

/* ---- fields of a database credential (fields.c) ---------------------- */

/*
 * If binding is NAME.FIELD with a known FIELD (url, user, password, host,
 * port, dbname), NAME into base and the field's index (0 = url, 2 =
 * password, the only secret parts besides the url); else -1.
 */
int	exec_field_split(const char *binding, char *base, size_t basesz);
/*
 * One field of a postgresql:// URL (guarded) into new guarded memory.
 * AL_EINVAL when url is not such a URL or lacks the field.
 */
int	exec_field_value(struct al_secret *url, int field,
	    struct al_secret **out, struct al_err *err) AL_WUR;
#define EXEC_FIELD_URL		0
#define EXEC_FIELD_PASSWORD	2

#endif

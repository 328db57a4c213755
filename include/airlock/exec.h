/*
 * airlock exec: run one command inside the boundary (`airlock run`).
 *
 * exec_run starts the command as a child in its own session, with no
 * controlling terminal (or, with EXEC_PTY, a pseudo-terminal of its own), so
 * everything it prints reaches the caller only through the output filters:
 * its stdout and stderr are pipes (or the pty) that a poll loop pumps through
 * one filter per stream to out_fd and err_fd.  Each stream stays in order;
 * stdout stays stdout and stderr stays stderr.
 *
 * Secret values are handed over as struct al_secret (guarded memory) and
 * reach the child only:
 *   EXEC_VAR_ENV   in its environment (VAR=value), built in guarded memory
 *                  before the fork and wiped in the caller right after it;
 *   EXEC_VAR_FILE  in a sealed memfd (F_SEAL_SEAL|SHRINK|GROW|WRITE) that
 *                  the child inherits as descriptor N, with VAR=/dev/fd/N.
 * Nothing is written to disk, and the caller's own argv and environment are
 * never touched.
 *
 * The child inherits descriptors 0, 1, 2 and the memfds only: everything
 * else is closed between fork and exec (close_range), and every descriptor
 * exec_run opens is close-on-exec.  Between fork and exec the child makes
 * only async-signal-safe calls; it resets every signal to its default
 * disposition, unblocks all signals, calls setsid, asks for SIGKILL when the
 * caller dies (PR_SET_PDEATHSIG) and execs the path that was looked up in
 * PATH before the fork.  An exec that fails is reported back through a
 * close-on-exec pipe, as git's run-command does.
 *
 * Where the system allows it, the task runs in a PID namespace of its own
 * (EXEC_ISOLATION_PIDNS; with a user namespace mapping only the caller's
 * uid and gid when the caller is not root, and a mount namespace with its
 * own /proc so the task sees only its processes).  Its pid 1 is a small
 * reaper forked from the caller, which asks for SIGKILL when the caller dies
 * and starts the command as its only child; when the command exits, the
 * reaper passes its wait status up and exits, and the kernel kills every
 * process left in the namespace at once.  So nothing of the task outlives
 * the command, nor the caller, even when the caller is killed with SIGKILL.
 * Where namespaces are not available (EXEC_ISOLATION_SUBREAPER) the command
 * is forked directly and the caller is a child subreaper for the duration,
 * so every process the command starts stays in its process tree, even one
 * that daemonizes; the caller ends them itself, which a SIGKILL of the
 * caller skips (only the command gets SIGKILL then, by PR_SET_PDEATHSIG).
 *
 * When the command exits, exec_run reads the output already written, then
 * stops (SIGSTOP) and kills (SIGKILL) every remaining process of the task at
 * once: leftovers get no grace period.  A timeout or cancellation ends the
 * whole task: SIGTERM (and SIGCONT) to every process, a grace period during
 * which output is still relayed and that ends as soon as the command exits,
 * then SIGKILL until none is left.  SIGINT, SIGTERM and SIGHUP sent to the
 * caller are forwarded to the command's process group.  When exec_run
 * returns, no process of the task is left and nothing more can reach out_fd
 * or err_fd.
 *
 * Threads and children: exec_run blocks the signals of exec_signals() in
 * the calling thread and reads them from a signalfd; a multithreaded caller
 * must block them in every other thread too (before creating it), or they
 * may be lost or kill the process.  Children of the caller that exist when
 * exec_run starts are left alone (not signalled, not reaped); every other
 * child that appears while it runs is taken as part of the task.
 *
 * Tying a lease to the task: the simplest binding is to revoke in
 * hooks.child_exited (the command is over; its leftovers are being ended)
 * or after exec_run returns (nothing of the task is left).  A lease bound to
 * the broker connection is tied to the task's lifetime by keeping that
 * connection open in the calling process across exec_run (it is
 * close-on-exec and closed in the child anyway, so the task cannot hold it)
 * and closing it after exec_run returns: if the caller is killed instead,
 * the kernel closes the connection, the broker revokes, and the whole
 * task is killed with the PID namespace (or only the command gets SIGKILL,
 * under EXEC_ISOLATION_SUBREAPER).
 */
#ifndef AIRLOCK_EXEC_H
#define AIRLOCK_EXEC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "airlock/base.h"
#include "airlock/redact.h"

/* Default time between SIGTERM and SIGKILL on a timeout or cancellation. */
#define EXEC_GRACE_MS_DEFAULT	2000
/* Longest variable name accepted in a binding. */
#define EXEC_VAR_NAME_MAX	128
/* Most secret values one run may inject. */
#define EXEC_VARS_MAX		64

/* Exit statuses, as env(1) and the CLI use them. */
#define EXEC_STATUS_FAIL	125	/* exec_run failed before the child ran */
#define EXEC_STATUS_NOEXEC	126	/* found but could not be executed */
#define EXEC_STATUS_NOTFOUND	127	/* command not found */

/* ---- output filters ----------------------------------------------------- */

/*
 * Where a filter sends bytes it lets through.  Returns 0, or a negative
 * AL_E code that the filter must pass back to its caller.  The signature is
 * the redactor's redact_emit_fn, so a redact stream adapts in two lines.
 */
typedef int (*exec_emit_fn)(void *arg, const void *p, size_t n);

/*
 * An output filter: write is called with each chunk the child printed, in
 * order; it may hold back bytes (a possible start of a value) and must emit
 * everything else through emit.  finish is called once at the end of the
 * stream and must emit what is still held.  Both return 0 or a negative
 * AL_E code (which ends the task: exec_run never lets unfiltered bytes
 * through).  The chunk passed to write is unfiltered child output: a filter
 * must not keep a pointer to it.
 */
struct exec_filter_ops {
	int	(*write)(void *st, const void *p, size_t n, exec_emit_fn emit,
		    void *arg);
	int	(*finish)(void *st, exec_emit_fn emit, void *arg);
	/*
	 * Optional: called when the stream has been quiet for
	 * EXEC_IDLE_FLUSH_MS after a write, to release what the filter holds
	 * only because more might follow (the redactor's unfinished line kept
	 * for pattern rules), so a prompt without a newline still shows.
	 */
	int	(*idle)(void *st, exec_emit_fn emit, void *arg);
	/*
	 * Optional pair: write_more is write for bytes that more bytes follow
	 * right away (the read filled the buffer); the filter may leave part
	 * of them undecided until its next call, and complete decides them.
	 * The runner calls complete as soon as a source has nothing ready,
	 * and before idle or finish would run.
	 */
	int	(*write_more)(void *st, const void *p, size_t n,
		    exec_emit_fn emit, void *arg);
	int	(*complete)(void *st, exec_emit_fn emit, void *arg);
};

/* Quiet time after which a filter's idle op runs. */
#define EXEC_IDLE_FLUSH_MS	50

/* One filter state per stream; ops NULL means bytes pass unchanged. */
struct exec_filter {
	const struct exec_filter_ops	*ops;
	void				*st;
};

/* ---- what to run -------------------------------------------------------- */

enum exec_var_kind {
	EXEC_VAR_ENV = 1,	/* VAR=value in the child's environment */
	EXEC_VAR_FILE,		/* VAR=/dev/fd/N, a sealed memfd */
};

/* One secret value for the child. */
struct exec_var {
	const char		*name;	/* [A-Za-z_][A-Za-z0-9_]*, unique */
	struct al_secret	*value;	/* borrowed; opened and closed again */
	enum exec_var_kind	 kind;
};

/* Callbacks; any may be NULL. */
struct exec_result;
struct exec_hooks {
	/* The command is running as pid (exec succeeded). */
	void	(*started)(void *arg, pid_t pid);
	/*
	 * The child has exited and been reaped (r->status and friends are
	 * set); leftovers of the task are about to be ended.  The place to
	 * revoke leases as early as possible.
	 */
	void	(*child_exited)(void *arg, const struct exec_result *r);
	void	 *arg;
};

#define EXEC_PTY	0x1	/* give the child a pseudo-terminal */
/* No namespaces: the subreaper fallback, as where they are unavailable. */
#define EXEC_NO_NAMESPACE 0x2
#define EXEC_NETNS	0x4	/* the child joins netns_fd (and userns_fd) */

struct exec_spec {
	char *const		*argv;	/* argv[0]: a path, or looked up in PATH */
	/* Base environment (NULL: the caller's environ); vars replace names. */
	char *const		*envp;
	const struct exec_var	*vars;
	size_t			 nvars;
	const char		*cwd;	/* NULL: the caller's */
	int			 flags;	/* EXEC_PTY, EXEC_NO_NAMESPACE */
	int64_t			 timeout_ms;	/* 0: none */
	int64_t			 grace_ms;	/* TERM to KILL; 0: default */
	/*
	 * The child's input: -1 for /dev/null.  A pipe, regular file or
	 * non-terminal device is passed as it is; a terminal or socket is
	 * relayed through a pipe instead (it could be written to, bypassing
	 * the filters), and a terminal is read only while the caller is in
	 * its foreground process group.  With EXEC_PTY input is relayed to
	 * the pty (a terminal is put in raw mode meanwhile; at the end of
	 * other input the pty gets one end-of-file), and -1 gives the child
	 * /dev/null as stdin with the pty as stdout, stderr and /dev/tty.
	 */
	int			 in_fd;
	int			 out_fd;	/* filtered stdout goes here */
	int			 err_fd;	/* filtered stderr goes here */
	/*
	 * One filter per stream.  When out_fd and err_fd are one file (the
	 * same descriptor, pipe or terminal: 2>&1), the child gets a single
	 * pipe for both so their order is kept, and only out is used; with
	 * EXEC_PTY, out sees everything the pty prints and err is unused.
	 */
	struct exec_filter	 out;
	struct exec_filter	 err;
	struct exec_hooks	 hooks;
	/*
	 * A descriptor another thread makes readable (an eventfd, a pipe) to
	 * stop the command: the whole task is then ended as on a timeout
	 * (SIGTERM, the grace period, SIGKILL) and res->cancelled is set.
	 * exec_run only polls it, never reads or closes it.  Already readable
	 * when exec_run starts: the command is not started (AL_ETIMEDOUT,
	 * res->cancelled set).  -1: none.
	 */
	int			 cancel_fd;
	/*
	 * Something to watch while the command runs (fn NULL: nothing): fd
	 * says which descriptor to poll now (-1: none), and when it is
	 * readable, fn is called; it returns 0 to go on, or 1 to end the
	 * whole task as on a cancellation (SIGTERM, the grace period,
	 * SIGKILL), which sets res->watch_ended.
	 */
	struct exec_watch {
		int	(*fd)(void *arg);
		int	(*fn)(void *arg);
		void	 *arg;
	}			 watch;
	/*
	 * With EXEC_NETNS: namespaces the child joins (setns) before exec,
	 * the user namespace first when userns_fd is not -1.  Borrowed.
	 */
	int			 netns_fd;
	int			 userns_fd;
};

/*
 * Fill spec with the defaults: fds 0, 1, 2, no filters, no timeout, no
 * cancel_fd.
 */
void	exec_spec_init(struct exec_spec *spec);

/* ---- the outcome -------------------------------------------------------- */

/* How the task's processes are kept from outliving it. */
enum exec_isolation {
	EXEC_ISOLATION_NONE = 0,	/* nothing was started */
	EXEC_ISOLATION_PIDNS,		/* own PID namespace (see the top) */
	EXEC_ISOLATION_SUBREAPER,	/* fallback: the caller as subreaper */
};

/*
 * What exec_run would use on this system, for `airlock doctor` and for a
 * one-time notice: isolation, whether a user namespace is part of it, whether
 * the task gets its own /proc, and the errno that ruled namespaces out
 * (0 when they work).  Runs a trivial process in the namespaces to find out.
 */
struct exec_isolation_info {
	enum exec_isolation	isolation;
	int			userns;
	int			own_proc;
	int			ns_errno;
};
void	exec_isolation_probe(struct exec_isolation_info *out);
/* "PID namespace" / "subreaper" / "none". */
const char *exec_isolation_name(enum exec_isolation iso);

struct exec_result {
	/*
	 * The command (in the caller's PID namespace), 0 if it never ran.
	 * Under EXEC_ISOLATION_PIDNS, its parent is the task's reaper.
	 */
	pid_t		pid;
	enum exec_isolation isolation;	/* what this run used */
	int		ns_errno;	/* why not a namespace (SUBREAPER) */
	/*
	 * What to exit with: the child's exit code, 128+N when signal N
	 * killed it, 126/127 when the command could not be executed or was
	 * not found, 125 when exec_run failed before the command ran (also a
	 * failed chdir, as env -C does).
	 */
	int		status;
	int		exit_code;	/* -1 when killed by a signal */
	int		term_signal;	/* 0 when it exited */
	int		exec_errno;	/* errno of a failed exec or chdir */
	int		timed_out;	/* timeout_ms passed; the task was ended */
	int		cancelled;	/* cancel_fd fired; the task was ended */
	int		watch_ended;	/* watch.fn said so; the task was ended */
	/*
	 * exec_boundary_run: a lease of the run ended while the command
	 * ran (watch_ended is set): the secret, and why in the broker's
	 * words ("the secret is exposed").
	 */
	char		lease_secret[65];
	char		lease_reason[257];
	/*
	 * Processes exec_run had to end: those left when the child exited,
	 * or all of them when the timeout passed; and how many of them were
	 * still there for SIGKILL.  Processes the kernel ended with the PID
	 * namespace when the command exited are not counted.
	 */
	unsigned	ended;
	unsigned	killed;
	uint64_t	out_bytes;	/* bytes read from the child's stdout */
	uint64_t	err_bytes;	/* ... stderr */
	uint64_t	dropped;	/* filtered bytes out_fd/err_fd refused */
	int64_t		elapsed_ms;	/* fork to return */
};

/*
 * Run spec->argv inside the boundary and wait until the task is over (see
 * the top of this file).  res is always filled (status 125 when nothing ran).
 *
 * Returns 0 when the command ran and ended, whatever its status; otherwise
 * a negative code with err naming what failed:
 *   AL_EINVAL   bad spec (variable name, duplicate, NUL in an env value,
 *               empty argv)
 *   AL_ENOENT   command not found (status 127) or chdir failed (125)
 *   AL_EPERM    command found but not executable (status 126)
 *   AL_ESYS     a system call failed (memfd, pipe, fork, pty, ...)
 *   AL_ENOMEM   out of memory
 *   AL_ETIMEDOUT cancel_fd was readable before the command started
 *   AL_EIO      a filter failed, or the task could not be ended; the task
 *               was ended, res has the child's status
 * out_fd and err_fd refusing output (a closed pipe) is not an error: that
 * stream's source is closed so the child gets SIGPIPE, as in a pipeline,
 * and res->dropped counts what was lost.
 */
int	exec_run(const struct exec_spec *spec, struct exec_result *res,
	    struct al_err *err) AL_WUR;

/*
 * The signals exec_run takes over while it runs: SIGCHLD, SIGINT, SIGTERM,
 * SIGHUP, SIGWINCH and SIGPIPE.
 */
void	exec_signals(sigset_t *set);

/* ---- command-line helpers ----------------------------------------------- */

/* A parsed "VAR=SECRET" argument of -e or --file. */
struct exec_binding {
	char		 var[EXEC_VAR_NAME_MAX + 1];
	const char	*secret;	/* points into the parsed argument */
};

/*
 * Parse "VAR=SECRET"; opt names the option in errors ("-e", "--file").
 * VAR must be a portable variable name; SECRET must be non-empty (the
 * caller checks it against the vault's naming rules).  AL_EINVAL otherwise.
 */
int	exec_binding_parse(const char *arg, const char *opt,
	    struct exec_binding *out, struct al_err *err) AL_WUR;

/* Whether name is a portable environment variable name. */
int	exec_var_name_ok(const char *name);

/* ---- environment files --------------------------------------------------- */

/*
 * An env file (`--env-file`, the MCP run tool's env_file): lines
 * VAR=VALUE (an optional `export `, '#' comments, values in '' or "" on one
 * line).  A VALUE of "airlock:SECRET" (or "airlock://SECRET") is a secret
 * to lease into VAR; every other line is passed to the command as it is.
 * The file is read into guarded memory, kept readable until released and
 * wiped then: a plain value may be a credential of its own.
 */
struct exec_env_file {
	/* The secret references, and the line of each. */
	struct exec_binding	 refs[EXEC_VARS_MAX];
	size_t			 line[EXEC_VARS_MAX];
	size_t			 nrefs;
	char			**plain;	/* "VAR=value", into buf */
	size_t			 nplain;
	struct al_secret	*mem;	/* the file, guarded, open */
	char			*buf;	/* its bytes, NUL-terminated */
	size_t			 len;
};

/*
 * Read and parse path into f (released with exec_env_file_release, also
 * after an error).  AL_ENOENT, AL_EIO; AL_EINVAL for a malformed line, a
 * variable given twice or more than EXEC_VARS_MAX references, with err
 * naming the file and line (never the line's content).  The secret names
 * are not checked here.
 */
int	exec_env_file_load(const char *path, struct exec_env_file *f,
	    struct al_err *err) AL_WUR;
void	exec_env_file_release(struct exec_env_file *f);

/*
 * A new environment: base (NULL-terminated; NULL for none) with f's plain
 * variables added, replacing base's of the same name.  *out is one calloc'd
 * array of borrowed strings: free(*out) only.
 */
int	exec_env_build(char *const *base, const struct exec_env_file *f,
	    char ***out, struct al_err *err) AL_WUR;

/* ---- a run with leased values ------------------------------------------ */

struct client;
struct client_approval;

/* One secret to lease and inject: VAR gets the value of SECRET. */
struct exec_lease_var {
	const char		*var;
	const char		*secret;
	enum exec_var_kind	 kind;
};

/*
 * Everything exec_boundary_run needs besides the command: the broker
 * client (open, borrowed), what the leases are for, and optionally the
 * scanner's engine, so the redactor masks rule hits too (NULL: values only).
 */
struct scan_engine;
struct exec_boundary {
	struct client			*client;
	const char			*task;		/* may be NULL */
	const char			*intent;	/* may be NULL */
	int64_t				 ttl;		/* seconds; 0: default */
	int				 approval_wait_s;
	const struct exec_lease_var	*vars;
	size_t				 nvars;
	const struct scan_engine	*rules;		/* borrowed; may be NULL */
	/*
	 * Without rules: when set, the scanner's rules are loaded by this
	 * only once the command prints something (redact_use_scan_lazy); a
	 * failed load ends the task, with the loader's message in err.
	 */
	redact_scan_load_fn		 rules_load;
	void				*rules_load_arg;
	/*
	 * Use without possession: the values stay in the broker, whose
	 * proxy puts them in HTTPS requests to each secret's hosts; the
	 * command gets placeholders, the proxy variables and a CA bundle
	 * (written in state_dir, removed at the end).  See docs/proxy.md.
	 */
	int				 proxy;
	const char			*state_dir;	/* $AIRLOCK_HOME */
	/*
	 * With proxy, the command runs in a network namespace whose only
	 * way out is the proxy; where namespaces are not available it runs
	 * without, and warn (may be NULL) is told why.
	 */
	void				(*warn)(void *arg, const char *msg);
	void				*warn_arg;
	/* With proxy: do not isolate (the command shares the network). */
	int				 no_isolation;
	/* Told when a lease waits for an approver (client_lease_req). */
	void				(*pending)(
					    const struct client_approval *a,
					    void *arg);
	void				*pending_arg;
};

/*
 * The whole boundary: lease every secret in b (bound to b->client's
 * connection, so they end if this process dies), fetch the values into
 * guarded memory, build a redactor of those values (and rule hits), run
 * spec->argv with the values injected and both output streams redacted,
 * then revoke the leases and wipe the values, whatever way the command
 * ended.  spec's vars, filters and watch are set here; everything else is
 * the caller's.
 *
 * While the command runs, the leases are watched (a long poll on a second
 * connection to b->client's broker): when one ends (revoked, expired, its
 * secret exposed), or the run can no longer tell that they are live, the
 * task is ended as on a timeout; res->watch_ended is set, lease_secret and
 * lease_reason say which and why, and a status of 0 becomes 143.
 *
 * Returns 0 when the command ran (res has its status).  Before the command
 * ran: AL_ENOENT, AL_EDENIED, AL_EPENDING, AL_EUNAVAIL ... from the broker,
 * with err naming the secret and the reason, and res->status 125; or the
 * codes of exec_run.  A value too short to be masked (under 4 bytes) is
 * refused (AL_EINVAL): it could not be kept out of the output.
 */
int	exec_boundary_run(const struct exec_boundary *b, struct exec_spec *spec,
	    struct exec_result *res, struct al_err *err) AL_WUR;

/*
 * Whether `run --proxy` can put a command in a network namespace of its
 * own here (it makes one and throws it away): 0, or AL_ESYS with why not.
 */
int	exec_isolation_check(struct al_err *err) AL_WUR;

#endif

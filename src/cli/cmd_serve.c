/*
 * airlock serve: run the broker.  In the background (the default, and what
 * clients use to autostart it) it detaches fully, like gpg-agent: the
 * foreground process takes the state directory's lock, forks; the child
 * starts a new session and forks again; the grandchild closes every
 * inherited descriptor, points stdio at /dev/null and its log, opens and
 * unlocks the vault, binds the socket and only then tells the waiting
 * foreground process it is ready.  The foreground process exits 0 then, or
 * 2 with the broker's error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "airlock/api.h"
#include "airlock/broker.h"
#include "cli.h"
#include "guardkeep.h"
#include "vaultcli.h"

const char cmd_serve_help[] =
"usage: airlock serve [--socket PATH] [--foreground] [--passphrase-fd N]\n"
"                     [--group NAME] [--policy PATH] [--lock-after D]\n"
"       airlock serve --stop\n"
"\n"
"Run the broker: the daemon that holds the unlocked vault, decides who may\n"
"lease which secret and records every step in the audit log.  Commands that\n"
"need it start it themselves when none answers (autostart), so running it by\n"
"hand is only needed for a passphrase vault, a separate broker user or a\n"
"service manager.  One broker runs per state directory.\n"
"\n"
"Options:\n"
"  --socket PATH        listen on PATH (default $AIRLOCK_SOCKET, else\n"
"                       $AIRLOCK_HOME/airlockd.sock)\n"
"  --foreground         stay attached, log to stderr (for systemd)\n"
"  --passphrase-fd N    read the vault passphrase from descriptor N (a\n"
"                       passphrase vault cannot be autostarted)\n"
"  --group NAME         make the socket 0660 and owned by group NAME, so\n"
"                       members may connect (separate broker user)\n"
"  --policy PATH        the policy file (default $AIRLOCK_HOME/policy.yaml)\n"
"  --lock-after D       stop after D (90m, 8h), locking the vault again\n"
"                       (what `airlock unlock --timeout D` asks for)\n"
"  --stop               stop the running broker (as `airlock stop`)\n"
"\n"
"Signals: SIGTERM or SIGINT stop it cleanly (bound leases end); SIGHUP\n"
"reloads the policy (a bad policy is rejected and the old one stays) and\n"
"the list of guards it runs.\n"
"\n"
"Files: airlockd.sock, airlockd.pid, airlockd.lock, airlockd.log (background\n"
"mode), leases.db, audit.log, guards (the `airlock guard`s it runs, one per\n"
"line), all in $AIRLOCK_HOME.\n"
"\n"
"Exit status: 0 stopped cleanly (or, in the background, started), 2 error\n"
"(no vault, bad passphrase, already running, bad policy).\n";

struct serve_args {
	const char	*socket;
	const char	*group;
	const char	*policy;
	int		 foreground;
	int		 passfd;
	int		 stop;
	int64_t		 lock_after;	/* seconds; 0: never */
};

enum { OPT_SOCKET = 256, OPT_FG, OPT_PASSFD, OPT_GROUP, OPT_POLICY, OPT_STOP,
	OPT_LOCKAFTER };

static const struct option serve_opts[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "foreground", no_argument, NULL, OPT_FG },
	{ "passphrase-fd", required_argument, NULL, OPT_PASSFD },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "stop", no_argument, NULL, OPT_STOP },
	{ "lock-after", required_argument, NULL, OPT_LOCKAFTER },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Take the state directory's lock; AL_EBUSY naming the running pid. */
#define LOCK_WAIT_MS	5000
static int
take_lock(struct cli *cli, int *out, struct al_err *err)
{
	char path[PATH_MAX], pidpath[PATH_MAX], pid[32];
	ssize_t n;
	int fd, pfd, waited;

	*out = -1;
	if (al_path_join(path, sizeof(path), cli->home, API_LOCK_FILE) != 0 ||
	    al_path_join(pidpath, sizeof(pidpath), cli->home,
	    API_PID_FILE) != 0)
		return al_err_set(err, AL_ETOOBIG, "state path too long");
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return al_err_set(err, AL_ESYS, "cannot open %s: %s", path,
		    strerror(errno));
	/*
	 * Held, with no pid file: a broker that is starting (it writes the
	 * file once it runs) or stopping (the file goes first).  Wait a
	 * while for the one or the other, rather than answer "already
	 * running" for a broker that is about to be gone.
	 */
	for (waited = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; waited += 20) {
		pid[0] = '\0';
		if ((pfd = open(pidpath, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC)) >= 0) {
			n = read(pfd, pid, sizeof(pid) - 1);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			(void)close(pfd);
		}
		if (pid[0] || waited >= LOCK_WAIT_MS) {
			(void)close(fd);
			return al_err_set(err, AL_EBUSY, "a broker is already "
			    "running for %s (pid %s)", cli->home, pid[0] ?
			    pid : "unknown");
		}
		(void)poll(NULL, 0, 20);
	}
	*out = fd;
	return 0;
}

static int
write_pid(struct cli *cli, struct al_err *err)
{
	char path[PATH_MAX], buf[32];
	int fd, n, rc = 0;

	if (al_path_join(path, sizeof(path), cli->home, API_PID_FILE) != 0)
		return al_err_set(err, AL_ETOOBIG, "state path too long");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return al_err_set(err, AL_ESYS, "cannot write %s: %s", path,
		    strerror(errno));
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n)
		rc = al_err_set(err, AL_EIO, "cannot write %s", path);
	(void)close(fd);
	return rc;
}

static void
remove_pid(struct cli *cli)
{
	char path[PATH_MAX];

	if (al_path_join(path, sizeof(path), cli->home, API_PID_FILE) == 0)
		(void)unlink(path);
}

/* Open and unlock the vault, build the broker, serve until stopped. */
static int
run_broker(struct cli *cli, const struct serve_args *a, int log_fd,
    int ready_fd, struct al_err *err)
{
	struct broker_config cfg;
	struct guard_keep keep;
	struct vault *v = NULL;
	struct broker *b = NULL;
	const char *env_sock = getenv("AIRLOCK_SOCKET");
	int rc;

	if ((rc = cli_vault_open(cli, &v, err)) != 0)
		goto out;
	if (vault_key_kind(v) == VAULT_KEY_KIND_PASSPHRASE && a->passfd < 0 &&
	    !a->foreground) {
		rc = al_err_set(err, AL_EBADKEY, "the vault needs a passphrase: "
		    "run `airlock unlock` (or `airlock serve --passphrase-fd "
		    "N`)");
		goto out;
	}
	if ((rc = cli_vault_unlock(v, a->passfd, err)) != 0)
		goto out;
	if (a->passfd >= 0)
		(void)close(a->passfd);
	memset(&cfg, 0, sizeof(cfg));
	cfg.home = cli->home;
	cfg.socket_path = a->socket ? a->socket : (env_sock && env_sock[0] ?
	    env_sock : NULL);
	cfg.socket_group = a->group;
	cfg.policy_path = a->policy;
	cfg.clock = cli->clock;
	cfg.log_fd = log_fd;
	/* The guards of $AIRLOCK_HOME/guards start once clients can connect. */
	memset(&keep, 0, sizeof(keep));
	keep.log_fd = log_fd;
	if (snprintf(keep.home, sizeof(keep.home), "%s", cli->home) >=
	    (int)sizeof(keep.home) || (cfg.socket_path != NULL ?
	    snprintf(keep.socket, sizeof(keep.socket), "%s",
	    cfg.socket_path) >= (int)sizeof(keep.socket) :
	    al_path_join(keep.socket, sizeof(keep.socket), cli->home,
	    API_SOCKET_FILE) != 0)) {
		rc = al_err_set(err, AL_ETOOBIG, "state path too long");
		goto out;
	}
	cfg.on_ready = guard_keep_start;
	cfg.on_hup = guard_keep_hup;
	cfg.on_ready_arg = &keep;
	rc = broker_new(&cfg, v, &b, err);
	v = NULL;		/* the broker owns it, even on failure */
	if (rc != 0)
		goto out;
	if ((rc = write_pid(cli, err)) != 0)
		goto out;
	/*
	 * --lock-after: a timer raises SIGTERM, which the broker reads from
	 * its signalfd and answers like `airlock stop` (leases end, the vault
	 * goes with the process).
	 */
	if (a->lock_after > 0) {
		struct sigevent sev;
		struct itimerspec its;
		timer_t t;

		memset(&sev, 0, sizeof(sev));
		sev.sigev_notify = SIGEV_SIGNAL;
		sev.sigev_signo = SIGTERM;
		memset(&its, 0, sizeof(its));
		its.it_value.tv_sec = (time_t)a->lock_after;
		if (timer_create(CLOCK_MONOTONIC, &sev, &t) != 0 ||
		    timer_settime(t, 0, &its, NULL) != 0) {
			rc = al_err_set(err, AL_ESYS, "--lock-after: %s",
			    strerror(errno));
			goto out;
		}
	}
	rc = broker_serve(b, ready_fd, err);
	guard_keep_stop(&keep);
	remove_pid(cli);
out:
	broker_free(b);
	vault_close(v);
	return rc;
}

/* Close every descriptor above 2 except keep[0..n). */
static void
close_others(const int *keep, size_t n)
{
	unsigned lo = 3, k;
	size_t i;

	for (k = 3; k < 1u << 20; k++) {
		for (i = 0; i < n; i++)
			if ((int)k == keep[i])
				break;
		if (i == n)
			continue;
		if (k > lo)
			(void)close_range(lo, k - 1, 0);
		lo = k + 1;
	}
	(void)close_range(lo, ~0U, 0);
}

static int
background(struct cli *cli, const struct serve_args *a, int lockfd)
{
	char logpath[PATH_MAX], msg[AL_ERR_MSG_MAX + 2];
	struct al_err err;
	int pfd[2], devnull, logfd, status, keep[4], e;
	ssize_t n;
	pid_t pid;

	al_err_clear(&err);
	if (al_path_join(logpath, sizeof(logpath), cli->home,
	    API_LOG_FILE) != 0)
		return cli_failf("state path too long");
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return cli_failf("pipe: %s", strerror(errno));
	if ((pid = fork()) < 0)
		return cli_failf("fork: %s", strerror(errno));
	if (pid > 0) {
		/* The foreground process: wait for ready or an error. */
		(void)close(pfd[1]);
		(void)waitpid(pid, &status, 0);
		n = read(pfd[0], msg, sizeof(msg) - 1);
		(void)close(pfd[0]);
		if (n >= 1 && msg[0] == 'R')
			return CLI_EXIT_OK;
		if (n > 1 && msg[0] == 'E') {
			msg[n] = '\0';
			return cli_failf("%s", msg + 1);
		}
		return cli_failf("the broker exited before it was ready (see "
		    "%s)", logpath);
	}
	(void)close(pfd[0]);
	if (setsid() < 0 || (pid = fork()) < 0)
		_exit(2);
	if (pid > 0)
		_exit(0);
	/* The daemon: no terminal, no inherited descriptors, no cwd. */
	if (chdir("/") != 0)
		_exit(2);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	logfd = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (logfd < 0) {
		/*
		 * Said here, not "see airlockd.log": the log is what could
		 * not be opened, and a link there points somewhere else.
		 */
		e = errno;
		n = snprintf(msg, sizeof(msg), "Ecannot open the broker's log "
		    "%s: %s", logpath, e == ELOOP ? "it is a symbolic link, "
		    "and the broker follows no link for its log; remove it "
		    "and start the broker again" : strerror(e));
		if (n > 0)
			(void)!write(pfd[1], msg, (size_t)n <
			    sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
		_exit(2);
	}
	if (devnull < 0 || dup2(devnull, 0) < 0 ||
	    dup2(devnull, 1) < 0 || dup2(logfd, 2) < 0)
		_exit(2);
	keep[0] = lockfd;
	keep[1] = pfd[1];
	keep[2] = logfd;
	keep[3] = a->passfd;
	close_others(keep, a->passfd >= 0 ? 4 : 3);
	if (run_broker(cli, a, logfd, pfd[1], &err) != 0) {
		/* Before ready, the error goes to the waiting parent. */
		msg[0] = 'E';
		n = snprintf(msg + 1, sizeof(msg) - 1, "%s", err.msg[0] ?
		    err.msg : al_strerror(err.code));
		(void)!write(pfd[1], msg, (size_t)n + 1);
		al_msg(stderr, "error", "%s", msg + 1);
		_exit(2);
	}
	_exit(0);
}

int
cmd_serve(struct cli *cli, int argc, char **argv)
{
	struct serve_args a;
	struct al_err err;
	int c, lockfd = -1, rc;

	memset(&a, 0, sizeof(a));
	a.passfd = -1;
	al_err_clear(&err);
	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", serve_opts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:	a.socket = optarg; break;
		case OPT_FG:		a.foreground = 1; break;
		case OPT_GROUP:		a.group = optarg; break;
		case OPT_POLICY:	a.policy = optarg; break;
		case OPT_STOP:		a.stop = 1; break;
		case OPT_LOCKAFTER:
			if (al_parse_duration(optarg, "--lock-after",
			    &a.lock_after, &err) != 0)
				return cli_usage("serve", "%s", err.msg);
			break;
		case OPT_PASSFD:
			if (cli_parse_fd(optarg, "--passphrase-fd", &a.passfd,
			    &err) != 0)
				return cli_fail(&err);
			break;
		case 'h':
			fputs(cmd_serve_help, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option("serve", argc, argv, c);
		}
	}
	if (optind < argc)
		return cli_usage("serve", "unexpected argument '%s'",
		    argv[optind]);
	if (a.stop)
		return argc > 2 ? cli_usage("serve", "--stop takes no other "
		    "option") : cli_broker_stop(cli);
	if (al_fs_check_private(cli->home, 1, &err) != 0) {
		if (err.code == AL_ENOENT)
			return cli_failf("no vault at %s: run `airlock init`",
			    cli->home);
		return cli_fail(&err);
	}
	if ((rc = take_lock(cli, &lockfd, &err)) != 0)
		return cli_fail(&err);
	if (!a.foreground)
		return background(cli, &a, lockfd);
	rc = run_broker(cli, &a, STDERR_FILENO, -1, &err);
	(void)close(lockfd);
	return rc != 0 ? cli_fail(&err) : CLI_EXIT_OK;
}

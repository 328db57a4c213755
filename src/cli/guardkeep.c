/* The guards the broker runs (see guardkeep.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "airlock/client.h"
#include "cli.h"
#include "guardkeep.h"

#define FILE_MAX	(64 * 1024)
#define WORDS_MAX	16

extern char **environ;

static void keep_log(int fd, const char *fmt, ...) AL_PRINTF(2, 3);

/* A line in the broker's log (no value is ever among the arguments). */
static void
keep_log(int fd, const char *fmt, ...)
{
	va_list ap;

	if (fd < 0)
		return;
	va_start(ap, fmt);
	(void)vdprintf(fd, fmt, ap);
	va_end(ap);
}

/*
 * Read home's file into *out (NUL-terminated; NULL when there is none).
 * It names programs' options the broker will run: refused unless it is
 * this user's and no one else may write it.
 */
static int
read_file(const char *home, char *path, size_t pathsz, char **out,
    struct al_err *err)
{
	struct stat st;
	char *text = NULL;
	ssize_t n;
	size_t len = 0;
	int fd, rc = 0;

	*out = NULL;
	if (al_path_join(path, pathsz, home, GUARDKEEP_FILE) != 0)
		return al_err_set(err, AL_ETOOBIG, "state path too long");
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		return al_err_set(err, AL_ESYS, "cannot read %s: %s", path,
		    strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
		rc = al_err_set(err, AL_EPERM, "%s must be a file of this user "
		    "that no one else may write", path);
		goto out;
	}
	if ((text = malloc(FILE_MAX + 1)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	while ((n = read(fd, text + len, FILE_MAX - len)) > 0)
		len += (size_t)n;
	if (n < 0 || len == FILE_MAX) {
		rc = al_err_set(err, AL_EIO, "cannot read %s (or it is over "
		    "64 KiB)", path);
		goto out;
	}
	text[len] = '\0';
	*out = text;
	text = NULL;
out:
	free(text);
	(void)close(fd);
	return rc;
}

/*
 * Split line (modified) into words, up to a word that starts with '#' (a
 * comment); the count, or -1 when too many.
 */
static int
split(char *line, char **w, int max)
{
	char *save = NULL, *t;
	int n = 0;

	for (t = strtok_r(line, " \t\r", &save); t != NULL;
	    t = strtok_r(NULL, " \t\r", &save)) {
		if (*t == '#')
			break;		/* a comment to the end of the line */
		if (n == max)
			return -1;
		w[n++] = t;
	}
	return n;
}

/*
 * Start one guard: prepared here, then only async-signal-safe calls in the
 * child until exec.  Its parent-death signal ends it with this thread (the
 * broker's serving thread), however the broker ends.
 */
static pid_t
spawn(struct guard_keep *k, const char *self, char **argv, char **envp,
    int devnull)
{
	struct sigaction sa;
	sigset_t none;
	pid_t parent = getpid(), pid;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&none);
	if ((pid = fork()) != 0)
		return pid;
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(0);
	(void)sigaction(SIGPIPE, &sa, NULL);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 ||
	    dup2(k->log_fd >= 0 ? k->log_fd : devnull, 2) < 0)
		_exit(125);
	(void)close_range(3, ~0U, 0);
	execve(self, argv, envp);
	_exit(127);
}

/* Stop one guard: SIGTERM, then SIGKILL after 5 s; reaped. */
static void
stop_one(pid_t pid)
{
	int t;

	(void)kill(pid, SIGTERM);
	for (t = 0; t < 500; t++) {
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return;		/* reaped, or not ours */
		(void)poll(NULL, 0, 10);
	}
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
}

/*
 * The lines of the file that name a guard to run, into want[] (at most
 * GUARDKEEP_MAX); text is cut into lines.  Others are logged and left out.
 */
static size_t
wanted(struct guard_keep *k, const char *path, char *text, char **want)
{
	char *line, *nl, buf[GUARDKEEP_LINE], *w[WORDS_MAX];
	size_t n = 0;
	int nw, j, has_listen;

	for (line = text; line != NULL && *line != '\0'; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		if (line[strspn(line, " \t\r")] == '#' ||
		    line[strspn(line, " \t\r")] == '\0')
			continue;
		if (strlen(line) >= sizeof(buf)) {
			keep_log(k->log_fd, "airlock serve: %s: a line over "
			    "1 KiB is left out\n", path);
			continue;
		}
		memcpy(buf, line, strlen(line) + 1);
		if ((nw = split(buf, w, WORDS_MAX)) <= 0) {
			if (nw < 0)
				keep_log(k->log_fd, "airlock serve: %s: a line "
				    "with too many words is left out\n", path);
			continue;
		}
		for (has_listen = 0, j = 0; j < nw; j++)
			has_listen |= strcmp(w[j], "--listen") == 0 ||
			    strncmp(w[j], "--listen=", 9) == 0;
		if (!has_listen) {
			keep_log(k->log_fd, "airlock serve: %s: a guard "
			    "without --listen is left out (agents need an "
			    "address that stays)\n", path);
			continue;
		}
		if (n == GUARDKEEP_MAX) {
			keep_log(k->log_fd, "airlock serve: %s: at most 16 "
			    "guards; the rest are left out\n", path);
			break;
		}
		want[n++] = line;
	}
	return n;
}

/*
 * Make the guards running those of the file: a guard whose line is gone
 * (or changed), or that has exited, is stopped; a line with no guard gets
 * one.  A guard whose line is unchanged runs on, undisturbed.
 */
static void
keep_sync(struct guard_keep *k)
{
	struct al_err err;
	char path[PATH_MAX], self[PATH_MAX], *text = NULL, *want[GUARDKEEP_MAX];
	char *argv[WORDS_MAX + 3], **envp = NULL, *ehome = NULL, *esock = NULL;
	char buf[GUARDKEEP_LINE];
	size_t i, j, nw = 0, ne = 0;
	ssize_t n;
	int devnull = -1, words;
	pid_t pid;

	al_err_clear(&err);
	if (read_file(k->home, path, sizeof(path), &text, &err) != 0) {
		keep_log(k->log_fd, "airlock serve: guards left as they are: "
		    "%s\n", err.msg);
		return;
	}
	if (text != NULL)
		nw = wanted(k, path, text, want);
	for (i = 0; i < k->n;) {
		for (j = 0; j < nw; j++)
			if (strcmp(want[j], k->lines[i]) == 0)
				break;
		if (waitpid(k->pids[i], NULL, WNOHANG) == 0) {
			if (j < nw) {
				i++;
				continue;
			}
			stop_one(k->pids[i]);
		}
		/* Exited (reaped now) or stopped: forgotten. */
		k->n--;
		k->pids[i] = k->pids[k->n];
		memcpy(k->lines[i], k->lines[k->n], sizeof(k->lines[i]));
	}
	if (nw == 0)
		goto out;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	while (environ[ne] != NULL)
		ne++;
	/* The guards talk to this broker, whatever their caller's were. */
	if (n <= 0 || devnull < 0 ||
	    asprintf(&ehome, "AIRLOCK_HOME=%s", k->home) < 0 ||
	    asprintf(&esock, "AIRLOCK_SOCKET=%s", k->socket) < 0 ||
	    (envp = calloc(ne + 3, sizeof(*envp))) == NULL) {
		keep_log(k->log_fd, "airlock serve: no guard started: cannot "
		    "prepare them\n");
		goto out;
	}
	self[n] = '\0';
	envp[0] = ehome;
	envp[1] = esock;
	for (i = 0, ne = 2; environ[i] != NULL; i++)
		if (strncmp(environ[i], "AIRLOCK_HOME=", 13) != 0 &&
		    strncmp(environ[i], "AIRLOCK_SOCKET=", 15) != 0)
			envp[ne++] = environ[i];
	envp[ne] = NULL;
	for (j = 0; j < nw; j++) {
		for (i = 0; i < k->n; i++)
			if (strcmp(want[j], k->lines[i]) == 0)
				break;
		if (i < k->n || k->n == GUARDKEEP_MAX)
			continue;	/* running already */
		memcpy(buf, want[j], strlen(want[j]) + 1);
		argv[0] = self;
		argv[1] = "guard";
		words = split(buf, argv + 2, WORDS_MAX);
		argv[words + 2] = NULL;
		if ((pid = spawn(k, self, argv, envp, devnull)) < 0) {
			keep_log(k->log_fd, "airlock serve: cannot start a "
			    "guard: %s\n", strerror(errno));
			continue;
		}
		k->pids[k->n] = pid;
		memcpy(k->lines[k->n], want[j], strlen(want[j]) + 1);
		k->n++;
	}
out:
	if (devnull >= 0)
		(void)close(devnull);
	free(envp);
	free(ehome);
	free(esock);
	free(text);
}

void
guard_keep_start(void *arg)
{
	keep_sync(arg);
}

void
guard_keep_hup(void *arg)
{
	keep_sync(arg);
}

void
guard_keep_stop(struct guard_keep *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		(void)kill(k->pids[i], SIGTERM);
	for (i = 0; i < k->n; i++)
		stop_one(k->pids[i]);
	k->n = 0;
}

/* Replace home's file with text, atomically. */
static int
write_file(const char *path, const char *text, struct al_err *err)
{
	char tmp[PATH_MAX];
	int rc;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return al_err_set(err, AL_ETOOBIG, "state path too long");
	(void)unlink(tmp);
	if ((rc = al_fs_write_new(tmp, text, strlen(text), err)) != 0)
		return rc;
	if (rename(tmp, path) != 0) {
		rc = al_err_set(err, AL_ESYS, "cannot replace %s: %s", path,
		    strerror(errno));
		(void)unlink(tmp);
		return rc;
	}
	(void)al_fs_sync_dir_of(path);
	return 0;
}

/*
 * Whether line (without its newline) is one guard_keep_add wrote for agent
 * ("--listen X --upstream U # agent"); with agent NULL, any such line
 * whose upstream is upstream.
 */
static int
setup_line(const char *line, size_t len, const char *agent,
    const char *upstream)
{
	char buf[1024], *w[4], *hash;

	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, line, len);
	buf[len] = '\0';
	hash = strstr(buf, " # ");
	if (split(buf, w, 4) != 4 || strcmp(w[0], "--listen") != 0 ||
	    strcmp(w[2], "--upstream") != 0)
		return 0;
	if (agent == NULL)
		return strcmp(w[3], upstream) == 0;
	return hash != NULL && strcmp(hash + 3, agent) == 0;
}

/* Whether line names --listen addr (in any form). */
static int
listens_at(const char *line, size_t len, const char *addr)
{
	char buf[1024], *w[WORDS_MAX], eq[300];
	int n, i;

	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, line, len);
	buf[len] = '\0';
	(void)snprintf(eq, sizeof(eq), "--listen=%s", addr);
	if ((n = split(buf, w, WORDS_MAX)) <= 0)
		return 0;
	for (i = 0; i < n; i++)
		if ((strcmp(w[i], "--listen") == 0 && i + 1 < n &&
		    strcmp(w[i + 1], addr) == 0) || strcmp(w[i], eq) == 0)
			return 1;
	return 0;
}

int
guard_keep_add(const char *home, const char *agent, const char *listen,
    const char *upstream, int *added, struct al_err *err)
{
	char path[PATH_MAX], *text = NULL, *keep = NULL, *out = NULL, *o;
	const char *line, *nl;
	size_t len;
	int rc;

	*added = 0;
	if ((rc = read_file(home, path, sizeof(path), &text, err)) != 0)
		return rc;
	len = text != NULL ? strlen(text) : 0;
	if ((keep = malloc(len + 1)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	o = keep;
	for (line = text; line != NULL && *line != '\0'; line = nl) {
		nl = strchr(line, '\n');
		len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		nl = nl != NULL ? nl + 1 : line + len;
		if (line[strspn(line, " \t")] != '#' &&
		    listens_at(line, len, listen)) {
			if (setup_line(line, len, NULL, upstream))
				goto out;	/* already there */
			rc = al_err_set(err, AL_EEXIST, "%s already has a "
			    "guard listening on %s (%.*s); choose another "
			    "address, or edit that line", path, listen,
			    (int)(len > 200 ? 200 : len), line);
			goto out;
		}
		/* This agent's guard elsewhere: moved, not doubled. */
		if (setup_line(line, len, agent, NULL)) {
			continue;
		}
		memcpy(o, line, (size_t)(nl - line));
		o += nl - line;
	}
	*o = '\0';
	len = strlen(keep);
	if (asprintf(&out, "%s%s--listen %s --upstream %s # %s\n", keep,
	    len > 0 && keep[len - 1] != '\n' ? "\n" : "", listen, upstream,
	    agent) < 0) {
		out = NULL;
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = write_file(path, out, err)) == 0)
		*added = 1;
out:
	free(text);
	free(keep);
	free(out);
	return rc;
}

int
guard_keep_remove(const char *home, const char *agent, int *removed,
    struct al_err *err)
{
	char path[PATH_MAX], *text = NULL, *out = NULL, *o;
	const char *line, *nl;
	size_t len;
	int rc;

	*removed = 0;
	if ((rc = read_file(home, path, sizeof(path), &text, err)) != 0 ||
	    text == NULL)
		return rc;
	if ((out = malloc(strlen(text) + 1)) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	o = out;
	for (line = text; *line != '\0'; line = nl) {
		nl = strchr(line, '\n');
		len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		nl = nl != NULL ? nl + 1 : line + len;
		if (setup_line(line, len, agent, NULL)) {
			(*removed)++;
			continue;
		}
		memcpy(o, line, (size_t)(nl - line));
		o += nl - line;
	}
	*o = '\0';
	if (*removed > 0)
		rc = write_file(path, out, err);
out:
	free(text);
	free(out);
	return rc;
}

int
guard_keep_notify(struct cli *cli)
{
	/* No airlock_bin: a broker that does not run is not started. */
	struct client_opts o = { .home = cli->home,
	    .socket_path = getenv("AIRLOCK_SOCKET"), .timeout_ms = 5000 };
	struct client *cl = NULL;
	struct al_err err;
	json_t *h = NULL;
	json_int_t pid;
	int told = 0;

	al_err_clear(&err);
	if (client_open(&o, &cl, &err) != 0)
		return 0;
	/*
	 * The pid comes from the broker over its socket, not from a pid file
	 * that may be stale: the signal cannot reach another process.
	 */
	if (client_health(cl, &h, &err) == 0) {
		pid = json_integer_value(json_object_get(h, "pid"));
		told = pid > 1 && kill((pid_t)pid, SIGHUP) == 0;
	}
	json_decref(h);
	client_close(cl);
	return told;
}

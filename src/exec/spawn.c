/*
 * Everything the child needs is prepared here before the fork, so that the
 * child itself makes only async-signal-safe system calls between fork and
 * exec (no malloc, no stdio, no PATH search in execvp).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/exec.h"
#include "exec_int.h"

extern char **environ;

#define DEFAULT_PATH	"/usr/local/bin:/usr/bin:/bin"

/* What the child reports when it cannot exec. */
struct child_report {
	int	stage;
	int	err;
};

void
prep_init(struct exec_prep *p)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < EXEC_VARS_MAX; i++)
		p->memfd[i] = -1;
	p->child_fd[0] = p->child_fd[1] = p->child_fd[2] = -1;
	p->errpipe[0] = p->errpipe[1] = -1;
	p->statpipe[0] = p->statpipe[1] = -1;
	p->selfpidfd = -1;
	p->netns_fd = p->userns_fd = -1;
	p->base = 3;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
}

/* Close the descriptors meant for the child (the pty slave only once). */
static void
close_child_fds(struct exec_prep *p)
{
	size_t i, j;

	for (i = 0; i < 3; i++) {
		for (j = i + 1; j < 3; j++)
			if (p->child_fd[j] == p->child_fd[i])
				p->child_fd[j] = -1;
		close_fd(&p->child_fd[i]);
	}
	for (i = 0; i < p->nmemfd; i++)
		close_fd(&p->memfd[i]);
	close_fd(&p->errpipe[1]);
	close_fd(&p->statpipe[1]);
}

static void
wipe_env(struct exec_prep *p)
{
	if (p->senv != NULL)
		sodium_free(p->senv);	/* wipes */
	p->senv = NULL;
}

void
prep_release(struct exec_prep *p)
{
	close_child_fds(p);
	close_fd(&p->errpipe[0]);
	close_fd(&p->statpipe[0]);
	close_fd(&p->selfpidfd);
	close_fd(&p->netns_fd);
	close_fd(&p->userns_fd);
	wipe_env(p);
	free(p->path);
	free(p->sh_argv);
	free(p->envp);
	free(p->fenv);
	p->path = NULL;
	p->sh_argv = NULL;
	p->envp = NULL;
	p->fenv = NULL;
}

int
exec_var_name_ok(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0' || strlen(name) > EXEC_VAR_NAME_MAX)
		return 0;
	if (!(name[0] == '_' || (name[0] >= 'A' && name[0] <= 'Z') ||
	    (name[0] >= 'a' && name[0] <= 'z')))
		return 0;
	for (i = 1; name[i] != '\0'; i++) {
		char c = name[i];

		if (!(c == '_' || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

int
exec_binding_parse(const char *arg, const char *opt, struct exec_binding *out,
    struct al_err *err)
{
	const char *eq;
	size_t n;

	memset(out, 0, sizeof(*out));
	/*
	 * Only the variable's part of arg is ever quoted: what follows '='
	 * (or an arg without one) may be a value typed by mistake.
	 */
	if (arg == NULL || (eq = strchr(arg, '=')) == NULL)
		return al_err_set(err, AL_EINVAL, "%s expects VAR=SECRET "
		    "(a variable name, '=', a secret name)", opt);
	n = (size_t)(eq - arg);
	if (n == 0 || n > EXEC_VAR_NAME_MAX) {
		return al_err_set(err, AL_EINVAL, "%s VAR=SECRET: the variable "
		    "name must be 1 to %d characters", opt, EXEC_VAR_NAME_MAX);
	}
	memcpy(out->var, arg, n);
	out->var[n] = '\0';
	if (!exec_var_name_ok(out->var)) {
		memset(out, 0, sizeof(*out));
		return al_err_set(err, AL_EINVAL, "%s: '%.*s' is not a "
		    "valid variable name (letters, digits and '_', not "
		    "starting with a digit)", opt, (int)n, arg);
	}
	if (eq[1] == '\0') {
		memset(out, 0, sizeof(*out));
		return al_err_set(err, AL_EINVAL, "%s %.*s=: no secret name "
		    "after '='", opt, (int)n, arg);
	}
	out->secret = eq + 1;
	return 0;
}

/* Whether env entry e ("NAME=...") names the variable name. */
static int
env_is(const char *e, const char *name)
{
	size_t n = strlen(name);

	return strncmp(e, name, n) == 0 && e[n] == '=';
}

static int
injected(const struct exec_spec *spec, const char *e)
{
	size_t i;

	for (i = 0; i < spec->nvars; i++)
		if (env_is(e, spec->vars[i].name))
			return 1;
	return 0;
}

static int
check_vars(const struct exec_spec *spec, struct al_err *err)
{
	size_t i, j;

	if (spec->nvars > EXEC_VARS_MAX)
		return al_err_set(err, AL_EINVAL, "too many secrets for one "
		    "command (%zu, at most %d)", spec->nvars, EXEC_VARS_MAX);
	for (i = 0; i < spec->nvars; i++) {
		const struct exec_var *v = &spec->vars[i];

		if (!exec_var_name_ok(v->name))
			return al_err_set(err, AL_EINVAL, "'%s' is not a valid "
			    "variable name", v->name ? v->name : "");
		if (v->value == NULL || (v->kind != EXEC_VAR_ENV &&
		    v->kind != EXEC_VAR_FILE))
			return al_err_set(err, AL_EINVAL, "variable %s: no "
			    "value or unknown kind", v->name);
		for (j = 0; j < i; j++)
			if (strcmp(spec->vars[j].name, v->name) == 0)
				return al_err_set(err, AL_EINVAL, "variable %s "
				    "is given twice", v->name);
	}
	return 0;
}

/*
 * Find cmd as execvp would, but before the fork: PATH from the base
 * environment (an injected variable named PATH is a secret and is never
 * read for this).
 */
static int
resolve(struct exec_prep *p, const char *cmd, char *const *base,
    const struct exec_spec *spec, struct exec_result *res, struct al_err *err)
{
	const char *path = DEFAULT_PATH, *s, *e;
	char cand[PATH_MAX];
	struct stat st;
	int eacces = 0, n;
	size_t i;

	if (cmd[0] == '\0') {
		res->status = EXEC_STATUS_NOTFOUND;
		return al_err_set(err, AL_ENOENT, "cannot run '': command "
		    "not found");
	}
	if (strchr(cmd, '/') != NULL) {
		if ((p->path = strdup(cmd)) == NULL)
			return AL_ENOMEM;
		return 0;
	}
	for (i = 0; base[i] != NULL; i++)
		if (env_is(base[i], "PATH") && !injected(spec, base[i]))
			path = base[i] + 5;
	for (s = path;; s = e + 1) {
		e = strchrnul(s, ':');
		/* An empty element means the current directory. */
		if (e == s)
			n = snprintf(cand, sizeof(cand), "%s", cmd);
		else
			n = snprintf(cand, sizeof(cand), "%.*s/%s", (int)(e - s),
			    s, cmd);
		if (n > 0 && (size_t)n < sizeof(cand) &&
		    stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(cand, X_OK) == 0) {
				if ((p->path = strdup(cand)) == NULL)
					return AL_ENOMEM;
				return 0;
			}
			eacces = 1;
		}
		if (*e == '\0')
			break;
	}
	if (eacces) {
		res->status = EXEC_STATUS_NOEXEC;
		res->exec_errno = EACCES;
		return al_err_set(err, AL_EPERM, "cannot run '%s': %s", cmd,
		    strerror(EACCES));
	}
	res->status = EXEC_STATUS_NOTFOUND;
	res->exec_errno = ENOENT;
	return al_err_set(err, AL_ENOENT, "cannot run '%s': command not found",
	    cmd);
}

/* Write n bytes of a secret into a sealed memfd at offset 0. */
static int
make_memfd(const struct exec_var *v, int *out, struct al_err *err)
{
	const unsigned char *b;
	size_t n, off = 0;
	ssize_t w;
	int fd, rc = 0;

	*out = -1;
	fd = memfd_create("airlock", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return al_err_set(err, AL_ESYS, "cannot create an in-memory "
		    "file for %s: %s", v->name, strerror(errno));
	n = al_secret_len(v->value);
	b = al_secret_open(v->value);
	while (off < n) {
		w = write(fd, b + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = al_err_set(err, AL_ESYS, "cannot fill the in-memory "
			    "file for %s: %s", v->name, strerror(errno));
			break;
		}
		off += (size_t)w;
	}
	al_secret_close(v->value);
	if (rc == 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) != 0)
		rc = al_err_set(err, AL_ESYS, "cannot seal the in-memory file "
		    "for %s: %s", v->name, strerror(errno));
	if (rc == 0 && lseek(fd, 0, SEEK_SET) != 0)
		rc = al_err_set(err, AL_ESYS, "cannot rewind the in-memory "
		    "file for %s: %s", v->name, strerror(errno));
	if (rc != 0) {
		(void)close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

int
prep_fd_above(struct exec_prep *p, int *fd, struct al_err *err)
{
	int nfd;

	if (*fd >= p->base)
		return 0;
	if ((nfd = fcntl(*fd, F_DUPFD_CLOEXEC, p->base)) < 0)
		return al_err_set(err, AL_ESYS, "cannot duplicate a "
		    "descriptor: %s", strerror(errno));
	(void)close(*fd);
	*fd = nfd;
	return 0;
}

/* Build envp: base minus the injected names, then ours. */
static int
build_env(struct exec_prep *p, const struct exec_spec *spec,
    char *const *base, struct al_err *err)
{
	size_t nbase = 0, i, k = 0, need = 0, fneed = 0, off = 0, foff = 0;
	int rc = 0;

	for (nbase = 0; base[nbase] != NULL; nbase++)
		;
	for (i = 0; i < spec->nvars; i++) {
		const struct exec_var *v = &spec->vars[i];

		if (v->kind == EXEC_VAR_ENV)
			need += strlen(v->name) + 1 + al_secret_len(v->value) +
			    1;
		else
			fneed += strlen(v->name) + sizeof("=/dev/fd/") + 12;
	}
	p->envp = calloc(nbase + spec->nvars + 1, sizeof(char *));
	p->fenv = calloc(1, fneed + 1);
	if (p->envp == NULL || p->fenv == NULL)
		return AL_ENOMEM;
	if (need > 0) {
		if ((p->senv = sodium_malloc(need)) == NULL)
			return AL_ENOMEM;
		p->senv_cap = need;
	}
	for (i = 0; i < nbase; i++)
		if (!injected(spec, base[i]))
			p->envp[k++] = base[i];
	for (i = 0; i < spec->nvars; i++) {
		const struct exec_var *v = &spec->vars[i];
		size_t nl = strlen(v->name), vl = al_secret_len(v->value);
		const unsigned char *b;
		int n;

		if (v->kind == EXEC_VAR_FILE) {
			if ((rc = make_memfd(v, &p->memfd[p->nmemfd], err)) != 0)
				return rc;
			n = snprintf(p->fenv + foff, fneed + 1 - foff,
			    "%s=/dev/fd/%zu", v->name, 3 + p->nmemfd);
			assert(n > 0 && (size_t)n < fneed + 1 - foff);
			p->envp[k++] = p->fenv + foff;
			foff += (size_t)n + 1;
			p->nmemfd++;
			continue;
		}
		b = al_secret_open(v->value);
		if (memchr(b, '\0', vl) != NULL)
			rc = al_err_set(err, AL_EINVAL, "the value for %s "
			    "contains a NUL byte, which an environment variable "
			    "cannot hold (pass it as a file instead)", v->name);
		else {
			memcpy(p->senv + off, v->name, nl);
			p->senv[off + nl] = '=';
			memcpy(p->senv + off + nl + 1, b, vl);
			p->senv[off + nl + 1 + vl] = '\0';
			p->envp[k++] = (char *)p->senv + off;
			off += nl + vl + 2;
		}
		al_secret_close(v->value);
		if (rc != 0)
			return rc;
	}
	p->envp[k] = NULL;
	return 0;
}

int
prep_command(struct exec_prep *p, const struct exec_spec *spec,
    struct exec_result *res, struct al_err *err)
{
	char *const *base = spec->envp ? spec->envp : environ;
	struct rlimit rl;
	size_t argc, i;
	int rc;

	if (spec->argv == NULL || spec->argv[0] == NULL)
		return al_err_set(err, AL_EINVAL, "no command to run");
	if ((rc = check_vars(spec, err)) != 0)
		return rc;
	p->argv = (char **)spec->argv;
	p->cwd = spec->cwd;
	p->no_ns = (spec->flags & EXEC_NO_NAMESPACE) != 0;
	p->parent = getpid();
	/*
	 * 0-2, the memfds at 3.., the error pipe right after them, and the
	 * reaper's status pipe after that.
	 */
	for (i = 0; i < spec->nvars; i++)
		if (spec->vars[i].kind == EXEC_VAR_FILE)
			p->base++;
	p->base += 2;
	p->maxfd = 65536;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)INT_MAX)
		p->maxfd = (unsigned)rl.rlim_cur;
	if ((rc = resolve(p, spec->argv[0], base, spec, res, err)) != 0)
		return rc;
	for (argc = 0; spec->argv[argc] != NULL; argc++)
		;
	if ((p->sh_argv = calloc(argc + 2, sizeof(char *))) == NULL)
		return AL_ENOMEM;
	p->sh_argv[0] = (char *)"/bin/sh";
	p->sh_argv[1] = p->path;
	for (i = 1; i < argc; i++)
		p->sh_argv[i + 1] = spec->argv[i];
	if ((rc = build_env(p, spec, base, err)) != 0)
		return rc;
	for (i = 0; i < p->nmemfd; i++)
		if ((rc = prep_fd_above(p, &p->memfd[i], err)) != 0)
			return rc;
	/* Our own copies, above every descriptor the child sets up. */
	if ((spec->flags & EXEC_NETNS) && ((p->netns_fd = fcntl(spec->netns_fd,
	    F_DUPFD_CLOEXEC, p->base)) < 0 || (spec->userns_fd >= 0 &&
	    (p->userns_fd = fcntl(spec->userns_fd, F_DUPFD_CLOEXEC,
	    p->base)) < 0)))
		return al_err_set(err, AL_ESYS, "cannot duplicate a "
		    "namespace descriptor: %s", strerror(errno));
	if (pipe2(p->errpipe, O_CLOEXEC) != 0)
		return al_err_set(err, AL_ESYS, "cannot create a pipe: %s",
		    strerror(errno));
	if ((rc = prep_fd_above(p, &p->errpipe[0], err)) != 0 ||
	    (rc = prep_fd_above(p, &p->errpipe[1], err)) != 0)
		return rc;
	return 0;
}

void
child_fail(const struct exec_prep *p, int stage, int e)
{
	struct child_report r = { stage, e };
	int fd = 3 + (int)p->nmemfd;

	(void)!write(fd, &r, sizeof(r));
	if (stage == STAGE_EXEC)
		exec_raw_exit(e == ENOENT || e == ENOTDIR ?
		    EXEC_STATUS_NOTFOUND : EXEC_STATUS_NOEXEC);
	exec_raw_exit(EXEC_STATUS_FAIL);
}

/*
 * Async-signal-safe system calls only from here to the exec.  Every source
 * descriptor is >= p->base, above every target, so the dup2 calls cannot
 * clobber each other and each clears close-on-exec.
 */
void
child_fds(struct exec_prep *p, int keep)
{
	struct sigaction sa;
	sigset_t none;
	unsigned first;
	int sig, i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	/* The report pipe first, so every later failure can be told. */
	if (dup3(p->errpipe[1], 3 + (int)p->nmemfd, O_CLOEXEC) < 0)
		exec_raw_exit(EXEC_STATUS_FAIL);
	/*
	 * run --proxy: the network namespace whose only way out is the
	 * proxy (and its user namespace when not root), joined here, before
	 * anything else of the command's is set up.  In the PID namespace
	 * this runs in the reaper, so the command inherits it.
	 */
	if (p->userns_fd >= 0 && setns(p->userns_fd, CLONE_NEWUSER) != 0)
		child_fail(p, STAGE_SETUP, errno);
	if (p->netns_fd >= 0 && setns(p->netns_fd, CLONE_NEWNET) != 0)
		child_fail(p, STAGE_SETUP, errno);
	for (i = 0; i < 3; i++)
		if (dup2(p->child_fd[i], i) < 0)
			child_fail(p, STAGE_SETUP, errno);
	for (i = 0; i < (int)p->nmemfd; i++)
		if (dup2(p->memfd[i], 3 + i) < 0)
			child_fail(p, STAGE_SETUP, errno);
	first = 3 + (unsigned)p->nmemfd + 1;
	if (keep >= 0) {
		/* Every source has been copied: nothing needed is clobbered. */
		if (keep != (int)first && dup3(keep, (int)first, O_CLOEXEC) < 0)
			child_fail(p, STAGE_SETUP, errno);
		first++;
	}
	if (close_range(first, ~0U, 0) != 0) {
		for (i = (int)first; i < (int)p->maxfd; i++)
			(void)close(i);
	}
}

void
child_exec(const struct exec_prep *p)
{
	if (setsid() < 0)
		child_fail(p, STAGE_SETUP, errno);
	if (p->pty && ioctl(1, TIOCSCTTY, 0) != 0)
		child_fail(p, STAGE_SETUP, errno);
	/* If our parent dies, we die too (we hold the values). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		child_fail(p, STAGE_SETUP, errno);
	if (getppid() != p->parent)
		exec_raw_exit(EXEC_STATUS_FAIL);
	if (p->cwd != NULL && chdir(p->cwd) != 0)
		child_fail(p, STAGE_CHDIR, errno);
	(void)execve(p->path, p->argv, p->envp);
	if (errno == ENOEXEC)
		(void)execve("/bin/sh", p->sh_argv, p->envp);
	child_fail(p, STAGE_EXEC, errno);
}

int
prep_spawn(struct exec_prep *p, struct exec_result *res, pid_t *pidp,
    struct al_err *err)
{
	struct child_report r;
	size_t got = 0;
	ssize_t n;
	pid_t pid;
	int ws;

	*pidp = 0;
	res->isolation = EXEC_ISOLATION_PIDNS;
	pid = -1;
	if (p->no_ns)
		errno = 0;
	else if (p->userns_fd >= 0) {
		/*
		 * run --proxy as a user other than root: the network namespace
		 * belongs to a user namespace of its own, which a reaper in a
		 * new user namespace of ours could not join.  The proxy keeps
		 * the values; the command holds placeholders only.
		 */
		errno = EXDEV;
	} else if (iso_prepare(p) == 0) {
		int v;

		pid = iso_clone(p);
		if (pid > 0 && (v = iso_verdict(p, pid)) != 0) {
			pid = -1;
			errno = v;
		}
	} else
		errno = ENOSYS;
	if (pid < 0) {
		/* No namespaces here: the command is our child. */
		res->isolation = EXEC_ISOLATION_SUBREAPER;
		res->ns_errno = errno;
		p->ns = 0;
		pid = fork();
		if (pid == 0) {
			child_fds(p, -1);
			child_exec(p);
		}
	}
	if (pid < 0) {
		wipe_env(p);
		res->isolation = EXEC_ISOLATION_NONE;
		return al_err_set(err, AL_ESYS, "cannot start '%s': fork: %s",
		    p->argv[0], strerror(errno));
	}
	/* The child has its own copy; ours goes now. */
	wipe_env(p);
	close_child_fds(p);
	close_fd(&p->selfpidfd);
	while (got < sizeof(r)) {
		n = read(p->errpipe[0], (char *)&r + got, sizeof(r) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close_fd(&p->errpipe[0]);
	if (got == 0) {
		*pidp = pid;
		res->pid = pid;
		if (p->ns) {
			/* Ours is the reaper; the command is its child. */
			pid_t cmd = iso_find_command(pid);

			if (cmd > 0)
				res->pid = cmd;
		}
		return 0;
	}
	/* The child failed before exec and exits at once: reap it. */
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	if (got != sizeof(r)) {
		res->status = EXEC_STATUS_FAIL;
		return al_err_set(err, AL_ESYS, "cannot start '%s': the child "
		    "failed before exec", p->argv[0]);
	}
	res->exec_errno = r.err;
	switch (r.stage) {
	case STAGE_CHDIR:
		res->status = EXEC_STATUS_FAIL;
		return al_err_set(err, AL_ENOENT, "cannot change directory to "
		    "'%s': %s", p->cwd, strerror(r.err));
	case STAGE_EXEC:
		if (r.err == ENOENT || r.err == ENOTDIR) {
			res->status = EXEC_STATUS_NOTFOUND;
			return al_err_set(err, AL_ENOENT, "cannot run '%s': %s",
			    p->argv[0], strerror(r.err));
		}
		res->status = EXEC_STATUS_NOEXEC;
		return al_err_set(err, AL_EPERM, "cannot run '%s': %s",
		    p->argv[0], strerror(r.err));
	default:
		res->status = EXEC_STATUS_FAIL;
		return al_err_set(err, AL_ESYS, "cannot start '%s': %s",
		    p->argv[0], strerror(r.err));
	}
}

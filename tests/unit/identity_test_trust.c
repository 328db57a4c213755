/*
 * When the broker must not believe what /proc shows: an executable run
 * with the loader told to load more, traced, or mapping code its user can
 * change; a process that called exec since it was identified; a process
 * moved to init away from the agent that started it; and supplementary
 * groups.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "airlock/identity.h"
#include "identity_test.h"

#define NOBODY	65534

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

static int
has_sel(const struct ident *id, const char *prefix)
{
	size_t i;

	for (i = 0; i < id->nselectors; i++)
		if (strncmp(id->selectors[i], prefix, strlen(prefix)) == 0)
			return 1;
	return 0;
}

/* Start path (argv: path, "5") with one extra environment entry. */
static pid_t
spawn_env(const char *path, const char *envvar)
{
	char *argv[] = { (char *)path, "5", NULL };
	char *envp[] = { (char *)envvar, NULL };
	char exe[PATH_MAX];
	ssize_t n;
	pid_t pid;
	int i;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		(void)dup2(fd, 2);	/* ld.so complains of a missing lib */
		execve(path, argv, envvar ? envp : envp + 1);
		_exit(127);
	}
	/* Wait for the exec. */
	for (i = 0; i < 200; i++) {
		char link[64];

		(void)snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
		n = readlink(link, exe, sizeof(exe) - 1);
		if (n > 0) {
			exe[n] = '\0';
			if (strstr(exe, "sleep") != NULL)
				return pid;
		}
		nap_ms(5);
	}
	fail_msg("%s did not start", path);
	return -1;
}

static void
reap(pid_t pid)
{
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
}

static const char *
sleep_path(void)
{
	return access("/usr/bin/sleep", X_OK) == 0 ? "/usr/bin/sleep" :
	    "/bin/sleep";
}

/*
 * Run check in a child, as a user's process (nobody when run as root,
 * dumpable again after setuid as a user's process is): its exit status is
 * the test's verdict, 0 passes, 77 skips.
 */
static void
as_user(int (*check)(void))
{
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (geteuid() == 0 && (setgroups(0, NULL) != 0 ||
		    setgid(NOBODY) != 0 || setuid(NOBODY) != 0))
			_exit(9);
		(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		_exit(check());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * A child that runs sleep (argv: path, "5") once the write end of its
 * pipe, *cue, is closed: its pid.
 */
static pid_t
spawn_exec_on_cue(int *cue)
{
	char buf[1];
	int go[2];
	pid_t pid;

	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *argv[] = { (char *)sleep_path(), "5", NULL };

		close(go[1]);
		if (read(go[0], buf, 1) < 0)
			_exit(1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(go[0]);
	*cue = go[1];
	return pid;
}

/* Close cue, and wait (1 s at most) until ident_same sees the exec. */
static void
cue_exec(int cue, struct ident *id, struct al_err *err)
{
	int i;

	close(cue);
	for (i = 0; i < 200; i++) {
		if (ident_same(id, err) != 0)
			break;
		nap_ms(5);
	}
	assert_int_equal(err->code, AL_EPERM);
}

void
test_ident_loader_variables_make_the_exe_untrusted(void **state)
{
	static const char *const vars[] = { "LD_PRELOAD=/nonexistent/alid.so",
	    "LD_AUDIT=/nonexistent/alid.so", "LD_LIBRARY_PATH=/nonexistent",
	    NULL };
	struct ident *id = NULL;
	size_t i;
	pid_t pid;

	(void)state;
	/* Control: the same program without them is what it says. */
	pid = spawn_env(sleep_path(), "LC_ALL=C");
	assert_int_equal(ident_from_pid(pid, NULL, 0, &id, NULL), 0);
	reap(pid);
	if (id->exe_untrusted && geteuid() != 0)
		skip();		/* this user can change its own libraries */
	assert_int_equal(id->exe_untrusted, 0);
	assert_true(has_sel(id, "unix:exe:"));
	assert_false(ident_has_unknown(id, "unix:exe"));
	ident_free(id);
	for (i = 0; vars[i] != NULL; i++) {
		pid = spawn_env(sleep_path(), vars[i]);
		assert_int_equal(ident_from_pid(pid, NULL, 0, &id, NULL), 0);
		reap(pid);
		assert_int_equal(id->exe_untrusted, 1);
		assert_non_null(strstr(id->exe_untrusted_why, "started with"));
		assert_non_null(strstr(id->exe_untrusted_why,
		    strchr(vars[i], '=') == NULL ? "" : "LD_"));
		assert_non_null(id->exe);	/* recorded, not believed */
		assert_false(has_sel(id, "unix:exe:"));
		assert_false(has_sel(id, "unix:sha256:"));
		assert_true(ident_has_unknown(id, "unix:exe"));
		assert_true(ident_has_unknown(id, "unix:sha256"));
		ident_free(id);
	}
}

void
test_ident_traced_process_exe_untrusted(void **state)
{
	struct ident *id = NULL;
	char want[64];
	pid_t pid;

	(void)state;
	pid = spawn_env(sleep_path(), "LC_ALL=C");
	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) != 0) {
		reap(pid);
		skip();		/* no ptrace here (Yama, seccomp) */
	}
	assert_int_equal(ident_from_pid(pid, NULL, 0, &id, NULL), 0);
	(void)snprintf(want, sizeof(want), "traced by process %d",
	    (int)getpid());
	assert_string_equal(id->exe_untrusted_why, want);
	assert_false(has_sel(id, "unix:exe:"));
	ident_free(id);
	(void)ptrace(PTRACE_DETACH, pid, NULL, NULL);
	reap(pid);
}

/* As an unprivileged user: map code from a file it owns; 0 if seen. */
static int
writable_code_seen(void)
{
	char dir[] = "/tmp/alid-ident.XXXXXX", path[64];
	struct ident *id = NULL;
	void *m;
	int fd, rc = 0;

	if (mkdtemp(dir) == NULL)
		return 20;
	(void)snprintf(path, sizeof(path), "%s/code", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0700)) < 0 ||
	    ftruncate(fd, 4096) != 0)
		return 21;
	m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		rc = 77;	/* a noexec /tmp: nothing to see */
	else if (ident_from_pid(getpid(), NULL, 0, &id, NULL) != 0)
		rc = 22;
	else if (!id->exe_untrusted || strstr(id->exe_untrusted_why,
	    path) == NULL || has_sel(id, "unix:exe:"))
		rc = 23;
	ident_free(id);
	if (m != MAP_FAILED)
		(void)munmap(m, 4096);
	(void)close(fd);
	(void)unlink(path);
	(void)rmdir(dir);
	return rc;
}

void
test_ident_code_the_user_can_change_makes_the_exe_untrusted(void **state)
{
	(void)state;
	as_user(writable_code_seen);
}

void
test_ident_refresh_refuses_a_process_that_called_exec(void **state)
{
	struct ident *id = NULL, *again = NULL;
	struct al_err err;
	char want[96];
	int cue;
	pid_t pid;

	(void)state;
	pid = spawn_exec_on_cue(&cue);
	assert_int_equal(ident_from_pid(pid, NULL, 0, &id, NULL), 0);
	assert_int_equal(ident_refresh(id, NULL, 0, &again, &err), 0);
	assert_string_equal(again->exe, id->exe);
	ident_free(again);
	assert_int_equal(ident_same(id, &err), 0);
	cue_exec(cue, id, &err);
	assert_int_equal(ident_refresh(id, NULL, 0, &again, &err), AL_EPERM);
	assert_null(again);
	assert_int_equal(err.code, AL_EPERM);
	(void)snprintf(want, sizeof(want), "process %d started another "
	    "program since it connected: reconnect", (int)pid);
	assert_string_equal(err.msg, want);
	reap(pid);
	assert_int_equal(ident_refresh(id, NULL, 0, &again, &err), AL_ENOENT);
	ident_free(id);
}

/*
 * A held identity keeps its exe link open from the first refresh on, and
 * reads it through that descriptor: an exec after that is still seen, by
 * ident_same and by ident_refresh alike, and the link goes to the new
 * view with the /proc entry.
 */
void
test_ident_held_exe_link_sees_an_exec(void **state)
{
	struct ident *id = NULL, *again = NULL;
	struct al_err err;
	int cue, fd;
	pid_t pid;

	(void)state;
	pid = spawn_exec_on_cue(&cue);
	assert_int_equal(ident_from_pid(pid, NULL, IDENT_F_NO_HASH, &id, NULL),
	    0);
	assert_true(id->proc_fd >= 0);
	assert_int_equal(id->exe_fd, -1);
	assert_int_equal(ident_refresh(id, NULL, IDENT_F_NO_HASH, &again,
	    &err), 0);
	assert_true(again->exe_fd >= 0);
	assert_int_equal(id->exe_fd, -1);
	assert_string_equal(again->exe, id->exe);
	ident_free(id);
	id = again;
	fd = id->exe_fd;
	assert_int_equal(ident_same(id, &err), 0);
	assert_int_equal(ident_refresh(id, NULL, IDENT_F_NO_HASH, &again,
	    &err), 0);
	assert_int_equal(again->exe_fd, fd);	/* the same link, kept */
	ident_free(id);
	id = again;
	cue_exec(cue, id, &err);
	assert_int_equal(id->exe_fd, fd);	/* read through the link */
	assert_int_equal(ident_refresh(id, NULL, IDENT_F_NO_HASH, &again,
	    &err), AL_EPERM);
	assert_null(again);
	reap(pid);
	assert_int_equal(ident_same(id, &err), AL_ENOENT);
	ident_free(id);
	assert_int_equal(fcntl(fd, F_GETFD), -1);	/* closed with it */
}

/*
 * The /proc entry held since identification: refresh reads the process
 * through it and hands it, with the status file it opened, to the new
 * view; the kept status file is written afresh at each read (a new session
 * taken after it was first read is seen); once the process has exited and
 * been reaped, both checks say it is gone, not that it runs another
 * program.
 */
void
test_ident_held_proc_entry_follows_the_process(void **state)
{
	struct ident *id = NULL, *again = NULL;
	struct al_err err;
	char buf[1];
	int go[2], done[2];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		close(done[0]);
		if (read(go[0], buf, 1) != 1 || setsid() < 0 ||
		    write(done[1], "s", 1) != 1)
			_exit(1);
		if (read(go[0], buf, 1) < 0)	/* until the parent closes */
			_exit(1);
		_exit(0);
	}
	close(go[0]);
	close(done[1]);
	assert_int_equal(ident_from_pid(pid, NULL, IDENT_F_NO_HASH, &id, NULL),
	    0);
	assert_true(id->proc_fd >= 0);
	assert_true(id->session != pid);
	assert_int_equal(ident_refresh(id, NULL, IDENT_F_NO_HASH, &again,
	    &err), 0);
	assert_int_equal(again->session, id->session);
	assert_true(again->proc_fd >= 0);
	assert_true(again->status_fd >= 0);
	assert_true(again->cgroup_fd >= 0 || again->cgroup == NULL);
	assert_int_equal(again->cgroup == NULL, id->cgroup == NULL);
	if (id->cgroup != NULL)
		assert_string_equal(again->cgroup, id->cgroup);
	assert_int_equal(id->proc_fd, -1);
	assert_int_equal(id->status_fd, -1);
	assert_int_equal(id->cgroup_fd, -1);
	ident_free(id);
	id = again;
	/* A new session, read through the status file kept open. */
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(read(done[0], buf, 1), 1);
	assert_int_equal(ident_same(id, &err), 0);
	assert_int_equal(ident_refresh(id, NULL, IDENT_F_NO_HASH, &again,
	    &err), 0);
	assert_int_equal(again->session, pid);
	assert_int_equal(again->cgroup == NULL, id->cgroup == NULL);
	if (id->cgroup != NULL)
		assert_string_equal(again->cgroup, id->cgroup);
	ident_free(id);
	id = again;
	close(go[1]);
	reap(pid);
	assert_int_equal(ident_same(id, &err), AL_ENOENT);
	assert_int_equal(ident_refresh(id, NULL, 0, &again, &err), AL_ENOENT);
	assert_null(again);
	ident_free(id);
	close(done[0]);
}

/*
 * As an unprivileged user: a child, then a grandchild moved to init (its
 * parent exits at once), optionally in a session of its own (setsid -f).
 * 0 when the child's ancestry is known and the grandchild's is not; 77
 * when this environment does not allow the comparison.
 */
static int
reparented_seen(int new_session)
{
	struct ident *id = NULL;
	int p[2], rc = 0;
	pid_t a, b = 0, parent;

	if (pipe(p) != 0)
		return 30;
	if ((a = fork()) < 0)
		return 31;
	if (a == 0) {
		parent = getpid();
		if (fork() == 0) {
			if (new_session)
				(void)setsid();
			close(p[0]);
			while (getppid() == parent)
				nap_ms(1);	/* moved once it exits */
			b = getpid();
			if (write(p[1], &b, sizeof(b)) != (ssize_t)sizeof(b))
				_exit(1);
			close(p[1]);
			pause();
			_exit(0);
		}
		_exit(0);
	}
	close(p[1]);
	(void)waitpid(a, NULL, 0);
	if (read(p[0], &b, sizeof(b)) != (ssize_t)sizeof(b))
		return 32;
	close(p[0]);
	/* Control: this process's own ancestry is known. */
	if (ident_from_pid(getpid(), NULL, 0, &id, NULL) != 0)
		rc = 33;
	else if (id->ancestry_unknown)
		rc = 77;	/* the test itself runs re-parented */
	ident_free(id);
	id = NULL;
	if (rc == 0 && ident_from_pid(b, NULL, 0, &id, NULL) != 0)
		rc = 34;
	else if (rc == 0 && id->nancestors > 0 &&
	    id->ancestors[0].pid != 1)
		rc = 77;	/* a subreaper took it: nothing to compare */
	else if (rc == 0 && (!id->ancestry_unknown ||
	    !ident_has_unknown(id, "unix:ancestor-exe") ||
	    strstr(id->ancestry_why, "moved") == NULL))
		rc = 35;
	ident_free(id);
	(void)kill(b, SIGKILL);
	return rc;
}

static int
reparented_seen_same_session(void)
{
	return reparented_seen(0);
}

static int
reparented_seen_new_session(void)
{
	return reparented_seen(1);
}

void
test_ident_reparented_process_has_unknown_ancestry(void **state)
{
	(void)state;
	as_user(reparented_seen_same_session);
	as_user(reparented_seen_new_session);
}

void
test_ident_supplementary_groups_are_selectors(void **state)
{
	gid_t groups[] = { 4242, 4343 };
	struct ident *id = NULL;
	int p[2];
	char buf[1];
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip();		/* setgroups needs root */
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(2, groups) != 0 || setgid(4141) != 0)
			_exit(9);
		close(p[0]);
		close(p[1]);
		pause();
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], buf, 1), 0);
	close(p[0]);
	assert_int_equal(ident_from_pid(pid, NULL, 0, &id, NULL), 0);
	reap(pid);
	assert_int_equal(id->gid, 4141);
	assert_int_equal(id->ngroups, 2);
	assert_true(ident_has_selector(id, "unix:gid:4141"));
	assert_true(ident_has_selector(id, "unix:gid:4242"));
	assert_true(ident_has_selector(id, "unix:gid:4343"));
	ident_free(id);
}

/* As an unprivileged user: a forked child holding our peer's end. */
static int
shared_connection_seen(void)
{
	struct al_err err;
	size_t unseen;
	pid_t other, pid;
	int sv[2], go[2], rc = 0;
	char buf[1];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || pipe(go) != 0)
		return 40;
	if (ident_conn_holders(sv[0], getpid(), geteuid(), &other, &unseen,
	    &err) == AL_ESYS)
		return 77;	/* no sock_diag here */
	/* Alone: only this process holds sv[1]. */
	if (ident_conn_holders(sv[0], getpid(), geteuid(), &other, &unseen,
	    &err) != 0 || other != 0)
		return 41;
	if ((pid = fork()) < 0)
		return 42;
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], buf, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(go[0]);
	if (ident_conn_holders(sv[0], getpid(), geteuid(), &other, &unseen,
	    &err) != AL_EPERM || other != pid ||
	    strstr(err.msg, "also holds this connection") == NULL)
		rc = 43;
	/* The child alone: the peer no longer holds what it opened. */
	close(sv[1]);
	if (rc == 0 && ident_conn_holders(sv[0], getpid(), geteuid(), &other,
	    &unseen, &err) != AL_EPERM)
		rc = 44;
	close(go[1]);
	(void)waitpid(pid, NULL, 0);
	close(sv[0]);
	return rc;
}

void
test_ident_conn_holders_names_a_process_sharing_the_connection(
    void **state)
{
	(void)state;
	as_user(shared_connection_seen);
}

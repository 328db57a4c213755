/*
 * The ancestors an identity cache holds open: walking again through them
 * gives what a fresh walk gives, and an ancestor that calls exec or exits
 * is read afresh.  The names it keeps follow the name files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "airlock/identity.h"
#include "identity_test.h"

/* The effective gid of process pid, or (gid_t)-1. */
static gid_t
gid_of(pid_t pid)
{
	char path[64], line[256];
	unsigned long r, e;
	gid_t g = (gid_t)-1;
	FILE *f;

	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return g;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Gid: %lu %lu", &r, &e) == 2)
			g = (gid_t)e;
	(void)fclose(f);
	return g;
}

/* Whether this process holds a descriptor of /proc/PID. */
static int
holds_proc_path(const char *want)
{
	char path[300], link[64];
	struct dirent *de;
	DIR *d;
	ssize_t n;
	int found = 0;

	assert_non_null(d = opendir("/proc/self/fd"));
	while (!found && (de = readdir(d)) != NULL) {
		(void)snprintf(path, sizeof(path), "/proc/self/fd/%s",
		    de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = strcmp(link, want) == 0;
	}
	(void)closedir(d);
	return found;
}

static int
holds_proc_dir(pid_t pid)
{
	char want[32];

	(void)snprintf(want, sizeof(want), "/proc/%d", (int)pid);
	return holds_proc_path(want);
}

/* Whether this process holds pid's exe link itself open (O_PATH). */
static int
holds_exe_link(pid_t pid)
{
	char want[32];

	(void)snprintf(want, sizeof(want), "/proc/%d/exe", (int)pid);
	return holds_proc_path(want);
}

/* The exe link of pid, or "" when it cannot be read. */
static void
exe_of(pid_t pid, char out[PATH_MAX])
{
	char path[64];
	ssize_t n;

	(void)snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, out, PATH_MAX - 1);
	out[n > 0 ? n : 0] = '\0';
}

/* Parent pid of pid from its stat (the command name has no ')'). */
static pid_t
ppid_of(pid_t pid)
{
	char path[64], buf[512], *p;
	int fd, ppid = -1;
	ssize_t n;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/* A child leaves ctest's output: a failed test must not wait for it. */
static void
leave_output(void)
{
	int fd = open("/dev/null", O_WRONLY);

	if (fd >= 0) {
		(void)dup2(fd, 1);
		(void)dup2(fd, 2);
		close(fd);
	}
	alarm(60);	/* and never outlives the test for long */
}

static void
pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

/*
 * The same chain of parents (pids, executables, and the users read for
 * init and its child) in a and b.
 */
static void
assert_same_chain(const struct ident *a, const struct ident *b)
{
	size_t i;

	assert_int_equal(a->nancestors, b->nancestors);
	assert_int_equal(a->ancestry_unknown, b->ancestry_unknown);
	for (i = 0; i < a->nancestors; i++) {
		assert_int_equal(a->ancestors[i].pid, b->ancestors[i].pid);
		assert_int_equal(a->ancestors[i].uid, b->ancestors[i].uid);
		assert_int_equal(a->ancestors[i].same_user,
		    b->ancestors[i].same_user);
		assert_int_equal(a->ancestors[i].exe == NULL,
		    b->ancestors[i].exe == NULL);
		if (a->ancestors[i].exe != NULL)
			assert_string_equal(a->ancestors[i].exe,
			    b->ancestors[i].exe);
	}
}

/*
 * M starts A, which starts B (copies of this program; B is the caller).
 * B's identity through a cache is the one without; with A and M held open
 * (their exe links too), A's exec of /bin/sleep shows at the next walk,
 * and so does M's exit (A is moved to a new parent while B keeps A).
 */
void
test_ident_cache_ancestor_exec_or_exit_is_walked_again(void **state)
{
	struct ident_cache *cache = NULL;
	struct ident *id = NULL, *plain = NULL;
	char exe[PATH_MAX], sleep_exe[PATH_MAX], now[PATH_MAX], c;
	int go[2], rep[2], i, status;
	pid_t m, a = -1, b = -1, ab[2];

	(void)state;
	exe_of(getpid(), exe);
	assert_non_null(realpath("/bin/sleep", sleep_exe));
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	assert_int_equal(pipe(rep), 0);
	m = fork();
	assert_true(m >= 0);
	if (m == 0) {
		leave_output();
		if ((a = fork()) < 0)
			_exit(97);
		if (a != 0)
			for (;;)
				pause();
		leave_output();
		close(rep[0]);
		close(go[1]);
		if ((b = fork()) < 0)
			_exit(97);
		if (b == 0) {
			leave_output();
			close(go[0]);
			close(rep[1]);
			for (;;)
				pause();
		}
		ab[0] = getpid();
		ab[1] = b;
		if (write(rep[1], ab, sizeof(ab)) != (ssize_t)sizeof(ab))
			_exit(96);
		close(rep[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(95);
		execl("/bin/sleep", "sleep", "60", (char *)NULL);
		_exit(98);
	}
	close(go[0]);
	close(rep[1]);
	assert_int_equal(read(rep[0], ab, sizeof(ab)), (ssize_t)sizeof(ab));
	close(rep[0]);
	a = ab[0];
	b = ab[1];
	assert_int_equal(ident_cache_new(8, &cache), 0);

	/* Walked afresh, then through the held ancestors: the same. */
	assert_int_equal(ident_from_pid(b, NULL, 0, &plain, NULL), 0);
	assert_int_equal(ident_from_pid(b, cache, 0, &id, NULL), 0);
	assert_same_chain(plain, id);
	ident_free(id);
	id = NULL;
	/* Held: A, M, and this process (init's child too). */
	assert_true(holds_proc_dir(a));
	assert_true(holds_proc_dir(m));
	assert_true(holds_proc_dir(getpid()));
	/* And their exe links, read again through those (not by name). */
	assert_true(holds_exe_link(a));
	assert_true(holds_exe_link(m));
	assert_int_equal(ident_from_pid(b, cache, 0, &id, NULL), 0);
	assert_same_chain(plain, id);
	assert_true(id->nancestors >= 3);
	assert_int_equal(id->ancestors[0].pid, a);
	assert_string_equal(id->ancestors[0].exe, exe);
	assert_int_equal(id->ancestors[1].pid, m);
	assert_int_equal(id->ancestors[2].pid, getpid());
	ident_free(id);
	id = NULL;
	ident_free(plain);
	plain = NULL;

	/* A calls exec: the walk reads it again. */
	assert_int_equal(write(go[1], "x", 1), 1);
	close(go[1]);
	for (i = 0; i < 500; i++) {
		exe_of(a, now);
		if (strcmp(now, sleep_exe) == 0)
			break;
		pause_ms(10);
	}
	assert_string_equal(now, sleep_exe);
	assert_int_equal(ident_from_pid(b, cache, 0, &id, NULL), 0);
	assert_int_equal(id->ancestors[0].pid, a);
	assert_string_equal(id->ancestors[0].exe, sleep_exe);
	assert_int_equal(ident_from_pid(b, NULL, 0, &plain, NULL), 0);
	assert_same_chain(plain, id);
	ident_free(id);
	id = NULL;
	ident_free(plain);
	plain = NULL;

	/* M exits: A has another parent, and the walk from B says so. */
	kill(m, SIGKILL);
	assert_int_equal(waitpid(m, &status, 0), m);
	for (i = 0; i < 500 && ppid_of(a) == m; i++)
		pause_ms(10);
	assert_true(ppid_of(a) != m);
	assert_int_equal(ident_from_pid(b, cache, 0, &id, NULL), 0);
	assert_int_equal(id->ancestors[0].pid, a);
	assert_true(id->nancestors == 1 || id->ancestors[1].pid != m);
	assert_int_equal(ident_from_pid(b, NULL, 0, &plain, NULL), 0);
	assert_same_chain(plain, id);
	ident_free(id);
	ident_free(plain);

	/* The cache's descriptors go with it. */
	ident_cache_free(cache);
	assert_false(holds_proc_dir(a));
	assert_false(holds_proc_dir(getpid()));
	assert_false(holds_exe_link(a));
	kill(b, SIGKILL);
	kill(a, SIGKILL);
}

/*
 * Names kept by the cache follow /etc/group: a group renamed there is
 * named anew at the next identification through the same cache, at once
 * (not after the names' second).  As root, with a group of its own.
 */
void
test_ident_cache_sees_a_renamed_group(void **state)
{
	struct ident_cache *cache = NULL;
	struct ident *id = NULL;
	char cmd[160], g1[40], g2[40], sel[64];
	struct group *gr;
	gid_t gid;
	pid_t pid;
	int ok;

	(void)state;
	if (geteuid() != 0 || access("/usr/sbin/groupmod", X_OK) != 0)
		skip();
	(void)snprintf(g1, sizeof(g1), "albk-nm%ld", (long)getpid());
	(void)snprintf(g2, sizeof(g2), "albk-nn%ld", (long)getpid());
	(void)snprintf(cmd, sizeof(cmd), "groupadd %s", g1);
	assert_int_equal(system(cmd), 0);
	assert_non_null(gr = getgrnam(g1));
	gid = gr->gr_gid;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(gid) != 0)
			_exit(1);
		pause();
		_exit(0);
	}
	for (ok = 0; ok < 500 && gid_of(pid) != gid; ok++)
		pause_ms(10);
	assert_int_equal(ident_cache_new(8, &cache), 0);
	assert_int_equal(ident_from_pid(pid, cache, IDENT_F_NO_HASH, &id,
	    NULL), 0);
	(void)snprintf(sel, sizeof(sel), "unix:group:%s", g1);
	ok = ident_has_selector(id, sel);
	ident_free(id);
	(void)snprintf(cmd, sizeof(cmd), "groupmod -n %s %s", g2, g1);
	if (ok)
		ok = system(cmd) == 0;
	if (ok) {
		assert_int_equal(ident_from_pid(pid, cache, IDENT_F_NO_HASH,
		    &id, NULL), 0);
		(void)snprintf(sel, sizeof(sel), "unix:group:%s", g2);
		ok = ident_has_selector(id, sel) ? 2 : 0;
		ident_free(id);
	}
	ident_cache_free(cache);
	kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
	(void)snprintf(cmd, sizeof(cmd), "groupdel %s 2>/dev/null; "
	    "groupdel %s 2>/dev/null", g1, g2);
	if (system(cmd) < 0)
		ok = -1;	/* a group left behind */
	assert_int_equal(ok, 2);
}

/*
 * A thread that identifies process y when told to, through the cache and
 * without, and answers with the user (effective uid) each walk read for
 * y's parent, this process: the identifications run with this thread's
 * credentials, which the main thread's change below leaves as they were.
 */
struct walker {
	int			 cmd[2], res[2];
	pid_t			 y;
	struct ident_cache	*cache;
};

static void *
walker_run(void *arg)
{
	struct walker *w = arg;
	struct ident *id, *plain;
	long out[2];
	char c;

	while (read(w->cmd[0], &c, 1) == 1) {
		id = plain = NULL;
		out[0] = out[1] = -2;
		if (ident_from_pid(w->y, w->cache, IDENT_F_NO_HASH, &id,
		    NULL) == 0 && id->nancestors > 0 &&
		    id->ancestors[0].pid == getpid())
			out[0] = (long)id->ancestors[0].uid;
		if (ident_from_pid(w->y, NULL, IDENT_F_NO_HASH, &plain,
		    NULL) == 0 && plain->nancestors > 0 &&
		    plain->ancestors[0].pid == getpid())
			out[1] = (long)plain->ancestors[0].uid;
		ident_free(id);
		ident_free(plain);
		if (write(w->res[1], out, sizeof(out)) != (ssize_t)sizeof(out))
			break;
	}
	return NULL;
}

/*
 * As init's child: this process's user, as the walks from its child y
 * read it, before and after its main thread changes its effective uid
 * (and back).  0, or the number of the check that failed.
 */
static int
uid_walks(void)
{
	static const long want[4] = { 0, 0, 65534, 0 };
	struct walker w;
	pthread_t th;
	long r[2];
	int rc = 0, step;

	if ((w.y = fork()) < 0)
		return 1;
	if (w.y == 0) {
		alarm(60);
		for (;;)
			pause();
	}
	if (pipe(w.cmd) != 0 || pipe(w.res) != 0 ||
	    ident_cache_new(8, &w.cache) != 0 ||
	    pthread_create(&th, NULL, walker_run, &w) != 0)
		return 2;
	/* The first walk reads status; the next ones hold this process. */
	for (step = 0; step < 4 && rc == 0; step++) {
		if (step == 2 && syscall(SYS_setresuid, -1, 65534, -1) != 0)
			rc = 3;
		if (step == 3 && syscall(SYS_setresuid, -1, 0, -1) != 0)
			rc = 4;
		if (rc == 0 && (write(w.cmd[1], "w", 1) != 1 ||
		    read(w.res[0], r, sizeof(r)) != (ssize_t)sizeof(r)))
			rc = 5;
		if (rc == 0 && r[0] != want[step])
			rc = 10 + step;		/* through the cache */
		if (rc == 0 && r[1] != want[step])
			rc = 20 + step;		/* without */
	}
	(void)syscall(SYS_setresuid, -1, 0, -1);
	close(w.cmd[1]);
	(void)pthread_join(th, NULL);
	ident_cache_free(w.cache);
	kill(w.y, SIGKILL);
	(void)waitpid(w.y, NULL, 0);
	return rc;
}

/*
 * The user of init's child, which the walk reads at every identification
 * (through a pidfd of it when the kernel answers PIDFD_GET_INFO), is the
 * one it has now: a cached walk sees its effective uid change and change
 * back, as a walk without the cache does.  In a pid namespace of its own
 * (root), where this test's process is init's child.
 */
void
test_ident_cache_reads_the_user_of_inits_child_each_walk(void **state)
{
	pid_t pid, p1, t;
	int st;

	(void)state;
	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		leave_output();
		if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0)
			_exit(77);
		if ((p1 = fork()) < 0)
			_exit(70);
		if (p1 > 0) {
			if (waitpid(p1, &st, 0) != p1 || !WIFEXITED(st))
				_exit(71);
			_exit(WEXITSTATUS(st));
		}
		/* Init of the namespace, with a /proc of its own. */
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV |
		    MS_NOEXEC, NULL) != 0)
			_exit(77);
		if ((t = fork()) < 0)
			_exit(72);
		if (t == 0)
			_exit(uid_walks());
		if (waitpid(t, &st, 0) != t || !WIFEXITED(st))
			_exit(73);
		_exit(WEXITSTATUS(st));
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();		/* no pid namespace here */
	assert_int_equal(WEXITSTATUS(st), 0);
}

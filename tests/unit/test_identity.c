/* Unit tests for src/identity: who is calling. */
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "airlock/identity.h"
#include "identity_test.h"

static void
self_exe(char out[PATH_MAX])
{
	ssize_t n = readlink("/proc/self/exe", out, PATH_MAX - 1);

	assert_true(n > 0);
	out[n] = '\0';
}

/* SHA-256 of the file at path, computed here independently. */
static void
sha256_file(const char *path, char out[IDENT_SHA256_HEX])
{
	crypto_hash_sha256_state st;
	unsigned char buf[8192], h[32];
	ssize_t r;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	crypto_hash_sha256_init(&st);
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		crypto_hash_sha256_update(&st, buf, (size_t)r);
	assert_int_equal(r, 0);
	close(fd);
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(out, IDENT_SHA256_HEX, h, sizeof(h));
}

static int
has(const struct ident *id, const char *fmt, ...)
{
	char sel[PATH_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sel, sizeof(sel), fmt, ap);
	va_end(ap);
	return ident_has_selector(id, sel);
}

static int
has_prefix(const struct ident *id, const char *prefix)
{
	size_t i;

	for (i = 0; i < id->nselectors; i++)
		if (strncmp(id->selectors[i], prefix, strlen(prefix)) == 0)
			return 1;
	return 0;
}

/*
 * An executable written to while it runs is hashed again through the
 * cache: the hash kept for it is keyed by the file's inode, size and
 * times, read through the process's exe link.
 */
static void
test_ident_cache_rehashes_a_rewritten_exe(void **state)
{
	struct ident_cache *cache = NULL;
	struct ident *id = NULL;
	char path[] = "/tmp/albk-exe.XXXXXX", before[IDENT_SHA256_HEX],
	    after[IDENT_SHA256_HEX], now[PATH_MAX], buf[8192];
	ssize_t r, n;
	int in, out, i;
	pid_t pid;

	(void)state;
	out = mkstemp(path);
	assert_true(out >= 0);
	in = open(access("/usr/bin/sleep", X_OK) == 0 ? "/usr/bin/sleep" :
	    "/bin/sleep", O_RDONLY);
	assert_true(in >= 0);
	while ((r = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)r), r);
	close(in);
	assert_int_equal(fchmod(out, 0755), 0);
	close(out);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(path, path, "5", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		(void)snprintf(buf, sizeof(buf), "/proc/%d/exe", (int)pid);
		n = readlink(buf, now, sizeof(now) - 1);
		if (n > 0 && (size_t)n == strlen(path) &&
		    memcmp(now, path, (size_t)n) == 0)
			break;
		usleep(10000);
	}
	assert_true(i < 500);
	sha256_file(path, before);
	assert_int_equal(ident_cache_new(8, &cache), 0);
	assert_int_equal(ident_from_pid(pid, cache, 0, &id, NULL), 0);
	assert_string_equal(id->sha256, before);
	ident_free(id);
	id = NULL;
	/* Kernels that refuse writes to a running program: nothing to see. */
	if ((out = open(path, O_WRONLY | O_APPEND)) >= 0) {
		assert_int_equal(write(out, "x", 1), 1);
		close(out);
		sha256_file(path, after);
		assert_string_not_equal(after, before);
		assert_int_equal(ident_from_pid(pid, cache, 0, &id, NULL), 0);
		assert_string_equal(id->sha256, after);
		ident_free(id);
	} else
		assert_int_equal(errno, ETXTBSY);
	ident_cache_free(cache);
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
	(void)unlink(path);
}

static void
test_ident_socketpair_peer_is_self(void **state)
{
	struct ident *id = NULL;
	struct ident_cache *cache = NULL;
	char exe[PATH_MAX], hex[IDENT_SHA256_HEX], want[64];
	int sv[2];

	(void)state;
	self_exe(exe);
	sha256_file(exe, hex);
	assert_int_equal(ident_cache_new(8, &cache), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ident_from_socket(sv[0], cache, 0, &id, NULL), 0);
	assert_int_equal(id->kind, IDENT_KIND_UNIX);
	assert_int_equal(id->pid, getpid());
	assert_int_equal(id->uid, geteuid());
	assert_int_equal(id->gid, getegid());
	assert_string_equal(id->exe, exe);
	assert_string_equal(id->sha256, hex);
	assert_true(id->nancestors >= 1);
	assert_int_equal(id->ancestors[0].pid, getppid());
	assert_true(has(id, "unix:uid:%u", (unsigned)geteuid()));
	assert_true(has(id, "unix:gid:%u", (unsigned)getegid()));
	assert_true(has(id, "unix:pid:%d", (int)getpid()));
	assert_true(has(id, "unix:exe:%s", exe));
	assert_true(has(id, "unix:sha256:%s", hex));
	if (geteuid() == 0)
		assert_true(has(id, "unix:user:root"));
	/* The first selectors come in a fixed order. */
	assert_true(id->nselectors >= 2);
	snprintf(want, sizeof(want), "unix:uid:%u", (unsigned)geteuid());
	assert_string_equal(id->selectors[0], want);
	snprintf(want, sizeof(want), "unix:gid:%u", (unsigned)getegid());
	assert_string_equal(id->selectors[1], want);
	ident_free(id);
	id = NULL;
	/* Hashed again through the cache: the same answer. */
	assert_int_equal(ident_from_socket(sv[0], cache, 0, &id, NULL), 0);
	assert_string_equal(id->sha256, hex);
	ident_free(id);
	id = NULL;
	assert_int_equal(ident_from_socket(sv[0], NULL, IDENT_F_NO_HASH, &id,
	    NULL), 0);
	assert_string_equal(id->sha256, "");
	assert_false(has(id, "unix:sha256:%s", hex));
	ident_free(id);
	ident_cache_free(cache);
	close(sv[0]);
	close(sv[1]);
}

/*
 * A child connects, then becomes /bin/sleep: the broker's view of it is
 * sleep's executable with this test program as its parent.
 */
static void
test_ident_forked_child_with_other_exe(void **state)
{
	struct sockaddr_un sa;
	struct ident *id = NULL;
	char dir[] = "/tmp/airlock-test-ident.XXXXXX";
	char exe[PATH_MAX], sleep_exe[PATH_MAX], hex[IDENT_SHA256_HEX];
	char buf[1];
	int lfd, cfd, pfd[2], status;
	pid_t pid;

	(void)state;
	self_exe(exe);
	assert_non_null(realpath("/bin/sleep", sleep_exe));
	sha256_file(sleep_exe, hex);
	assert_non_null(mkdtemp(dir));
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		if (s < 0 || connect(s, (struct sockaddr *)&sa,
		    sizeof(sa)) != 0)
			_exit(99);
		close(pfd[0]);
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(98);
	}
	close(pfd[1]);
	/* EOF on the close-on-exec pipe: the child has exec'd. */
	assert_int_equal(read(pfd[0], buf, 1), 0);
	close(pfd[0]);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);

	assert_int_equal(ident_from_socket(cfd, NULL, 0, &id, NULL), 0);
	assert_int_equal(id->pid, pid);
	assert_string_equal(id->exe, sleep_exe);
	assert_string_equal(id->sha256, hex);
	assert_true(id->nancestors >= 2);
	assert_int_equal(id->ancestors[0].pid, getpid());
	assert_string_equal(id->ancestors[0].exe, exe);
	assert_int_equal(id->ancestors[1].pid, getppid());
	assert_true(has(id, "unix:exe:%s", sleep_exe));
	assert_true(has(id, "unix:ancestor-exe:%s", exe));
	assert_false(has(id, "unix:exe:%s", exe));
	ident_free(id);
	id = NULL;

	assert_int_equal(ident_from_pid(pid, NULL, 0, &id, NULL), 0);
	assert_string_equal(id->exe, sleep_exe);
	assert_int_equal(id->ancestors[0].pid, getpid());
	ident_free(id);

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(cfd);
	close(lfd);
	unlink(sa.sun_path);
	rmdir(dir);
}

/*
 * Observe a non-dumpable process of the same, unprivileged user (as a
 * broker of that user would see airlock's own commands).  Returns a
 * number naming the first check that failed, 0 when all passed.
 */
static int
observe_undumpable(void)
{
	struct ident *id = NULL;
	char buf[1], exe[PATH_MAX];
	int pfd[2], go[2], rc = 0;
	ssize_t n;
	pid_t pid;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0 || pipe(pfd) != 0 || pipe(go) != 0)
		return 10;
	exe[n] = '\0';
	if ((pid = fork()) < 0)
		return 11;
	if (pid == 0) {
		(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		close(pfd[0]);
		close(pfd[1]);	/* ready */
		close(go[1]);
		if (read(go[0], buf, 1) < 0)	/* wait to be released */
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	close(go[0]);
	if (read(pfd[0], buf, 1) != 0)
		rc = 12;
	else if (ident_from_pid(pid, NULL, 0, &id, NULL) != 0)
		rc = 13;
	else if (id->exe != NULL)
		rc = 14;
	else if (id->exe_errno != EACCES)
		rc = 15;
	else if (id->sha256[0] != '\0' || has_prefix(id, "unix:sha256:") ||
	    has_prefix(id, "unix:exe:"))
		rc = 16;
	else if (id->nancestors < 1 || id->ancestors[0].pid != getpid() ||
	    id->ancestors[0].exe == NULL ||
	    strcmp(id->ancestors[0].exe, exe) != 0)
		rc = 17;
	else if (!has(id, "unix:ancestor-exe:%s", exe) ||
	    !has(id, "unix:pid:%d", (int)pid))
		rc = 18;
	ident_free(id);
	close(go[1]);
	(void)waitpid(pid, NULL, 0);
	return rc;
}

static void
test_ident_undumpable_peer_has_unknown_exe_but_ancestors(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	if (geteuid() != 0) {
		assert_int_equal(observe_undumpable(), 0);
		return;
	}
	/* Root sees everything: observe from an unprivileged user. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
		    setuid(65534) != 0)
			_exit(9);
		_exit(observe_undumpable());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_ident_exited_process_is_refused(void **state)
{
	struct ident *id = NULL;
	struct al_err err;
	char want[64];
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(ident_from_pid(pid, NULL, 0, &id, &err), AL_ENOENT);
	assert_null(id);
	snprintf(want, sizeof(want), "process %d has exited", (int)pid);
	assert_string_equal(err.msg, want);
}

static void
test_ident_socket_without_credentials_is_refused(void **state)
{
	struct ident *id = NULL;
	struct al_err err;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ident_from_socket(p[0], NULL, 0, &id, &err),
	    AL_EPROTO);
	assert_null(id);
	assert_non_null(strstr(err.msg, "no peer credentials"));
	close(p[0]);
	close(p[1]);
}

/* A command name with ") (" must not confuse the parsing of stat. */
static void
test_ident_odd_command_name_parses(void **state)
{
	struct ident *id = NULL;
	char buf[1];
	int pfd[2], go[2], status;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		(void)prctl(PR_SET_NAME, "a) S 1 (b", 0, 0, 0);
		close(pfd[0]);
		close(pfd[1]);
		close(go[1]);
		if (read(go[0], buf, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	close(go[0]);
	assert_int_equal(read(pfd[0], buf, 1), 0);
	assert_int_equal(ident_from_pid(pid, NULL, IDENT_F_NO_HASH, &id, NULL),
	    0);
	assert_int_equal(id->ancestors[0].pid, getpid());
	ident_free(id);
	close(go[1]);
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void
test_ident_to_json_summary_and_full(void **state)
{
	struct ident *id = NULL;
	json_t *s, *f;
	size_t i;

	(void)state;
	assert_int_equal(ident_from_pid(getpid(), NULL, 0, &id, NULL), 0);
	s = ident_to_json(id, IDENT_JSON_SUMMARY);
	f = ident_to_json(id, IDENT_JSON_FULL);
	assert_non_null(s);
	assert_non_null(f);
	assert_string_equal(json_string_value(json_object_get(s, "kind")),
	    "unix");
	assert_int_equal(json_integer_value(json_object_get(s, "pid")),
	    getpid());
	assert_string_equal(json_string_value(json_object_get(s, "exe")),
	    id->exe);
	assert_null(json_object_get(s, "selectors"));
	assert_null(json_object_get(s, "sha256"));
	assert_true(json_is_string(json_array_get(json_object_get(s,
	    "ancestors"), 0)) || json_is_null(json_array_get(
	    json_object_get(s, "ancestors"), 0)));
	assert_string_equal(json_string_value(json_object_get(f, "sha256")),
	    id->sha256);
	assert_int_equal(json_array_size(json_object_get(f, "selectors")),
	    id->nselectors);
	for (i = 0; i < id->nselectors; i++)
		assert_string_equal(json_string_value(json_array_get(
		    json_object_get(f, "selectors"), i)), id->selectors[i]);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    json_object_get(f, "ancestors"), 0), "pid")), getppid());
	json_decref(s);
	json_decref(f);
	ident_free(id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ident_socketpair_peer_is_self),
		cmocka_unit_test(
		    test_ident_cache_rehashes_a_rewritten_exe),
		cmocka_unit_test(test_ident_forked_child_with_other_exe),
		cmocka_unit_test(
		    test_ident_undumpable_peer_has_unknown_exe_but_ancestors),
		cmocka_unit_test(test_ident_exited_process_is_refused),
		cmocka_unit_test(
		    test_ident_socket_without_credentials_is_refused),
		cmocka_unit_test(test_ident_odd_command_name_parses),
		cmocka_unit_test(test_ident_to_json_summary_and_full),
		cmocka_unit_test(
		    test_ident_loader_variables_make_the_exe_untrusted),
		cmocka_unit_test(test_ident_traced_process_exe_untrusted),
		cmocka_unit_test(
		    test_ident_code_the_user_can_change_makes_the_exe_untrusted),
		cmocka_unit_test(
		    test_ident_refresh_refuses_a_process_that_called_exec),
		cmocka_unit_test(
		    test_ident_held_proc_entry_follows_the_process),
		cmocka_unit_test(test_ident_held_exe_link_sees_an_exec),
		cmocka_unit_test(
		    test_ident_reparented_process_has_unknown_ancestry),
		cmocka_unit_test(test_ident_supplementary_groups_are_selectors),
		cmocka_unit_test(
	    test_ident_conn_holders_names_a_process_sharing_the_connection),
		cmocka_unit_test(
		    test_ident_cache_ancestor_exec_or_exit_is_walked_again),
		cmocka_unit_test(test_ident_cache_sees_a_renamed_group),
		cmocka_unit_test(
		    test_ident_cache_reads_the_user_of_inits_child_each_walk),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for src/exec: real fork and exec of /bin/sh and exec_probe.
 *
 * Every run injects a random canary and pipes the output through a real
 * masking filter (mask_* in exec_fixture.c: a streaming search that holds back only a
 * possible start of the value), then checks that the canary appears nowhere
 * in what was written and that the text around it is intact.
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "airlock/exec.h"
#include "exec_fixture.h"
#include "exec_tests.h"

/* ---- values reach the child only ---------------------------------------- */

static void
test_exec_env_value_reaches_child_masked(void **state)
{
	struct t t;

	(void)state;
	t_init(&t);
	t_var(&t, "TOKEN", 0, EXEC_VAR_ENV);
	t_run(&t, SH("printf 'v=%s;\\n' \"$TOKEN\"; printf '%s' \"$TOKEN\" >&2"));
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.res.status, 0);
	assert_string_equal(t.out, "v=" MASK ";\n");
	assert_string_equal(t.errs, MASK);
	/* Never in our own environment. */
	assert_null(getenv("TOKEN"));
	t_free(&t);
}

static void
test_exec_file_is_sealed_memfd_not_on_disk(void **state)
{
	struct t t;

	(void)state;
	t_init(&t);
	t_var(&t, "CERT", 0, EXEC_VAR_FILE);
	t_var(&t, "TOKEN", 1, EXEC_VAR_ENV);
	t_run(&t, PROBE("memfd", "CERT"));
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.res.status, 0);
	assert_string_equal(t.out,
	    "path: /dev/fd/3\n"
	    "link: /memfd:airlock (deleted)\n"
	    "seals: seal shrink grow write\n"
	    "write: Operation not permitted\n"
	    "truncate: Operation not permitted\n"
	    "value: " MASK "\n");
	assert_string_equal(t.errs, "");
	t_free(&t);
}

static void
test_exec_child_inherits_only_std_and_file_fds(void **state)
{
	struct t t;
	int extra;

	(void)state;
	/* A stray descriptor without close-on-exec, as a careless caller has. */
	extra = dup2(open("/dev/null", O_RDONLY), 40);
	assert_int_equal(extra, 40);
	t_init(&t);
	t_run(&t, PROBE("fds"));
	assert_string_equal(t.out, "fds: 0 1 2\n");
	t_free(&t);
	t_init(&t);
	t_var(&t, "A", 0, EXEC_VAR_FILE);
	t_var(&t, "B", 1, EXEC_VAR_FILE);
	t_run(&t, PROBE("fds"));
	assert_string_equal(t.out, "fds: 0 1 2 3 4\n");
	t_free(&t);
	(void)close(extra);
}

static int
count_fds(void)
{
	char path[64];
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++) {
		(void)snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

/* exec_run gives back every descriptor it opened, whatever the mode. */
static void
test_exec_leaks_no_descriptor(void **state)
{
	struct t t;
	int before, mode, sp[2];

	(void)state;
	for (mode = 0; mode < 5; mode++) {
		t_init(&t);
		/* Free the low numbers, so exec_run must move its own up. */
		t.outfd = fcntl(t.outfd, F_DUPFD_CLOEXEC, 100);
		t.errfd = fcntl(t.errfd, F_DUPFD_CLOEXEC, 100);
		(void)close(t.spec.out_fd);
		(void)close(t.spec.err_fd);
		t.spec.out_fd = t.outfd;
		t.spec.err_fd = t.errfd;
		sp[0] = sp[1] = -1;
		t_var(&t, "A", 0, EXEC_VAR_FILE);
		t_var(&t, "B", 1, mode == 4 ? EXEC_VAR_FILE : EXEC_VAR_ENV);
		if (mode == 1)
			t.spec.flags = EXEC_PTY;
		if (mode == 2)
			t.spec.err_fd = t.outfd;
		if (mode == 3) {
			/* A socket on stdin is relayed through a pipe. */
			assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0,
			    sp), 0);
			assert_int_equal(write(sp[1], "in\n", 3), 3);
			(void)shutdown(sp[1], SHUT_WR);
			t.spec.in_fd = sp[0];
		}
		before = count_fds();
		t_run(&t, mode == 4 ? SH("nosuchcommand-airlock") :
		    SH("cat; echo out; echo err >&2"));
		assert_int_equal(count_fds(), before);
		if (mode == 1)
			assert_string_equal(t.out, "out\r\nerr\r\n");
		if (mode == 3)
			assert_string_equal(t.out, "in\nout\n");
		if (sp[0] >= 0) {
			(void)close(sp[0]);
			(void)close(sp[1]);
		}
		t_free(&t);
	}
}

static void
test_exec_rejects_bad_vars_before_running(void **state)
{
	struct t t;
	struct al_secret *nul;

	(void)state;
	t_init(&t);
	t_var(&t, "1BAD", 0, EXEC_VAR_ENV);
	t_run(&t, SH("exit 0"));
	assert_int_equal(t.rc, AL_EINVAL);
	assert_int_equal(t.res.status, 125);
	assert_int_equal(t.res.pid, 0);
	assert_string_equal(t.err.msg, "'1BAD' is not a valid variable name");
	t_free(&t);

	t_init(&t);
	t_var(&t, "X", 0, EXEC_VAR_ENV);
	t_var(&t, "X", 1, EXEC_VAR_FILE);
	t_run(&t, SH("exit 0"));
	assert_int_equal(t.rc, AL_EINVAL);
	assert_string_equal(t.err.msg, "variable X is given twice");
	t_free(&t);

	t_init(&t);
	assert_int_equal(al_secret_from("a\0b", 3, &nul), 0);
	al_secret_free(t.sec[0]);
	t.sec[0] = nul;
	t_var(&t, "BIN", 0, EXEC_VAR_ENV);
	t_run(&t, SH("exit 0"));
	assert_int_equal(t.rc, AL_EINVAL);
	assert_int_equal(t.res.status, 125);
	assert_string_equal(t.err.msg, "the value for BIN contains a NUL "
	    "byte, which an environment variable cannot hold (pass it as a "
	    "file instead)");
	t_free(&t);
}

static void
test_exec_binding_parse(void **state)
{
	struct exec_binding b;
	struct al_err err;

	(void)state;
	assert_int_equal(exec_binding_parse("TOKEN=deploy-token", "-e", &b,
	    &err), 0);
	assert_string_equal(b.var, "TOKEN");
	assert_string_equal(b.secret, "deploy-token");
	assert_int_equal(exec_binding_parse("TOKEN", "-e", &b, &err),
	    AL_EINVAL);
	/* What may be a value (after '=', or no '=' at all) is never quoted. */
	assert_string_equal(err.msg, "-e expects VAR=SECRET (a variable "
	    "name, '=', a secret name)");
	assert_int_equal(exec_binding_parse("9X=s3cr3t", "--file", &b, &err),
	    AL_EINVAL);
	assert_string_equal(err.msg, "--file: '9X' is not a valid "
	    "variable name (letters, digits and '_', not starting with a "
	    "digit)");
	assert_int_equal(exec_binding_parse("X=", "-e", &b, &err), AL_EINVAL);
	assert_string_equal(err.msg, "-e X=: no secret name after '='");
	assert_int_equal(exec_binding_parse("=s3cr3t", "-e", &b, &err),
	    AL_EINVAL);
	assert_null(strstr(err.msg, "s3cr3t"));
	assert_true(exec_var_name_ok("_a1"));
	assert_false(exec_var_name_ok("a-b"));
}

/* ---- exit statuses ------------------------------------------------------ */

static void
test_exec_exit_codes_and_signal_death(void **state)
{
	struct t t;

	(void)state;
	t_init(&t);
	t_run(&t, SH("exit 0"));
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.res.status, 0);
	assert_int_equal(t.res.exit_code, 0);
	t_free(&t);

	t_init(&t);
	t_run(&t, SH("exit 3"));
	assert_int_equal(t.res.status, 3);
	assert_int_equal(t.res.exit_code, 3);
	assert_int_equal(t.res.term_signal, 0);
	t_free(&t);

	t_init(&t);
	t_run(&t, SH("kill -KILL $$"));
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.res.status, 128 + SIGKILL);
	assert_int_equal(t.res.term_signal, SIGKILL);
	assert_int_equal(t.res.exit_code, -1);
	t_free(&t);

	t_init(&t);
	t_run(&t, SH("kill -SEGV $$"));
	assert_int_equal(t.res.status, 128 + SIGSEGV);
	t_free(&t);
}

static void
test_exec_not_found_127_not_executable_126(void **state)
{
	char dir[] = "/tmp/airlock-exec-XXXXXX", script[PATH_MAX];
	char *const *envp;
	struct t t;
	int fd;

	(void)state;
	t_init(&t);
	t_run(&t, ((char *const[]){ "airlock-no-such-command", NULL }));
	assert_int_equal(t.rc, AL_ENOENT);
	assert_int_equal(t.res.status, 127);
	assert_int_equal(t.res.pid, 0);
	assert_string_equal(t.err.msg, "cannot run 'airlock-no-such-command': "
	    "command not found");
	t_free(&t);

	t_init(&t);
	t_run(&t, ((char *const[]){ "/nonexistent/cmd", NULL }));
	assert_int_equal(t.rc, AL_ENOENT);
	assert_int_equal(t.res.status, 127);
	assert_int_equal(t.res.exec_errno, ENOENT);
	assert_string_equal(t.err.msg, "cannot run '/nonexistent/cmd': No "
	    "such file or directory");
	t_free(&t);

	t_init(&t);
	t_run(&t, ((char *const[]){ "/dev/null", NULL }));
	assert_int_equal(t.rc, AL_EPERM);
	assert_int_equal(t.res.status, 126);
	assert_string_equal(t.err.msg, "cannot run '/dev/null': Permission "
	    "denied");
	t_free(&t);

	/* Found in PATH (the child's environment) but not executable. */
	assert_non_null(mkdtemp(dir));
	(void)snprintf(script, sizeof(script), "%s/tool", dir);
	fd = open(script, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "echo from-script\n", 17), 17);
	(void)close(fd);
	t_init(&t);
	envp = (char *const[]){ NULL, NULL };
	{
		char pathvar[PATH_MAX + 8];

		(void)snprintf(pathvar, sizeof(pathvar), "PATH=%s", dir);
		((char **)envp)[0] = pathvar;
		t.spec.envp = envp;
		t_run(&t, ((char *const[]){ "tool", NULL }));
		assert_int_equal(t.rc, AL_EPERM);
		assert_int_equal(t.res.status, 126);
		assert_string_equal(t.err.msg, "cannot run 'tool': Permission "
		    "denied");
		t_free(&t);
		/* Executable without #!: run by /bin/sh, as execvp does. */
		assert_int_equal(chmod(script, 0755), 0);
		t_init(&t);
		t.spec.envp = envp;
		t_run(&t, ((char *const[]){ "tool", NULL }));
		assert_int_equal(t.rc, 0);
		assert_string_equal(t.out, "from-script\n");
		t_free(&t);
	}
	/* A directory that does not exist: 125, as env -C. */
	t_init(&t);
	t.spec.cwd = "/nonexistent-dir";
	t_run(&t, SH("exit 0"));
	assert_int_equal(t.rc, AL_ENOENT);
	assert_int_equal(t.res.status, 125);
	assert_string_equal(t.err.msg, "cannot change directory to "
	    "'/nonexistent-dir': No such file or directory");
	t_free(&t);
	t_init(&t);
	t.spec.cwd = dir;
	t_run(&t, SH("pwd"));
	assert_int_equal(t.rc, 0);
	assert_int_equal(strncmp(t.out, dir, strlen(dir)), 0);
	t_free(&t);
	(void)unlink(script);
	(void)rmdir(dir);
}

/* ---- streams ------------------------------------------------------------ */

static void
test_exec_stdout_stderr_separate_and_in_order(void **state)
{
	struct t t;
	char *want_o, *want_e;
	size_t i, oo = 0, eo = 0;

	(void)state;
	t_init(&t);
	t_var(&t, "TOKEN", 0, EXEC_VAR_ENV);
	t_run(&t, SH("i=1; while [ $i -le 300 ]; do echo \"o$i $TOKEN\"; "
	    "echo \"e$i $TOKEN\" >&2; i=$((i+1)); done"));
	assert_int_equal(t.res.status, 0);
	want_o = malloc(300 * 32);
	want_e = malloc(300 * 32);
	for (i = 1; i <= 300; i++) {
		oo += (size_t)sprintf(want_o + oo, "o%zu " MASK "\n", i);
		eo += (size_t)sprintf(want_e + eo, "e%zu " MASK "\n", i);
	}
	assert_string_equal(t.out, want_o);
	assert_string_equal(t.errs, want_e);
	free(want_o);
	free(want_e);
	t_free(&t);
}

static void
test_exec_same_output_keeps_2_to_1_order(void **state)
{
	struct t t;

	(void)state;
	t_init(&t);
	t.spec.err_fd = t.outfd;
	t_var(&t, "TOKEN", 0, EXEC_VAR_ENV);
	t_run(&t, SH("for i in 1 2 3 4 5; do echo o$i; echo \"e$i $TOKEN\" "
	    ">&2; done"));
	assert_string_equal(t.out, "o1\ne1 " MASK "\no2\ne2 " MASK "\no3\ne3 "
	    MASK "\no4\ne4 " MASK "\no5\ne5 " MASK "\n");
	t_free(&t);
}

static void
test_exec_one_byte_at_a_time_is_masked(void **state)
{
	struct t t;

	(void)state;
	t_init(&t);
	t_var(&t, "TOKEN", 0, EXEC_VAR_ENV);
	t_run(&t, PROBE("drip", "TOKEN", "2000"));
	assert_int_equal(t.res.status, 0);
	assert_string_equal(t.out, "before:" MASK ":after\n");
	/* The value reached the filter in pieces (reads coalesce under load). */
	assert_true(t.mo.writes >= 4);
	t_free(&t);
}

static void
test_exec_set_x_trace_is_masked(void **state)
{
	struct t t;

	(void)state;
	t_init(&t);
	t_var(&t, "TOKEN", 0, EXEC_VAR_ENV);
	t_var(&t, "OTHER", 1, EXEC_VAR_ENV);
	t_run(&t, SH("set -x; : \"$TOKEN\" \"$OTHER\""));
	assert_int_equal(t.res.status, 0);
	assert_string_equal(t.errs, "+ : " MASK " " MASK "\n");
	t_free(&t);
}

static void
test_exec_binary_output_passes_intact(void **state)
{
	unsigned char want[600];
	struct t t;
	size_t i, n = 0;

	(void)state;
	t_init(&t);
	t_var(&t, "TOKEN", 0, EXEC_VAR_ENV);
	t_run(&t, PROBE("binary", "TOKEN"));
	for (i = 0; i < 256; i++)
		want[n++] = (unsigned char)i;
	memcpy(want + n, MASK, strlen(MASK));
	n += strlen(MASK);
	for (i = 0; i < 256; i++)
		want[n++] = (unsigned char)(255 - i);
	assert_int_equal(t.outn, n);
	assert_memory_equal(t.out, want, n);
	t_free(&t);
}

static void
test_exec_huge_line_is_masked(void **state)
{
	const size_t half = 4u << 20;
	struct t t;
	size_t i;

	(void)state;
	t_init(&t);
	t_var(&t, "TOKEN", 0, EXEC_VAR_ENV);
	t_run(&t, PROBE("hugeline", "TOKEN", "4194304"));
	assert_int_equal(t.res.status, 0);
	assert_int_equal(t.outn, 2 * half + strlen(MASK) + 1);
	for (i = 0; i < half; i++)
		if (t.out[i] != 'a' || t.out[half + strlen(MASK) + i] != 'b')
			fail_msg("byte %zu changed", i);
	assert_memory_equal(t.out + half, MASK, strlen(MASK));
	assert_int_equal(t.res.out_bytes, 2 * half + strlen(t.canary[0]) + 1);
	t_free(&t);
}

/*
 * A filter that defers everything write_more gives it until complete (or
 * the next write, or finish), and measures how long bytes waited.
 */
struct defer {
	unsigned char	*buf;
	size_t		 len, cap;
	int64_t		 since;		/* first deferred byte, 0: none */
	int64_t		 max_wait;	/* ns */
	size_t		 nmore, ncomplete;
	size_t		 at_finish;	/* bytes still deferred at finish */
};

static int
defer_out(struct defer *d, exec_emit_fn emit, void *arg)
{
	int64_t w;
	int rc;

	if (d->since != 0 && (w = mono_ns() - d->since) > d->max_wait)
		d->max_wait = w;
	d->since = 0;
	rc = d->len ? emit(arg, d->buf, d->len) : 0;
	d->len = 0;
	return rc;
}

static int
defer_write(void *st, const void *p, size_t n, exec_emit_fn emit, void *arg)
{
	int rc;

	if ((rc = defer_out(st, emit, arg)) != 0)
		return rc;
	return emit(arg, p, n);
}

static int
defer_more(void *st, const void *p, size_t n, exec_emit_fn emit, void *arg)
{
	struct defer *d = st;
	int rc;

	d->nmore++;
	if ((rc = defer_out(d, emit, arg)) != 0)
		return rc;
	if (n > d->cap) {
		assert_non_null(d->buf = realloc(d->buf, n));
		d->cap = n;
	}
	memcpy(d->buf, p, n);
	d->len = n;
	d->since = mono_ns();
	return 0;
}

static int
defer_complete(void *st, exec_emit_fn emit, void *arg)
{
	struct defer *d = st;

	d->ncomplete++;
	return defer_out(d, emit, arg);
}

static int
defer_finish(void *st, exec_emit_fn emit, void *arg)
{
	struct defer *d = st;

	d->at_finish = d->len;
	return defer_out(d, emit, arg);
}

static const struct exec_filter_ops defer_ops = { defer_write, defer_finish,
    NULL, defer_more, defer_complete };

/*
 * Bulk output read a full buffer at a time goes through write_more; as
 * soon as nothing more is ready the runner completes it, long before the
 * command ends.
 */
static void
test_exec_deferred_output_completes_when_nothing_is_ready(void **state)
{
	struct defer d;
	struct t t;
	size_t i;

	(void)state;
	memset(&d, 0, sizeof(d));
	t_init(&t);
	t.spec.out.ops = &defer_ops;
	t.spec.out.st = &d;
	t_run(&t, SH("dd if=/dev/zero bs=1048576 count=4 status=none; "
	    "sleep 1; echo end"));
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.res.status, 0);
	assert_int_equal(t.outn, 4 * 1048576 + 4);
	for (i = 0; i < 4 * 1048576; i++)
		if (t.out[i] != '\0')
			fail_msg("byte %zu changed", i);
	assert_string_equal(t.out + 4 * 1048576, "end\n");
	assert_true(d.nmore >= 1);
	assert_int_equal(d.at_finish, 0);
	/* Nothing waited for the command's sleep. */
	assert_true(d.max_wait < 400 * 1000000LL);
	free(d.buf);
	t_free(&t);
}

static void
test_exec_stdin_pipe_passed_and_devnull(void **state)
{
	struct t t;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "line one\nline two\n", 18), 18);
	(void)close(p[1]);
	t_init(&t);
	t.spec.in_fd = p[0];
	t_run(&t, SH("cat"));
	assert_string_equal(t.out, "line one\nline two\n");
	t_free(&t);
	(void)close(p[0]);
	t_init(&t);
	t_run(&t, SH("cat; echo end"));
	assert_string_equal(t.out, "end\n");
	t_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_env_value_reaches_child_masked),
		cmocka_unit_test(test_exec_file_is_sealed_memfd_not_on_disk),
		cmocka_unit_test(test_exec_child_inherits_only_std_and_file_fds),
		cmocka_unit_test(test_exec_leaks_no_descriptor),
		cmocka_unit_test(test_exec_rejects_bad_vars_before_running),
		cmocka_unit_test(test_exec_binding_parse),
		cmocka_unit_test(test_exec_exit_codes_and_signal_death),
		cmocka_unit_test(test_exec_not_found_127_not_executable_126),
		cmocka_unit_test(test_exec_stdout_stderr_separate_and_in_order),
		cmocka_unit_test(test_exec_same_output_keeps_2_to_1_order),
		cmocka_unit_test(test_exec_one_byte_at_a_time_is_masked),
		cmocka_unit_test(test_exec_set_x_trace_is_masked),
		cmocka_unit_test(test_exec_binary_output_passes_intact),
		cmocka_unit_test(test_exec_huge_line_is_masked),
		cmocka_unit_test(
		    test_exec_deferred_output_completes_when_nothing_is_ready),
		cmocka_unit_test(test_exec_stdin_pipe_passed_and_devnull),
		cmocka_unit_test(test_exec_child_has_no_controlling_tty),
		cmocka_unit_test(test_exec_pty_tty_output_is_filtered),
		cmocka_unit_test(test_exec_pty_relays_window_size),
		cmocka_unit_test(test_exec_daemonized_grandchild_is_ended),
		cmocka_unit_test(test_exec_stubborn_daemon_gets_no_grace),
		cmocka_unit_test(test_exec_timeout_ends_whole_task),
		cmocka_unit_test(test_exec_cancel_fd_ends_whole_task),
		cmocka_unit_test(test_exec_forwards_int_term_hup),
		cmocka_unit_test(test_exec_preexisting_child_left_alone),
		cmocka_unit_test(test_exec_hooks_report_start_and_exit),
		cmocka_unit_test(test_exec_closed_reader_gives_child_sigpipe),
		cmocka_unit_test(test_exec_stalled_reader_does_not_stall_timeout),
		cmocka_unit_test(test_exec_pty_prompt_answered_quickly),
		cmocka_unit_test(test_exec_pid_namespace_isolates_task),
		cmocka_unit_test(test_exec_unusable_namespace_falls_back),
	};
	char *slash;
	ssize_t n;

	if (sodium_init() < 0)
		return 1;
	n = readlink("/proc/self/exe", probe, sizeof(probe) - 16);
	if (n <= 0)
		return 1;
	probe[n] = '\0';
	if ((slash = strrchr(probe, '/')) == NULL)
		return 1;
	strcpy(slash + 1, "exec_probe");
	return cmocka_run_group_tests(tests, NULL, NULL);
}

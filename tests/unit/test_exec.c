/*
 * Unit tests for src/exec: real fork and exec of /bin/sh and exec_probe.
 *
 * Every run injects a random canary and pipes the output through a real
 * masking filter (mask_*, below: a streaming search that holds back only a
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

#define MASK	"[MASKED]"

/* ---- a real streaming masking filter ------------------------------------ */

struct mask {
	const char	*needle[2];
	size_t		 nneedle;
	unsigned char	 hold[256];
	size_t		 hlen;
	size_t		 writes;
};

static int
mask_write(void *st, const void *p, size_t n, exec_emit_fn emit, void *arg)
{
	struct mask *m = st;
	unsigned char *buf;
	size_t len = m->hlen + n, start = 0, keep = 0, i, k, nl;
	int rc = 0;

	m->writes++;
	if ((buf = malloc(len ? len : 1)) == NULL)
		return -1;
	memcpy(buf, m->hold, m->hlen);
	memcpy(buf + m->hlen, p, n);
	for (;;) {
		unsigned char *best = NULL, *hit;
		size_t bl = 0;

		for (i = 0; i < m->nneedle; i++) {
			nl = strlen(m->needle[i]);
			hit = memmem(buf + start, len - start, m->needle[i], nl);
			if (hit != NULL && (best == NULL || hit < best))
				best = hit, bl = nl;
		}
		if (best == NULL)
			break;
		if ((rc = emit(arg, buf + start, (size_t)(best - buf) -
		    start)) != 0 || (rc = emit(arg, MASK, strlen(MASK))) != 0)
			goto out;
		start = (size_t)(best - buf) + bl;
	}
	/* Hold back the longest tail that could start a value. */
	for (i = 0; i < m->nneedle; i++) {
		nl = strlen(m->needle[i]);
		for (k = nl - 1; k > keep; k--)
			if (k <= len - start &&
			    memcmp(buf + len - k, m->needle[i], k) == 0) {
				keep = k;
				break;
			}
	}
	if ((rc = emit(arg, buf + start, len - start - keep)) != 0)
		goto out;
	memcpy(m->hold, buf + len - keep, keep);
	m->hlen = keep;
out:
	sodium_memzero(buf, len);
	free(buf);
	return rc;
}

static int
mask_finish(void *st, exec_emit_fn emit, void *arg)
{
	struct mask *m = st;
	int rc = emit(arg, m->hold, m->hlen);

	m->hlen = 0;
	return rc;
}

static const struct exec_filter_ops mask_ops = { mask_write, mask_finish };

/* ---- fixtures ----------------------------------------------------------- */

struct t {
	struct exec_spec	 spec;
	struct exec_result	 res;
	struct al_err		 err;
	struct exec_var		 vars[2];
	struct al_secret	*sec[2];
	char			 canary[2][48];
	struct mask		 mo, me;
	int			 outfd, errfd;
	char			*out, *errs;
	size_t			 outn, errn;
	int			 rc;
};

static char probe[PATH_MAX];

static void
make_canary(char *out, size_t n)
{
	unsigned char r[12];
	char hex[25];

	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
	(void)snprintf(out, n, "cnry-%s", hex);
}

static void
t_init(struct t *t)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	exec_spec_init(&t->spec);
	t->outfd = memfd_create("out", MFD_CLOEXEC);
	t->errfd = memfd_create("err", MFD_CLOEXEC);
	assert_true(t->outfd >= 0 && t->errfd >= 0);
	t->spec.in_fd = -1;
	t->spec.out_fd = t->outfd;
	t->spec.err_fd = t->errfd;
	t->spec.grace_ms = 100;
	for (i = 0; i < 2; i++) {
		make_canary(t->canary[i], sizeof(t->canary[i]));
		assert_int_equal(al_secret_from(t->canary[i],
		    strlen(t->canary[i]), &t->sec[i]), 0);
		t->mo.needle[i] = t->me.needle[i] = t->canary[i];
	}
	t->mo.nneedle = t->me.nneedle = 2;
	t->spec.out.ops = t->spec.err.ops = &mask_ops;
	t->spec.out.st = &t->mo;
	t->spec.err.st = &t->me;
}

/* Inject canary i as name (EXEC_VAR_ENV or EXEC_VAR_FILE). */
static void
t_var(struct t *t, const char *name, int i, enum exec_var_kind kind)
{
	t->vars[t->spec.nvars].name = name;
	t->vars[t->spec.nvars].value = t->sec[i];
	t->vars[t->spec.nvars].kind = kind;
	t->spec.nvars++;
	t->spec.vars = t->vars;
}

static char *
slurp(int fd, size_t *n)
{
	struct stat st;
	char *b;

	assert_int_equal(fstat(fd, &st), 0);
	b = malloc((size_t)st.st_size + 1);
	assert_non_null(b);
	assert_int_equal(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
	b[st.st_size] = '\0';
	*n = (size_t)st.st_size;
	return b;
}

/* The canaries must appear nowhere in anything written. */
static void
no_leak(const struct t *t, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < 2; i++)
		assert_null(memmem(b, n, t->canary[i], strlen(t->canary[i])));
}

static void
t_run(struct t *t, char *const *argv)
{
	t->spec.argv = argv;
	t->rc = exec_run(&t->spec, &t->res, &t->err);
	t->out = slurp(t->outfd, &t->outn);
	t->errs = slurp(t->errfd, &t->errn);
	no_leak(t, t->out, t->outn);
	no_leak(t, t->errs, t->errn);
	no_leak(t, t->err.msg, strlen(t->err.msg));
}

static void
t_free(struct t *t)
{
	al_secret_free(t->sec[0]);
	al_secret_free(t->sec[1]);
	free(t->out);
	free(t->errs);
	(void)close(t->outfd);
	(void)close(t->errfd);
}

#define SH(...) ((char *const[]){ "/bin/sh", "-c", __VA_ARGS__, NULL })
#define PROBE(...) ((char *const[]){ probe, __VA_ARGS__, NULL })

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

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
	assert_string_equal(err.msg, "-e expects VAR=SECRET (a variable "
	    "name, '=', a secret name), got 'TOKEN'");
	assert_int_equal(exec_binding_parse("9X=s", "--file", &b, &err),
	    AL_EINVAL);
	assert_string_equal(err.msg, "--file '9X=s': '9X' is not a valid "
	    "variable name (letters, digits and '_', not starting with a "
	    "digit)");
	assert_int_equal(exec_binding_parse("X=", "-e", &b, &err), AL_EINVAL);
	assert_string_equal(err.msg, "-e 'X=': no secret name after '='");
	assert_int_equal(exec_binding_parse("=s", "-e", &b, &err), AL_EINVAL);
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

/* ---- the boundary ------------------------------------------------------- */

/*
 * The caller has a controlling terminal (as airlock run in a shell does);
 * the child must not: it runs in a forked helper that takes a pty as its
 * own controlling terminal first.  Exit codes of the helper tell the step.
 */
static void
test_exec_child_has_no_controlling_tty(void **state)
{
	int m, s, ws, fd;
	pid_t helper;

	(void)state;
	if ((helper = fork()) == 0) {
		struct t t;

		if (setsid() < 0 || (m = posix_openpt(O_RDWR)) < 0 ||
		    grantpt(m) != 0 || unlockpt(m) != 0)
			_exit(10);
		/* Without O_NOCTTY: it becomes our controlling terminal. */
		if ((s = open(ptsname(m), O_RDWR)) < 0)
			_exit(11);
		if ((fd = open("/dev/tty", O_RDWR)) < 0)
			_exit(12);
		(void)close(fd);
		t_init(&t);
		t_var(&t, "TOKEN", 0, EXEC_VAR_ENV);
		t.spec.argv = PROBE("tty", "TOKEN");
		if (exec_run(&t.spec, &t.res, &t.err) != 0 || t.res.status != 0)
			_exit(13);
		t.out = slurp(t.outfd, &t.outn);
		if (strcmp(t.out, "tty: No such device or address\n") != 0)
			_exit(14);
		_exit(0);
	}
	assert_true(helper > 0);
	assert_int_equal(waitpid(helper, &ws, 0), helper);
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 0);
}

static void
test_exec_pty_tty_output_is_filtered(void **state)
{
	struct t t;

	(void)state;
	t_init(&t);
	t.spec.flags = EXEC_PTY;
	t_var(&t, "TOKEN", 0, EXEC_VAR_ENV);
	t_run(&t, PROBE("tty", "TOKEN"));
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.res.status, 0);
	assert_string_equal(t.out, "tty: opened\r\nvia-tty " MASK "\r\n");
	assert_string_equal(t.errs, "");
	t_free(&t);
}

struct winsz {
	int	fd;
	int	rows, cols;
};

static void
resize_outer(void *arg, pid_t pid)
{
	struct winsz *w = arg;
	struct winsize ws = { .ws_row = (unsigned short)w->rows,
	    .ws_col = (unsigned short)w->cols };

	(void)pid;
	(void)ioctl(w->fd, TIOCSWINSZ, &ws);
}

/*
 * The pty starts with the caller's terminal size and follows it on
 * SIGWINCH: the outer terminal is resized once the child runs, then the
 * child sends SIGWINCH to its parent as a window manager would.
 */
static void
test_exec_pty_relays_window_size(void **state)
{
	struct winsize ws = { .ws_row = 33, .ws_col = 99 };
	struct winsz w;
	struct termios tio;
	char buf[512];
	struct t t;
	ssize_t n;
	int m, s;

	(void)state;
	assert_true((m = posix_openpt(O_RDWR | O_NOCTTY)) >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	assert_true((s = open(ptsname(m), O_RDWR | O_NOCTTY)) >= 0);
	assert_int_equal(ioctl(m, TIOCSWINSZ, &ws), 0);
	assert_int_equal(tcgetattr(s, &tio), 0);
	cfmakeraw(&tio);
	assert_int_equal(tcsetattr(s, TCSANOW, &tio), 0);
	w.fd = m;
	w.rows = 40;
	w.cols = 120;
	t_init(&t);
	t.spec.flags = EXEC_PTY;
	t.spec.out_fd = s;
	t.spec.hooks.started = resize_outer;
	t.spec.hooks.arg = &w;
	t_run(&t, SH("stty size; kill -WINCH $PPID; sleep 0.1; stty size"));
	assert_int_equal(t.res.status, 0);
	(void)fcntl(m, F_SETFL, O_NONBLOCK);
	n = read(m, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "33 99\r\n40 120\r\n");
	t_free(&t);
	(void)close(s);
	(void)close(m);
}

static int
proc_alive(pid_t pid)
{
	char path[64];

	(void)snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return access(path, F_OK) == 0;
}

static void
daemon_case(int stubborn)
{
	struct t t;
	int daemon_pid = 0;
	size_t n1;
	char *again;

	t_init(&t);
	t_var(&t, "TOKEN", 0, EXEC_VAR_ENV);
	t_run(&t, stubborn ? PROBE("daemon", "TOKEN", "stubborn") :
	    PROBE("daemon", "TOKEN"));
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.res.status, 0);
	assert_int_equal(sscanf(t.out, "daemon pid=%d\n", &daemon_pid), 1);
	assert_true(daemon_pid > 0);
	assert_non_null(strstr(t.out, "\ntick " MASK "\n"));
	assert_false(proc_alive(daemon_pid));
	assert_int_equal(t.res.ended, 1);
	assert_int_equal(t.res.killed, stubborn ? 1 : 0);
	if (stubborn)
		assert_true(t.res.elapsed_ms >= 100);
	assert_true(t.res.elapsed_ms < 2000);
	/* Nothing more arrives after exec_run returned. */
	n1 = t.outn;
	(void)poll(NULL, 0, 30);
	again = slurp(t.outfd, &n1);
	assert_int_equal(n1, t.outn);
	no_leak(&t, again, n1);
	free(again);
	t_free(&t);
}

static void
test_exec_daemonized_grandchild_is_ended(void **state)
{
	(void)state;
	daemon_case(0);
}

static void
test_exec_stubborn_daemon_gets_sigkill(void **state)
{
	(void)state;
	daemon_case(1);
}

static void
test_exec_timeout_ends_whole_task(void **state)
{
	struct t t;

	(void)state;
	t_init(&t);
	t.spec.timeout_ms = 200;
	t_run(&t, SH("sleep 10 & sleep 10; echo never"));
	assert_int_equal(t.rc, 0);
	assert_true(t.res.timed_out);
	assert_int_equal(t.res.status, 128 + SIGTERM);
	assert_int_equal(t.res.ended, 3);
	assert_true(t.res.elapsed_ms >= 200 && t.res.elapsed_ms < 2000);
	assert_string_equal(t.out, "");
	t_free(&t);
}

static void
test_exec_forwards_int_term_hup(void **state)
{
	static const char *sigs[] = { "INT", "TERM", "HUP" };
	char script[256], want[32];
	struct t t;
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		/* The child signals us; exec_run must pass it back down. */
		(void)snprintf(script, sizeof(script), "trap 'echo got-%s; "
		    "exit 7' %s; kill -%s $PPID; sleep 3 & wait", sigs[i],
		    sigs[i], sigs[i]);
		(void)snprintf(want, sizeof(want), "got-%s\n", sigs[i]);
		t_init(&t);
		t_run(&t, SH(script));
		assert_int_equal(t.rc, 0);
		assert_int_equal(t.res.status, 7);
		assert_string_equal(t.out, want);
		assert_true(t.res.elapsed_ms < 2000);
		t_free(&t);
	}
}

/* ---- the caller's side -------------------------------------------------- */

static void
test_exec_preexisting_child_left_alone(void **state)
{
	struct t t;
	pid_t other;
	int ws;

	(void)state;
	if ((other = fork()) == 0) {
		usleep(150 * 1000);
		_exit(42);
	}
	assert_true(other > 0);
	t_init(&t);
	t_run(&t, SH("sleep 0.3 &"));
	assert_int_equal(t.res.ended, 1);
	t_free(&t);
	assert_int_equal(waitpid(other, &ws, 0), other);
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 42);
}

struct hooks_seen {
	pid_t	started;
	int	exited_status;
	int	calls;
};

static void
on_started(void *arg, pid_t pid)
{
	struct hooks_seen *h = arg;

	h->started = pid;
	h->calls++;
}

static void
on_exited(void *arg, const struct exec_result *r)
{
	struct hooks_seen *h = arg;

	h->exited_status = r->status;
	h->calls += 10;
}

static void
test_exec_hooks_report_start_and_exit(void **state)
{
	struct hooks_seen h = { 0, -1, 0 };
	struct t t;

	(void)state;
	t_init(&t);
	t.spec.hooks.started = on_started;
	t.spec.hooks.child_exited = on_exited;
	t.spec.hooks.arg = &h;
	t_run(&t, SH("exit 5"));
	assert_int_equal(h.calls, 11);
	assert_int_equal(h.started, t.res.pid);
	assert_int_equal(h.exited_status, 5);
	t_free(&t);
}

static void
test_exec_closed_reader_gives_child_sigpipe(void **state)
{
	struct t t;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	(void)close(p[0]);
	t_init(&t);
	t.spec.out_fd = p[1];
	t_run(&t, SH("yes"));
	assert_int_equal(t.rc, 0);
	assert_int_equal(t.res.status, 128 + SIGPIPE);
	(void)close(p[1]);
	t_free(&t);
}

static void
test_exec_stalled_reader_does_not_stall_timeout(void **state)
{
	struct t t;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	t_init(&t);
	t.spec.out_fd = p[1];
	t.spec.timeout_ms = 200;
	t_run(&t, SH("yes"));
	assert_int_equal(t.rc, 0);
	assert_true(t.res.timed_out);
	assert_int_equal(t.res.status, 128 + SIGTERM);
	assert_true(t.res.dropped > 0);
	assert_true(t.res.elapsed_ms < 2000);
	(void)close(p[0]);
	(void)close(p[1]);
	t_free(&t);
}

/*
 * An interactive prompt through the pty: a separate "user" process reads
 * the output, answers the prompt and reports how long the prompt took.
 */
static void
test_exec_pty_prompt_answered_quickly(void **state)
{
	int in[2], out[2], rep[2], ws;
	char buf[4096], report[4200];
	size_t got = 0;
	long long t0, lat = -1;
	struct t t;
	pid_t user;
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(rep), 0);
	if ((user = fork()) == 0) {
		char *p;

		(void)close(in[0]);
		(void)close(out[1]);
		(void)close(rep[0]);
		while ((n = read(out[0], buf + got, sizeof(buf) - 1 - got)) >
		    0) {
			got += (size_t)n;
			buf[got] = '\0';
			if (lat < 0 && (p = strstr(buf, "Password: ")) != NULL &&
			    sscanf(buf, "t0=%lld", &t0) == 1) {
				lat = (mono_ns() - t0) / 1000;
				(void)!write(in[1], "hunter2\n", 8);
			}
		}
		n = snprintf(report, sizeof(report), "%lld\n%s", lat, buf);
		(void)!write(rep[1], report, (size_t)n);
		_exit(0);
	}
	(void)close(in[1]);
	(void)close(out[0]);
	(void)close(rep[1]);
	t_init(&t);
	t.spec.flags = EXEC_PTY;
	t.spec.in_fd = in[0];
	t.spec.out_fd = out[1];
	t.spec.timeout_ms = 5000;
	t_run(&t, PROBE("prompt"));
	(void)close(out[1]);
	(void)close(in[0]);
	assert_int_equal(t.rc, 0);
	assert_false(t.res.timed_out);
	assert_int_equal(t.res.status, 0);
	n = read(rep[0], report, sizeof(report) - 1);
	assert_true(n > 0);
	report[n] = '\0';
	assert_int_equal(waitpid(user, &ws, 0), user);
	(void)close(rep[0]);
	assert_int_equal(sscanf(report, "%lld", &lat), 1);
	print_message("prompt latency: %lld us\n", lat);
	assert_true(lat >= 0 && lat < 50000);
	assert_non_null(strstr(report, "Password: hunter2\r\ngot 7\r\n"));
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
		cmocka_unit_test(test_exec_stdin_pipe_passed_and_devnull),
		cmocka_unit_test(test_exec_child_has_no_controlling_tty),
		cmocka_unit_test(test_exec_pty_tty_output_is_filtered),
		cmocka_unit_test(test_exec_pty_relays_window_size),
		cmocka_unit_test(test_exec_daemonized_grandchild_is_ended),
		cmocka_unit_test(test_exec_stubborn_daemon_gets_sigkill),
		cmocka_unit_test(test_exec_timeout_ends_whole_task),
		cmocka_unit_test(test_exec_forwards_int_term_hup),
		cmocka_unit_test(test_exec_preexisting_child_left_alone),
		cmocka_unit_test(test_exec_hooks_report_start_and_exit),
		cmocka_unit_test(test_exec_closed_reader_gives_child_sigpipe),
		cmocka_unit_test(test_exec_stalled_reader_does_not_stall_timeout),
		cmocka_unit_test(test_exec_pty_prompt_answered_quickly),
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

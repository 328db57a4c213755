/* The masking filter and run fixture of test_exec (see exec_fixture.h). */
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

/* ---- a real streaming masking filter ------------------------------------ */

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

const struct exec_filter_ops mask_ops = { mask_write, mask_finish, NULL,
    NULL, NULL };

/* ---- fixtures ----------------------------------------------------------- */

char probe[PATH_MAX];

void
make_canary(char *out, size_t n)
{
	unsigned char r[12];
	char hex[25];

	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
	(void)snprintf(out, n, "cnry-%s", hex);
}

void
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
void
t_var(struct t *t, const char *name, int i, enum exec_var_kind kind)
{
	t->vars[t->spec.nvars].name = name;
	t->vars[t->spec.nvars].value = t->sec[i];
	t->vars[t->spec.nvars].kind = kind;
	t->spec.nvars++;
	t->spec.vars = t->vars;
}

char *
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
void
no_leak(const struct t *t, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < 2; i++)
		assert_null(memmem(b, n, t->canary[i], strlen(t->canary[i])));
}

void
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

void
t_free(struct t *t)
{
	al_secret_free(t->sec[0]);
	al_secret_free(t->sec[1]);
	free(t->out);
	free(t->errs);
	(void)close(t->outfd);
	(void)close(t->errfd);
}

int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}


/*
 * exec_bench: the cost of the exec boundary (bench/exec.sh drives it).
 *
 *   exec_bench true N     N runs of /bin/true, plain fork+execve+waitpid
 *                         against exec_run; prints the medians in ms
 *   exec_bench cat FILE   exec_run of `cat FILE` through a pass-through
 *                         filter to stdout (time it from outside)
 *   exec_bench catraw FILE  the same with no filter at all
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "airlock/exec.h"

extern char **environ;

/* Lets every byte through, but through the filter interface. */
static int
pass_write(void *st, const void *p, size_t n, exec_emit_fn emit, void *arg)
{
	(void)st;
	return emit(arg, p, n);
}

static int
pass_finish(void *st, exec_emit_fn emit, void *arg)
{
	(void)st;
	(void)emit;
	(void)arg;
	return 0;
}

static const struct exec_filter_ops pass_ops = { pass_write, pass_finish,
    NULL, NULL, NULL };

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int
run(char *const *argv, int out, int filtered, int flags,
    struct exec_result *res)
{
	struct exec_spec spec;
	struct al_err err;
	int rc;

	exec_spec_init(&spec);
	spec.argv = argv;
	spec.in_fd = -1;
	spec.out_fd = out;
	spec.err_fd = 2;
	spec.flags = flags;
	if (filtered) {
		spec.out.ops = spec.err.ops = &pass_ops;
	}
	if ((rc = exec_run(&spec, res, &err)) != 0)
		fprintf(stderr, "exec_bench: %s\n", err.msg);
	return rc;
}

static int
bench_true(long n)
{
	char *const argv[] = { "/bin/true", NULL };
	struct exec_result res;
	double *plain, *boxed, *nons, t;
	enum exec_isolation iso = EXEC_ISOLATION_NONE;
	int devnull, ws;
	long i;
	pid_t pid;

	plain = calloc((size_t)n, sizeof(double));
	boxed = calloc((size_t)n, sizeof(double));
	nons = calloc((size_t)n, sizeof(double));
	if (plain == NULL || boxed == NULL || nons == NULL ||
	    (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		return 1;
	/* The three alternate, so the load of the machine weighs alike. */
	for (i = 0; i < n; i++) {
		t = now_ms();
		if ((pid = fork()) == 0) {
			execve(argv[0], argv, environ);
			_exit(127);
		}
		waitpid(pid, &ws, 0);
		plain[i] = now_ms() - t;
		t = now_ms();
		if (run(argv, devnull, 1, 0, &res) != 0 || res.status != 0)
			return 1;
		boxed[i] = now_ms() - t;
		iso = res.isolation;
		t = now_ms();
		if (run(argv, devnull, 1, EXEC_NO_NAMESPACE, &res) != 0 ||
		    res.status != 0)
			return 1;
		nons[i] = now_ms() - t;
	}
	printf("true: fork+exec median %.3f ms, exec_run median %.3f ms "
	    "(%s), added %.3f ms; without namespaces %.3f ms, added %.3f ms "
	    "(%ld runs)\n", median(plain, (size_t)n),
	    median(boxed, (size_t)n), exec_isolation_name(iso),
	    median(boxed, (size_t)n) - median(plain, (size_t)n),
	    median(nons, (size_t)n), median(nons, (size_t)n) -
	    median(plain, (size_t)n), n);
	free(plain);
	free(boxed);
	free(nons);
	return 0;
}

int
main(int argc, char **argv)
{
	struct exec_result res;

	if (sodium_init() < 0)
		return 1;
	if (argc == 3 && strcmp(argv[1], "true") == 0)
		return bench_true(strtol(argv[2], NULL, 10));
	if (argc == 3 && (strcmp(argv[1], "cat") == 0 ||
	    strcmp(argv[1], "catraw") == 0)) {
		char *const cat[] = { "cat", argv[2], NULL };

		if (run(cat, 1, strcmp(argv[1], "cat") == 0, 0, &res) != 0)
			return 1;
		return res.status;
	}
	fprintf(stderr, "usage: exec_bench true N | cat FILE | catraw FILE\n");
	return 2;
}

/*
 * exec_probe: a child for test_exec and bench/exec.  Each mode does one
 * thing a command inside the boundary might do, and prints what it saw.
 * Values come from the environment (VAR names it), never from argv.
 *
 *   fds               list the open descriptors
 *   memfd VAR         inspect the file whose path is in $VAR, print it
 *   tty VAR           open /dev/tty; write $VAR to it when that works
 *   binary VAR        bytes 0..255, $VAR, bytes 255..0
 *   drip VAR USEC     "before:$VAR:after\n" one byte at a time
 *   hugeline VAR N    N 'a', $VAR, N 'b', "\n" in one line
 *   prompt            "t0=<monotonic ns>\nPassword: ", read a line
 *   daemon VAR [stubborn]  double fork + setsid; the daemon prints its pid
 *                     and then "tick $VAR" every 2 ms forever
 *   true              exit 0 (benchmarks)
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *
val(const char *var)
{
	const char *v = getenv(var);

	if (v == NULL) {
		fprintf(stderr, "exec_probe: %s is not set\n", var);
		exit(99);
	}
	return v;
}

static void
put(int fd, const void *p, size_t n)
{
	const char *b = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, b, n)) < 0) {
			if (errno == EINTR)
				continue;
			exit(98);
		}
		b += w;
		n -= (size_t)w;
	}
}

static int
do_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int fds[256], n = 0, i, j, t;

	if (d == NULL)
		return 97;
	while ((de = readdir(d)) != NULL && n < 256) {
		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
			continue;
		fds[n++] = atoi(de->d_name);
	}
	closedir(d);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (fds[j] < fds[i])
				t = fds[i], fds[i] = fds[j], fds[j] = t;
	printf("fds:");
	for (i = 0; i < n; i++)
		printf(" %d", fds[i]);
	printf("\n");
	return 0;
}

static int
do_memfd(const char *var)
{
	const char *path = val(var);
	char link[256], lp[64], buf[4096];
	ssize_t n;
	int fd, nfd, seals;

	printf("path: %s\n", path);
	if (sscanf(path, "/dev/fd/%d", &fd) != 1)
		return 96;
	(void)snprintf(lp, sizeof(lp), "/proc/self/fd/%d", fd);
	n = readlink(lp, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	printf("link: %s\n", link);
	seals = fcntl(fd, F_GET_SEALS);
	printf("seals: %s%s%s%s\n", seals & F_SEAL_SEAL ? "seal " : "",
	    seals & F_SEAL_SHRINK ? "shrink " : "",
	    seals & F_SEAL_GROW ? "grow " : "",
	    seals & F_SEAL_WRITE ? "write" : "");
	printf("write: %s\n", pwrite(fd, "x", 1, 0) < 0 ? strerror(errno) :
	    "allowed");
	printf("truncate: %s\n", ftruncate(fd, 0) < 0 ? strerror(errno) :
	    "allowed");
	fflush(stdout);
	if ((nfd = open(path, O_RDONLY)) < 0)
		return 95;
	put(1, "value: ", 7);
	while ((n = read(nfd, buf, sizeof(buf))) > 0)
		put(1, buf, (size_t)n);
	put(1, "\n", 1);
	return 0;
}

static int
do_tty(const char *var)
{
	int fd = open("/dev/tty", O_RDWR);

	if (fd < 0) {
		printf("tty: %s\n", strerror(errno));
		return 0;
	}
	printf("tty: opened\n");
	fflush(stdout);
	put(fd, "via-tty ", 8);
	put(fd, val(var), strlen(val(var)));
	put(fd, "\n", 1);
	return 0;
}

static int
do_binary(const char *var)
{
	unsigned char b[256];
	int i;

	for (i = 0; i < 256; i++)
		b[i] = (unsigned char)i;
	put(1, b, 256);
	put(1, val(var), strlen(val(var)));
	for (i = 0; i < 256; i++)
		b[i] = (unsigned char)(255 - i);
	put(1, b, 256);
	return 0;
}

static int
do_drip(const char *var, const char *usec)
{
	char line[512];
	int n, i;

	n = snprintf(line, sizeof(line), "before:%s:after\n", val(var));
	for (i = 0; i < n; i++) {
		put(1, line + i, 1);
		usleep((useconds_t)atoi(usec));
	}
	return 0;
}

static int
do_hugeline(const char *var, const char *count)
{
	size_t n = (size_t)atol(count);
	char *b = malloc(n);

	if (b == NULL)
		return 94;
	memset(b, 'a', n);
	put(1, b, n);
	put(1, val(var), strlen(val(var)));
	memset(b, 'b', n);
	put(1, b, n);
	put(1, "\n", 1);
	free(b);
	return 0;
}

static int
do_prompt(void)
{
	struct timespec ts;
	char line[256], out[128];
	int n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(out, sizeof(out), "t0=%lld\nPassword: ",
	    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	put(1, out, (size_t)n);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return 93;
	line[strcspn(line, "\r\n")] = '\0';
	printf("got %zu\n", strlen(line));
	return 0;
}

static int
do_daemon(const char *var, int stubborn)
{
	char line[256];
	int sync[2], n;
	pid_t pid;

	if (pipe(sync) != 0)
		return 92;
	if ((pid = fork()) < 0)
		return 91;
	if (pid == 0) {
		if (setsid() < 0 || (pid = fork()) < 0)
			_exit(90);
		if (pid > 0)
			_exit(0);
		if (stubborn)
			signal(SIGTERM, SIG_IGN);
		n = snprintf(line, sizeof(line), "daemon pid=%d\n",
		    (int)getpid());
		put(1, line, (size_t)n);
		n = snprintf(line, sizeof(line), "tick %s\n", val(var));
		put(1, line, (size_t)n);
		put(sync[1], "x", 1);
		close(sync[1]);
		for (;;) {
			usleep(2000);
			put(1, line, (size_t)n);
		}
	}
	close(sync[1]);
	if (read(sync[0], line, 1) != 1)
		return 89;
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "fds") == 0)
		return do_fds();
	if (argc >= 3 && strcmp(argv[1], "memfd") == 0)
		return do_memfd(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "tty") == 0)
		return do_tty(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "binary") == 0)
		return do_binary(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "drip") == 0)
		return do_drip(argv[2], argv[3]);
	if (argc >= 4 && strcmp(argv[1], "hugeline") == 0)
		return do_hugeline(argv[2], argv[3]);
	if (argc >= 2 && strcmp(argv[1], "prompt") == 0)
		return do_prompt();
	if (argc >= 3 && strcmp(argv[1], "daemon") == 0)
		return do_daemon(argv[2], argc >= 4);
	if (argc >= 2 && strcmp(argv[1], "true") == 0)
		return 0;
	fprintf(stderr, "usage: exec_probe MODE [ARGS]\n");
	return 2;
}

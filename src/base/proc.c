/*
 * Process hardening applied at the start of every airlock process, and
 * what /proc says of a process.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/base.h"

int
al_process_harden(struct al_err *err)
{
	struct rlimit rl = { 0, 0 };
	int fd;

	/* Core dumps would write guarded memory to disk. */
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return al_err_set(err, AL_ESYS, "cannot disable core dumps: %s",
		    strerror(errno));
	/*
	 * Not dumpable: no core file even if a limit is raised later, and
	 * other processes of the same user cannot ptrace us or read
	 * /proc/PID/mem.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return al_err_set(err, AL_ESYS, "cannot mark the process "
		    "non-dumpable: %s", strerror(errno));
	(void)umask(077);
	/*
	 * If stdin, stdout or stderr were closed by our parent, the next
	 * open() would take that number and a printf could land in the vault.
	 * Point them at /dev/null instead (as OpenSSH's sanitise_stdfd).
	 */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd < 0)
		return al_err_set(err, AL_ESYS, "cannot open /dev/null: %s",
		    strerror(errno));
	(void)close(fd);
	return 0;
}

int
al_parse_digits(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int
al_proc_stat_parse(const char *text, struct al_proc_stat *st)
{
	const char *p, *tok;
	uint64_t v;
	size_t len;
	int field;

	memset(st, 0, sizeof(*st));
	/* "pid (comm) S ppid ...": the last ')' ends the command name. */
	if ((p = strrchr(text, ')')) == NULL || p[1] != ' ' || p[2] == '\0')
		return -EINVAL;
	p += 2;
	for (field = 3; *p != '\0' && field <= 22; field++) {
		tok = p;
		len = strcspn(p, " \n");
		p += len;
		if (*p == ' ')
			p++;
		if (field == 3) {
			if (len != 1)
				return -EINVAL;
			st->state = tok[0];
		} else if (field >= 4 && field <= 7) {
			if (al_parse_digits(tok, len, &v) != 0 || v > INT_MAX)
				return -EINVAL;
			if (field == 4)
				st->ppid = (pid_t)v;
			else if (field == 5)
				st->pgrp = (pid_t)v;
			else if (field == 6)
				st->session = (pid_t)v;
			else
				st->tty = (int)v;
		} else if (field == 22) {
			if (al_parse_digits(tok, len, &v) != 0)
				return -EINVAL;
			st->start = v;
			return 0;
		}
	}
	return -EINVAL;
}

int
al_proc_read_at(int dirfd, const char *name, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	int fd, rc = 0;

	buf[0] = '\0';
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	while (n < cap - 1) {
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	(void)close(fd);
	buf[n] = '\0';
	return rc;
}

int
al_proc_stat_at(int dirfd, struct al_proc_stat *st)
{
	char buf[1024];
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = al_proc_read_at(dirfd, "stat", buf, sizeof(buf))) != 0)
		return rc;
	return al_proc_stat_parse(buf, st);
}

int
al_proc_stat(pid_t pid, struct al_proc_stat *st)
{
	char path[32];
	int fd, rc;

	memset(st, 0, sizeof(*st));
	if (pid <= 0)
		return -ESRCH;
	(void)snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	rc = al_proc_stat_at(fd, st);
	(void)close(fd);
	return rc;
}

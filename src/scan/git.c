/*
 * Running git: a child with its output on a pipe (posix_spawn, no shell),
 * capturing short outputs, reading its output by lines and exact byte
 * counts, parsing commit lines, and undoing git's path quoting.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scan_int.h"
#include "run_int.h"

extern char **environ;

int
scan_child_start(const char *dir, char *const argv[], int flags,
    struct scan_child *c, struct al_err *err)
{
	int want_stdin = flags & SCAN_CHILD_STDIN;
	posix_spawn_file_actions_t fa;
	char **av = NULL;
	int out[2] = { -1, -1 }, in[2] = { -1, -1 }, rc = 0, n, i, k;
	pid_t pid;

	c->pid = -1;
	c->out_fd = c->in_fd = -1;
	for (n = 0; argv[n] != NULL; n++)
		;
	/* git -C dir ARGS... : posix_spawn has no portable chdir. */
	if ((av = calloc((size_t)n + 3, sizeof(*av))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	k = 0;
	av[k++] = argv[0];
	if (dir != NULL) {
		av[k++] = "-C";
		av[k++] = (char *)dir;
	}
	for (i = 1; i < n; i++)
		av[k++] = argv[i];
	av[k] = NULL;
	if (pipe2(out, O_CLOEXEC) == -1 ||
	    (want_stdin && pipe2(in, O_CLOEXEC) == -1)) {
		rc = al_err_set(err, AL_ESYS, "pipe: %s", strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	if (want_stdin)
		posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	else
		posix_spawn_file_actions_addopen(&fa, STDIN_FILENO,
		    "/dev/null", O_RDONLY, 0);
	if (flags & SCAN_CHILD_QUIET)
		posix_spawn_file_actions_addopen(&fa, STDERR_FILENO,
		    "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, av, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		rc = al_err_set(err, AL_ESYS, "cannot run %s: %s", argv[0],
		    strerror(rc));
		goto out;
	}
	c->pid = pid;
	/*
	 * A bigger pipe means fewer round trips between git and us: with the
	 * default 64 KiB, streaming a history spends more time switching
	 * than copying.  Best effort (the limit is pipe-max-size).
	 */
	(void)fcntl(out[0], F_SETPIPE_SZ, 1024 * 1024);
	c->pid = pid;
	c->out_fd = out[0];
	out[0] = -1;
	if (want_stdin) {
		c->in_fd = in[1];
		in[1] = -1;
	}
out:
	for (i = 0; i < 2; i++) {
		if (out[i] != -1)
			(void)close(out[i]);
		if (in[i] != -1)
			(void)close(in[i]);
	}
	free(av);
	return rc;
}

int
scan_child_finish(struct scan_child *c, const char *what, struct al_err *err)
{
	int st, rc = 0;

	if (c->in_fd != -1)
		(void)close(c->in_fd);
	if (c->out_fd != -1)
		(void)close(c->out_fd);
	c->in_fd = c->out_fd = -1;
	if (c->pid <= 0)
		return 0;
	while (waitpid(c->pid, &st, 0) == -1)
		if (errno != EINTR)
			return al_err_set(err, AL_ESYS, "waitpid: %s",
			    strerror(errno));
	c->pid = -1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		rc = al_err_set(err, AL_EIO, "%s failed (exit %d; git's message "
		    "is above)", what, WEXITSTATUS(st));
	else
		rc = al_err_set(err, AL_EIO, "%s was killed by signal %d", what,
		    WTERMSIG(st));
	return rc;
}

int
scan_git_maybe(const char *dir)
{
	char path[PATH_MAX + 8], *slash;
	struct stat st;
	size_t n;

	if (getenv("GIT_DIR") != NULL || getenv("GIT_WORK_TREE") != NULL)
		return 1;
	if (realpath(dir, path) == NULL)
		return 1;	/* let git say what is wrong */
	for (;;) {
		n = strlen(path);
		(void)snprintf(path + n, sizeof(path) - n, "%s.git",
		    n > 0 && path[n - 1] == '/' ? "" : "/");
		if (lstat(path, &st) == 0)
			return 1;
		path[n] = '\0';
		if ((slash = strrchr(path, '/')) == NULL || n <= 1)
			return 0;
		slash[slash == path ? 1 : 0] = '\0';
	}
}

int
scan_git_capture(const char *dir, char *const argv[], int flags,
    size_t max, struct al_buf *out, struct al_err *err)
{
	struct scan_child c;
	char chunk[8192];
	ssize_t n;
	int rc, frc;

	al_buf_init(out, max, 0);
	if ((rc = scan_child_start(dir, argv, flags & SCAN_CHILD_QUIET, &c,
	    err)) != 0)
		return rc;
	for (;;) {
		n = read(c.out_fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (rc == 0 && al_buf_append(out, chunk, (size_t)n) != 0)
			rc = al_err_set(err, AL_ETOOBIG, "git %s printed over "
			    "%zu bytes", argv[1], max);
	}
	frc = scan_child_finish(&c, argv[1], rc == 0 ? err : NULL);
	if (rc == 0)
		rc = frc;
	if (rc != 0)
		al_buf_release(out);
	return rc;
}

void
run_git_unquote(char *s)
{
	char *o = s, *p = s;
	int v, k;

	if (*p != '"')
		return;
	for (p++; *p && *p != '"'; p++) {
		if (*p != '\\' || p[1] == '\0') {
			*o++ = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case 'a': *o++ = '\a'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'v': *o++ = '\v'; break;
		default:
			if (*p >= '0' && *p <= '3') {
				for (v = 0, k = 0; k < 3 && p[k] >= '0' &&
				    p[k] <= '7'; k++)
					v = v * 8 + (p[k] - '0');
				*o++ = (char)v;
				p += k - 1;
			} else
				*o++ = *p;
		}
	}
	*o = '\0';
}

/* ---- reading git's output ------------------------------------------- */

static int
reader_fill(struct run_reader *rd)
{
	ssize_t n;

	if (rd->start > 0) {
		memmove(rd->buf, rd->buf + rd->start, rd->end - rd->start);
		rd->end -= rd->start;
		rd->start = 0;
	}
	for (;;) {
		n = read(rd->fd, rd->buf + rd->end, rd->cap - rd->end);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			rd->eof = 1;
			return n == 0 ? 0 : AL_EIO;
		}
		rd->end += (size_t)n;
		return 0;
	}
}

/*
 * Next line without its newline, NUL-terminated in place; NULL at the end.
 * A line longer than the buffer is cut (the rest comes as another line):
 * diff lines that long are minified code, and a token is never that long.
 */
char *
run_reader_line(struct run_reader *rd, size_t *len)
{
	unsigned char *nl;
	char *s;

	for (;;) {
		nl = memchr(rd->buf + rd->start, '\n', rd->end - rd->start);
		if (nl != NULL)
			break;
		if (rd->eof || rd->end - rd->start >= rd->cap - 1) {
			if (rd->end == rd->start)
				return NULL;
			nl = rd->buf + rd->end;
			break;
		}
		if (reader_fill(rd) != 0 && rd->end == rd->start)
			return NULL;
	}
	s = (char *)rd->buf + rd->start;
	*len = (size_t)(nl - (rd->buf + rd->start));
	rd->start += *len + (nl < rd->buf + rd->end ? 1 : 0);
	s[*len] = '\0';
	return s;
}

/* Copy exactly n bytes into out (or drop them when out is NULL). */
int
run_reader_bytes(struct run_reader *rd, unsigned char *out, size_t n)
{
	size_t take;

	ssize_t got;

	while (n > 0) {
		if (rd->end == rd->start && out != NULL && n >= 64 * 1024 &&
		    !rd->eof) {
			/* A big blob goes straight where it is wanted. */
			got = read(rd->fd, out, n);
			if (got == -1 && errno == EINTR)
				continue;
			if (got <= 0)
				return AL_EIO;
			out += got;
			n -= (size_t)got;
			continue;
		}
		if (rd->end == rd->start) {
			if (rd->eof || reader_fill(rd) != 0 ||
			    rd->end == rd->start)
				return AL_EIO;
		}
		take = rd->end - rd->start < n ? rd->end - rd->start : n;
		if (out != NULL) {
			memcpy(out, rd->buf + rd->start, take);
			out += take;
		}
		rd->start += take;
		n -= take;
	}
	return 0;
}

const unsigned char *
run_reader_peek(struct run_reader *rd, size_t n)
{
	if (n > rd->cap)
		return NULL;
	while (rd->end - rd->start < n) {
		/* reader_fill moves what is left to the front first. */
		if (rd->eof || reader_fill(rd) != 0)
			return NULL;
	}
	return rd->buf + rd->start;
}

/* "ID\x1fAuthor <mail>\x1fDate" into a new commit owned by the report. */
int
run_git_commit(struct run *r, char *s, const struct scan_commit **out)
{
	struct scan_commit *c;
	char *a, *d;

	*out = NULL;
	if ((a = strchr(s, RUN_FIELD_SEP)) == NULL ||
	    (d = strchr(a + 1, RUN_FIELD_SEP)) == NULL)
		return AL_EPROTO;
	*a++ = '\0';
	*d++ = '\0';
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return AL_ENOMEM;
	c->id = strdup(s);
	c->author = strdup(a);
	c->date = strdup(d);
	if (c->id == NULL || c->author == NULL || c->date == NULL ||
	    run_add_commit(r, c) != 0) {
		free(c->id);
		free(c->author);
		free(c->date);
		free(c);
		return AL_ENOMEM;
	}
	*out = c;
	return 0;
}

/*
 * The repository a caller works in: the git remote of its working
 * directory, read broker-side through /proc/PID/cwd, walking up through
 * directory descriptors so that a renamed or deleted path cannot mislead
 * it.  These are files the caller controls, read on the broker's one
 * thread, so the work is bounded as a whole, not per file: at most
 * REPO_LEVELS_MAX directories and REPO_BYTES_MAX bytes for one lookup (a
 * real checkout needs a few kilobytes), then the repository is unknown.  It
 * is looked up only when the policy has a rule naming repositories, once
 * per connection, and cached by working directory for REPO_CACHE_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/policy.h"
#include "http_int.h"

#define REPO_LEVELS_MAX	64		/* directories walked up */
#define REPO_BYTES_MAX	(96 * 1024)	/* read for one lookup, in all */
#define GITDIR_MAX	4096		/* a .git file or commondir */
#define CONFIG_MAX	(64 * 1024)	/* a config */
#define REPO_CACHE_N	128
#define REPO_CACHE_MS	5000

struct repo_entry {
	dev_t		dev;
	ino_t		ino;
	int64_t		at_ms;		/* 0: empty */
	int		found;
	int		unknown;	/* the walk hit its bounds */
	char		repo[512];
};

struct repo_cache {
	struct repo_entry	e[REPO_CACHE_N];
	size_t			next;	/* replaced next when full */
};

int
repo_cache_new(struct repo_cache **out)
{
	*out = calloc(1, sizeof(**out));
	return *out == NULL ? AL_ENOMEM : 0;
}

void
repo_cache_free(struct repo_cache *rc)
{
	free(rc);
}

/*
 * Read a regular file at dfd/name into buf (NUL-terminated), at most
 * bufsz - 1 bytes and what is left of *budget.  Never blocks on a FIFO or
 * device a caller planted: O_NONBLOCK, then only S_ISREG.
 */
static int
read_small(int dfd, const char *name, char *buf, size_t bufsz,
    size_t *budget)
{
	struct stat st;
	ssize_t n;
	size_t got = 0, want = bufsz - 1;
	int fd, rc = -1;

	if (*budget == 0)
		return -1;
	if (want > *budget)
		want = *budget;
	fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	while (got < want) {
		n = read(fd, buf + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	*budget -= got;
	buf[got] = '\0';
	rc = 0;
out:
	(void)close(fd);
	return rc;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/*
 * The url of remote "origin" in a git config text, else of the first
 * remote that has one.  Copied into out; 0 if found.
 */
static int
config_remote(char *text, char *out, size_t outsz)
{
	char *line, *save = NULL, *k, *v, first[512] = "";
	int in_remote = 0, is_origin = 0;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		line = trim(line);
		if (line[0] == '[') {
			in_remote = strncmp(line, "[remote \"", 9) == 0;
			is_origin = strcmp(line, "[remote \"origin\"]") == 0;
			continue;
		}
		if (!in_remote || (v = strchr(line, '=')) == NULL)
			continue;
		*v++ = '\0';
		k = trim(line);
		v = trim(v);
		if (strcmp(k, "url") != 0 || *v == '\0')
			continue;
		if (is_origin)
			return snprintf(out, outsz, "%s", v) <
			    (int)outsz ? 0 : -1;
		if (first[0] == '\0')
			(void)snprintf(first, sizeof(first), "%s", v);
	}
	if (first[0] == '\0')
		return -1;
	return snprintf(out, outsz, "%s", first) < (int)outsz ? 0 : -1;
}

/*
 * dfd holds a .git entry: a directory (its config), or a file naming the
 * git dir ("gitdir: PATH", worktrees), whose "commondir" names the
 * directory holding the shared config.  1: a .git entry was there (found
 * or not: the walk stops), 0: none, go up.
 */
static int
git_remote_at(int dfd, char *buf, size_t *budget, char *out, size_t outsz,
    int *found)
{
	char *gd, *cd;
	int gfd, fd;

	*found = 0;
	gfd = openat(dfd, ".git", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (gfd < 0) {
		if (read_small(dfd, ".git", buf, GITDIR_MAX, budget) != 0)
			return 0;
		if (strncmp(buf, "gitdir:", 7) != 0)
			return 0;
		gd = trim(buf + 7);
		if ((gfd = openat(dfd, gd, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) < 0)
			return 0;
		if (read_small(gfd, "commondir", buf, GITDIR_MAX,
		    budget) == 0) {
			cd = trim(buf);
			fd = openat(gfd, cd, O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC);
			if (fd >= 0) {
				(void)close(gfd);
				gfd = fd;
			}
		}
	}
	if (read_small(gfd, "config", buf, CONFIG_MAX, budget) == 0 &&
	    config_remote(buf, out, outsz) == 0)
		*found = 1;
	(void)close(gfd);
	return 1;
}

/*
 * Walk up from dfd (taken) to the first .git entry, within the bounds.
 * 0 with the normalized remote in out, -1 when there is none, -2 when the
 * bounds were reached first (unknown).
 */
static int
walk_up(int dfd, char *out, size_t outsz)
{
	char raw[512], *buf;
	struct stat st, root;
	size_t budget = REPO_BYTES_MAX;
	int up, depth, found, rc = -1;

	if ((buf = malloc(CONFIG_MAX)) == NULL || stat("/", &root) != 0)
		goto out;
	for (depth = 0; depth < REPO_LEVELS_MAX && budget > 0; depth++) {
		if (git_remote_at(dfd, buf, &budget, raw, sizeof(raw),
		    &found)) {
			if (found && policy_repo_normalize(raw, out,
			    outsz) == 0)
				rc = 0;
			break;
		}
		if (fstat(dfd, &st) != 0 || (st.st_dev == root.st_dev &&
		    st.st_ino == root.st_ino))
			goto out;	/* the top: no repository */
		if ((up = openat(dfd, "..", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) < 0)
			break;
		(void)close(dfd);
		dfd = up;
	}
	/* Out of levels or bytes before the top: not known. */
	if (rc != 0 && (depth >= REPO_LEVELS_MAX || budget == 0))
		rc = -2;
out:
	(void)close(dfd);
	free(buf);
	return rc;
}

static struct repo_entry *
cache_find(struct repo_cache *rc, const struct stat *st, int64_t now)
{
	size_t i;

	for (i = 0; i < REPO_CACHE_N; i++)
		if (rc->e[i].at_ms != 0 && rc->e[i].dev == st->st_dev &&
		    rc->e[i].ino == st->st_ino &&
		    now - rc->e[i].at_ms < REPO_CACHE_MS)
			return &rc->e[i];
	return NULL;
}

static struct repo_entry *
cache_slot(struct repo_cache *rc, int64_t now)
{
	size_t i;

	for (i = 0; i < REPO_CACHE_N; i++)
		if (rc->e[i].at_ms == 0 || now - rc->e[i].at_ms >=
		    REPO_CACHE_MS)
			return &rc->e[i];
	rc->next = (rc->next + 1) % REPO_CACHE_N;
	return &rc->e[rc->next];
}

const char *
conn_find_repo(void *arg)
{
	struct conn *c = arg;
	struct server *s = c->srv;
	struct repo_entry *e;
	struct stat st;
	char path[64];
	int64_t now;
	int dfd;

	if (c->repo_done)
		return c->caller.repo;
	c->repo_done = 1;
	if (c->ident_failed || c->caller.pid <= 0)
		return NULL;
	now = s->b->clock->now_ms(s->b->clock->arg);
	(void)snprintf(path, sizeof(path), "/proc/%ld/cwd", (long)c->caller.pid);
	/*
	 * Not readable: another user's process and no CAP_SYS_PTRACE.  The
	 * repository is then unknown, which counts against the caller.
	 */
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		c->caller.repo_unknown = 1;
		return NULL;
	}
	if (fstat(dfd, &st) != 0) {
		(void)close(dfd);
		c->caller.repo_unknown = 1;
		return NULL;
	}
	if ((e = cache_find(s->repos, &st, now)) == NULL) {
		e = cache_slot(s->repos, now);
		e->dev = st.st_dev;
		e->ino = st.st_ino;
		e->at_ms = now;
		switch (walk_up(dfd, e->repo, sizeof(e->repo))) {
		case 0:
			e->found = 1;
			e->unknown = 0;
			break;
		case -2:
			e->found = 0;
			e->unknown = 1;
			break;
		default:
			e->found = e->unknown = 0;
		}
	} else
		(void)close(dfd);
	if (e->unknown)
		c->caller.repo_unknown = 1;
	if (!e->found)
		return NULL;
	(void)snprintf(c->repo, sizeof(c->repo), "%s", e->repo);
	c->caller.repo = c->repo;
	return c->caller.repo;
}

/*
 * Who is at the other end of a connection.  The identity component reads
 * the kernel's peer credentials (SO_PEERCRED, taken at connect time) and
 * what /proc says about that process: nothing a client sends can change who
 * it is.  The repository is the git remote of the peer's working directory,
 * read broker-side through /proc/PID/cwd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/identity.h"
#include "airlock/policy.h"
#include "http_int.h"

#define GIT_FILE_MAX	(64 * 1024)	/* a .git file or config we read */
#define GIT_DEPTH_MAX	64		/* directories walked up */

/*
 * Read a regular file at dfd/name into buf (NUL-terminated).  Never blocks
 * on a FIFO or device a caller planted: O_NONBLOCK, then only S_ISREG.
 */
static int
read_small(int dfd, const char *name, char *buf, size_t bufsz)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, rc = -1;

	fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	while (got < bufsz - 1) {
		n = read(fd, buf + got, bufsz - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
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
 * directory holding the shared config.
 */
static int
git_remote_at(int dfd, char *out, size_t outsz)
{
	char *buf, *gd, *cd, path[4096];
	int gfd = -1, rc = -1;

	if ((buf = malloc(GIT_FILE_MAX)) == NULL)
		return -1;
	gfd = openat(dfd, ".git", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (gfd < 0) {
		if (read_small(dfd, ".git", buf, GIT_FILE_MAX) != 0 ||
		    strncmp(buf, "gitdir:", 7) != 0)
			goto out;
		gd = trim(buf + 7);
		if ((gfd = openat(dfd, gd, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) < 0)
			goto out;
		if (read_small(gfd, "commondir", buf, GIT_FILE_MAX) == 0) {
			cd = trim(buf);
			(void)snprintf(path, sizeof(path), "%s", cd);
			dfd = openat(gfd, path, O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC);
			if (dfd >= 0) {
				(void)close(gfd);
				gfd = dfd;
			}
		}
	}
	if (read_small(gfd, "config", buf, GIT_FILE_MAX) != 0)
		goto out;
	rc = config_remote(buf, out, outsz);
out:
	if (gfd >= 0)
		(void)close(gfd);
	free(buf);
	return rc;
}

/*
 * The git remote of pid's working directory, normalized, or -1 (not a
 * repository, no remote), or -2 when /proc/PID/cwd is not readable
 * (another user's process and no CAP_SYS_PTRACE, or not dumpable): the
 * repository is then unknown.  Walks up through descriptors from the
 * cwd itself, so a renamed or deleted path cannot mislead it.
 */
static int
peer_repo(pid_t pid, char *out, size_t outsz)
{
	char path[64], raw[512];
	struct stat st, root;
	int dfd, up, depth, rc = -1;

	(void)snprintf(path, sizeof(path), "/proc/%ld/cwd", (long)pid);
	if (stat("/", &root) != 0 ||
	    (dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -2;
	for (depth = 0; depth < GIT_DEPTH_MAX; depth++) {
		if (git_remote_at(dfd, raw, sizeof(raw)) == 0) {
			rc = policy_repo_normalize(raw, out, outsz) == 0 ?
			    0 : -1;
			break;
		}
		if (fstat(dfd, &st) != 0 || (st.st_dev == root.st_dev &&
		    st.st_ino == root.st_ino))
			break;
		if ((up = openat(dfd, "..", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) < 0)
			break;
		(void)close(dfd);
		dfd = up;
	}
	(void)close(dfd);
	return rc;
}

/* Point the caller at what c->id says. */
static void
conn_set_caller(struct conn *c)
{
	c->caller.ident = c->id;
	c->caller.uid = c->id->uid;
	c->caller.gid = c->id->gid;
	c->caller.pid = c->id->pid;
	c->caller.selectors = (const char *const *)c->id->selectors;
	c->caller.nselectors = c->id->nselectors;
	c->caller.unknown = (const char *const *)c->id->unknown;
	c->caller.nunknown = c->id->nunknown;
}

int
conn_refresh(struct conn *c, int full, struct al_err *err)
{
	struct ident *fresh = NULL;
	int rc;

	if (c->ident_failed)
		return al_err_set(err, AL_EPERM, "the broker could not "
		    "identify this connection's peer");
	if (c->changed)
		return al_err_set(err, AL_EPERM, "process %ld started "
		    "another program since it connected: reconnect",
		    (long)c->id->pid);
	rc = full ? ident_refresh(c->id, c->srv->icache, 0, &fresh, err) :
	    ident_same(c->id, err);
	if (rc != 0) {
		if (rc == AL_EPERM)
			c->changed = 1;
		return rc;
	}
	if (fresh != NULL) {
		ident_free(c->id);
		c->id = fresh;
		conn_set_caller(c);
	}
	return 0;
}

/*
 * Before a value goes out: the peer is still the process that connected,
 * running the same program, and no other process holds its end of the
 * connection (a child that inherited it, a parent that kept it across
 * its child's exec), as far as the broker can see.
 */
static int
conn_recheck(void *arg, struct al_err *err)
{
	struct conn *c = arg;
	size_t unseen;
	pid_t other;
	int rc;

	if ((rc = conn_refresh(c, 1, err)) != 0)
		return rc;
	rc = ident_conn_holders(c->fd, c->id->pid, c->id->uid, &other,
	    &unseen, err);
	/* No sock_diag: the check cannot be made; the rest stands. */
	if (rc == AL_ESYS) {
		if (!c->srv->no_diag_logged)
			broker_log(c->srv->b, "%s (logged once)", err->msg);
		c->srv->no_diag_logged = 1;
		rc = 0;
	}
	return rc;
}

struct conn *
conn_new(struct server *s, int fd, uint64_t id)
{
	struct al_err err;
	struct conn *c;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->caller.conn = id;
	c->srv = s;
	c->fd = fd;
	if (fd < 0 || ident_from_socket(fd, s->icache, 0, &c->id,
	    &err) != 0) {
		if (fd >= 0)
			broker_log(s->b, "connection %llu: %s",
			    (unsigned long long)id, err.msg);
		c->ident_failed = 1;
		return c;
	}
	conn_set_caller(c);
	c->caller.recheck = conn_recheck;
	c->caller.recheck_arg = c;
	(void)snprintf(c->caller.holder, sizeof(c->caller.holder),
	    "uid=%u,pid=%ld,start=%llu", (unsigned)c->id->uid,
	    (long)c->id->pid, (unsigned long long)c->id->start_time);
	if ((rc = peer_repo(c->id->pid, c->repo, sizeof(c->repo))) == 0)
		c->caller.repo = c->repo;
	else if (rc == -2)
		c->caller.repo_unknown = 1;
	return c;
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	ident_free(c->id);
	free(c);
}

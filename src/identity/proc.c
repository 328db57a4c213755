/*
 * Reading a process from /proc.  Every read goes through a descriptor of
 * /proc/PID opened once: if the process exits, reads through it fail
 * (ESRCH) instead of reaching a new process that was given the same pid.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "identity_int.h"

#define HASH_CHUNK	(64 * 1024)

/*
 * dirfd/name, a file the kernel writes whole at the first read (status,
 * cgroup: one "show" each), into buf (up to cap - 1 bytes, NUL-terminated,
 * the rest cut as before): that read returns all of it that fits, so no
 * second read looks for the end.  0, or -errno.
 */
static int
read_shown(int dirfd, const char *name, char *buf, size_t cap)
{
	ssize_t r;
	int fd, rc = 0;

	buf[0] = '\0';
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	do
		r = read(fd, buf, cap - 1);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		rc = -errno;
	else
		buf[r] = '\0';
	(void)close(fd);
	return rc;
}

int
proc_open(pid_t pid)
{
	char path[32];
	int fd;

	if (pid <= 0)
		return -ESRCH;
	(void)snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	return fd;
}

/* Up to max numbers after "key" on its line; how many in *n. */
static int
status_numbers(const char *buf, const char *key, uint64_t *v, size_t max,
    size_t *n)
{
	const char *p = strstr(buf, key), *end;
	size_t len;

	*n = 0;
	if (p == NULL)
		return -1;
	p += strlen(key);
	end = p + strcspn(p, "\n");
	for (;;) {
		p += strspn(p, " \t");
		if (p >= end)
			return 0;
		len = strcspn(p, " \t\n");
		if (*n == max || al_parse_digits(p, len, &v[*n]) != 0 ||
		    v[*n] > UINT32_MAX)
			return -1;
		(*n)++;
		p += len;
	}
}

static int parse_status(const char *buf, struct proc_status *st);

int
proc_read_status(int dirfd, struct proc_status *st)
{
	char buf[16384];
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = read_shown(dirfd, "status", buf, sizeof(buf))) != 0)
		return rc;
	return parse_status(buf, st);
}

/*
 * read_shown through *fd, dirfd/name kept open (opened when *fd is -1):
 * read at offset 0, such a file is written afresh, whole.
 */
static int
read_kept(int dirfd, const char *name, int *fd, char *buf, size_t cap)
{
	ssize_t r;

	buf[0] = '\0';
	if (*fd < 0 && (*fd = openat(dirfd, name, O_RDONLY |
	    O_CLOEXEC)) < 0) {
		*fd = -1;
		return -errno;
	}
	do
		r = pread(*fd, buf, cap - 1, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	buf[r] = '\0';
	return 0;
}

int
proc_read_status_kept(int dirfd, int *fd, struct proc_status *st)
{
	char buf[16384];
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = read_kept(dirfd, "status", fd, buf, sizeof(buf))) != 0)
		return rc;
	return parse_status(buf, st);
}

static int
parse_status(const char *buf, struct proc_status *st)
{
	uint64_t v[PROC_GROUPS_MAX];
	size_t n, i;
	if (status_numbers(buf, "\nUid:", v, 4, &n) != 0 || n != 4)
		return -EINVAL;
	for (i = 0; i < 4; i++)
		st->uid[i] = (uid_t)v[i];
	if (status_numbers(buf, "\nGid:", v, 4, &n) != 0 || n != 4)
		return -EINVAL;
	for (i = 0; i < 4; i++)
		st->gid[i] = (gid_t)v[i];
	/* More groups than we keep: refuse rather than drop some. */
	if (status_numbers(buf, "\nGroups:", v, PROC_GROUPS_MAX, &n) != 0)
		return -E2BIG;
	for (i = 0; i < n; i++)
		st->groups[i] = (gid_t)v[i];
	st->ngroups = n;
	if (status_numbers(buf, "\nTracerPid:", v, 1, &n) != 0 || n != 1)
		return -EINVAL;
	st->tracer = (pid_t)v[0];
	if (status_numbers(buf, "\nPPid:", v, 1, &n) != 0 || n != 1)
		return -EINVAL;
	st->ppid = (pid_t)v[0];
	/*
	 * The session as the pid namespace of this /proc sees it, as in
	 * stat (0 when its leader is outside it): the first number.
	 */
	if (status_numbers(buf, "\nNSsid:", v, PROC_GROUPS_MAX, &n) == 0 &&
	    n >= 1) {
		st->session = (pid_t)v[0];
		st->has_session = 1;
	}
	return 0;
}

#define ENVIRON_MAX	(4 * 1024 * 1024)

/*
 * All of dirfd/name into a new NUL-terminated buffer (*out, *outn bytes),
 * grown from cap; past max it is as good as unreadable (-E2BIG).  0, or
 * -errno.  Free with free_whole: what another process holds (its
 * environment) is wiped first.
 */
static int
read_whole(int dirfd, const char *name, size_t cap, size_t max, char **out,
    size_t *outn)
{
	char *buf = NULL, *p;
	size_t n = 0;
	ssize_t r;
	int fd, rc = 0;

	*out = NULL;
	*outn = 0;
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	for (;;) {
		if (buf == NULL || n == cap) {
			if (buf != NULL)
				cap *= 2;
			if (cap > max) {
				rc = -E2BIG;
				break;
			}
			if ((p = realloc(buf, cap + 1)) == NULL) {
				rc = -ENOMEM;
				break;
			}
			buf = p;
		}
		r = read(fd, buf + n, cap - n);
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
	if (rc != 0) {
		if (buf != NULL)
			sodium_memzero(buf, n);
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*outn = n;
	return 0;
}

static void
free_whole(char *buf, size_t n)
{
	if (buf != NULL)
		sodium_memzero(buf, n);
	free(buf);
}

int
proc_env_loader_vars(int dirfd, const char **which)
{
	static const char *const vars[] = { "LD_PRELOAD=", "LD_AUDIT=",
	    "LD_LIBRARY_PATH=", NULL };
	char *buf, *p, *end;
	size_t n, i;
	int rc;

	*which = NULL;
	/* Too big to read is as good as unreadable. */
	if ((rc = read_whole(dirfd, "environ", 64 * 1024, ENVIRON_MAX, &buf,
	    &n)) != 0)
		return rc;
	for (p = buf, end = buf + n; p < end && rc == 0; p += strlen(p) + 1)
		for (i = 0; vars[i] != NULL; i++)
			if (strncmp(p, vars[i], strlen(vars[i])) == 0) {
				*which = vars[i];
				rc = 1;
				break;
			}
	free_whole(buf, n);
	return rc;
}

static int
in_groups(gid_t g, const gid_t *groups, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (groups[i] == g)
			return 1;
	return 0;
}

/*
 * Whether the user can change what path names: write the file, or replace
 * it or any directory above it.  A sticky directory (/tmp) only lets its
 * writers replace their own entries, which the owner test catches.
 */
static int
path_writable(const char *path, uid_t uid, const gid_t *groups, size_t n)
{
	char buf[PATH_MAX], *slash;
	struct stat sb;
	int top = 1;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return 1;
	for (;;) {
		if (stat(buf[0] != '\0' ? buf : "/", &sb) != 0)
			return 1;	/* cannot tell: count it */
		if (sb.st_uid == uid)
			return 1;
		if (top || !(sb.st_mode & S_ISVTX)) {
			if (sb.st_mode & S_IWOTH)
				return 1;
			if ((sb.st_mode & S_IWGRP) && in_groups(sb.st_gid,
			    groups, n))
				return 1;
		}
		if (buf[0] == '\0')
			return 0;
		if ((slash = strrchr(buf, '/')) == NULL)
			return 1;
		*slash = '\0';
		top = 0;
	}
}

#define MAPS_MAX	(64 * 1024 * 1024)	/* smaps: about 1 KiB a mapping */

int
proc_maps_writable(int dirfd, uid_t uid, const gid_t *groups,
    size_t ngroups, char *why, size_t whysz)
{
	static const char deleted[] = " (deleted)";
	char *buf, *p, *line, *save = NULL, *path, last[PATH_MAX] = "";
	const char *mapping = "";
	size_t n, dl = sizeof(deleted) - 1, len;
	int rc, field, exec = 0;

	why[0] = '\0';
	if ((rc = read_whole(dirfd, "smaps", 256 * 1024, MAPS_MAX, &buf,
	    &n)) != 0)
		return rc;
	/*
	 * Each mapping: "start-end perms offset dev inode   path", then lines
	 * "Key:   value kB" (keys start with a capital, addresses with a
	 * lower-case hex digit).  Executable memory whose "Anonymous" pages
	 * are not zero runs code that is in no file: written into a private
	 * mapping of a file (by ptrace, or after mprotect) or into anonymous
	 * memory.  Whatever put it there, the executable does not tell it.
	 */
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (!((line[0] >= '0' && line[0] <= '9') ||
		    (line[0] >= 'a' && line[0] <= 'f'))) {
			if (exec && strncmp(line, "Anonymous:", 10) == 0 &&
			    strtoul(line + 10, NULL, 10) > 0) {
				(void)snprintf(why, whysz, "%.*s",
				    (int)strcspn(mapping, " "), mapping);
				rc = 2;
				goto out;
			}
			continue;
		}
		mapping = line;
		exec = 0;
		p = line;
		path = NULL;
		for (field = 0; field < 5 && *p != '\0'; field++) {
			if (field == 1 && (strlen(p) < 4 || p[2] != 'x'))
				break;
			if (field == 1)
				exec = 1;
			p += strcspn(p, " ");
			p += strspn(p, " ");
			if (field == 4)
				path = p;
		}
		if (path == NULL || *path != '/' || strcmp(path, last) == 0)
			continue;
		(void)snprintf(last, sizeof(last), "%s", path);
		len = strlen(path);
		if ((len > dl && strcmp(path + len - dl, deleted) == 0) ||
		    (uid != 0 && path_writable(path, uid, groups, ngroups))) {
			(void)snprintf(why, whysz, "%s", path);
			rc = 1;
			goto out;
		}
	}
out:
	free_whole(buf, n);
	return rc;
}

/* The link dirfd/name (name "": dirfd is the link) into a new string. */
static int
read_link(int dirfd, const char *name, char **out)
{
	char buf[PATH_MAX];
	ssize_t n;

	*out = NULL;
	n = readlinkat(dirfd, name, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	buf[n] = '\0';
	if ((*out = strdup(buf)) == NULL)
		return -ENOMEM;
	return 0;
}

int
proc_read_exe(int dirfd, char **out)
{
	return read_link(dirfd, "exe", out);
}

int
proc_open_exe_link(int dirfd)
{
	int fd;

	fd = openat(dirfd, "exe", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return fd >= 0 ? fd : -errno;
}

int
proc_read_exe_link(int linkfd, char **out)
{
	return read_link(linkfd, "", out);
}

int
proc_stat_exe_sb(int dirfd, struct stat *sb)
{
	return fstatat(dirfd, "exe", sb, 0) != 0 ? -errno : 0;
}

int
proc_stat_exe(int dirfd, dev_t *dev, ino_t *ino)
{
	struct stat sb;
	int rc;

	if ((rc = proc_stat_exe_sb(dirfd, &sb)) != 0)
		return rc;
	*dev = sb.st_dev;
	*ino = sb.st_ino;
	return 0;
}

int
proc_hash_exe(int dirfd, const struct stat *seen, struct ident_cache *cache,
    char out[IDENT_SHA256_HEX])
{
	crypto_hash_sha256_state st;
	unsigned char *buf = NULL, h[crypto_hash_sha256_BYTES];
	const char *hit;
	struct stat sb;
	ssize_t r;
	int fd, rc = 0;

	out[0] = '\0';
	/*
	 * The exe link stats the very file the process runs, as opening it
	 * does: a hash kept for that file (same inode, size and times) is
	 * its hash.
	 */
	if (seen != NULL && S_ISREG(seen->st_mode) &&
	    (hit = ident_cache_get(cache, seen)) != NULL) {
		memcpy(out, hit, IDENT_SHA256_HEX);
		return 0;
	}
	/* The file the process runs, even if its path now names another. */
	if ((fd = openat(dirfd, "exe", O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if ((hit = ident_cache_get(cache, &sb)) != NULL) {
		memcpy(out, hit, IDENT_SHA256_HEX);
		goto out;
	}
	if ((buf = malloc(HASH_CHUNK)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	(void)crypto_hash_sha256_init(&st);
	for (;;) {
		r = read(fd, buf, HASH_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		(void)crypto_hash_sha256_update(&st, buf, (size_t)r);
	}
	(void)crypto_hash_sha256_final(&st, h);
	al_hex(h, sizeof(h), out);
	ident_cache_put(cache, &sb, out);
out:
	free(buf);
	(void)close(fd);
	return rc;
}

int
proc_read_cgroup(int dirfd, char **out)
{
	return proc_read_cgroup_kept(dirfd, NULL, out);
}

int
proc_read_cgroup_kept(int dirfd, int *fd, char **out)
{
	static const char v1[] = ":name=systemd:";
	char buf[16384];
	const char *line, *path = NULL, *hit;
	size_t len, plen = 0;
	int rc;

	*out = NULL;
	if ((rc = fd != NULL ? read_kept(dirfd, "cgroup", fd, buf,
	    sizeof(buf)) : read_shown(dirfd, "cgroup", buf, sizeof(buf))) != 0)
		return rc;
	/* cgroup v2: "0::/path"; else v1's "N:name=systemd:/path". */
	for (line = buf; *line != '\0'; line += len + (line[len] == '\n')) {
		len = strcspn(line, "\n");
		if (strncmp(line, "0::", 3) == 0) {
			path = line + 3;
			plen = len - 3;
			break;
		}
		if (path == NULL && (hit = memmem(line, len, v1,
		    sizeof(v1) - 1)) != NULL) {
			path = hit + sizeof(v1) - 1;
			plen = len - (size_t)(path - line);
		}
	}
	if (path == NULL || plen == 0 || *path != '/')
		return -ENOENT;
	if ((*out = strndup(path, plen)) == NULL)
		return -ENOMEM;
	return 0;
}

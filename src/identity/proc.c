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

/* Read a small file under dirfd into buf (NUL-terminated). */
static int
read_small(int dirfd, const char *name, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	int fd, rc = 0;

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

static int
parse_u64(const char *s, size_t n, uint64_t *out)
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
proc_read_stat(int dirfd, struct proc_stat *st)
{
	char buf[1024];
	const char *p, *tok;
	uint64_t v;
	size_t len;
	int rc, field;

	memset(st, 0, sizeof(*st));
	if ((rc = read_small(dirfd, "stat", buf, sizeof(buf))) != 0)
		return rc;
	/* "pid (comm) S ppid ...": comm may hold spaces and parentheses. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return -EINVAL;
	p += 2;
	for (field = 3; *p != '\0' && field <= 22; field++) {
		tok = p;
		len = strcspn(p, " \n");
		p += len;
		if (*p == ' ')
			p++;
		if (field == 4) {
			if (parse_u64(tok, len, &v) != 0 || v > INT_MAX)
				return -EINVAL;
			st->ppid = (pid_t)v;
		} else if (field == 22) {
			if (parse_u64(tok, len, &v) != 0)
				return -EINVAL;
			st->start = v;
			return 0;
		}
	}
	return -EINVAL;
}

/* The second number of a "Uid:" or "Gid:" line: the effective id. */
static int
effective_id(const char *buf, const char *key, uint64_t *out)
{
	const char *p = strstr(buf, key);
	size_t len;

	if (p == NULL)
		return -1;
	p += strlen(key);
	p += strspn(p, " \t");
	p += strcspn(p, " \t\n");
	p += strspn(p, " \t");
	len = strcspn(p, " \t\n");
	return parse_u64(p, len, out);
}

int
proc_read_ids(int dirfd, uid_t *uid, gid_t *gid)
{
	char buf[4096];
	uint64_t u, g;
	int rc;

	if ((rc = read_small(dirfd, "status", buf, sizeof(buf))) != 0)
		return rc;
	if (effective_id(buf, "\nUid:", &u) != 0 ||
	    effective_id(buf, "\nGid:", &g) != 0 || u > UINT32_MAX ||
	    g > UINT32_MAX)
		return -EINVAL;
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

int
proc_read_exe(int dirfd, char **out)
{
	char buf[PATH_MAX];
	ssize_t n;

	*out = NULL;
	n = readlinkat(dirfd, "exe", buf, sizeof(buf));
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
proc_hash_exe(int dirfd, struct ident_cache *cache,
    char out[IDENT_SHA256_HEX])
{
	crypto_hash_sha256_state st;
	unsigned char *buf = NULL, h[crypto_hash_sha256_BYTES];
	const char *hit;
	struct stat sb;
	ssize_t r;
	int fd, rc = 0;

	out[0] = '\0';
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
	static const char v1[] = ":name=systemd:";
	char buf[16384];
	const char *line, *path = NULL, *hit;
	size_t len, plen = 0;
	int rc;

	*out = NULL;
	if ((rc = read_small(dirfd, "cgroup", buf, sizeof(buf))) != 0)
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

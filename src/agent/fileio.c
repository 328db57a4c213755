/*
 * Reading agent configuration files and replacing them atomically: a
 * temporary file in the same directory, written, fsynced, given the old
 * file's mode, then renamed over it; the directory is fsynced last.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_int.h"

#define AGENT_MAX_FILE	(8u * 1024 * 1024)

int
agent_file_read(const char *path, char **out, struct al_err *err)
{
	struct al_buf b;
	int fd, rc = 0;

	*out = NULL;
	al_buf_init(&b, AGENT_MAX_FILE, 0);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		return al_err_set(err, AL_EIO, "cannot read %s: %s", path,
		    strerror(errno));
	}
	if ((rc = al_buf_read_fd(&b, fd, AGENT_MAX_FILE, path, err)) != 0) {
		if (rc == AL_ETOOBIG)
			(void)al_err_set(err, rc, "%s is over %u bytes; edit "
			    "it by hand", path, AGENT_MAX_FILE);
		goto out;
	}
	if (memchr(b.data != NULL ? (char *)b.data : "", '\0', b.len) != NULL) {
		rc = al_err_set(err, AL_EINVAL, "%s holds a NUL byte: not a "
		    "text configuration file", path);
		goto out;
	}
	if ((*out = strdup(al_buf_str(&b))) == NULL)
		rc = AL_ENOMEM;
out:
	(void)close(fd);
	al_buf_release(&b);
	return rc;
}

/* mkdir -p for the parents of path. */
static int
make_parents(const char *path, mode_t mode, struct al_err *err)
{
	char tmp[PATH_MAX], *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return al_err_set(err, AL_ETOOBIG, "path too long: %s", path);
	if ((p = strrchr(tmp, '/')) == NULL)
		return 0;
	*p = '\0';
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) == -1 && errno != EEXIST)
			return al_err_set(err, AL_EIO, "cannot create %s: %s",
			    tmp, strerror(errno));
		*p = '/';
	}
	if (tmp[0] != '\0' && mkdir(tmp, mode) == -1 && errno != EEXIST)
		return al_err_set(err, AL_EIO, "cannot create %s: %s", tmp,
		    strerror(errno));
	return 0;
}

int
agent_file_replace(const char *path, const char *text, int user_file,
    struct al_err *err)
{
	char real[PATH_MAX], tmp[PATH_MAX + 32], dir[PATH_MAX];
	const char *target = path;
	struct stat st;
	mode_t mode = user_file ? 0600 : 0644;
	size_t len = strlen(text), off = 0;
	ssize_t n;
	int fd = -1, rc = 0, dfd;

	/* A symlinked file (dotfile managers) is replaced at its target. */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		if (realpath(path, real) == NULL)
			return al_err_set(err, AL_EIO, "cannot follow the "
			    "symlink %s: %s", path, strerror(errno));
		target = real;
	}
	if (stat(target, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return al_err_set(err, AL_EINVAL, "%s is not a regular "
			    "file", target);
		mode = st.st_mode & 07777;
	} else if ((rc = make_parents(target, user_file ? 0700 : 0755,
	    err)) != 0) {
		return rc;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.airlock-XXXXXX", target) >=
	    (int)sizeof(tmp))
		return al_err_set(err, AL_ETOOBIG, "path too long: %s", target);
	if ((fd = mkstemp(tmp)) == -1)
		return al_err_set(err, AL_EIO, "cannot create a file next to "
		    "%s: %s", target, strerror(errno));
	while (off < len) {
		n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = al_err_set(err, AL_EIO, "cannot write %s: %s", tmp,
			    strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (fchmod(fd, mode) == -1 || fsync(fd) == -1) {
		rc = al_err_set(err, AL_EIO, "cannot write %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		rc = al_err_set(err, AL_EIO, "cannot write %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, target) == -1) {
		rc = al_err_set(err, AL_EIO, "cannot replace %s: %s", target,
		    strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	(void)snprintf(dir, sizeof(dir), "%s", target);
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) !=
	    -1) {
		(void)fsync(dfd);
		(void)close(dfd);
	}
out:
	if (fd != -1)
		(void)close(fd);
	if (tmp[0] != '\0' && rc != 0)
		(void)unlink(tmp);
	return rc;
}

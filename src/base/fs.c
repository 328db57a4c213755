/*
 * File helpers for the state directory and key files.  Like ssh, airlock
 * refuses to trust a file that group or others could read or replace.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/base.h"

int
al_path_join(char *out, size_t outsz, const char *dir, const char *name)
{
	int n;

	n = snprintf(out, outsz, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= outsz)
		return AL_ETOOBIG;
	return 0;
}

int
al_state_dir(char *out, size_t outsz, struct al_err *err)
{
	const char *v;
	int n;

	if ((v = getenv("AIRLOCK_HOME")) != NULL && *v != '\0')
		n = snprintf(out, outsz, "%s", v);
	else if ((v = getenv("XDG_DATA_HOME")) != NULL && *v == '/')
		n = snprintf(out, outsz, "%s/airlock", v);
	else if ((v = getenv("HOME")) != NULL && *v == '/')
		n = snprintf(out, outsz, "%s/.local/share/airlock", v);
	else
		return al_err_set(err, AL_EINVAL,
		    "cannot find the state directory: set AIRLOCK_HOME or HOME");
	if (n < 0 || (size_t)n >= outsz)
		return al_err_set(err, AL_ETOOBIG, "state directory path is "
		    "too long");
	/* Trailing slashes would make every joined path look different. */
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return 0;
}

int
al_fs_check_private(const char *path, int want_dir, struct al_err *err)
{
	struct stat st;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return al_err_set(err, AL_ENOENT, "%s does not exist",
			    path);
		return al_err_set(err, AL_ESYS, "cannot stat %s: %s", path,
		    strerror(errno));
	}
	if (S_ISLNK(st.st_mode))
		return al_err_set(err, AL_EPERM,
		    "%s is a symbolic link: refusing to use it", path);
	if (want_dir && !S_ISDIR(st.st_mode))
		return al_err_set(err, AL_EPERM, "%s is not a directory", path);
	if (!want_dir && !S_ISREG(st.st_mode))
		return al_err_set(err, AL_EPERM, "%s is not a regular file",
		    path);
	if (st.st_uid != geteuid())
		return al_err_set(err, AL_EPERM,
		    "%s is owned by uid %u, not by you (uid %u): refusing to "
		    "use it", path, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 077)
		return al_err_set(err, AL_EPERM,
		    "%s has mode %04o: group or others can access it; run "
		    "`chmod %s %s`", path, (unsigned)(st.st_mode & 07777),
		    want_dir ? "700" : "600", path);
	return 0;
}

int
al_fs_mkdir_private(const char *path, struct al_err *err)
{
	char tmp[PATH_MAX];
	size_t i, n;

	n = strlen(path);
	if (n == 0 || n >= sizeof(tmp))
		return al_err_set(err, AL_EINVAL, "bad directory path");
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return al_err_set(err, AL_ESYS, "cannot create %s: %s",
			    tmp, strerror(errno));
		tmp[i] = path[i];
	}
	return al_fs_check_private(path, 1, err);
}

int
al_fs_sync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd, rc = 0;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -1;
	if ((slash = strrchr(dir, '/')) == NULL)
		(void)snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if (fsync(fd) != 0)
		rc = -1;
	(void)close(fd);
	return rc;
}

int
al_fs_write_new(const char *path, const void *vp, size_t n,
    struct al_err *err)
{
	const unsigned char *p = vp;
	size_t off = 0;
	ssize_t w;
	int fd, rc;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return al_err_set(err, AL_EEXIST, "%s already exists",
			    path);
		return al_err_set(err, AL_ESYS, "cannot create %s: %s", path,
		    strerror(errno));
	}
	while (off < n) {
		w = write(fd, p + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = al_err_set(err, AL_EIO, "cannot write %s: %s",
			    path, strerror(errno));
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		rc = al_err_set(err, AL_EIO, "cannot sync %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = al_err_set(err, AL_EIO, "cannot close %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (al_fs_sync_dir_of(path) != 0) {
		fd = -1;
		rc = al_err_set(err, AL_EIO, "cannot sync the directory of %s",
		    path);
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		(void)close(fd);
	(void)unlink(path);
	return rc;
}

void
al_file_stamp_take(const char *path, struct al_file_stamp *st)
{
	struct stat sb;

	memset(st, 0, sizeof(*st));
	if (stat(path, &sb) != 0)
		return;
	st->present = 1;
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mtime = sb.st_mtim;
	st->ctime = sb.st_ctim;
}

int
al_file_stamp_same(const struct al_file_stamp *a,
    const struct al_file_stamp *b)
{
	return a->present == b->present && a->dev == b->dev &&
	    a->ino == b->ino && a->size == b->size &&
	    a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec;
}

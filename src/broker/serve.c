/* broker_serve: the listening socket, signals, and the loop's lifetime. */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "airlock/identity.h"
#include "http_int.h"

/* Whether something answers on path (a live broker). */
static int
answers(const struct sockaddr_un *sa)
{
	int fd, ok;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	ok = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	(void)close(fd);
	return ok;
}

/*
 * Bind the socket with its final mode from the start (umask around bind),
 * so it is never reachable by anyone else, even for an instant.
 */
static int
listen_socket(struct broker *b, int *out, struct al_err *err)
{
	struct sockaddr_un sa;
	struct stat st;
	struct group *gr = NULL;
	mode_t old;
	int fd = -1, rc;

	*out = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(b->socket_path) >= sizeof(sa.sun_path))
		return al_err_set(err, AL_ETOOBIG, "socket path %s is longer "
		    "than %zu bytes: set AIRLOCK_SOCKET to a shorter path",
		    b->socket_path, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, b->socket_path, strlen(b->socket_path));
	if (b->socket_group[0] && (gr = getgrnam(b->socket_group)) == NULL)
		return al_err_set(err, AL_EINVAL, "no group named '%s' for the "
		    "socket", b->socket_group);
	if (lstat(b->socket_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return al_err_set(err, AL_EEXIST, "%s exists and is "
			    "not a socket: remove it", b->socket_path);
		if (answers(&sa))
			return al_err_set(err, AL_EBUSY, "a broker already "
			    "answers on %s", b->socket_path);
		/* A stale socket of a broker that died: we hold the lock. */
		(void)unlink(b->socket_path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0)
		return al_err_set(err, AL_ESYS, "socket: %s", strerror(errno));
	old = umask(gr ? 0117 : 0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	(void)umask(old);
	if (rc != 0) {
		rc = al_err_set(err, AL_ESYS, "cannot bind %s: %s",
		    b->socket_path, strerror(errno));
		goto out;
	}
	if (gr != NULL && (chown(b->socket_path, (uid_t)-1, gr->gr_gid) != 0 ||
	    chmod(b->socket_path, 0660) != 0)) {
		rc = al_err_set(err, AL_ESYS, "cannot give %s to group %s: %s",
		    b->socket_path, b->socket_group, strerror(errno));
		(void)unlink(b->socket_path);
		goto out;
	}
	if (listen(fd, 1024) != 0) {
		rc = al_err_set(err, AL_ESYS, "listen: %s", strerror(errno));
		(void)unlink(b->socket_path);
		goto out;
	}
	*out = fd;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	return rc;
}

int
broker_serve(struct broker *b, int ready_fd, struct al_err *err)
{
	struct server s;
	struct stat st;
	sigset_t set, oldset;
	int lfd = -1, rc, bound = 0;

	memset(&s, 0, sizeof(s));
	s.b = b;
	s.ep = s.sigfd = s.stream_fd = -1;
	s.watch.ifd = s.watch.mfd = -1;
	(void)signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, &oldset) != 0 ||
	    (s.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    (s.ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		rc = al_err_set(err, AL_ESYS, "cannot set up signals: %s",
		    strerror(errno));
		goto out;
	}
	if ((rc = repo_cache_new(&s.repos)) != 0) {
		rc = al_err_set(err, rc, "out of memory");
		goto out;
	}
	if ((rc = ident_cache_new(256, &s.icache)) != 0) {
		rc = al_err_set(err, rc, "out of memory for the identity cache");
		goto out;
	}
	/* Before the socket exists: no client sees a broker that fails. */
	if ((rc = mhd_dl_open(&s.mhd, MHD_DL_SONAME, err)) != 0)
		goto out;
	if ((rc = listen_socket(b, &lfd, err)) != 0)
		goto out;
	bound = 1;
	if (lstat(b->socket_path, &st) != 0) {
		rc = al_err_set(err, AL_ESYS, "cannot stat %s: %s",
		    b->socket_path, strerror(errno));
		goto out;
	}
	s.sock_dev = st.st_dev;
	s.sock_ino = st.st_ino;
	if ((rc = http_start(&s, lfd, err)) != 0)
		goto out;
	lfd = -1;	/* libmicrohttpd owns and closes it */
	broker_log(b, "listening on %s", b->socket_path);
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "R", 1);
		(void)close(ready_fd);
		ready_fd = -1;
	}
	if (b->on_ready != NULL)
		b->on_ready(b->on_ready_arg);
	rc = http_loop(&s, err);
	broker_log(b, "stopped");
out:
	http_stop(&s);
	/* Only our own socket: another broker may have bound the path anew. */
	if (bound && lstat(b->socket_path, &st) == 0 &&
	    st.st_dev == s.sock_dev && st.st_ino == s.sock_ino)
		(void)unlink(b->socket_path);
	if (lfd >= 0)
		(void)close(lfd);
	if (s.ep >= 0)
		(void)close(s.ep);
	if (s.sigfd >= 0)
		(void)close(s.sigfd);
	ident_cache_free(s.icache);
	repo_cache_free(s.repos);
	free(s.uids);
	mhd_dl_close(&s.mhd);
	(void)sigprocmask(SIG_SETMASK, &oldset, NULL);
	return rc;
}

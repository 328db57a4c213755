/*
 * A broker whose socket file was removed (its state directory deleted or
 * moved away) or replaced (bound anew by another broker) can be reached by
 * no client: it stops.  Rather than look at the file at a fixed period,
 * which wakes an idle broker for nothing, the loop waits on what can change
 * where the path leads: inotify on the socket's directory (the socket's
 * name removed, renamed or created anew; the directory itself deleted or
 * moved), on each directory above it (deleted or moved), and the mount
 * table (/proc/self/mountinfo turns POLLPRI when anything is mounted or
 * unmounted, over one of those directories for one).  Each makes the loop
 * look at the file again: the same st_dev and st_ino as bound, or stop.
 *
 * Those events cover every change only on a path of real directories: a
 * symbolic link along it can be pointed elsewhere without an event at any
 * of them.  Such a path, a relative one, and inotify that cannot be set up
 * (no watches or descriptors left) make the broker look every
 * SOCKET_POLL_MS instead, and the log says so once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_int.h"

#define SOCKET_POLL_MS	5000	/* when nothing can be watched */

/* The socket's directory: its name changing, or the directory going. */
#define DIR_EVENTS	(IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | \
			    IN_DELETE_SELF | IN_MOVE_SELF)
/*
 * The directories above it: going.  IN_MASK_ADD, as two prefixes may be
 * one directory (a bind mount), whose watch would otherwise lose a mask.
 */
#define UP_EVENTS	(IN_DELETE_SELF | IN_MOVE_SELF | IN_MASK_ADD)
/* Either way: a symbolic link at the end of a prefix is refused. */
#define EVERY_WATCH	(IN_ONLYDIR | IN_DONT_FOLLOW)

static void
unwatch(struct server *s, int *fd)
{
	if (*fd < 0)
		return;
	/*
	 * Out of the set first: a child between fork and exec may hold the
	 * descriptor still, and the set would keep it until the child execs.
	 */
	(void)epoll_ctl(s->ep, EPOLL_CTL_DEL, *fd, NULL);
	(void)close(*fd);
	*fd = -1;
}

/* From now on the file is looked at every SOCKET_POLL_MS (fail closed). */
static void
poll_instead(struct server *s, const char *why)
{
	struct sockwatch *w = &s->watch;

	unwatch(s, &w->ifd);
	unwatch(s, &w->mfd);
	w->polled = 1;
	w->poll_ms = 0;		/* the first look at once */
	if (w->logged)
		return;
	broker_log(s->b, "cannot watch %s for changes (%s): looking at it "
	    "every %d s instead", s->b->socket_path, why,
	    SOCKET_POLL_MS / 1000);
	w->logged = 1;
}

/* Why inotify_add_watch failed on path, in words. */
static void
watch_error(char *why, size_t len, const char *path, int e)
{
	if (e == ENOTDIR)
		(void)snprintf(why, len, "%s is a symbolic link or not a "
		    "directory", path);
	else if (e == ENOSPC)
		(void)snprintf(why, len, "no inotify watch left for %s: see "
		    "fs.inotify.max_user_watches", path);
	else
		(void)snprintf(why, len, "inotify_add_watch %s: %s", path,
		    strerror(e));
}

void
sockwatch_start(struct server *s)
{
	struct sockwatch *w = &s->watch;
	char dir[sizeof(s->b->socket_path)], why[sizeof(dir) + 96], *slash;

	w->due = 1;		/* a look at the start in any case */
	(void)snprintf(dir, sizeof(dir), "%s", s->b->socket_path);
	if (dir[0] != '/' || (slash = strrchr(dir, '/')) == NULL) {
		poll_instead(s, "a relative path");
		return;
	}
	w->name = s->b->socket_path + (slash - dir) + 1;
	if (slash == dir)
		slash[1] = '\0';	/* "/x.sock": the directory is "/" */
	else
		*slash = '\0';
	if ((w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		(void)snprintf(why, sizeof(why), "inotify: %s",
		    strerror(errno));
		poll_instead(s, why);
		return;
	}
	if ((w->dir_wd = inotify_add_watch(w->ifd, dir, DIR_EVENTS |
	    EVERY_WATCH)) < 0) {
		watch_error(why, sizeof(why), dir, errno);
		poll_instead(s, why);
		return;
	}
	/* "/a/b": "/a" too, not "/" (which cannot move). */
	while ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (inotify_add_watch(w->ifd, dir, UP_EVENTS |
		    EVERY_WATCH) < 0) {
			watch_error(why, sizeof(why), dir, errno);
			poll_instead(s, why);
			return;
		}
	}
	if ((w->mfd = open("/proc/self/mountinfo", O_RDONLY |
	    O_CLOEXEC)) < 0) {
		(void)snprintf(why, sizeof(why), "/proc/self/mountinfo: %s",
		    strerror(errno));
		poll_instead(s, why);
		return;
	}
	/* The mount table is always readable: only a change counts. */
	if (loop_wait_on(s, w->ifd, EPOLLIN) != 0 ||
	    loop_wait_on(s, w->mfd, EPOLLPRI) != 0) {
		(void)snprintf(why, sizeof(why), "epoll_ctl: %s",
		    strerror(errno));
		poll_instead(s, why);
	}
}

int
sockwatch_owns(const struct server *s, int fd)
{
	return fd >= 0 && (fd == s->watch.ifd || fd == s->watch.mfd);
}

void
sockwatch_read(struct server *s, int fd)
{
	struct sockwatch *w = &s->watch;
	union {
		struct inotify_event	ev;
		char			b[4096];
	} u;
	const struct inotify_event *ev;
	char why[96];
	ssize_t n;
	size_t off;

	if (fd != w->ifd) {
		w->due = 1;	/* the mount table changed */
		return;
	}
	for (;;) {
		if ((n = read(w->ifd, u.b, sizeof(u.b))) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			(void)snprintf(why, sizeof(why), "reading inotify: %s",
			    strerror(errno));
			poll_instead(s, why);
			return;
		}
		if (n == 0)
			return;
		for (off = 0; off + sizeof(*ev) <= (size_t)n;
		    off += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(u.b + off);
			/* A watch gone: what it covered is covered no more. */
			if (ev->mask & IN_IGNORED)
				w->lost = 1;
			if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED |
			    IN_UNMOUNT | IN_DELETE_SELF | IN_MOVE_SELF))
				w->due = 1;
			else if (ev->wd == w->dir_wd && ev->len > 0 &&
			    strcmp(ev->name, w->name) == 0)
				w->due = 1;
		}
	}
}

int64_t
sockwatch_timeout(const struct server *s, int64_t now_ms)
{
	if (!s->watch.polled)
		return -1;
	return s->watch.poll_ms > now_ms ? s->watch.poll_ms - now_ms : 0;
}

void
sockwatch_check(struct server *s, int64_t now_ms)
{
	struct sockwatch *w = &s->watch;
	struct stat st;

	if (w->polled && now_ms >= w->poll_ms) {
		w->poll_ms = now_ms + SOCKET_POLL_MS;
		w->due = 1;
	}
	if (!w->due)
		return;
	w->due = 0;
	if (lstat(s->b->socket_path, &st) == 0 ? st.st_dev == s->sock_dev &&
	    st.st_ino == s->sock_ino : errno != ENOENT && errno != ENOTDIR) {
		if (w->lost && !w->polled)
			poll_instead(s, "a directory on its path is no longer "
			    "watched");
		return;
	}
	broker_log(s->b, "%s was removed or replaced: stopping",
	    s->b->socket_path);
	s->stopping = 1;
}

void
sockwatch_stop(struct server *s)
{
	unwatch(s, &s->watch.ifd);
	unwatch(s, &s->watch.mfd);
}

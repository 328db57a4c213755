/*
 * Identifying a local caller: peer credentials from the kernel, the rest
 * from /proc, and the selectors policies match against.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "identity_int.h"

/* Linux 6.5; glibc 2.36 does not name it yet. */
#if !defined(SO_PEERPIDFD) && (defined(__x86_64__) || defined(__i386__) || \
    defined(__aarch64__) || defined(__arm__) || defined(__riscv))
#define SO_PEERPIDFD	77
#endif

void
ident_free(struct ident *id)
{
	size_t i;

	if (id == NULL)
		return;
	free(id->user);
	free(id->group);
	free(id->exe);
	free(id->cgroup);
	for (i = 0; i < id->nancestors; i++)
		free(id->ancestors[i].exe);
	free(id->ancestors);
	for (i = 0; i < id->nselectors; i++)
		free(id->selectors[i]);
	free(id->selectors);
	free(id);
}

int
ident_has_selector(const struct ident *id, const char *selector)
{
	size_t i;

	for (i = 0; i < id->nselectors; i++)
		if (strcmp(id->selectors[i], selector) == 0)
			return 1;
	return 0;
}

static int
add_selector(struct ident *id, const char *fmt, ...) AL_PRINTF(2, 3);

static int
add_selector(struct ident *id, const char *fmt, ...)
{
	char **grown, *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return AL_ENOMEM;
	grown = realloc(id->selectors, (id->nselectors + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(s);
		return AL_ENOMEM;
	}
	id->selectors = grown;
	id->selectors[id->nselectors++] = s;
	return 0;
}

static int
build_selectors(struct ident *id)
{
	size_t i;
	int rc = 0;

	rc |= add_selector(id, "unix:uid:%u", (unsigned)id->uid);
	rc |= add_selector(id, "unix:gid:%u", (unsigned)id->gid);
	if (id->user != NULL)
		rc |= add_selector(id, "unix:user:%s", id->user);
	if (id->group != NULL)
		rc |= add_selector(id, "unix:group:%s", id->group);
	rc |= add_selector(id, "unix:pid:%d", (int)id->pid);
	if (id->exe != NULL)
		rc |= add_selector(id, "unix:exe:%s", id->exe);
	if (id->sha256[0] != '\0')
		rc |= add_selector(id, "unix:sha256:%s", id->sha256);
	for (i = 0; i < id->nancestors; i++)
		if (id->ancestors[i].exe != NULL)
			rc |= add_selector(id, "unix:ancestor-exe:%s",
			    id->ancestors[i].exe);
	if (id->cgroup != NULL)
		rc |= add_selector(id, "unix:cgroup:%s", id->cgroup);
	return rc ? AL_ENOMEM : 0;
}

/* User and group names; absent when the databases do not know the ids. */
static int
lookup_names(struct ident *id)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char buf[16384];

	if (getpwuid_r(id->uid, &pw, buf, sizeof(buf), &pwp) == 0 &&
	    pwp != NULL && (id->user = strdup(pw.pw_name)) == NULL)
		return AL_ENOMEM;
	if (getgrgid_r(id->gid, &gr, buf, sizeof(buf), &grp) == 0 &&
	    grp != NULL && (id->group = strdup(gr.gr_name)) == NULL)
		return AL_ENOMEM;
	return 0;
}

/*
 * Walk the parents of a process that started at child_start.  A parent
 * cannot have started after its child: if the pid we find did, the real
 * parent exited and its pid was reused, and the walk stops there.
 */
static int
walk_ancestors(struct ident *id, pid_t ppid, uint64_t child_start)
{
	struct proc_stat st;
	char *exe;
	int fd, rc;

	id->ancestors = calloc(IDENT_ANCESTORS_MAX, sizeof(*id->ancestors));
	if (id->ancestors == NULL)
		return AL_ENOMEM;
	while (ppid > 0) {
		if (id->nancestors == IDENT_ANCESTORS_MAX) {
			id->ancestors_cut = 1;
			break;
		}
		if ((fd = proc_open(ppid)) < 0) {
			id->ancestors_cut = 1;
			break;
		}
		if (proc_read_stat(fd, &st) != 0 || st.start > child_start) {
			(void)close(fd);
			id->ancestors_cut = 1;
			break;
		}
		rc = proc_read_exe(fd, &exe);
		(void)close(fd);
		if (rc == -ENOMEM)
			return AL_ENOMEM;
		id->ancestors[id->nancestors].pid = ppid;
		id->ancestors[id->nancestors++].exe = exe;
		if (ppid == 1)
			break;
		ppid = st.ppid;
		child_start = st.start;
	}
	return 0;
}

/*
 * Read what /proc says of the process behind dirfd, whose stat (st0) was
 * read first; then make sure it is still the same process.
 */
static int
inspect(struct ident *id, int dirfd, const struct proc_stat *st0,
    struct ident_cache *cache, int flags, struct al_err *err)
{
	struct proc_stat st1;
	int rc;

	id->start_time = st0->start;
	rc = proc_read_exe(dirfd, &id->exe);
	if (rc == -ENOMEM)
		goto nomem;
	id->exe_errno = -rc;
	if (id->exe != NULL && !(flags & IDENT_F_NO_HASH) &&
	    (rc = proc_hash_exe(dirfd, cache, id->sha256)) == -ENOMEM)
		goto nomem;
	if ((rc = proc_read_cgroup(dirfd, &id->cgroup)) == -ENOMEM)
		goto nomem;
	if (walk_ancestors(id, st0->ppid, st0->start) != 0 ||
	    lookup_names(id) != 0)
		goto nomem;
	if (proc_read_stat(dirfd, &st1) != 0 || st1.start != st0->start)
		return al_err_set(err, AL_ENOENT, "process %d exited while it "
		    "was being identified", (int)id->pid);
	if (build_selectors(id) != 0)
		goto nomem;
	return 0;
nomem:
	return al_err_set(err, AL_ENOMEM, "out of memory identifying process "
	    "%d", (int)id->pid);
}

static int
new_ident(pid_t pid, struct ident **out, struct al_err *err)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	(*out)->kind = IDENT_KIND_UNIX;
	(*out)->pid = pid;
	return 0;
}

static int
gone(pid_t pid, struct al_err *err)
{
	return al_err_set(err, AL_ENOENT, "process %d has exited", (int)pid);
}

int
ident_from_pid(pid_t pid, struct ident_cache *cache, int flags,
    struct ident **out, struct al_err *err)
{
	struct ident *id = NULL;
	struct proc_stat st0;
	int dirfd = -1, rc;

	*out = NULL;
	if ((dirfd = proc_open(pid)) < 0) {
		rc = gone(pid, err);
		goto out;
	}
	if ((rc = new_ident(pid, &id, err)) != 0)
		goto out;
	if (proc_read_stat(dirfd, &st0) != 0 ||
	    proc_read_ids(dirfd, &id->uid, &id->gid) != 0) {
		rc = gone(pid, err);
		goto out;
	}
	if ((rc = inspect(id, dirfd, &st0, cache, flags, err)) != 0)
		goto out;
	*out = id;
	id = NULL;
out:
	if (dirfd >= 0)
		(void)close(dirfd);
	ident_free(id);
	return rc;
}

/* Clock ticks since boot, the unit of the start time in /proc/PID/stat. */
static uint64_t
boot_ticks(void)
{
	struct timespec ts;
	long hz = sysconf(_SC_CLK_TCK);

	if (hz <= 0)
		hz = 100;
	(void)clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * (uint64_t)hz +
	    (uint64_t)ts.tv_nsec / (1000000000UL / (uint64_t)hz);
}

/*
 * Whether the peer is still alive, through its pidfd: if it is, the pid
 * we opened in /proc has been its pid all along.  EPERM (a peer of
 * another user) still means alive; only ESRCH means gone.
 */
static int
pidfd_alive(int pidfd)
{
	return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0 ||
	    errno != ESRCH;
}

int
ident_from_socket(int fd, struct ident_cache *cache, int flags,
    struct ident **out, struct al_err *err)
{
	struct ident *id = NULL;
	struct ucred uc;
	struct proc_stat st0;
	socklen_t len = sizeof(uc);
	uint64_t now;
	int dirfd = -1, pidfd = -1, rc;

	*out = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0 ||
	    len != sizeof(uc) || uc.pid <= 0)
		return al_err_set(err, AL_EPROTO, "the connection carries no "
		    "peer credentials (not a local Unix socket, or a peer in "
		    "another pid namespace)");
	now = boot_ticks();
#ifdef SO_PEERPIDFD
	len = sizeof(pidfd);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0)
		pidfd = -1;	/* an older kernel */
#endif
	if ((dirfd = proc_open(uc.pid)) < 0 ||
	    proc_read_stat(dirfd, &st0) != 0) {
		rc = gone(uc.pid, err);
		goto out;
	}
	/*
	 * Without a pidfd, a process that started after we read the peer's
	 * credentials cannot be the peer (to the resolution of a clock tick).
	 */
	if ((pidfd >= 0 && !pidfd_alive(pidfd)) ||
	    (pidfd < 0 && st0.start > now)) {
		rc = al_err_set(err, AL_ENOENT, "the peer process %d has "
		    "exited (its pid now belongs to another process)",
		    (int)uc.pid);
		goto out;
	}
	if ((rc = new_ident(uc.pid, &id, err)) != 0)
		goto out;
	id->uid = uc.uid;
	id->gid = uc.gid;
	if ((rc = inspect(id, dirfd, &st0, cache, flags, err)) != 0)
		goto out;
	if (pidfd >= 0 && !pidfd_alive(pidfd)) {
		rc = gone(uc.pid, err);
		goto out;
	}
	*out = id;
	id = NULL;
out:
	if (dirfd >= 0)
		(void)close(dirfd);
	if (pidfd >= 0)
		(void)close(pidfd);
	ident_free(id);
	return rc;
}

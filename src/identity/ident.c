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
	ident_unhold(id);
	free(id->user);
	free(id->group);
	free(id->exe);
	free(id->cgroup);
	free(id->groups);
	for (i = 0; i < id->nunknown; i++)
		free(id->unknown[i]);
	free(id->unknown);
	for (i = 0; i < id->nancestors; i++)
		free(id->ancestors[i].exe);
	free(id->ancestors);
	for (i = 0; i < id->nselectors; i++)
		free(id->selectors[i]);
	free(id->selectors);
	free(id);
}

void
ident_unhold(struct ident *id)
{
	if (id->proc_fd >= 0)
		(void)close(id->proc_fd);
	if (id->status_fd >= 0)
		(void)close(id->status_fd);
	if (id->cgroup_fd >= 0)
		(void)close(id->cgroup_fd);
	if (id->exe_fd >= 0)
		(void)close(id->exe_fd);
	id->proc_fd = id->status_fd = id->cgroup_fd = id->exe_fd = -1;
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

int
ident_has_unknown(const struct ident *id, const char *key)
{
	size_t i;

	for (i = 0; i < id->nunknown; i++)
		if (strcmp(id->unknown[i], key) == 0)
			return 1;
	return 0;
}

static int
push(char ***v, size_t *n, char *s)
{
	char **grown;

	if (s == NULL)
		return AL_ENOMEM;
	if ((grown = realloc(*v, (*n + 1) * sizeof(*grown))) == NULL) {
		free(s);
		return AL_ENOMEM;
	}
	*v = grown;
	(*v)[(*n)++] = s;
	return 0;
}

static int
add_selector(struct ident *id, const char *fmt, ...) AL_PRINTF(2, 3);

static int
add_selector(struct ident *id, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return AL_ENOMEM;
	if (ident_has_selector(id, s)) {
		free(s);	/* the effective gid is also supplementary */
		return 0;
	}
	return push(&id->selectors, &id->nselectors, s);
}

static int
add_unknown(struct ident *id, const char *key)
{
	if (ident_has_unknown(id, key))
		return 0;
	return push(&id->unknown, &id->nunknown, strdup(key));
}

/* A copy of name (NULL: none); *nomem set when it cannot be made. */
static char *
name_copy(const char *name, int *nomem)
{
	char *s;

	if (name == NULL)
		return NULL;
	if ((s = strdup(name)) == NULL)
		*nomem = 1;
	return s;
}

/* A group's name into a new string; NULL with *nomem clear if none. */
static char *
group_name(gid_t gid, struct ident_cache *cache, int *nomem)
{
	struct group gr, *grp = NULL;
	const char *kept;
	char buf[16384];

	if (ident_cache_name_get(cache, NAME_GROUP, (unsigned)gid, &kept))
		return name_copy(kept, nomem);
	if (getgrgid_r(gid, &gr, buf, sizeof(buf), &grp) != 0)
		return NULL;	/* an error: not kept, asked again */
	ident_cache_name_put(cache, NAME_GROUP, (unsigned)gid, grp ?
	    gr.gr_name : NULL);
	return grp ? name_copy(gr.gr_name, nomem) : NULL;
}

static int
build_selectors(struct ident *id, struct ident_cache *cache)
{
	size_t i;
	char *g;
	int rc = 0, nomem = 0;

	rc |= add_selector(id, "unix:uid:%u", (unsigned)id->uid);
	rc |= add_selector(id, "unix:gid:%u", (unsigned)id->gid);
	for (i = 0; i < id->ngroups; i++)
		rc |= add_selector(id, "unix:gid:%u", (unsigned)id->groups[i]);
	if (id->user != NULL)
		rc |= add_selector(id, "unix:user:%s", id->user);
	if (id->group != NULL)
		rc |= add_selector(id, "unix:group:%s", id->group);
	for (i = 0; i < id->ngroups; i++) {
		if ((g = group_name(id->groups[i], cache, &nomem)) != NULL)
			rc |= add_selector(id, "unix:group:%s", g);
		free(g);
	}
	rc |= add_selector(id, "unix:pid:%d", (int)id->pid);
	if (id->exe != NULL && !id->exe_untrusted)
		rc |= add_selector(id, "unix:exe:%s", id->exe);
	else
		rc |= add_unknown(id, "unix:exe");
	if (id->sha256[0] != '\0' && !id->exe_untrusted)
		rc |= add_selector(id, "unix:sha256:%s", id->sha256);
	else
		rc |= add_unknown(id, "unix:sha256");
	for (i = 0; i < id->nancestors; i++)
		if (id->ancestors[i].exe != NULL)
			rc |= add_selector(id, "unix:ancestor-exe:%s",
			    id->ancestors[i].exe);
	if (id->ancestry_unknown)
		rc |= add_unknown(id, "unix:ancestor-exe");
	if (id->cgroup != NULL)
		rc |= add_selector(id, "unix:cgroup:%s", id->cgroup);
	else
		rc |= add_unknown(id, "unix:cgroup");
	return rc || nomem ? AL_ENOMEM : 0;
}

/* User and group names; absent when the databases do not know the ids. */
static int
lookup_names(struct ident *id, struct ident_cache *cache)
{
	struct passwd pw, *pwp = NULL;
	const char *kept;
	char buf[16384];
	int nomem = 0;

	ident_cache_names_fresh(cache);
	if (ident_cache_name_get(cache, NAME_USER, (unsigned)id->uid, &kept))
		id->user = name_copy(kept, &nomem);
	else if (getpwuid_r(id->uid, &pw, buf, sizeof(buf), &pwp) == 0) {
		ident_cache_name_put(cache, NAME_USER, (unsigned)id->uid,
		    pwp ? pw.pw_name : NULL);
		id->user = pwp ? name_copy(pw.pw_name, &nomem) : NULL;
	}
	id->group = group_name(id->gid, cache, &nomem);
	return nomem ? AL_ENOMEM : 0;
}

static void
exe_untrusted(struct ident *id, const char *fmt, ...) AL_PRINTF(2, 3);

static void
exe_untrusted(struct ident *id, const char *fmt, ...)
{
	va_list ap;

	if (id->exe_untrusted)
		return;
	id->exe_untrusted = 1;
	va_start(ap, fmt);
	(void)vsnprintf(id->exe_untrusted_why, sizeof(id->exe_untrusted_why),
	    fmt, ap);
	va_end(ap);
}

/*
 * Whether the executable tells what code runs: not when the process is
 * traced (its tracer can change anything), was started with the loader
 * told to load more (LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH), or maps code
 * from a file the caller can change.  What cannot be read counts against.
 */
static int
check_code(struct ident *id, int dirfd, const struct proc_status *ps)
{
	gid_t groups[PROC_GROUPS_MAX + 1];
	const char *var;
	char why[96];
	int rc;

	if (ps->tracer != 0) {
		exe_untrusted(id, "traced by process %d", (int)ps->tracer);
		return 0;
	}
	if ((rc = proc_env_loader_vars(dirfd, &var)) == -ENOMEM)
		return AL_ENOMEM;
	if (rc == 1) {
		exe_untrusted(id, "started with %.*s set", (int)strlen(var) - 1,
		    var);
		return 0;
	}
	if (rc < 0) {
		exe_untrusted(id, "its environment cannot be read (%s)",
		    strerror(-rc));
		return 0;
	}
	/* Root can change any file: nothing for the map to tell. */
	if (id->uid == 0)
		return 0;
	memcpy(groups, ps->groups, ps->ngroups * sizeof(*groups));
	groups[ps->ngroups] = id->gid;
	rc = proc_maps_writable(dirfd, id->uid, groups, ps->ngroups + 1, why,
	    sizeof(why));
	if (rc == -ENOMEM)
		return AL_ENOMEM;
	if (rc == 1)
		exe_untrusted(id, "maps code from %s, which its user can "
		    "change", why);
	else if (rc == 2)
		exe_untrusted(id, "runs code that is in no file (executable "
		    "memory written since it was mapped, at %s)", why);
	else if (rc < 0)
		exe_untrusted(id, "its memory map cannot be read (%s)",
		    strerror(-rc));
	return 0;
}

/*
 * The exe link of the process behind dirfd.  Held (dirfd is id->proc_fd),
 * through the link itself kept open with it (id->exe_fd, opened at the
 * first such read): the same link, read without looking its name up.
 */
static int
read_exe(struct ident *id, int dirfd, char **out)
{
	int fd;

	if (dirfd != id->proc_fd)
		return proc_read_exe(dirfd, out);
	if (id->exe_fd < 0 && (fd = proc_open_exe_link(dirfd)) >= 0)
		id->exe_fd = fd;
	return id->exe_fd >= 0 ? proc_read_exe_link(id->exe_fd, out) :
	    proc_read_exe(dirfd, out);
}

/*
 * Read what /proc says of the process behind dirfd, whose stat (st0) and
 * status (ps) were read first; then make sure it is still the same process.
 */
static int
inspect(struct ident *id, int dirfd, const struct al_proc_stat *st0,
    const struct proc_status *ps, struct ident_cache *cache, int flags,
    struct al_err *err)
{
	struct al_proc_stat st1;
	struct stat sb, xsb;
	int rc, xrc;

	id->start_time = st0->start;
	id->session = st0->session;
	if (ps->ngroups > 0) {
		id->groups = calloc(ps->ngroups, sizeof(*id->groups));
		if (id->groups == NULL)
			goto nomem;
		memcpy(id->groups, ps->groups, ps->ngroups *
		    sizeof(*id->groups));
		id->ngroups = ps->ngroups;
	}
	rc = read_exe(id, dirfd, &id->exe);
	if (rc == -ENOMEM)
		goto nomem;
	id->exe_errno = -rc;
	xrc = id->exe != NULL ? proc_stat_exe_sb(dirfd, &xsb) : -ENOENT;
	if (id->exe != NULL && xrc != 0)
		exe_untrusted(id, "its executable cannot be opened");
	if (xrc == 0) {
		id->exe_dev = xsb.st_dev;
		id->exe_ino = xsb.st_ino;
	}
	if (id->exe != NULL && !(flags & IDENT_F_NO_HASH) &&
	    (rc = proc_hash_exe(dirfd, xrc == 0 ? &xsb : NULL, cache,
	    id->sha256)) == -ENOMEM)
		goto nomem;
	if (id->exe != NULL && check_code(id, dirfd, ps) != 0)
		goto nomem;
	/* Held (a refresh): through the cgroup file kept open. */
	if ((rc = proc_read_cgroup_kept(dirfd, id->proc_fd >= 0 ?
	    &id->cgroup_fd : NULL, &id->cgroup)) == -ENOMEM)
		goto nomem;
	if (ident_walk_ancestors(id, st0->ppid, st0->start, cache) != 0 ||
	    ident_check_reparented(id) != 0 || lookup_names(id, cache) != 0)
		goto nomem;
	/*
	 * Through a descriptor held since the process was first identified
	 * (id->proc_fd), everything read was that process's: it only has to
	 * be alive still (a dead process's entries are gone).  Otherwise its
	 * pid may have been reused meanwhile: the start time tells.
	 */
	if (id->proc_fd >= 0 ? fstatat(dirfd, "stat", &sb, 0) != 0 :
	    (al_proc_stat_at(dirfd, &st1) != 0 || st1.start != st0->start))
		return al_err_set(err, AL_ENOENT, "process %d exited while it "
		    "was being identified", (int)id->pid);
	if (build_selectors(id, cache) != 0)
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
	(*out)->proc_fd = (*out)->status_fd = (*out)->cgroup_fd =
	    (*out)->exe_fd = -1;
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
	struct al_proc_stat st0;
	struct proc_status ps;
	int dirfd = -1, rc;

	*out = NULL;
	if ((dirfd = proc_open(pid)) < 0) {
		rc = gone(pid, err);
		goto out;
	}
	if ((rc = new_ident(pid, &id, err)) != 0)
		goto out;
	if (al_proc_stat_at(dirfd, &st0) != 0 ||
	    proc_read_status(dirfd, &ps) != 0) {
		rc = gone(pid, err);
		goto out;
	}
	id->uid = ps.uid[1];
	id->gid = ps.gid[1];
	if ((rc = inspect(id, dirfd, &st0, &ps, cache, flags, err)) != 0)
		goto out;
	id->proc_fd = dirfd;	/* the process read, as it started */
	dirfd = -1;
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
	struct al_proc_stat st0;
	struct proc_status ps;
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
	    al_proc_stat_at(dirfd, &st0) != 0 ||
	    proc_read_status(dirfd, &ps) != 0) {
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
	if ((rc = inspect(id, dirfd, &st0, &ps, cache, flags, err)) != 0)
		goto out;
	if (pidfd >= 0 && !pidfd_alive(pidfd)) {
		rc = gone(uc.pid, err);
		goto out;
	}
	/* The peer itself (pidfd, or started before it connected). */
	id->proc_fd = dirfd;
	dirfd = -1;
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

/*
 * /proc/PID of the process old describes, and what its stat would say
 * (parent, session, start): through the descriptor held since it was
 * identified, where status says the parent and the session; else opened
 * afresh, and the start time tells whether the pid is still its.  -1 when
 * it is gone.
 */
static int
open_again(struct ident *old, struct al_proc_stat *st0,
    struct proc_status *ps)
{
	int dirfd;

	if (old->proc_fd >= 0) {
		if (proc_read_status_kept(old->proc_fd, &old->status_fd,
		    ps) != 0)
			return -1;
		if (ps->has_session) {
			memset(st0, 0, sizeof(*st0));
			st0->ppid = ps->ppid;
			st0->session = ps->session;
			st0->start = old->start_time;
			return old->proc_fd;
		}
		/* A kernel without NSsid: its stat. */
		if (al_proc_stat_at(old->proc_fd, st0) != 0 ||
		    st0->start != old->start_time)
			return -1;
		return old->proc_fd;
	}
	if ((dirfd = proc_open(old->pid)) < 0)
		return -1;
	if (al_proc_stat_at(dirfd, st0) != 0 ||
	    proc_read_status(dirfd, ps) != 0 ||
	    st0->start != old->start_time) {
		(void)close(dirfd);
		return -1;
	}
	return dirfd;
}

int
ident_refresh(struct ident *old, struct ident_cache *cache, int flags,
    struct ident **out, struct al_err *err)
{
	struct ident *id = NULL;
	struct al_proc_stat st0;
	struct proc_status ps;
	int dirfd = -1, rc;

	*out = NULL;
	if ((dirfd = open_again(old, &st0, &ps)) < 0) {
		rc = gone(old->pid, err);
		goto out;
	}
	if ((rc = new_ident(old->pid, &id, err)) != 0)
		goto out;
	id->uid = old->uid;
	id->gid = old->gid;
	/*
	 * Read through the held descriptor, and the cgroup file kept with
	 * it: inspect knows them by these.  A cgroup file it opened stays
	 * old's until the new view takes them all.
	 */
	id->proc_fd = old->proc_fd;
	id->cgroup_fd = old->cgroup_fd;
	id->exe_fd = old->exe_fd;
	rc = inspect(id, dirfd, &st0, &ps, cache, flags, err);
	if (old->proc_fd >= 0) {
		old->cgroup_fd = id->cgroup_fd;
		old->exe_fd = id->exe_fd;
	}
	id->proc_fd = id->cgroup_fd = id->exe_fd = -1;
	if (rc != 0)
		goto out;
	/*
	 * exec keeps the pid and the start time: the executable tells.  One
	 * that became readable or unreadable changed too (a set-id or an
	 * undumpable program was started).
	 */
	if ((old->exe == NULL) != (id->exe == NULL) || (old->exe != NULL &&
	    (strcmp(old->exe, id->exe) != 0 || old->exe_dev != id->exe_dev ||
	    old->exe_ino != id->exe_ino))) {
		rc = al_err_set(err, AL_EPERM, "process %d started another "
		    "program since it connected: reconnect", (int)old->pid);
		goto out;
	}
	/* The new view keeps the held descriptor; one just opened is closed. */
	if (dirfd == old->proc_fd) {
		id->proc_fd = dirfd;
		id->status_fd = old->status_fd;
		id->cgroup_fd = old->cgroup_fd;
		id->exe_fd = old->exe_fd;
		old->proc_fd = old->status_fd = old->cgroup_fd =
		    old->exe_fd = -1;
		dirfd = -1;
	}
	*out = id;
	id = NULL;
out:
	if (dirfd >= 0 && dirfd != old->proc_fd)
		(void)close(dirfd);
	ident_free(id);
	return rc;
}

int
ident_same(const struct ident *id, struct al_err *err)
{
	struct al_proc_stat st;
	struct stat sb;
	dev_t dev = 0;
	ino_t ino = 0;
	char *exe = NULL;
	int dirfd, rc = 0, r;

	/* Held: that process, or its entries are gone (exe is then too). */
	if ((dirfd = id->proc_fd) < 0 && ((dirfd = proc_open(id->pid)) < 0 ||
	    al_proc_stat_at(dirfd, &st) != 0 || st.start != id->start_time)) {
		if (dirfd >= 0)
			(void)close(dirfd);
		return gone(id->pid, err);
	}
	/* Held, through the exe link kept with it once a refresh opened it. */
	if ((r = dirfd == id->proc_fd && id->exe_fd >= 0 ?
	    proc_read_exe_link(id->exe_fd, &exe) :
	    proc_read_exe(dirfd, &exe)) == -ENOMEM)
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
	else if (exe == NULL && dirfd == id->proc_fd &&
	    fstatat(dirfd, "stat", &sb, 0) != 0)
		return gone(id->pid, err);	/* exited since */
	else if (exe != NULL && proc_stat_exe(dirfd, &dev, &ino) != 0) {
		free(exe);
		exe = NULL;
	}
	if (rc == 0 && ((id->exe == NULL) != (exe == NULL) ||
	    (exe != NULL && (strcmp(id->exe, exe) != 0 ||
	    id->exe_dev != dev || id->exe_ino != ino))))
		rc = al_err_set(err, AL_EPERM, "process %d started another "
		    "program since it connected: reconnect", (int)id->pid);
	free(exe);
	if (dirfd != id->proc_fd)
		(void)close(dirfd);
	return rc;
}

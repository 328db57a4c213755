/*
 * Cache of executable hashes.  An entry is valid for as long as the file
 * keeps its device, inode, size, mtime and ctime; any write changes ctime,
 * which no user can set back, so a modified executable is hashed again.
 *
 * Also user and group names (see identity_int.h), and a table of
 * ancestors held open (see ancestry.c): a descriptor of
 * /proc/PID names one process for as long as it lives, and never another
 * that is given the same pid later, so re-reading its exe link through
 * the descriptor tells, in one system call, whether it still runs and
 * still runs what it ran.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "identity_int.h"

struct cache_entry {
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	mtime;
	struct timespec	ctime;
	uint64_t	used;
	char		hex[IDENT_SHA256_HEX];
};

struct anc_entry {
	pid_t		 pid;
	pid_t		 ppid;
	uint64_t	 start;
	int		 dirfd;		/* -1: an empty slot */
	int		 statusfd;	/* its status, once read; or -1 */
	int		 pidfd;		/* a pidfd of it, once opened; or -1 */
	int		 exefd;		/* its exe link (O_PATH), or -1 */
	char		*exe;
	uint64_t	 used;
};

struct name_entry {
	unsigned	 id;
	char		*name;		/* NULL: no entry */
};

#define NAME_DBS	3

struct ident_cache {
	struct cache_entry	*e;
	size_t			 n;
	size_t			 max;
	uint64_t		 tick;
	struct anc_entry	 anc[IDENT_CACHE_ANCESTORS];
	struct name_entry	 names[2][NAMES_MAX];
	size_t			 nnames[2];
	struct al_file_stamp	 dbs[NAME_DBS];	/* as the names were read */
	int64_t			 names_ms;	/* when the first was kept */
	int			 init_fd;	/* /proc/1, or -1 */
	int			 init_status;	/* its status, or -1 */
	int			 init_pidfd;	/* a pidfd of it, or -1 */
	int			 pidfd_use;	/* 1 works, -1 not here, 0 untried */
};

/*
 * PIDFD_GET_INFO's answer as the kernel first defined it (Linux 6.13), for
 * headers that predate it; the size, in the request number, says which
 * version is asked for.
 */
struct pidfd_creds {
	uint64_t	mask;
	uint64_t	cgroupid;
	uint32_t	pid, tgid, ppid;
	uint32_t	ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	uint32_t	spare0;
};
#define PIDFD_CREDS_GET		_IOWR(0xFF, 11, struct pidfd_creds)
#define PIDFD_CREDS_MASK	(1ULL << 1)	/* PIDFD_INFO_CREDS */
_Static_assert(sizeof(struct pidfd_creds) == 64, "PIDFD_INFO_SIZE_VER0");

int
ident_cache_new(size_t max_entries, struct ident_cache **out)
{
	struct ident_cache *c;
	size_t i;

	*out = NULL;
	if (max_entries == 0 || max_entries > 4096)
		return AL_EINVAL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->e = calloc(max_entries, sizeof(*c->e))) == NULL) {
		free(c);
		return AL_ENOMEM;
	}
	c->max = max_entries;
	for (i = 0; i < IDENT_CACHE_ANCESTORS; i++)
		c->anc[i].dirfd = c->anc[i].statusfd = c->anc[i].pidfd =
		    c->anc[i].exefd = -1;
	c->init_fd = c->init_status = c->init_pidfd = -1;
	*out = c;
	return 0;
}

static void
anc_drop(struct anc_entry *a)
{
	if (a->dirfd >= 0)
		(void)close(a->dirfd);
	if (a->statusfd >= 0)
		(void)close(a->statusfd);
	if (a->pidfd >= 0)
		(void)close(a->pidfd);
	if (a->exefd >= 0)
		(void)close(a->exefd);
	free(a->exe);
	memset(a, 0, sizeof(*a));
	a->dirfd = a->statusfd = a->pidfd = a->exefd = -1;
}

static void
names_forget(struct ident_cache *c)
{
	size_t k, i;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < c->nnames[k]; i++)
			free(c->names[k][i].name);
		c->nnames[k] = 0;
	}
	c->names_ms = 0;
}

void
ident_cache_names_fresh(struct ident_cache *c)
{
	static const char *const dbs[NAME_DBS] = { "/etc/passwd",
	    "/etc/group", "/etc/nsswitch.conf" };
	struct al_file_stamp now;
	size_t i;
	int same = 1;

	if (c == NULL)
		return;
	for (i = 0; i < NAME_DBS; i++) {
		al_file_stamp_take(dbs[i], &now);
		if (!al_file_stamp_same(&now, &c->dbs[i]))
			same = 0;
		c->dbs[i] = now;
	}
	if (!same || (c->names_ms != 0 && al_mono_ms() - c->names_ms >=
	    NAMES_TTL_MS))
		names_forget(c);
}

int
ident_cache_name_get(struct ident_cache *c, enum name_kind kind,
    unsigned id, const char **name)
{
	size_t i;

	*name = NULL;
	if (c == NULL)
		return 0;
	for (i = 0; i < c->nnames[kind]; i++)
		if (c->names[kind][i].id == id) {
			*name = c->names[kind][i].name;
			return 1;
		}
	return 0;
}

void
ident_cache_name_put(struct ident_cache *c, enum name_kind kind,
    unsigned id, const char *name)
{
	char *copy = NULL;

	if (c == NULL || (name != NULL && (copy = strdup(name)) == NULL))
		return;
	if (c->nnames[kind] == NAMES_MAX)
		names_forget(c);	/* rare: start over */
	if (c->names_ms == 0)
		c->names_ms = al_mono_ms();
	c->names[kind][c->nnames[kind]].id = id;
	c->names[kind][c->nnames[kind]++].name = copy;
}

void
ident_cache_free(struct ident_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < IDENT_CACHE_ANCESTORS; i++)
		anc_drop(&c->anc[i]);
	names_forget(c);
	if (c->init_fd >= 0)
		(void)close(c->init_fd);
	if (c->init_status >= 0)
		(void)close(c->init_status);
	if (c->init_pidfd >= 0)
		(void)close(c->init_pidfd);
	free(c->e);
	free(c);
}

int
ident_cache_init(struct ident_cache *c, int *dirfd)
{
	int fd;

	if (c->init_fd < 0) {
		if ((fd = proc_open(1)) < 0)
			return fd;
		c->init_fd = fd;
	}
	*dirfd = c->init_fd;
	return 0;
}

enum anc_lookup
ident_cache_anc_get(struct ident_cache *c, pid_t pid, uint64_t child_start,
    pid_t *ppid, uint64_t *start, int *dirfd, char **exe)
{
	struct anc_entry *a = NULL;
	char *now = NULL;
	size_t i;
	int r;

	*ppid = 0;
	*start = 0;
	*dirfd = -1;
	*exe = NULL;
	if (c == NULL)
		return ANC_MISS;
	for (i = 0; i < IDENT_CACHE_ANCESTORS && a == NULL; i++)
		if (c->anc[i].dirfd >= 0 && c->anc[i].pid == pid)
			a = &c->anc[i];
	if (a == NULL)
		return ANC_MISS;
	/*
	 * Exited (the link no longer reads), another program since (exec),
	 * made itself unreadable, or not older than the child that names it
	 * as its parent (which cannot be): what it was is no longer what it
	 * is.
	 */
	/* Through the link held open: no lookup of its name each time. */
	r = a->exefd >= 0 ? proc_read_exe_link(a->exefd, &now) :
	    proc_read_exe(a->dirfd, &now);
	if (r == -ENOMEM)
		return ANC_NOMEM;
	if (r != 0 || strcmp(now, a->exe) != 0 || a->start > child_start) {
		free(now);
		anc_drop(a);
		return ANC_STALE;
	}
	a->used = ++c->tick;
	*ppid = a->ppid;
	*start = a->start;
	*dirfd = a->dirfd;
	*exe = now;
	return ANC_HIT;
}

/*
 * Whether a pid means to pidfd_open what it means under /proc: this
 * process's NSpid there lists one pid, its own (/proc is mounted for the
 * pid namespace the broker runs in).
 */
static int
proc_ns_is_own(void)
{
	char buf[4096], *p, *end;
	long v;

	if (al_proc_read_at(AT_FDCWD, "/proc/self/status", buf,
	    sizeof(buf)) != 0 || (p = strstr(buf, "\nNSpid:")) == NULL)
		return 0;
	p += strlen("\nNSpid:");
	v = strtol(p, &end, 10);
	if (end == p || v != (long)getpid())
		return 0;
	while (*end == ' ' || *end == '\t')
		end++;
	return *end == '\n';
}

/*
 * The uids through *pidfd, opened from pid at the first call: 0, or -1
 * (read the status file instead).
 */
static int
uids_by_pidfd(struct ident_cache *c, pid_t pid, int dirfd, int *pidfd,
    uid_t uid[2])
{
	struct pidfd_creds pi;
	struct stat sb;
	int fd;

	if (c->pidfd_use == 0)
		c->pidfd_use = proc_ns_is_own() ? 1 : -1;
	if (c->pidfd_use < 0)
		return -1;
	if (*pidfd < 0) {
		if ((fd = pidfd_open(pid, 0)) < 0) {
			if (errno == ENOSYS)
				c->pidfd_use = -1;
			return -1;
		}
		/*
		 * The pid is the held process's until that one is reaped:
		 * alive after the open, it is the process opened.
		 */
		if (fstatat(dirfd, "stat", &sb, 0) != 0) {
			(void)close(fd);
			return -1;
		}
		*pidfd = fd;
	}
	memset(&pi, 0, sizeof(pi));
	pi.mask = PIDFD_CREDS_MASK;
	if (ioctl(*pidfd, PIDFD_CREDS_GET, &pi) != 0) {
		/* Gone (ESRCH), or a kernel without the request. */
		if (errno != ESRCH)
			c->pidfd_use = -1;
		return -1;
	}
	if (!(pi.mask & PIDFD_CREDS_MASK)) {
		c->pidfd_use = -1;
		return -1;
	}
	uid[0] = (uid_t)pi.ruid;
	uid[1] = (uid_t)pi.euid;
	return 0;
}

static int
held_uids(struct ident_cache *c, pid_t pid, int dirfd, int *statusfd,
    int *pidfd, uid_t uid[2])
{
	struct proc_status ps;
	int rc;

	if (uids_by_pidfd(c, pid, dirfd, pidfd, uid) == 0)
		return 0;
	if ((rc = proc_read_status_kept(dirfd, statusfd, &ps)) != 0)
		return rc;
	uid[0] = ps.uid[0];
	uid[1] = ps.uid[1];
	return 0;
}

int
ident_cache_anc_uids(struct ident_cache *c, pid_t pid, uid_t uid[2])
{
	size_t i;

	for (i = 0; c != NULL && i < IDENT_CACHE_ANCESTORS; i++)
		if (c->anc[i].dirfd >= 0 && c->anc[i].pid == pid)
			return held_uids(c, pid, c->anc[i].dirfd,
			    &c->anc[i].statusfd, &c->anc[i].pidfd, uid);
	return -ENOENT;
}

int
ident_cache_init_uids(struct ident_cache *c, uid_t uid[2])
{
	if (c->init_fd < 0)
		return -ENOENT;
	return held_uids(c, 1, c->init_fd, &c->init_status, &c->init_pidfd,
	    uid);
}

void
ident_cache_anc_put(struct ident_cache *c, pid_t pid, pid_t ppid,
    uint64_t start, const char *exe, int dirfd)
{
	struct anc_entry *a = NULL;
	char *copy;
	size_t i;

	if (c == NULL || (copy = strdup(exe)) == NULL) {
		(void)close(dirfd);
		return;
	}
	for (i = 0; i < IDENT_CACHE_ANCESTORS; i++) {
		if (c->anc[i].dirfd >= 0 && c->anc[i].pid == pid) {
			a = &c->anc[i];		/* a newer view of it */
			break;
		}
		if (a == NULL || (a->dirfd >= 0 && (c->anc[i].dirfd < 0 ||
		    c->anc[i].used < a->used)))
			a = &c->anc[i];
	}
	anc_drop(a);
	a->pid = pid;
	a->ppid = ppid;
	a->start = start;
	a->dirfd = dirfd;
	a->exe = copy;
	a->used = ++c->tick;
	/* Without it (out of descriptors), the link is read by its name. */
	if ((a->exefd = proc_open_exe_link(dirfd)) < 0)
		a->exefd = -1;
}

static int
same_file(const struct cache_entry *e, const struct stat *st)
{
	return e->dev == st->st_dev && e->ino == st->st_ino &&
	    e->size == st->st_size &&
	    e->mtime.tv_sec == st->st_mtim.tv_sec &&
	    e->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	    e->ctime.tv_sec == st->st_ctim.tv_sec &&
	    e->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

const char *
ident_cache_get(struct ident_cache *c, const struct stat *st)
{
	size_t i;

	if (c == NULL)
		return NULL;
	for (i = 0; i < c->n; i++)
		if (same_file(&c->e[i], st)) {
			c->e[i].used = ++c->tick;
			return c->e[i].hex;
		}
	return NULL;
}

void
ident_cache_put(struct ident_cache *c, const struct stat *st,
    const char hex[IDENT_SHA256_HEX])
{
	struct cache_entry *e;
	size_t i, victim = 0;

	if (c == NULL)
		return;
	if (c->n < c->max)
		victim = c->n++;
	else
		for (i = 1; i < c->n; i++)
			if (c->e[i].used < c->e[victim].used)
				victim = i;
	e = &c->e[victim];
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
	e->ctime = st->st_ctim;
	e->used = ++c->tick;
	memcpy(e->hex, hex, IDENT_SHA256_HEX);
}

/* Internals shared by the files of src/identity. */
#ifndef AIRLOCK_IDENTITY_INT_H
#define AIRLOCK_IDENTITY_INT_H

#include <sys/stat.h>

#include "airlock/identity.h"

#define PROC_GROUPS_MAX	256

/* What /proc/PID/status tells. */
struct proc_status {
	uid_t		uid[4];		/* real, effective, saved, fs */
	gid_t		gid[4];
	gid_t		groups[PROC_GROUPS_MAX];	/* supplementary */
	size_t		ngroups;
	pid_t		tracer;		/* TracerPid: 0 not traced */
	pid_t		ppid;		/* PPid */
	pid_t		session;	/* NSsid, first: as stat's field 6 */
	int		has_session;	/* NSsid was there (Linux 4.1) */
};

/*
 * proc.c: every function reads through dirfd, a descriptor of /proc/PID
 * (its stat: al_proc_stat_at).
 */
/* Open /proc/PID; -errno on failure (-ENOENT: no such process). */
int	proc_open(pid_t pid);
/* Ids, supplementary groups, tracer, parent and session from status. */
int	proc_read_status(int dirfd, struct proc_status *st);
/*
 * The same through *fd, the process's status file kept open (opened from
 * dirfd when *fd is -1, and left open for the caller to close): read at
 * offset 0, it is written afresh for the process as it is now, and fails
 * once the process is gone.
 */
int	proc_read_status_kept(int dirfd, int *fd, struct proc_status *st);
/*
 * Whether the environment the process was started with sets LD_PRELOAD,
 * LD_AUDIT or LD_LIBRARY_PATH: 1 yes (name of the first in *which), 0 no,
 * -errno when unreadable (another user's process, not dumpable).
 */
int	proc_env_loader_vars(int dirfd, const char **which);
/*
 * Whether the process maps executable code from a file that the user
 * with uid and groups can write, or whose path that user controls (a
 * directory on the way it can write), or from a deleted file: 1 yes (the
 * path, cut to whysz bytes, in why); 2 when it runs code that is in no
 * file: executable memory with anonymous pages (written since it was
 * mapped, or never a file's; the address in why); 0 no, -errno when
 * unreadable.  Read from /proc/PID/smaps.
 */
int	proc_maps_writable(int dirfd, uid_t uid, const gid_t *groups,
	    size_t ngroups, char *why, size_t whysz);
/* The exe link into a new string; -errno (EACCES: not inspectable). */
int	proc_read_exe(int dirfd, char **out);
/*
 * The exe link itself held open (O_PATH), to be read again without
 * looking its name up: the descriptor, or -errno.  It names that
 * process's entry as dirfd does, and reads what the process runs at the
 * time of each read.
 */
int	proc_open_exe_link(int dirfd);
/*
 * As proc_read_exe, through a descriptor from proc_open_exe_link; once
 * the process is gone it fails (EACCES or ENOENT).
 */
int	proc_read_exe_link(int linkfd, char **out);
/* Device and inode of the running executable; -errno. */
int	proc_stat_exe(int dirfd, dev_t *dev, ino_t *ino);
/* Its whole stat (through the exe link: the file the process runs). */
int	proc_stat_exe_sb(int dirfd, struct stat *sb);
/*
 * SHA-256 of the running executable, through the cache.  With seen (its
 * stat, just taken through the exe link), a cached hash for that file is
 * taken without opening it.
 */
int	proc_hash_exe(int dirfd, const struct stat *seen,
	    struct ident_cache *cache, char out[IDENT_SHA256_HEX]);
/* The cgroup v2 path (or v1 name=systemd); -ENOENT when none. */
int	proc_read_cgroup(int dirfd, char **out);
/* The same through *fd, as proc_read_status_kept. */
int	proc_read_cgroup_kept(int dirfd, int *fd, char **out);

/* ancestry.c */
/*
 * Walk the parents of id (whose parent is ppid, started at start), through
 * the ancestors cache holds open (may be NULL).
 */
int	ident_walk_ancestors(struct ident *id, pid_t ppid, uint64_t start,
	    struct ident_cache *cache);
/* Mark id's ancestry unknown when it was moved away from its session. */
int	ident_check_reparented(struct ident *id);

/* cache.c */
const char *ident_cache_get(struct ident_cache *c, const struct stat *st);
void	ident_cache_put(struct ident_cache *c, const struct stat *st,
	    const char hex[IDENT_SHA256_HEX]);

enum anc_lookup {
	ANC_MISS,	/* not held */
	ANC_HIT,	/* held, alive, running the same program */
	ANC_STALE,	/* held, but exited or changed since: dropped */
	ANC_NOMEM,
};
/*
 * Ancestor pid as held open: ANC_HIT when it still runs the executable it
 * ran when it was put (read again now through its descriptor) and did not
 * start after child_start; its parent, start time, descriptor (still the
 * cache's) and exe (a new string, the caller's) are set then.
 */
enum anc_lookup ident_cache_anc_get(struct ident_cache *c, pid_t pid,
	    uint64_t child_start, pid_t *ppid, uint64_t *start, int *dirfd,
	    char **exe);
/*
 * Hold ancestor pid (parent ppid, started at start, running exe) through
 * dirfd, a descriptor of its /proc/PID, which the cache owns from now on
 * (closed at once when c is NULL or out of memory); the entry used least
 * recently makes room.
 */
void	ident_cache_anc_put(struct ident_cache *c, pid_t pid, pid_t ppid,
	    uint64_t start, const char *exe, int dirfd);
/*
 * The real and effective uid (uid[0], uid[1]) of held ancestor pid: asked
 * of the kernel through a pidfd of it (PIDFD_GET_INFO, Linux 6.13), which
 * gives those numbers without writing out the whole status file; else
 * read from its status file, which the cache keeps open from the first
 * such read.  The same numbers either way.  0, or -errno (gone, not held).
 */
int	ident_cache_anc_uids(struct ident_cache *c, pid_t pid, uid_t uid[2]);
/*
 * /proc/1, init, kept open by the cache (opened at the first call): init
 * is the same process for as long as its pid namespace, and this one with
 * it, lasts.  *dirfd stays the cache's.  0, or -errno.
 */
int	ident_cache_init(struct ident_cache *c, int *dirfd);
/* As ident_cache_anc_uids, for init (after ident_cache_init). */
int	ident_cache_init_uids(struct ident_cache *c, uid_t uid[2]);

/*
 * User and group names as the databases gave them: kept while
 * /etc/passwd, /etc/group and /etc/nsswitch.conf keep their device, inode,
 * size, mtime and ctime, and for at most NAMES_TTL_MS (a name that comes
 * from elsewhere, a directory service, is read again that often).
 * ident_cache_names_fresh checks that, once per identification, and
 * forgets them all when it no longer holds.
 */
#define NAMES_TTL_MS	1000
#define NAMES_MAX	64	/* of each kind */

enum name_kind { NAME_USER, NAME_GROUP };

void	ident_cache_names_fresh(struct ident_cache *c);
/*
 * 1 when the name of uid or gid id is kept (*name: the cache's, NULL when
 * the database has none), 0 when not.
 */
int	ident_cache_name_get(struct ident_cache *c, enum name_kind kind,
	    unsigned id, const char **name);
/* Keep it (name NULL: none); silently not when out of memory. */
void	ident_cache_name_put(struct ident_cache *c, enum name_kind kind,
	    unsigned id, const char *name);

#endif

/* Internals shared by the files of src/identity. */
#ifndef AIRLOCK_IDENTITY_INT_H
#define AIRLOCK_IDENTITY_INT_H

#include <sys/stat.h>

#include "airlock/identity.h"

/* What /proc/PID/stat tells. */
struct proc_stat {
	pid_t		ppid;
	uint64_t	start;		/* field 22: clock ticks after boot */
};

/* proc.c: every function reads through dirfd, a descriptor of /proc/PID. */
/* Open /proc/PID; -errno on failure (-ENOENT: no such process). */
int	proc_open(pid_t pid);
int	proc_read_stat(int dirfd, struct proc_stat *st);
/* Effective uid and gid from status. */
int	proc_read_ids(int dirfd, uid_t *uid, gid_t *gid);
/* The exe link into a new string; -errno (EACCES: not inspectable). */
int	proc_read_exe(int dirfd, char **out);
/* SHA-256 of the running executable, through the cache. */
int	proc_hash_exe(int dirfd, struct ident_cache *cache,
	    char out[IDENT_SHA256_HEX]);
/* The cgroup v2 path (or v1 name=systemd); -ENOENT when none. */
int	proc_read_cgroup(int dirfd, char **out);

/* cache.c */
const char *ident_cache_get(struct ident_cache *c, const struct stat *st);
void	ident_cache_put(struct ident_cache *c, const struct stat *st,
	    const char hex[IDENT_SHA256_HEX]);

#endif

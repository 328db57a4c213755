/*
 * airlock identity: who is calling, from the socket itself.
 *
 * A local caller is identified by the kernel, never by what it claims:
 * SO_PEERCRED gives the uid, gid and pid the peer had when it connected;
 * /proc gives the executable (the /proc/PID/exe link), its SHA-256 (hashed
 * by opening /proc/PID/exe, which is the very file the process runs, not
 * whatever the path names now), the chain of parent executables and the
 * cgroup.  Everything is read through a descriptor of /proc/PID opened once,
 * so a pid reused by another process while we read cannot answer in the
 * peer's place; the process start time is compared before and after, and
 * with SO_PEERPIDFD (Linux 6.5) the peer is checked to be still alive after
 * /proc/PID was opened.
 *
 * Policies name callers by selectors, SPIFFE/SPIRE style:
 *   unix:uid:1000            unix:gid:1000         unix:pid:4242
 *   unix:user:alice          unix:group:staff
 *   unix:exe:/usr/bin/node   unix:sha256:<64 hex>
 *   unix:ancestor-exe:/usr/bin/bash   (one per ancestor, nearest first)
 *   unix:cgroup:/user.slice/user-1000.slice/session-2.scope
 * A selector whose value is unknown is absent, never empty or guessed, and
 * its "kind:key" is listed in ident.unknown, so that a policy counts it as
 * unknown (a deny matches, an allow does not) rather than as "no match".
 * unix:gid and unix:group hold the effective gid and every supplementary
 * group.
 *
 * /proc/PID/exe can be unreadable: a process that is not dumpable (airlock's
 * own commands make themselves so) or that belongs to another user can only
 * be inspected by root or a holder of CAP_SYS_PTRACE.  The exe is then
 * recorded as unknown (exe NULL, exe_errno EACCES) and the ancestors are
 * still walked.  See docs/identity.md.
 *
 * Remote callers (OIDC JWT, SPIFFE JWT-SVID) will be further kinds of the
 * same struct.
 */
#ifndef AIRLOCK_IDENTITY_H
#define AIRLOCK_IDENTITY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "airlock/base.h"

#define IDENT_ANCESTORS_MAX	32	/* parents walked, nearest first */
#define IDENT_SHA256_HEX	65

enum ident_kind {
	IDENT_KIND_UNIX = 1,	/* a local process, from SO_PEERCRED */
	IDENT_KIND_JWT,		/* reserved: OIDC token (later) */
	IDENT_KIND_SPIFFE,	/* reserved: SPIFFE JWT-SVID (later) */
};

struct ident_ancestor {
	pid_t	 pid;
	uid_t	 uid;		/* effective; (uid_t)-1 when not read (only */
	int	 same_user;	/* unreadable ones, init and the one below it */
				/* are): runs as the caller's uid */
	char	*exe;		/* NULL when unreadable */
};

struct ident {
	enum ident_kind		 kind;
	uid_t			 uid;		/* effective, at connect time */
	gid_t			 gid;
	pid_t			 pid;
	char			*user;		/* NULL: no passwd entry */
	char			*group;		/* NULL: no group entry */
	char			*exe;		/* NULL: unreadable */
	int			 exe_errno;	/* why exe is NULL */
	char			 sha256[IDENT_SHA256_HEX]; /* "" unknown */
	char			*cgroup;	/* NULL: unknown */
	uint64_t		 start_time;	/* clock ticks after boot */
	dev_t			 exe_dev;	/* of the running executable, */
	ino_t			 exe_ino;	/* when exe is known */
	gid_t			*groups;	/* supplementary, from status */
	size_t			 ngroups;
	pid_t			 session;	/* session id; 0: unknown */
	/*
	 * /proc/PID of the process held open (-1: none), from when it was
	 * identified: it names that process for as long as it lives and
	 * never one given its pid later, so ident_same and ident_refresh
	 * read it through this descriptor without checking its start time.
	 */
	int			 proc_fd;
	int			 status_fd;	/* its status, or -1 */
	int			 cgroup_fd;	/* its cgroup, or -1 */
	int			 exe_fd;	/* its exe link (O_PATH), or -1 */
	struct ident_ancestor	*ancestors;	/* nearest first */
	size_t			 nancestors;
	int			 ancestors_cut;	/* walk stopped early */
	/*
	 * The chain cannot be trusted to hold every ancestor: the walk was
	 * cut, an ancestor of the caller's user could not be read, or the
	 * process was moved to init away from its session.  Why, in words.
	 */
	int			 ancestry_unknown;
	char			 ancestry_why[128];
	/*
	 * The executable does not tell what code runs: the process is
	 * traced, started with LD_PRELOAD, LD_AUDIT or LD_LIBRARY_PATH, maps
	 * code the caller can change, or could not be checked.  exe and
	 * sha256 stay recorded; their selectors are not emitted.
	 */
	int			 exe_untrusted;
	char			 exe_untrusted_why[160];
	char			**selectors;
	size_t			 nselectors;
	/*
	 * "kind:key" of the selectors whose values may be missing from
	 * selectors (unreadable, untrusted or cut): a policy must count them
	 * as unknown, never as "no match".
	 */
	char			**unknown;
	size_t			 nunknown;
};

/*
 * A cache of executable hashes keyed by (device, inode, size, mtime,
 * ctime) of the opened file, so a broker does not hash node's 100 MB on
 * every request; and of ancestors held open (a descriptor of /proc/PID
 * and one of its exe link each, at most IDENT_CACHE_ANCESTORS
 * ancestors), so that walking a caller's parents again reads one exe
 * link per ancestor that still runs what it ran instead of its stat and
 * exe afresh.  The answer is the same as without
 * the cache: an ancestor that exited or called exec, or a chain that
 * changed, is walked again.  Not thread-safe: one per thread.  May be NULL
 * wherever one is taken.
 */
struct ident_cache;

#define IDENT_CACHE_ANCESTORS	64	/* ancestors a cache may hold */

int	ident_cache_new(size_t max_entries, struct ident_cache **out) AL_WUR;
void	ident_cache_free(struct ident_cache *c);

#define IDENT_F_NO_HASH	0x1	/* skip the SHA-256 of the executable */

/*
 * Identify the peer of the connected Unix socket fd.  AL_EPROTO when fd has
 * no peer credentials; AL_ENOENT when the peer process is gone (exited, or
 * its pid was reused) before it could be identified; AL_ESYS otherwise.
 */
int	ident_from_socket(int fd, struct ident_cache *cache, int flags,
	    struct ident **out, struct al_err *err) AL_WUR;

/*
 * Identify process pid (uid and gid: its effective ids from /proc).  For
 * tests and tools; a server must use ident_from_socket.
 */
int	ident_from_pid(pid_t pid, struct ident_cache *cache, int flags,
	    struct ident **out, struct al_err *err) AL_WUR;

void	ident_free(struct ident *id);
/*
 * Close id's held /proc entry (and its status and cgroup files, kept open
 * once read through it): it is then looked up by pid (and its start time
 * checked) at each ident_same and ident_refresh.
 */
void	ident_unhold(struct ident *id);

/*
 * Identify again the process id describes (for each request on a
 * connection and again before a value is released): AL_ENOENT when it has
 * exited, AL_EPERM (message says what) when it is no longer the process
 * that was identified: another start time, or another executable (it
 * called exec since).  The uid and gid of id are kept (a socket's peer
 * credentials are those of connect time).  On success *out takes over
 * id's held /proc/PID descriptor (proc_fd) and the files kept open
 * through it (status_fd, cgroup_fd, exe_fd).
 */
int	ident_refresh(struct ident *id, struct ident_cache *cache,
	    int flags, struct ident **out, struct al_err *err) AL_WUR;

/*
 * Which processes hold the other end of the connected Unix socket fd,
 * whose peer is process pid: 0 when no other process of the peer's uid
 * (or root) is seen holding it, AL_EPERM with the first other holder in
 * *other when one is (a child that inherited the connection, a parent
 * that kept it across a fork and exec), AL_ENOENT when the peer itself no
 * longer holds it (while others may), AL_ESYS when the kernel cannot say
 * which socket is the peer's (no sock_diag).  Processes the caller may
 * not inspect (another user's without CAP_SYS_PTRACE, not dumpable) are
 * not seen: *unseen counts them.  A peer running as root (uid 0) is not
 * searched: root can take any process's descriptors anyway.
 */
int	ident_conn_holders(int fd, pid_t pid, uid_t uid, pid_t *other,
	    size_t *unseen, struct al_err *err) AL_WUR;

/*
 * The cheap half of ident_refresh, for every request: whether process
 * id->pid is still the one identified (start time, or the descriptor held
 * since) and runs the same executable (path, device, inode).  0, AL_ENOENT
 * (gone) or AL_EPERM.
 */
int	ident_same(const struct ident *id, struct al_err *err) AL_WUR;

/* Whether "kind:key" is among id's unknown selector keys. */
int	ident_has_unknown(const struct ident *id, const char *key);

/* Whether id carries exactly this selector. */
int	ident_has_selector(const struct ident *id, const char *selector);

#define IDENT_JSON_SUMMARY	0	/* for audit lines */
#define IDENT_JSON_FULL		1	/* everything, selectors included */

/*
 * id as a new JSON object (NULL when out of memory).  The summary holds
 * kind, uid, gid, user, pid, exe and the ancestors' executables; the full
 * form adds group, exe_error, sha256, cgroup, ancestor pids and selectors.
 */
json_t	*ident_to_json(const struct ident *id, int how);

/* "not readable: the process is not dumpable or ..." for exe_errno. */
const char *ident_exe_error(int exe_errno);

#endif

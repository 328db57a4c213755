/*
 * The chain of parents, and when it cannot be trusted: cut, hiding an
 * ancestor of the caller's own user from the broker, or left behind by a
 * process moved to init.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "identity_int.h"

/* uid: real and effective. */
static int
is_caller_user(const struct ident *id, const uid_t uid[2])
{
	return uid[0] == id->uid || uid[1] == id->uid;
}

static void
ancestry_unknown(struct ident *id, const char *fmt, ...) AL_PRINTF(2, 3);

static void
ancestry_unknown(struct ident *id, const char *fmt, ...)
{
	va_list ap;

	if (id->ancestry_unknown)
		return;		/* the first reason is the one told */
	id->ancestry_unknown = 1;
	va_start(ap, fmt);
	(void)vsnprintf(id->ancestry_why, sizeof(id->ancestry_why), fmt, ap);
	va_end(ap);
}

/* Forget a walk that must be made again. */
static void
walk_reset(struct ident *id)
{
	size_t i;

	for (i = 0; i < id->nancestors; i++)
		free(id->ancestors[i].exe);
	memset(id->ancestors, 0, IDENT_ANCESTORS_MAX *
	    sizeof(*id->ancestors));
	id->nancestors = 0;
	id->ancestors_cut = 0;
	id->ancestry_unknown = 0;
	id->ancestry_why[0] = '\0';
}

#define WALK_AGAIN	1	/* a held ancestor changed: walk afresh */

/*
 * Walk the parents of a process that started at child_start.  A parent
 * cannot have started after its child: if the pid we find did, the real
 * parent exited and its pid was reused, and the walk stops there.
 *
 * With held (cache, not NULL), an ancestor the cache holds open is taken
 * from it when it still runs what it ran; its parent is then the one it
 * had, for as long as that parent lives: a process changes parents only
 * when its parent exits.  So a chain of held ancestors that all still run
 * is the chain a fresh walk would read.  Where the held part ends, the
 * parent the last held one names is checked afresh (its stat again: still
 * that parent?) and the walk goes on as before.  Any held ancestor that
 * changed, or a fresh step after held ones that finds the chain broken,
 * makes the caller walk again from the start without them (WALK_AGAIN).
 * The ancestors read afresh with a readable executable are put in the
 * cache; for init and its child, whose user matters (see below), a hit
 * reads their status again.
 */
static int
walk(struct ident *id, pid_t ppid, uint64_t child_start,
    struct ident_cache *cache, int held)
{
	struct al_proc_stat st;
	struct proc_status ps;
	struct ident_ancestor *a;
	uid_t uid[2];
	struct stat sb;
	enum anc_lookup hit;
	uint64_t hstart;
	pid_t hppid;
	char *exe;
	int fd, rc, undumpable, last_held = -1, init_held;

	while (ppid > 0) {
		if (id->nancestors == IDENT_ANCESTORS_MAX) {
			id->ancestors_cut = 1;
			break;
		}
		a = &id->ancestors[id->nancestors];
		hit = held ? ident_cache_anc_get(cache, ppid, child_start,
		    &hppid, &hstart, &fd, &exe) : ANC_MISS;
		if (hit == ANC_NOMEM)
			return AL_ENOMEM;
		if (hit == ANC_STALE)
			return WALK_AGAIN;
		if (hit == ANC_HIT) {
			a->pid = ppid;
			a->exe = exe;
			a->uid = (uid_t)-1;
			/* Init and its child: their user, read now. */
			if ((ppid == 1 || hppid == 1) &&
			    ident_cache_anc_uids(cache, ppid, uid) == 0) {
				a->uid = uid[1];
				a->same_user = is_caller_user(id, uid);
			}
			id->nancestors++;
			last_held = fd;
			ppid = hppid;
			child_start = hstart;
			continue;
		}
		/*
		 * Is the parent the last held one names still its parent?
		 * Init always is: it never exits while its namespace lasts.
		 */
		if (last_held >= 0 && ppid != 1 &&
		    (al_proc_stat_at(last_held, &st) != 0 || st.ppid != ppid))
			return WALK_AGAIN;
		/* Init: through the cache's descriptor, kept for good. */
		init_held = ppid == 1 && cache != NULL &&
		    ident_cache_init(cache, &fd) == 0;
		if (!init_held)
			fd = proc_open(ppid);
		if (fd < 0) {
			if (last_held >= 0)
				return WALK_AGAIN;
			id->ancestors_cut = 1;
			break;
		}
		/*
		 * Init needs no stat: it started first, has no parent, and
		 * its pid is nobody else's while its namespace lasts.
		 */
		if (ppid == 1) {
			memset(&st, 0, sizeof(st));
		} else if (al_proc_stat_at(fd, &st) != 0 ||
		    st.start > child_start) {
			(void)close(fd);
			if (last_held >= 0)
				return WALK_AGAIN;
			id->ancestors_cut = 1;
			break;
		}
		last_held = -1;
		rc = proc_read_exe(fd, &exe);
		a->pid = ppid;
		a->exe = exe;
		a->uid = (uid_t)-1;
		/* status is costly: read only where the user matters. */
		if (rc != -ENOMEM && (exe == NULL || ppid == 1 ||
		    st.ppid == 1) && (init_held ?
		    ident_cache_init_uids(cache, uid) :
		    proc_read_status(fd, &ps)) == 0) {
			if (!init_held) {
				uid[0] = ps.uid[0];
				uid[1] = ps.uid[1];
			}
			a->uid = uid[1];
			a->same_user = is_caller_user(id, uid);
		}
		/*
		 * The kernel shows an undumpable process's files as root's;
		 * a process of root's or of no known user is not told by
		 * that, and its entry is not looked at.
		 */
		undumpable = exe == NULL && a->uid != 0 &&
		    a->uid != (uid_t)-1 && fstat(fd, &sb) == 0 &&
		    sb.st_uid == 0;
		/* Init's descriptor stays the cache's. */
		if (!init_held && cache != NULL && rc == 0 && exe != NULL)
			ident_cache_anc_put(cache, ppid, st.ppid, st.start, exe,
			    fd);
		else if (!init_held)
			(void)close(fd);
		if (rc == -ENOMEM)
			return AL_ENOMEM;
		id->nancestors++;
		/*
		 * An ancestor of the caller's own user that the broker may
		 * not read (a broker of another user, without CAP_SYS_PTRACE)
		 * may be the very program a rule names: the agent.  One of
		 * another user (init, sshd, login as root) cannot have been
		 * started by the caller and stays out of the question, and
		 * so does one that made itself undumpable (sshd's session
		 * process, airlock's own commands): that hides only itself,
		 * and the walk goes on above it through stat.  One whose
		 * user cannot be told counts as the caller's.
		 */
		if (exe == NULL && !undumpable && (a->same_user ||
		    a->uid == (uid_t)-1))
			ancestry_unknown(id, "ancestor %d runs as the caller's "
			    "user and its executable cannot be read",
			    (int)ppid);
		if (ppid == 1)
			break;
		ppid = st.ppid;
		child_start = st.start;
	}
	return 0;
}

int
ident_walk_ancestors(struct ident *id, pid_t ppid, uint64_t child_start,
    struct ident_cache *cache)
{
	int rc;

	id->ancestors = calloc(IDENT_ANCESTORS_MAX, sizeof(*id->ancestors));
	if (id->ancestors == NULL)
		return AL_ENOMEM;
	rc = walk(id, ppid, child_start, cache, cache != NULL);
	if (rc == WALK_AGAIN) {
		walk_reset(id);
		rc = walk(id, ppid, child_start, cache, 0);
	}
	if (rc != 0)
		return rc;
	if (id->ancestors_cut)
		ancestry_unknown(id, "the chain of parents could not be walked "
		    "to its end");
	return 0;
}

static int
on_chain(const struct ident *id, pid_t pid)
{
	size_t i;

	if (pid == id->pid)
		return 1;
	for (i = 0; i < id->nancestors; i++)
		if (id->ancestors[i].pid == pid)
			return 1;
	return 0;
}

/* A cgroup systemd gives a unit it started (a service, a user manager). */
static int
service_cgroup(const char *cg)
{
	size_t n = cg ? strlen(cg) : 0;

	return cg != NULL && (strstr(cg, ".service/") != NULL ||
	    (n > 8 && strcmp(cg + n - 8, ".service") == 0));
}

/*
 * A process whose parent exited was moved to init (or a subreaper) and
 * lost the ancestors it had: `( cmd & )`, `setsid -f cmd`, a double fork.
 * The chain it shows then proves nothing about who started it.  Two signs:
 * its session's leader, which started the session it still belongs to, is
 * no longer among its ancestors; or the process right below init runs as
 * the caller's user while init does not, outside any unit systemd started
 * (users' sessions begin below root's sshd, login or display manager).
 */
int
ident_check_reparented(struct ident *id)
{
	const struct ident_ancestor *top = NULL, *init;
	char *cg = NULL;
	int fd, rc, same;

	if (id->session > 0 && !on_chain(id, id->session))
		ancestry_unknown(id, "its session leader %d is not among its "
		    "ancestors: it was moved away from the process that "
		    "started it", (int)id->session);
	if (id->nancestors == 0 ||
	    id->ancestors[id->nancestors - 1].pid != 1)
		return 0;
	init = &id->ancestors[id->nancestors - 1];
	if (init->same_user || init->uid == (uid_t)-1)
		return 0;	/* init is the user's: a container of its own */
	if (id->nancestors >= 2) {
		top = &id->ancestors[id->nancestors - 2];
		same = top->same_user || top->uid == (uid_t)-1;
	} else
		same = 1;	/* the caller itself is init's child */
	if (!same)
		return 0;
	if (top == NULL) {
		if (!service_cgroup(id->cgroup))
			ancestry_unknown(id, "its parent is init although it "
			    "runs as its user outside a service: it was moved "
			    "to init");
		return 0;
	}
	if ((fd = proc_open(top->pid)) < 0)
		return 0;	/* gone: the walk's own checks decide */
	rc = proc_read_cgroup(fd, &cg);
	(void)close(fd);
	if (rc == -ENOMEM)
		return AL_ENOMEM;
	if (!service_cgroup(cg))
		ancestry_unknown(id, "its oldest ancestor below init (%d) runs "
		    "as the caller's user outside a service: it was moved to "
		    "init", (int)top->pid);
	free(cg);
	return 0;
}

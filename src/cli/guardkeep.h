/*
 * The guards the broker runs: $AIRLOCK_HOME/guards lists them, one
 * `airlock guard` per line (its options, --listen among them, so the
 * address the agents are pointed at stays the same).  `airlock serve`
 * starts each as soon as its socket accepts connections and ends them when
 * it stops; each also dies with the broker's process however that ends (a
 * parent-death signal), so no guard outlives the broker that feeds it
 * values.  SIGHUP makes the broker read the file again.  `agent setup
 * --guard` adds a line, `--no-guard` removes it, and either tells a
 * running broker (guard_keep_notify).
 */
#ifndef AIRLOCK_GUARDKEEP_H
#define AIRLOCK_GUARDKEEP_H

#include <limits.h>
#include <sys/types.h>

#include "airlock/base.h"

#define GUARDKEEP_FILE	"guards"
#define GUARDKEEP_MAX	16	/* guards one broker runs */
#define GUARDKEEP_LINE	1024	/* a line of the file */

struct guard_keep {
	char	 home[PATH_MAX];
	char	 socket[PATH_MAX];	/* the broker's: the guards' too */
	int	 log_fd;		/* their stderr; -1: /dev/null */
	pid_t	 pids[GUARDKEEP_MAX];
	char	 lines[GUARDKEEP_MAX][GUARDKEEP_LINE];	/* each one's */
	size_t	 n;
};

/*
 * The broker's on_ready callback (arg: a struct guard_keep): start a guard
 * for each line of the file.  Problems are written to log_fd; a guard that
 * cannot start leaves its port closed.
 */
void	guard_keep_start(void *arg);
/*
 * The broker's on_hup callback: read the file again; a guard whose line
 * went (or changed), or that exited, is stopped, a new line gets a guard;
 * the others run on undisturbed.
 */
void	guard_keep_hup(void *arg);
/* Stop the guards started (SIGTERM, then SIGKILL after 5 s) and reap them. */
void	guard_keep_stop(struct guard_keep *k);

/*
 * Add the line "--listen LISTEN --upstream UPSTREAM # AGENT" to home's
 * file (kept when a line with that address and upstream is there).
 * AL_EEXIST naming the line when another one listens there.  *added:
 * whether the file changed.  A '#' word starts a comment.
 */
int	guard_keep_add(const char *home, const char *agent, const char *listen,
	    const char *upstream, int *added, struct al_err *err) AL_WUR;
/* Remove the lines guard_keep_add wrote for agent; *removed: how many. */
int	guard_keep_remove(const char *home, const char *agent, int *removed,
	    struct al_err *err) AL_WUR;

struct cli;

/*
 * Have the broker running for cli's state directory, if any, read the file
 * again (SIGHUP to the pid its socket answers with; no broker is started).
 * 1 when one was told, 0 when none runs.
 */
int	guard_keep_notify(struct cli *cli);

#endif

/*
 * Exposure of a secret (src/cli): a known value was found outside airlock
 * (a sweep, an agent hook, the guard).  The broker marks it exposed (when,
 * and where: a path, never the value), revokes its live leases and denies
 * its pending approvals in one step, auditing each.  `airlock secret
 * rotate` ends it.
 */
#ifndef AIRLOCK_CLI_EXPOSURE_H
#define AIRLOCK_CLI_EXPOSURE_H

#include <stddef.h>

#include "airlock/broker.h"
#include "airlock/sweep.h"
#include "airlock/vault.h"
#include "cli.h"

/* The labels that record an exposure (include/airlock/broker.h). */
#define CLI_EXPOSED_SINCE	BROKER_EXPOSED_SINCE
#define CLI_EXPOSED_WHERE	BROKER_EXPOSED_WHERE

/* What the report of one exposure did. */
struct cli_exposure {
	int	first;		/* newly exposed (not found before) */
	size_t	revoked;	/* live leases revoked */
	size_t	denied;		/* pending approvals denied */
};

/*
 * Report that name's value was found outside airlock: in where (a path or
 * what saw it, never the value) by source (hook, guard, sweep).  The
 * running broker marks it exposed, revokes its live leases and denies its
 * pending approvals at once, auditing each step; with no broker running
 * (nothing is live then) it is marked and audited here, the vault unlocked
 * by its key file, or by a passphrase asked for when may_prompt.  A secret
 * already exposed keeps its first time.  AL_EPERM: not the broker's owner,
 * or (here) a passphrase vault and !may_prompt: marked, not audited.
 */
int	cli_exposure_report(struct cli *cli, const char *name,
	    const char *where, const char *source, int may_prompt,
	    struct cli_exposure *res, struct al_err *err) AL_WUR;
/*
 * The same with the proof a redaction gave that this caller saw the value
 * (NULL: none), which lets a caller that is not the broker's owner report
 * it (an agent's hook running as another user).
 */
int	cli_exposure_report_proof(struct cli *cli, const char *name,
	    const char *where, const char *source, const char *proof,
	    int may_prompt, struct cli_exposure *res, struct al_err *err)
	    AL_WUR;

/*
 * Report each secret named by a known-value hit (once per secret) with
 * cli_exposure_report as seen by source ("sweep", "pre-commit"), where
 * being the hit's path, saying on stderr ("airlock: <who>: ...") what
 * became exposed and what access ended.
 */
int	cli_exposure_mark(struct cli *cli, const char *who,
	    const struct sweep_hit *hits, size_t n, const char *source,
	    struct al_err *err) AL_WUR;

struct redact;

/*
 * Run git with argv (its stdout a pipe, its stderr ours) and hand that
 * pipe to search (sweep_stream, sweep_diff) under label.  search's result;
 * else *ok says whether git exited 0.
 */
int	cli_sweep_git(struct sweep *s, char *const argv[],
	    int (*search)(struct sweep *, int, const char *, struct al_err *),
	    const char *label, int *ok, struct al_err *err);

/*
 * The known values: every live secret of the vault added to r (not yet
 * compiled), as `airlock sweep` and `airlock scan --staged` search for
 * them.  When the vault cannot be read without asking (none, a passphrase
 * vault, one owned by the broker's user) *checked is 0, a line on stderr
 * (prefixed "airlock: <who>:") says known values were not checked, and 0
 * is returned: the caller goes on with its rules.  Errors: r's.
 */
int	cli_known_values(struct cli *cli, struct redact *r, const char *who,
	    int *checked, struct al_err *err) AL_WUR;

/*
 * After a rotation of name: if it was exposed, audit exposure_rotate with
 * the time to rotate, drop the exposure labels and keep the time to rotate
 * (BROKER_EXPOSURE_ROTATE_MS).  v is unlocked.
 */
int	cli_exposure_rotated(struct cli *cli, struct vault *v, const char *name,
	    struct al_err *err) AL_WUR;

#endif

/*
 * A secret's rotation command (src/cli): `airlock secret rotate NAME
 * --auto` runs what `--rotate-with CMD` stored, through `/bin/sh -c CMD`
 * (no secret on its argv: it is given nothing) by engine_cmd_run, as the
 * exec engine runs its issuers: nothing of it is left running when it
 * ends, at the timeout, or when airlock is killed.  Its stdout goes
 * straight into guarded memory: the new value.  Its stderr goes into
 * guarded memory too, and is shown only after masking (see cmd_secret.c).
 */
#ifndef AIRLOCK_CLI_ROTATECMD_H
#define AIRLOCK_CLI_ROTATECMD_H

#include "airlock/base.h"
#include "airlock/error.h"

/* The labels a secret's rotation settings are kept in (never a value). */
#define CLI_ROTATE_WITH		"airlock.rotate-with"
#define CLI_ROTATE_WITHIN	"airlock.rotate-within"
/* An exposure not rotated within this many seconds is overdue. */
#define CLI_ROTATE_WITHIN_DEFAULT	(7 * 86400)
#define CLI_ROTATE_TIMEOUT_DEFAULT	60
#define CLI_ROTATE_OUT_MAX	(64 * 1024)

/*
 * Run `sh -c cmd` with an empty stdin: *out its stdout, *errout its stderr
 * (both guarded, closed; up to CLI_ROTATE_OUT_MAX bytes each), *status its
 * exit status (128 + signal when killed by one).  AL_ETIMEDOUT after
 * timeout seconds (all of it is killed; nothing is returned), AL_ETOOBIG
 * when it prints more, AL_ESYS.
 */
int	cli_rotate_cmd_run(const char *cmd, int timeout,
	    struct al_secret **out, struct al_secret **errout, int *status,
	    struct al_err *err) AL_WUR;

/*
 * The rotation SLA of a secret with labels rotate_within (its label value,
 * or NULL): seconds.  NULL or a bad value: the default.
 */
int64_t	cli_rotate_within(const char *label_value);

/*
 * Whether an exposure since `since` (seconds) is overdue at now under the
 * SLA within (seconds); *by the deadline.
 */
int	cli_exposure_overdue(int64_t since, int64_t within, int64_t now,
	    int64_t *by);

/*
 * Whether m is exposed (since its exposed-since label) for longer than its
 * rotation SLA at now (seconds); *by the deadline (0 when not exposed).
 */
struct vault_meta;
int	cli_meta_overdue(const struct vault_meta *m, int64_t now,
	    int64_t *by);

#endif

/*
 * Exposure of a secret (src/cli): a known value was found outside airlock.
 * The secret is marked exposed (when, and where: a path, never the value),
 * its live leases are revoked and its pending approvals denied through the
 * broker, and each step is audited.  `airlock secret rotate` ends it.
 */
#ifndef AIRLOCK_CLI_EXPOSURE_H
#define AIRLOCK_CLI_EXPOSURE_H

#include <stddef.h>

#include "airlock/sweep.h"
#include "airlock/vault.h"
#include "cli.h"

/* The label that records since when a secret is exposed (RFC 3339). */
#define CLI_EXPOSED_SINCE	"exposed-since"
#define CLI_EXPOSED_WHERE	"exposed-where"

/*
 * Set m exposed since now_ms, found in where (a path or what saw it), in
 * its status and labels; the caller stores m.  AL_ENOMEM, AL_ETOOBIG (no
 * room for another label).
 */
int	cli_exposure_label(struct vault_meta *m, int64_t now_ms,
	    const char *where) AL_WUR;

/*
 * Mark each secret named by a known-value hit exposed (once: a secret
 * already exposed keeps its first time), revoke its live leases, deny its
 * pending approvals and audit: secret_exposed, then exposure_revoke with
 * the time to revoke (exposure to the last lease ended) in milliseconds.
 */
int	cli_exposure_mark(struct cli *cli, const struct sweep_hit *hits,
	    size_t n, struct al_err *err) AL_WUR;

/*
 * After a rotation of name: if it was exposed, audit exposure_rotate with
 * the time to rotate and drop the exposure labels.  v is unlocked.
 */
int	cli_exposure_rotated(struct cli *cli, struct vault *v, const char *name,
	    struct al_err *err) AL_WUR;

#endif

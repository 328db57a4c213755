/* The audit log from a command (src/cli). */
#ifndef AIRLOCK_CLI_AUDITCLI_H
#define AIRLOCK_CLI_AUDITCLI_H

#include <limits.h>

#include "airlock/audit.h"
#include "airlock/vault.h"
#include "cli.h"

/* $AIRLOCK_HOME/audit.log into out (PATH_MAX). */
int	cli_audit_path(const struct cli *cli, char *out, size_t outsz,
	    struct al_err *err) AL_WUR;

/* The audit key, kept in the (unlocked) vault v. */
int	cli_audit_key(struct vault *v, struct al_secret **out,
	    struct al_err *err) AL_WUR;

/*
 * Record ev durably in the audit log, with this process as the caller.
 * v must be unlocked (the audit key lives in it).  Until commands talk to
 * the broker, commands that change the vault record their own events.
 */
int	cli_audit_record(struct cli *cli, struct vault *v,
	    const struct audit_event *ev, struct al_err *err) AL_WUR;

/*
 * Record that secret name changed (event secret_add, secret_rotate, ...),
 * with the keyed fingerprint of its new value when value is set.  The
 * error says the change itself was made.
 */
int	cli_audit_secret(struct cli *cli, struct vault *v, const char *event,
	    const char *name, struct al_secret *value, struct al_err *err)
	    AL_WUR;

/*
 * Record a metadata change of secret name (secret_edit, secret_rm): detail
 * "before" and, unless after is NULL, "after" hold the metadata as
 * vault_meta_json shows it.  The error says the change itself was made.
 */
int	cli_audit_secret_meta(struct cli *cli, struct vault *v,
	    const char *event, const char *name,
	    const struct vault_meta *before, const struct vault_meta *after,
	    struct al_err *err) AL_WUR;

#endif

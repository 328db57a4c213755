/* Opening and unlocking the vault from a command (src/cli). */
#ifndef AIRLOCK_CLI_VAULTCLI_H
#define AIRLOCK_CLI_VAULTCLI_H

#include <jansson.h>

#include "airlock/vault.h"
#include "cli.h"

/* Open the vault in cli->home for metadata. */
int	cli_vault_open(struct cli *cli, struct vault **out,
	    struct al_err *err) AL_WUR;
/*
 * Unlock v: with master.key, or with a passphrase read from passfd (when
 * >= 0) or asked on the terminal.
 */
int	cli_vault_unlock(struct vault *v, int passfd, struct al_err *err)
	    AL_WUR;
/* Parse "--passphrase-fd N" values. */
int	cli_parse_fd(const char *s, const char *field, int *out,
	    struct al_err *err) AL_WUR;
/* Print a JSON value to stdout followed by a newline; j stays the caller's. */
int	cli_print_json(json_t *j);

#endif

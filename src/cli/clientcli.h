/* Reaching the broker from a command (src/cli). */
#ifndef AIRLOCK_CLI_CLIENTCLI_H
#define AIRLOCK_CLI_CLIENTCLI_H

#include "airlock/client.h"
#include "cli.h"

/*
 * Connect to the broker on $AIRLOCK_SOCKET (default $AIRLOCK_HOME/
 * airlockd.sock), starting `airlock serve` when none answers.
 */
int	cli_client_open(struct cli *cli, struct client **out,
	    struct al_err *err) AL_WUR;

#endif

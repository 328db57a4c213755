/* `airlock hook claude|codex|cursor`: the agent hooks (src/cli). */
#ifndef AIRLOCK_CLI_HOOKAGENT_H
#define AIRLOCK_CLI_HOOKAGENT_H

#include "cli.h"

/* argv[0] is the agent's name; the hook input is on stdin. */
int	cli_hook_agent(struct cli *cli, int argc, char **argv);

#endif

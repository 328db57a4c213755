/* airlock stop: end the broker of this state directory (ssh-agent -k). */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "clientcli.h"

const char cmd_stop_help[] =
"usage: airlock stop\n"
"\n"
"Stop the broker of $AIRLOCK_HOME (also `airlock serve --stop`): its bound\n"
"leases end, a passphrase vault is locked again.  The next command that\n"
"needs a broker starts one (a passphrase vault: `airlock unlock`).  Without\n"
"a running broker there is nothing to do.\n"
"\n"
"Exit status: 0 stopped or none running, 2 error (it runs as another user,\n"
"it did not stop).\n"
"See docs/commands/stop.md.\n";

int
cli_broker_stop(struct cli *cli)
{
	struct client_opts o = { .home = cli->home,
	    .socket_path = getenv("AIRLOCK_SOCKET") };
	struct al_err err;
	long pid = 0;
	int rc;

	al_err_clear(&err);
	rc = client_stop(&o, &pid, &err);
	if (rc == AL_ENOENT) {
		al_msg(stderr, "stop", "no broker is running for %s",
		    cli->home);
		return CLI_EXIT_OK;
	}
	if (rc != 0)
		return cli_fail(&err);
	al_msg(stderr, "stop", "stopped the broker (pid %ld)", pid);
	return CLI_EXIT_OK;
}

int
cmd_stop(struct cli *cli, int argc, char **argv)
{
	int json, rc;

	/* No option but --help. */
	if ((rc = cli_json_only("stop", "stop", argc, argv, &json)) >= 0)
		return rc;
	if (json)
		return cli_usage("stop", "unknown option '--json'");
	return cli_broker_stop(cli);
}

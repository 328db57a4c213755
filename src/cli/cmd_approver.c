/* airlock approver set-pin: the PIN that approving a lease request needs. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "airlock/vault.h"
#include "auditcli.h"
#include "cli.h"
#include "input.h"
#include "vaultcli.h"

const char cmd_approver_help[] =
"usage: airlock approver set-pin | status\n"
"\n"
"Approving a lease request (`airlock approve ID`) needs the approver PIN:\n"
"something only you know, typed on your terminal, so that an agent\n"
"running as your user cannot approve its own requests.  The broker checks\n"
"it; only its Argon2id hash is kept ($AIRLOCK_HOME/approver.pin, 0600).\n"
"\n"
"  set-pin   set or change the PIN (asked twice on the terminal; the\n"
"            current PIN first when one is set).  At least 6 characters.\n"
"  status    say whether a PIN is set\n"
"\n"
"The PIN is read from /dev/tty only, never from stdin, a descriptor or\n"
"argv.  Setting it is audited.\n"
"\n"
"Exit status: 0 success, 2 error.\n";

static int
set_pin(struct cli *cli)
{
	struct al_secret *old = NULL, *pin = NULL;
	struct vault *v = NULL;
	struct audit_event ev;
	struct al_err err;
	int rc, had;

	al_err_clear(&err);
	/* The vault unlocked: the change is audited with its key. */
	if ((rc = cli_vault_open(cli, &v, &err)) != 0 ||
	    (rc = cli_vault_unlock(v, -1, &err)) != 0)
		goto out;
	if ((had = vault_pin_isset(cli->home))) {
		if ((rc = cli_read_pin("Current approver PIN: ", 0, &old,
		    &err)) != 0 ||
		    (rc = vault_pin_verify(cli->home, old, &err)) != 0)
			goto out;
	}
	if ((rc = cli_read_pin("New approver PIN: ", 1, &pin, &err)) != 0 ||
	    (rc = vault_pin_check_new(pin, &err)) != 0 ||
	    (rc = vault_pin_set(cli->home, pin, &err)) != 0)
		goto out;
	memset(&ev, 0, sizeof(ev));
	ev.event = "approver_pin";
	ev.outcome = "ok";
	ev.reason = had ? "changed" : "set";
	if ((rc = cli_audit_record(cli, v, &ev, &err)) != 0)
		goto out;
	fprintf(stderr, "airlock: approver PIN %s; `airlock approve` asks "
	    "for it\n", had ? "changed" : "set");
out:
	al_secret_free(old);
	al_secret_free(pin);
	vault_close(v);
	return rc == 0 ? CLI_EXIT_OK : cli_fail(&err);
}

int
cmd_approver(struct cli *cli, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0))
		return cli_print_help("approver", stdout);
	if (argc != 2)
		return cli_usage("approver", "expected 'set-pin' or 'status'");
	if (strcmp(argv[1], "set-pin") == 0)
		return set_pin(cli);
	if (strcmp(argv[1], "status") == 0) {
		printf("approver PIN: %s\n", vault_pin_isset(cli->home) ?
		    "set" : "not set (approvals are refused until "
		    "`airlock approver set-pin`)");
		return CLI_EXIT_OK;
	}
	return cli_usage("approver", "unknown subcommand (expected 'set-pin' "
	    "or 'status')");
}

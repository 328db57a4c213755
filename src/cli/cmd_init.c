/* airlock init: create the state directory, master key and vault. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "airlock/vault.h"
#include "cli.h"
#include "input.h"
#include "vaultcli.h"

const char cmd_init_help[] =
"usage: airlock init [--passphrase] [--passphrase-fd N] [--approver-pin |\n"
"                    --no-approver-pin]\n"
"\n"
"Create the state directory ($AIRLOCK_HOME, mode 0700) and an empty vault.\n"
"By default the vault is locked by a random 256-bit master key written to\n"
"$AIRLOCK_HOME/master.key (mode 0600).  With --passphrase the master key is\n"
"derived from a passphrase with Argon2id instead, and nothing key-like is\n"
"written to disk; the passphrase is asked twice without echo.\n"
"\n"
"When run on a terminal, init also asks for the approver PIN that\n"
"`airlock approve` needs (see `airlock help approver`); elsewhere it says\n"
"how to set one later.  Until a PIN is set, approvals are refused.\n"
"\n"
"Options:\n"
"  --passphrase        lock the vault with a passphrase instead of a key file\n"
"  --passphrase-fd N   read the passphrase (one line) from descriptor N\n"
"                      (implies --passphrase)\n"
"  --approver-pin      ask for the approver PIN on /dev/tty (fails without\n"
"                      a terminal)\n"
"  --no-approver-pin   do not ask; set it later with `airlock approver\n"
"                      set-pin`\n"
"  -h, --help          show this help\n"
"\n"
"An existing vault is never overwritten.\n";

int
cmd_init(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "passphrase", no_argument, NULL, 'p' },
		{ "passphrase-fd", required_argument, NULL, 'f' },
		{ "approver-pin", no_argument, NULL, 'a' },
		{ "no-approver-pin", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vault_key key = { VAULT_KEY_KIND_FILE, NULL };
	struct al_secret *pin = NULL;
	struct al_err err;
	int c, passfd = -1, rc, ask_pin = -1;

	al_err_clear(&err);
	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			key.kind = VAULT_KEY_KIND_PASSPHRASE;
			break;
		case 'f':
			key.kind = VAULT_KEY_KIND_PASSPHRASE;
			if (cli_parse_fd(optarg, "--passphrase-fd", &passfd,
			    &err) != 0)
				return cli_fail(&err);
			break;
		case 'a':
		case 'A':
			ask_pin = c == 'a';
			break;
		case 'h':
			return cli_print_help("init", stdout);
		default:
			return cli_bad_option("init", argc, argv, c);
		}
	}
	if (optind < argc)
		return cli_usage("init", "unexpected argument '%s'",
		    argv[optind]);
	/* As git init: a second run leaves the vault alone and says so. */
	{
		char db[PATH_MAX];
		struct vault *v = NULL;

		if (al_path_join(db, sizeof(db), cli->home, VAULT_DB_FILE) ==
		    0 && access(db, F_OK) == 0 &&
		    vault_open(cli->home, cli->clock, &v, NULL) == 0) {
			vault_close(v);
			fprintf(stderr, "airlock: a vault already exists in %s: "
			    "nothing changed\n", cli->home);
			return CLI_EXIT_OK;
		}
	}
	if (key.kind == VAULT_KEY_KIND_PASSPHRASE &&
	    cli_read_passphrase("New vault passphrase: ", passfd, 1,
	    &key.passphrase, &err) != 0)
		return cli_fail(&err);
	rc = vault_create(cli->home, &key, cli->clock, &err);
	al_secret_free(key.passphrase);
	if (rc != 0)
		return cli_fail(&err);
	if (cli_policy_write_default(cli, &err) != 0)
		return cli_fail(&err);
	fprintf(stderr, "airlock: created the vault in %s (%s)\n", cli->home,
	    key.kind == VAULT_KEY_KIND_FILE ? "key in master.key" :
	    "locked by a passphrase");
	/* Asked only of a person at a terminal, never of a script. */
	if (ask_pin == -1)
		ask_pin = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
	if (ask_pin) {
		fprintf(stderr, "airlock: approving a lease request needs an "
		    "approver PIN (at least %d characters) that only you "
		    "know\n", VAULT_PIN_MIN);
		rc = cli_read_pin("New approver PIN: ", 1, &pin, &err);
		if (rc == 0 && (rc = vault_pin_check_new(pin, &err)) == 0)
			rc = vault_pin_set(cli->home, pin, &err);
		al_secret_free(pin);
		if (rc != 0)
			return cli_fail(&err);
		fprintf(stderr, "airlock: approver PIN set\n");
	} else if (!vault_pin_isset(cli->home)) {
		fprintf(stderr, "airlock: no approver PIN yet: approvals are "
		    "refused until you run `airlock approver set-pin` on your "
		    "terminal\n");
	}
	return CLI_EXIT_OK;
}

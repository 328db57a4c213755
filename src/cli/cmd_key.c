/* airlock key change: re-wrap the data key under a new master key. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "airlock/vault.h"
#include "cli.h"
#include "input.h"
#include "vaultcli.h"

const char cmd_key_help[] =
"usage: airlock key change [--passphrase | --key-file] [--passphrase-fd N]\n"
"                          [--new-passphrase-fd M]\n"
"\n"
"Change the master key.  Only the wrapped data key is rewritten; the secrets\n"
"are not re-encrypted, so this is instant for any vault size.  The change is\n"
"crash-safe: at every moment either the old or the new key opens the vault.\n"
"\n"
"By default the vault keeps its kind of key: a new random master.key, or a\n"
"new passphrase (asked twice without echo).\n"
"\n"
"Options:\n"
"  --passphrase            switch to (or change) a passphrase\n"
"  --key-file              switch to (or renew) a random key in master.key\n"
"  --passphrase-fd N       read the current passphrase from descriptor N\n"
"  --new-passphrase-fd M   read the new passphrase from descriptor M\n"
"  -h, --help              show this help\n";

int
cmd_key(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "passphrase", no_argument, NULL, 'p' },
		{ "key-file", no_argument, NULL, 'k' },
		{ "passphrase-fd", required_argument, NULL, 'f' },
		{ "new-passphrase-fd", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vault_key key = { 0, NULL };
	struct vault *v = NULL;
	struct al_err err;
	int c, passfd = -1, newfd = -1, rc;

	al_err_clear(&err);
	if (argc < 2 || strcmp(argv[1], "change") != 0) {
		if (cli_wants_help(argc, argv))
			return cli_print_help("key", stdout);
		return cli_usage("key", argc < 2 ? "'key' needs a subcommand: "
		    "change" : "unknown subcommand 'key %s'", argv[1]);
	}
	argc--;
	argv++;
	optind = 0;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (key.kind == VAULT_KEY_KIND_FILE)
				return cli_usage("key", "--passphrase and "
				    "--key-file exclude each other");
			key.kind = VAULT_KEY_KIND_PASSPHRASE;
			break;
		case 'k':
			if (key.kind == VAULT_KEY_KIND_PASSPHRASE)
				return cli_usage("key", "--passphrase and "
				    "--key-file exclude each other");
			key.kind = VAULT_KEY_KIND_FILE;
			break;
		case 'f':
			if (cli_parse_fd(optarg, "--passphrase-fd", &passfd,
			    &err) != 0)
				return cli_fail(&err);
			break;
		case 'n':
			if (cli_parse_fd(optarg, "--new-passphrase-fd", &newfd,
			    &err) != 0)
				return cli_fail(&err);
			break;
		case 'h':
			return cli_print_help("key", stdout);
		default:
			return cli_bad_option("key", argc, argv, c);
		}
	}
	if (optind < argc)
		return cli_usage("key", "unexpected argument '%s'",
		    argv[optind]);
	if (cli_vault_open(cli, &v, &err) != 0)
		return cli_fail(&err);
	if (key.kind == 0)
		key.kind = newfd >= 0 ? VAULT_KEY_KIND_PASSPHRASE :
		    vault_key_kind(v);
	if (newfd >= 0 && key.kind != VAULT_KEY_KIND_PASSPHRASE) {
		vault_close(v);
		return cli_usage("key", "--new-passphrase-fd goes with "
		    "--passphrase");
	}
	if ((rc = cli_vault_unlock(v, passfd, &err)) != 0)
		goto out;
	if (key.kind == VAULT_KEY_KIND_PASSPHRASE &&
	    (rc = cli_read_passphrase("New vault passphrase: ", newfd, 1,
	    &key.passphrase, &err)) != 0)
		goto out;
	if ((rc = vault_key_change(v, &key, &err)) != 0)
		goto out;
	fprintf(stderr, "airlock: the vault in %s is now locked by %s\n",
	    cli->home, key.kind == VAULT_KEY_KIND_FILE ? "a new master.key" :
	    "the new passphrase");
out:
	al_secret_free(key.passphrase);
	vault_close(v);
	return rc == 0 ? CLI_EXIT_OK : cli_fail(&err);
}

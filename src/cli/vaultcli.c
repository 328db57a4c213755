/* Vault access shared by the commands that use it directly. */
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>

#include "input.h"
#include "vaultcli.h"

int
cli_vault_open(struct cli *cli, struct vault **out, struct al_err *err)
{
	return vault_open(cli->home, cli->clock, out, err);
}

int
cli_vault_unlock(struct vault *v, int passfd, struct al_err *err)
{
	struct vault_key key = { VAULT_KEY_KIND_FILE, NULL };
	int rc;

	if (vault_key_kind(v) == VAULT_KEY_KIND_FILE)
		return vault_unlock(v, &key, err);
	key.kind = VAULT_KEY_KIND_PASSPHRASE;
	if ((rc = cli_read_passphrase("Vault passphrase: ", passfd, 0,
	    &key.passphrase, err)) != 0)
		return rc;
	rc = vault_unlock(v, &key, err);
	al_secret_free(key.passphrase);
	return rc;
}

int
cli_parse_fd(const char *s, const char *field, int *out, struct al_err *err)
{
	long long v;
	int rc;

	*out = -1;
	if ((rc = al_parse_int(s, 0, 1 << 20, field, &v, err)) != 0)
		return rc;
	if (fcntl((int)v, F_GETFD) < 0)
		return al_err_set(err, AL_EINVAL, "%s: descriptor %lld is not "
		    "open", field, v);
	*out = (int)v;
	return 0;
}

int
cli_print_json(json_t *j)
{
	char *s;

	if (j == NULL)
		return cli_failf("out of memory");
	s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s == NULL)
		return cli_failf("out of memory");
	(void)puts(s);
	free(s);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : cli_failf("cannot write "
	    "to stdout");
}

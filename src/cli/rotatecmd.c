/* A secret's rotation command, run with its output in guarded memory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/engine.h"
#include "airlock/vault.h"
#include "exposure.h"
#include "rotatecmd.h"

int
cli_rotate_cmd_run(const char *cmd, int timeout, struct al_secret **out,
    struct al_secret **errout, int *status, struct al_err *err)
{
	struct engine_cmd c = { "the rotation command", cmd, NULL, NULL, 0,
	    timeout, CLI_ROTATE_OUT_MAX, CLI_ROTATE_OUT_MAX };

	return engine_cmd_run(&c, out, errout, status, err);
}

int64_t
cli_rotate_within(const char *v)
{
	char *end;
	long long n;

	if (v == NULL || *v == '\0')
		return CLI_ROTATE_WITHIN_DEFAULT;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < 1)
		return CLI_ROTATE_WITHIN_DEFAULT;
	return (int64_t)n;
}

int
cli_exposure_overdue(int64_t since, int64_t within, int64_t now, int64_t *by)
{
	*by = since + within;
	return now >= *by;
}

int
cli_meta_overdue(const struct vault_meta *m, int64_t now, int64_t *by)
{
	const char *since = vault_meta_label(m, CLI_EXPOSED_SINCE);
	struct al_err e;
	int64_t t0;

	*by = 0;
	if (since == NULL || m->status != VAULT_EXPOSED ||
	    al_parse_time(since, now, CLI_EXPOSED_SINCE, &t0, &e) != 0)
		return 0;
	return cli_exposure_overdue(t0, cli_rotate_within(vault_meta_label(m,
	    CLI_ROTATE_WITHIN)), now, by);
}

/* The scanner's rules where the commands need them outside `scan`. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "rules.h"

const char *
cli_cache_dir(char *out, size_t outsz)
{
	const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
	int n;

	if (x != NULL && x[0] == '/')
		n = snprintf(out, outsz, "%s/airlock", x);
	else if (h != NULL && h[0] == '/')
		n = snprintf(out, outsz, "%s/.cache/airlock", h);
	else
		return NULL;
	if (n < 0 || (size_t)n >= outsz || al_fs_mkdir_private(out, NULL) != 0)
		return NULL;
	return out;
}

int
cli_redact_rules(struct scan_engine **out, struct al_err *err)
{
	struct scan_rules *rules = NULL;
	char cache[PATH_MAX];
	int rc;

	*out = NULL;
	if ((rc = scan_rules_builtin(&rules, err)) != 0)
		return rc;
	rc = scan_engine_new_cached(rules, SCAN_ENGINE_SECRETS_ONLY |
	    SCAN_ENGINE_NO_EXAMPLES, cli_cache_dir(cache, sizeof(cache)), out,
	    err);
	scan_rules_free(rules);
	return rc;
}

/* The scanner's secret rules for the redactor of run and redact (src/cli). */
#ifndef AIRLOCK_CLI_RULES_H
#define AIRLOCK_CLI_RULES_H

#include "airlock/scan.h"
#include "cli.h"

/*
 * The directory for compiled rule databases: $XDG_CACHE_HOME/airlock or
 * ~/.cache/airlock, created private.  NULL (no cache) if that fails.
 */
const char *cli_cache_dir(char *out, size_t outsz);

/*
 * The built-in secret rules compiled for redaction (the compiled database
 * cached under $XDG_CACHE_HOME/airlock when possible).
 */
int	cli_redact_rules(struct scan_engine **out, struct al_err *err) AL_WUR;

#endif

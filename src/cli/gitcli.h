/* Asking git one thing from a command (src/cli). */
#ifndef AIRLOCK_CLI_GITCLI_H
#define AIRLOCK_CLI_GITCLI_H

#include <stddef.h>

#include "airlock/base.h"

/*
 * Run git with argv (looked up in PATH, stdin /dev/null) and read the first
 * line of its output into out.  With quiet, git's stderr goes to /dev/null.
 * AL_EINVAL "not inside a git repository" when git fails or prints nothing.
 */
int	cli_git_line(char *const argv[], char *out, size_t outsz, int quiet,
	    struct al_err *err) AL_WUR;

#endif

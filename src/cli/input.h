/* Reading passphrases and secret values without echo or argv (src/cli). */
#ifndef AIRLOCK_CLI_INPUT_H
#define AIRLOCK_CLI_INPUT_H

#include "airlock/base.h"

/*
 * Read a passphrase: from descriptor fd (one line) when fd >= 0, else from
 * the terminal without echo, asking twice when confirm is set.  The result
 * is guarded memory, never empty.
 */
int	cli_read_passphrase(const char *prompt, int fd, int confirm,
	    struct al_secret **out, struct al_err *err) AL_WUR;

/*
 * Read a secret value for name: from path when set (bytes as they are),
 * else from stdin when it is not a terminal (one trailing newline stripped
 * unless keep_newline), else a no-echo prompt asked twice.  At most max
 * bytes; an empty value is refused.
 */
int	cli_read_value(const char *name, const char *path, int keep_newline,
	    size_t max, struct al_secret **out, struct al_err *err) AL_WUR;

/*
 * Read the approver PIN from the terminal (/dev/tty) with echo off, asking
 * twice when confirm is set.  Never from a descriptor, stdin or argv: a
 * process without a terminal (an agent's tool call) cannot type it.
 */
int	cli_read_pin(const char *prompt, int confirm, struct al_secret **out,
	    struct al_err *err) AL_WUR;

#endif

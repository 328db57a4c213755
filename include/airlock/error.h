/*
 * airlock error codes.
 *
 * A fallible function returns 0 or one of the negative codes below.  The
 * numbers never change: they may be stored, logged and compared by scripts.
 * Context the caller cannot rebuild (a path, a line, a field name) goes into
 * an optional struct al_err, always the last parameter.
 */
#ifndef AIRLOCK_ERROR_H
#define AIRLOCK_ERROR_H

#include <stddef.h>

#define AL_WUR __attribute__((warn_unused_result))
#define AL_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum al_code {
	AL_OK = 0,
	AL_ENOMEM = -1,		/* out of memory */
	AL_EINVAL = -2,		/* malformed input from the user or a peer */
	AL_EIO = -3,		/* read/write failed */
	AL_ENOENT = -4,		/* no such secret, lease, file ... */
	AL_EEXIST = -5,		/* already exists */
	AL_EPERM = -6,		/* unsafe owner/mode, or not permitted */
	AL_ECRYPTO = -7,	/* authentication failed: tampered record */
	AL_EBADKEY = -8,	/* wrong passphrase or master key */
	AL_ECORRUPT = -9,	/* a store is damaged beyond one record */
	AL_ETOOBIG = -10,	/* over a documented size limit */
	AL_EDB = -11,		/* storage backend failure */
	AL_ESYS = -12,		/* a system call failed (errno in message) */
	AL_EDENIED = -13,	/* refused by policy */
	AL_ETIMEDOUT = -14,	/* a deadline passed */
	AL_EPROTO = -15,	/* protocol violation on the wire */
	AL_EBUSY = -16,		/* locked by another process */
	AL_ENOVAULT = -17,	/* no vault at $AIRLOCK_HOME */
	AL_EUNAVAIL = -18,	/* a service (broker) does not answer */
	AL_EEXPIRED = -19,	/* lease or secret expired / used up */
	AL_EPENDING = -20,	/* waiting for approval */
};

#define AL_ERR_MSG_MAX 512

struct al_err {
	int	code;
	char	msg[AL_ERR_MSG_MAX];
};

/*
 * Record code and message in err (which may be NULL) and return code, so a
 * caller can write `return al_err_set(err, AL_EINVAL, "...")`.  The message
 * must never contain a secret value: pass identifiers only.  Control
 * characters in the formatted message are escaped.
 */
int	al_err_set(struct al_err *err, int code, const char *fmt, ...)
	    AL_PRINTF(3, 4);

/* Clear err to "no error". NULL is allowed. */
void	al_err_clear(struct al_err *err);

/* A short, fixed English description of code ("out of memory", ...). */
const char *al_strerror(int code);

#endif

/* Error codes and the optional error context. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "airlock/base.h"
#include "airlock/error.h"

int
al_err_set(struct al_err *err, int code, const char *fmt, ...)
{
	char raw[AL_ERR_MSG_MAX];
	va_list ap;
	size_t i, o;

	if (err == NULL)
		return code;
	va_start(ap, fmt);
	(void)vsnprintf(raw, sizeof(raw), fmt, ap);	/* truncation is fine */
	va_end(ap);
	/* Escape control characters so a message cannot forge output lines. */
	for (i = 0, o = 0; raw[i] != '\0' && o + 5 < sizeof(err->msg); i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c < 0x20 || c == 0x7f) {
			(void)snprintf(err->msg + o, 5, "\\x%02x", c);
			o += 4;
		} else
			err->msg[o++] = (char)c;
	}
	err->msg[o] = '\0';
	err->code = code;
	return code;
}

void
al_err_clear(struct al_err *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

const char *
al_strerror(int code)
{
	switch (code) {
	case AL_OK:		return "success";
	case AL_ENOMEM:		return "out of memory";
	case AL_EINVAL:		return "invalid input";
	case AL_EIO:		return "input/output error";
	case AL_ENOENT:		return "not found";
	case AL_EEXIST:		return "already exists";
	case AL_EPERM:		return "not permitted";
	case AL_ECRYPTO:	return "authentication failed";
	case AL_EBADKEY:	return "wrong key or passphrase";
	case AL_ECORRUPT:	return "corrupt data";
	case AL_ETOOBIG:	return "too large";
	case AL_EDB:		return "storage error";
	case AL_ESYS:		return "system error";
	case AL_EDENIED:	return "denied";
	case AL_ETIMEDOUT:	return "timed out";
	case AL_EPROTO:		return "protocol error";
	case AL_EBUSY:		return "busy";
	case AL_ENOVAULT:	return "no vault";
	case AL_EUNAVAIL:	return "unavailable";
	case AL_EEXPIRED:	return "expired";
	case AL_EPENDING:	return "pending approval";
	}
	return "unknown error";
}

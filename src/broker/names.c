/*
 * A secret name the vault does not know may be a value typed where the name
 * goes (`-e VAR=<value>`).  The broker never writes such a name into the
 * audit log, its own log or a reply: it names it by a short keyed
 * fingerprint instead, an HMAC under the audit key.  A value's fingerprint
 * starts with the same digits as the `value_fp` of its `use` lines, so an
 * auditor can still tell which secret was typed by mistake.
 */
#include <stdio.h>
#include <string.h>

#include "broker_int.h"

void
name_unknown(struct broker *b, const char *name, struct al_err *err,
    char fp[NAME_FP_LEN + 1])
{
	static const char hint[] = "(did you mean '";
	struct al_secret *s = NULL;
	char full[AUDIT_FP_HEX], near[VAULT_NAME_MAX + 1] = "";
	const char *p;
	size_t n;

	(void)snprintf(fp, NAME_FP_LEN + 1, "%s", "unknown");
	/* A suggestion names a secret that exists: it may stay. */
	if ((p = strstr(err->msg, hint)) != NULL) {
		p += sizeof(hint) - 1;
		n = strcspn(p, "'");
		if (n < sizeof(near)) {
			memcpy(near, p, n);
			near[n] = '\0';
		}
	}
	if (al_secret_from(name, strlen(name), &s) == 0 &&
	    audit_fingerprint(b->audit, s, full) == 0) {
		memcpy(fp, full, NAME_FP_LEN);
		fp[NAME_FP_LEN] = '\0';
	}
	al_secret_free(s);
	if (near[0] != '\0')
		(void)al_err_set(err, AL_ENOENT, "no secret by that name (name "
		    "fingerprint %s; did you mean '%s'?)", fp, near);
	else
		(void)al_err_set(err, AL_ENOENT, "no secret by that name (name "
		    "fingerprint %s): see `airlock secret ls`", fp);
}

/*
 * airlock report: the inventory of secrets, what needs attention first,
 * and the numbers of exposures (time to revoke, time to rotate), written
 * as one self-contained HTML page, JSON or CSV.
 *
 * The caller fills a struct report (the CLI reads the vault's metadata and
 * the audit log); this component only judges and renders.  Nothing here
 * reads a value, and no value is ever given to it.
 *
 * HTML: one file, inline CSS and inline SVG charts drawn here (expiry
 * timeline, exposures over time, time-to-revoke distribution, leases per
 * owner); a Content-Security-Policy of default-src 'none' so a browser
 * fetches nothing, even if a field held markup (every field is escaped).
 * Each secret's row is <tr id="secret-NAME" class="secret">.
 */
#ifndef AIRLOCK_REPORT_H
#define AIRLOCK_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "airlock/error.h"

struct report_exposure {
	int64_t		 since_ms;	/* when it was found */
	const char	*where;		/* a path, never a value ("" unknown) */
	int64_t		 revoke_ms;	/* time to revoke, -1: not recorded */
	int64_t		 rotate_ms;	/* time to rotate, -1: not rotated */
	int		 leases_revoked;
	int64_t		 rotate_by;	/* SLA deadline (s); 0: none */
};

struct report_secret {
	const char	*name;
	const char	*owner;		/* "" : none */
	const char	*purpose;
	const char	*engine;	/* "" : a static value */
	const char	*status;	/* active, expired, exposed, revoked */
	int64_t		 created;	/* seconds since the epoch */
	int64_t		 expires;	/* 0: never */
	int64_t		 rotation_due;	/* 0: no rotation period */
	int64_t		 last_used;	/* 0: never (per the audit log) */
	uint64_t	 leases;	/* granted */
	uint64_t	 denials;
	struct report_exposure *exposures;
	size_t		 nexposures;
};

struct report {
	const struct report_secret *secrets;
	size_t		 nsecrets;
	int64_t		 now;		/* seconds since the epoch */
	int64_t		 soon;		/* "expires soon" window, seconds */
};

/* Why a secret needs attention, most urgent first; "" when it does not. */
enum report_attention {
	REPORT_OK = 0,
	REPORT_OVERDUE,		/* an exposure past its rotation SLA */
	REPORT_EXPOSED,		/* an exposure not yet rotated */
	REPORT_EXPIRED,
	REPORT_ROTATION_OVERDUE,
	REPORT_NO_OWNER,
	REPORT_EXPIRES_SOON,
};
/* An exposure not rotated by its deadline (rotate_by) at r->now. */
int	report_exposure_overdue(const struct report *r,
	    const struct report_exposure *x);
enum report_attention report_attention(const struct report *r,
	    const struct report_secret *s);
const char *report_attention_name(enum report_attention a);

/* The same rows, three ways.  AL_EIO on a write error, AL_ENOMEM. */
int	report_write_json(const struct report *r, FILE *out) AL_WUR;
int	report_write_csv(const struct report *r, FILE *out) AL_WUR;
int	report_write_html(const struct report *r, FILE *out) AL_WUR;

#endif

/* The inventory as JSON and CSV, and what needs attention. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "airlock/base.h"
#include "airlock/report.h"

int
report_exposure_overdue(const struct report *r,
    const struct report_exposure *x)
{
	return x->rotate_ms < 0 && x->rotate_by != 0 && x->rotate_by <= r->now;
}

enum report_attention
report_attention(const struct report *r, const struct report_secret *s)
{
	size_t i;

	for (i = 0; i < s->nexposures; i++)
		if (report_exposure_overdue(r, &s->exposures[i]))
			return REPORT_OVERDUE;
	for (i = 0; i < s->nexposures; i++)
		if (s->exposures[i].rotate_ms < 0)
			return REPORT_EXPOSED;
	if (strcmp(s->status, "exposed") == 0)
		return REPORT_EXPOSED;
	if (strcmp(s->status, "revoked") == 0)
		return REPORT_OK;
	if (s->expires != 0 && s->expires <= r->now)
		return REPORT_EXPIRED;
	if (s->rotation_due != 0 && s->rotation_due <= r->now)
		return REPORT_ROTATION_OVERDUE;
	if (s->owner == NULL || s->owner[0] == '\0')
		return REPORT_NO_OWNER;
	if (s->expires != 0 && s->expires <= r->now + r->soon)
		return REPORT_EXPIRES_SOON;
	return REPORT_OK;
}

const char *
report_attention_name(enum report_attention a)
{
	switch (a) {
	case REPORT_OK:			return "";
	case REPORT_OVERDUE:		return "exposed, rotation overdue";
	case REPORT_EXPOSED:		return "exposed, not rotated";
	case REPORT_EXPIRED:		return "expired";
	case REPORT_ROTATION_OVERDUE:	return "rotation overdue";
	case REPORT_NO_OWNER:		return "no owner";
	case REPORT_EXPIRES_SOON:	return "expires soon";
	}
	return "";
}

static json_t *
time_or_null(int64_t t)
{
	char b[21];

	if (t == 0)
		return json_null();
	al_format_time(t, b);
	return json_string(b);
}

static json_t *
ms_or_null(int64_t ms)
{
	return ms < 0 ? json_null() : json_integer(ms);
}

static json_t *
secret_json(const struct report *r, const struct report_secret *s)
{
	json_t *o, *ex, *e;
	size_t i;

	if ((ex = json_array()) == NULL)
		return NULL;
	for (i = 0; i < s->nexposures; i++) {
		e = json_pack("{s:o, s:s, s:o, s:o, s:i, s:o, s:b}", "since",
		    time_or_null(s->exposures[i].since_ms / 1000), "where",
		    s->exposures[i].where, "time_to_revoke_ms",
		    ms_or_null(s->exposures[i].revoke_ms), "time_to_rotate_ms",
		    ms_or_null(s->exposures[i].rotate_ms), "leases_revoked",
		    s->exposures[i].leases_revoked, "rotate_by",
		    time_or_null(s->exposures[i].rotate_by), "overdue",
		    report_exposure_overdue(r, &s->exposures[i]));
		if (e == NULL || json_array_append_new(ex, e) != 0) {
			json_decref(ex);
			return NULL;
		}
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:I, "
	    "s:I, s:o, s:s}", "name", s->name, "owner", s->owner, "purpose",
	    s->purpose, "engine", s->engine, "status", s->status, "created",
	    time_or_null(s->created), "expires", time_or_null(s->expires),
	    "rotation_due", time_or_null(s->rotation_due), "last_used",
	    time_or_null(s->last_used), "leases", (json_int_t)s->leases,
	    "denials", (json_int_t)s->denials, "exposures", ex, "attention",
	    report_attention_name(report_attention(r, s)));
	return o;
}

int
report_write_json(const struct report *r, FILE *out)
{
	json_t *root, *arr = json_array(), *o;
	size_t i;
	int rc;

	if (arr == NULL)
		return AL_ENOMEM;
	for (i = 0; i < r->nsecrets; i++) {
		if ((o = secret_json(r, &r->secrets[i])) == NULL ||
		    json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return AL_ENOMEM;
		}
	}
	if ((root = json_pack("{s:i, s:o, s:o}", "version", 1, "generated",
	    time_or_null(r->now), "secrets", arr)) == NULL)
		return AL_ENOMEM;
	rc = json_dumpf(root, out, JSON_INDENT(2)) != 0 ? AL_EIO : 0;
	fputc('\n', out);
	json_decref(root);
	return rc != 0 || ferror(out) ? AL_EIO : 0;
}

/* RFC 4180 field: quoted when it holds a comma, quote or line break. */
static void
csv_field(FILE *out, const char *s, int last)
{
	const char *p;

	/* A spreadsheet would run a field that starts as a formula. */
	if (strchr("=+-@", s[0]) != NULL && s[0] != '\0')
		fputc('\'', out);
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, out);
	} else {
		fputc('"', out);
		for (p = s; *p != '\0'; p++) {
			if (*p == '"')
				fputc('"', out);
			fputc(*p, out);
		}
		fputc('"', out);
	}
	fputs(last ? "\r\n" : ",", out);
}

static void
csv_time(FILE *out, int64_t t)
{
	char b[21];

	if (t == 0)
		b[0] = '\0';
	else
		al_format_time(t, b);
	csv_field(out, b, 0);
}

int
report_write_csv(const struct report *r, FILE *out)
{
	const struct report_secret *s;
	char n[64];
	int64_t worst_revoke, worst_rotate;
	size_t i, k, open;

	fputs("name,owner,purpose,engine,status,created,expires,rotation_due,"
	    "last_used,leases,denials,exposures,exposures_open,"
	    "max_time_to_revoke_ms,max_time_to_rotate_ms,attention\r\n", out);
	for (i = 0; i < r->nsecrets; i++) {
		s = &r->secrets[i];
		csv_field(out, s->name, 0);
		csv_field(out, s->owner, 0);
		csv_field(out, s->purpose, 0);
		csv_field(out, s->engine, 0);
		csv_field(out, s->status, 0);
		csv_time(out, s->created);
		csv_time(out, s->expires);
		csv_time(out, s->rotation_due);
		csv_time(out, s->last_used);
		worst_revoke = worst_rotate = -1;
		for (k = open = 0; k < s->nexposures; k++) {
			if (s->exposures[k].revoke_ms > worst_revoke)
				worst_revoke = s->exposures[k].revoke_ms;
			if (s->exposures[k].rotate_ms > worst_rotate)
				worst_rotate = s->exposures[k].rotate_ms;
			open += s->exposures[k].rotate_ms < 0;
		}
		fprintf(out, "%llu,%llu,%zu,%zu,",
		    (unsigned long long)s->leases,
		    (unsigned long long)s->denials, s->nexposures, open);
		n[0] = '\0';
		if (worst_revoke >= 0)
			(void)snprintf(n, sizeof(n), "%lld",
			    (long long)worst_revoke);
		csv_field(out, n, 0);
		n[0] = '\0';
		if (worst_rotate >= 0)
			(void)snprintf(n, sizeof(n), "%lld",
			    (long long)worst_rotate);
		csv_field(out, n, 0);
		csv_field(out, report_attention_name(report_attention(r, s)),
		    1);
	}
	return ferror(out) ? AL_EIO : 0;
}

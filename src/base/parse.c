/* Numbers, durations and times from the command line or config files. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "airlock/base.h"

#define DURATION_MAX	(100LL * 366 * 86400)

int
al_parse_int(const char *s, long long min, long long max, const char *field,
    long long *out, struct al_err *err)
{
	char *end;
	long long v;

	*out = 0;
	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return al_err_set(err, AL_EINVAL, "%s: expected a number",
		    field);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return al_err_set(err, AL_EINVAL, "%s: expected a number",
		    field);
	if (errno == ERANGE || v < min || v > max)
		return al_err_set(err, AL_EINVAL,
		    "%s: must be between %lld and %lld", field, min, max);
	*out = v;
	return 0;
}

static long long
unit_seconds(char u)
{
	switch (u) {
	case 's':	return 1;
	case 'm':	return 60;
	case 'h':	return 3600;
	case 'd':	return 86400;
	case 'w':	return 7 * 86400;
	}
	return 0;
}

int
al_parse_duration_ms(const char *s, const char *field, int64_t *out,
    struct al_err *err)
{
	const char *p = s;
	long long v;
	size_t n;
	int64_t secs;
	int rc;

	*out = 0;
	/* "250ms" on its own; everything else as a duration in seconds. */
	n = s ? strlen(s) : 0;
	if (n > 2 && strcmp(s + n - 2, "ms") == 0) {
		for (v = 0; p < s + n - 2; p++) {
			if (!isdigit((unsigned char)*p) || v > 1000000000LL)
				return al_err_set(err, AL_EINVAL, "%s: expected a "
				    "duration such as 250ms, 90s, 15m or 1h30m",
				    field);
			v = v * 10 + (*p - '0');
		}
		if (v < 1 || v > 1000000000LL)
			return al_err_set(err, AL_EINVAL, "%s: duration must be "
			    "between 1ms and 100 years", field);
		*out = v;
		return 0;
	}
	if ((rc = al_parse_duration(s, field, &secs, err)) != 0)
		return rc;
	*out = secs * 1000;
	return 0;
}

int
al_parse_duration(const char *s, const char *field, int64_t *out,
    struct al_err *err)
{
	const char *p = s;
	long long total = 0, v, mul;
	int parts = 0;

	*out = 0;
	if (s == NULL || *s == '\0')
		goto bad;
	while (*p != '\0') {
		if (!isdigit((unsigned char)*p))
			goto bad;
		v = 0;
		while (isdigit((unsigned char)*p)) {
			v = v * 10 + (*p - '0');
			if (v > DURATION_MAX)
				goto range;
			p++;
		}
		if (*p == '\0') {
			/* A bare trailing number is seconds, only on its own. */
			if (parts > 0)
				goto bad;
			mul = 1;
		} else if ((mul = unit_seconds(*p++)) == 0)
			goto bad;
		if (v > DURATION_MAX / mul)
			goto range;
		total += v * mul;
		if (total > DURATION_MAX)
			goto range;
		parts++;
	}
	if (total < 1)
		goto range;
	*out = total;
	return 0;
bad:
	return al_err_set(err, AL_EINVAL,
	    "%s: expected a duration such as 90s, 15m, 2h, 7d or 1h30m", field);
range:
	return al_err_set(err, AL_EINVAL,
	    "%s: duration must be between 1s and 100 years", field);
}

int
al_parse_time(const char *s, int64_t now, const char *field, int64_t *out,
    struct al_err *err)
{
	struct tm tm;
	const char *end;
	int64_t d;
	time_t t;

	*out = 0;
	if (s != NULL && strlen(s) >= 10 && s[4] == '-') {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
		if (end != NULL && *end == 'T')
			end = strptime(end + 1, "%H:%M:%S", &tm);
		if (end != NULL && *end == 'Z')
			end++;
		if (end == NULL || *end != '\0' || tm.tm_year < 70 ||
		    tm.tm_year > 1100)
			return al_err_set(err, AL_EINVAL,
			    "%s: expected a date such as 2027-01-31 or "
			    "2027-01-31T12:00:00Z (UTC), or a duration", field);
		if ((t = timegm(&tm)) == (time_t)-1)
			return al_err_set(err, AL_EINVAL, "%s: date out of range",
			    field);
		*out = (int64_t)t;
		return 0;
	}
	if (al_parse_duration(s, field, &d, NULL) != 0)
		return al_err_set(err, AL_EINVAL,
		    "%s: expected a date such as 2027-01-31 or "
		    "2027-01-31T12:00:00Z (UTC), or a duration such as 90d",
		    field);
	*out = now + d;
	return 0;
}

void
al_format_time(int64_t t, char out[static 21])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(out, 21, "@%lld", (long long)t);
}

void
al_format_duration(int64_t secs, char out[static 32])
{
	static const struct { char u; int64_t s; } units[] = {
		{ 'w', 7 * 86400 }, { 'd', 86400 }, { 'h', 3600 },
		{ 'm', 60 }, { 's', 1 },
	};
	size_t i, o = 0;

	out[0] = '\0';
	if (secs <= 0) {
		(void)snprintf(out, 32, "0s");
		return;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		/* "30d" reads better than "4w2d": weeks only when whole. */
		if (units[i].u == 'w' && secs % units[i].s != 0)
			continue;
		if (secs >= units[i].s) {
			int n = snprintf(out + o, 32 - o, "%lld%c",
			    (long long)(secs / units[i].s), units[i].u);
			if (n < 0 || (size_t)n >= 32 - o)
				break;
			o += (size_t)n;
			secs %= units[i].s;
		}
	}
}

size_t
al_utf8_put(uint32_t cp, unsigned char out[static 4])
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

void
al_hex(const void *vp, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = vp;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

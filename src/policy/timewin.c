/*
 * Time windows.  Local time in a named zone comes from ICU's calendar, which
 * carries the zone database and is safe to use from any thread; the libc way
 * (setenv("TZ") + localtime) changes process-wide state under the broker.
 * ICU is called through the policy's table (icu_dl.h), loaded at run time.
 */
#include <string.h>

#include "icu_dl.h"
#include "policy_int.h"

#define TZ_NAME_MAX	64

static int
tz_uchars(const struct icu_dl *icu, const char *tz, UChar *out, size_t outsz)
{
	size_t n = strlen(tz);

	if (n == 0 || n >= outsz || n >= TZ_NAME_MAX)
		return -1;
	icu->chars_to_uchars(tz, out, (int32_t)n + 1);
	return 0;
}

int
ptz_valid(const struct icu_dl *icu, const char *tz)
{
	UChar id[TZ_NAME_MAX], canon[TZ_NAME_MAX];
	UErrorCode st = U_ZERO_ERROR;
	UBool system = 0;
	const char *c;

	if (strcmp(tz, "UTC") == 0)
		return 1;
	/* u_charsToUChars takes invariant characters only. */
	for (c = tz; *c != '\0'; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || strchr("/_+-", *c) != NULL))
			return 0;
	if (tz_uchars(icu, tz, id, TZ_NAME_MAX) != 0)
		return 0;
	(void)icu->cal_canonical_tz(id, -1, canon, TZ_NAME_MAX, &system, &st);
	return U_SUCCESS(st) && system;
}

/* Day of week (0 Sunday) and minute of day of now in w's zone. */
static int
local_time(const struct icu_dl *icu, const struct pwindow *w, int64_t now,
    int *wday, int *minute)
{
	UChar id[TZ_NAME_MAX];
	UErrorCode st = U_ZERO_ERROR;
	UCalendar *cal;
	int rc = -1;

	if (w->tz == NULL || tz_uchars(icu, w->tz, id, TZ_NAME_MAX) != 0)
		icu->chars_to_uchars("UTC", id, 4);
	cal = icu->cal_open(id, -1, "en_US_POSIX", UCAL_GREGORIAN, &st);
	if (U_FAILURE(st))
		goto out;
	icu->cal_set_millis(cal, (UDate)now * 1000.0, &st);
	*wday = icu->cal_get(cal, UCAL_DAY_OF_WEEK, &st) - UCAL_SUNDAY;
	*minute = icu->cal_get(cal, UCAL_HOUR_OF_DAY, &st) * 60 +
	    icu->cal_get(cal, UCAL_MINUTE, &st);
	if (U_SUCCESS(st) && *wday >= 0 && *wday < 7)
		rc = 0;
out:
	if (cal != NULL)
		icu->cal_close(cal);
	return rc;
}

int
pwindow_match(const struct icu_dl *icu, const struct pwindow *w, int64_t now)
{
	int wday, min, prev;

	if (icu == NULL || local_time(icu, w, now, &wday, &min) != 0)
		return -1;
	prev = (wday + 6) % 7;
	if (w->start < w->end)
		return (w->days & (1u << wday)) && min >= w->start &&
		    min < w->end;
	/*
	 * Across midnight: the window belongs to the day it starts on, so
	 * "fri 22:00-06:00" covers Friday night and early Saturday.
	 */
	return ((w->days & (1u << wday)) && min >= w->start) ||
	    ((w->days & (1u << prev)) && min < w->end);
}

/*
 * Building and checking one audit line.
 *
 * A line is the compact JSON serialisation of an object whose last member
 * is "mac".  What the mac covers is the exact bytes written up to that
 * member, closed with "}": verification never re-serialises anything, so
 * there is no canonical form to get wrong, and the reader checks the very
 * bytes the writer authenticated.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit_int.h"

#define TIME_MAX_MS	253402300799999LL	/* 9999-12-31T23:59:59.999Z */

void
audit_format_time(int64_t ms, char out[AUDIT_TIME_LEN])
{
	struct tm tm;
	time_t t;
	int n;

	if (ms < 0)
		ms = 0;
	if (ms > TIME_MAX_MS)
		ms = TIME_MAX_MS;
	t = (time_t)(ms / 1000);
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	n = snprintf(out, AUDIT_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
	    tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
	    tm.tm_sec % 100, (int)(ms % 1000));
	if (n != AUDIT_TIME_LEN - 1)
		(void)snprintf(out, AUDIT_TIME_LEN, "1970-01-01T00:00:00.000Z");
}

static int
digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
audit_parse_time(const char *s, int64_t *ms)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, milli;
	time_t t;

	*ms = 0;
	if (strlen(s) != AUDIT_TIME_LEN - 1 || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' ||
	    s[23] != 'Z' || digits(s, 4, &y) != 0 ||
	    digits(s + 5, 2, &mo) != 0 || digits(s + 8, 2, &d) != 0 ||
	    digits(s + 11, 2, &h) != 0 || digits(s + 14, 2, &mi) != 0 ||
	    digits(s + 17, 2, &sec) != 0 || digits(s + 20, 3, &milli) != 0)
		return AL_EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return AL_EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return AL_EINVAL;
	*ms = (int64_t)t * 1000 + milli;
	return 0;
}

static int
event_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > AUDIT_EVENT_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
			return 0;
	return 1;
}

/*
 * Add s as member key: escaped when it is not valid UTF-8, cut at a
 * character boundary past AUDIT_TEXT_MAX bytes.
 */
static int
put_text(json_t *o, const char *key, const char *s)
{
	struct al_buf t;
	const char *p = s;
	size_t n = strlen(s);
	json_t *j;
	int cut = 0, rc = AL_ENOMEM;

	al_buf_init(&t, 16 * AUDIT_TEXT_MAX, 0);
	if ((j = json_stringn(s, n)) == NULL) {
		/* Not valid UTF-8: escape the bytes that are not. */
		if (al_buf_append_escaped(&t, s, n > 4 * AUDIT_TEXT_MAX ?
		    4 * AUDIT_TEXT_MAX : n) != 0)
			goto out;
		p = al_buf_str(&t);
		n = t.len;
	} else if (n <= AUDIT_TEXT_MAX) {
		rc = json_object_set_new(o, key, j) == 0 ? 0 : AL_ENOMEM;
		goto out;
	} else
		json_decref(j);
	if (n > AUDIT_TEXT_MAX) {
		/* Cut at a character boundary (p is valid UTF-8 here). */
		n = AUDIT_TEXT_MAX;
		while (n > 0 && ((unsigned char)p[n] & 0xc0) == 0x80)
			n--;
		cut = 1;
	}
	if (cut) {
		if (p == s && al_buf_append(&t, s, n) != 0)
			goto out;
		if (p != s)
			t.len = n;
		if (al_buf_puts(&t, "...") != 0)
			goto out;
		p = al_buf_str(&t);
		n = t.len;
	}
	if ((j = json_stringn(p, n)) != NULL && json_object_set_new(o, key,
	    j) == 0)
		rc = 0;
out:
	al_buf_release(&t);
	return rc;
}

int
audit_line_build(struct al_buf *b, const struct audit_event *ev,
    uint64_t seq, int64_t now_ms, const unsigned char *chain_key,
    const unsigned char prev[AUDIT_MAC_LEN], unsigned char mac[AUDIT_MAC_LEN],
    struct al_err *err)
{
	static const char zeros[65] =
	    "0000000000000000000000000000000000000000000000000000000000000000";
	const struct { const char *key, *val; } texts[] = {
		{ "secret", ev->secret },
		{ "lease", ev->lease }, { "task", ev->task },
		{ "intent", ev->intent }, { "reason", ev->reason },
		{ "value_fp", ev->value_fp },
	};
	char t[AUDIT_TIME_LEN], hex[65];
	json_t *o = NULL;
	size_t i, need, room;
	int rc = AL_ENOMEM;

	al_buf_reset(b);
	if (ev->event == NULL || !event_name_ok(ev->event)) {
		rc = al_err_set(err, AL_EINVAL, "bad audit event name (want "
		    "1-%d characters of a-z and _)", AUDIT_EVENT_MAX);
		goto out;
	}
	if ((ev->caller != NULL && !json_is_object(ev->caller)) ||
	    (ev->detail != NULL && !json_is_object(ev->detail))) {
		rc = al_err_set(err, AL_EINVAL, "audit caller and detail must "
		    "be JSON objects");
		goto out;
	}
	audit_format_time(now_ms, t);
	if ((o = json_object()) == NULL ||
	    json_object_set_new(o, "time", json_string(t)) != 0 ||
	    json_object_set_new(o, "seq", json_integer((json_int_t)seq)) != 0 ||
	    json_object_set_new(o, "event", json_string(ev->event)) != 0)
		goto nomem;
	/* The summary of who asked comes right after what happened. */
	if (ev->outcome != NULL && put_text(o, "outcome", ev->outcome) != 0)
		goto nomem;
	if (ev->caller != NULL && json_object_set(o, "caller",
	    (json_t *)ev->caller) != 0)
		goto nomem;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i].val != NULL && put_text(o, texts[i].key,
		    texts[i].val) != 0)
			goto nomem;
	if (ev->detail != NULL && json_object_set(o, "detail",
	    (json_t *)ev->detail) != 0)
		goto nomem;
	/*
	 * Written straight into the room the buffer has from earlier lines
	 * (it says how much it needs): dumped a second time only when that
	 * room was too small.
	 */
	room = b->data != NULL && b->cap > 1 ? b->cap - 1 : 0;
	if ((need = json_dumpb(o, room ? (char *)b->data : NULL, room,
	    JSON_COMPACT)) == 0)
		goto nomem;
	if (need + MAC_SUFFIX_LEN >= AUDIT_LINE_MAX) {
		rc = al_err_set(err, AL_ETOOBIG, "audit line for event '%s' "
		    "would be %zu bytes, over the limit of %d", ev->event,
		    need + MAC_SUFFIX_LEN, AUDIT_LINE_MAX);
		goto out;
	}
	if (need + MAC_SUFFIX_LEN + 1 > room && ((rc = al_buf_reserve(b,
	    need + MAC_SUFFIX_LEN + 1)) != 0 || json_dumpb(o,
	    (char *)b->data, need, JSON_COMPACT) != need))
		goto nomem;
	if (b->data[need - 1] != '}')
		goto nomem;
	b->len = need - 1;
	if (al_buf_puts(b, MAC_PREFIX) != 0 || al_buf_puts(b, zeros) != 0 ||
	    al_buf_puts(b, "\"}") != 0)
		goto nomem;
	audit_line_mac(chain_key, prev, b->data, b->len, mac);
	al_hex(mac, AUDIT_MAC_LEN, hex);
	memcpy(b->data + b->len - 66, hex, 64);
	if (al_buf_putc(b, '\n') != 0)
		goto nomem;
	rc = 0;
	goto out;
nomem:
	rc = al_err_set(err, AL_ENOMEM, "out of memory building an audit "
	    "line");
out:
	json_decref(o);
	if (rc != 0)
		al_buf_reset(b);
	return rc;
}

static int
str_or_absent(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return v == NULL || json_is_string(v);
}

enum audit_problem
audit_line_check(const unsigned char *p, size_t n, struct audit_line_info *li,
    json_t **objp, size_t *pos)
{
	static const char *const texts[] = { "outcome", "secret", "lease",
	    "task", "intent", "reason", "value_fp" };
	const unsigned char *s;
	json_error_t jerr;
	json_t *o = NULL, *v;
	const char *mac;
	size_t i;
	enum audit_problem pr = AUDIT_MALFORMED;

	memset(li, 0, sizeof(*li));
	*pos = 0;
	if (objp != NULL)
		*objp = NULL;
	if (n < MAC_SUFFIX_LEN + 2 || p[0] != '{')
		goto out;
	s = p + n - MAC_SUFFIX_LEN;
	*pos = n - MAC_SUFFIX_LEN;
	if (memcmp(s, MAC_PREFIX, MAC_PREFIX_LEN) != 0 ||
	    audit_hex_decode((const char *)s + MAC_PREFIX_LEN, 64,
	    li->mac) != 0 || s[MAC_PREFIX_LEN + 64] != '"' ||
	    s[MAC_PREFIX_LEN + 65] != '}')
		goto out;
	if ((o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		*pos = (size_t)jerr.position;
		goto out;
	}
	*pos = 0;
	if (!json_is_object(o))
		goto out;
	v = json_object_get(o, "seq");
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		goto out;
	li->seq = (uint64_t)json_integer_value(v);
	v = json_object_get(o, "time");
	if (!json_is_string(v) || strlen(json_string_value(v)) !=
	    AUDIT_TIME_LEN - 1 || audit_parse_time(json_string_value(v),
	    &li->time_ms) != 0)
		goto out;
	memcpy(li->time, json_string_value(v), AUDIT_TIME_LEN);
	v = json_object_get(o, "event");
	if (!json_is_string(v) || !event_name_ok(json_string_value(v)))
		goto out;
	li->recover = strcmp(json_string_value(v), "recover") == 0;
	mac = json_string_value(json_object_get(o, "mac"));
	if (mac == NULL || memcmp(mac, s + MAC_PREFIX_LEN, 64) != 0 ||
	    mac[64] != '\0')
		goto out;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (!str_or_absent(o, texts[i]))
			goto out;
	if (((v = json_object_get(o, "caller")) != NULL && !json_is_object(v)) ||
	    ((v = json_object_get(o, "detail")) != NULL && !json_is_object(v)))
		goto out;
	pr = AUDIT_INTACT;
	if (objp != NULL) {
		*objp = o;
		o = NULL;
	}
out:
	json_decref(o);
	return pr;
}

static const char *
str_member(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int
audit_parse_line(const void *p, size_t n, json_t **obj,
    struct audit_entry *e, struct al_err *err)
{
	struct audit_line_info li;
	json_t *o = NULL;
	size_t pos;

	*obj = NULL;
	memset(e, 0, sizeof(*e));
	if (audit_line_check(p, n, &li, &o, &pos) != AUDIT_INTACT)
		return al_err_set(err, AL_EINVAL, "not an audit line (at byte "
		    "%zu)", pos);
	e->seq = li.seq;
	e->time_ms = li.time_ms;
	e->time = str_member(o, "time");
	e->event = str_member(o, "event");
	e->outcome = str_member(o, "outcome");
	e->secret = str_member(o, "secret");
	e->lease = str_member(o, "lease");
	e->task = str_member(o, "task");
	e->intent = str_member(o, "intent");
	e->reason = str_member(o, "reason");
	e->caller = json_object_get(o, "caller");
	e->obj = o;
	*obj = o;
	return 0;
}

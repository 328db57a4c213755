/*
 * Headers as llhttp hands them over (a name or value may come in pieces),
 * gathered into one buffer, for the request and the response side.
 */
#include <string.h>
#include <strings.h>

#include "proxy_int.h"

void
hcol_reset(struct hcol *c)
{
	al_buf_reset(&c->buf);
	c->n = 0;
	c->in_value = 0;
	c->overflow = 0;
}

int
hcol_field(struct hcol *c, const char *p, size_t n)
{
	if (c->n == 0 || c->in_value) {
		if (c->n == PROXY_HDRS_MAX) {
			c->overflow = 1;
			return -1;
		}
		c->h[c->n].name_off = c->buf.len;
		c->h[c->n].name_len = 0;
		c->h[c->n].val_off = c->h[c->n].val_len = 0;
		c->n++;
		c->in_value = 0;
	}
	if (al_buf_append(&c->buf, p, n) != 0) {
		c->overflow = 1;
		return -1;
	}
	c->h[c->n - 1].name_len += n;
	return 0;
}

int
hcol_value(struct hcol *c, const char *p, size_t n)
{
	if (c->n == 0)
		return -1;
	if (!c->in_value) {
		c->h[c->n - 1].val_off = c->buf.len;
		c->in_value = 1;
	}
	if (al_buf_append(&c->buf, p, n) != 0) {
		c->overflow = 1;
		return -1;
	}
	c->h[c->n - 1].val_len += n;
	return 0;
}

int
hname_is(const struct hcol *c, size_t i, const char *name)
{
	return c->h[i].name_len == strlen(name) &&
	    strncasecmp((const char *)c->buf.data + c->h[i].name_off, name,
	    c->h[i].name_len) == 0;
}

const char *
hval(const struct hcol *c, size_t i)
{
	return (const char *)c->buf.data + c->h[i].val_off;
}

/* Index of the first header called name, or -1. */
long
hfind(const struct hcol *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (hname_is(c, i, name))
			return (long)i;
	return -1;
}

/* Hop-by-hop and framing headers the proxy sets itself. */
int
hop_header(const struct hcol *c, size_t i)
{
	static const char *const names[] = { "connection", "keep-alive",
	    "proxy-connection", "proxy-authorization", "proxy-authenticate",
	    "te", "trailer", "transfer-encoding", "upgrade", "expect",
	    "content-length", "accept-encoding", NULL };
	size_t k;

	for (k = 0; names[k] != NULL; k++)
		if (hname_is(c, i, names[k]))
			return 1;
	return 0;
}

static int
name_eq(const char *a, size_t n, const char *b, size_t bn)
{
	return n == bn && strncasecmp(a, b, n) == 0;
}

static int
name_ends(const char *a, size_t n, const char *suffix)
{
	size_t sn = strlen(suffix);

	return n > sn && strncasecmp(a + n - sn, suffix, sn) == 0;
}

int
proxy_cred_header(const char *name, size_t n, const char *extra)
{
	const char *e, *comma;
	size_t en;

	if (name_eq(name, n, "authorization", 13) ||
	    name_eq(name, n, "cookie", 6))
		return 1;
	if (extra != NULL) {
		for (e = extra; *e != '\0'; e = *comma ? comma + 1 : comma) {
			if ((comma = strchr(e, ',')) == NULL)
				comma = e + strlen(e);
			while (e < comma && *e == ' ')
				e++;
			for (en = (size_t)(comma - e); en > 0 &&
			    e[en - 1] == ' '; en--)
				;
			if (en > 0 && name_eq(name, n, e, en))
				return 1;
		}
	}
	/*
	 * Headers a browser or a library sets and servers answer (the
	 * WebSocket key comes back hashed), and one APIs echo back.
	 */
	if ((n >= 4 && strncasecmp(name, "sec-", 4) == 0) ||
	    name_eq(name, n, "idempotency-key", 15))
		return 0;
	return name_ends(name, n, "-token") || name_ends(name, n, "-key");
}

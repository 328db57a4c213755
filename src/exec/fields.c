/*
 * Fields of a dynamic database credential: a binding NAME.FIELD (FIELD one
 * of url, user, password, host, port, dbname) takes one part of the
 * postgresql:// URL that a lease of NAME gives, so PGUSER and PGPASSWORD
 * come from the same lease (the same minted role).  Parsing happens in
 * guarded memory; every part goes to new guarded memory.
 */
#include <string.h>

#include "exec_int.h"

static const char *const fields[] = {
	"url", "user", "password", "host", "port", "dbname",
};
#define NFIELDS	(sizeof(fields) / sizeof(fields[0]))

int
exec_field_split(const char *binding, char *base, size_t basesz)
{
	const char *dot = strrchr(binding, '.');
	size_t i, n;

	if (dot == NULL || dot == binding)
		return -1;
	for (i = 0; i < NFIELDS; i++)
		if (strcmp(dot + 1, fields[i]) == 0)
			break;
	if (i == NFIELDS || (n = (size_t)(dot - binding)) >= basesz)
		return -1;
	memcpy(base, binding, n);
	base[n] = '\0';
	return (int)i;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* p[0..n) percent-decoded into new guarded memory. */
static int
decoded(const unsigned char *p, size_t n, struct al_secret **out)
{
	unsigned char *d;
	size_t i, k = 0;
	int rc, h, l;

	if ((rc = al_secret_new(n ? n : 1, out)) != 0)
		return rc;
	d = al_secret_open(*out);
	for (i = 0; i < n; i++) {
		if (p[i] == '%' && i + 2 < n && (h = hexval(p[i + 1])) >= 0 &&
		    (l = hexval(p[i + 2])) >= 0) {
			d[k++] = (unsigned char)(h << 4 | l);
			i += 2;
		} else
			d[k++] = p[i];
	}
	al_secret_set_len(*out, k);
	al_secret_close(*out);
	return 0;
}

/* The end of a span starting at s (< e) at any byte of stops, or e. */
static const unsigned char *
span(const unsigned char *s, const unsigned char *e, const char *stops)
{
	while (s < e && strchr(stops, *s) == NULL)
		s++;
	return s;
}

/* The value of query parameter key in [q, e), or NULL. */
static const unsigned char *
query_param(const unsigned char *q, const unsigned char *e, const char *key,
    const unsigned char **vend)
{
	size_t kl = strlen(key);
	const unsigned char *p = q, *amp;

	while (p < e) {
		amp = span(p, e, "&");
		if ((size_t)(amp - p) > kl && memcmp(p, key, kl) == 0 &&
		    p[kl] == '=') {
			*vend = amp;
			return p + kl + 1;
		}
		p = amp + 1;
	}
	return NULL;
}

int
exec_field_value(struct al_secret *url, int field, struct al_secret **out,
    struct al_err *err)
{
	static const char scheme[] = "postgresql://";
	const unsigned char *p, *e, *user, *ue, *pw = NULL, *pe = NULL;
	const unsigned char *host, *he, *port = NULL, *pte = NULL, *db = NULL;
	const unsigned char *de = NULL, *q = NULL, *v, *ve;
	size_t n = al_secret_len(url);
	int rc;

	*out = NULL;
	p = al_secret_open(url);
	e = p + n;
	if (n < sizeof(scheme) || memcmp(p, scheme, sizeof(scheme) - 1) != 0) {
		rc = AL_EINVAL;
		goto out;
	}
	if (field == 0) {
		rc = al_secret_from(p, n, out);
		goto out;
	}
	user = p + sizeof(scheme) - 1;
	ue = span(user, e, ":@");
	if (ue < e && *ue == ':') {
		pw = ue + 1;
		pe = span(pw, e, "@");
	} else
		pe = ue;
	if (pe >= e || *pe != '@') {
		rc = AL_EINVAL;
		goto out;
	}
	host = pe + 1;
	he = span(host, e, ":/?");
	if (he < e && *he == ':') {
		port = he + 1;
		pte = span(port, e, "/?");
	}
	v = pte ? pte : he;
	if (v < e && *v == '/') {
		db = v + 1;
		de = span(db, e, "?");
	}
	if (de != NULL && de < e)
		q = de + 1;
	else if (v < e && *v == '?')
		q = v + 1;
	switch (field) {
	case 1:	rc = decoded(user, (size_t)(ue - user), out); break;
	case 2:	rc = pw ? decoded(pw, (size_t)(pe - pw), out) : AL_EINVAL;
		break;
	case 3:
		if (he == host && q && (v = query_param(q, e, "host", &ve)))
			rc = decoded(v, (size_t)(ve - v), out);
		else
			rc = decoded(host, (size_t)(he - host), out);
		break;
	case 4:
		if (port == NULL && q && (v = query_param(q, e, "port", &ve)))
			rc = decoded(v, (size_t)(ve - v), out);
		else
			rc = port ? decoded(port, (size_t)(pte - port), out) :
			    al_secret_from("5432", 4, out);
		break;
	default:
		rc = db ? decoded(db, (size_t)(de - db), out) : AL_EINVAL;
		break;
	}
out:
	al_secret_close(url);
	if (rc == AL_EINVAL)
		return al_err_set(err, rc, "not a postgresql:// URL with that "
		    "field");
	if (rc != 0)
		return al_err_set(err, rc, "out of memory");
	return 0;
}

/*
 * A run of the proxy: its credential, CA, secrets and their placeholders,
 * and the two kinds of redactors it needs: one per placeholder (is this
 * placeholder in these bytes, in any encoding the redactor knows?) and one
 * of the values (mask them in responses).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "proxy_int.h"

/* A value that can go in a header: printable ASCII and spaces only. */
static int
value_ok(const unsigned char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return 0;
	return 1;
}

static int
pattern_ok(const char *h)
{
	size_t i, n = strlen(h);

	if (n == 0 || n > PROXY_HOST_MAX + 6)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && !strchr(".-*:[]_", h[i]))
			return 0;
	return 1;
}

/*
 * Does host match pattern, '*' standing for any run of characters, case
 * aside?  Except where that would let the host leave the pattern's domain:
 * a '*' with no '.' after it ("api.example.*", "10.0.0.*") matches no '.'
 * ("10.0.0.1.attacker.example" is the attacker's name), and in an address
 * pattern (digits, dots and '*') a '*' matches digits only.  A pattern of
 * just "*" matches any host.  Dynamic programming over the host: no
 * backtracking, whatever the pattern.
 */
static int
glob_host(const char *pat, const char *host)
{
	unsigned char row[PROXY_HOST_MAX + 2], prev[PROXY_HOST_MAX + 2];
	size_t m = strlen(host), j;
	const char *p;
	int v4 = strpbrk(pat, "0123456789") != NULL &&
	    strspn(pat, "0123456789.*") == strlen(pat);
	int last;

	if (strcmp(pat, "*") == 0)
		return 1;
	if (m > PROXY_HOST_MAX)
		return 0;
	memset(prev, 0, sizeof(prev));
	prev[0] = 1;
	for (p = pat; *p != '\0'; p++) {
		memset(row, 0, sizeof(row));
		if (*p == '*') {
			last = strchr(p + 1, '.') == NULL;
			row[0] = prev[0];
			for (j = 1; j <= m; j++) {
				unsigned char ch = (unsigned char)host[j - 1];
				int may = !(last && ch == '.') &&
				    !(v4 && !isdigit(ch));

				row[j] = prev[j] || (row[j - 1] && may);
			}
		} else {
			for (j = 1; j <= m; j++)
				row[j] = prev[j - 1] &&
				    tolower((unsigned char)*p) ==
				    tolower((unsigned char)host[j - 1]);
		}
		memcpy(prev, row, sizeof(prev));
	}
	return prev[m];
}

int
proxy_host_match(const char *pattern, const char *host, int port)
{
	char pat[PROXY_HOST_MAX + 8], *colon;
	const char *p = pattern;
	long pport = -1;

	if (snprintf(pat, sizeof(pat), "%s", p) >= (int)sizeof(pat))
		return 0;
	/* "[v6]:port", "host:port"; a bare IPv6 pattern has no port. */
	if (pat[0] == '[') {
		if ((colon = strchr(pat, ']')) == NULL)
			return 0;
		*colon = '\0';
		if (colon[1] == ':')
			pport = strtol(colon + 2, NULL, 10);
		memmove(pat, pat + 1, strlen(pat + 1) + 1);
	} else if ((colon = strchr(pat, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		*colon = '\0';
		pport = strtol(colon + 1, NULL, 10);
		if (pport <= 0 || pport > 65535)
			return 0;
	}
	if (pport != -1 && pport != port)
		return 0;
	return glob_host(pat, host);
}

static void
secret_release(struct run_secret *s)
{
	size_t i;

	free(s->name);
	al_secret_free(s->value);
	for (i = 0; i < s->nhosts; i++)
		free(s->hosts[i]);
	free(s->hosts);
	free(s->headers);
	if (s->placeholder != NULL)
		sodium_memzero(s->placeholder, strlen(s->placeholder));
	free(s->placeholder);
	redact_free(s->ph);
	memset(s, 0, sizeof(*s));
}

void
run_free(struct proxy_run *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		secret_release(&r->s[i]);
	free(r->s);
	redact_free(r->values);
	ca_release(&r->ca);
	sodium_memzero(r->cred, sizeof(r->cred));
	free(r);
}

static int
secret_init(struct run_secret *d, const struct proxy_secret *s,
    struct redact *values, struct al_err *err)
{
	struct al_secret *ph = NULL;
	const unsigned char *v;
	size_t i, n;
	int rc, ok;

	if ((d->name = strdup(s->name)) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	d->inject = s->inject;
	if (s->headers != NULL && (d->headers = strdup(s->headers)) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	if (s->nhosts == 0)
		return al_err_set(err, AL_EINVAL, "secret '%s' is bound to no "
		    "host, so it cannot be used through the proxy: bind it "
		    "with `airlock secret edit %s --host HOST`", s->name,
		    s->name);
	if (s->nhosts > PROXY_HOSTS_MAX)
		return al_err_set(err, AL_EINVAL, "secret '%s' has more than "
		    "%d hosts", s->name, PROXY_HOSTS_MAX);
	if ((d->hosts = calloc(s->nhosts, sizeof(char *))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	for (i = 0; i < s->nhosts; i++) {
		if (!pattern_ok(s->hosts[i]))
			return al_err_set(err, AL_EINVAL, "secret '%s': host "
			    "%zu is not a host pattern", s->name, i + 1);
		if ((d->hosts[i] = strdup(s->hosts[i])) == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory");
		d->nhosts++;
	}
	n = al_secret_len(d->value);
	v = al_secret_open(d->value);
	ok = n >= REDACT_VALUE_MIN && n <= PROXY_PLACEHOLDER_MAX &&
	    value_ok(v, n);
	al_secret_close(d->value);
	if (!ok)
		return al_err_set(err, AL_EINVAL, "secret '%s' cannot go in an "
		    "HTTP header (shorter than %d bytes, or holding control "
		    "or non-ASCII characters)", s->name, REDACT_VALUE_MIN);
	if ((rc = placeholder_new(s->name, s->format, &d->placeholder,
	    err)) != 0)
		return rc;
	if ((rc = redact_add_value(values, s->name, d->value, err)) != 0)
		return rc;
	if ((rc = al_secret_from(d->placeholder, strlen(d->placeholder),
	    &ph)) != 0)
		return al_err_set(err, rc, "out of memory");
	if ((rc = redact_new(&d->ph, err)) == 0 &&
	    (rc = redact_add_value(d->ph, s->name, ph, err)) == 0)
		rc = redact_compile(d->ph, err);
	al_secret_free(ph);
	return rc;
}

int
run_new(const struct ossl_dl *dl, const char *run_id,
    const struct proxy_secret *secrets, size_t n, int64_t expires,
    struct proxy_run **out, struct al_err *err)
{
	struct proxy_run *r = NULL;
	unsigned char raw[PROXY_CRED_LEN / 2];
	size_t i;
	int rc;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (n && (r->s = calloc(n, sizeof(*r->s))) == NULL)) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	/* Take every value over first, so all are freed on any failure. */
	for (i = 0; i < n; i++)
		r->s[i].value = secrets[i].value;
	r->n = n;
	if (n == 0 || n > PROXY_SECRETS_MAX) {
		rc = al_err_set(err, AL_EINVAL, "a proxied run takes 1 to %d "
		    "secrets", PROXY_SECRETS_MAX);
		goto out;
	}
	if (strlen(run_id) == 0 || strlen(run_id) > PROXY_RUN_ID_MAX) {
		rc = al_err_set(err, AL_EINVAL, "bad run id");
		goto out;
	}
	(void)snprintf(r->id, sizeof(r->id), "%s", run_id);
	r->expires = expires;
	randombytes_buf(raw, sizeof(raw));
	al_hex(raw, sizeof(raw), r->cred);
	sodium_memzero(raw, sizeof(raw));
	if ((rc = redact_new(&r->values, err)) != 0)
		goto out;
	for (i = 0; i < n; i++)
		if ((rc = secret_init(&r->s[i], &secrets[i], r->values,
		    err)) != 0)
			goto out;
	if ((rc = redact_compile(r->values, err)) != 0)
		goto out;
	if ((rc = ca_init(&r->ca, dl, r->id, expires, err)) != 0)
		goto out;
	*out = r;
	r = NULL;
out:
	if (r == NULL && rc != 0) {
		/* calloc failed: nobody took the values. */
		for (i = 0; i < n; i++)
			al_secret_free(secrets[i].value);
	}
	run_free(r);
	return rc;
}

int
run_alive(const struct proxy_run *r)
{
	return !r->dead && (int64_t)time(NULL) < r->expires;
}

/* The masked output is not needed, only the count of masks. */
static int
drop_emit(void *arg, const void *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return 0;
}

int
run_find(const struct proxy_run *r, const void *p, size_t n, uint64_t *hits)
{
	struct redact_stream *st = NULL;
	size_t i;
	int rc = 0;

	*hits = 0;
	if (n == 0)
		return 0;
	for (i = 0; i < r->n && rc == 0; i++) {
		if ((rc = redact_stream_new(r->s[i].ph, &st)) != 0)
			break;
		if ((rc = redact_stream_write(st, p, n, drop_emit, NULL)) == 0)
			rc = redact_stream_finish(st, drop_emit, NULL);
		if (rc == 0 && redact_stream_masks(st) > 0)
			*hits |= (uint64_t)1 << i;
		redact_stream_free(st);
		st = NULL;
	}
	return rc;
}

struct span_ctx {
	run_span_fn	 fn;
	void		*arg;
	size_t		 i;
};

static void
on_span(void *arg, unsigned long long off, unsigned long long len,
    unsigned int value, const char *rule)
{
	struct span_ctx *x = arg;

	(void)value;
	(void)rule;
	x->fn(x->arg, x->i, off, len);
}

int
run_find_spans(const struct proxy_run *r, const void *p, size_t n,
    run_span_fn fn, void *arg)
{
	struct redact_stream *st = NULL;
	struct span_ctx x;
	int rc = 0;

	if (n == 0)
		return 0;
	x.fn = fn;
	x.arg = arg;
	for (x.i = 0; x.i < r->n && rc == 0; x.i++) {
		if ((rc = redact_stream_new(r->s[x.i].ph, &st)) != 0)
			break;
		redact_stream_set_span(st, on_span, &x);
		if ((rc = redact_stream_write(st, p, n, drop_emit, NULL)) == 0)
			rc = redact_stream_finish(st, drop_emit, NULL);
		redact_stream_free(st);
		st = NULL;
	}
	return rc;
}

int
run_bound(const struct proxy_run *r, size_t i, const char *host, int port)
{
	size_t k;

	for (k = 0; k < r->s[i].nhosts; k++)
		if (proxy_host_match(r->s[i].hosts[k], host, port))
			return 1;
	return 0;
}

const char *
proxy_run_placeholder(const struct proxy_run *r, size_t i)
{
	return i < r->n ? r->s[i].placeholder : NULL;
}

const char *
proxy_run_credential(const struct proxy_run *r)
{
	return r->cred;
}

const char *
proxy_run_ca_pem(const struct proxy_run *r)
{
	return r->ca.pem;
}

const char *
proxy_run_id(const struct proxy_run *r)
{
	return r->id;
}

/*
 * The set of values to mask: names and labels, the guarded pattern arena,
 * the optional rule matcher, and the whole-buffer convenience.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "redact_int.h"

/* Guarded regions are rounded so every array in them stays aligned. */
#define GVEC_ROUND	64
/*
 * sodium_malloc maps whole pages (its canary and size sit in the first
 * one, before the bytes it returns): a region is sized to fill its pages,
 * so that growing one (a new mapping, guard pages, mlock, a copy and the
 * old one's wipe and unmapping) happens when the pages are full, not at
 * every doubling from a few hundred bytes.
 */
#define GVEC_PAGE	4096
#define GVEC_OVERHEAD	GVEC_ROUND	/* at least sodium's canary */

int
gvec_reserve(struct gvec *v, size_t add)
{
	unsigned char *np;
	size_t ncap;

	if (add > SIZE_MAX / 4 - v->len)
		return AL_ETOOBIG;
	if (v->len + add <= v->cap)
		return 0;
	ncap = v->cap ? v->cap : 256;
	while (ncap < v->len + add)
		ncap *= 2;
	ncap = (ncap + GVEC_OVERHEAD + GVEC_PAGE - 1) / GVEC_PAGE * GVEC_PAGE -
	    GVEC_OVERHEAD;
	if ((np = sodium_malloc(ncap)) == NULL)
		return AL_ENOMEM;
	if (v->len)
		memcpy(np, v->p, v->len);
	if (v->p != NULL)
		sodium_free(v->p);	/* wipes the old copy */
	v->p = np;
	v->cap = ncap;
	return 0;
}

int
gvec_append(struct gvec *v, const void *p, size_t n)
{
	int rc;

	if ((rc = gvec_reserve(v, n)) != 0)
		return rc;
	if (n)
		memcpy(v->p + v->len, p, n);
	v->len += n;
	return 0;
}

void
gvec_release(struct gvec *v)
{
	if (v->p != NULL) {
		(void)sodium_mprotect_readwrite(v->p);
		sodium_free(v->p);
	}
	memset(v, 0, sizeof(*v));
}

int
redact_new(struct redact **out, struct al_err *err)
{
	struct redact *r;

	*out = NULL;
	if (sodium_init() < 0)
		return al_err_set(err, AL_ENOMEM, "cannot initialise libsodium");
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	*out = r;
	return 0;
}

void
redact_free(struct redact *r)
{
	size_t i;

	if (r == NULL)
		return;
	if (r->rule_owned_free != NULL)
		r->rule_owned_free(r->rule_owned);
	rx_ac_free(r->ac);
	rx_ac_free(r->wac);
	gvec_release(&r->arena);
	gvec_release(&r->pats);
	gvec_release(&r->wpats);
	for (i = 0; i < r->nvalue; i++)
		free(r->label[i]);
	free(r->label);
	free(r->label_len);
	free(r);
}

/* Names and rule ids become labels: keep them to a safe alphabet. */
static int
name_ok(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (n >= REDACT_NAME_MAX)
			return 0;
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789._-:/", s[n]) == NULL)
			return 0;
	}
	return n > 0;
}

int
rx_pat_add(struct redact *r, const unsigned char *p, size_t n,
    uint32_t value, uint8_t lead_mask, uint8_t lead_val)
{
	struct rx_pat pat;
	int rc;

	if (n == 0)
		return 0;
	if (r->arena.len + n > UINT32_MAX)
		return AL_ETOOBIG;
	memset(&pat, 0, sizeof(pat));
	pat.off = (uint32_t)r->arena.len;
	pat.len = (uint32_t)n;
	pat.value = value;
	pat.same = RX_NONE;
	pat.lead_mask = lead_mask;
	pat.lead_val = lead_val;
	if ((rc = gvec_append(&r->arena, p, n)) != 0)
		return rc;
	return gvec_append(&r->pats, &pat, sizeof(pat));
}

int
rx_pat_add_wrap(struct redact *r, const unsigned char *p, size_t n,
    uint32_t value, uint8_t lead_mask, uint8_t lead_val)
{
	size_t before = r->pats.len;
	int rc;

	if ((rc = rx_pat_add(r, p, n, value, lead_mask, lead_val)) != 0)
		return rc;
	if (r->pats.len > before)
		((struct rx_pat *)(r->pats.p + before))->wrap = 1;
	return 0;
}

/*
 * The automaton of wrapped encodings: a copy of the hex and base64
 * patterns (their out-lists are threaded through the copy), and the
 * widest span a match can take once line breaks are inserted (one LF or
 * CRLF at most every RX_WRAP_MIN characters, plus one before the first).
 */
static int
compile_wrapped(struct redact *r, struct al_err *err)
{
	const struct rx_pat *pat = (const struct rx_pat *)r->pats.p;
	size_t npat = r->pats.len / sizeof(*pat), i;
	struct rx_pat w;
	int rc;

	for (i = 0; i < npat; i++) {
		if (!pat[i].wrap)
			continue;
		w = pat[i];
		w.same = RX_NONE;
		w.dup = 0;
		if ((rc = gvec_append(&r->wpats, &w, sizeof(w))) != 0)
			return al_err_set(err, rc, "out of memory");
	}
	if (r->wpats.len == 0)
		return 0;
	if ((rc = rx_ac_build(r, &r->wpats, 0, &r->wac, err)) != 0)
		return rc;
	r->wspan = r->wac->maxlen + 2 * (1 + r->wac->maxlen / RX_WRAP_MIN);
	return 0;
}

int
redact_add_value(struct redact *r, const char *name,
    struct al_secret *value, struct al_err *err)
{
	char **nl = NULL;
	size_t *nll = NULL, n;
	char *label = NULL;
	unsigned char *v;
	int rc;

	if (r->compiled)
		return al_err_set(err, AL_EINVAL,
		    "cannot add a value after the redactor is compiled");
	if (name == NULL || !name_ok(name))
		return al_err_set(err, AL_EINVAL, "bad secret name for a mask "
		    "(1-%d characters of A-Z a-z 0-9 . _ - : /)",
		    REDACT_NAME_MAX);
	n = al_secret_len(value);
	if (n > REDACT_VALUE_MAX)
		return al_err_set(err, AL_ETOOBIG, "value of '%s' is larger "
		    "than %d bytes", name, REDACT_VALUE_MAX);
	if (n < REDACT_VALUE_MIN)
		return al_err_set(err, AL_EINVAL, "value of '%s' is %zu bytes; "
		    "values shorter than %d bytes cannot be masked without "
		    "masking ordinary text (use a longer secret)", name, n,
		    REDACT_VALUE_MIN);
	if (r->nvalue >= UINT32_MAX / 2)
		return al_err_set(err, AL_ETOOBIG, "too many values");
	n = strlen(name) + sizeof("[REDACTED:]");
	if ((label = malloc(n)) == NULL ||
	    (nl = realloc(r->label, (r->nvalue + 1) * sizeof(*nl))) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	r->label = nl;
	if ((nll = realloc(r->label_len, (r->nvalue + 1) *
	    sizeof(*nll))) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	r->label_len = nll;
	(void)snprintf(label, n, "[REDACTED:%s]", name);

	v = al_secret_open(value);
	rc = rx_gen_patterns(r, (uint32_t)r->nvalue, v, al_secret_len(value));
	al_secret_close(value);
	if (rc != 0) {
		rc = al_err_set(err, rc, "cannot compile the patterns of '%s'",
		    name);
		goto out;
	}
	r->label[r->nvalue] = label;
	r->label_len[r->nvalue] = n - 1;
	r->nvalue++;
	label = NULL;
	rc = 0;
out:
	free(label);
	return rc;
}

int
redact_set_rule_matcher(struct redact *r, redact_rule_fn fn, void *arg,
    size_t max_len, struct al_err *err)
{
	if (r->compiled)
		return al_err_set(err, AL_EINVAL,
		    "cannot set a rule matcher after the redactor is compiled");
	if (fn == NULL || max_len == 0 || max_len > REDACT_RULE_MAX)
		return al_err_set(err, AL_EINVAL, "rule matcher max_len must be "
		    "1 to %d bytes", REDACT_RULE_MAX);
	r->rule_fn = fn;
	r->rule_arg = arg;
	r->rule_max = max_len;
	return 0;
}

int
redact_compile(struct redact *r, struct al_err *err)
{
	int rc;

	if (r->compiled)
		return al_err_set(err, AL_EINVAL, "redactor already compiled");
	if ((rc = rx_ac_build(r, &r->pats, 1, &r->ac, err)) != 0 ||
	    (rc = compile_wrapped(r, err)) != 0)
		return rc;
	/* Nothing changes from here on: make any stray write fault. */
	if (r->arena.p != NULL)
		(void)sodium_mprotect_readonly(r->arena.p);
	if (r->pats.p != NULL)
		(void)sodium_mprotect_readonly(r->pats.p);
	if (r->wpats.p != NULL)
		(void)sodium_mprotect_readonly(r->wpats.p);
	/*
	 * For the values, a stream holds the same number of bytes whatever
	 * they are: enough for the widest match (a wrapped one, with the
	 * base64 lead character before a line break).  The rule matcher's
	 * unfinished line, which depends on the text alone, comes on top.
	 */
	r->hold_values = 0;
	if (r->nvalue > 0) {
		r->hold_values = r->ac->maxlen + 1;
		if (r->wspan + 3 > r->hold_values)
			r->hold_values = r->wspan + 3;
		if (RX_WRAP_MIN + 4 > r->hold_values)
			r->hold_values = RX_WRAP_MIN + 4;
	}
	r->max_held = r->hold_values;
	if (r->rule_fn != NULL && r->rule_max > r->max_held)
		r->max_held = r->rule_max;
	r->compiled = 1;
	return 0;
}

size_t
redact_value_count(const struct redact *r)
{
	return r->nvalue;
}

size_t
redact_pattern_count(const struct redact *r)
{
	return r->ac != NULL ? r->ac->npat : 0;
}

size_t
redact_max_held(const struct redact *r)
{
	return r->max_held;
}

const char *
rx_label(const struct redact *r, uint32_t value)
{
	return value < r->nvalue ? r->label[value] : NULL;
}

const char *
redact_value_label(const struct redact *r, unsigned int i)
{
	return rx_label(r, i);
}

void
rx_patterns(const struct redact *r, rx_pat_fn fn, void *arg)
{
	const struct rx_pat *pat = (const struct rx_pat *)r->pats.p;
	size_t i, n = r->pats.len / sizeof(*pat);

	for (i = 0; i < n; i++)
		if (!pat[i].dup)
			fn(arg, r->arena.p + pat[i].off, pat[i].len,
			    pat[i].value, pat[i].lead_mask, pat[i].lead_val);
}

void
rx_patterns_wrapped(const struct redact *r, rx_pat_fn fn, void *arg)
{
	const struct rx_pat *pat = (const struct rx_pat *)r->wpats.p;
	size_t i, n = r->wpats.len / sizeof(*pat);

	for (i = 0; i < n; i++)
		if (!pat[i].dup)
			fn(arg, r->arena.p + pat[i].off, pat[i].len,
			    pat[i].value, pat[i].lead_mask, pat[i].lead_val);
}

struct buf_sink {
	struct al_buf	*out;
	int		 rc;
};

static int
buf_emit(void *arg, const void *p, size_t n)
{
	struct buf_sink *bs = arg;

	bs->rc = al_buf_append(bs->out, p, n);
	return bs->rc;
}

int
redact_buffer(const struct redact *r, const void *p, size_t n,
    struct al_buf *out, struct al_err *err)
{
	struct redact_stream *s = NULL;
	struct buf_sink bs = { out, 0 };
	int rc;

	if ((rc = redact_stream_new(r, &s)) != 0) {
		rc = al_err_set(err, rc, "cannot start a redaction stream");
		goto out;
	}
	if ((rc = redact_stream_write(s, p, n, buf_emit, &bs)) == 0)
		rc = redact_stream_finish(s, buf_emit, &bs);
	if (rc != 0) {
		if (bs.rc != 0)
			rc = bs.rc;
		rc = al_err_set(err, rc, "cannot mask the buffer: %s",
		    al_strerror(rc));
	}
out:
	redact_stream_free(s);
	return rc;
}

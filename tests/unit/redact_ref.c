/*
 * The reference masker.  It restates the contract of include/airlock/
 * redact.h in the plainest terms, with no automaton and no streaming:
 *   - an occurrence is any place a compiled pattern's bytes appear; one
 *     with a base64 lead also takes the base64 character before it when
 *     that character's low bits are the lead's;
 *   - masks are the union of occurrences, named after the longest (then
 *     the leftmost; then the first added);
 *   - a hex or base64 pattern also occurs wrapped: with a line break (LF
 *     or CRLF) between two of its characters wherever the 16 bytes before
 *     that break are base64 characters other than "=" (a line of 16 or
 *     more); its lead may then sit before a break just before it;
 *   - at end of input nothing else is masked: a value's start is not.
 * Occurrences are added by end offset, longer first, then pattern order.
 */
#include <stdlib.h>
#include <string.h>

#include "redact_ref.h"
#include "redact_int.h"

struct iv {
	size_t		 s, e, ws;
	uint32_t	 weight, value;
};

struct ivs {
	struct iv	*v;
	size_t		 n, cap;
};

static void
collect_to(struct ref_pat **pat, size_t *npat, const unsigned char *p,
    size_t n, uint32_t value, uint8_t lead_mask, uint8_t lead_val)
{
	struct ref_pat *np;

	np = realloc(*pat, (*npat + 1) * sizeof(*np));
	if (np == NULL)
		abort();
	*pat = np;
	np[*npat].p = malloc(n);
	if (np[*npat].p == NULL)
		abort();
	memcpy(np[*npat].p, p, n);
	np[*npat].n = n;
	np[*npat].value = value;
	np[*npat].lead_mask = lead_mask;
	np[*npat].lead_val = lead_val;
	(*npat)++;
}

static void
collect(void *arg, const unsigned char *p, size_t n, uint32_t value,
    uint8_t lead_mask, uint8_t lead_val)
{
	struct ref *ref = arg;

	collect_to(&ref->pat, &ref->npat, p, n, value, lead_mask, lead_val);
}

static void
collect_wrapped(void *arg, const unsigned char *p, size_t n, uint32_t value,
    uint8_t lead_mask, uint8_t lead_val)
{
	struct ref *ref = arg;

	collect_to(&ref->wpat, &ref->nwpat, p, n, value, lead_mask, lead_val);
}

int
ref_load(struct ref *ref, const struct redact *r)
{
	memset(ref, 0, sizeof(*ref));
	ref->r = r;
	rx_patterns(r, collect, ref);
	rx_patterns_wrapped(r, collect_wrapped, ref);
	return 0;
}

int
ref_skips(const struct redact *r)
{
	return r->ac->skip;
}

void
ref_release(struct ref *ref)
{
	size_t i;

	for (i = 0; i < ref->npat; i++)
		free(ref->pat[i].p);
	free(ref->pat);
	for (i = 0; i < ref->nwpat; i++)
		free(ref->wpat[i].p);
	free(ref->wpat);
	memset(ref, 0, sizeof(*ref));
}

static int
b64val(unsigned char c)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *q;

	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	if (c == '\0' || (q = strchr(a, c)) == NULL)
		return -1;
	return (int)(q - a);
}

static int
better(const struct iv *a, const struct iv *b)
{
	return a->weight > b->weight ||
	    (a->weight == b->weight && a->ws < b->ws);
}

static void
add(struct ivs *l, struct iv iv)
{
	size_t i, j, k;

	for (i = 0; i < l->n && l->v[i].e <= iv.s; i++)
		;
	for (j = i; j < l->n && l->v[j].s < iv.e; j++)
		;
	if (i < j) {
		struct iv m = l->v[i];

		for (k = i; k < j; k++)
			if (better(&l->v[k], &m))
				m = l->v[k];
		if (better(&iv, &m)) {
			m.ws = iv.ws;
			m.weight = iv.weight;
			m.value = iv.value;
		}
		m.s = iv.s < l->v[i].s ? iv.s : l->v[i].s;
		m.e = iv.e > l->v[j - 1].e ? iv.e : l->v[j - 1].e;
		l->v[i] = m;
		memmove(l->v + i + 1, l->v + j, (l->n - j) * sizeof(*l->v));
		l->n -= j - i - 1;
		return;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		if ((l->v = realloc(l->v, l->cap * sizeof(*l->v))) == NULL)
			abort();
	}
	memmove(l->v + i + 1, l->v + i, (l->n - i) * sizeof(*l->v));
	l->v[i] = iv;
	l->n++;
}

/* Length of the line break at in[i] (LF or CRLF) that may be skipped. */
static size_t
joinable(const unsigned char *in, size_t n, size_t i)
{
	size_t k, brk;

	if (in[i] == '\n')
		brk = 1;
	else if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
		brk = 2;
	else
		return 0;
	if (i < 16)
		return 0;
	for (k = i - 16; k < i; k++)
		if (b64val(in[k]) < 0)
			return 0;
	return brk;
}

/* End of p wrapped at in[s] with at least one break, or 0. */
static size_t
match_wrapped(const unsigned char *in, size_t n, size_t s,
    const struct ref_pat *p)
{
	size_t i = s, c, brk;
	int crossed = 0;

	for (c = 0; c < p->n; c++) {
		if (c > 0 && i < n && (brk = joinable(in, n, i)) != 0) {
			i += brk;
			crossed = 1;
		}
		if (i >= n || in[i] != p->p[c])
			return 0;
		i++;
	}
	return crossed ? i : 0;
}

static int
by_len_desc(const void *a, const void *b)
{
	const struct ref_pat *const *x = a, *const *y = b;

	if ((*x)->n != (*y)->n)
		return (*x)->n < (*y)->n ? 1 : -1;
	return *x < *y ? -1 : *x > *y;
}

int
ref_mask(const struct ref *ref, const unsigned char *in, size_t n,
    struct al_buf *out)
{
	struct ivs l = { NULL, 0, 0 };
	const struct ref_pat **order;
	struct iv iv;
	size_t e, k, d, pos = 0;
	int v, rc = 0;

	/* Patterns longest first, ties in pattern order (stable by address). */
	if ((order = calloc(ref->npat + 1, sizeof(*order))) == NULL)
		abort();
	for (k = 0; k < ref->npat; k++)
		order[k] = &ref->pat[k];
	qsort(order, ref->npat, sizeof(*order), by_len_desc);
	for (e = 1; e <= n; e++) {
		for (k = 0; k < ref->npat; k++) {
			const struct ref_pat *p = order[k];

			if (p->n > e || memcmp(in + e - p->n, p->p, p->n) != 0)
				continue;
			memset(&iv, 0, sizeof(iv));
			iv.s = iv.ws = e - p->n;
			iv.e = e;
			if (p->lead_mask && iv.s > 0 &&
			    (v = b64val(in[iv.s - 1])) >= 0 &&
			    (v & p->lead_mask) == p->lead_val)
				iv.s--;
			iv.weight = (uint32_t)p->n;
			iv.value = p->value;
			add(&l, iv);
		}
	}
	/* Wrapped occurrences. */
	for (d = 0; d < n; d++) {
		for (k = 0; k < ref->nwpat; k++) {
			const struct ref_pat *p = &ref->wpat[k];
			size_t lp = d;

			if (in[d] != p->p[0] ||
			    (e = match_wrapped(in, n, d, p)) == 0)
				continue;
			memset(&iv, 0, sizeof(iv));
			iv.s = iv.ws = d;
			iv.e = e;
			if (p->lead_mask && lp > 0 && in[lp - 1] == '\n') {
				lp--;
				if (lp > 0 && in[lp - 1] == '\r')
					lp--;
			}
			if (p->lead_mask && lp > 0 &&
			    (v = b64val(in[lp - 1])) >= 0 &&
			    (v & p->lead_mask) == p->lead_val)
				iv.s = lp - 1;
			iv.weight = (uint32_t)p->n;
			iv.value = p->value;
			add(&l, iv);
		}
	}
	for (k = 0; k < l.n && rc == 0; k++) {
		if ((rc = al_buf_append(out, in + pos, l.v[k].s - pos)) == 0)
			rc = al_buf_puts(out, rx_label(ref->r, l.v[k].value));
		pos = l.v[k].e;
	}
	if (rc == 0)
		rc = al_buf_append(out, in + pos, n - pos);
	free(l.v);
	free(order);
	return rc;
}

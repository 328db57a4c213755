/*
 * Masking one request body (see guard.h, THE BODY).
 *
 * jansson would parse the body, but writing it back re-serialises it: key
 * order, spacing, escapes and number forms change, and a provider rejects a
 * signed thinking block that differs by one byte (prompt caching, too,
 * matches byte prefixes).  So the walk here is a small strict JSON scanner
 * that only finds string tokens and their byte ranges; it builds nothing.
 *
 * Every string's decoded text goes into one document, each followed by a
 * line feed, and the document goes through one redactor stream (a stream
 * costs guarded allocations; one per string would cost more than the
 * masking).  The stream reports each mask's place in the document; a map
 * from decoded bytes back to the raw bytes that spelled them turns it into
 * a range of the body, and the mask replaces that range.  A mask that runs
 * over a line feed into the next string masks the parts in both.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/guard.h"
#include "airlock/redact.h"
#include "guard_int.h"

#define NO_MAP		SIZE_MAX
#define NO_FRAME	SIZE_MAX

struct gstr {			/* one JSON string */
	size_t		 raw0, raw1;	/* the bytes between its quotes */
	size_t		 doc0, dlen;	/* its decoded text in the document */
	size_t		 map;		/* first map entry, or NO_MAP (raw) */
	size_t		 frame;		/* innermost object, or NO_FRAME */
};

struct gframe {			/* one JSON object */
	size_t		 parent;
	int		 thinking;	/* "type": "thinking" */
};

struct gspan {			/* one mask, in the document or the body */
	size_t		 a, b;
	unsigned	 value;		/* REDACT_SPAN_RULE: a rule */
	const char	*rule;
};

struct walk {
	const unsigned char *b;
	size_t		 n;
	struct al_buf	 doc;		/* decoded strings (guarded) */
	uint32_t	*map;		/* body offset of each escaped byte */
	size_t		 nmap, capmap;
	struct gstr	*str;
	size_t		 nstr, capstr;
	struct gframe	*frame;
	size_t		 nframe, capframe;
	struct gspan	*span;
	size_t		 nspan, capspan;
	int		 oom;
};

static int
grow(void *pp, size_t *cap, size_t need, size_t size)
{
	void **p = pp, *np;
	size_t ncap;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	if (ncap > SIZE_MAX / size || (np = realloc(*p, ncap * size)) == NULL)
		return AL_ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

/* Length of the well-formed UTF-8 character at p (RFC 3629), or 0. */
static size_t
utf8_char(const unsigned char *p, size_t n)
{
	unsigned c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))
			return 0;	/* overlong, or a surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
			return 0;	/* overlong, or past U+10FFFF */
		return 4;
	}
	return 0;
}

static int
hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0, i, c;

	for (i = 0; i < 4; i++) {
		c = p[i];
		if (c >= '0' && c <= '9')
			v = v * 16 + (c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + (c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Append decoded bytes d[0..k) spelled by the escape at body offset at. */
static int
put_decoded(struct walk *w, const unsigned char *d, size_t k, size_t at)
{
	size_t i;

	if (grow(&w->map, &w->capmap, w->nmap + k, sizeof(*w->map)) != 0 ||
	    al_buf_append(&w->doc, d, k) != 0)
		return AL_ENOMEM;
	for (i = 0; i < k; i++)
		w->map[w->nmap++] = (uint32_t)at;
	return 0;
}

/*
 * The string whose opening quote is at *pos: its range, its decoded text
 * in the document.  1 if it is not valid JSON, AL_ENOMEM.
 */
static int
string(struct walk *w, size_t *pos, size_t frame)
{
	const unsigned char *b = w->b;
	struct gstr *s;
	unsigned char u[4];
	size_t i = *pos + 1, k, start = i;
	unsigned cp, lo;
	int esc = 0;

	for (;;) {
		/* Plain ASCII is most of a body: step over it first. */
		while (i < w->n && b[i] >= 0x20 && b[i] < 0x80 && b[i] != '"' &&
		    b[i] != '\\')
			i++;
		if (i >= w->n || b[i] < 0x20)
			return 1;
		if (b[i] == '"')
			break;
		if (b[i] == '\\') {
			esc = 1;
			i += 2;
			continue;
		}
		if ((k = utf8_char(b + i, w->n - i)) == 0)
			return 1;
		i += k;
	}
	if (grow(&w->str, &w->capstr, w->nstr + 1, sizeof(*w->str)) != 0)
		return AL_ENOMEM;
	s = &w->str[w->nstr];
	s->raw0 = start;
	s->raw1 = i;
	s->doc0 = w->doc.len;
	s->frame = frame;
	s->map = NO_MAP;
	if (!esc) {
		if (al_buf_append(&w->doc, b + start, i - start) != 0)
			return AL_ENOMEM;
	} else {
		s->map = w->nmap;
		for (i = start; b[i] != '"'; ) {
			if (b[i] != '\\') {
				k = utf8_char(b + i, w->n - i);
				for (; k > 0; k--, i++)
					if (put_decoded(w, b + i, 1, i) != 0)
						return AL_ENOMEM;
				continue;
			}
			switch (b[i + 1]) {
			case '"': case '\\': case '/':
				u[0] = b[i + 1]; k = 1; break;
			case 'b': u[0] = '\b'; k = 1; break;
			case 'f': u[0] = '\f'; k = 1; break;
			case 'n': u[0] = '\n'; k = 1; break;
			case 'r': u[0] = '\r'; k = 1; break;
			case 't': u[0] = '\t'; k = 1; break;
			case 'u':
				if (i + 6 > w->n || hex4(b + i + 2, &cp) != 0)
					return 1;
				k = 6;	/* bytes of the escape, for now */
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return 1;	/* a lone low half */
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (i + 12 > w->n || b[i + 6] != '\\' ||
					    b[i + 7] != 'u' ||
					    hex4(b + i + 8, &lo) != 0 ||
					    lo < 0xdc00 || lo > 0xdfff)
						return 1;
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					    (lo - 0xdc00);
					k = 12;
				}
				if (put_decoded(w, u, al_utf8_put(cp, u), i) != 0)
					return AL_ENOMEM;
				i += k;
				continue;
			default:
				return 1;
			}
			if (put_decoded(w, u, 1, i) != 0)
				return AL_ENOMEM;
			i += 2;
		}
	}
	s->dlen = w->doc.len - s->doc0;
	if (al_buf_putc(&w->doc, '\n') != 0)
		return AL_ENOMEM;
	w->nstr++;
	*pos = i + 1;
	return 0;
}

static size_t
ws(const struct walk *w, size_t i)
{
	while (i < w->n && (w->b[i] == ' ' || w->b[i] == '\t' ||
	    w->b[i] == '\n' || w->b[i] == '\r'))
		i++;
	return i;
}

static int
number(const struct walk *w, size_t *pos)
{
	const unsigned char *b = w->b;
	size_t i = *pos, d;

	if (i < w->n && b[i] == '-')
		i++;
	if (i < w->n && b[i] == '0')
		i++;
	else {
		for (d = i; i < w->n && b[i] >= '0' && b[i] <= '9'; i++)
			;
		if (i == d)
			return 1;
	}
	if (i < w->n && b[i] == '.') {
		for (d = ++i; i < w->n && b[i] >= '0' && b[i] <= '9'; i++)
			;
		if (i == d)
			return 1;
	}
	if (i < w->n && (b[i] == 'e' || b[i] == 'E')) {
		i++;
		if (i < w->n && (b[i] == '+' || b[i] == '-'))
			i++;
		for (d = i; i < w->n && b[i] >= '0' && b[i] <= '9'; i++)
			;
		if (i == d)
			return 1;
	}
	*pos = i;
	return 0;
}

/* Does the last string's decoded text equal s? */
static int
last_is(const struct walk *w, const char *s)
{
	const struct gstr *g = &w->str[w->nstr - 1];
	size_t n = strlen(s);

	return g->dlen == n && memcmp(w->doc.data + g->doc0, s, n) == 0;
}

struct level {
	char		 kind;		/* '{' or '[' */
	int		 type_key;	/* the last key was "type" */
	size_t		 frame;		/* the object's, or the enclosing */
};

/*
 * Walk the body as JSON, recording every string.  0, 1 if it is not JSON,
 * AL_ENOMEM.  Any depth: the levels are a heap array, not the C stack.
 */
static int
walk_json(struct walk *w)
{
	struct level *lv = NULL;
	size_t nlv = 0, caplv = 0, i = ws(w, 0), frame;
	int rc = 1, key;
	char c;

value:
	if (i >= w->n)
		goto out;
	frame = nlv ? lv[nlv - 1].frame : NO_FRAME;
	c = (char)w->b[i];
	if (c == '{' || c == '[') {
		if (grow(&lv, &caplv, nlv + 1, sizeof(*lv)) != 0)
			goto oom;
		lv[nlv].kind = c;
		lv[nlv].type_key = 0;
		lv[nlv].frame = frame;
		if (c == '{') {
			if (grow(&w->frame, &w->capframe, w->nframe + 1,
			    sizeof(*w->frame)) != 0)
				goto oom;
			w->frame[w->nframe].parent = frame;
			w->frame[w->nframe].thinking = 0;
			lv[nlv].frame = w->nframe++;
		}
		nlv++;
		i = ws(w, i + 1);
		if (i < w->n && w->b[i] == (c == '{' ? '}' : ']')) {
			i++;
			nlv--;
			goto after;
		}
		if (c == '{')
			goto member;
		goto value;
	}
	if (c == '"') {
		if ((rc = string(w, &i, frame)) != 0)
			goto out;
		rc = 1;
		if (nlv && lv[nlv - 1].kind == '{' && lv[nlv - 1].type_key &&
		    (last_is(w, "thinking") || last_is(w, "redacted_thinking")))
			w->frame[lv[nlv - 1].frame].thinking = 1;
		goto after;
	}
	if (c == 't' || c == 'f' || c == 'n') {
		const char *lit = c == 't' ? "true" : c == 'f' ? "false" :
		    "null";
		size_t k = strlen(lit);

		if (w->n - i < k || memcmp(w->b + i, lit, k) != 0)
			goto out;
		i += k;
		goto after;
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		if (number(w, &i) != 0)
			goto out;
		goto after;
	}
	goto out;

member:
	if (i >= w->n || w->b[i] != '"')
		goto out;
	if ((rc = string(w, &i, lv[nlv - 1].frame)) != 0)
		goto out;
	rc = 1;
	key = last_is(w, "type");
	lv[nlv - 1].type_key = key;
	i = ws(w, i);
	if (i >= w->n || w->b[i] != ':')
		goto out;
	i = ws(w, i + 1);
	goto value;

after:
	i = ws(w, i);
	if (nlv == 0) {
		rc = i == w->n ? 0 : 1;
		goto out;
	}
	if (i >= w->n)
		goto out;
	if (w->b[i] == ',') {
		i = ws(w, i + 1);
		if (lv[nlv - 1].kind == '{')
			goto member;
		goto value;
	}
	if (w->b[i] != (lv[nlv - 1].kind == '{' ? '}' : ']'))
		goto out;
	i++;
	nlv--;
	goto after;

oom:
	rc = AL_ENOMEM;
out:
	free(lv);
	return rc;
}

static int
discard(void *arg, const void *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return 0;
}

static void
on_span(void *arg, unsigned long long off, unsigned long long len,
    unsigned value, const char *rule)
{
	struct walk *w = arg;
	struct gspan *s;

	if (grow(&w->span, &w->capspan, w->nspan + 1, sizeof(*w->span)) !=
	    0) {
		w->oom = 1;
		return;
	}
	s = &w->span[w->nspan++];
	s->a = (size_t)off;
	s->b = (size_t)(off + len);
	s->value = value;
	s->rule = rule;
}

/* Run p[0..n) through a stream of r, collecting its masks in w->span. */
static int
find_masks(struct walk *w, const struct redact *r, const void *p, size_t n,
    redact_emit_fn emit, void *arg, unsigned long long *masks,
    struct al_err *err)
{
	struct redact_stream *s = NULL;
	int rc;

	if ((rc = redact_stream_new(r, &s)) != 0)
		return al_err_set(err, rc, "cannot start the redactor");
	redact_stream_set_span(s, on_span, w);
	if ((rc = redact_stream_write(s, p, n, emit, arg)) != 0 ||
	    (rc = redact_stream_finish(s, emit, arg)) != 0) {
		redact_stream_free(s);
		return al_err_set(err, rc, "the redactor failed");
	}
	*masks = redact_stream_masks(s);
	redact_stream_free(s);
	if (w->oom)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	return 0;
}

/* Count a mask under its secret's name or rule's id. */
static void
note(struct guard_findings *f, const struct redact *r, const struct gspan *s)
{
	const char *name;
	size_t i, len;
	int rule = s->value == REDACT_SPAN_RULE;

	if (rule)
		name = s->rule, len = strlen(name);
	else if ((name = redact_value_label(r, s->value)) == NULL)
		name = "?", len = 1;
	else {
		/* "[REDACTED:" name "]" */
		name += 10;
		len = strlen(name) - 1;
	}
	if (len > sizeof(f->hits[0].name) - 1)
		len = sizeof(f->hits[0].name) - 1;
	for (i = 0; i < f->nhits; i++)
		if (f->hits[i].rule == rule &&
		    strncmp(f->hits[i].name, name, len) == 0 &&
		    f->hits[i].name[len] == '\0') {
			f->hits[i].count++;
			return;
		}
	if (f->nhits == GUARD_HITS_MAX)
		return;
	memcpy(f->hits[f->nhits].name, name, len);
	f->hits[f->nhits].name[len] = '\0';
	f->hits[f->nhits].rule = rule;
	f->hits[f->nhits].count = 1;
	f->nhits++;
}

static int
put_label(struct al_buf *out, const struct redact *r, const struct gspan *s)
{
	const char *l;

	if (s->value == REDACT_SPAN_RULE)
		return al_buf_printf(out, "[REDACTED:%s]", s->rule);
	if ((l = redact_value_label(r, s->value)) == NULL)
		return al_buf_puts(out, "[REDACTED:secret]");
	return al_buf_puts(out, l);
}

/* The body range spelled by document bytes [a, b) of string g. */
static void
raw_range(const struct walk *w, const struct gstr *g, size_t a, size_t b,
    size_t *ra, size_t *rb)
{
	size_t j, end = g->doc0 + g->dlen;
	uint32_t last;

	if (g->map == NO_MAP) {
		*ra = g->raw0 + (a - g->doc0);
		*rb = g->raw0 + (b - g->doc0);
	} else {
		*ra = w->map[g->map + (a - g->doc0)];
		last = w->map[g->map + (b - 1 - g->doc0)];
		for (j = b; j < end && w->map[g->map + (j - g->doc0)] == last;
		    j++)
			;
		*rb = j < end ? w->map[g->map + (j - g->doc0)] : g->raw1;
	}
	/* Whole characters only: the body stays valid UTF-8. */
	while (*ra > g->raw0 && (w->b[*ra] & 0xc0) == 0x80)
		(*ra)--;
	while (*rb < g->raw1 && (w->b[*rb] & 0xc0) == 0x80)
		(*rb)++;
}

static int
in_thinking(const struct walk *w, size_t frame)
{
	for (; frame != NO_FRAME; frame = w->frame[frame].parent)
		if (w->frame[frame].thinking)
			return 1;
	return 0;
}

/*
 * Turn the document's masks into body ranges (sorted, merged where the
 * widening to whole characters made them overlap) in w->span, counting
 * each in f.
 *
 * A thinking block is signed and cannot be changed.  A known value in one
 * refuses the request (f->thinking).  A rule hit there is left as it is:
 * the block is text the provider's model wrote, so the provider has it
 * already, and a guess at a token's shape must not make every later turn
 * of the conversation (which sends the block again) fail.
 */
static int
to_body(struct walk *w, const struct redact *r, struct guard_findings *f)
{
	struct gspan *out = NULL;
	size_t nout = 0, capout = 0, i, k, lo, hi, a, b, ra, rb;
	const struct gstr *g;
	int used;

	for (i = 0; i < w->nspan; i++) {
		/* The first string that ends after the mask starts. */
		lo = 0;
		hi = w->nstr;
		while (lo < hi) {
			k = lo + (hi - lo) / 2;
			if (w->str[k].doc0 + w->str[k].dlen + 1 <= w->span[i].a)
				lo = k + 1;
			else
				hi = k;
		}
		used = 0;
		for (k = lo; k < w->nstr && w->str[k].doc0 < w->span[i].b;
		    k++) {
			g = &w->str[k];
			a = w->span[i].a > g->doc0 ? w->span[i].a : g->doc0;
			b = w->span[i].b < g->doc0 + g->dlen ? w->span[i].b :
			    g->doc0 + g->dlen;
			if (a >= b)
				continue;
			if (in_thinking(w, g->frame)) {
				if (w->span[i].value == REDACT_SPAN_RULE)
					continue;
				f->thinking = 1;
			}
			raw_range(w, g, a, b, &ra, &rb);
			if (!used)
				note(f, r, &w->span[i]);
			used = 1;
			if (nout > 0 && ra < out[nout - 1].b) {
				if (rb > out[nout - 1].b)
					out[nout - 1].b = rb;
				continue;
			}
			if (grow(&out, &capout, nout + 1, sizeof(*out)) != 0) {
				free(out);
				return AL_ENOMEM;
			}
			out[nout] = w->span[i];
			out[nout].a = ra;
			out[nout].b = rb;
			nout++;
		}
	}
	free(w->span);
	w->span = out;
	w->nspan = nout;
	w->capspan = capout;
	return 0;
}

static int
append_out(void *arg, const void *p, size_t n)
{
	return al_buf_append(arg, p, n) != 0 ? -1 : 0;
}

/*
 * p[0..n) with every JSON escape decoded wherever it stands (a pair of
 * surrogate escapes as one character, a lone half as the three bytes it
 * would be), other bytes as they are.  For a body that is not strict JSON:
 * a provider's parser may read it all the same (a lone surrogate, a byte
 * order mark, NaN), and then its escapes spell text.
 */
static int
unescape_all(const unsigned char *p, size_t n, struct al_buf *out)
{
	unsigned char u[4];
	size_t i = 0, k;
	unsigned cp, lo;

	while (i < n) {
		k = 0;
		if (p[i] == '\\' && i + 1 < n) {
			switch (p[i + 1]) {
			case '"': case '\\': case '/':
				u[0] = p[i + 1]; k = 1; break;
			case 'b': u[0] = '\b'; k = 1; break;
			case 'f': u[0] = '\f'; k = 1; break;
			case 'n': u[0] = '\n'; k = 1; break;
			case 'r': u[0] = '\r'; k = 1; break;
			case 't': u[0] = '\t'; k = 1; break;
			default: break;
			}
			if (k == 1) {
				if (al_buf_append(out, u, 1) != 0)
					return AL_ENOMEM;
				i += 2;
				continue;
			}
			if (p[i + 1] == 'u' && i + 6 <= n &&
			    hex4(p + i + 2, &cp) == 0) {
				k = 6;
				if (cp >= 0xd800 && cp <= 0xdbff &&
				    i + 12 <= n && p[i + 6] == '\\' &&
				    p[i + 7] == 'u' && hex4(p + i + 8, &lo) == 0 &&
				    lo >= 0xdc00 && lo <= 0xdfff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					    (lo - 0xdc00);
					k = 12;
				}
				if (al_buf_append(out, u, al_utf8_put(cp, u)) != 0)
					return AL_ENOMEM;
				i += k;
				continue;
			}
		}
		if (al_buf_append(out, p + i, 1) != 0)
			return AL_ENOMEM;
		i++;
	}
	return 0;
}

int
guard_body_mask(const struct guard_sets *sets, const void *body, size_t n,
    struct al_buf *out, struct guard_findings *f, struct al_err *err)
{
	struct walk w;
	unsigned long long masks = 0;
	size_t i, prev;
	int rc;

	memset(f, 0, sizeof(*f));
	memset(&w, 0, sizeof(w));
	w.b = body;
	w.n = n;
	al_buf_init(&w.doc, n < SIZE_MAX / 2 ? 2 * n + 16 : SIZE_MAX,
	    AL_BUF_SENSITIVE);
	if (n > UINT32_MAX) {
		rc = al_err_set(err, AL_ETOOBIG, "the body is over 4 GiB");
		goto out;
	}
	/*
	 * Each string's decoded text and its line feed are no longer than
	 * the string with its quotes: the document never outgrows the body.
	 */
	if (al_buf_reserve(&w.doc, n) != 0 || al_buf_reserve(out, n + 4096) !=
	    0) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	rc = n > 0 ? walk_json(&w) : 1;
	if (rc < 0) {
		rc = al_err_set(err, rc, "out of memory");
		goto out;
	}
	if (rc == 1) {
		/* Not JSON: the body is text, masked as a whole. */
		w.nspan = 0;
		if ((rc = find_masks(&w, sets->mask, body, n, append_out, out,
		    &masks, err)) != 0)
			goto out;
		for (i = 0; i < w.nspan; i++)
			note(f, sets->mask, &w.span[i]);
		f->masks = (unsigned)w.nspan;
	} else {
		f->json = 1;
		if ((rc = find_masks(&w, sets->mask, w.doc.data, w.doc.len,
		    discard, NULL, &masks, err)) != 0)
			goto out;
		if ((rc = to_body(&w, sets->mask, f)) != 0) {
			rc = al_err_set(err, rc, "out of memory");
			goto out;
		}
		f->masks = (unsigned)w.nspan;
		for (i = 0, prev = 0; i < w.nspan; i++) {
			if ((rc = al_buf_append(out, w.b + prev,
			    w.span[i].a - prev)) != 0 ||
			    (rc = put_label(out, sets->mask, &w.span[i])) != 0)
				goto toobig;
			prev = w.span[i].b;
		}
		if ((rc = al_buf_append(out, w.b + prev, n - prev)) != 0)
			goto toobig;
	}
	/* What must never leave: a value anywhere in what would be sent. */
	if (sets->check != NULL) {
		w.nspan = 0;
		if ((rc = find_masks(&w, sets->check, out->data, out->len,
		    discard, NULL, &masks, err)) != 0)
			goto out;
		f->residue = masks > 0;
	}
	/* Text: its escapes, decoded, must not spell a value either. */
	if (sets->check != NULL && !f->json && !f->residue) {
		struct al_buf dec;

		al_buf_init(&dec, out->len + 16, AL_BUF_SENSITIVE);
		if ((rc = unescape_all(out->data, out->len, &dec)) != 0)
			rc = al_err_set(err, rc, "out of memory");
		else {
			w.nspan = 0;
			rc = find_masks(&w, sets->check, dec.data, dec.len,
			    discard, NULL, &masks, err);
		}
		al_buf_release(&dec);
		if (rc != 0)
			goto out;
		f->residue = masks > 0;
	}
	rc = 0;
	goto out;
toobig:
	rc = al_err_set(err, rc, "the masked body is too large");
out:
	al_buf_release(&w.doc);
	free(w.map);
	free(w.str);
	free(w.frame);
	free(w.span);
	return rc;
}

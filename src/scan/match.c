/*
 * scan_buffer: one vectorscan pass, PCRE2 confirmation around each
 * candidate, then entropy, allowlists and overlap resolution.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "engine_int.h"

#define MATCHES_MAX (1u << 20)	/* per buffer; more is a hostile input */

static size_t
line_start(const unsigned char *b, size_t pos)
{
	const unsigned char *q;

	if (pos == 0)
		return 0;
	q = memrchr(b, '\n', pos);
	return q ? (size_t)(q - b) + 1 : 0;
}

static size_t
line_end(const unsigned char *b, size_t n, size_t pos)
{
	const unsigned char *q;

	if (pos >= n)
		return n;
	q = memchr(b + pos, '\n', n - pos);
	return q ? (size_t)(q - b) : n;
}

/* Whether any of res matches the n bytes at p. */
static int
any_match(struct scan_scratch *s, pcre2_code *const *res, size_t nres,
    const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < nres; i++)
		if (pcre2_match(res[i], p, n, 0, 0, s->md_small, s->mctx) >= 0)
			return 1;
	return 0;
}

static int
push_match(struct scan_scratch *s, const struct scan_match *m)
{
	struct scan_match *nv;
	size_t ncap;

	if (s->nm == s->capm) {
		if (s->capm >= MATCHES_MAX)
			return 0;	/* keep what we have; stop growing */
		ncap = s->capm ? s->capm * 2 : 16;
		if ((nv = realloc(s->m, ncap * sizeof(*nv))) == NULL)
			return AL_ENOMEM;
		s->m = nv;
		s->capm = ncap;
	}
	s->m[s->nm++] = *m;
	return 0;
}

/*
 * Whether a value is a run of 24 or more hex digits (96 bits and up) with
 * at least 3 bits of entropy: hex carries at most 4 bits per character, so
 * a key written in hex sits below the thresholds made for base64-like
 * tokens.  A generic rule takes it at 3 bits.
 */
static int
hex_key(const unsigned char *p, size_t n, double entropy)
{
	size_t i;

	if (n < 24 || entropy < 3.0)
		return 0;
	for (i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		    (p[i] >= 'a' && p[i] <= 'f') || (p[i] >= 'A' && p[i] <= 'F')))
			return 0;
	return 1;
}

/* Whether path names an XML file (.xml, .config, .xsd, .wsdl, .pom). */
static int
xml_path(const char *path)
{
	static const char *const ext[] = { ".xml", ".config", ".xsd",
	    ".wsdl", ".pom" };
	size_t i, n, k;

	if (path == NULL)
		return 0;
	n = strlen(path);
	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		k = strlen(ext[i]);
		if (n > k && strcasecmp(path + n - k, ext[i]) == 0)
			return 1;
	}
	return 0;
}

#define XML_COMMENT_REACH (64 * 1024)

/*
 * Whether offset off of b lies inside an XML comment: the nearest "<!--"
 * before it (within XML_COMMENT_REACH) is not closed by a "-->" before it.
 * Shipped configuration files (Maven's settings.xml, Tomcat's
 * tomcat-users.xml) carry their examples, passwords included, commented
 * out.
 */
static int
in_xml_comment(const unsigned char *b, size_t off)
{
	size_t i, stop = off > XML_COMMENT_REACH ? off - XML_COMMENT_REACH : 0;

	for (i = off; i >= 3 && i > stop; i--) {
		if (b[i - 1] == '>' && b[i - 2] == '-' && b[i - 3] == '-')
			return 0;
		if (i >= 4 && b[i - 4] == '<' && b[i - 3] == '!' &&
		    b[i - 2] == '-' && b[i - 1] == '-')
			return 1;
	}
	return 0;
}

/* The longest base64 value a decoding rule judges (a Secret's data). */
#define DECODE_MAX 3072

/*
 * The rule of a mark left where a decoding rule decoded a value and judged
 * it no secret (a Secret's base64 placeholder): generic rules on those
 * bytes yield to that verdict, as they yield to a finding, and the mark
 * itself is never reported.
 */
static const struct scan_rule_info judged_info;

/* Whether the n bytes at p are printable ASCII. */
static int
printable(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * Whether a generic rule's value is base64 of readable text that its
 * allowlists take for a placeholder (cGFzc3dvcmQ=, base64 of "password";
 * a README's base64 of "not my real password").  Random key bytes do not
 * decode to printable ASCII, so no key is lost this way.  The decoded copy
 * is wiped.
 */
static int
encoded_placeholder(struct scan_scratch *s, const struct eng_codes *c,
    const struct eng_rule *r, const unsigned char *p, size_t n)
{
	const struct scan_engine *e = s->e;
	unsigned char dec[DECODE_MAX / 4 * 3];
	size_t dn = 0;
	int ok = 0;

	if (n < 12 || n > DECODE_MAX || n % 4 != 0)
		return 0;
	if (sodium_base642bin(dec, sizeof(dec), (const char *)p, n, NULL, &dn,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || dn == 0)
		goto out;
	if (!printable(dec, dn))
		goto out;
	ok = (r->def->info.category == SCAN_CAT_SECRET &&
	    any_match(s, e->allow, e->nallow, dec, dn)) ||
	    any_match(s, c->allow, r->nallow, dec, dn);
out:
	if (dn > 0)
		sodium_memzero(dec, dn);
	return ok;
}

/*
 * Whether the n bytes at p pass rule r's entropy and allowlists, setting
 * *entropy.  A decoding rule judges the decoded value (a placeholder stays
 * a placeholder in base64); what is not valid base64 fails.  The decoded
 * copy is wiped.
 */
static int
judge(struct scan_scratch *s, const struct eng_codes *c,
    const struct eng_rule *r, const unsigned char *p, size_t n,
    double *entropy, int *decoded)
{
	const struct scan_engine *e = s->e;
	const struct scan_rule *d = r->def;
	unsigned char dec[DECODE_MAX / 4 * 3];
	size_t dn = 0;
	int ok = 0;

	if (d->decode == SCAN_DECODE_BASE64) {
		if (n > DECODE_MAX || (sodium_base642bin(dec, sizeof(dec),
		    (const char *)p, n, NULL, &dn, NULL,
		    sodium_base64_VARIANT_ORIGINAL) != 0 &&
		    sodium_base642bin(dec, sizeof(dec), (const char *)p, n,
		    NULL, &dn, NULL,
		    sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0) ||
		    dn == 0)
			goto out;
		p = dec;
		n = dn;
		/*
		 * Only base64 of text is a verdict the other rules yield to:
		 * a plain value that merely looks like base64 ("pass" under a
		 * Secret's stringData) decodes to stray bytes, and is theirs
		 * to judge.
		 */
		*decoded = printable(dec, dn);
	}
	*entropy = scan_entropy(p, n);
	if (*entropy < d->entropy && !(d->info.generic && hex_key(p, n,
	    *entropy)))
		goto out;
	if (d->info.category == SCAN_CAT_SECRET &&
	    any_match(s, e->allow, e->nallow, p, n))
		goto out;
	if (any_match(s, c->allow, r->nallow, p, n))
		goto out;
	if (d->info.generic && d->decode != SCAN_DECODE_BASE64 &&
	    encoded_placeholder(s, c, r, p, n))
		goto out;
	ok = 1;
out:
	if (dn > 0)
		sodium_memzero(dec, dn);
	return ok;
}

/* Judge one match of rule i and keep it if it passes. */
static int
keep_hit(struct scan_scratch *s, size_t i, const struct eng_codes *c,
    const struct eng_hit *h)
{
	const struct eng_rule *r = &s->e->r[i];
	const struct scan_rule *d = r->def;
	struct scan_match m;
	int decoded = 0;

	if (h->ge <= h->gs)
		return 0;
	memset(&m, 0, sizeof(m));
	m.off = h->gs;
	m.len = h->ge - h->gs;
	m.match_off = h->m0;
	m.match_len = h->m1 > h->m0 ? h->m1 - h->m0 : 0;
	m.rule = &d->info;
	m.rule_index = i;
	if (!judge(s, c, r, s->buf + h->gs, m.len, &m.entropy, &decoded)) {
		if (!decoded)
			return 0;
		m.rule = &judged_info;
		m.entropy = 0;
	}
	if (d->info.generic && xml_path(s->path) &&
	    in_xml_comment(s->buf, h->gs))
		return 0;
	return push_match(s, &m);
}

/*
 * The next match of re at or after start in [.., we): 1 and *h, or 0 (no
 * match, or a limit hit: the search gives up there).
 */
static int
next_hit(struct scan_scratch *s, const pcre2_code *re, uint32_t group,
    size_t start, size_t we, struct eng_hit *h)
{
	PCRE2_SIZE *ov;
	int rc;

	rc = pcre2_match(re, s->buf, we, start, 0, s->md, s->mctx);
	if (rc < 0)
		return 0;
	ov = pcre2_get_ovector_pointer(s->md);
	h->m0 = ov[0];
	h->m1 = ov[1];
	h->gs = h->ge = 0;
	if ((uint32_t)rc > group && ov[2 * group] != PCRE2_UNSET) {
		h->gs = ov[2 * group];
		h->ge = ov[2 * group + 1];
	}
	return 1;
}

/*
 * The matches of a shared regex over [ws, we): those its group found
 * there last if that was this very window of this buffer, else found now
 * and kept for the group's other rules.  NULL when out of memory.
 */
static const struct eng_window *
shared_hits(struct scan_scratch *s, const struct eng_rule *r,
    const pcre2_code *re, size_t ws, size_t we)
{
	struct eng_window *w = &s->win[r->twin];
	struct eng_hit h, *nv;
	size_t start = ws, ncap;

	if (w->gen == s->gen && w->ws == ws && w->we == we)
		return w;
	w->gen = 0;
	w->n = 0;
	while (start < we && next_hit(s, re, r->group, start, we, &h)) {
		if (w->n == w->cap) {
			ncap = w->cap ? w->cap * 2 : 8;
			if ((nv = realloc(w->hit, ncap * sizeof(*nv))) == NULL)
				return NULL;
			w->hit = nv;
			w->cap = ncap;
		}
		w->hit[w->n++] = h;
		start = h.m1 > start ? h.m1 : start + 1;
	}
	w->gen = s->gen;
	w->ws = ws;
	w->we = we;
	return w;
}

/* Run rule i's PCRE2 over [ws, we) and keep what passes. */
static int
confirm(struct scan_scratch *s, size_t i, const struct eng_codes *c,
    size_t ws, size_t we)
{
	struct eng_rule *r = &s->e->r[i];
	const struct eng_window *w;
	const pcre2_code *re = c->re;
	struct eng_hit h;
	size_t start = ws, k;
	int rc;

	if (r->twin != SIZE_MAX) {
		if (r->follower)
			re = scan_rule_codes(&s->e->r[r->twin])->re;
		if ((w = shared_hits(s, r, re, ws, we)) == NULL)
			return AL_ENOMEM;
		for (k = 0; k < w->n; k++) {
			s->last_end[i] = w->hit[k].m1;
			if ((rc = keep_hit(s, i, c, &w->hit[k])) != 0)
				return rc;
		}
		return 0;
	}
	while (start < we && next_hit(s, re, r->group, start, we, &h)) {
		s->last_end[i] = h.m1;
		if ((rc = keep_hit(s, i, c, &h)) != 0)
			return rc;
		start = h.m1 > start ? h.m1 : start + 1;
	}
	return 0;
}

#define ACTIVE_UNKNOWN 2

/*
 * Whether path names documentation (Markdown, reStructuredText, AsciiDoc,
 * plain text): the unsafe-code rules describe code that runs, and a README
 * that shows an insecure option is not that code.
 */
static int
doc_path(const char *path)
{
	static const char *const ext[] = { ".md", ".markdown", ".rst",
	    ".adoc", ".txt" };
	size_t i, n = strlen(path), k;

	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		k = strlen(ext[i]);
		if (n > k && strcasecmp(path + n - k, ext[i]) == 0)
			return 1;
	}
	return 0;
}

/* Whether an unsafe-code rule stays quiet on documentation. */
static int
code_rule(const struct eng_rule *r)
{
	return r->def->info.category == SCAN_CAT_UNSAFE &&
	    !r->def->info.generic;
}

/* Whether rule r, limited to some paths, applies to the buffer's path. */
static unsigned char
path_applies(struct scan_scratch *s, const struct eng_rule *r,
    const struct eng_codes *c)
{
	size_t j;

	size_t t = r->path_twin;
	unsigned char ok = 0;

	if (code_rule(r) && s->path != NULL && doc_path(s->path))
		return 0;
	if (r->npaths == 0)
		return 1;
	if (s->path_stamp[t] == s->gen)	/* a rule with these paths did */
		return s->path_ok[t];
	for (j = 0; s->path != NULL && j < r->npaths && !ok; j++)
		ok = pcre2_match(c->paths[j], (PCRE2_SPTR)s->path,
		    strlen(s->path), 0, 0, s->md_small, s->mctx) >= 0;
	s->path_stamp[t] = s->gen;
	s->path_ok[t] = ok;
	return ok;
}

/*
 * The database to scan the buffer with: the full one when a rule limited
 * to some paths applies to its path, else the one without those rules.
 * Each path group's answer stays in the scratch for on_candidate.
 */
static const hs_database_t *
buffer_db(struct scan_scratch *s)
{
	const struct scan_engine *e = s->e;
	struct eng_rule *r;
	size_t i;

	if (e->db_base == NULL)
		return e->db;
	for (i = 0; i < e->nlimited; i++) {
		r = &e->r[e->limited[i]];
		if (path_applies(s, r, scan_rule_codes(r)))
			return e->db;
	}
	return e->db_base;
}

static int
on_candidate(unsigned int id, unsigned long long from, unsigned long long to,
    unsigned int flags, void *ctx)
{
	struct scan_scratch *s = ctx;
	const struct eng_codes *c;
	struct eng_rule *r;
	size_t ws, we, back;

	(void)from;
	(void)flags;
	if (id >= s->e->n)
		return 0;
	r = &s->e->r[id];
	if (s->stamp[id] != s->gen) {	/* its first candidate here */
		s->stamp[id] = s->gen;
		s->covered[id] = 0;
		s->last_end[id] = 0;
		s->req[id] = 0;
		/* A rule limited by path is checked below, once. */
		s->active[id] = r->npaths == 0 && !code_rule(r) ? 1 :
		    ACTIVE_UNKNOWN;
	}
	if (to <= s->covered[id])
		return 0;
	c = scan_rule_codes(r);
	if (s->active[id] == ACTIVE_UNKNOWN)
		s->active[id] = path_applies(s, r, c);
	if (!s->active[id]) {
		s->covered[id] = s->len;	/* no more calls for it */
		return 0;
	}
	if (c->requires != NULL) {
		if (s->req[id] == 0)
			s->req[id] = pcre2_match(c->requires, s->buf, s->len, 0,
			    0, s->md_small, s->mctx) >= 0 ? 1 : -1;
		if (s->req[id] < 0) {
			s->covered[id] = s->len;
			return 0;
		}
	}
	if (r->def->multiline) {
		ws = to > SCAN_MULTILINE_SPAN ? to - SCAN_MULTILINE_SPAN : 0;
		we = r->keyword_mode ? line_end(s->buf, s->len,
		    to + SCAN_MULTILINE_SPAN < s->len ?
		    to + SCAN_MULTILINE_SPAN : s->len) :
		    line_end(s->buf, s->len, to);
	} else if (r->keyword_mode || r->max_width == UINT_MAX) {
		ws = line_start(s->buf, to ? to - 1 : 0);
		we = line_end(s->buf, s->len, to);
	} else {
		/* One byte more than the widest match, for a lookbehind. */
		back = (size_t)r->max_width + 1;
		ws = to > back ? to - back : 0;
		we = line_end(s->buf, s->len, to);
	}
	if (ws < s->last_end[id])
		ws = s->last_end[id];
	s->covered[id] = we;
	if ((s->rc = confirm(s, id, c, ws, we)) != 0)
		return 1;	/* stop vectorscan */
	return 0;
}

static int
cmp_match(const void *a, const void *b)
{
	const struct scan_match *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	/* At the same offset a specific rule comes before a generic one. */
	if (x->rule->generic != y->rule->generic)
		return x->rule->generic ? 1 : -1;
	return x->rule_index < y->rule_index ? -1 :
	    x->rule_index > y->rule_index;
}

/* Whether rules a and b run one shared regex. */
static int
twins(const struct scan_engine *e, size_t a, size_t b)
{
	return e->r[a].twin != SIZE_MAX && e->r[a].twin == e->r[b].twin;
}

/*
 * Drop a generic rule's match when a specific rule matched overlapping
 * bytes: "api_key = 'ghp_...'" is a GitHub token, reported once.
 */
static void
resolve_overlaps(struct scan_scratch *s)
{
	size_t i, j, maxend = 0, nextstart = SIZE_MAX;
	unsigned char *drop;

	if (s->nm < 2)
		goto marks;
	if ((drop = calloc(s->nm, 1)) == NULL)
		goto marks;	/* keeping duplicates is harmless */
	qsort(s->m, s->nm, sizeof(*s->m), cmp_match);
	for (i = 0; i < s->nm; i++) {
		if (!s->m[i].rule->generic) {
			if (s->m[i].off + s->m[i].len > maxend)
				maxend = s->m[i].off + s->m[i].len;
		} else if (maxend > s->m[i].off)
			drop[i] = 1;
	}
	for (i = s->nm; i-- > 0;) {
		if (!s->m[i].rule->generic)
			nextstart = s->m[i].off;
		else if (nextstart < s->m[i].off + s->m[i].len)
			drop[i] = 1;
	}
	/*
	 * Two generic rules on one value ("API_SECRET=..." is both an env
	 * assignment and a secret) report it once, under the rule listed
	 * first: the rule file lists the narrower generic rules first.
	 */
	for (i = 0; i < s->nm; i++) {
		if (drop[i] || !s->m[i].rule->generic)
			continue;
		for (j = i + 1; j < s->nm &&
		    s->m[j].off < s->m[i].off + s->m[i].len; j++) {
			if (drop[j] || !s->m[j].rule->generic)
				continue;
			if (s->m[j].rule_index < s->m[i].rule_index) {
				drop[i] = 1;
				break;
			}
			drop[j] = 1;
		}
	}
	/*
	 * One location is reported once: of two rules whose values start at
	 * the same byte (a Cosmos DB key that is also a storage account key,
	 * a Twilio token by its name and again after its account SID), the one
	 * that read more context around it (the longer match), else the one
	 * sorted first.  Two rules sharing one regex (a strict rule and its
	 * weak variant) decide between themselves by their allowlists.
	 */
	for (i = 0, j = SIZE_MAX; i < s->nm; i++) {
		if (drop[i] || s->m[i].rule == &judged_info)
			continue;
		if (j == SIZE_MAX || s->m[j].off != s->m[i].off ||
		    twins(s->e, s->m[j].rule_index, s->m[i].rule_index)) {
			j = i;
			continue;
		}
		if (s->m[i].match_len > s->m[j].match_len &&
		    s->m[i].rule->generic == s->m[j].rule->generic) {
			drop[j] = 1;
			j = i;
		} else
			drop[i] = 1;
	}
	for (i = j = 0; i < s->nm; i++)
		if (!drop[i])
			s->m[j++] = s->m[i];
	s->nm = j;
	free(drop);
marks:
	for (i = j = 0; i < s->nm; i++)
		if (s->m[i].rule != &judged_info)
			s->m[j++] = s->m[i];
	s->nm = j;
}

int
scan_buffer(const struct scan_engine *e, struct scan_scratch *s,
    const char *path, const void *p, size_t n, scan_match_fn fn, void *arg,
    struct al_err *err)
{
	size_t i;
	int rc = 0;

	if (n > UINT_MAX)
		return al_err_set(err, AL_ETOOBIG, "input over 4 GiB");
	if (e->db == NULL || n == 0)
		return 0;
	s->buf = p;
	s->len = n;
	s->rc = 0;
	s->nm = 0;
	s->gen++;
	s->path = path;
	if (hs_scan(buffer_db(s), (const char *)p, (unsigned)n, 0, s->hs,
	    on_candidate, s) != HS_SUCCESS && s->rc == 0) {
		rc = al_err_set(err, AL_EINVAL, "vectorscan failed to scan");
		goto out;
	}
	if (s->rc != 0) {
		rc = al_err_set(err, s->rc, "out of memory");
		goto out;
	}
	resolve_overlaps(s);
	for (i = 0; i < s->nm; i++)
		if ((rc = fn(&s->m[i], p, n, arg)) != 0)
			goto out;
out:
	s->buf = NULL;
	s->len = 0;
	s->path = NULL;
	return rc;
}

/* ---- examples --------------------------------------------------------- */

struct example_hit {
	size_t	rule;
	int	found;
};

static int
on_example(const struct scan_match *m, const unsigned char *buf, size_t n,
    void *arg)
{
	struct example_hit *h = arg;

	(void)buf;
	(void)n;
	if (m->rule_index == h->rule)
		h->found = 1;
	return 0;
}

int
scan_engine_check_examples(const struct scan_engine *e,
    struct scan_scratch *s, size_t i, struct al_err *err)
{
	const struct scan_rule *d = &e->rules->v[i];
	struct example_hit h;
	size_t k;
	int rc;

	if (d->positive.n == 0)
		return al_err_set(err, AL_EINVAL, "rule '%s' (line %d) has no "
		    "positive example", d->id, d->line);
	for (k = 0; k < d->positive.n + d->negative.n; k++) {
		int pos = k < d->positive.n;
		const char *t = pos ? d->positive.v[k] :
		    d->negative.v[k - d->positive.n];

		h.rule = i;
		h.found = 0;
		if ((rc = scan_buffer(e, s, d->example_path ? d->example_path :
		    "example", t, strlen(t), on_example, &h, err)) != 0)
			return rc;
		if (h.found != pos)
			return al_err_set(err, AL_EINVAL, "rule '%s' (line %d): "
			    "%s example %zu %s", d->id, d->line,
			    pos ? "positive" : "negative",
			    (pos ? k : k - d->positive.n) + 1,
			    pos ? "does not match" : "matches");
	}
	return 0;
}

void
scan_preview(const unsigned char *p, size_t n, int whole, char *out,
    size_t outsz)
{
	size_t head, tail, i, o = 0;

	/*
	 * A secret shows at most its first 4 and last 2 bytes, and less when
	 * it is short, so that a preview never gives away most of a value.
	 * Unsafe-code findings show the code itself (whole), cut to fit.
	 */
	if (whole) {
		head = n;
		tail = 0;
	} else {
		head = n / 4 < 4 ? n / 4 : 4;
		tail = n / 8 < 2 ? n / 8 : 2;
	}
	for (i = 0; i < head && o + 5 < outsz; i++)
		out[o++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	if (!whole || head > i) {
		if (o + 4 < outsz) {
			memcpy(out + o, "...", 3);
			o += 3;
		}
	}
	for (i = n - tail; i < n && o + 1 < outsz; i++)
		out[o++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	if (outsz > 0)
		out[o < outsz ? o : outsz - 1] = '\0';
}

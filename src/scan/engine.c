/*
 * The scanning engine.  All rules go into one vectorscan database, which
 * finds candidate positions in a single pass over the bytes; only around a
 * candidate does PCRE2 (JIT) run, to confirm the rule exactly and extract
 * the secret group, after which entropy and allowlists decide.
 *
 * A rule enters the database in one of two ways:
 *   - its regex, compiled in prefilter mode (vectorscan approximates the
 *     constructs it lacks, such as lookarounds, so every real match end is
 *     reported).  hs_expression_info gives the widest match, which bounds
 *     how far back from the reported end PCRE2 has to look.
 *   - its keywords (case-insensitive literals) when it has any: PCRE2 then
 *     runs over the line holding the keyword.  Generic rules work this way.
 * Per rule, the scratch remembers up to where the bytes were already
 * confirmed, so a long run of candidate ends costs one PCRE2 search.
 *
 * Everything is byte-oriented (no UTF mode): the token formats are ASCII,
 * and Unicode classes cost a factor of tens for no gain.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>

#include "engine_int.h"

#define MATCH_LIMIT	1000000
#define DEPTH_LIMIT	20000

static void
codes_free(struct eng_codes *c, size_t nallow, size_t npaths)
{
	size_t j;

	pcre2_code_free(c->re);
	pcre2_code_free(c->requires);
	for (j = 0; c->allow != NULL && j < nallow; j++)
		pcre2_code_free(c->allow[j]);
	for (j = 0; c->paths != NULL && j < npaths; j++)
		pcre2_code_free(c->paths[j]);
	free(c->allow);
	free(c->paths);
}

void
scan_engine_free(struct scan_engine *e)
{
	struct eng_codes *jit;
	size_t i, j;

	if (e == NULL)
		return;
	for (i = 0; i < e->n; i++) {
		struct eng_rule *r = &e->r[i];

		codes_free(&r->c, r->nallow, r->npaths);
		if ((jit = atomic_load(&r->jit)) != NULL) {
			codes_free(jit, r->nallow, r->npaths);
			free(jit);
		}
	}
	for (j = 0; j < e->nallow; j++)
		pcre2_code_free(e->allow[j]);
	free(e->allow);
	free(e->r);
	if (e->db)
		hs_free_database(e->db);
	if (e->db_base)
		hs_free_database(e->db_base);
	free(e->limited);
	if (e->proto)
		hs_free_scratch(e->proto);
	scan_rules_free(e->rules);
	free(e);
}

size_t
scan_engine_rule_count(const struct scan_engine *e)
{
	return e->n;
}

const struct scan_rule_info *
scan_engine_rule(const struct scan_engine *e, size_t i)
{
	return i < e->n ? &e->rules->v[i].info : NULL;
}

const struct scan_rule *
scan_engine_rule_def(const struct scan_engine *e, size_t i)
{
	return i < e->n ? &e->rules->v[i] : NULL;
}

/*
 * A rule's patterns are compiled up front but JIT-compiled only once the
 * rule has had SCAN_JIT_AFTER candidates (scan_rule_codes): of some 250
 * rules a given tree wakes a few dozen, most of them a handful of times,
 * and compiling JIT code costs as much as a few dozen interpreted matches
 * of a line.  The JIT code goes into copies, published whole, so that no
 * thread matching with the originals ever sees them change.  The global
 * allowlist, which every secret goes through, is JIT-compiled at once.
 */
static int
re_compile(const char *rule, const char *what, const char *pat,
    pcre2_code **out, struct al_err *err)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	int ec;

	*out = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED,
	    PCRE2_MULTILINE, &ec, &off, NULL);
	if (*out == NULL) {
		(void)pcre2_get_error_message(ec, msg, sizeof(msg));
		return al_err_set(err, AL_EINVAL, "rule '%s': invalid %s at "
		    "offset %zu: %s", rule, what, (size_t)off, (char *)msg);
	}
	return 0;
}

/* JIT-compiled copies of n patterns (NULL entries stay NULL). */
static int
jit_copies(pcre2_code *const *src, size_t n, pcre2_code ***out)
{
	size_t i;

	*out = NULL;
	if (n == 0)
		return 0;
	if ((*out = calloc(n, sizeof(**out))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (src[i] == NULL)
			continue;
		if (((*out)[i] = pcre2_code_copy(src[i])) == NULL)
			return -1;
		/* Without JIT (no executable memory) it is interpreted. */
		(void)pcre2_jit_compile((*out)[i], PCRE2_JIT_COMPLETE);
	}
	return 0;
}

const struct eng_codes *
scan_rule_codes(struct eng_rule *r)
{
	struct eng_codes *j, *pub;
	pcre2_code **one = NULL;
	int bad;

	if ((pub = atomic_load_explicit(&r->jit, memory_order_acquire)) !=
	    NULL)
		return pub;
	/* Exactly one thread sees the count reach the mark and compiles. */
	if (atomic_fetch_add_explicit(&r->uses, 1, memory_order_relaxed) !=
	    SCAN_JIT_AFTER || (j = calloc(1, sizeof(*j))) == NULL)
		return &r->c;
	/* A follower matches with its twin's regex (confirm). */
	bad = !r->follower && jit_copies(&r->c.re, 1, &one) != 0;
	j->re = one ? one[0] : NULL;
	free(one);
	one = NULL;
	if (!bad && r->c.requires != NULL) {
		bad = jit_copies(&r->c.requires, 1, &one) != 0;
		j->requires = one ? one[0] : NULL;
		free(one);
	}
	bad = bad || jit_copies(r->c.allow, r->nallow, &j->allow) != 0 ||
	    jit_copies(r->c.paths, r->npaths, &j->paths) != 0;
	if (bad) {	/* out of memory: keep interpreting */
		codes_free(j, r->nallow, r->npaths);
		free(j);
		return &r->c;
	}
	atomic_store_explicit(&r->jit, j, memory_order_release);
	return j;
}

static int
re_list(const char *rule, const char *what, const struct scan_strv *sv,
    pcre2_code ***out, size_t *nout, struct al_err *err)
{
	size_t i;
	int rc;

	*nout = 0;
	if (sv->n == 0)
		return 0;
	if ((*out = calloc(sv->n, sizeof(**out))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	for (i = 0; i < sv->n; i++) {
		if ((rc = re_compile(rule, what, sv->v[i], &(*out)[i],
		    err)) != 0)
			return rc;
		(*nout)++;
	}
	return 0;
}

/* A literal keyword as a vectorscan expression (every byte as \xNN). */
static char *
literal_expr(const char *kw)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(kw), i;
	char *s;

	if (n == 0 || (s = malloc(n * 4 + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		s[i * 4] = '\\';
		s[i * 4 + 1] = 'x';
		s[i * 4 + 2] = hex[(unsigned char)kw[i] >> 4];
		s[i * 4 + 3] = hex[(unsigned char)kw[i] & 15];
	}
	s[n * 4] = '\0';
	return s;
}

static int
compile_rule(struct scan_engine *e, size_t i, struct al_err *err)
{
	struct eng_rule *r = &e->r[i];
	const struct scan_rule *d = &e->rules->v[i];
	uint32_t groups;
	int rc;

	r->def = d;
	if ((rc = re_compile(d->id, "regex", d->regex, &r->c.re, err)) != 0)
		return rc;
	if (d->requires != NULL &&
	    (rc = re_compile(d->id, "requires regex", d->requires,
	    &r->c.requires, err)) != 0)
		return rc;
	if ((rc = re_list(d->id, "allow regex", &d->allow, &r->c.allow,
	    &r->nallow, err)) != 0 ||
	    (rc = re_list(d->id, "paths regex", &d->paths, &r->c.paths,
	    &r->npaths, err)) != 0)
		return rc;
	(void)pcre2_pattern_info(r->c.re, PCRE2_INFO_CAPTURECOUNT, &groups);
	if (d->group < 0)
		r->group = groups > 0 ? 1 : 0;
	else if ((uint32_t)d->group > groups)
		return al_err_set(err, AL_EINVAL, "rule '%s': 'group' is %d "
		    "but the regex has %u group(s)", d->id, d->group, groups);
	else
		r->group = (uint32_t)d->group;
	if (groups > e->max_groups)
		e->max_groups = groups;
	r->keyword_mode = d->keywords.n > 0;
	r->max_width = UINT_MAX;
	return 0;
}

/*
 * The widest match of each regex-mode rule's expression (rx[i]), from
 * vectorscan's analysis.  A weakened expression vectorscan will not take
 * is replaced by the rule's own regex.
 */
static int
compute_widths(struct scan_engine *e, const char **rx, struct al_err *err)
{
	hs_expr_info_t *info;
	hs_compile_error_t *ce;
	size_t i;
	int rc;

	for (i = 0; i < e->n; i++) {
		if (e->r[i].keyword_mode)
			continue;
		info = NULL;
		ce = NULL;
		if (hs_expression_info(rx[i], HS_FLAG_PREFILTER |
		    HS_FLAG_MULTILINE, &info, &ce) != HS_SUCCESS &&
		    rx[i] != e->rules->v[i].regex) {
			/* Again, with the regex itself. */
			hs_free_compile_error(ce);
			ce = NULL;
			rx[i] = e->rules->v[i].regex;
			if (hs_expression_info(rx[i], HS_FLAG_PREFILTER |
			    HS_FLAG_MULTILINE, &info, &ce) != HS_SUCCESS)
				info = NULL;
		}
		if (info == NULL) {
			rc = al_err_set(err, AL_EINVAL, "rule '%s': the "
			    "prefilter cannot use this regex: %s (add "
			    "'keywords' to the rule)", e->rules->v[i].id,
			    ce ? ce->message : "unknown error");
			hs_free_compile_error(ce);
			return rc;
		}
		e->r[i].max_width = info->max_width;
		free(info);
	}
	return 0;
}

/*
 * Rules with the same regex and secret group (a strict rule and its weak
 * variant) form a group led by the first: over a window both confirm, the
 * regex runs once (confirm keeps its matches in the scratch).  Likewise
 * rules limited to the same paths match them against a buffer's path once.
 */
static void
find_twins(struct scan_engine *e)
{
	size_t i, j;

	for (i = 0; i < e->n; i++) {
		e->r[i].twin = SIZE_MAX;
		e->r[i].path_twin = i;
	}
	/* Rules limited to the same paths decide them once per buffer. */
	for (i = 1; i < e->n; i++) {
		const struct scan_strv *a = &e->rules->v[i].paths, *b;
		size_t k;

		for (j = 0; a->n > 0 && j < i; j++) {
			b = &e->rules->v[j].paths;
			for (k = 0; k < a->n && b->n == a->n &&
			    strcmp(a->v[k], b->v[k]) == 0; k++)
				;
			if (b->n == a->n && k == a->n) {
				e->r[i].path_twin = e->r[j].path_twin;
				break;
			}
		}
	}
	for (i = 1; i < e->n; i++) {
		for (j = 0; j < i; j++) {
			if (e->r[j].follower || e->r[j].group != e->r[i].group ||
			    strcmp(e->rules->v[j].regex,
			    e->rules->v[i].regex) != 0)
				continue;
			e->r[j].twin = j;
			e->r[i].twin = j;
			e->r[i].follower = 1;
			break;
		}
	}
}

/* The vectorscan expressions and their flags and rule ids. */
struct db_exprs {
	const char	**exprs;
	unsigned	 *flags, *ids;
	size_t		  n;
	const char	**rx;		/* per rule: its expression, or NULL */
	char		**owned;	/* literals and weakened regexes */
	size_t		  nowned;
};

static void
db_exprs_release(struct db_exprs *x)
{
	size_t i;

	for (i = 0; x->owned != NULL && i < x->nowned; i++)
		free(x->owned[i]);
	free(x->owned);
	free(x->exprs);
	free(x->flags);
	free(x->ids);
	free(x->rx);
}

/*
 * A rule with keywords enters as its keywords; one without, as its regex
 * weakened for prefiltering (scan_prefilter_expr; multi-line rules keep
 * their regex, as their window is built differently).
 */
static int
db_exprs_build(struct scan_engine *e, struct db_exprs *x, struct al_err *err)
{
	size_t i, k, n = 0;

	memset(x, 0, sizeof(*x));
	for (i = 0; i < e->n; i++)
		n += e->r[i].keyword_mode ? e->rules->v[i].keywords.n : 1;
	if (n == 0 || n > UINT_MAX)
		return 0;
	x->exprs = calloc(n, sizeof(*x->exprs));
	x->flags = calloc(n, sizeof(*x->flags));
	x->ids = calloc(n, sizeof(*x->ids));
	x->owned = calloc(n, sizeof(*x->owned));
	x->rx = calloc(e->n, sizeof(*x->rx));
	if (!x->exprs || !x->flags || !x->ids || !x->owned || !x->rx)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	for (i = 0; i < e->n; i++) {
		const struct scan_rule *d = &e->rules->v[i];

		if (!e->r[i].keyword_mode) {
			x->rx[i] = d->regex;
			if (!d->multiline) {
				if ((x->owned[x->nowned] =
				    scan_prefilter_expr(d->regex)) == NULL)
					return al_err_set(err, AL_ENOMEM,
					    "out of memory");
				x->rx[i] = x->owned[x->nowned++];
			}
			x->exprs[x->n] = x->rx[i];
			x->flags[x->n] = HS_FLAG_PREFILTER | HS_FLAG_MULTILINE;
			x->ids[x->n++] = (unsigned)i;
			continue;
		}
		for (k = 0; k < d->keywords.n; k++) {
			if ((x->owned[x->nowned] = literal_expr(
			    d->keywords.v[k])) == NULL)
				return al_err_set(err, AL_EINVAL, "rule '%s': "
				    "empty keyword", d->id);
			x->exprs[x->n] = x->owned[x->nowned++];
			x->flags[x->n] = d->keywords_cased ? 0 :
			    HS_FLAG_CASELESS;
			x->ids[x->n++] = (unsigned)i;
		}
	}
	return 0;
}

/* Each regex-mode rule's expression as rx says (after compute_widths). */
static void
db_exprs_sync(const struct scan_engine *e, struct db_exprs *x)
{
	size_t k;

	for (k = 0; k < x->n; k++)
		if (!e->r[x->ids[k]].keyword_mode)
			x->exprs[k] = x->rx[x->ids[k]];
}

static int
compile_multi(struct scan_engine *e, struct db_exprs *x,
    hs_compile_error_t **ce)
{
	*ce = NULL;
	return hs_compile_multi(x->exprs, x->flags, x->ids, (unsigned)x->n,
	    HS_MODE_BLOCK, NULL, &e->db, ce) == HS_SUCCESS ? 0 : -1;
}

/*
 * The expressions of x whose rule applies to every path, into b (pointers
 * into x), and whether there are both such rules and rules limited to
 * some paths; each path group's first rule goes to e->limited.
 */
static int
base_exprs(struct scan_engine *e, const struct db_exprs *x,
    struct db_exprs *b, struct al_err *err)
{
	size_t k, i;

	memset(b, 0, sizeof(*b));
	if ((b->exprs = calloc(x->n, sizeof(*b->exprs))) == NULL ||
	    (b->flags = calloc(x->n, sizeof(*b->flags))) == NULL ||
	    (b->ids = calloc(x->n, sizeof(*b->ids))) == NULL ||
	    (e->limited = calloc(e->n, sizeof(*e->limited))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	for (k = 0; k < x->n; k++) {
		if (e->r[x->ids[k]].npaths > 0)
			continue;
		b->exprs[b->n] = x->exprs[k];
		b->flags[b->n] = x->flags[k];
		b->ids[b->n++] = x->ids[k];
	}
	e->nlimited = 0;
	for (i = 0; i < e->n; i++)
		if (e->r[i].npaths > 0 && e->r[i].path_twin == i)
			e->limited[e->nlimited++] = i;
	return 0;
}

static void
base_exprs_release(struct db_exprs *b)
{
	free(b->exprs);
	free(b->flags);
	free(b->ids);
}

/*
 * The database without the rules limited to some paths, from the cache or
 * compiled from x's expressions (those the full database was compiled
 * from); none is no error: every buffer then takes the full one.
 */
static void
compile_base(struct scan_engine *e, struct db_exprs *x, struct db_exprs *b,
    const unsigned char key[32], unsigned *widths)
{
	hs_compile_error_t *ce = NULL;
	size_t k, j;

	if (b->n == 0 || b->n == x->n)
		return;
	if (e->cache_dir != NULL &&
	    (e->db_base = scan_db_cache_load(e->cache_dir, key, widths,
	    e->n)) != NULL)
		return;
	for (k = j = 0; k < x->n; k++)	/* the expressions as compiled */
		if (e->r[x->ids[k]].npaths == 0)
			b->exprs[j++] = x->exprs[k];
	if (hs_compile_multi(b->exprs, b->flags, b->ids, (unsigned)b->n,
	    HS_MODE_BLOCK, NULL, &e->db_base, &ce) != HS_SUCCESS) {
		hs_free_compile_error(ce);
		e->db_base = NULL;
		return;
	}
	if (e->cache_dir != NULL)
		scan_db_cache_store(e->cache_dir, key, widths, e->n,
		    e->db_base);
}

/*
 * Build the vectorscan databases: one of every rule, and one of the rules
 * that apply to every path (compile_base).
 */
static int
compile_db(struct scan_engine *e, struct al_err *err)
{
	struct db_exprs x, b;
	unsigned *widths = NULL;
	hs_compile_error_t *ce = NULL;
	unsigned char key[32], bkey[32];
	size_t i;
	int rc = 0, loaded = 0;

	memset(&b, 0, sizeof(b));
	memset(bkey, 0, sizeof(bkey));
	if ((rc = db_exprs_build(e, &x, err)) != 0 || x.n == 0)
		goto out;
	if ((widths = calloc(e->n, sizeof(*widths))) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = base_exprs(e, &x, &b, err)) != 0)
		goto out;
	if (e->cache_dir != NULL) {
		scan_db_key(b.exprs, b.flags, b.ids, b.n, bkey);
		scan_db_key(x.exprs, x.flags, x.ids, x.n, key);
		e->db = scan_db_cache_load(e->cache_dir, key, widths, e->n);
		loaded = e->db != NULL;
	}
	if (e->db != NULL) {
		for (i = 0; i < e->n; i++)
			e->r[i].max_width = widths[i];
		/*
		 * Its base, if not cached too, from the expressions as the
		 * full one was compiled (compute_widths settles them).
		 */
		if (b.n > 0 && b.n < x.n && (e->db_base = scan_db_cache_load(
		    e->cache_dir, bkey, widths, e->n)) == NULL) {
			if (compute_widths(e, x.rx, err) == 0) {
				db_exprs_sync(e, &x);
				compile_base(e, &x, &b, bkey, widths);
			}
			al_err_clear(err);
			for (i = 0; i < e->n; i++)
				e->r[i].max_width = widths[i];
		}
		goto scratch;
	}
	if ((rc = compute_widths(e, x.rx, err)) != 0)
		goto out;
	db_exprs_sync(e, &x);
	if (compile_multi(e, &x, &ce) != 0) {
		/* Should a weakened expression be the trouble: the regexes. */
		hs_free_compile_error(ce);
		for (i = 0; i < e->n; i++)
			if (x.rx[i] != NULL)
				x.rx[i] = e->rules->v[i].regex;
		if ((rc = compute_widths(e, x.rx, err)) != 0)
			goto out;
		db_exprs_sync(e, &x);
		if (compile_multi(e, &x, &ce) != 0) {
			if (ce != NULL && ce->expression >= 0 &&
			    (size_t)ce->expression < x.n)
				rc = al_err_set(err, AL_EINVAL, "rule '%s': "
				    "the prefilter cannot compile it: %s",
				    e->rules->v[x.ids[ce->expression]].id,
				    ce->message);
			else
				rc = al_err_set(err, AL_EINVAL, "cannot "
				    "compile the rules: %s", ce ? ce->message :
				    "unknown error");
			hs_free_compile_error(ce);
			e->db = NULL;
			goto out;
		}
	}
	for (i = 0; i < e->n; i++)
		widths[i] = e->r[i].max_width;
	/* Stored only when compiled just now: a hit costs no write. */
	if (e->cache_dir != NULL && !loaded)
		scan_db_cache_store(e->cache_dir, key, widths, e->n, e->db);
	compile_base(e, &x, &b, bkey, widths);
scratch:
	/* One scratch serves both databases. */
	if (hs_alloc_scratch(e->db, &e->proto) != HS_SUCCESS ||
	    (e->db_base != NULL &&
	    hs_alloc_scratch(e->db_base, &e->proto) != HS_SUCCESS))
		rc = al_err_set(err, AL_ENOMEM, "out of memory (vectorscan "
		    "scratch)");
out:
	base_exprs_release(&b);
	db_exprs_release(&x);
	free(widths);
	return rc;
}

int
scan_engine_new(const struct scan_rules *rs, int flags,
    struct scan_engine **out, struct al_err *err)
{
	return scan_engine_new_cached(rs, flags, NULL, out, err);
}

int
scan_engine_new_cached(const struct scan_rules *rs, int flags,
    const char *cache_dir, struct scan_engine **out, struct al_err *err)
{
	struct scan_engine *e = NULL;
	struct scan_scratch *s = NULL;
	size_t i;
	int rc = 0;

	*out = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->rules = scan_rules_alloc()) == NULL ||
	    (rs->n && (e->rules->v = calloc(rs->n, sizeof(struct scan_rule)))
	    == NULL) || (rs->n && (e->r = calloc(rs->n, sizeof(*e->r))) ==
	    NULL)) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	/* The engine keeps its own copy of the rules it compiled. */
	e->rules->cap = rs->n;
	for (i = 0; i < rs->n; i++) {
		if (!rs->v[i].enabled || ((flags & SCAN_ENGINE_SECRETS_ONLY) &&
		    rs->v[i].info.category != SCAN_CAT_SECRET))
			continue;
		if (scan_rule_copy(&e->rules->v[e->rules->n], &rs->v[i]) != 0) {
			rc = al_err_set(err, AL_ENOMEM, "out of memory");
			goto out;
		}
		e->rules->n++;
	}
	e->n = e->rules->n;
	e->cache_dir = cache_dir;
	for (i = 0; i < e->n; i++)
		if ((rc = compile_rule(e, i, err)) != 0)
			goto out;
	find_twins(e);
	if ((rc = re_list("allow", "global allow regex", &rs->allow,
	    &e->allow, &e->nallow, err)) != 0)
		goto out;
	for (i = 0; i < e->nallow; i++)
		(void)pcre2_jit_compile(e->allow[i], PCRE2_JIT_COMPLETE);
	rc = compile_db(e, err);
	e->cache_dir = NULL;
	if (rc != 0)
		goto out;
	if (!(flags & SCAN_ENGINE_NO_EXAMPLES)) {
		for (i = 0; i < e->n; i++) {
			if (e->rules->v[i].builtin)
				continue;
			if (s == NULL &&
			    (rc = scan_scratch_new(e, &s, err)) != 0)
				goto out;
			if ((rc = scan_engine_check_examples(e, s, i, err)) != 0)
				goto out;
		}
	}
	*out = e;
	e = NULL;
out:
	scan_scratch_free(s);
	scan_engine_free(e);
	return rc;
}

int
scan_engine_new_builtin(int flags, struct scan_engine **out,
    struct al_err *err)
{
	struct scan_rules *r = NULL;
	int rc;

	*out = NULL;
	if ((rc = scan_rules_builtin(&r, err)) != 0)
		return rc;
	rc = scan_engine_new(r, flags, out, err);
	scan_rules_free(r);
	return rc;
}

void
scan_scratch_free(struct scan_scratch *s)
{
	size_t i;

	if (s == NULL)
		return;
	if (s->hs)
		hs_free_scratch(s->hs);
	pcre2_match_data_free(s->md);
	pcre2_match_data_free(s->md_small);
	pcre2_match_context_free(s->mctx);
	pcre2_jit_stack_free(s->jit);
	free(s->stamp);
	free(s->path_stamp);
	free(s->path_ok);
	free(s->covered);
	free(s->last_end);
	free(s->active);
	free(s->req);
	free(s->m);
	for (i = 0; s->win != NULL && i < s->e->n; i++)
		free(s->win[i].hit);
	free(s->win);
	free(s);
}

int
scan_scratch_new(const struct scan_engine *e, struct scan_scratch **out,
    struct al_err *err)
{
	struct scan_scratch *s;
	size_t n = e->n ? e->n : 1;
	int rc = 0;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	s->e = e;
	if ((e->proto && hs_clone_scratch(e->proto, &s->hs) != HS_SUCCESS) ||
	    (s->md = pcre2_match_data_create(e->max_groups + 1, NULL)) ==
	    NULL || (s->md_small = pcre2_match_data_create(1, NULL)) == NULL ||
	    (s->mctx = pcre2_match_context_create(NULL)) == NULL ||
	    (s->jit = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL)) ==
	    NULL || (s->stamp = calloc(n, sizeof(uint64_t))) == NULL ||
	    (s->path_stamp = calloc(n, sizeof(uint64_t))) == NULL ||
	    (s->path_ok = calloc(n, 1)) == NULL ||
	    (s->covered = calloc(n, sizeof(size_t))) == NULL ||
	    (s->last_end = calloc(n, sizeof(size_t))) == NULL ||
	    (s->active = calloc(n, 1)) == NULL ||
	    (s->req = calloc(n, 1)) == NULL ||
	    (s->win = calloc(n, sizeof(*s->win))) == NULL) {
		rc = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	(void)pcre2_set_match_limit(s->mctx, MATCH_LIMIT);
	(void)pcre2_set_depth_limit(s->mctx, DEPTH_LIMIT);
	pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
	*out = s;
	s = NULL;
out:
	scan_scratch_free(s);
	return rc;
}

double
scan_entropy(const void *vp, size_t n)
{
	const unsigned char *p = vp;
	unsigned counts[256];
	double h = 0, f;
	size_t i;

	if (n == 0)
		return 0;
	memset(counts, 0, sizeof(counts));
	for (i = 0; i < n; i++)
		counts[p[i]]++;
	for (i = 0; i < 256; i++) {
		if (counts[i] == 0)
			continue;
		f = (double)counts[i] / (double)n;
		h -= f * log2(f);
	}
	return h;
}

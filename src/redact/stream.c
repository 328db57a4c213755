/*
 * One output stream through the automaton.
 *
 * Offsets are absolute (bytes since the stream began).  Everything before
 * `released` has been emitted, raw or as a mask.  Occurrences found but not
 * yet emitted are kept as a sorted list of disjoint intervals, the union of
 * every occurrence so far; an interval is emitted once no later occurrence
 * can overlap it.
 *
 * What is held does not depend on the values: after a write, the last
 * hold_values bytes (the widest match there can be, wrapped or not),
 * whatever they are, and the rule matcher's window (the unfinished line,
 * which depends on the text alone); at a pause (flush), only what
 * the shape of the text says may go on (see rx_flush_from); at end of file,
 * nothing.  Only whole occurrences are masked.  So how much comes out, and
 * when, tells nothing about whether held bytes begin a value.
 *
 * Held bytes [buf_base, pos) sit in guarded memory; bytes that are inside
 * the first pending interval are not kept beyond the last hold_values,
 * since they will never be shown.
 *
 * Wrapped encodings (hex or base64 cut into lines) are found by a second
 * automaton (wrap.c), and what a pause holds is decided there too.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "stream_int.h"

#define RX_CHUNK	(64 * 1024)	/* bytes scanned before settling */
/*
 * With rules, a write of at least RX_PAR_MIN bytes has its rules run on
 * the worker thread while the automaton runs here, RX_PAR_CHUNK at a time
 * (large, so that handing over costs little next to the scans).
 */
#define RX_PAR_MIN	(16 * 1024)
#define RX_PAR_CHUNK	(1024 * 1024)
#define RX_HOLD_INIT	4096		/* first size of the hold buffer */

static int
guarded_grow(unsigned char **p, size_t *cap, size_t keep, size_t need)
{
	unsigned char *np;
	size_t ncap = (need + 4095) & ~(size_t)4095;

	if (need <= *cap)
		return 0;
	if ((np = sodium_malloc(ncap)) == NULL)
		return AL_ENOMEM;
	if (keep)
		memcpy(np, *p, keep);
	if (*p != NULL)
		sodium_free(*p);
	*p = np;
	*cap = ncap;
	return 0;
}

int
redact_stream_new(const struct redact *r, struct redact_stream **out)
{
	struct redact_stream *s;
	size_t need;

	*out = NULL;
	if (r == NULL || !r->compiled)
		return AL_EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return AL_ENOMEM;
	s->r = r;
	s->ac = r->ac;
	s->block = UINT64_MAX;
	if (r->wac != NULL) {
		s->wb_cap = r->wac->maxlen / RX_WRAP_MIN + 4;
		if ((s->wb = calloc(s->wb_cap, sizeof(*s->wb))) == NULL) {
			redact_stream_free(s);
			return AL_ENOMEM;
		}
	}
	/*
	 * The hold buffer grows as settle needs it and the rules' window is
	 * made on first use: a stream that sees little output (most) never
	 * pays for locking max_held bytes or the window.
	 */
	need = r->max_held + 64;
	if (need > RX_HOLD_INIT)
		need = RX_HOLD_INIT;
	if (guarded_grow(&s->hold, &s->hold_cap, 0, need) != 0) {
		redact_stream_free(s);
		return AL_ENOMEM;
	}
	*out = s;
	return 0;
}

void
redact_stream_free(struct redact_stream *s)
{
	if (s == NULL)
		return;
	rule_worker_free(s->worker);	/* first: a job may read hold */
	if (s->hold != NULL)
		sodium_free(s->hold);
	if (s->win != NULL)
		sodium_free(s->win);
	free(s->pend);
	free(s->wb);
	free(s);
}

size_t
redact_stream_held(const struct redact_stream *s)
{
	return s->hold_len + (s->deferred ? s->cn : 0);
}

unsigned long long
redact_stream_in(const struct redact_stream *s)
{
	return s->pos;
}

unsigned long long
redact_stream_out(const struct redact_stream *s)
{
	return s->nout;
}

void
redact_stream_set_span(struct redact_stream *s, redact_span_fn fn, void *arg)
{
	s->span = fn;
	s->span_arg = arg;
}

unsigned long long
redact_stream_masks(const struct redact_stream *s)
{
	return s->nmask;
}

void
redact_stream_on_mask(struct redact_stream *s, redact_mask_fn fn, void *arg)
{
	s->on_mask = fn;
	s->on_mask_arg = arg;
}

static void
put(struct redact_stream *s, const void *p, size_t n)
{
	if (s->rc != 0 || n == 0)
		return;
	if (s->emit(s->arg, p, n) != 0)
		s->rc = AL_EIO;
	else
		s->nout += n;
}

/* Emit the raw bytes [from, to), from the hold buffer or the chunk. */
static void
put_raw(struct redact_stream *s, uint64_t from, uint64_t to)
{
	uint64_t b;

	if (from >= to)
		return;
	assert(from >= s->buf_base);
	if (from < s->c0) {
		b = to < s->c0 ? to : s->c0;
		put(s, s->hold + (from - s->buf_base), (size_t)(b - from));
		from = b;
	}
	if (from < to)
		put(s, s->cp + (from - s->c0), (size_t)(to - from));
}

static int
rule_id_ok(const char *id)
{
	size_t n;

	for (n = 0; id[n] != '\0'; n++)
		if (n >= REDACT_NAME_MAX || strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789._-:/", id[n]) == NULL)
			return 0;
	return n > 0;
}

static void
put_label(struct redact_stream *s, const struct ival *iv)
{
	char tmp[REDACT_NAME_MAX + 16];
	size_t n;

	s->nmask++;
	if (s->span != NULL && s->rc == 0)
		s->span(s->span_arg, iv->s, iv->e - iv->s,
		    iv->value != RX_NONE ? iv->value : REDACT_SPAN_RULE,
		    iv->value != RX_NONE ? NULL : rule_id_ok(iv->rule) ?
		    iv->rule : "rule");
	if (iv->value != RX_NONE) {
		if (s->on_mask != NULL && s->rc == 0)
			s->on_mask(s->on_mask_arg, iv->s, iv->e,
			    s->r->label[iv->value] + 10,
			    s->r->label_len[iv->value] - 11, REDACT_MASK_VALUE);
		put(s, s->r->label[iv->value], s->r->label_len[iv->value]);
		return;
	}
	n = (size_t)snprintf(tmp, sizeof(tmp), "[REDACTED:%s]",
	    rule_id_ok(iv->rule) ? iv->rule : "rule");
	if (s->on_mask != NULL && s->rc == 0 && n < sizeof(tmp))
		s->on_mask(s->on_mask_arg, iv->s, iv->e, tmp + 10, n - 11,
		    REDACT_MASK_RULE);
	put(s, tmp, n < sizeof(tmp) ? n : sizeof(tmp) - 1);
}

/* Emit every pending interval that ends at or before limit. */
static void
settle_front(struct redact_stream *s, uint64_t limit)
{
	size_t k = 0;

	while (k < s->npend && s->pend[k].e <= limit) {
		put_raw(s, s->released, s->pend[k].s);
		put_label(s, &s->pend[k]);
		s->released = s->pend[k].e;
		k++;
	}
	if (k) {
		memmove(s->pend, s->pend + k, (s->npend - k) * sizeof(*s->pend));
		s->npend -= k;
	}
}

static int
better(const struct ival *a, const struct ival *b)
{
	return a->weight > b->weight ||
	    (a->weight == b->weight && a->ws < b->ws);
}

void
rx_add_ival(struct redact_stream *s, struct ival iv)
{
	size_t i, j, k;
	struct ival *np;

	if (iv.s < s->released)
		iv.s = s->released;
	if (iv.e <= iv.s || s->rc != 0)
		return;
	for (i = 0; i < s->npend && s->pend[i].e <= iv.s; i++)
		;
	for (j = i; j < s->npend && s->pend[j].s < iv.e; j++)
		;
	if (i < j) {		/* merge pend[i, j) into iv */
		struct ival m = s->pend[i];

		for (k = i; k < j; k++) {
			if (better(&s->pend[k], &m))
				m = s->pend[k];
		}
		if (better(&iv, &m)) {
			m.ws = iv.ws;
			m.weight = iv.weight;
			m.value = iv.value;
			m.rule = iv.rule;
		}
		m.s = iv.s < s->pend[i].s ? iv.s : s->pend[i].s;
		m.e = iv.e > s->pend[j - 1].e ? iv.e : s->pend[j - 1].e;
		s->pend[i] = m;
		memmove(s->pend + i + 1, s->pend + j,
		    (s->npend - j) * sizeof(*s->pend));
		s->npend -= j - i - 1;
		return;
	}
	if (s->npend == s->cappend) {
		k = s->cappend ? s->cappend * 2 : 16;
		if ((np = realloc(s->pend, k * sizeof(*np))) == NULL) {
			s->rc = AL_ENOMEM;
			return;
		}
		s->pend = np;
		s->cappend = k;
	}
	memmove(s->pend + i + 1, s->pend + i, (s->npend - i) * sizeof(*np));
	s->pend[i] = iv;
	s->npend++;
}

/* Every pattern that ends with state id at offset e becomes an interval. */
static void
on_event(struct redact_stream *s, uint64_t e, uint32_t id)
{
	const struct rx_ac *ac = s->ac;
	const struct rx_pat *pat;
	struct ival iv;
	uint32_t sid, pi;
	unsigned char v;

	sid = ac->out[id] != RX_NONE ? id : ac->dict[id];
	for (; sid != RX_NONE; sid = ac->dict[sid]) {
		for (pi = ac->out[sid]; pi != RX_NONE; pi = pat->same) {
			pat = &ac->pat[pi];
			memset(&iv, 0, sizeof(iv));
			iv.e = e;
			iv.s = e - pat->len;
			if (pat->lead_mask != 0 && iv.s >= 1 &&
			    iv.s - 1 >= s->buf_base) {
				v = ac->b64val[byte_at(s, iv.s - 1)];
				if (v != 0xff &&
				    (v & pat->lead_mask) == pat->lead_val)
					iv.s--;
			}
			iv.ws = e - pat->len;
			iv.weight = pat->len;
			iv.value = pat->value;
			rx_add_ival(s, iv);
		}
	}
}

struct rule_ctx {
	struct redact_stream	*s;
	uint64_t		 base;
	size_t			 n;
};

static void
on_rule_hit(void *arg, size_t off, size_t len, const char *rule_id)
{
	struct rule_ctx *rc = arg;
	struct ival iv;

	if (len == 0 || off > rc->n || len > rc->n - off || rule_id == NULL)
		return;
	memset(&iv, 0, sizeof(iv));
	iv.s = iv.ws = rc->base + off;
	iv.e = iv.s + len;
	iv.weight = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	iv.value = RX_NONE;
	iv.rule = rule_id;
	rx_add_ival(rc->s, iv);
}

/*
 * Track armored blocks over the window a[0..na) b[0..nb) starting at
 * offset base (rx_armor decides).  A block that is open was held from
 * its BEGIN, so its marker is always in the window (or more than max_len
 * back, and then released anyway).
 */
static void
track_block(struct redact_stream *s, uint64_t base, const unsigned char *a,
    size_t na, const unsigned char *b, size_t nb)
{
	unsigned char seam[2 * RX_ARMOR_SEAM];
	size_t off = 0, ka, kb, skip;
	int kind;

	/*
	 * Only the last max_len bytes matter: a block opened before them is
	 * released whatever follows.
	 */
	if (na + nb > s->r->rule_max) {
		skip = na + nb - s->r->rule_max;
		if (skip >= na) {
			b += skip - na;
			nb -= skip - na;
			na = 0;
		} else {
			a += skip;
			na -= skip;
		}
		base += skip;
	}
	if ((kind = rx_armor(b, nb, &off)) != 0) {
		off += na;
	} else if (na != 0) {
		/* A marker across the seam of the two parts. */
		ka = na < RX_ARMOR_SEAM ? na : RX_ARMOR_SEAM;
		kb = nb < RX_ARMOR_SEAM ? nb : RX_ARMOR_SEAM;
		memcpy(seam, a + na - ka, ka);
		if (kb)
			memcpy(seam + ka, b, kb);
		if ((kind = rx_armor(seam, ka + kb, &off)) != 0)
			off += na - ka;
		sodium_memzero(seam, sizeof(seam));
		if (kind == 0)
			kind = rx_armor(a, na, &off);
	}
	s->block = kind == 1 ? base + off : UINT64_MAX;
}

/* Where the rules' window starts (see rule_lo). */
static uint64_t
rule_base(const struct redact_stream *s)
{
	return s->rule_lo > s->buf_base ? s->rule_lo : s->buf_base;
}

/* Show the rule matcher the window [rule_base, pos). */
static void
run_rules(struct redact_stream *s)
{
	const struct redact *r = s->r;
	const unsigned char *w;
	struct rule_ctx ctx;
	uint64_t base = rule_base(s);
	size_t nold = (size_t)(s->c0 - base), n = nold + s->cn;
	int rc;

	if (s->rules_done) {		/* par_finish added them */
		s->rules_done = 0;
		return;
	}
	if (r->rule_fn == NULL || n == 0 || s->rc != 0)
		return;
	/*
	 * Nothing held (the common case in bulk output: the last chunk ended
	 * a line): the matcher reads the chunk where it is.  Otherwise the
	 * held bytes and the chunk are joined in the guarded window.
	 */
	if (nold == 0)
		w = s->cp;
	else {
		if (guarded_grow(&s->win, &s->win_cap, 0, n) != 0) {
			s->rc = AL_ENOMEM;
			return;
		}
		memcpy(s->win, s->hold + (base - s->buf_base), nold);
		if (s->cn)
			memcpy(s->win + nold, s->cp, s->cn);
		w = s->win;
	}
	ctx.s = s;
	ctx.base = base;
	ctx.n = n;
	rc = r->rule_fn(r->rule_arg, w, n, on_rule_hit, &ctx);
	track_block(s, base, NULL, 0, w, n);
	if (w == s->win)
		sodium_memzero(s->win, n);
	if (rc != 0 && s->rc == 0)
		s->rc = rc < 0 ? rc : AL_EIO;
}

/*
 * Hand the window of the chunk p[0..m) to the worker: 1 if posted.  Without
 * a worker (none could be started) the rules run in settle as usual.
 */
static int
par_start(struct redact_stream *s, const unsigned char *p, size_t m,
    int keep)
{
	if (s->r->rule_fn == NULL || s->rc != 0 || m < RX_PAR_MIN ||
	    s->worker_failed || s->dense)
		return 0;
	if (s->worker == NULL && rule_worker_new(s->r, &s->worker) != 0) {
		s->worker_failed = 1;
		return 0;
	}
	rule_worker_post(s->worker, s->hold + (rule_base(s) - s->buf_base),
	    (size_t)(s->c0 - rule_base(s)), p, m, keep);
	return 1;
}

/*
 * Collect the worker's hits.  When the automaton stopped short of the
 * chunk (its events filled up), the window scanned is not the one settle
 * will hold: the hits are dropped and the rules run in settle instead.
 */
static void
par_finish(struct redact_stream *s, size_t m)
{
	struct rule_ctx ctx;
	int full = s->cn == m, rc;

	ctx.s = s;
	ctx.base = rule_base(s);
	ctx.n = (size_t)(s->c0 - ctx.base) + s->cn;
	rc = rule_worker_wait(s->worker, full ? on_rule_hit : NULL, &ctx);
	if (rc != 0 && s->rc == 0)
		s->rc = rc < 0 ? rc : AL_EIO;
	s->rules_done = full && rc == 0;
	if (s->rules_done)
		track_block(s, ctx.base, s->hold + (ctx.base - s->buf_base),
		    (size_t)(s->c0 - ctx.base), s->cp, s->cn);
}

enum settle_mode { SETTLE_WRITE, SETTLE_FLUSH, SETTLE_EOF };

/*
 * After a chunk (or at flush/finish with an empty chunk): emit what is
 * decided and keep the rest.
 */
static void
settle(struct redact_stream *s, enum settle_mode mode)
{
	uint64_t hold_from, upto, keep, lo, rf = s->pos, H = s->r->hold_values;
	size_t nkeep, nold;

	run_rules(s);
	if (s->r->rule_fn != NULL) {
		/* The rules' window: the unfinished line or an open block. */
		lo = s->block != UINT64_MAX && s->block < s->line_start ?
		    s->block : s->line_start;
		rf = s->pos - (s->pos - lo < s->r->rule_max ? s->pos - lo :
		    s->r->rule_max);
	}
	hold_from = s->pos > H ? s->pos - H : 0;
	if (rf < hold_from)
		hold_from = rf;
	if (hold_from < s->released)
		hold_from = s->released;
	if (mode == SETTLE_EOF)
		hold_from = s->pos;
	else if (mode == SETTLE_FLUSH)
		hold_from = rx_flush_from(s, hold_from > s->buf_base ?
		    hold_from : s->buf_base);
	settle_front(s, hold_from);
	upto = s->npend && s->pend[0].s < hold_from ? s->pend[0].s : hold_from;
	put_raw(s, s->released, upto);
	if (upto > s->released)
		s->released = upto;
	if (s->rc != 0)
		return;

	/*
	 * Keep [keep, pos) in the hold buffer, wiping what leaves it.  Bytes
	 * inside the first pending mask are never shown, so they need not be
	 * kept, except the last hold_values: a later occurrence (or the lead
	 * character of a base64 one, or a wrapped one's line) reads them.
	 */
	keep = s->released;
	if (s->npend && s->pend[0].s == keep) {
		keep = s->pend[0].e;
		lo = s->pos > H ? s->pos - H : 0;
		if (lo < keep)
			keep = lo > s->released ? lo : s->released;
	}
	nkeep = (size_t)(s->pos - keep);
	nold = s->hold_len;
	if (guarded_grow(&s->hold, &s->hold_cap, nold, nkeep) != 0) {
		s->rc = AL_ENOMEM;
		return;
	}
	if (keep < s->c0) {
		memmove(s->hold, s->hold + (keep - s->buf_base),
		    (size_t)(s->c0 - keep));
		if (s->cn)
			memcpy(s->hold + (s->c0 - keep), s->cp, s->cn);
	} else if (nkeep)
		memcpy(s->hold, s->cp + (keep - s->c0), nkeep);
	if (nold > nkeep)
		sodium_memzero(s->hold + nkeep, nold - nkeep);
	s->hold_len = nkeep;
	s->buf_base = keep;
	s->cp = NULL;
	s->c0 = s->pos;
	s->cn = 0;
	s->rule_lo = rf;
}

static int
begin(struct redact_stream *s, redact_emit_fn emit, void *arg)
{
	if (s->failed)
		return AL_EIO;
	if (s->finished)
		return AL_EINVAL;
	s->emit = emit;
	s->arg = arg;
	s->rc = 0;
	return 0;
}

static int
end(struct redact_stream *s)
{
	if (s->rc != 0)
		s->failed = 1;
	return s->rc;
}

/*
 * Settle the chunk write_more left (its bytes are the worker's copy).
 * With wipe (no write follows at once), the copy is wiped now rather than
 * overwritten by the next one.
 */
static void
complete(struct redact_stream *s, int wipe)
{
	if (!s->deferred)
		return;
	s->deferred = 0;
	par_finish(s, s->cn);
	settle(s, SETTLE_WRITE);
	if (wipe)
		rule_worker_wipe(s->worker);
}

static int
stream_write(struct redact_stream *s, const void *buf, size_t n,
    redact_emit_fn emit, void *arg, int more)
{
	const unsigned char *p = buf, *nl, *copy;
	size_t m, used, nev, i, chunk;
	int rc, par, keep;

	if ((rc = begin(s, emit, arg)) != 0)
		return rc;
	complete(s, 0);
	chunk = s->r->rule_fn != NULL && n >= RX_PAR_MIN && !s->dense ?
	    RX_PAR_CHUNK : RX_CHUNK;
	while (n > 0 && s->rc == 0) {
		m = n < chunk ? n : chunk;
		s->c0 = s->pos;
		s->cp = p;
		keep = more && m == n;
		par = par_start(s, p, m, keep);
		used = rx_scan(s->ac, &s->t, p, m, s->ev, &nev, &s->lanes);
		s->cn = used;
		s->pos += used;
		/* First, so the settling below sees its matches too. */
		if (s->r->wac != NULL) {
			for (i = 0; i < nev; i++)
				if (s->ac->trig[s->ev[2 * i + 1]] != 0)
					rx_wrap_note(s, s->c0 + s->ev[2 * i],
					    s->ev[2 * i + 1]);
			rx_wrap_pass(s, s->pos);
		}
		for (i = 0; i < nev; i++) {
			uint64_t e = s->c0 + s->ev[2 * i];
			uint32_t id = s->ev[2 * i + 1];

			/*
			 * Settle what cannot grow any more, so a chunk full
			 * of matches keeps the list short.  With a rule
			 * matcher, hits are only known after the chunk.
			 */
			if (s->r->rule_fn == NULL && e > s->r->hold_values)
				settle_front(s, e - s->r->hold_values);
			on_event(s, e, id);
		}
		if (s->r->rule_fn != NULL &&
		    (nl = memrchr(p, '\n', used)) != NULL)
			s->line_start = s->c0 + (uint64_t)(nl - p) + 1;
		/*
		 * The last chunk of a write with more to come: leave it to
		 * the next call, so that the rules of this chunk run while
		 * the caller reads the next one.  The caller's buffer is
		 * then no longer needed: settle reads the worker's copy.
		 */
		if (par && keep && used == m && s->rc == 0 &&
		    (copy = rule_worker_copied(s->worker)) != NULL) {
			s->cp = copy + (s->c0 - rule_base(s));
			s->deferred = 1;
			break;
		}
		if (par)
			par_finish(s, m);
		if (used < m && !s->dense) {
			s->dense = 1;
			chunk = RX_CHUNK;
		} else if (used == m && m == RX_CHUNK)
			s->dense = 0;	/* a whole chunk: sparse again */
		settle(s, SETTLE_WRITE);
		p += used;
		n -= used;
	}
	return end(s);
}

int
redact_stream_write(struct redact_stream *s, const void *buf, size_t n,
    redact_emit_fn emit, void *arg)
{
	return stream_write(s, buf, n, emit, arg, 0);
}

int
redact_stream_write_more(struct redact_stream *s, const void *buf, size_t n,
    redact_emit_fn emit, void *arg)
{
	return stream_write(s, buf, n, emit, arg, 1);
}

int
redact_stream_complete(struct redact_stream *s, redact_emit_fn emit,
    void *arg)
{
	int rc;

	if ((rc = begin(s, emit, arg)) != 0)
		return rc;
	complete(s, 1);
	return end(s);
}

int
redact_stream_flush(struct redact_stream *s, redact_emit_fn emit, void *arg)
{
	int rc;

	if ((rc = begin(s, emit, arg)) != 0)
		return rc;
	complete(s, 1);
	settle(s, SETTLE_FLUSH);
	return end(s);
}

int
redact_stream_finish(struct redact_stream *s, redact_emit_fn emit,
    void *arg)
{
	int rc;

	if ((rc = begin(s, emit, arg)) != 0)
		return rc;
	complete(s, 1);
	settle(s, SETTLE_EOF);
	settle_front(s, UINT64_MAX);
	put_raw(s, s->released, s->pos);
	s->released = s->pos;
	if (s->hold_len)
		sodium_memzero(s->hold, s->hold_len);
	s->hold_len = 0;
	s->buf_base = s->pos;
	s->finished = 1;
	return end(s);
}

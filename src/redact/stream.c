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
 * max_held bytes (the widest match there can be, wrapped or not, and the
 * rule matcher's window), whatever they are; at a pause (flush), only what
 * the shape of the text says may go on (see flush_from); at end of file,
 * nothing.  Only whole occurrences are masked.  So how much comes out, and
 * when, tells nothing about whether held bytes begin a value.
 *
 * Held bytes [buf_base, pos) sit in guarded memory; bytes that are inside
 * the first pending interval are not kept beyond the last max_held, since
 * they will never be shown.
 *
 * Wrapped encodings (hex or base64 cut into lines: xxd -p, base64, PEM)
 * are found by a second automaton over the hex and base64 patterns, which
 * skips the line breaks inside a run of those characters (wrap_pass).  It
 * runs only from a line break that the first automaton reports (the text
 * before it ends with the start of such a pattern, see rx_ac_build), and
 * stops as soon as its state no longer reaches back over a line break, so
 * bulk output rarely wakes it and costs nothing more when it does not.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "redact_int.h"

#define RX_CHUNK	(64 * 1024)	/* bytes scanned before settling */
/*
 * With rules, a write of at least RX_PAR_MIN bytes has its rules run on
 * the worker thread while the automaton runs here, RX_PAR_CHUNK at a time
 * (large, so that handing over costs little next to the scans).
 */
#define RX_PAR_MIN	(16 * 1024)
#define RX_PAR_CHUNK	(1024 * 1024)
#define RX_HOLD_INIT	4096		/* first size of the hold buffer */

/* A line break that the wrapped automaton skipped: bytes [off, off+len). */
struct wbrk {
	uint64_t	 off;
	uint32_t	 len;
};

struct ival {
	uint64_t	 s, e;
	uint64_t	 ws;		/* start of the occurrence that names it */
	uint32_t	 weight;	/* length of the occurrence */
	uint32_t	 value;		/* RX_NONE: a rule hit */
	const char	*rule;
};

struct redact_stream {
	const struct redact	*r;
	const struct rx_ac	*ac;
	uint32_t		 t;		/* state, premultiplied */
	int			 failed;
	int			 finished;
	uint64_t		 pos;		/* bytes in */
	uint64_t		 released;	/* bytes decided and emitted */
	uint64_t		 buf_base;	/* offset of hold[0] */
	unsigned char		*hold;		/* guarded */
	size_t			 hold_len, hold_cap;
	struct ival		*pend;
	size_t			 npend, cappend;
	uint32_t		 ev[2 * RX_EVMAX];
	struct rx_lanes		 lanes;		/* scratch of rx_scan */
	/*
	 * Rules: the matcher is shown the bytes from rule_lo on (and not
	 * before what is kept): the unfinished line, from line_start, or an
	 * armored block ("-----BEGIN", as in PEM, OpenSSH and PGP keys) that
	 * no "-----END" has closed yet, from block (else UINT64_MAX), up to
	 * the matcher's max_len, so that a multi-line rule sees the whole
	 * block, however it was written.  Whole lines before it were shown
	 * already.
	 */
	uint64_t		 line_start;
	uint64_t		 block;
	uint64_t		 rule_lo;
	/*
	 * The wrapped automaton (r->wac): on while its state reaches back
	 * over a line break; w_id its state, w_brk_end the end of the last
	 * break, w_line the characters since, w_cr a CR that must be
	 * followed by LF.  The breaks it skipped are in the ring wb (enough
	 * for the widest match), to map its matches back onto the bytes.
	 */
	int			 w_on;
	int			 w_cr;
	uint32_t		 w_id;
	uint64_t		 w_brk_end;
	size_t			 w_line;
	struct wbrk		*wb;
	size_t			 wb_cap, wb_head, wb_n;
	uint64_t		 joint[2 * RX_EVMAX];	/* LFs reported */
	size_t			 njoint;
	unsigned char		*win;		/* rules: guarded window */
	size_t			 win_cap;
	struct rule_worker	*worker;	/* rules: second thread */
	int			 worker_failed;	/* could not start one */
	int			 rules_done;	/* chunk's hits came from it */
	/*
	 * write_more left the chunk [c0, c0 + cn) unsettled, its rules still
	 * running; cp points at the worker's copy of it.
	 */
	int			 deferred;
	/*
	 * The automaton's events filled up in a chunk (output dense with
	 * values): the rules run inline until a chunk is scanned whole, so
	 * the worker does not scan a megabyte for each few kilobytes.
	 */
	int			 dense;
	unsigned long long	 nout;
	unsigned long long	 nmask;
	/* The chunk being settled: bytes [c0, c0 + cn) at cp. */
	const unsigned char	*cp;
	uint64_t		 c0;
	size_t			 cn;
	redact_emit_fn		 emit;
	void			*arg;
	int			 rc;		/* first error while settling */
};

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

unsigned long long
redact_stream_masks(const struct redact_stream *s)
{
	return s->nmask;
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

static unsigned char
byte_at(const struct redact_stream *s, uint64_t off)
{
	return off >= s->c0 ? s->cp[off - s->c0] : s->hold[off - s->buf_base];
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
	if (iv->value != RX_NONE) {
		put(s, s->r->label[iv->value], s->r->label_len[iv->value]);
		return;
	}
	n = (size_t)snprintf(tmp, sizeof(tmp), "[REDACTED:%s]",
	    rule_id_ok(iv->rule) ? iv->rule : "rule");
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

/* Add an occurrence to the union. */
static void
add_ival(struct redact_stream *s, struct ival iv)
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
			add_ival(s, iv);
		}
	}
}

static int
w_char(const struct rx_ac *ac, unsigned char c)
{
	return ac->b64val[c] != 0xff || c == '=';
}

/* Record the line break [off, off + len) the wrapped automaton skips. */
static void
wrap_break(struct redact_stream *s, uint64_t off, uint32_t len)
{
	size_t k = (s->wb_head + s->wb_n) % s->wb_cap;

	if (s->wb_n == s->wb_cap)
		s->wb_head = (s->wb_head + 1) % s->wb_cap;
	else
		s->wb_n++;
	s->wb[k].off = off;
	s->wb[k].len = len;
	s->w_brk_end = off + len;
	s->w_line = 0;
	s->w_cr = 0;
}

/*
 * Where a wrapped match of len characters that ends at e starts; 0 when
 * it crosses no line break (the first automaton has it already).
 */
static int
wrap_origin(const struct redact_stream *s, uint64_t e, uint32_t len,
    uint64_t *start)
{
	const struct wbrk *b;
	uint64_t st = e - len;
	size_t i;
	int crossed = 0;

	for (i = s->wb_n; i > 0; i--) {
		b = &s->wb[(s->wb_head + i - 1) % s->wb_cap];
		if (b->off < st)
			break;
		st -= b->len;
		crossed = 1;
	}
	*start = st;
	return crossed;
}

/* Every wrapped pattern that ends with state id at offset e. */
static void
on_wevent(struct redact_stream *s, uint64_t e, uint32_t id)
{
	const struct rx_ac *ac = s->r->wac;
	const struct rx_pat *pat;
	struct ival iv;
	uint32_t sid, pi;
	uint64_t lp;
	unsigned char v;

	sid = ac->out[id] != RX_NONE ? id : ac->dict[id];
	for (; sid != RX_NONE; sid = ac->dict[sid]) {
		for (pi = ac->out[sid]; pi != RX_NONE; pi = pat->same) {
			pat = &ac->pat[pi];
			memset(&iv, 0, sizeof(iv));
			if (!wrap_origin(s, e, pat->len, &iv.s))
				continue;
			iv.e = e;
			iv.ws = iv.s;
			/* The lead character may sit before a line break. */
			lp = iv.s;
			if (pat->lead_mask != 0 && lp > s->buf_base &&
			    byte_at(s, lp - 1) == '\n') {
				lp--;
				if (lp > s->buf_base &&
				    byte_at(s, lp - 1) == '\r')
					lp--;
			}
			if (pat->lead_mask != 0 && lp > s->buf_base) {
				v = ac->b64val[byte_at(s, lp - 1)];
				if (v != 0xff &&
				    (v & pat->lead_mask) == pat->lead_val)
					iv.s = lp - 1;
			}
			iv.weight = pat->len;
			iv.value = pat->value;
			add_ival(s, iv);
		}
	}
}

static void
wrap_feed(struct redact_stream *s, uint64_t off, unsigned char c)
{
	const struct rx_ac *ac = s->r->wac;

	s->w_id = rx_ac_step(ac, s->w_id, ac->cls[c]);
	/* Padding ends base64: a break after it joins nothing. */
	s->w_line = c == '=' ? 0 : s->w_line + 1;
	if (ac->out[s->w_id] != RX_NONE || ac->dict[s->w_id] != RX_NONE)
		on_wevent(s, off + 1, s->w_id);
}

/*
 * The LF at offset j, reported by the first automaton (bytes up to end
 * have arrived): start the wrapped automaton when the line before ends
 * with RX_WRAP_MIN or more base64 or hex characters ("=" aside) and one
 * of them follows the break (or has not arrived yet).  It starts far
 * enough back for the longest pattern that ends past the break.
 */
static void
wrap_joint(struct redact_stream *s, uint64_t j, uint64_t end)
{
	const struct rx_ac *ac = s->r->wac;
	uint64_t k = j, a, lo = s->buf_base, lim;

	if (j + 1 < end && !w_char(ac, byte_at(s, j + 1)))
		return;			/* the run ends at the break */
	if (k > lo && byte_at(s, k - 1) == '\r')
		k--;
	lim = ac->maxlen > RX_WRAP_MIN ? ac->maxlen - 1 : RX_WRAP_MIN;
	for (a = k; a > lo && k - a < lim &&
	    ac->b64val[byte_at(s, a - 1)] != 0xff; a--)
		;
	if (k - a < RX_WRAP_MIN)
		return;
	if (k - a > ac->maxlen - 1)
		a = k - (ac->maxlen - 1);
	s->w_on = 1;
	s->w_id = 0;
	s->wb_n = 0;
	s->w_line = 0;
	for (; a < k; a++)
		wrap_feed(s, a, byte_at(s, a));
	wrap_break(s, k, (uint32_t)(j + 1 - k));
}

/* Note the LFs that the automaton's event at e with state id reports. */
static void
wrap_note(struct redact_stream *s, uint64_t e, uint32_t id)
{
	uint8_t t = s->ac->trig[id];
	uint64_t j[2];
	size_t n = 0, i, k;

	if (t & RX_TRIG_LF)
		j[n++] = e - 1;
	if ((t & RX_TRIG_LF2) && e >= 3)
		j[n++] = e - 3;
	for (i = 0; i < n && s->njoint < 2 * RX_EVMAX; i++) {
		/* Nearly always in order: insert from the back. */
		for (k = s->njoint; k > 0 && s->joint[k - 1] > j[i]; k--)
			s->joint[k] = s->joint[k - 1];
		s->joint[k] = j[i];
		s->njoint++;
	}
}

/*
 * The wrapped automaton over the chunk, up to end: on from where it was,
 * or from each LF reported (which may sit just before the chunk: an
 * RX_TRIG_LF2 comes two bytes after its LF).
 */
static void
wrap_pass(struct redact_stream *s, uint64_t end)
{
	const struct rx_ac *ac = s->r->wac;
	uint64_t i = s->w_on ? s->c0 : 0, j;
	size_t q = 0;
	unsigned char c;

	while (s->rc == 0) {
		if (!s->w_on) {
			while (q < s->njoint && s->joint[q] < i)
				q++;
			if (q == s->njoint)
				break;
			j = s->joint[q++];
			i = j + 1;
			wrap_joint(s, j, end);
			continue;
		}
		if (i >= end)
			break;
		c = byte_at(s, i);
		if (!s->w_cr && w_char(ac, c)) {
			wrap_feed(s, i, c);
			i++;
			/* Its string lies within this line: nothing to add. */
			if (ac->depth[s->w_id] <= i - s->w_brk_end)
				s->w_on = 0;
		} else if (c == '\r' && !s->w_cr &&
		    s->w_line >= RX_WRAP_MIN) {
			s->w_cr = 1;
			i++;
		} else if (c == '\n' && s->w_line >= RX_WRAP_MIN) {
			wrap_break(s, i - (uint64_t)s->w_cr,
			    (uint32_t)(1 + s->w_cr));
			i++;
		} else
			s->w_on = 0;	/* the run ends: look at c again */
	}
	s->njoint = 0;
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
	add_ival(rc->s, iv);
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

/*
 * What a pause holds back of the last word: not spaces, control
 * characters, nor the punctuation prompts end with, so that
 * "Enter pass phrase:" or "[y/N]" shows.
 */
static int
is_word(unsigned char c)
{
	return c > ' ' && c != 0x7f && c != ':' && c != '?' && c != '>' &&
	    c != ']' && c != ')' && c != '$';
}

/*
 * At a pause: where what stays held starts, from the shape of the held
 * bytes [lo, pos) alone, never from the values.  What stays is the last
 * word (see is_word), extended back
 * over each line break that ends a line of RX_WRAP_MIN or more base64 or
 * hex characters and is followed by one (a wrapped encoding may go on),
 * and an armored block ("-----BEGIN" without its "-----END" yet).  A
 * prompt, or a line that ends, passes.
 */
static uint64_t
flush_from(struct redact_stream *s, uint64_t lo)
{
	const struct rx_ac *ac = s->ac;
	uint64_t t = s->pos, b, a;
	size_t off;

	while (t > lo && is_word(byte_at(s, t - 1)))
		t--;
	while (t > lo && byte_at(s, t - 1) == '\n' &&
	    (t == s->pos || w_char(ac, byte_at(s, t)))) {
		b = t - 1;
		if (b > lo && byte_at(s, b - 1) == '\r')
			b--;
		for (a = b; a > lo && b - a < RX_WRAP_MIN &&
		    ac->b64val[byte_at(s, a - 1)] != 0xff; a--)
			;
		if (b - a < RX_WRAP_MIN)
			break;
		for (t = b; t > lo && is_word(byte_at(s, t - 1)); t--)
			;
	}
	if (s->pos > lo && rx_armor(s->hold + (lo - s->buf_base),
	    (size_t)(s->pos - lo), &off) == 1 && lo + off < t)
		t = lo + off;
	return t;
}

enum settle_mode { SETTLE_WRITE, SETTLE_FLUSH, SETTLE_EOF };

/*
 * After a chunk (or at flush/finish with an empty chunk): emit what is
 * decided and keep the rest.
 */
static void
settle(struct redact_stream *s, enum settle_mode mode)
{
	uint64_t hold_from, upto, keep, lo, H = s->r->max_held;
	size_t nkeep, nold;

	run_rules(s);
	hold_from = s->pos > H ? s->pos - H : 0;
	if (hold_from < s->released)
		hold_from = s->released;
	if (mode == SETTLE_EOF)
		hold_from = s->pos;
	else if (mode == SETTLE_FLUSH)
		hold_from = flush_from(s, hold_from > s->buf_base ? hold_from :
		    s->buf_base);
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
	 * kept, except the last max_held: a later occurrence (or the lead
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
	if (s->r->rule_fn != NULL) {
		lo = s->block != UINT64_MAX && s->block < s->line_start ?
		    s->block : s->line_start;
		s->rule_lo = s->pos - (s->pos - lo < s->r->rule_max ?
		    s->pos - lo : s->r->rule_max);
	}
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
					wrap_note(s, s->c0 + s->ev[2 * i],
					    s->ev[2 * i + 1]);
			wrap_pass(s, s->pos);
		}
		for (i = 0; i < nev; i++) {
			uint64_t e = s->c0 + s->ev[2 * i];
			uint32_t id = s->ev[2 * i + 1];

			/*
			 * Settle what cannot grow any more, so a chunk full
			 * of matches keeps the list short.  With a rule
			 * matcher, hits are only known after the chunk.
			 */
			if (s->r->rule_fn == NULL && e > s->r->max_held)
				settle_front(s, e - s->r->max_held);
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

/*
 * Wrapped encodings and pauses, for stream.c.
 *
 * Hex or base64 cut into lines (xxd -p, basenc, base64, PEM, MIME) is
 * found by a second automaton over the hex and base64 patterns (r->wac),
 * which skips the line breaks inside a run of those characters.  It runs
 * only from a line break that the first automaton reports (the text before
 * it ends with the start of such a pattern, see rx_ac_build), and stops as
 * soon as its state no longer reaches back over a line break, so bulk
 * output rarely wakes it.  Its matches are mapped back onto the bytes
 * through the ring of line breaks it skipped.
 *
 * What a pause releases is decided here too (rx_flush_from), from the
 * shape of the held bytes alone.
 */
#include <string.h>

#include "stream_int.h"

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
 * it crosses no line break (the first automaton has it already).  st is
 * where it would start without the breaks skipped so far: a break is
 * crossed when it ends after st.  With one character before a CRLF, st
 * falls on the LF, inside the break.
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
		if (b->off + b->len <= st)
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
			rx_add_ival(s, iv);
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
 * enough back for a pattern that ends past the break: back characters
 * before it at most.
 */
static void
wrap_joint(struct redact_stream *s, uint64_t j, uint32_t back, uint64_t end)
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
	if (k - a > back)
		a = k - back;
	s->w_on = 1;
	s->w_id = 0;
	s->wb_n = 0;
	s->w_line = 0;
	for (; a < k; a++)
		wrap_feed(s, a, byte_at(s, a));
	wrap_break(s, k, (uint32_t)(j + 1 - k));
}

/*
 * Note the LFs that the automaton's event at e with state id reports.  A
 * wrapped match with m characters before the LF makes the text there end
 * with a trigger node m + 1 deep (RX_TRIG_LF), so the state's depth bounds
 * m; RX_TRIG_LF2 is for m of 1 or 2.
 */
void
rx_wrap_note(struct redact_stream *s, uint64_t e, uint32_t id)
{
	uint8_t t = s->ac->trig[id];
	uint64_t j[2];
	uint32_t back[2];
	size_t n = 0, i, k;

	if (t & RX_TRIG_LF) {
		j[n] = e - 1;
		back[n++] = s->ac->depth[id];
	}
	if ((t & RX_TRIG_LF2) && e >= 3) {
		j[n] = e - 3;
		back[n++] = 2;
	}
	for (i = 0; i < n && s->njoint < 2 * RX_EVMAX; i++) {
		/* Nearly always in order: insert from the back. */
		for (k = s->njoint; k > 0 && s->joint[k - 1].lf > j[i]; k--)
			s->joint[k] = s->joint[k - 1];
		s->joint[k].lf = j[i];
		s->joint[k].back = back[i];
		s->njoint++;
	}
}

/*
 * The wrapped automaton over the chunk, up to end: on from where it was,
 * or from each LF reported (which may sit just before the chunk: an
 * RX_TRIG_LF2 comes two bytes after its LF).
 */
void
rx_wrap_pass(struct redact_stream *s, uint64_t end)
{
	const struct rx_ac *ac = s->r->wac;
	uint64_t i = s->w_on ? s->c0 : 0, j;
	uint32_t back;
	size_t q = 0;
	unsigned char c;

	while (s->rc == 0) {
		if (!s->w_on) {
			while (q < s->njoint && s->joint[q].lf < i)
				q++;
			if (q == s->njoint)
				break;
			j = s->joint[q].lf;
			for (back = 0; q < s->njoint &&
			    s->joint[q].lf == j; q++)
				if (s->joint[q].back > back)
					back = s->joint[q].back;
			i = j + 1;
			wrap_joint(s, j, back, end);
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
uint64_t
rx_flush_from(struct redact_stream *s, uint64_t lo)
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
